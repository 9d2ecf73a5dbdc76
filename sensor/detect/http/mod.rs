//! HTTP/1.x inspection buffers, as Snort 2.9.20's `http_inspect` gives them to rules with the
//! shipped `snort.conf` (`http_inspect_server: server default … enable_cookie
//! extended_response_inspection inspect_gzip normalize_utf unlimited_decompress
//! normalize_javascript apply_to_all_methods allow_proxy_use`).
//!
//! Owns the per-flow HTTP state: it is handed in-order bytes of each direction (by the stream
//! reassembler) and calls back once per complete request or response with its buffers. It does
//! not reassemble TCP, pick ports, match rules or decide alerts. Responses are paired with the
//! requests they answer (a `HEAD` answer has no body), so a request must be fed before its
//! response, as the capture saw them; a response with no request waiting is still parsed
//! (counted in [`HttpStats::unpaired_responses`]).
//!
//! Buffers ([`HttpMessage`]), each an empty slice when the message has none:
//!
//! | field | rule keyword | what it holds |
//! |---|---|---|
//! | `method` | `http_method` | the request method |
//! | `raw_uri` | `http_raw_uri` | the URI as sent |
//! | `uri` | `http_uri` | the URI (the path of an absolute `http://host/path` URI) normalised as `hi_client.c` and `hi_norm.c` do ([`norm::uri_scan`], [`norm::normalize_uri`]) |
//! | `raw_header` | `http_raw_header` | first header line through the blank line's LF |
//! | `header` | `http_header` | the same without the `Cookie`/`Set-Cookie` values (`enable_cookie`, `hi_split_header_cookie`): the names and line ends stay |
//! | `raw_cookie`, `cookie` | `http_raw_cookie`, `http_cookie` | those values, concatenated (identical: `normalize_cookies` is off) |
//! | `client_body` | `http_client_body` | the request body, dechunked, at most `post_depth` bytes |
//! | `stat_code`, `stat_msg` | `http_stat_code`, `http_stat_msg` | the status line's 3-digit code and reason |
//! | `file_data` | `file_data` | the response body, dechunked, for `Content-Encoding: gzip`/`deflate` decompressed, and UTF-16/32 text reduced to bytes |
//!
//! `http_header` is not %-decoded: `normalize_headers` is off in that configuration
//! (`hi_client_norm`). Request and response headers follow the same rule.
//!
//! Bounds ([`HttpOptions`], each documented there): the head (start line + headers), the body
//! kept as sent, the dechunked body (`post_depth` for requests; `server_flow_depth 0` means the
//! whole response body in Snort, here it is bounded by `server_depth`), the compressed input
//! (`compress_depth`) and the decompressed output (`decompress_depth`), the normalised URI,
//! and the queue of request methods waiting for their response. A body longer than its bound
//! gives its message as soon as the bound is reached, and the rest of it is framed (so the next
//! message is found) but not stored. Bytes that cannot start an HTTP message (no method token,
//! no `HTTP/` status line: a capture that starts mid-body, or another protocol on an HTTP
//! port) and heads longer than their bound make that direction drop its buffers and look for
//! the next line that can start a message, holding nothing meanwhile (counted in
//! [`HttpStats`]). A switch to another protocol (`101`, or a `2xx` answer to `CONNECT`) stops
//! HTTP parsing of both directions.
//!
//! `file_data` of a text response in UTF-16/32 (`Content-Type` charset or byte-order mark) is
//! reduced to one byte per character (`normalize_utf`, [`body::normalize_utf`]).
//!
//! Not modelled: `normalize_javascript` (file_data is not JavaScript-normalised), folded
//! header lines, UTF-7 bodies, and the preprocessor's own events
//! (`non_rfc_char`, `max_header_length`, `max_headers`, `max_spaces`, `small_chunk_length`,
//! `oversize_dir_length`, `webroot`, ...): those raise alerts and do not change the buffers.

pub mod body;
pub mod norm;
pub mod parse;
mod session;

pub use norm::UriNorm;
pub use session::HttpSession;

/// Bounds and switches of one HTTP session. [`HttpOptions::default`] is the shipped
/// configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpOptions {
    /// Start line plus header block of one message. A longer head stops parsing of that
    /// direction (Snort's `max_header_length` only alerts; a bound is needed here).
    pub max_head_bytes: usize,
    /// `post_depth`: request body bytes (dechunked) kept for `http_client_body`.
    pub post_depth: usize,
    /// Response body bytes (dechunked, before decompression) kept; also the raw body kept in
    /// `raw`. `server_flow_depth 0` is unlimited in Snort; here it is bounded.
    pub server_depth: usize,
    /// `compress_depth`: compressed bytes fed to the decoder.
    pub compress_depth: usize,
    /// `decompress_depth`: decompressed bytes kept for `file_data`.
    pub decompress_depth: usize,
    /// Snort's `MAX_URI` (8192): the size of the buffers `http_uri` is normalised into and
    /// `http_header`/`http_cookie` are copied into (`hi_client_norm`), so each is cut there.
    /// `http_raw_header` and `http_raw_uri` point into the message and are not cut.
    pub max_uri: usize,
    /// Requests waiting for their response (to know which answer a `HEAD`).
    pub max_pending: usize,
    /// `enable_cookie`.
    pub enable_cookie: bool,
    /// `inspect_gzip`.
    pub inspect_gzip: bool,
    /// `normalize_utf`: UTF-16/32 text bodies reduced to one byte per character.
    pub normalize_utf: bool,
    pub uri_norm: UriNorm,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            max_head_bytes: 32 * 1024,
            post_depth: 65495,
            server_depth: 65535,
            compress_depth: 65535,
            decompress_depth: 65535,
            max_uri: 8192,
            max_pending: 64,
            enable_cookie: true,
            inspect_gzip: true,
            normalize_utf: true,
            uri_norm: UriNorm::SNORT_DEFAULT,
        }
    }
}

/// Counters of one session (add them up across sessions for the sensor's stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpStats {
    pub requests: u64,
    pub responses: u64,
    /// Messages given before their end (body past its bound, or the direction ended early).
    pub truncated: u64,
    /// Start lines of the wrong shape (empty URI, status code not 3 digits).
    pub parse_errors: u64,
    /// Chunked bodies whose framing broke.
    pub chunk_errors: u64,
    /// Compressed bodies that did not decode (file_data is then the body as received).
    pub gzip_errors: u64,
    /// Times a direction lost its place (bytes that cannot start a message, as when a capture
    /// starts mid-body, or non-HTTP traffic on an HTTP port) and looked for the next line that
    /// can start one, holding no buffer meanwhile.
    pub not_http: u64,
    /// Heads longer than `max_head_bytes` (given truncated, then resynchronised).
    pub head_overflows: u64,
    /// Requests forgotten because `max_pending` were already waiting.
    pub pending_dropped: u64,
    /// Responses with no request waiting for them.
    pub unpaired_responses: u64,
    /// Flows that left HTTP (101 Switching Protocols, or a 2xx answer to CONNECT): both
    /// directions are no longer parsed.
    pub upgraded: u64,
}

/// One complete request or response, borrowed from the session until the callback returns.
#[derive(Debug, Clone, Copy)]
pub struct HttpMessage<'a> {
    pub to_server: bool,
    /// Capture time of the segment holding the message's first byte.
    pub ts: (i64, u32),
    /// The message as sent: head, then the body bytes as received (bounded).
    pub raw: &'a [u8],
    pub method: &'a [u8],
    pub raw_uri: &'a [u8],
    pub uri: &'a [u8],
    pub raw_header: &'a [u8],
    pub header: &'a [u8],
    pub raw_cookie: &'a [u8],
    pub cookie: &'a [u8],
    pub client_body: &'a [u8],
    pub stat_code: &'a [u8],
    pub stat_msg: &'a [u8],
    pub file_data: &'a [u8],
}

#[cfg(test)]
mod tests;
