//! The SigV4 canonical request and string to sign (companion-apis.md §2.2), the request time, and the HMAC chain.
//!
//! Everything here writes into a [`Sink`] — in production the SHA-256 or HMAC that consumes the bytes, in tests a
//! `Vec` — so verifying a request neither copies its head nor builds intermediate maps, and the body is hashed where
//! it lies. The hashers come from `sha2`/`hmac` built with their `zeroize` feature, so their buffers (which hold the
//! tail of the body, the session token, or key-derived state) are wiped when they are dropped.

use std::borrow::Cow;

use hmac::{Hmac, KeyInit, Mac, digest::FixedOutput};
use jiff::{Timestamp, civil::DateTime, tz::Offset};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::AuthError;

/// The only algorithm SigV4 (as opposed to SigV4a) defines.
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Length of a secret access key in the AWS format; the only length the key derivation accepts.
const SECRET_ACCESS_KEY_LEN: usize = 40;

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

const MSG_INCOMPLETE_TRAILING_ESCAPE: &str = "Incomplete trailing escape % sequence";

/// Where canonical bytes go.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        Digest::update(self, bytes);
    }
}

impl Sink for Hmac<Sha256> {
    fn put(&mut self, bytes: &[u8]) {
        Mac::update(self, bytes);
    }
}

/// No conforming client can have signed this request as described (a `SignedHeaders` list that is not sorted, not
/// lower-case, or names a header the request lacks). The verifier reports it as a signature mismatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unrepresentable;

/// RFC 3986 unreserved characters: the only bytes SigV4 leaves unencoded.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

fn escape(byte: u8) -> [u8; 3] {
    [
        b'%',
        HEX_UPPER[usize::from(byte >> 4)],
        HEX_UPPER[usize::from(byte & 0xf)],
    ]
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

fn upper_hex_value(byte: u8) -> Option<u8> {
    (!byte.is_ascii_lowercase())
        .then(|| hex_value(byte))
        .flatten()
}

/// URI-encodes `bytes` (everything but unreserved characters becomes `%XX`), writing runs of unreserved bytes in one
/// piece.
fn write_uri_encoded(sink: &mut impl Sink, bytes: &[u8]) {
    let mut start = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        if !is_unreserved(byte) {
            if start < at {
                sink.put(&bytes[start..at]);
            }
            sink.put(&escape(byte));
            start = at + 1;
        }
    }
    if start < bytes.len() {
        sink.put(&bytes[start..]);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Canonical URI
// ---------------------------------------------------------------------------------------------------------------

/// A request path after dot-segment removal (RFC 3986 §5.2.4, as the AWS SDKs normalise it): the surviving segments,
/// still as the client encoded them, and whether the canonical URI ends with `/`.
#[derive(Debug)]
pub(crate) struct CanonicalPath<'a> {
    segments: Vec<&'a str>,
    trailing_slash: bool,
}

impl<'a> CanonicalPath<'a> {
    /// Normalises `path`. Empty segments collapse (`//a//` is `/a/`); a trailing `.` or `..` leaves a trailing `/`;
    /// `..` above the root is refused rather than clamped, as AWS does. Allocates only for paths other than `/`.
    pub(crate) fn parse(path: &'a str) -> Result<Self, AuthError> {
        let root = Self {
            segments: Vec::new(),
            trailing_slash: false,
        };
        if path.is_empty() || path == "/" {
            return Ok(root);
        }
        let Some(rest) = path.strip_prefix('/') else {
            return Err(AuthError::InvalidUriPath(format!(
                "Path is not absolute: {path}"
            )));
        };
        let mut normalised = root;
        for segment in rest.split('/') {
            match segment {
                "" | "." => normalised.trailing_slash = true,
                ".." => {
                    if normalised.segments.pop().is_none() {
                        return Err(above_root(path));
                    }
                    normalised.trailing_slash = true;
                }
                _ => {
                    normalised.segments.push(segment);
                    normalised.trailing_slash = false;
                }
            }
        }
        Ok(normalised)
    }

    /// Writes the canonical URI: each segment URI-encoded once more. For every service but S3 the AWS SDKs encode
    /// the already-encoded path when signing (`/a%20b` is signed as `/a%2520b`), and so does this.
    pub(crate) fn write(&self, sink: &mut impl Sink) {
        sink.put(b"/");
        for (index, segment) in self.segments.iter().enumerate() {
            if index > 0 {
                sink.put(b"/");
            }
            write_uri_encoded(sink, segment.as_bytes());
        }
        if self.trailing_slash && !self.segments.is_empty() {
            sink.put(b"/");
        }
    }
}

/// The message echoes the path encoded once more with runs of `/` collapsed, as the previous implementation did.
fn above_root(path: &str) -> AuthError {
    let mut shown = String::with_capacity(path.len() * 3);
    for byte in path.bytes() {
        if byte == b'/' {
            if !shown.ends_with('/') {
                shown.push('/');
            }
        } else if is_unreserved(byte) {
            shown.push(char::from(byte));
        } else {
            shown.extend(escape(byte).map(char::from));
        }
    }
    AuthError::InvalidUriPath(format!(
        "Relative path entry '..' navigates above root: {shown}"
    ))
}

// ---------------------------------------------------------------------------------------------------------------
// Canonical query string
// ---------------------------------------------------------------------------------------------------------------

/// One query parameter, name and value already in canonical encoding (decoded, then URI-encoded again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryParam<'a> {
    pub(crate) name: Cow<'a, str>,
    pub(crate) value: Cow<'a, str>,
}

/// Splits a query string into canonically encoded parameters, in request order. Empty components are skipped, a
/// parameter without `=` has an empty value. A malformed `%` escape is refused (`MalformedQueryString`).
pub(crate) fn parse_query(query: &str) -> Result<Vec<QueryParam<'_>>, AuthError> {
    let mut params = Vec::new();
    for component in query.split('&').filter(|c| !c.is_empty()) {
        let (name, value) = component.split_once('=').unwrap_or((component, ""));
        let name = normalise_query_element(name)?;
        let value = normalise_query_element(value)?;
        params.push(QueryParam { name, value });
    }
    Ok(params)
}

/// The first value of parameter `name` (compared in canonical form), as the previous implementation and AWS read the
/// presigned parameters.
pub(crate) fn first_param<'q>(params: &'q [QueryParam<'_>], name: &str) -> Option<&'q str> {
    params
        .iter()
        .find(|param| param.name == name)
        .map(|param| param.value.as_ref())
}

/// Decodes `%XX` escapes and `+` (a space), then encodes everything but unreserved characters as upper-case `%XX`.
/// Borrows when the element is already canonical, which the AWS SDKs' query strings are.
fn normalise_query_element(element: &str) -> Result<Cow<'_, str>, AuthError> {
    let bytes = element.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if is_unreserved(byte) {
            at += 1;
            continue;
        }
        if byte == b'%'
            && at + 2 < bytes.len()
            && let (Some(high), Some(low)) = (
                upper_hex_value(bytes[at + 1]),
                upper_hex_value(bytes[at + 2]),
            )
            && !is_unreserved(high << 4 | low)
        {
            at += 3;
            continue;
        }
        break;
    }
    if at == bytes.len() {
        return Ok(Cow::Borrowed(element));
    }

    // Everything before `at` is ASCII, so it ends on a character boundary.
    let mut out = String::with_capacity(bytes.len() + 8);
    out.push_str(&element[..at]);
    while at < bytes.len() {
        let byte = bytes[at];
        if is_unreserved(byte) {
            out.push(char::from(byte));
            at += 1;
        } else if byte == b'%' {
            if at + 2 >= bytes.len() {
                return Err(AuthError::MalformedQueryString(
                    MSG_INCOMPLETE_TRAILING_ESCAPE.to_owned(),
                ));
            }
            let (high, low) = (bytes[at + 1], bytes[at + 2]);
            let (Some(high_value), Some(low_value)) = (hex_value(high), hex_value(low)) else {
                return Err(AuthError::MalformedQueryString(format!(
                    "Illegal hex character in escape % pattern: %{}{}",
                    char::from(high),
                    char::from(low)
                )));
            };
            let decoded = high_value << 4 | low_value;
            if is_unreserved(decoded) {
                out.push(char::from(decoded));
            } else {
                out.extend(escape(decoded).map(char::from));
            }
            at += 3;
        } else if byte == b'+' {
            out.push_str("%20");
            at += 1;
        } else {
            out.extend(escape(byte).map(char::from));
            at += 1;
        }
    }
    Ok(Cow::Owned(out))
}

/// Parameters sorted by (encoded name, encoded value) — pairs, not `name=value` strings, which would order `a-b`
/// before `a` — joined as `name=value` with `&`. A presigned request's own `X-Amz-Signature` is left out.
fn write_canonical_query(sink: &mut impl Sink, params: &[QueryParam<'_>], presigned: bool) {
    if params.is_empty() {
        return;
    }
    let mut sorted: Vec<&QueryParam<'_>> = params
        .iter()
        .filter(|param| !(presigned && param.name == "X-Amz-Signature"))
        .collect();
    sorted.sort_unstable_by(|a, b| a.name.cmp(&b.name).then_with(|| a.value.cmp(&b.value)));
    for (index, param) in sorted.iter().enumerate() {
        if index > 0 {
            sink.put(b"&");
        }
        sink.put(param.name.as_bytes());
        sink.put(b"=");
        sink.put(param.value.as_bytes());
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Canonical headers
// ---------------------------------------------------------------------------------------------------------------

/// Where the canonicaliser reads header values.
pub(crate) trait HeaderSource {
    /// Calls `each` with every value of header `name` (lower-case), in request order; returns how many there were.
    fn each_value(&self, name: &str, each: impl FnMut(&[u8])) -> usize;
}

/// The request's headers, plus the URI authority standing in for a missing `Host` header: HTTP/2 carries the host in
/// `:authority`, which servers put into the URI, while clients sign it as `host`.
pub(crate) struct RequestHeaders<'a> {
    pub(crate) headers: &'a http::HeaderMap,
    pub(crate) authority_host: Option<&'a str>,
}

impl<'a> RequestHeaders<'a> {
    pub(crate) fn new(parts: &'a http::request::Parts) -> Self {
        let authority_host = if parts.headers.contains_key(http::header::HOST) {
            None
        } else {
            // Without any user information (`user@host`), which is never part of `Host`.
            parts
                .uri
                .authority()
                .map(|authority| authority.as_str().rsplit('@').next().unwrap_or_default())
        };
        Self {
            headers: &parts.headers,
            authority_host,
        }
    }
}

impl HeaderSource for RequestHeaders<'_> {
    fn each_value(&self, name: &str, mut each: impl FnMut(&[u8])) -> usize {
        let mut count = 0;
        for value in self.headers.get_all(name) {
            each(value.as_bytes());
            count += 1;
        }
        if count == 0
            && name == "host"
            && let Some(host) = self.authority_host
        {
            each(host.as_bytes());
            count = 1;
        }
        count
    }
}

/// Headers as a plain list (the AWS test suite's requests, which `http` cannot always represent).
impl HeaderSource for [(&str, &[u8])] {
    fn each_value(&self, name: &str, mut each: impl FnMut(&[u8])) -> usize {
        let mut count = 0;
        for (header, value) in self {
            if header.eq_ignore_ascii_case(name) {
                each(value);
                count += 1;
            }
        }
        count
    }
}

/// One line per signed header: `name:value[,value…]`. The list must be strictly sorted and lower-case, and every
/// header in it present — a conforming client can produce nothing else, and accepting anything else would let one
/// signature stand for several requests.
fn write_canonical_headers(
    sink: &mut impl Sink,
    headers: &(impl HeaderSource + ?Sized),
    signed_headers: &str,
) -> Result<(), Unrepresentable> {
    let mut previous: Option<&str> = None;
    for name in signed_headers.split(';') {
        if name.bytes().any(|b| b.is_ascii_uppercase()) || previous.is_some_and(|p| p >= name) {
            return Err(Unrepresentable);
        }
        previous = Some(name);
        sink.put(name.as_bytes());
        sink.put(b":");
        let mut first = true;
        let count = headers.each_value(name, |value| {
            if !first {
                sink.put(b",");
            }
            first = false;
            write_header_value(sink, value);
        });
        if count == 0 {
            return Err(Unrepresentable);
        }
        sink.put(b"\n");
    }
    Ok(())
}

/// Trims spaces at both ends and collapses inner runs of spaces to one (spaces only, as the AWS SDKs do).
fn write_header_value(sink: &mut impl Sink, value: &[u8]) {
    let value = trim_spaces(value);
    let mut start = 0;
    let mut at = 0;
    while at < value.len() {
        if value[at] == b' ' && value.get(at + 1) == Some(&b' ') {
            sink.put(&value[start..=at]);
            // The value is trimmed, so a non-space follows every run.
            while value[at] == b' ' {
                at += 1;
            }
            start = at;
        } else {
            at += 1;
        }
    }
    sink.put(&value[start..]);
}

fn trim_spaces(value: &[u8]) -> &[u8] {
    let start = value.iter().position(|&b| b != b' ').unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(start, |at| at + 1);
    &value[start..end]
}

/// A header value as the previous implementation read `Authorization`, `X-Amz-Date`, `Date` and
/// `X-Amz-Security-Token`: spaces trimmed and collapsed like a canonical value, bytes taken as Latin-1. Borrows in the
/// usual case (ASCII, nothing to collapse).
pub(crate) fn header_text(value: &http::HeaderValue) -> Cow<'_, str> {
    // `to_str` is one pass that both checks for visible ASCII and yields the `&str`.
    if let Ok(text) = value.to_str()
        && !text.starts_with(' ')
        && !text.ends_with(' ')
        && !text.contains("  ")
    {
        return Cow::Borrowed(text);
    }
    let value = value.as_bytes();
    // This may be a session token: the intermediate copy is wiped, and the result is sized up front (a Latin-1
    // byte is at most two UTF-8 bytes) so that growing it never leaves a stale copy behind.
    let mut normalised = Zeroizing::new(Vec::with_capacity(value.len()));
    write_header_value(&mut *normalised, value);
    let mut text = String::with_capacity(normalised.len() * 2);
    text.extend(normalised.iter().copied().map(char::from));
    Cow::Owned(text)
}

// ---------------------------------------------------------------------------------------------------------------
// Canonical request and string to sign
// ---------------------------------------------------------------------------------------------------------------

/// Everything the canonical request covers, borrowed from the request.
pub(crate) struct CanonicalRequest<'r, H: ?Sized> {
    pub(crate) method: &'r str,
    pub(crate) path: &'r CanonicalPath<'r>,
    pub(crate) query: &'r [QueryParam<'r>],
    pub(crate) presigned: bool,
    pub(crate) headers: &'r H,
    pub(crate) signed_headers: &'r str,
    /// Lower-case hex SHA-256 of the body actually received.
    pub(crate) payload_hash: &'r [u8; 64],
}

impl<H: HeaderSource + ?Sized> CanonicalRequest<'_, H> {
    pub(crate) fn write(&self, sink: &mut impl Sink) -> Result<(), Unrepresentable> {
        sink.put(self.method.as_bytes());
        sink.put(b"\n");
        self.path.write(sink);
        sink.put(b"\n");
        write_canonical_query(sink, self.query, self.presigned);
        sink.put(b"\n");
        write_canonical_headers(sink, self.headers, self.signed_headers)?;
        sink.put(b"\n");
        // Validated above as strictly sorted, lower-case names: exactly the canonical list.
        sink.put(self.signed_headers.as_bytes());
        sink.put(b"\n");
        sink.put(self.payload_hash);
        Ok(())
    }

    /// Hex SHA-256 of the canonical request, streamed into the hash without being materialised.
    pub(crate) fn sha256_hex(&self) -> Result<[u8; 64], Unrepresentable> {
        let mut hasher = Sha256::new();
        self.write(&mut hasher)?;
        Ok(hex_lower(&hasher.finalize().into()))
    }
}

/// `AWS4-HMAC-SHA256 \n time \n scope \n hex(SHA-256(canonical request))`, where the scope is the credential without
/// its access key id.
pub(crate) fn write_string_to_sign(
    sink: &mut impl Sink,
    request_time: &BasicTime,
    scope: &str,
    canonical_request_sha256: &[u8; 64],
) {
    sink.put(ALGORITHM.as_bytes());
    sink.put(b"\n");
    sink.put(request_time.as_str().as_bytes());
    sink.put(b"\n");
    sink.put(scope.as_bytes());
    sink.put(b"\n");
    sink.put(canonical_request_sha256);
}

// ---------------------------------------------------------------------------------------------------------------
// Hashes, keys, signatures
// ---------------------------------------------------------------------------------------------------------------

pub(crate) fn hex_lower(bytes: &[u8; 32]) -> [u8; 64] {
    let mut out = [0; 64];
    write_hex_lower(bytes, &mut out);
    out
}

fn write_hex_lower(bytes: &[u8; 32], out: &mut [u8; 64]) {
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX_LOWER[usize::from(byte >> 4)];
        pair[1] = HEX_LOWER[usize::from(byte & 0xf)];
    }
}

/// Lower-case hex SHA-256 of `data`, hashed in place.
pub(crate) fn sha256_hex(data: &[u8]) -> [u8; 64] {
    hex_lower(&Sha256::digest(data).into())
}

/// HMAC-SHA256 of `data`, written into `out` (the caller's wiped buffer) rather than returned, so no copy of the MAC
/// is left behind in a moved-from temporary.
fn hmac_sha256_into(key: &[u8], data: &[u8], out: &mut [u8; 32]) {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    Mac::update(&mut mac, data);
    mac.finalize_into(out.into());
}

/// `kSigning` = HMAC chain over date, region, service and `aws4_request`, starting from `"AWS4" + secret`, written into
/// `signing_key`. Every intermediate key lives in a buffer that is wiped on drop. `None` (and `signing_key` left
/// untouched) unless the secret has the AWS length.
pub(crate) fn derive_signing_key(
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
    signing_key: &mut [u8; 32],
) -> Option<()> {
    let secret = secret.as_bytes();
    if secret.len() != SECRET_ACCESS_KEY_LEN {
        return None;
    }
    let mut k_secret = Zeroizing::new([0; SECRET_ACCESS_KEY_LEN + 4]);
    k_secret[..4].copy_from_slice(b"AWS4");
    k_secret[4..].copy_from_slice(secret);
    let mut k_date = Zeroizing::new([0; 32]);
    hmac_sha256_into(&k_secret[..], date.as_bytes(), &mut k_date);
    let mut k_region = Zeroizing::new([0; 32]);
    hmac_sha256_into(&k_date[..], region.as_bytes(), &mut k_region);
    let mut k_service = Zeroizing::new([0; 32]);
    hmac_sha256_into(&k_region[..], service.as_bytes(), &mut k_service);
    hmac_sha256_into(&k_service[..], b"aws4_request", signing_key);
    Some(())
}

/// The hex signature of a string to sign, written into `hex_signature`, which should be wiped after use: when the
/// client's signature differs, it is a valid signature for the request received.
pub(crate) fn signature(
    signing_key: &[u8; 32],
    write_string_to_sign: impl FnOnce(&mut Hmac<Sha256>),
    hex_signature: &mut [u8; 64],
) {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(signing_key)
        .expect("HMAC accepts keys of any length");
    write_string_to_sign(&mut mac);
    let mut raw = Zeroizing::new([0; 32]);
    mac.finalize_into((&mut *raw).into());
    write_hex_lower(&raw, hex_signature);
}

// ---------------------------------------------------------------------------------------------------------------
// Request time
// ---------------------------------------------------------------------------------------------------------------

/// The request time in `YYYYMMDDTHHMMSSZ` (UTC), as it appears in the string to sign and in AWS's messages.
pub(crate) enum BasicTime {
    Fixed([u8; 16]),
    /// Years outside 0000–9999 (reachable only through an offset like `0000-01-01T00:00:00+01:00`) are formatted by
    /// `jiff`, as the messages always were.
    Other(String),
}

impl BasicTime {
    pub(crate) fn of(timestamp: Timestamp) -> Self {
        let civil = Offset::UTC.to_datetime(timestamp);
        let Ok(year) = u16::try_from(civil.year()) else {
            return Self::Other(timestamp.strftime("%Y%m%dT%H%M%SZ").to_string());
        };
        if year > 9999 {
            return Self::Other(timestamp.strftime("%Y%m%dT%H%M%SZ").to_string());
        }
        let mut text = *b"00000000T000000Z";
        let mut put = |at: usize, width: usize, mut value: u16| {
            for slot in text[at..at + width].iter_mut().rev() {
                *slot = b'0' + u8::try_from(value % 10).unwrap_or_default();
                value /= 10;
            }
        };
        let two = |value: i8| u16::try_from(value).unwrap_or_default();
        put(0, 4, year);
        put(4, 2, two(civil.month()));
        put(6, 2, two(civil.day()));
        put(9, 2, two(civil.hour()));
        put(11, 2, two(civil.minute()));
        put(13, 2, two(civil.second()));
        Self::Fixed(text)
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Fixed(text) => std::str::from_utf8(text).unwrap_or_default(),
            Self::Other(text) => text,
        }
    }

    /// `YYYYMMDD`: what the credential scope's date must equal.
    pub(crate) fn date(&self) -> &str {
        let text = self.as_str();
        text.split_once('T').map_or(text, |(date, _)| date)
    }
}

/// Parses the request time with the grammar the previous implementation accepted, for `X-Amz-Date` and for the
/// `Date` fallback alike: `YYYY[-]MM[-]DDTHH[:]MM[:]SS[(.|,)fraction](Z|±HH[:]MM)`. (A `Date` header in HTTP format
/// therefore does not parse, and the request is refused with AWS's "basic format" message, as before.)
pub(crate) fn parse_request_time(text: &str) -> Option<Timestamp> {
    let mut cursor = Cursor {
        bytes: text.as_bytes(),
        at: 0,
    };
    let year = cursor.digits(4)?;
    cursor.optional(b'-');
    let month = cursor.two_digits(1, 12)?;
    cursor.optional(b'-');
    let day = cursor.two_digits(1, 31)?;
    cursor.expect(b'T')?;
    let hour = cursor.two_digits(0, 23)?;
    cursor.optional(b':');
    let minute = cursor.two_digits(0, 59)?;
    cursor.optional(b':');
    // The grammar admits 60 and 61 (leap seconds); the calendar refuses them below, as chrono did.
    let second = cursor.two_digits(0, 61)?;
    let mut nanosecond = 0_i32;
    if cursor.optional(b'.') || cursor.optional(b',') {
        let start = cursor.at;
        while cursor.peek().is_some_and(|b| b.is_ascii_digit()) {
            cursor.at += 1;
        }
        let fraction = &cursor.bytes[start..cursor.at];
        if fraction.is_empty() {
            return None;
        }
        // Nanosecond precision; further digits are ignored.
        for place in 0..9 {
            let digit = fraction.get(place).map_or(0, |d| d - b'0');
            nanosecond = nanosecond * 10 + i32::from(digit);
        }
    }
    let offset_seconds = match cursor.next()? {
        b'Z' => 0,
        sign @ (b'+' | b'-') => {
            let hours = cursor.two_digits(0, 19)?;
            cursor.optional(b':');
            let minutes = cursor.two_digits(0, 59)?;
            let seconds = i32::from(hours) * 3600 + i32::from(minutes) * 60;
            if sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    if cursor.at != cursor.bytes.len() || second >= 60 {
        return None;
    }
    let datetime = DateTime::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        i8::try_from(second).ok()?,
        nanosecond,
    )
    .ok()?;
    Offset::from_seconds(offset_seconds)
        .ok()?
        .to_timestamp(datetime)
        .ok()
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn optional(&mut self, byte: u8) -> bool {
        let present = self.peek() == Some(byte);
        if present {
            self.at += 1;
        }
        present
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.optional(byte).then_some(())
    }

    fn digits(&mut self, count: usize) -> Option<u16> {
        let digits = self.bytes.get(self.at..self.at + count)?;
        let mut value = 0_u16;
        for &digit in digits {
            if !digit.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u16::from(digit - b'0');
        }
        self.at += count;
        Some(value)
    }

    fn two_digits(&mut self, min: u16, max: u16) -> Option<u16> {
        self.digits(2).filter(|value| (min..=max).contains(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical_path(path: &str) -> Result<String, AuthError> {
        let mut out = Vec::new();
        CanonicalPath::parse(path)?.write(&mut out);
        Ok(String::from_utf8(out).unwrap())
    }

    fn canonical_query(query: &str, presigned: bool) -> Result<String, AuthError> {
        let mut out = Vec::new();
        write_canonical_query(&mut out, &parse_query(query)?, presigned);
        Ok(String::from_utf8(out).unwrap())
    }

    fn header_value(value: &str) -> String {
        let mut out = Vec::new();
        write_header_value(&mut out, value.as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn paths_are_normalised_then_encoded_once_more() {
        let cases = [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("/a", "/a"),
            ("/a/", "/a/"),
            ("//a//b//", "/a/b/"),
            ("/a/./b", "/a/b"),
            ("/a/.", "/a/"),
            ("/a/b/..", "/a/"),
            ("/a/..", "/"),
            ("/a/b/../c", "/a/c"),
            ("/./", "/"),
            ("/...", "/..."),
            ("/a%20b", "/a%2520b"),
            ("/a%2Fb", "/a%252Fb"),
            // An encoded dot is not a dot segment.
            ("/a/%2E%2E", "/a/%252E%252E"),
            ("/caf\u{e9}", "/caf%C3%A9"),
            ("/a b/~x", "/a%20b/~x"),
            ("/:@!$'()*+,;=", "/%3A%40%21%24%27%28%29%2A%2B%2C%3B%3D"),
        ];
        for (path, expected) in cases {
            assert_eq!(canonical_path(path).unwrap(), expected, "{path}");
        }
    }

    #[test]
    fn paths_above_the_root_or_relative_are_refused() {
        assert_eq!(
            canonical_path("/.."),
            Err(AuthError::InvalidUriPath(
                "Relative path entry '..' navigates above root: /..".to_owned()
            ))
        );
        assert_eq!(
            canonical_path("//a b//../.."),
            Err(AuthError::InvalidUriPath(
                "Relative path entry '..' navigates above root: /a%20b/../..".to_owned()
            ))
        );
        assert!(canonical_path("/./..").is_err());
        assert_eq!(
            canonical_path("*"),
            Err(AuthError::InvalidUriPath(
                "Path is not absolute: *".to_owned()
            ))
        );
    }

    #[test]
    fn query_is_decoded_reencoded_and_sorted_by_pairs() {
        let cases = [
            ("", ""),
            ("a=1", "a=1"),
            ("b=2&a=1", "a=1&b=2"),
            // (name, value) order: `a` sorts before `a-b`, although `a=` sorts after `a-`.
            ("a-b=2&a=1", "a=1&a-b=2"),
            ("a=2&a=1&a=10", "a=1&a=10&a=2"),
            ("x=a+b&y=a%20b&z=a%2Bb", "x=a%20b&y=a%20b&z=a%2Bb"),
            ("n=%7e%41%2f%2F", "n=~A%2F%2F"),
            ("flag&&=v&k=", "=v&flag=&k="),
            ("k=a=b", "k=a%3Db"),
            ("k=caf\u{e9}", "k=caf%C3%A9"),
            ("K=1&k=1", "K=1&k=1"),
        ];
        for (query, expected) in cases {
            assert_eq!(canonical_query(query, false).unwrap(), expected, "{query}");
        }
        assert_eq!(
            canonical_query("X-Amz-Signature=ab&a=1", false).unwrap(),
            "X-Amz-Signature=ab&a=1"
        );
        assert_eq!(
            canonical_query("X-Amz-Signature=ab&a=1", true).unwrap(),
            "a=1"
        );
    }

    #[test]
    fn canonical_query_elements_are_borrowed() {
        let params =
            parse_query("Action=GetCallerIdentity&X-Amz-Credential=AKID%2F20250101").unwrap();
        assert!(
            params
                .iter()
                .all(|p| matches!((&p.name, &p.value), (Cow::Borrowed(_), Cow::Borrowed(_))))
        );
    }

    #[test]
    fn malformed_query_escapes_are_refused() {
        let malformed = |message: &str| Err(AuthError::MalformedQueryString(message.to_owned()));
        assert_eq!(
            canonical_query("a=%4", false),
            malformed("Incomplete trailing escape % sequence")
        );
        assert_eq!(
            canonical_query("a%=1", false),
            malformed("Incomplete trailing escape % sequence")
        );
        assert_eq!(
            canonical_query("a=%zz", false),
            malformed("Illegal hex character in escape % pattern: %zz")
        );
        assert_eq!(
            canonical_query("a=%G1x", false),
            malformed("Illegal hex character in escape % pattern: %G1")
        );
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        assert_eq!(header_value("  a   b  c "), "a b c");
        assert_eq!(header_value("a\tb"), "a\tb");
        assert_eq!(header_value("   "), "");
        assert_eq!(header_value(""), "");
        assert_eq!(header_value("\"a   b   c\""), "\"a b c\"");
        let text =
            |bytes: &[u8]| header_text(&http::HeaderValue::from_bytes(bytes).unwrap()).into_owned();
        let plain = http::HeaderValue::from_static("plain value");
        assert!(matches!(header_text(&plain), Cow::Borrowed(_)));
        assert_eq!(text(b" a  b "), "a b");
        assert_eq!(text(b"caf\xe9"), "caf\u{e9}");
        assert_eq!(text(b"a\tb"), "a\tb");
    }

    #[test]
    fn signed_headers_must_be_sorted_lower_case_and_present() {
        let headers: &[(&str, &[u8])] = &[
            ("Host", b"example.com"),
            ("X-Amz-Date", b"20150830T123600Z"),
            ("My-Header", b" a "),
            ("my-header", b"b"),
        ];
        let write = |signed: &str| {
            let mut out = Vec::new();
            write_canonical_headers(&mut out, headers, signed)
                .map(|()| String::from_utf8(out).unwrap())
        };
        assert_eq!(
            write("host;my-header;x-amz-date").unwrap(),
            "host:example.com\nmy-header:a,b\nx-amz-date:20150830T123600Z\n"
        );
        for bad in [
            "x-amz-date;host",
            "host;host",
            "Host",
            "host;;x-amz-date",
            "host;content-type",
            "",
        ] {
            assert_eq!(write(bad), Err(Unrepresentable), "{bad}");
        }
    }

    #[test]
    fn request_time_grammar() {
        let at = |text: &str| text.parse::<Timestamp>().unwrap();
        let cases = [
            ("20150830T123600Z", "2015-08-30T12:36:00Z"),
            ("2015-08-30T12:36:00Z", "2015-08-30T12:36:00Z"),
            ("2015-0830T1236:00Z", "2015-08-30T12:36:00Z"),
            ("20150830T123600.5Z", "2015-08-30T12:36:00.5Z"),
            (
                "20150830T123600,123456789999Z",
                "2015-08-30T12:36:00.123456789Z",
            ),
            ("20150830T123600+0200", "2015-08-30T10:36:00Z"),
            ("20150830T123600-01:30", "2015-08-30T14:06:00Z"),
            ("20160229T000000Z", "2016-02-29T00:00:00Z"),
            ("00000101T000000Z", "0000-01-01T00:00:00Z"),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_request_time(text), Some(at(expected)), "{text}");
        }
        for text in [
            "",
            "yesterday",
            "20150830T123600",
            "20150830T123600z",
            "20150830t123600Z",
            " 20150830T123600Z",
            "20150830T123600Z ",
            "20150830T123660Z",
            "20150830T123661Z",
            "20150830T126000Z",
            "20150830T243600Z",
            "20151330T123600Z",
            "20150230T123600Z",
            "20150229T123600Z",
            "20150832T123600Z",
            "20150830T123600.Z",
            "20150830T123600+2000",
            "20150830T123600+0160",
            "2015-08-30 12:36:00Z",
            "Sun, 30 Aug 2015 12:36:00 GMT",
            "\u{661}\u{660}\u{661}\u{665}0830T123600Z",
        ] {
            assert_eq!(parse_request_time(text), None, "{text}");
        }
    }

    #[test]
    fn basic_time_matches_jiff_formatting() {
        for text in [
            "2015-08-30T12:36:00Z",
            "2025-11-06T13:26:08.999Z",
            "0001-01-01T00:00:00Z",
            "9999-12-30T21:59:59Z",
            "1969-12-31T23:59:59.5Z",
        ] {
            let timestamp: Timestamp = text.parse().unwrap();
            let basic = BasicTime::of(timestamp);
            assert!(matches!(basic, BasicTime::Fixed(_)));
            assert_eq!(
                basic.as_str(),
                timestamp.strftime("%Y%m%dT%H%M%SZ").to_string()
            );
            assert_eq!(basic.date(), timestamp.strftime("%Y%m%d").to_string());
        }
        let before_year_zero = parse_request_time("00000101T000000+0100").unwrap();
        let basic = BasicTime::of(before_year_zero);
        assert!(matches!(basic, BasicTime::Other(_)));
        assert_eq!(
            basic.as_str(),
            before_year_zero.strftime("%Y%m%dT%H%M%SZ").to_string()
        );
    }

    #[test]
    fn signing_key_matches_aws_example() {
        // AWS's documented example key (and scratchstack's test of it).
        let mut key = [0; 32];
        derive_signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20150830",
            "us-east-1",
            "example",
            &mut key,
        )
        .unwrap();
        assert_eq!(
            hex_lower(&key),
            *b"431cc9ef5876287dbb925d4ba4629f459002ad1d26b7c751601bb204e11718b8"
        );
        assert!(
            derive_signing_key("too-short", "20150830", "us-east-1", "iam", &mut key).is_none()
        );
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 2.
        let mut mac = [0; 32];
        hmac_sha256_into(b"Jefe", b"what do ya want for nothing?", &mut mac);
        assert_eq!(
            hex_lower(&mac),
            *b"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            sha256_hex(b""),
            *b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
