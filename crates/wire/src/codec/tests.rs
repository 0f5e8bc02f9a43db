use super::*;

fn to_json<T: Serialize>(value: &T) -> String {
    String::from_utf8(encode(value)).unwrap()
}

fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    serde_json::from_str(text)
}

#[test]
fn sensitive_string_is_redacted_and_moves_out_without_copying() {
    let secret = SensitiveString::new("hunter2".to_owned());
    assert_eq!(format!("{secret:?}"), "[REDACTED]");
    assert_eq!(format!("{:?}", Some(secret.clone())), "Some([REDACTED])");
    let address = secret.expose().as_ptr();
    let inner = secret.into_inner();
    assert_eq!(inner, "hunter2");
    assert_eq!(inner.as_ptr(), address);
}

#[test]
fn sensitive_string_json_round_trip() {
    let value: SensitiveString = from_json(r#""a\"b\u00e9""#).unwrap();
    assert_eq!(value.expose(), "a\"bé");
    assert_eq!(to_json(&value), r#""a\"bé""#);
    assert!(from_json::<SensitiveString>("5").is_err());
}

#[test]
fn sensitive_blob_base64_round_trip_of_non_utf8_bytes() {
    let blob = SensitiveBlob::new(vec![0x00, 0x01, 0x02, 0xff]);
    assert_eq!(to_json(&blob), r#""AAEC/w==""#);
    let back: SensitiveBlob = from_json(r#""AAEC/w==""#).unwrap();
    assert_eq!(back.expose(), [0x00, 0x01, 0x02, 0xff]);
    assert_eq!(format!("{back:?}"), "[REDACTED]");
    let address = back.expose().as_ptr();
    let inner = back.into_inner();
    assert_eq!(inner.as_ptr(), address);
}

#[test]
fn blob_base64_round_trip() {
    let blob = Blob::new(vec![0x00, 0x01, 0x02, 0xff]);
    assert_eq!(to_json(&blob), r#""AAEC/w==""#);
    let back: Blob = from_json(r#""AAEC/w==""#).unwrap();
    assert_eq!(back, blob);
    let empty: Blob = from_json(r#""""#).unwrap();
    assert!(empty.as_bytes().is_empty());
}

#[test]
fn invalid_base64_is_a_deserialization_error() {
    // Unpadded, bad characters, non-canonical trailing bits, URL-safe alphabet.
    for text in [r#""AAEC/w""#, r#""****""#, r#""AAEC/x==""#, r#""AAEC_w==""#] {
        let err = from_json::<SensitiveBlob>(text).unwrap_err();
        assert!(
            err.to_string().starts_with(msg::INVALID_BASE64),
            "{text}: {err}"
        );
        assert!(from_json::<Blob>(text).is_err(), "{text}");
    }
}

#[test]
fn epoch_time_serializes_as_seconds_with_up_to_three_fraction_digits() {
    let cases = [
        (1_523_477_145_713, "1523477145.713"),
        (1_523_923_200_000, "1523923200"),
        (1_523_477_145_710, "1523477145.71"),
        (1_523_477_145_001, "1523477145.001"),
        (0, "0"),
        (1, "0.001"),
        (-1_500, "-1.5"),
        (253_402_300_799_999, "253402300799.999"),
    ];
    for (millis, expected) in cases {
        assert_eq!(
            to_json(&EpochTime::from_millis(millis)),
            expected,
            "{millis}"
        );
    }
}

#[test]
fn epoch_time_parses_integers_decimals_and_exponents() {
    let cases = [
        ("1523923200", 1_523_923_200_000),
        ("1523477145.713", 1_523_477_145_713),
        ("1.523477145713E9", 1_523_477_145_713),
        ("1.523477145713e+9", 1_523_477_145_713),
        ("15234771457.13e-1", 1_523_477_145_713),
        ("-1.5", -1_500),
        ("0", 0),
    ];
    for (text, millis) in cases {
        let time: EpochTime = from_json(text).unwrap();
        assert_eq!(time.as_millis(), millis, "{text}");
    }
    for text in [
        "\"1523923200\"",
        "1e300",
        "18446744073709551615",
        "true",
        "null",
    ] {
        assert!(from_json::<EpochTime>(text).is_err(), "{text}");
    }
}

#[test]
fn epoch_time_round_trips() {
    for millis in [1_523_477_145_713, -86_400_001, 4_102_444_800_123, 7] {
        let time = EpochTime::from_millis(millis);
        let back: EpochTime = from_json(&to_json(&time)).unwrap();
        assert_eq!(back, time);
    }
}

#[test]
fn path_rendering() {
    let root = Path::Root;
    let tags = Path::Member(&root, "tags");
    let item = Path::Item(&tags, 0);
    let key = Path::Member(&item, "key");
    assert_eq!(tags.to_string(), "tags");
    assert_eq!(key.to_string(), "tags.1.member.key");
    let filters = Path::Member(&root, "filters");
    let second = Path::Item(&filters, 1);
    let values = Path::Member(&second, "values");
    assert_eq!(
        Path::Item(&values, 2).to_string(),
        "filters.2.member.values.3.member"
    );
}

#[test]
fn echo_lists_java_style() {
    let mut out = String::new();
    vec!["a".to_owned(), "b".to_owned()].echo(&mut out);
    assert_eq!(out, "[a, b]");
    out.clear();
    Vec::<String>::new().echo(&mut out);
    assert_eq!(out, "[]");
    out.clear();
    let mut structure = EchoStructure::new(&mut out);
    structure.member("Key", Some("k"));
    structure.member("Skipped", None::<&str>);
    structure.member("Values", Some(&["v".to_owned()][..]));
    structure.finish();
    assert_eq!(out, "{Key=k, Values=[v]}");
}

#[test]
fn validation_message_grammar() {
    let root = Path::Root;
    let mut errors = ValidationErrors::default();
    errors.missing(&Path::Member(&root, "secretId"));
    assert_eq!(
        errors.to_string(),
        "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: \
         Member must not be null"
    );
    errors.length(
        &Path::Member(&root, "name"),
        Some("abc"),
        3,
        Some(1),
        Some(2),
    );
    errors.length(
        &Path::Member(&root, "secretString"),
        None::<&str>,
        0,
        Some(1),
        None,
    );
    errors.range(&Path::Member(&root, "n"), Some(&0i64), 0, Some(1), Some(5));
    errors.one_of(&Path::Member(&root, "e"), Some("x"), "x", &["a", "b"]);
    assert_eq!(errors.len(), 5);
    assert_eq!(
        errors.to_string(),
        "5 validation errors detected: \
         Value null at 'secretId' failed to satisfy constraint: Member must not be null; \
         Value 'abc' at 'name' failed to satisfy constraint: Member must have length less than or equal to 2; \
         Value at 'secretString' failed to satisfy constraint: Member must have length greater than or equal to 1; \
         Value '0' at 'n' failed to satisfy constraint: Member must have value greater than or equal to 1; \
         Value 'x' at 'e' failed to satisfy constraint: Member must satisfy enum value set: [a, b]"
    );
}

#[test]
fn pattern_matches_whole_value_only() {
    static DIGITS: Pattern = Pattern::new("[0-9]+h", || compile_pattern("^(?:[0-9]+h)$"));
    assert!(DIGITS.matches("12h"));
    assert!(!DIGITS.matches("x12h"));
    assert!(!DIGITS.matches("12hx"));
    assert!(!DIGITS.matches("12h\n"));
    assert_eq!(DIGITS.source(), "[0-9]+h");
}

#[test]
fn encode_matches_serde_json_and_survives_growth() {
    let big = SensitiveString::new("x\"y".repeat(50_000));
    let expected = serde_json::to_vec(&big).unwrap();
    assert_eq!(encode(&big), expected);
    assert_eq!(encode(&Vec::<u8>::new()), b"[]");
}

#[test]
fn writer_zeroizes_outgrown_buffers_before_release() {
    use std::io::Write as _;
    let mut writer = ZeroizingWriter(Vec::with_capacity(4));
    writer.write_all(b"abcd").unwrap();
    writer.write_all(b"efgh").unwrap();
    assert_eq!(writer.0, b"abcdefgh");
    assert!(writer.0.capacity() >= 8);
}

#[test]
fn message_prefix_is_bounded() {
    let mut prefix = MessagePrefix::default();
    let long = "z".repeat(200);
    let _ = write!(prefix, "{long}");
    assert_eq!(prefix.as_bytes().len(), 64);
}
