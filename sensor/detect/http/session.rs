//! The per-flow HTTP state machine behind [`HttpSession`]: each direction's parser (idle,
//! head, body, resynchronising), response-to-request pairing, and the building of a message's
//! buffers from its reusable storage. The buffer semantics are documented on the parent module;
//! the head parsing, URI normalisation and body decoding live in `parse`, `norm` and `body`.

use super::body::{self, Framing};
use super::norm;
use super::parse::{self, Encoding, Head};
use super::{HttpMessage, HttpOptions, HttpStats};
use std::collections::VecDeque;
use std::ops::Range;

/// What a waiting request means for its response's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    Head,
    Connect,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between messages: CR/LF are skipped.
    Idle,
    /// Collecting the head.
    Head,
    /// Framing the body.
    Body,
    /// Lost: looking for a line that can start a message (`nl` = the last byte was a LF).
    Resync { nl: bool },
    /// The flow left HTTP (an upgrade or a tunnel).
    Off,
}

/// One direction's parser and its reusable buffers.
#[derive(Debug)]
struct Half {
    to_server: bool,
    state: State,
    ts: (i64, u32),
    /// Head bytes, then body bytes as received (bounded).
    raw: Vec<u8>,
    head_len: usize,
    /// End of the start line once seen (see `parse::head_end`).
    first_lf: Option<usize>,
    head: Head,
    cookies: Vec<Range<usize>>,
    framing: Framing,
    /// Body bytes as received so far (stored or not).
    body_seen: u64,
    /// Dechunked body (bounded).
    body: Vec<u8>,
    /// Decompressed body.
    inflated: Vec<u8>,
    /// UTF-16/32 body reduced to bytes (`normalize_utf`).
    utf: Vec<u8>,
    uri: Vec<u8>,
    dirs: Vec<usize>,
    header: Vec<u8>,
    cookie: Vec<u8>,
    /// The message was given already (its body went past the bound); the rest is framed only.
    given: bool,
    /// This response switches the flow to another protocol once it is given.
    tunnel: bool,
    /// Reused for every compressed body (reset between them).
    inflater: Option<flate2::Decompress>,
    /// Resynchronising since the last complete head (so one episode is counted once).
    lost: bool,
}

impl Half {
    fn new(to_server: bool) -> Half {
        Half {
            to_server,
            state: State::Idle,
            ts: (0, 0),
            raw: Vec::new(),
            head_len: 0,
            first_lf: None,
            head: Head::default(),
            cookies: Vec::new(),
            framing: Framing::None,
            body_seen: 0,
            body: Vec::new(),
            inflated: Vec::new(),
            utf: Vec::new(),
            uri: Vec::new(),
            dirs: Vec::new(),
            header: Vec::new(),
            cookie: Vec::new(),
            given: false,
            tunnel: false,
            inflater: None,
            lost: false,
        }
    }

    fn memory(&self) -> usize {
        self.raw.capacity()
            + self.body.capacity()
            + self.inflated.capacity()
            + self.utf.capacity()
            + self.uri.capacity()
            + self.header.capacity()
            + self.cookie.capacity()
            + self.dirs.capacity() * std::mem::size_of::<usize>()
            + self.cookies.capacity() * std::mem::size_of::<Range<usize>>()
            + if self.inflater.is_some() {
                body::INFLATER_BYTES
            } else {
                0
            }
    }

    /// As new, but keeping the buffers grown so far (emptied): for a session reused by the
    /// next connection.
    fn recycle(&mut self) {
        let mut fresh = Half::new(self.to_server);
        for (new, old) in [
            (&mut fresh.raw, &mut self.raw),
            (&mut fresh.body, &mut self.body),
            (&mut fresh.inflated, &mut self.inflated),
            (&mut fresh.utf, &mut self.utf),
            (&mut fresh.uri, &mut self.uri),
            (&mut fresh.header, &mut self.header),
            (&mut fresh.cookie, &mut self.cookie),
        ] {
            std::mem::swap(new, old);
            new.clear();
        }
        std::mem::swap(&mut fresh.dirs, &mut self.dirs);
        fresh.dirs.clear();
        std::mem::swap(&mut fresh.cookies, &mut self.cookies);
        fresh.cookies.clear();
        // Reset before each body it inflates; kept for its allocation.
        fresh.inflater = self.inflater.take();
        *self = fresh;
    }

    /// Drops the message in progress and every buffer, and moves to `state`.
    fn reset(&mut self, state: State) {
        *self = Half {
            state,
            lost: self.lost,
            ..Half::new(self.to_server)
        };
    }

    fn body_depth(&self, o: &HttpOptions) -> usize {
        if self.to_server {
            o.post_depth
        } else {
            o.server_depth.max(o.compress_depth)
        }
    }
}

/// HTTP state of one flow, both directions. Bounded by [`HttpOptions`]; buffers are reused from
/// message to message, so a flow allocates only while its buffers grow to their bounds.
///
/// # Resource usage
///
/// Each buffer is capped by an option; with the defaults a session holds at most about 1.5 MiB
/// (both directions, every buffer at its cap, growth rounding included) and a few KiB for
/// ordinary traffic. [`HttpSession::memory`] says what it holds now.
///
/// # Panics
///
/// Never, on any bytes, split in any way.
///
/// # Examples
///
/// ```
/// use nsm_sensor::detect::http::{HttpOptions, HttpSession};
/// let mut s = HttpSession::new(&HttpOptions::default());
/// let mut uris = Vec::new();
/// s.feed(true, b"GET /a/../b%41 HTTP/1.1\r\nHost: x\r\n\r\n", (1, 0), &mut |m| uris.push(m.uri.to_vec()));
/// assert_eq!(uris, vec![b"/bA".to_vec()]);
/// ```
#[derive(Debug)]
pub struct HttpSession {
    opts: HttpOptions,
    client: Half,
    server: Half,
    pending: VecDeque<Asked>,
    stats: HttpStats,
}

impl HttpSession {
    pub fn new(opts: &HttpOptions) -> Self {
        HttpSession {
            opts: *opts,
            client: Half::new(true),
            server: Half::new(false),
            pending: VecDeque::new(),
            stats: HttpStats::default(),
        }
    }

    pub fn stats(&self) -> HttpStats {
        self.stats
    }

    /// Makes the session as [`HttpSession::new`] made it (no message, no counters), keeping
    /// the buffers it grew: a finished connection's session serves the next one without
    /// allocating.
    pub fn recycle(&mut self) {
        self.client.recycle();
        self.server.recycle();
        self.pending.clear();
        self.stats = HttpStats::default();
    }

    /// Bytes held by the session's buffers (capacity), for the caller's memcap.
    pub fn memory(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.client.memory()
            + self.server.memory()
            + self.pending.capacity() * std::mem::size_of::<Asked>()
    }

    /// Whether the client's (`to_server`) or the server's direction holds the start of a
    /// message not given yet: bytes fed so far that will be part of a later message.
    pub fn in_message(&self, to_server: bool) -> bool {
        let half = if to_server {
            &self.client
        } else {
            &self.server
        };
        match half.state {
            State::Head => true,
            State::Body => !half.given,
            State::Idle | State::Resync { .. } | State::Off => false,
        }
    }

    /// In-order bytes sent by the client (`to_server`) or the server, with the capture time of
    /// their first byte. Calls `on_msg` once for every message these bytes complete.
    pub fn feed(
        &mut self,
        to_server: bool,
        mut data: &[u8],
        ts: (i64, u32),
        on_msg: &mut dyn FnMut(&HttpMessage<'_>),
    ) {
        // A step may use no byte when it only changes state; two in a row would be a bug, and
        // the guard keeps it from spinning.
        let mut idle_steps = 0;
        while !data.is_empty() && idle_steps < 2 {
            let used = self.step(to_server, data, ts, on_msg);
            data = data.get(used..).unwrap_or(&[]);
            idle_steps = if used == 0 { idle_steps + 1 } else { 0 };
        }
    }

    /// The direction ended (FIN, RST, expiry): a close-delimited body is complete; a message cut
    /// short is given as far as it got (counted as truncated).
    pub fn finish(&mut self, to_server: bool, on_msg: &mut dyn FnMut(&HttpMessage<'_>)) {
        let half = if to_server {
            &self.client
        } else {
            &self.server
        };
        let half_state = half.state;
        match half_state {
            State::Idle | State::Off | State::Resync { .. } => {}
            State::Head => {
                self.stats.truncated += 1;
                let end = half.raw.len();
                self.head_done(to_server, end);
                self.emit(to_server, on_msg);
            }
            State::Body => {
                if !half.given {
                    if half.framing != Framing::Close {
                        self.stats.truncated += 1;
                    }
                    self.emit(to_server, on_msg);
                }
            }
        }
        if matches!(half_state, State::Head | State::Body) {
            self.end_message(to_server);
        }
    }

    /// One step over `data`; returns the bytes used.
    fn step(
        &mut self,
        to_server: bool,
        data: &[u8],
        ts: (i64, u32),
        on_msg: &mut dyn FnMut(&HttpMessage<'_>),
    ) -> usize {
        let o = self.opts;
        let half = if to_server {
            &mut self.client
        } else {
            &mut self.server
        };
        match half.state {
            State::Off => data.len(),
            State::Resync { nl } => {
                // The byte after a LF may start a message; Idle then Head check it.
                let at = if nl {
                    Some(0)
                } else {
                    data.iter().position(|&c| c == b'\n').map(|i| i + 1)
                };
                match at {
                    Some(at) if at < data.len() => {
                        half.state = State::Idle;
                        let rest = data.get(at..).unwrap_or(&[]);
                        at + self.step(to_server, rest, ts, on_msg)
                    }
                    Some(_) => {
                        half.state = State::Resync { nl: true };
                        data.len()
                    }
                    None => data.len(),
                }
            }
            State::Idle => {
                let skip = data
                    .iter()
                    .position(|&c| c != b'\r' && c != b'\n')
                    .unwrap_or(data.len());
                if skip < data.len() {
                    half.state = State::Head;
                    half.ts = ts;
                    half.raw.clear();
                    half.head_len = 0;
                    half.first_lf = None;
                    half.given = false;
                    let rest = data.get(skip..).unwrap_or(&[]);
                    return skip + self.step(to_server, rest, ts, on_msg);
                }
                skip
            }
            State::Head => {
                let from = half.raw.len();
                let room = o.max_head_bytes.saturating_sub(from);
                let take = data.len().min(room);
                // Copy only what the head can use: a segment of many small pipelined requests
                // would otherwise be copied (up to the head bound) once per request.
                let upto = data
                    .get(..take)
                    .map_or(take, |d| {
                        parse::head_need(&half.raw, d, half.first_lf.is_some())
                    })
                    .min(take);
                half.raw.extend_from_slice(&data[..upto]);
                if let parse::Start::No(at) = parse::plausible_start(to_server, &half.raw) {
                    // Rescan from the offending byte (it may be the LF before a real start);
                    // the bytes before it are token or "HTTP/" bytes, none a LF. A bad first
                    // byte of a message is used up, so the scan moves on.
                    let used = if at == 0 { 1 } else { at.saturating_sub(from) };
                    if !half.lost {
                        self.stats.not_http += 1;
                    }
                    half.lost = true;
                    half.reset(State::Resync { nl: false });
                    return used.min(data.len());
                }
                match parse::head_end(to_server, &half.raw, from, &mut half.first_lf) {
                    Some(end) => {
                        let used = end.saturating_sub(from);
                        half.raw.truncate(end);
                        half.lost = false;
                        self.head_done(to_server, end);
                        let half = if to_server {
                            &mut self.client
                        } else {
                            &mut self.server
                        };
                        if half.framing.done() {
                            self.emit(to_server, on_msg);
                            self.end_message(to_server);
                        }
                        used
                    }
                    None if upto == take
                        && (take < data.len() || half.raw.len() >= o.max_head_bytes) =>
                    {
                        // Endless head: give what there is, then look for the next message.
                        self.stats.head_overflows += 1;
                        self.stats.truncated += 1;
                        let end = half.raw.len();
                        self.head_done(to_server, end);
                        self.emit(to_server, on_msg);
                        let half = if to_server {
                            &mut self.client
                        } else {
                            &mut self.server
                        };
                        half.reset(State::Resync { nl: false });
                        take
                    }
                    None => upto,
                }
            }
            State::Body => {
                let st = half.framing.step(data);
                let depth = half.body_depth(&o);
                let sent = data.get(..st.used).unwrap_or(&[]);
                half.body_seen = half.body_seen.saturating_add(st.used as u64);
                if !half.given {
                    let keep = half
                        .head_len
                        .saturating_add(depth)
                        .saturating_sub(half.raw.len())
                        .min(sent.len());
                    half.raw.extend_from_slice(&sent[..keep]);
                    let payload = sent.get(st.payload.clone()).unwrap_or(&[]);
                    let keep = depth.saturating_sub(half.body.len()).min(payload.len());
                    half.body.extend_from_slice(&payload[..keep]);
                }
                if st.error {
                    self.stats.chunk_errors += 1;
                }
                let half = if to_server {
                    &mut self.client
                } else {
                    &mut self.server
                };
                let full = half.body.len() >= depth;
                if half.framing.done() {
                    if !half.given {
                        self.emit(to_server, on_msg);
                    }
                    self.end_message(to_server);
                } else if full && !half.given {
                    self.stats.truncated += 1;
                    self.emit(to_server, on_msg);
                    let half = if to_server {
                        &mut self.client
                    } else {
                        &mut self.server
                    };
                    half.given = true;
                }
                st.used
            }
        }
    }

    /// The head is `raw[..end]`: parse it and decide how the body is framed.
    fn head_done(&mut self, to_server: bool, end: usize) {
        let o = self.opts;
        let half = if to_server {
            &mut self.client
        } else {
            &mut self.server
        };
        half.head_len = end.min(half.raw.len());
        half.head = parse::parse_head(
            to_server,
            &half.raw[..half.head_len],
            o.enable_cookie,
            &mut half.cookies,
        );
        half.body.clear();
        half.inflated.clear();
        half.body_seen = 0;
        half.state = State::Body;
        if half.head.malformed {
            self.stats.parse_errors += 1;
        }
        let h = &half.head;
        let length_or = |none: Framing| match (h.chunked, h.content_length) {
            (true, _) => Framing::chunked(),
            (false, Some(0)) => Framing::None,
            (false, Some(n)) => Framing::Length(n),
            (false, None) => none,
        };
        half.framing = if to_server {
            if h.http09 {
                Framing::None
            } else {
                length_or(Framing::None)
            }
        } else {
            // RFC 7230 3.3.3: 1xx, 204 and 304 have no body, nor does the answer to a HEAD.
            // An interim 1xx leaves the request waiting for its final response.
            let interim = (100..200).contains(&h.status);
            let asked = if interim {
                self.pending.front().copied()
            } else {
                self.pending.pop_front()
            };
            if asked.is_none() {
                self.stats.unpaired_responses += 1;
            }
            let tunnel = h.status == 101
                || (asked == Some(Asked::Connect) && (200..300).contains(&h.status));
            if tunnel {
                half.tunnel = true;
            }
            if interim || tunnel || h.status == 204 || h.status == 304 || asked == Some(Asked::Head)
            {
                Framing::None
            } else {
                length_or(Framing::Close)
            }
        };
        if to_server {
            let asked = match half.raw.get(half.head.method.clone()) {
                Some(b"HEAD") => Asked::Head,
                Some(b"CONNECT") => Asked::Connect,
                _ => Asked::Other,
            };
            if self.pending.len() >= o.max_pending {
                self.pending.pop_front();
                self.stats.pending_dropped += 1;
            }
            self.pending.push_back(asked);
        }
    }

    fn end_message(&mut self, to_server: bool) {
        let half = if to_server {
            &mut self.client
        } else {
            &mut self.server
        };
        half.state = State::Idle;
        half.framing = Framing::None;
        half.given = false;
        if std::mem::take(&mut half.tunnel) {
            // RFC 7230 6.7 / 4.3.6: what follows is another protocol, in both directions.
            self.stats.upgraded += 1;
            self.client.reset(State::Off);
            self.server.reset(State::Off);
            self.pending.clear();
        }
    }

    /// Builds the derived buffers of the current message and calls `on_msg`.
    fn emit(&mut self, to_server: bool, on_msg: &mut dyn FnMut(&HttpMessage<'_>)) {
        let o = self.opts;
        let half = if to_server {
            &mut self.client
        } else {
            &mut self.server
        };
        if to_server {
            self.stats.requests += 1;
        } else {
            self.stats.responses += 1;
        }
        let head_len = half.head_len.min(half.raw.len());
        let head = &half.raw[..head_len];
        let h = &half.head;
        let at = |r: &Range<usize>| head.get(r.clone()).unwrap_or(&[]);
        let raw_uri = at(&h.uri);
        // `hi_client_norm`: the part after an absolute URI's host, normalised only when the
        // scanner flagged something; the whole raw URI when normalising fails.
        let (part, flagged) = norm::uri_scan(raw_uri, o.uri_norm);
        let part = raw_uri.get(part..).unwrap_or(raw_uri);
        let uri: &[u8] = if !flagged {
            part
        } else if norm::normalize_uri(part, o.uri_norm, o.max_uri, &mut half.uri, &mut half.dirs) {
            &half.uri
        } else {
            raw_uri
        };
        // Header without the cookie values (`hi_split_header_cookie`), and the values joined;
        // both into MAX_URI-sized buffers (`hi_client_norm`), so each is cut at `max_uri`.
        half.header.clear();
        half.cookie.clear();
        let hdr = h.headers.clone();
        let cap = o.max_uri;
        let put = |v: &mut Vec<u8>, b: &[u8]| {
            let n = cap.saturating_sub(v.len()).min(b.len());
            v.extend_from_slice(&b[..n]);
        };
        let mut from = hdr.start;
        for c in &half.cookies {
            if c.start < from || c.end > hdr.end {
                continue;
            }
            put(&mut half.header, head.get(from..c.start).unwrap_or(&[]));
            put(&mut half.cookie, head.get(c.clone()).unwrap_or(&[]));
            from = c.end;
        }
        put(&mut half.header, head.get(from..hdr.end).unwrap_or(&[]));
        let file_data: &[u8] = if to_server {
            &[]
        } else if o.inspect_gzip && h.encoding != Encoding::Identity {
            let input = &half.body[..half.body.len().min(o.compress_depth)];
            let d = half
                .inflater
                .get_or_insert_with(|| flate2::Decompress::new(false));
            match body::inflate(d, h.encoding, input, o.decompress_depth, &mut half.inflated) {
                Ok(()) => &half.inflated,
                Err(_) => {
                    self.stats.gzip_errors += 1;
                    &half.body
                }
            }
        } else {
            &half.body[..half.body.len().min(o.server_depth)]
        };
        // hi_server.c converts after decompressing.
        let file_data: &[u8] =
            if o.normalize_utf && body::normalize_utf(h.charset, file_data, &mut half.utf) {
                &half.utf
            } else {
                file_data
            };
        let msg = HttpMessage {
            to_server,
            ts: half.ts,
            raw: &half.raw,
            method: at(&h.method),
            raw_uri,
            uri,
            raw_header: at(&h.headers),
            header: &half.header,
            raw_cookie: &half.cookie,
            cookie: &half.cookie,
            client_body: if to_server { &half.body } else { &[] },
            stat_code: at(&h.stat_code),
            stat_msg: at(&h.stat_msg),
            file_data,
        };
        on_msg(&msg);
    }
}
