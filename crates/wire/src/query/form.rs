//! Query-protocol requests (companion spec §3.1): `application/x-www-form-urlencoded` parameters,
//! read into the generated request types member by member.
//!
//! Parameter naming, as botocore's query serializer writes it: `Name=value` for scalars,
//! `Parent.Child` for structure members, `Name.member.N` (1-based) for list items, `Name.entry.N.key` /
//! `Name.entry.N.value` for map entries, and `Name=` for an empty list. The generated `FromForm` impls
//! walk the model and ask a [`FormReader`] for exactly those keys, so unknown parameters are never
//! looked at (they are ignored, as AWS does).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Bound;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use zeroize::{Zeroize, Zeroizing};

use crate::codec::{Blob, EpochTime, SensitiveBlob, SensitiveString, Validate};

/// Why a Query request could not be turned into a valid typed request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryDecodeError {
    /// The body or URL query is not form-urlencoded UTF-8 (a bad `%` escape, invalid UTF-8):
    /// `MalformedQueryString` (400), the code the SigV4 layer uses for the same fault in the URL.
    #[error("{0}")]
    MalformedForm(&'static str),
    /// A value does not parse as its member's type (`MaxItems=abc`, `DurationSeconds=2147483648`):
    /// AWS answers `MalformedInput` (400), with the message below for an empty number and no message
    /// at all otherwise [AWS: STS `DurationSeconds` probes]. Empty here means "no message".
    #[error("{0}")]
    MalformedInput(&'static str),
    /// Model constraints failed: `ValidationError` (400) with the §1.6 message.
    #[error("{0}")]
    Validation(String),
}

impl QueryDecodeError {
    /// The Query-protocol error code (`<Code>`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedForm(_) => "MalformedQueryString",
            Self::MalformedInput(_) => "MalformedInput",
            Self::Validation(_) => "ValidationError",
        }
    }

    /// The message; empty when AWS sends none.
    pub fn message(&self) -> &str {
        match self {
            Self::MalformedForm(message) | Self::MalformedInput(message) => message,
            Self::Validation(message) => message,
        }
    }
}

/// The fixed `MalformedQueryString` / `MalformedInput` messages.
pub mod msg {
    pub const BAD_ESCAPE_BODY: &str = "The request body is not valid form-urlencoded data: '%' must be followed by two hexadecimal digits.";
    pub const NOT_UTF8_BODY: &str = "The request body is not valid UTF-8 once percent-decoded.";
    pub const BAD_ESCAPE_QUERY: &str = "The query string is not valid form-urlencoded data: '%' must be followed by two hexadecimal digits.";
    pub const NOT_UTF8_QUERY: &str = "The query string is not valid UTF-8 once percent-decoded.";
    /// An empty value for an integer member [AWS, verbatim].
    pub const MISSING_NUMBER: &str = "missing value for decimal type";
    /// Any other unparseable value: AWS sends no message.
    pub const NONE: &str = "";
}

// ---------------------------------------------------------------------------------------------------
// The parameter set
// ---------------------------------------------------------------------------------------------------

/// The decoded parameters of one request: URL query and body merged, each name once.
///
/// Values are zeroized on drop (a future operation may carry a password); `Debug` prints names only.
#[derive(Default)]
pub struct FormParams {
    params: BTreeMap<String, Zeroizing<String>>,
}

impl FormParams {
    /// The value of parameter `name` (exact, case-sensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(|value| value.as_str())
    }

    /// `Action`: the operation name.
    pub fn action(&self) -> Option<&str> {
        self.get("Action")
    }

    /// `Version`: the API version the client speaks.
    pub fn version(&self) -> Option<&str> {
        self.get("Version")
    }

    pub fn len(&self) -> usize {
        self.params.len()
    }

    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Parameter names in byte order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.params.keys().map(String::as_str)
    }

    /// Builds a parameter set from already decoded pairs (first occurrence wins, as on the wire).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> FormParams {
        let mut form = FormParams::default();
        for (name, value) in pairs {
            form.insert(name.to_owned(), Zeroizing::new(value.to_owned()));
        }
        form
    }

    fn insert(&mut self, name: String, value: Zeroizing<String>) {
        if !name.is_empty() {
            // A repeated parameter keeps its first value [AWS: `Action=A&Action=B` runs A,
            // `DurationSeconds=899&DurationSeconds=900` fails on 899].
            self.params.entry(name).or_insert(value);
        }
    }

    /// The parameters strictly after `prefix` in byte order that start with it.
    fn with_prefix<'s>(&'s self, prefix: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.params
            .range::<str, _>((Bound::Excluded(prefix), Bound::Unbounded))
            .map(|(name, _)| name.as_str())
            .take_while(move |name| name.starts_with(prefix))
    }
}

impl fmt::Debug for FormParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.params.keys()).finish()
    }
}

/// Decodes a Query request's parameters: the URL query string (without `?`), then the form body.
///
/// `+` means a space; names and values are percent-decoded and must be UTF-8. A name given twice keeps
/// its first value, and the URL query comes first (so it wins over the body). Pairs without `=` are
/// names with an empty value; pairs with an empty name are ignored. Never panics.
pub fn decode_form(body: &[u8], query: Option<&str>) -> Result<FormParams, QueryDecodeError> {
    let mut form = FormParams::default();
    if let Some(query) = query {
        form.extend(query.as_bytes(), msg::BAD_ESCAPE_QUERY, msg::NOT_UTF8_QUERY)?;
    }
    form.extend(body, msg::BAD_ESCAPE_BODY, msg::NOT_UTF8_BODY)?;
    Ok(form)
}

impl FormParams {
    fn extend(
        &mut self,
        raw: &[u8],
        bad_escape: &'static str,
        not_utf8: &'static str,
    ) -> Result<(), QueryDecodeError> {
        for pair in raw.split(|b| *b == b'&').filter(|pair| !pair.is_empty()) {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &[][..]),
            };
            let name = percent_decode(name, bad_escape, not_utf8)?;
            let value = percent_decode(value, bad_escape, not_utf8)?;
            self.insert(name, Zeroizing::new(value));
        }
        Ok(())
    }
}

/// Form-urlencoded decoding into a zeroizing buffer sized up front (decoding only shrinks), so no
/// reallocation leaves a copy of a value behind.
fn percent_decode(
    raw: &[u8],
    bad_escape: &'static str,
    not_utf8: &'static str,
) -> Result<String, QueryDecodeError> {
    let mut out = Zeroizing::new(Vec::with_capacity(raw.len()));
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.next().and_then(|b| hex_digit(*b));
                let lo = bytes.next().and_then(|b| hex_digit(*b));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(QueryDecodeError::MalformedForm(bad_escape)),
                }
            }
            _ => out.push(b),
        }
    }
    match String::from_utf8(std::mem::take(&mut *out)) {
        Ok(text) => Ok(text),
        Err(err) => {
            err.into_bytes().zeroize();
            Err(QueryDecodeError::MalformedForm(not_utf8))
        }
    }
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------------
// Reading typed values (used by generated code)
// ---------------------------------------------------------------------------------------------------

/// A model structure read from form parameters; implemented by generated code.
pub trait FromForm: Sized {
    /// Reads the members found under the reader's current key (the request itself at the root).
    fn read(form: &mut FormReader<'_>) -> Result<Self, QueryDecodeError>;
}

/// A scalar member value (string, number, boolean, timestamp, blob) parsed from its text.
pub trait FormScalar: Sized {
    fn parse(text: &str) -> Result<Self, QueryDecodeError>;
}

/// Walks a [`FormParams`] along the model: holds the key of the value being read (`Tags.member.2`)
/// and is handed down to the readers of its parts.
pub struct FormReader<'a> {
    form: &'a FormParams,
    key: String,
}

impl<'a> FormReader<'a> {
    /// A reader positioned at the request itself.
    pub fn new(form: &'a FormParams) -> FormReader<'a> {
        FormReader {
            form,
            key: String::with_capacity(64),
        }
    }

    /// Runs `read` with `segment` appended to the current key, then restores the key.
    fn within<T>(&mut self, segment: &str, read: impl FnOnce(&mut Self) -> T) -> T {
        let len = self.key.len();
        if len > 0 {
            self.key.push('.');
        }
        self.key.push_str(segment);
        let result = read(self);
        self.key.truncate(len);
        result
    }

    /// Reads member `name` (its serialized name) of the structure at the current key.
    pub fn member<T>(
        &mut self,
        name: &str,
        read: impl FnOnce(&mut Self) -> Result<Option<T>, QueryDecodeError>,
    ) -> Result<Option<T>, QueryDecodeError> {
        self.within(name, read)
    }

    /// A scalar: the parameter whose name is exactly the current key.
    pub fn scalar<T: FormScalar>(&mut self) -> Result<Option<T>, QueryDecodeError> {
        match self.form.get(&self.key) {
            None => Ok(None),
            Some(text) => T::parse(text).map(Some),
        }
    }

    /// A nested structure: present when any parameter lies below the current key.
    pub fn structure<T: FromForm>(&mut self) -> Result<Option<T>, QueryDecodeError> {
        let prefix = format!("{}.", self.key);
        if self.form.with_prefix(&prefix).next().is_none() {
            return Ok(None);
        }
        T::read(self).map(Some)
    }

    /// A list: items at `<key>.<item_name>.<N>`, in ascending `N` (1-based; gaps are skipped, other
    /// spellings of `N` such as `01` are unknown parameters). `<key>=` with an empty value is the empty
    /// list, which is how botocore sends one.
    pub fn list<T>(
        &mut self,
        item_name: &str,
        mut read_item: impl FnMut(&mut Self) -> Result<Option<T>, QueryDecodeError>,
    ) -> Result<Option<Vec<T>>, QueryDecodeError> {
        let indexes = self.indexes(item_name);
        let mut items = Vec::with_capacity(indexes.len());
        for index in indexes {
            let item = self.within(item_name, |form| {
                form.within(&index.to_string(), &mut read_item)
            })?;
            items.extend(item);
        }
        Ok(self.collection(items, Vec::is_empty))
    }

    /// A map: entries at `<key>.<entry_name>.<N>.<key_name>` / `.<value_name>`. An entry without a key
    /// or without a value is skipped; a repeated key keeps its first value.
    pub fn map<K: Ord, V>(
        &mut self,
        entry_name: &str,
        key_name: &str,
        value_name: &str,
        mut read_key: impl FnMut(&mut Self) -> Result<Option<K>, QueryDecodeError>,
        mut read_value: impl FnMut(&mut Self) -> Result<Option<V>, QueryDecodeError>,
    ) -> Result<Option<BTreeMap<K, V>>, QueryDecodeError> {
        let mut map = BTreeMap::new();
        for index in self.indexes(entry_name) {
            let entry = self.within(entry_name, |form| {
                form.within(&index.to_string(), |form| {
                    let key = form.within(key_name, &mut read_key)?;
                    let value = form.within(value_name, &mut read_value)?;
                    Ok::<_, QueryDecodeError>(key.zip(value))
                })
            })?;
            if let Some((key, value)) = entry {
                map.entry(key).or_insert(value);
            }
        }
        Ok(self.collection(map, BTreeMap::is_empty))
    }

    /// A list or map that was read: absent if it has no items and was not sent as `<key>=`.
    fn collection<C>(&self, items: C, is_empty: impl Fn(&C) -> bool) -> Option<C> {
        if is_empty(&items) && self.form.get(&self.key) != Some("") {
            None
        } else {
            Some(items)
        }
    }

    /// The distinct item numbers `N` of parameters named `<key>.<item_name>.<N>[.…]`, ascending.
    fn indexes(&self, item_name: &str) -> BTreeSet<usize> {
        let prefix = if self.key.is_empty() {
            format!("{item_name}.")
        } else {
            format!("{}.{item_name}.", self.key)
        };
        self.form
            .with_prefix(&prefix)
            .filter_map(|name| {
                let rest = &name[prefix.len()..];
                let number = rest.split('.').next().unwrap_or(rest);
                let canonical = !number.is_empty()
                    && !number.starts_with('0')
                    && number.bytes().all(|b| b.is_ascii_digit());
                if canonical { number.parse().ok() } else { None }
            })
            .collect()
    }
}

impl FormScalar for String {
    fn parse(text: &str) -> Result<Self, QueryDecodeError> {
        Ok(text.to_owned())
    }
}

impl FormScalar for SensitiveString {
    fn parse(text: &str) -> Result<Self, QueryDecodeError> {
        Ok(SensitiveString::new(text.to_owned()))
    }
}

/// Decimal integers as AWS reads them: an optional sign and leading zeros are fine (`+900`, `0900`
/// [AWS]); fractions, blanks and out-of-range values are `MalformedInput`.
fn parse_integer<T: std::str::FromStr>(text: &str) -> Result<T, QueryDecodeError> {
    if text.is_empty() {
        return Err(QueryDecodeError::MalformedInput(msg::MISSING_NUMBER));
    }
    text.parse()
        .map_err(|_| QueryDecodeError::MalformedInput(msg::NONE))
}

impl FormScalar for i32 {
    fn parse(text: &str) -> Result<Self, QueryDecodeError> {
        parse_integer(text)
    }
}

impl FormScalar for i64 {
    fn parse(text: &str) -> Result<Self, QueryDecodeError> {
        parse_integer(text)
    }
}

impl FormScalar for bool {
    /// `true` / `false` in any case, what botocore sends; anything else is `MalformedInput` [?].
    fn parse(text: &str) -> Result<Self, QueryDecodeError> {
        if text.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if text.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            Err(QueryDecodeError::MalformedInput(msg::NONE))
        }
    }
}

impl FormScalar for EpochTime {
    /// ISO 8601 / RFC 3339 with an offset (`2025-01-01T12:00:00Z`, `…T12:00:00.123456+02:00`), as
    /// botocore's query serializer writes timestamps; sub-millisecond digits are truncated.
    fn parse(text: &str) -> Result<Self, QueryDecodeError> {
        text.parse::<jiff::Timestamp>()
            .map(|timestamp| EpochTime::from_millis(timestamp.as_millisecond()))
            .map_err(|_| QueryDecodeError::MalformedInput(msg::NONE))
    }
}

fn decode_base64(text: &str) -> Result<Zeroizing<Vec<u8>>, QueryDecodeError> {
    let mut out = Zeroizing::new(vec![0u8; base64::decoded_len_estimate(text.len())]);
    let written = BASE64
        .decode_slice(text.as_bytes(), &mut out[..])
        .map_err(|_| QueryDecodeError::MalformedInput(msg::NONE))?;
    out.truncate(written);
    Ok(out)
}

impl FormScalar for Blob {
    fn parse(text: &str) -> Result<Self, QueryDecodeError> {
        let mut bytes = decode_base64(text)?;
        Ok(Blob::new(std::mem::take(&mut *bytes)))
    }
}

impl FormScalar for SensitiveBlob {
    fn parse(text: &str) -> Result<Self, QueryDecodeError> {
        decode_base64(text).map(SensitiveBlob::from)
    }
}

/// Reads and validates a whole request of type `T` from `form` (`Action`, `Version` and unknown
/// parameters are ignored). Type errors stop at the first one, as AWS deserializes before it
/// validates; constraint violations are all reported, in member order.
pub fn decode<T: FromForm + Validate>(form: &FormParams) -> Result<T, QueryDecodeError> {
    let value = T::read(&mut FormReader::new(form))?;
    value
        .validate()
        .map_err(|errors| QueryDecodeError::Validation(errors.to_string()))?;
    Ok(value)
}
