//! Live capture from a network interface through libpcap (TPACKET_V3, BPF, kernel buffer).
//!
//! Owns opening the interface, reading frames, and `pcap_stats`; also the two interface
//! helpers `run` needs: [`default_interface`] (which NIC to watch when none is named) and
//! [`interface_subnets`] (the NIC's own networks, used as `HOME_NET` when none is configured).
//! Never decodes or writes packets.
//!
//! Capture settings follow the design: libpcap's default TPACKET_V3 ring on Linux (immediate
//! mode is *not* enabled: it would make libpcap hand over every packet as its own block and
//! cost far more wake-ups at high rates), a kernel buffer well above libpcap's 2 MiB default,
//! and a non-zero read timeout so that an idle interface still returns to the caller
//! ([`Next::Timeout`]) to look at its stop/reload flags.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use super::{CaptureError, Next, PacketSource, RawPacket, SourceStats};

/// How to open an interface. Built from `[capture]` of the config plus command-line overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOptions {
    /// Interface name (`eth0`); must not be empty (resolve it with [`default_interface`]).
    pub interface: String,
    /// BPF filter in tcpdump syntax; empty or blank: every frame.
    pub bpf: String,
    pub snaplen: u32,
    pub promisc: bool,
    /// Kernel capture buffer in MiB.
    pub buffer_mb: u32,
    /// Read timeout in milliseconds; 0 is raised to 1 so reads never block forever.
    pub timeout_ms: u32,
}

impl LiveOptions {
    /// Options from the config's `[capture]` section, `interface` as configured (maybe empty).
    pub fn from_config(c: &crate::config::CaptureConfig) -> Self {
        LiveOptions {
            interface: c.interface.clone(),
            bpf: c.bpf.clone(),
            snaplen: c.snaplen,
            promisc: c.promisc,
            buffer_mb: c.buffer_mb,
            timeout_ms: c.timeout_ms,
        }
    }
}

/// Why an interface could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveErrorKind {
    /// The interface does not exist.
    NoSuchDevice,
    /// Not root and no `CAP_NET_RAW` (plus `CAP_NET_ADMIN` for promiscuous mode).
    PermissionDenied,
    /// The BPF expression does not compile.
    BadFilter,
    /// Anything else libpcap reports (interface down, no interfaces at all, …).
    Other,
}

/// An interface that could not be opened or listed, with libpcap's own words.
#[derive(Debug, Clone)]
pub struct LiveError {
    pub kind: LiveErrorKind,
    pub interface: String,
    pub message: String,
}

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "interface {:?}: {}", self.interface, self.message)
    }
}

impl std::error::Error for LiveError {}

impl From<LiveError> for CaptureError {
    fn from(e: LiveError) -> Self {
        CaptureError {
            source: e.interface,
            message: e.message,
        }
    }
}

/// An open live capture.
///
/// # Resource usage
/// libpcap maps a TPACKET_V3 ring of about `buffer_mb` MiB into the process for the lifetime
/// of the source; frames handed out borrow from it and are valid until the next read.
pub struct LiveSource {
    cap: pcap::Capture<pcap::Active>,
    linktype: i32,
    snaplen: u32,
    name: String,
    /// `pcap_stats` counters are 32-bit and wrap; these accumulate them into 64 bits.
    last_raw: (u32, u32, u32),
    totals: SourceStats,
    timeout_ms: i32,
    /// libpcap's buffer was found empty: wait on the descriptor before the next read.
    drained: bool,
}

impl LiveSource {
    /// Opens `opts.interface` for capture and applies the BPF filter.
    ///
    /// # Errors
    /// The interface does not exist ([`LiveErrorKind::NoSuchDevice`]), the process may not
    /// capture on it ([`LiveErrorKind::PermissionDenied`]), the filter does not compile
    /// ([`LiveErrorKind::BadFilter`]), or another libpcap failure.
    pub fn open(opts: &LiveOptions) -> Result<LiveSource, LiveError> {
        let iface = opts.interface.as_str();
        let err = |kind, message: String| LiveError {
            kind,
            interface: iface.to_string(),
            message,
        };
        if iface.is_empty() {
            return Err(err(
                LiveErrorKind::NoSuchDevice,
                "no interface given".into(),
            ));
        }
        // libpcap's message for a missing device varies between versions (sometimes empty);
        // asking sysfs first gives one clear answer on Linux.
        let sys = std::path::Path::new("/sys/class/net");
        if sys.is_dir() && !sys.join(iface).exists() {
            return Err(err(
                LiveErrorKind::NoSuchDevice,
                "no such network interface".into(),
            ));
        }
        let snaplen = i32::try_from(opts.snaplen.clamp(64, 262_144)).unwrap_or(65535);
        let buffer =
            i32::try_from(u64::from(opts.buffer_mb.max(1)) * 1024 * 1024).unwrap_or(i32::MAX);
        let timeout = i32::try_from(opts.timeout_ms.max(1)).unwrap_or(i32::MAX);
        let inactive = pcap::Capture::from_device(iface)
            .map_err(|e| err(classify(&e), pcap_message(&e)))?
            .promisc(opts.promisc)
            .snaplen(snaplen)
            .buffer_size(buffer)
            .timeout(timeout);
        // Non-blocking, and we poll(2) the descriptor ourselves with the timeout: with
        // TPACKET_V3 libpcap polls without a timeout (it leaves waking up to the kernel's
        // block-retire timer, which never fires for an empty block), so a blocking read would
        // never return on an idle interface and signals would go unnoticed.
        let cap = inactive
            .open()
            .map_err(|e| err(classify(&e), pcap_message(&e)))?;
        let mut cap = cap
            .setnonblock()
            .map_err(|e| err(LiveErrorKind::Other, pcap_message(&e)))?;
        let bpf = opts.bpf.trim();
        if !bpf.is_empty() {
            cap.filter(bpf, true).map_err(|e| {
                err(
                    LiveErrorKind::BadFilter,
                    format!("BPF filter {bpf:?} does not compile: {}", pcap_message(&e)),
                )
            })?;
        }
        let linktype = cap.get_datalink().0;
        Ok(LiveSource {
            cap,
            linktype,
            snaplen: u32::try_from(snaplen).unwrap_or(65535),
            name: iface.to_string(),
            last_raw: (0, 0, 0),
            totals: SourceStats::default(),
            timeout_ms: timeout,
            drained: false,
        })
    }
}

/// Compiles `bpf` for frames of `linktype` without any capture open, so that a bad filter is
/// reported as bad configuration before any input is touched. `Err` holds the expression and
/// libpcap's message (`BPF filter "tcp port ((" does not compile: syntax error`).
///
/// # Errors
/// The expression does not compile for that link type.
pub fn check_filter(bpf: &str, linktype: i32) -> Result<(), String> {
    let bpf = bpf.trim();
    if bpf.is_empty() {
        return Ok(());
    }
    let fail =
        |e: &pcap::Error| format!("BPF filter {bpf:?} does not compile: {}", pcap_message(e));
    let dead = pcap::Capture::dead(pcap::Linktype(linktype)).map_err(|e| fail(&e))?;
    dead.compile(bpf, true).map(drop).map_err(|e| fail(&e))
}

/// Whether an interface carries traffic, from sysfs (Linux).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Administratively up and the link is not down.
    Up,
    /// Down; the text says how (`administratively down`, `no carrier (operstate down)`).
    Down(String),
    /// The interface no longer exists.
    Gone,
    /// Cannot tell (no sysfs).
    Unknown,
}

/// The state of `name` from `/sys/class/net/NAME/{flags,operstate}`: `flags` without
/// `IFF_UP` is an administrative down (`ip link set … down`); `operstate` `down` or
/// `lowerlayerdown` is a link without carrier. `unknown` (loopback, tun) counts as up.
pub fn link_state(name: &str) -> LinkState {
    const IFF_UP: u32 = 0x1;
    let sys = std::path::Path::new("/sys/class/net");
    if !sys.is_dir() || name.is_empty() {
        return LinkState::Unknown;
    }
    let dir = sys.join(name);
    if !dir.exists() {
        return LinkState::Gone;
    }
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    let flags = read("flags");
    let flags = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).ok();
    if flags.is_some_and(|f| f & IFF_UP == 0) {
        return LinkState::Down("administratively down".into());
    }
    match read("operstate").trim() {
        s @ ("down" | "lowerlayerdown" | "notpresent") => {
            LinkState::Down(format!("no carrier (operstate {s})"))
        }
        _ => LinkState::Up,
    }
}

/// libpcap's text without the crate's "libpcap error: " prefix.
fn pcap_message(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(s) if s.is_empty() => {
            "libpcap reported an error without a message".into()
        }
        pcap::Error::PcapError(s) => s.clone(),
        other => other.to_string(),
    }
}

fn classify(e: &pcap::Error) -> LiveErrorKind {
    let text = pcap_message(e).to_ascii_lowercase();
    if text.contains("permission") || text.contains("operation not permitted") {
        LiveErrorKind::PermissionDenied
    } else if text.contains("no such device") {
        LiveErrorKind::NoSuchDevice
    } else {
        LiveErrorKind::Other
    }
}

impl PacketSource for LiveSource {
    /// A frame, or [`Next::Timeout`] when none came within the timeout. Right after libpcap's
    /// buffer runs dry one `Timeout` is returned at once; the following call waits.
    fn next_packet(&mut self) -> Result<Next<'_>, CaptureError> {
        if self.drained {
            use std::os::fd::AsFd;
            match sys::wait_readable(self.cap.as_fd(), self.timeout_ms) {
                Ok(true) => self.drained = false,
                Ok(false) => return Ok(Next::Timeout),
                Err(e) => {
                    return Err(CaptureError {
                        source: self.name.clone(),
                        message: format!("poll: {e}"),
                    })
                }
            }
        }
        match self.cap.next_packet() {
            Ok(p) => Ok(Next::Packet(RawPacket {
                ts_sec: p.header.ts.tv_sec,
                ts_usec: u32::try_from(p.header.ts.tv_usec).unwrap_or(0),
                wire_len: p.header.len,
                data: p.data,
            })),
            Err(pcap::Error::TimeoutExpired) => {
                self.drained = true;
                Ok(Next::Timeout)
            }
            // Only offline captures report the end; treat it like a timeout for a live one.
            Err(pcap::Error::NoMorePackets) => Ok(Next::Timeout),
            Err(e) => Err(CaptureError {
                source: self.name.clone(),
                message: pcap_message(&e),
            }),
        }
    }

    fn linktype(&self) -> i32 {
        self.linktype
    }

    fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// `pcap_stats` since the capture was opened: frames received (after the filter),
    /// dropped by the kernel for lack of buffer, dropped by the interface. On a failure of
    /// `pcap_stats` the last known totals are returned.
    fn stats(&mut self) -> SourceStats {
        if let Ok(s) = self.cap.stats() {
            let (r, d, i) = self.last_raw;
            self.totals.received += u64::from(s.received.wrapping_sub(r));
            self.totals.kernel_dropped += u64::from(s.dropped.wrapping_sub(d));
            self.totals.if_dropped += u64::from(s.if_dropped.wrapping_sub(i));
            self.last_raw = (s.received, s.dropped, s.if_dropped);
        }
        self.totals
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// `poll(2)` on the capture descriptor: the one libc call of the capture module.
#[allow(unsafe_code)]
mod sys {
    use std::io;
    use std::os::fd::{AsRawFd, BorrowedFd};

    /// True when `fd` became readable (or reports an error or hang-up, which the next read
    /// returns) within `timeout_ms`; false on timeout or when a signal interrupted the wait.
    pub fn wait_readable(fd: BorrowedFd<'_>, timeout_ms: i32) -> io::Result<bool> {
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `p` is one valid, writable pollfd for the duration of the call, and the
        // descriptor is borrowed from the open capture, so it stays open meanwhile.
        let rc = unsafe { libc::poll(&mut p, 1, timeout_ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            };
        }
        Ok(rc > 0)
    }
}

/// Why [`default_interface`] chose its interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultReason {
    /// It carries the IPv4 default route (lowest metric).
    Ipv4DefaultRoute,
    /// No IPv4 default route; it carries the IPv6 one.
    Ipv6DefaultRoute,
    /// No default route: the first interface libpcap lists that is up and not loopback.
    FirstUp,
}

impl fmt::Display for DefaultReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DefaultReason::Ipv4DefaultRoute => "interface of the IPv4 default route",
            DefaultReason::Ipv6DefaultRoute => "interface of the IPv6 default route",
            DefaultReason::FirstUp => "first interface that is up and not loopback",
        })
    }
}

/// The interface `run` captures on when none is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultInterface {
    pub name: String,
    pub reason: DefaultReason,
}

/// The interface of the default route (`/proc/net/route`, then `/proc/net/ipv6_route`), else
/// the first interface that is up and not loopback.
///
/// # Errors
/// No route and no such interface, or libpcap cannot list interfaces.
pub fn default_interface() -> Result<DefaultInterface, LiveError> {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    if let Some(name) = default_route_v4(&read("/proc/net/route")) {
        return Ok(DefaultInterface {
            name,
            reason: DefaultReason::Ipv4DefaultRoute,
        });
    }
    if let Some(name) = default_route_v6(&read("/proc/net/ipv6_route")) {
        return Ok(DefaultInterface {
            name,
            reason: DefaultReason::Ipv6DefaultRoute,
        });
    }
    let err = |message: String| LiveError {
        kind: LiveErrorKind::NoSuchDevice,
        interface: String::new(),
        message,
    };
    let devices = pcap::Device::list()
        .map_err(|e| err(format!("cannot list interfaces: {}", pcap_message(&e))))?;
    devices
        .into_iter()
        .find(|d| d.flags.is_up() && !d.flags.is_loopback() && d.name != "any")
        .map(|d| DefaultInterface {
            name: d.name,
            reason: DefaultReason::FirstUp,
        })
        .ok_or_else(|| err("no default route and no interface that is up and not loopback".into()))
}

/// The interface of the IPv4 default route with the lowest metric in `/proc/net/route` text.
///
/// Columns: `Iface Destination Gateway Flags RefCnt Use Metric Mask …`, addresses in hex.
fn default_route_v4(table: &str) -> Option<String> {
    const RTF_UP: u32 = 0x1;
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let flags = u32::from_str_radix(f.get(3)?, 16).ok()?;
            let metric: u32 = f.get(6)?.parse().ok()?;
            let is_default = *f.get(1)? == "00000000" && *f.get(7)? == "00000000";
            (is_default && flags & RTF_UP != 0 && f[0] != "lo").then(|| (metric, f[0].to_string()))
        })
        .min()
        .map(|(_, name)| name)
}

/// The interface of the IPv6 default route with the lowest metric in `/proc/net/ipv6_route`.
///
/// Columns: `dest dest_plen src src_plen next_hop metric refcnt use flags iface`, hex. The
/// kernel lists an unreachable default on `lo` (RTF_REJECT); it is skipped.
fn default_route_v6(table: &str) -> Option<String> {
    const RTF_UP: u32 = 0x1;
    const RTF_REJECT: u32 = 0x200;
    table
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                return None;
            }
            let is_default = f[0].bytes().all(|b| b == b'0') && f[1] == "00";
            let metric = u32::from_str_radix(f[5], 16).ok()?;
            let flags = u32::from_str_radix(f[8], 16).ok()?;
            (is_default && flags & RTF_UP != 0 && flags & RTF_REJECT == 0 && f[9] != "lo")
                .then(|| (metric, f[9].to_string()))
        })
        .min()
        .map(|(_, name)| name)
}

/// The networks of `name`'s addresses (address and netmask, host bits cleared), IPv4 and
/// IPv6, each once. Empty when the interface is unknown or has no address.
pub fn interface_subnets(name: &str) -> Vec<IpNet> {
    let Ok(devices) = pcap::Device::list() else {
        return Vec::new();
    };
    let mut nets: Vec<IpNet> = devices
        .iter()
        .filter(|d| d.name == name)
        .flat_map(|d| d.addresses.iter())
        .filter_map(|a| subnet(a.addr, a.netmask))
        .collect();
    nets.sort();
    nets.dedup();
    nets
}

fn subnet(addr: IpAddr, mask: Option<IpAddr>) -> Option<IpNet> {
    let full = if addr.is_ipv4() { 32 } else { 128 };
    let net = match mask {
        Some(m) if m.is_ipv4() == addr.is_ipv4() => IpNet::with_netmask(addr, m).ok()?,
        _ => IpNet::new(addr, full).ok()?,
    };
    Some(net.trunc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_default_route_lowest_metric_wins() {
        let table = "\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth1\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t0000A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
";
        assert_eq!(default_route_v4(table).as_deref(), Some("eth0"));
    }

    #[test]
    fn v4_no_default_route() {
        let table = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n\
                     eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\n";
        assert_eq!(default_route_v4(table), None);
        assert_eq!(default_route_v4(""), None);
    }

    #[test]
    fn v6_default_route_skips_unreachable_on_lo() {
        let z = "00000000000000000000000000000000";
        let table = format!(
            "{z} 00 {z} 00 {z} ffffffff 00000001 00000000 00200200 lo\n\
             {z} 00 {z} 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 wlan0\n\
             fe800000000000000000000000000000 40 {z} 00 {z} 00000100 00000001 00000000 00000001 wlan0\n"
        );
        assert_eq!(default_route_v6(&table).as_deref(), Some("wlan0"));
    }

    #[test]
    fn subnets_clear_host_bits() {
        let a: IpAddr = "198.51.100.7".parse().unwrap();
        let m: IpAddr = "255.255.255.0".parse().unwrap();
        assert_eq!(subnet(a, Some(m)), Some("198.51.100.0/24".parse().unwrap()));
        let a6: IpAddr = "2001:db8::5".parse().unwrap();
        let m6: IpAddr = "ffff:ffff:ffff:ffff::".parse().unwrap();
        assert_eq!(subnet(a6, Some(m6)), Some("2001:db8::/64".parse().unwrap()));
        assert_eq!(subnet(a, None), Some("198.51.100.7/32".parse().unwrap()));
    }

    #[test]
    fn missing_interface_is_reported_as_such() {
        let opts = LiveOptions {
            interface: "nsm-no-such-if0".into(),
            bpf: String::new(),
            snaplen: 65535,
            promisc: false,
            buffer_mb: 2,
            timeout_ms: 100,
        };
        let e = LiveSource::open(&opts).err().expect("must fail");
        assert_eq!(e.kind, LiveErrorKind::NoSuchDevice, "{e}");
    }
}
