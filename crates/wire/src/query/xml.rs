//! Query-protocol responses (companion spec §3.2): XML written directly from the generated output
//! types.
//!
//! The layout copies AWS byte for byte where it is known (one element per line, two-space indent,
//! trailing newline [AWS: STS `GetCallerIdentity`]); parsers do not care, but raw-protocol comparisons
//! are easier. Members appear in model order, which is not always AWS's order (AWS puts `Arn` first in
//! `GetCallerIdentityResult`); no parser depends on it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use zeroize::Zeroizing;

use crate::codec::{Blob, EpochTime, SensitiveBlob, SensitiveString, ZeroizingWriter};

/// `Content-Type` of every Query-protocol response, success or error.
pub const CONTENT_TYPE: &str = "text/xml";

/// A model structure written as XML elements (one per present member); implemented by generated code.
pub trait XmlStructure {
    fn write_members(&self, w: &mut XmlWriter);
}

/// A scalar written as one element with text content.
pub trait XmlValue {
    fn write_xml(&self, w: &mut XmlWriter, name: &str);
}

/// The output of an operation; implemented by generated code for every `<Op>Response`, including
/// the empty ones generated for operations the model gives no output.
pub trait QueryOutput: XmlStructure {
    /// The operation name; the root element is `<{OPERATION_NAME}Response>`.
    const OPERATION_NAME: &'static str;
    /// The service's `xmlns`.
    const XML_NAMESPACE: &'static str;
    /// The model's `resultWrapper` (`<Op>Result`); `None` for operations without output, whose
    /// response holds only `ResponseMetadata`.
    const RESULT_WRAPPER: Option<&'static str>;
}

/// Renders a success response (§3.2):
/// `<{Op}Response xmlns=…><{Op}Result>…</{Op}Result><ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></{Op}Response>`.
///
/// The bytes may contain secret material (`CreateAccessKey`, `AssumeRole`, `GetSessionToken`): the
/// caller should zeroize them once written. Buffers outgrown while encoding are zeroized here.
pub fn encode_response<T: QueryOutput + ?Sized>(output: &T, request_id: &str) -> Vec<u8> {
    let mut w = XmlWriter::new();
    let mut root = String::with_capacity(T::OPERATION_NAME.len() + 8);
    root.push_str(T::OPERATION_NAME);
    root.push_str("Response");
    let start = w.open_root(&root, T::XML_NAMESPACE);
    if let Some(wrapper) = T::RESULT_WRAPPER {
        w.structure(wrapper, output);
    }
    w.response_metadata(request_id);
    w.close(&root, start);
    w.finish()
}

/// Writes indented XML into a zeroizing buffer. Element names come from the model and are written
/// as given; text is escaped.
pub struct XmlWriter {
    out: ZeroizingWriter,
    depth: usize,
}

/// Where an open element's content starts, so an element left empty can become `<Name/>`.
#[derive(Clone, Copy)]
pub(crate) struct Open(usize);

impl XmlWriter {
    pub(crate) fn new() -> XmlWriter {
        XmlWriter {
            out: ZeroizingWriter(Vec::with_capacity(1024)),
            depth: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    fn new_line(&mut self) {
        if !self.out.0.is_empty() {
            self.push(b"\n");
        }
        for _ in 0..self.depth {
            self.push(b"  ");
        }
    }

    pub(crate) fn open_root(&mut self, name: &str, namespace: &str) -> Open {
        self.new_line();
        self.push(b"<");
        self.push(name.as_bytes());
        self.push(b" xmlns=\"");
        escape(&mut self.out, namespace, true);
        self.push(b"\">");
        self.depth += 1;
        Open(self.out.0.len())
    }

    pub(crate) fn open(&mut self, name: &str) -> Open {
        self.new_line();
        self.push(b"<");
        self.push(name.as_bytes());
        self.push(b">");
        self.depth += 1;
        Open(self.out.0.len())
    }

    pub(crate) fn close(&mut self, name: &str, start: Open) {
        self.depth -= 1;
        if self.out.0.len() == start.0 {
            // Nothing was written inside: `<Name>` becomes `<Name/>` (an empty list or structure).
            self.out.0.truncate(start.0 - 1);
            self.push(b"/>");
        } else {
            self.new_line();
            self.push(b"</");
            self.push(name.as_bytes());
            self.push(b">");
        }
    }

    /// `<ResponseMetadata><RequestId>…</RequestId></ResponseMetadata>`.
    pub(crate) fn response_metadata(&mut self, request_id: &str) {
        let start = self.open("ResponseMetadata");
        self.text("RequestId", request_id);
        self.close("ResponseMetadata", start);
    }

    /// The finished document, newline-terminated like AWS's.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.push(b"\n");
        std::mem::take(&mut self.out.0)
    }

    /// `<name>text</name>` with `text` escaped.
    pub fn text(&mut self, name: &str, text: &str) {
        self.new_line();
        self.push(b"<");
        self.push(name.as_bytes());
        self.push(b">");
        escape(&mut self.out, text, false);
        self.push(b"</");
        self.push(name.as_bytes());
        self.push(b">");
    }

    /// A scalar member.
    pub fn value<T: XmlValue + ?Sized>(&mut self, name: &str, value: &T) {
        value.write_xml(self, name);
    }

    /// A string member sent URL-encoded (RFC 3986: everything but `A-Z a-z 0-9 - . _ ~` as `%XX`):
    /// IAM's policy documents (spec §5.2). botocore URL-decodes and JSON-parses them back
    /// (`json_decode_policies`); the Rust SDK hands the encoded text to the caller.
    pub fn url_encoded<T: AsRef<str> + ?Sized>(&mut self, name: &str, value: &T) {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        self.new_line();
        self.push(b"<");
        self.push(name.as_bytes());
        self.push(b">");
        // The encoding leaves only unreserved ASCII and `%`, so no XML escaping is needed.
        for &b in value.as_ref().as_bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                self.push(&[b]);
            } else {
                self.push(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
        }
        self.push(b"</");
        self.push(name.as_bytes());
        self.push(b">");
    }

    /// A structure member: its present members inside `<name>…</name>` (`<name/>` if none).
    pub fn structure<T: XmlStructure + ?Sized>(&mut self, name: &str, value: &T) {
        let start = self.open(name);
        value.write_members(self);
        self.close(name, start);
    }

    /// A (non-flattened) list: `<name><member>…</member>…</name>`; `<name/>` when empty.
    pub fn list<T>(
        &mut self,
        name: &str,
        item_name: &str,
        items: &[T],
        mut write_item: impl FnMut(&mut Self, &str, &T),
    ) {
        let start = self.open(name);
        for item in items {
            write_item(self, item_name, item);
        }
        self.close(name, start);
    }

    /// A (non-flattened) map: `<name><entry><key>…</key><value>…</value></entry>…</name>`.
    #[allow(clippy::too_many_arguments)] // mirrors the model's four names; called by generated code
    pub fn map<K, V>(
        &mut self,
        name: &str,
        entry_name: &str,
        key_name: &str,
        value_name: &str,
        map: &BTreeMap<K, V>,
        mut write_key: impl FnMut(&mut Self, &str, &K),
        mut write_value: impl FnMut(&mut Self, &str, &V),
    ) {
        let start = self.open(name);
        for (key, value) in map {
            let entry = self.open(entry_name);
            write_key(self, key_name, key);
            write_value(self, value_name, value);
            self.close(entry_name, entry);
        }
        self.close(name, start);
    }
}

/// XML text (or, with `attribute`, a double-quoted attribute value).
///
/// Characters XML 1.0 cannot carry at all (C0 controls other than tab, newline and carriage return;
/// U+FFFE, U+FFFF) become U+FFFD: they can only come from echoed request input, and a well-formed
/// document matters more than those bytes. `\r` is written as `&#xD;` so parsers do not turn it into
/// `\n`.
pub(crate) fn escape(out: &mut ZeroizingWriter, text: &str, attribute: bool) {
    let mut plain = 0;
    for (at, c) in text.char_indices() {
        let replacement: &str = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' if attribute => "&quot;",
            '\r' => "&#xD;",
            '\t' | '\n' => continue,
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => "\u{fffd}",
            _ => continue,
        };
        out.extend_from_slice(&text.as_bytes()[plain..at]);
        out.extend_from_slice(replacement.as_bytes());
        plain = at + c.len_utf8();
    }
    out.extend_from_slice(&text.as_bytes()[plain..]);
}

impl XmlValue for str {
    fn write_xml(&self, w: &mut XmlWriter, name: &str) {
        w.text(name, self);
    }
}

impl XmlValue for String {
    fn write_xml(&self, w: &mut XmlWriter, name: &str) {
        w.text(name, self);
    }
}

impl XmlValue for SensitiveString {
    fn write_xml(&self, w: &mut XmlWriter, name: &str) {
        w.text(name, self.expose());
    }
}

impl XmlValue for bool {
    fn write_xml(&self, w: &mut XmlWriter, name: &str) {
        w.text(name, if *self { "true" } else { "false" });
    }
}

impl XmlValue for i32 {
    fn write_xml(&self, w: &mut XmlWriter, name: &str) {
        w.text(name, &self.to_string());
    }
}

impl XmlValue for i64 {
    fn write_xml(&self, w: &mut XmlWriter, name: &str) {
        w.text(name, &self.to_string());
    }
}

impl XmlValue for EpochTime {
    fn write_xml(&self, w: &mut XmlWriter, name: &str) {
        w.text(name, &iso8601(*self));
    }
}

impl XmlValue for Blob {
    fn write_xml(&self, w: &mut XmlWriter, name: &str) {
        w.text(name, &BASE64.encode(self.as_bytes()));
    }
}

impl XmlValue for SensitiveBlob {
    fn write_xml(&self, w: &mut XmlWriter, name: &str) {
        let mut text = Zeroizing::new(String::with_capacity(self.expose().len().div_ceil(3) * 4));
        BASE64.encode_string(self.expose(), &mut text);
        w.text(name, &text);
    }
}

/// ISO 8601 in UTC as AWS writes it: `2025-01-01T12:00:00Z`, with milliseconds only when there are
/// some (`2025-01-01T12:00:00.250Z`). Instants beyond jiff's range (±9999 years) are clamped.
pub(crate) fn iso8601(time: EpochTime) -> String {
    let millis = time.as_millis();
    let timestamp = jiff::Timestamp::from_millisecond(millis).unwrap_or(if millis < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    });
    let dt = jiff::tz::Offset::UTC.to_datetime(timestamp);
    let mut out = String::with_capacity(24);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    let ms = dt.subsec_nanosecond() / 1_000_000;
    if ms != 0 {
        let _ = write!(out, ".{ms:03}");
    }
    out.push('Z');
    out
}
