//! The compiled form of a rule: plain data, built by `rules::compile`, read by `detect` and
//! `output`. Nothing here parses text or matches packets.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Index of a rule in [`super::RuleSet::rules`].
pub type RuleId = u32;

/// Where a rule (or any diagnostic) came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLoc {
    pub file: Arc<PathBuf>,
    /// 1-based line of the rule's first physical line.
    pub line: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Alert,
    Log,
    Pass,
    /// `drop`, `sdrop` and `reject` are accepted and act as `alert` in a passive sensor.
    Drop,
    Sdrop,
    Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Ip,
    Tcp,
    Udp,
    Icmp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `->`
    To,
    /// `<>`
    Both,
}

/// A set of addresses, normalised: sorted, disjoint, non-adjacent inclusive ranges per family,
/// negations already subtracted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddrSet {
    pub v4: Vec<(u32, u32)>,
    pub v6: Vec<(u128, u128)>,
}

impl AddrSet {
    /// Every address of both families.
    pub fn any() -> Self {
        AddrSet {
            v4: vec![(0, u32::MAX)],
            v6: vec![(0, u128::MAX)],
        }
    }

    pub fn is_any(&self) -> bool {
        self.v4 == [(0, u32::MAX)] && self.v6 == [(0, u128::MAX)]
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Binary search over the ranges of the address's family.
    pub fn contains(&self, addr: &IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => contains_range(&self.v4, u32::from(*a)),
            IpAddr::V6(a) => contains_range(&self.v6, u128::from(*a)),
        }
    }
}

fn contains_range<T: Ord + Copy>(ranges: &[(T, T)], x: T) -> bool {
    // First range whose end is >= x; it contains x iff its start is <= x.
    let i = ranges.partition_point(|&(_, end)| end < x);
    ranges.get(i).is_some_and(|&(start, _)| start <= x)
}

/// Ports: sorted, disjoint inclusive ranges, negation applied. `any` is `[(0, 65535)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSet {
    pub ranges: Vec<(u16, u16)>,
}

impl PortSet {
    pub fn any() -> Self {
        PortSet {
            ranges: vec![(0, u16::MAX)],
        }
    }

    pub fn is_any(&self) -> bool {
        self.ranges == [(0, u16::MAX)]
    }

    pub fn contains(&self, port: u16) -> bool {
        contains_range(&self.ranges, port)
    }
}

/// A `reference:` option, with the URL prefix from reference.config when the system is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub system: String,
    pub id: String,
    /// e.g. `http://cve.mitre.org/cgi-bin/cvename.cgi?name=` for `cve`; `None` if unknown.
    pub url_prefix: Option<String>,
}

/// TCP flag bits as in byte 13 of the TCP header.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    /// ECE, Snort's `E` or `2`.
    pub const ECE: u8 = 0x40;
    /// CWR, Snort's `C` or `1`.
    pub const CWR: u8 = 0x80;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagsModifier {
    /// No modifier: the flags outside `ignore` must equal `flags` exactly.
    Exact,
    /// `+`: all of `flags` set, others may be.
    All,
    /// `*`: any of `flags` set.
    Any,
    /// `!`: none of `flags` set.
    Not,
}

/// The `flags:` option (Snort 2.9 sp_tcp_flag_check.c).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagsTest {
    pub modifier: FlagsModifier,
    /// Bits named in the option (`0` names none).
    pub flags: u8,
    /// Bits named after the comma: ignored in the comparison.
    pub ignore: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowDir {
    ToServer,
    ToClient,
}

/// The `flow:` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowTest {
    /// `to_server`/`from_client` or `to_client`/`from_server`.
    pub dir: Option<FlowDir>,
    /// `Some(true)` for `established`, `Some(false)` for `not_established`.
    pub established: Option<bool>,
    /// `stateless`: match regardless of flow state.
    pub stateless: bool,
    /// `Some(true)` for `only_stream` (only reassembled stream messages), `Some(false)` for
    /// `no_stream` (only packets as captured); Snort 2.9 sp_clientserver.c
    /// `CheckStream` / `CheckNoStream` test `PKT_REBUILT_STREAM`.
    pub stream: Option<bool>,
}

/// Index of a flowbit name in [`super::RuleSet::flowbit_names`].
pub type FlowbitId = u16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowbitsCmd {
    Set,
    Unset,
    Toggle,
    IsSet,
    IsNotSet,
    NoAlert,
    Reset,
}

/// How several bits named with `|` or `&` combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitsJoin {
    /// `a&b` (and a single bit): every bit.
    All,
    /// `a|b`: any bit.
    Any,
}

/// One `flowbits:` option. `NoAlert` and `Reset` have no bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowbitsOp {
    pub cmd: FlowbitsCmd,
    pub bits: Vec<FlowbitId>,
    pub join: BitsJoin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdKind {
    Limit,
    Threshold,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    BySrc,
    ByDst,
    /// threshold.conf `rate_filter` also allows `by_rule`.
    ByRule,
}

/// In-rule `threshold:` or a threshold.conf `threshold`/`event_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    pub kind: ThresholdKind,
    pub track: Track,
    pub count: u32,
    pub seconds: u32,
}

/// `detection_filter: track by_src|by_dst, count N, seconds M`: the rule matches only from the
/// (N+1)th hit within the window (Snort's `detection_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectionFilter {
    pub track: Track,
    pub count: u32,
    pub seconds: u32,
}

/// The `tag:` option (Snort 2.9 parser.c `ParseOtnTag`, tag.c): after the rule's event, keep
/// later packets of the alert's session or of one of its hosts. Several metrics may be given;
/// the tag ends as soon as any of them runs out. What is kept, and for how long, is
/// `evidence::tag`'s arithmetic; this is only what the rule says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    pub scope: TagScope,
    /// `N,packets`: at most N packets. `Some(0)` (`0,packets`, Snort's `TAG_METRIC_UNLIMITED`)
    /// counts nothing and lifts `tagged_packet_limit`; Snort requires `seconds` or `bytes`
    /// with it.
    pub packets: Option<u32>,
    /// `N,seconds` (N > 0): packets up to the alert's whole second plus N.
    pub seconds: Option<u32>,
    /// `N,bytes` (N > 0): packets until their captured lengths add up to N.
    pub bytes: Option<u32>,
}

/// What a [`Tag`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagScope {
    /// `session`: the alert's address and port pairs, both directions. `exclusive`: Snort
    /// opens such a tag only once per process (tag.c `s_max_sessions`).
    Session { exclusive: bool },
    /// `host,…,src|dst`: every packet to or from the alert's source or destination address.
    Host { dir: TagHostDir },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagHostDir {
    Src,
    Dst,
}

/// The buffer a payload test inspects (Snort 2.9 `HTTP_BUFFER_*` and the packet / `file_data`
/// buffers). The engine fills one slice per buffer for each inspected packet
/// ([`crate::detect::payload::Buffers`]); a raw packet has only `Pkt` and `FileData`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Buffer {
    /// The packet payload (`pkt_data`, `rawbytes`, pcre `B`).
    #[default]
    Pkt,
    /// `file_data`: the HTTP response body when there is one, else the payload.
    FileData,
    /// `http_uri`, `uricontent`, pcre `U`: the normalized URI.
    Uri,
    /// `http_raw_uri`, pcre `I`.
    RawUri,
    /// `http_header`, pcre `H`.
    Header,
    /// `http_raw_header`, pcre `D`.
    RawHeader,
    /// `http_cookie`, pcre `C`.
    Cookie,
    /// `http_raw_cookie`, pcre `K`.
    RawCookie,
    /// `http_method`, pcre `M`.
    Method,
    /// `http_client_body`, pcre `P`.
    ClientBody,
    /// `http_stat_code`, pcre `S`.
    StatCode,
    /// `http_stat_msg`, pcre `Y`.
    StatMsg,
}

impl Buffer {
    /// Number of buffers: the length of a table indexed by [`Buffer::index`].
    pub const COUNT: usize = 12;

    /// Every buffer, in [`Buffer::index`] order.
    pub const ALL: [Buffer; Buffer::COUNT] = [
        Buffer::Pkt,
        Buffer::FileData,
        Buffer::Uri,
        Buffer::RawUri,
        Buffer::Header,
        Buffer::RawHeader,
        Buffer::Cookie,
        Buffer::RawCookie,
        Buffer::Method,
        Buffer::ClientBody,
        Buffer::StatCode,
        Buffer::StatMsg,
    ];

    /// Position in a `[_; Buffer::COUNT]` table.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether the buffer exists only when an HTTP inspector filled it.
    pub fn is_http(self) -> bool {
        !matches!(self, Buffer::Pkt | Buffer::FileData)
    }

    /// Whether Snort 2.9 fpcreate.c may key a rule's fast pattern on a content of this buffer
    /// (packet, `file_data`, normalized URI, header and client body; the raw buffers, cookies,
    /// method and status are not fast-pattern buffers).
    pub fn fast_pattern_eligible(self) -> bool {
        matches!(
            self,
            Buffer::Pkt | Buffer::FileData | Buffer::Uri | Buffer::Header | Buffer::ClientBody
        )
    }

    /// The rule keyword that selects this buffer.
    pub fn keyword(self) -> &'static str {
        match self {
            Buffer::Pkt => "pkt_data",
            Buffer::FileData => "file_data",
            Buffer::Uri => "http_uri",
            Buffer::RawUri => "http_raw_uri",
            Buffer::Header => "http_header",
            Buffer::RawHeader => "http_raw_header",
            Buffer::Cookie => "http_cookie",
            Buffer::RawCookie => "http_raw_cookie",
            Buffer::Method => "http_method",
            Buffer::ClientBody => "http_client_body",
            Buffer::StatCode => "http_stat_code",
            Buffer::StatMsg => "http_stat_msg",
        }
    }
}

/// Index of a `byte_extract` / `byte_math` variable of one rule (`0..MAX_VARS`).
pub type VarId = u8;

/// Variables one rule may define: Snort 2.9 sp_byte_extract.c `NUM_BYTE_EXTRACT_VARS` (2)
/// `byte_extract` names plus the one `byte_math` result (`BYTE_MATH_VAR_INDEX`).
pub const MAX_VARS: usize = 3;

/// `byte_extract` variables standing in for a content's numbers (Snort 2.9 sp_pattern_match.c
/// `offset_var`, `depth_var`, `distance_var`, `within_var`). When one is set the matching
/// number field holds `Some(0)` so the content keeps its absolute/relative kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContentVars {
    pub offset: Option<VarId>,
    pub depth: Option<VarId>,
    pub distance: Option<VarId>,
    pub within: Option<VarId>,
}

/// One `content:` with its modifiers (tier 2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Content {
    pub pattern: Vec<u8>,
    pub negated: bool,
    pub nocase: bool,
    pub offset: Option<i32>,
    pub depth: Option<i32>,
    pub distance: Option<i32>,
    pub within: Option<i32>,
    pub fast_pattern: bool,
    /// The buffer searched: an HTTP modifier's, else the sticky buffer (`file_data` /
    /// `pkt_data`) in force, `Pkt` with `rawbytes`.
    pub buffer: Buffer,
    pub vars: ContentVars,
}

impl Content {
    /// `distance` or `within` (a number or a variable): searched from the buffer's cursor.
    pub fn is_relative(&self) -> bool {
        self.distance.is_some() || self.within.is_some()
    }
}

/// A number of a payload option: written in the rule or read from a variable at match time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumArg {
    Lit(i64),
    Var(VarId),
}

/// How `byte_test`, `byte_jump`, `byte_extract` and `byte_math` read a number (Snort 2.9
/// extract.c `byte_extract` / `string_extract`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRead {
    /// Bytes read: 1 to 4 binary (0 for a `byte_jump` that reads nothing), up to 10 as text.
    pub bytes: u8,
    pub offset: NumArg,
    /// From the buffer's cursor instead of its start.
    pub relative: bool,
    pub little_endian: bool,
    /// `string` with its base (16, 10 or 8): the bytes are digits, read like `strtoul`.
    pub string_base: Option<u32>,
    /// `bitmask`: the value is masked, then shifted right by the mask's trailing zeros.
    pub bitmask: Option<u32>,
    pub buffer: Buffer,
}

/// `byte_test` operators (sp_byte_check.c); `!` alone is "not equal".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOp {
    Lt,
    Gt,
    Eq,
    And,
    Xor,
    Le,
    Ge,
}

/// `byte_test` (sp_byte_check.c): `extracted OP value`, inverted by `!`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteTest {
    pub read: ByteRead,
    pub op: ByteOp,
    pub negated: bool,
    pub value: NumArg,
}

/// Where `byte_jump` jumps from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JumpFrom {
    /// Just past the bytes read (the default).
    Read,
    /// `from_beginning`: the start of the buffer.
    Beginning,
    /// `from_end`: the end of the buffer.
    End,
}

/// `byte_jump` (sp_byte_jump.c): moves the buffer's cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteJump {
    pub read: ByteRead,
    pub multiplier: u32,
    /// `align`: round the jump up to a multiple of 4.
    pub align: bool,
    pub from: JumpFrom,
    pub post_offset: NumArg,
}

/// `byte_extract` (sp_byte_extract.c): stores a value and moves the cursor past the bytes read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteExtract {
    pub read: ByteRead,
    pub multiplier: u32,
    /// `align 2|4`, 0 for none.
    pub align: u8,
    pub var: VarId,
}

/// `byte_math` operators (sp_byte_math.c).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MathOp {
    Add,
    Sub,
    Mul,
    Div,
    Shl,
    Shr,
}

/// `byte_math` (sp_byte_math.c): `result = extracted OPER rvalue`; the cursor stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteMath {
    pub read: ByteRead,
    pub oper: MathOp,
    pub rvalue: NumArg,
    pub var: VarId,
}

/// `isdataat` (sp_isdataat.c): is there a byte at `offset` (from the cursor with `relative`)?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsDataAt {
    pub offset: NumArg,
    pub relative: bool,
    pub negated: bool,
    pub buffer: Buffer,
}

/// A compiled `pcre` (sp_pcre.c). The expression is compiled once at load; matching reuses the
/// crate's per-thread match data.
#[derive(Clone)]
pub struct Pcre {
    /// The option's text as written (`"/a.b/Ri"`), for messages.
    pub source: String,
    pub regex: Arc<pcre2::bytes::Regex>,
    pub negated: bool,
    /// `R`: searched from the buffer's cursor.
    pub relative: bool,
    /// `A`: the match must start where the search starts (compiled as `\G(?:…)`).
    pub anchored: bool,
    pub buffer: Buffer,
}

impl std::fmt::Debug for Pcre {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pcre({} in {:?})", self.source, self.buffer)
    }
}

impl PartialEq for Pcre {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
            && self.regex.as_str() == other.regex.as_str()
            && (self.negated, self.relative, self.anchored, self.buffer)
                == (other.negated, other.relative, other.anchored, other.buffer)
    }
}

/// One payload test, in rule order: what [`Rule::payload`] runs.
#[derive(Debug, Clone, PartialEq)]
pub enum PayloadOp {
    /// `Rule::contents[i]`.
    Content(u16),
    Pcre(Pcre),
    ByteTest(ByteTest),
    ByteJump(ByteJump),
    ByteExtract(ByteExtract),
    ByteMath(ByteMath),
    IsDataAt(IsDataAt),
    /// `urilen` (sp_urilen_check.c): the length of `buffer` (`RawUri` by default, `Uri` with
    /// `,norm`).
    Urilen {
        cmp: Cmp,
        buffer: Buffer,
    },
}

/// Comparison used by numeric header tests (`ttl:<5`, `dsize:100<>200`, `window:!0`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq(u32),
    Ne(u32),
    Lt(u32),
    Le(u32),
    Gt(u32),
    Ge(u32),
    /// Exclusive range `a<>b` (Snort: a < x < b).
    Between(u32, u32),
    /// Inclusive range `a<=>b`.
    BetweenIncl(u32, u32),
}

/// Tier-2 header tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderTest {
    Dsize(Cmp),
    IpProto(Cmp),
    Ttl(Cmp),
    Tos(Cmp),
    Id(Cmp),
    Itype(Cmp),
    Icode(Cmp),
    IcmpId(Cmp),
    IcmpSeq(Cmp),
    Window(Cmp),
    Seq(Cmp),
    Ack(Cmp),
    SameIp,
    /// `fragbits:[+*!]<MDR>`: bits as in the IPv4 flags field (R=0x4, D=0x2, M=0x1).
    Fragbits {
        modifier: FlagsModifier,
        bits: u8,
    },
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub loc: SourceLoc,
    pub action: Action,
    pub proto: Proto,
    pub src: AddrSet,
    pub src_ports: PortSet,
    pub direction: Direction,
    pub dst: AddrSet,
    pub dst_ports: PortSet,

    pub gid: u32,
    pub sid: u32,
    pub rev: u32,
    pub msg: String,
    /// The classtype's short name (`trojan-activity`), if any.
    pub classtype: Option<String>,
    /// The classtype's description from classification.config, if any.
    pub class_desc: Option<String>,
    /// `priority:` if given, else the classtype's, else 0 (Snort prints `[Priority: 0]`).
    pub priority: u32,
    /// In the order of the rule text (Snort prints them reversed).
    pub references: Vec<Reference>,
    /// `metadata:` entries, each `key value` as written.
    pub metadata: Vec<String>,

    pub flags: Option<FlagsTest>,
    pub flow: Option<FlowTest>,
    pub flowbits: Vec<FlowbitsOp>,
    /// The in-rule `threshold:`; a threshold.conf entry for the same gid:sid replaces it at
    /// compile time (with a warning).
    pub threshold: Option<Threshold>,
    pub detection_filter: Option<DetectionFilter>,

    pub header_tests: Vec<HeaderTest>,
    /// Every `content` (and `uricontent`), in rule order: what the prefilter keys on.
    pub contents: Vec<Content>,
    /// The payload tests in rule order, contents by index into `contents`. Empty with
    /// non-empty `contents` (a rule built by hand) means the contents alone, in order.
    pub payload: Vec<PayloadOp>,
}

impl Rule {
    /// The content the Aho–Corasick prefilter keys this rule on: the first non-negated content
    /// flagged `fast_pattern`, else the longest non-negated content (the first of equals), as
    /// Snort 2.9's fpcreate.c chooses. `None` when the rule has no non-negated content: such a
    /// rule is found through the header index instead.
    /// Only contents of buffers Snort can key a fast pattern on count
    /// ([`Buffer::fast_pattern_eligible`]); the returned content's `buffer` says where the
    /// pattern is to be searched.
    pub fn fast_pattern(&self) -> Option<&Content> {
        let positive = || {
            self.contents
                .iter()
                .filter(|c| !c.negated && c.buffer.fast_pattern_eligible())
        };
        positive().find(|c| c.fast_pattern).or_else(|| {
            positive().fold(None, |best: Option<&Content>, c| match best {
                Some(b) if b.pattern.len() >= c.pattern.len() => Some(b),
                _ => Some(c),
            })
        })
    }
}

/// A threshold.conf `suppress`: drop events of gid:sid, for every address or only those in `ip`
/// on the tracked side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppress {
    pub gid: u32,
    /// 0 means every sid of the gid.
    pub sid: u32,
    /// `track by_src|by_dst, ip LIST`; `None` suppresses everything of the sid.
    pub by: Option<(Track, AddrSet)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewAction {
    Alert,
    Drop,
    Pass,
    Log,
    Sdrop,
    Reject,
}

/// A threshold.conf `rate_filter`. A passive sensor cannot drop; when the rate is exceeded the
/// event's action becomes `new_action` for `timeout` seconds (`pass` and `log` write no alert,
/// `alert` makes even a `log` rule alert, `drop`/`sdrop`/`reject` act as `alert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateFilter {
    pub gid: u32,
    pub sid: u32,
    pub track: Track,
    pub count: u32,
    pub seconds: u32,
    pub new_action: NewAction,
    pub timeout: u32,
    /// `apply_to LIST`: the filter counts and acts only for events whose tracked address
    /// (`by_src`/`by_dst`) is in the list (sfrf.c `SFRF_AppliesTo`); `None`: every address.
    pub apply_to: Option<AddrSet>,
}
