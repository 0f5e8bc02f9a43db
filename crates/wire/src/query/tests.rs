//! The Query-protocol runtime: form decoding, typed reading (lists, maps, nested structures, every
//! scalar type), XML writing and errors. Generated-model behaviour is tested in `iam::tests` and
//! `sts::tests`.

use std::collections::BTreeMap;

use coffer_auth::AuthError;
use proptest::prelude::*;
use serde_json::json;

use super::test_support::{BOTOCORE_PARSE, botocore_available, python_json, repo_root};
use super::xml::iso8601;
use super::*;
use crate::codec::{Blob, EpochTime, Path, Validate, ValidationErrors};

fn form(body: &str) -> FormParams {
    decode_form(body.as_bytes(), None).unwrap()
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

// ------------------------------------------------------------------------------------------------
// decode_form
// ------------------------------------------------------------------------------------------------

#[test]
fn form_decoding_of_names_and_values() {
    let f = form(
        "Action=CreateUser&Version=2010-05-08&UserName=alice&Path=%2Fteam%2F&Plus=a+b%20c%2Bd\
         &Utf8=%C3%A9t%C3%A9&Tags%2Emember%2E1%2EKey=k&Eq=a=b=c",
    );
    assert_eq!(f.action(), Some("CreateUser"));
    assert_eq!(f.version(), Some("2010-05-08"));
    assert_eq!(f.get("UserName"), Some("alice"));
    assert_eq!(f.get("Path"), Some("/team/"));
    assert_eq!(f.get("Plus"), Some("a b c+d"));
    assert_eq!(f.get("Utf8"), Some("été"));
    assert_eq!(f.get("Tags.member.1.Key"), Some("k"));
    assert_eq!(f.get("Eq"), Some("a=b=c"));
    assert_eq!(f.get("username"), None, "names are case-sensitive");
    assert_eq!(f.len(), 8);
}

#[test]
fn form_pairs_without_value_or_name() {
    let f = form("&&Flag&=orphan&Empty=&&");
    assert_eq!(f.get("Flag"), Some(""));
    assert_eq!(f.get("Empty"), Some(""));
    assert_eq!(f.len(), 2);
    assert!(form("").is_empty());
}

#[test]
fn first_occurrence_wins_and_the_url_query_comes_first() {
    // [AWS] `Action=GetCallerIdentity&Action=NoSuchAction` runs GetCallerIdentity.
    let f = form("Action=GetCallerIdentity&Action=NoSuchAction");
    assert_eq!(f.action(), Some("GetCallerIdentity"));
    let f = decode_form(
        b"Version=2010-05-08&UserName=body",
        Some("Action=GetUser&UserName=query"),
    )
    .unwrap();
    assert_eq!(f.action(), Some("GetUser"));
    assert_eq!(f.version(), Some("2010-05-08"));
    assert_eq!(f.get("UserName"), Some("query"));
}

#[test]
fn malformed_forms_are_rejected() {
    for body in ["a=%zz", "a=%4", "a=%", "%=b", "a=%G0"] {
        assert_eq!(
            decode_form(body.as_bytes(), None).unwrap_err(),
            QueryDecodeError::MalformedForm(msg::BAD_ESCAPE_BODY),
            "{body}"
        );
    }
    assert_eq!(
        decode_form(b"a=%FF", None).unwrap_err(),
        QueryDecodeError::MalformedForm(msg::NOT_UTF8_BODY)
    );
    assert_eq!(
        decode_form(b"a=\xff", None).unwrap_err(),
        QueryDecodeError::MalformedForm(msg::NOT_UTF8_BODY)
    );
    assert_eq!(
        decode_form(b"", Some("a=%2")).unwrap_err(),
        QueryDecodeError::MalformedForm(msg::BAD_ESCAPE_QUERY)
    );
    assert_eq!(
        decode_form(b"", Some("a=%C3%28")).unwrap_err(),
        QueryDecodeError::MalformedForm(msg::NOT_UTF8_QUERY)
    );
    let err = QueryError::from(&decode_form(b"a=%", None).unwrap_err());
    assert_eq!((err.code, err.status), ("MalformedQueryString", 400));
}

#[test]
fn form_debug_shows_names_only() {
    let f = form("Password=hunter2&UserName=alice");
    assert_eq!(format!("{f:?}"), r#"{"Password", "UserName"}"#);
}

// ------------------------------------------------------------------------------------------------
// Typed reading, through a hand-written structure shaped like the generated ones
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Default, PartialEq)]
struct Inner {
    name: Option<String>,
    tags: Option<Vec<String>>,
}

impl FromForm for Inner {
    fn read(form: &mut FormReader<'_>) -> Result<Self, QueryDecodeError> {
        Ok(Inner {
            name: form.member("Name", FormReader::scalar)?,
            tags: form.member("Tags", |form| form.list("member", FormReader::scalar))?,
        })
    }
}

#[derive(Debug, Default, PartialEq)]
struct Sample {
    name: Option<String>,
    count: Option<i32>,
    big: Option<i64>,
    flag: Option<bool>,
    when: Option<EpochTime>,
    blob: Option<Blob>,
    items: Option<Vec<String>>,
    inner: Option<Inner>,
    things: Option<Vec<Inner>>,
    matrix: Option<Vec<Vec<String>>>,
    attributes: Option<BTreeMap<String, String>>,
}

impl FromForm for Sample {
    fn read(form: &mut FormReader<'_>) -> Result<Self, QueryDecodeError> {
        Ok(Sample {
            name: form.member("Name", FormReader::scalar)?,
            count: form.member("Count", FormReader::scalar)?,
            big: form.member("Big", FormReader::scalar)?,
            flag: form.member("Flag", FormReader::scalar)?,
            when: form.member("When", FormReader::scalar)?,
            blob: form.member("Blob", FormReader::scalar)?,
            items: form.member("Items", |form| form.list("member", FormReader::scalar))?,
            inner: form.member("Inner", FormReader::structure)?,
            things: form.member("Things", |form| form.list("member", FormReader::structure))?,
            matrix: form.member("Matrix", |form| {
                form.list("member", |form| form.list("member", FormReader::scalar))
            })?,
            attributes: form.member("Attributes", |form| {
                form.map(
                    "entry",
                    "key",
                    "value",
                    FormReader::scalar,
                    FormReader::scalar,
                )
            })?,
        })
    }
}

impl Validate for Sample {
    fn validate_members(&self, path: &Path<'_>, errors: &mut ValidationErrors) {
        if self.name.is_none() {
            errors.missing(&Path::Member(path, "name"));
        }
    }
}

fn sample(body: &str) -> Sample {
    Sample::read(&mut FormReader::new(&form(body))).unwrap()
}

fn sample_error(body: &str) -> QueryDecodeError {
    Sample::read(&mut FormReader::new(&form(body))).unwrap_err()
}

fn strings(items: &[&str]) -> Option<Vec<String>> {
    Some(items.iter().map(|s| s.to_string()).collect())
}

#[test]
fn absent_members_stay_absent() {
    assert_eq!(sample("Action=X&Version=1&Unknown=1"), Sample::default());
}

#[test]
fn lists_are_read_in_index_order() {
    let s = sample("Items.member.2=b&Items.member.10=j&Items.member.1=a");
    assert_eq!(s.items, strings(&["a", "b", "j"]));
}

#[test]
fn list_indexes_must_be_canonical() {
    // `01`, `0`, `-1`, `x` and an empty index are not item numbers: unknown parameters.
    let s = sample(
        "Items.member.01=z&Items.member.0=z&Items.member.-1=z&Items.member.x=z&Items.member.=z\
         &Items.member.3=c",
    );
    assert_eq!(s.items, strings(&["c"]));
    let s = sample("Items.member.01=z");
    assert_eq!(s.items, None);
}

#[test]
fn empty_lists_are_sent_as_name_equals_nothing() {
    assert_eq!(sample("Items=").items, Some(vec![]));
    assert_eq!(
        sample("Items=x").items,
        None,
        "only an empty value means empty"
    );
    assert_eq!(sample("Items").items, Some(vec![]));
    assert_eq!(
        sample("Items=&Items.member.1=a").items,
        strings(&["a"]),
        "items win over the empty marker"
    );
    assert_eq!(sample("Things=").things, Some(vec![]));
    assert_eq!(sample("Attributes=").attributes, Some(BTreeMap::new()));
}

#[test]
fn nested_structures_and_lists_of_structures() {
    let s = sample(
        "Inner.Name=n&Inner.Tags.member.1=t1&Inner.Tags.member.2=t2\
         &Things.member.1.Name=a&Things.member.2.Tags.member.1=x&Things.member.2.Tags=",
    );
    assert_eq!(
        s.inner,
        Some(Inner {
            name: Some("n".into()),
            tags: strings(&["t1", "t2"]),
        })
    );
    assert_eq!(
        s.things,
        Some(vec![
            Inner {
                name: Some("a".into()),
                tags: None,
            },
            Inner {
                name: None,
                tags: strings(&["x"]),
            },
        ])
    );
    // A structure is present as soon as one of its members is, even an unknown one.
    assert_eq!(sample("Inner.Unknown=1").inner, Some(Inner::default()));
    // `Inner=x` is a scalar where a structure belongs: unknown, so absent.
    assert_eq!(sample("Inner=x").inner, None);
}

#[test]
fn list_items_without_a_value_are_skipped() {
    // `Items.member.1.x` names something below item 1, which is a string: not an item.
    assert_eq!(
        sample("Items.member.1.x=a&Items.member.2=b").items,
        strings(&["b"])
    );
    assert_eq!(sample("Things.member.1=a").things, None);
}

#[test]
fn lists_of_lists() {
    let s = sample("Matrix.member.1.member.1=a&Matrix.member.1.member.2=b&Matrix.member.2=");
    assert_eq!(
        s.matrix,
        Some(vec![vec!["a".to_string(), "b".to_string()], vec![],])
    );
}

#[test]
fn maps_are_entry_key_value() {
    let s = sample(
        "Attributes.entry.1.key=k1&Attributes.entry.1.value=v1\
         &Attributes.entry.2.key=k2&Attributes.entry.2.value=\
         &Attributes.entry.3.key=k1&Attributes.entry.3.value=second\
         &Attributes.entry.4.key=nokey-value-missing\
         &Attributes.entry.5.value=novalue-key-missing",
    );
    let expected: BTreeMap<String, String> = [("k1", "v1"), ("k2", "")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(s.attributes, Some(expected));
}

#[test]
fn integers_parse_like_aws() {
    // [AWS] `+900` and `0900` are 900; `-1` reaches the range check.
    assert_eq!(sample("Count=%2B900").count, Some(900));
    assert_eq!(sample("Count=0900").count, Some(900));
    assert_eq!(sample("Count=-1").count, Some(-1));
    assert_eq!(sample("Count=2147483647").count, Some(i32::MAX));
    assert_eq!(sample("Count=-2147483648").count, Some(i32::MIN));
    assert_eq!(sample("Big=9223372036854775807").big, Some(i64::MAX));
    // [AWS] empty: MalformedInput "missing value for decimal type"; others: MalformedInput, no message.
    assert_eq!(
        sample_error("Count="),
        QueryDecodeError::MalformedInput(msg::MISSING_NUMBER)
    );
    for bad in [
        "abc",
        "900.0",
        "2147483648",
        "-2147483649",
        " 900",
        "9e2",
        "0x10",
    ] {
        assert_eq!(
            sample_error(&format!("Count={}", bad.replace(' ', "+"))),
            QueryDecodeError::MalformedInput(""),
            "{bad}"
        );
    }
    assert_eq!(
        sample_error("Big=9223372036854775808"),
        QueryDecodeError::MalformedInput("")
    );
}

#[test]
fn booleans_are_true_or_false() {
    assert_eq!(sample("Flag=true").flag, Some(true));
    assert_eq!(sample("Flag=false").flag, Some(false));
    assert_eq!(sample("Flag=TRUE").flag, Some(true));
    for bad in ["", "yes", "1", "t"] {
        assert_eq!(
            sample_error(&format!("Flag={bad}")),
            QueryDecodeError::MalformedInput(""),
            "{bad}"
        );
    }
}

#[test]
fn timestamps_are_iso_8601() {
    let noon = EpochTime::from_millis(1_735_732_800_000);
    assert_eq!(sample("When=2025-01-01T12:00:00Z").when, Some(noon));
    assert_eq!(sample("When=2025-01-01T14:00:00%2B02:00").when, Some(noon));
    assert_eq!(
        sample("When=2025-01-01T12:00:00.123456Z").when,
        Some(EpochTime::from_millis(1_735_732_800_123))
    );
    for bad in [
        "",
        "2025-01-01",
        "1735732800",
        "2025-13-01T00:00:00Z",
        "yesterday",
    ] {
        assert_eq!(
            sample_error(&format!("When={bad}")),
            QueryDecodeError::MalformedInput(""),
            "{bad}"
        );
    }
}

#[test]
fn blobs_are_base64() {
    assert_eq!(
        sample("Blob=AAEC%2F%2F8%3D").blob,
        Some(Blob::new(vec![0, 1, 2, 0xff, 0xff]))
    );
    assert_eq!(
        Sample::read(&mut FormReader::new(&form("Blob=*"))).unwrap_err(),
        QueryDecodeError::MalformedInput("")
    );
}

#[test]
fn the_first_type_error_stops_decoding() {
    let err = decode::<Sample>(&form("Count=x&Flag=maybe")).unwrap_err();
    assert_eq!(err, QueryDecodeError::MalformedInput(""));
    assert_eq!(err.code(), "MalformedInput");
    // Type errors win over constraint violations (Name is missing here too).
    assert_eq!(
        decode::<Sample>(&form("Count=")).unwrap_err(),
        QueryDecodeError::MalformedInput(msg::MISSING_NUMBER)
    );
    assert_eq!(
        decode::<Sample>(&form("Count=1")).unwrap_err(),
        QueryDecodeError::Validation(
            "1 validation error detected: Value null at 'name' failed to satisfy constraint: \
             Member must not be null"
                .into()
        )
    );
    assert!(decode::<Sample>(&form("Name=x")).is_ok());
}

#[test]
fn from_pairs_matches_decoding() {
    let f = FormParams::from_pairs([("Name", "a b"), ("Items.member.1", "x"), ("Name", "dup")]);
    assert_eq!(f.get("Name"), Some("a b"));
    assert_eq!(f.names().collect::<Vec<_>>(), ["Items.member.1", "Name"]);
}

// ------------------------------------------------------------------------------------------------
// Dispatch
// ------------------------------------------------------------------------------------------------

fn resolve(body: &str) -> Result<&'static str, QueryError> {
    resolve_operation(&form(body), "2011-06-15", |action| {
        (action == "GetCallerIdentity").then_some("GetCallerIdentity")
    })
}

#[test]
fn dispatch_errors_match_aws() {
    assert_eq!(
        resolve("Action=GetCallerIdentity&Version=2011-06-15"),
        Ok("GetCallerIdentity")
    );
    let invalid = |body: &str| resolve(body).unwrap_err();
    // [AWS] probes against STS.
    for (body, message) in [
        (
            "Action=NoSuchAction&Version=2011-06-15",
            "Could not find operation NoSuchAction for version 2011-06-15",
        ),
        (
            "Action=GetCallerIdentity",
            "Could not find operation GetCallerIdentity for version NO_VERSION_SPECIFIED",
        ),
        (
            "Action=GetCallerIdentity&Version=",
            "Could not find operation GetCallerIdentity for version ",
        ),
        (
            "Action=GetCallerIdentity&Version=2000-01-01",
            "Could not find operation GetCallerIdentity for version 2000-01-01",
        ),
        (
            "Action=&Version=2011-06-15",
            "Could not find operation  for version 2011-06-15",
        ),
        (
            "Action=NoSuchAction&Action=GetCallerIdentity&Version=2011-06-15",
            "Could not find operation NoSuchAction for version 2011-06-15",
        ),
        (
            "Action=getcalleridentity&Version=2011-06-15",
            "Could not find operation getcalleridentity for version 2011-06-15",
        ),
    ] {
        let err = invalid(body);
        assert_eq!(
            (err.code, err.status, err.sender_fault, err.message.as_str()),
            ("InvalidAction", 400, true, message),
            "{body}"
        );
        assert!(err.aws_fault_namespace);
    }
    assert_eq!(
        resolve("Action=GetCallerIdentity&Version=2011-06-15&Version=2000-01-01"),
        Ok("GetCallerIdentity")
    );
    let missing = invalid("Version=2011-06-15");
    assert_eq!((missing.code, missing.status), ("MissingAction", 400));
}

// ------------------------------------------------------------------------------------------------
// XML
// ------------------------------------------------------------------------------------------------

#[derive(Default)]
struct Out {
    name: Option<String>,
    items: Option<Vec<String>>,
    attributes: Option<BTreeMap<String, i32>>,
    nested: Option<Vec<Out>>,
}

impl XmlStructure for Out {
    fn write_members(&self, w: &mut XmlWriter) {
        if let Some(value) = &self.name {
            w.value("Name", value);
        }
        if let Some(value) = &self.items {
            w.list("Items", "member", value, XmlWriter::value);
        }
        if let Some(value) = &self.attributes {
            w.map(
                "Attributes",
                "entry",
                "key",
                "value",
                value,
                XmlWriter::value,
                XmlWriter::value,
            );
        }
        if let Some(value) = &self.nested {
            w.list("Nested", "member", value, XmlWriter::structure);
        }
    }
}

impl QueryOutput for Out {
    const OPERATION_NAME: &'static str = "Probe";
    const XML_NAMESPACE: &'static str = "urn:x&y";
    const RESULT_WRAPPER: Option<&'static str> = Some("ProbeResult");
}

#[test]
fn responses_are_laid_out_like_aws() {
    let out = Out {
        name: Some("a<b>&c".into()),
        items: Some(vec![]),
        attributes: Some([("k".to_string(), 7)].into_iter().collect()),
        nested: Some(vec![
            Out::default(),
            Out {
                items: Some(vec!["x".into()]),
                ..Out::default()
            },
        ]),
    };
    assert_eq!(
        text(encode_response(&out, "req-1")),
        "<ProbeResponse xmlns=\"urn:x&amp;y\">\n  <ProbeResult>\n    <Name>a&lt;b&gt;&amp;c</Name>\n    \
         <Items/>\n    <Attributes>\n      <entry>\n        <key>k</key>\n        <value>7</value>\n      \
         </entry>\n    </Attributes>\n    <Nested>\n      <member/>\n      <member>\n        <Items>\n          \
         <member>x</member>\n        </Items>\n      </member>\n    </Nested>\n  </ProbeResult>\n  \
         <ResponseMetadata>\n    <RequestId>req-1</RequestId>\n  </ResponseMetadata>\n</ProbeResponse>\n"
    );
    assert_eq!(
        text(encode_response(&Out::default(), "r")),
        "<ProbeResponse xmlns=\"urn:x&amp;y\">\n  <ProbeResult/>\n  <ResponseMetadata>\n    \
         <RequestId>r</RequestId>\n  </ResponseMetadata>\n</ProbeResponse>\n"
    );
}

#[test]
fn text_escaping_keeps_documents_well_formed() {
    let mut w = XmlWriter::new();
    w.text(
        "T",
        "a&b<c>d\"e'f\r\n\tg\u{1}h\u{0}\u{fffe}\u{ffff}i\u{7f}é😀",
    );
    assert_eq!(
        text(w.finish()),
        "<T>a&amp;b&lt;c&gt;d\"e'f&#xD;\n\tg\u{fffd}h\u{fffd}\u{fffd}\u{fffd}i\u{7f}é😀</T>\n"
    );
}

#[test]
fn url_encoding_is_rfc_3986() {
    let mut w = XmlWriter::new();
    w.url_encoded("D", r#"{"a": "b c+d/é~-._*!'()"}"#);
    assert_eq!(
        text(w.finish()),
        "<D>%7B%22a%22%3A%20%22b%20c%2Bd%2F%C3%A9~-._%2A%21%27%28%29%22%7D</D>\n"
    );
}

#[test]
fn timestamps_are_iso_8601_utc() {
    assert_eq!(iso8601(EpochTime::from_millis(0)), "1970-01-01T00:00:00Z");
    assert_eq!(
        iso8601(EpochTime::from_millis(1_735_732_800_000)),
        "2025-01-01T12:00:00Z"
    );
    assert_eq!(
        iso8601(EpochTime::from_millis(1_735_732_800_250)),
        "2025-01-01T12:00:00.250Z"
    );
    assert_eq!(
        iso8601(EpochTime::from_millis(-1_500)),
        "1969-12-31T23:59:58.500Z"
    );
    // Out of range: clamped, not a panic.
    assert!(iso8601(EpochTime::from_millis(i64::MAX)).starts_with("9999-12-"));
    assert!(iso8601(EpochTime::from_millis(i64::MIN)).starts_with("-9999-01-"));
}

#[test]
fn scalars_render_in_aws_text_form() {
    let mut w = XmlWriter::new();
    w.value("B", &true);
    w.value("F", &false);
    w.value("I", &-5i32);
    w.value("L", &1i64);
    w.value("T", &EpochTime::from_millis(1000));
    w.value("X", &Blob::new(vec![0, 1, 2]));
    w.value("S", "");
    assert_eq!(
        text(w.finish()),
        "<B>true</B>\n<F>false</F>\n<I>-5</I>\n<L>1</L>\n<T>1970-01-01T00:00:01Z</T>\n<X>AAEC</X>\n<S></S>\n"
    );
}

// ------------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------------

const NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

#[test]
fn error_xml_matches_section_3_3() {
    let err = QueryError::new(
        "NoSuchEntity",
        404,
        "The user with name bob cannot be found.",
    );
    assert_eq!(
        text(err.to_xml(NS, "0e2b4e6a")),
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\n  <Error>\n    \
         <Type>Sender</Type>\n    <Code>NoSuchEntity</Code>\n    \
         <Message>The user with name bob cannot be found.</Message>\n  </Error>\n  \
         <RequestId>0e2b4e6a</RequestId>\n</ErrorResponse>\n"
    );
}

#[test]
fn error_variants() {
    let internal = QueryError::internal_failure();
    assert_eq!((internal.code, internal.status), ("InternalFailure", 500));
    assert!(internal.is_server_fault());
    assert!(text(internal.to_xml(NS, "r")).contains("<Type>Receiver</Type>"));

    // No message element when AWS sends none.
    let malformed = QueryError::from(&QueryDecodeError::MalformedInput(""));
    assert!(!text(malformed.to_xml(NS, "r")).contains("Message"));

    // Dispatch errors use AWS's fault namespace whatever the service.
    let invalid = QueryError::invalid_action("X", Some("1"));
    assert!(text(invalid.to_xml(NS, "r")).starts_with(
        "<ErrorResponse xmlns=\"http://webservices.amazon.com/AWSFault/2005-15-09\">"
    ));

    // Echoed input is escaped.
    let echoed = QueryError::validation("Value '<&>' at 'userName'");
    assert!(
        text(echoed.to_xml(NS, "r"))
            .contains("<Message>Value '&lt;&amp;&gt;' at 'userName'</Message>")
    );

    for (err, code, status) in [
        (QueryError::access_denied("no"), "AccessDenied", 403),
        (
            QueryError::invalid_parameter_value("dup"),
            "InvalidParameterValue",
            400,
        ),
        (QueryError::validation("v"), "ValidationError", 400),
        (
            QueryError::service_unavailable("down"),
            "ServiceUnavailable",
            503,
        ),
    ] {
        assert_eq!(
            (err.code, err.status, err.sender_fault),
            (code, status, status < 500)
        );
    }
    assert_eq!(
        QueryError::access_denied("no").to_string(),
        "AccessDenied (403): no"
    );
}

#[test]
fn authentication_errors_in_query_form() {
    let cases = [
        (
            AuthError::UnrecognizedClient,
            "InvalidClientTokenId",
            403,
            "The security token included in the request is invalid.",
        ),
        (
            AuthError::InvalidSignature(
                "Credential should be scoped to correct service: 'iam'. ".into(),
            ),
            "SignatureDoesNotMatch",
            403,
            "Credential should be scoped to correct service: 'iam'. ",
        ),
        (
            AuthError::MissingAuthenticationToken,
            "MissingAuthenticationToken",
            403,
            "Request is missing Authentication Token",
        ),
        (
            AuthError::ExpiredToken,
            "ExpiredToken",
            403,
            "The security token included in the request is expired",
        ),
        (
            AuthError::IncompleteSignature(
                "Authorization header requires 'Signature' parameter.".into(),
            ),
            "IncompleteSignature",
            400,
            "Authorization header requires 'Signature' parameter.",
        ),
    ];
    for (auth, code, status, message) in cases {
        let err = QueryError::from(&auth);
        assert_eq!(
            (err.code, err.status, err.sender_fault, err.message.as_str()),
            (code, status, true, message)
        );
    }
    let internal = QueryError::from(&AuthError::Internal("lookup failed".into()));
    assert_eq!((internal.status, internal.sender_fault), (500, false));
}

#[test]
fn botocore_parses_our_errors() {
    if !botocore_available() {
        return;
    }
    let modeled = QueryError::new(
        "NoSuchEntity",
        404,
        "The user with name bob cannot be found.",
    );
    let cases = json!([
        {"op": "GetUser", "status": 404, "body": text(modeled.to_xml(NS, "req-404"))},
        {"op": "GetUser", "status": 400,
         "body": text(QueryError::from(&QueryDecodeError::MalformedInput("")).to_xml(NS, "req-400"))},
        {"op": "GetUser", "status": 400,
         "body": text(QueryError::invalid_action("Nope", None).to_xml(NS, "req-ia"))},
        {"op": "GetUser", "status": 500,
         "body": text(QueryError::internal_failure().to_xml(NS, "req-500"))},
    ]);
    let parsed = python_json(BOTOCORE_PARSE, &["iam"], &cases);
    assert_eq!(
        parsed[0],
        json!({
            "Error": {"Type": "Sender", "Code": "NoSuchEntity",
                      "Message": "The user with name bob cannot be found."},
            "ResponseMetadata": {"RequestId": "req-404"},
        })
    );
    assert_eq!(
        parsed[1],
        json!({
            "Error": {"Type": "Sender", "Code": "MalformedInput"},
            "ResponseMetadata": {"RequestId": "req-400"},
        })
    );
    assert_eq!(parsed[2]["Error"]["Code"], "InvalidAction");
    assert_eq!(
        parsed[2]["Error"]["Message"],
        "Could not find operation Nope for version NO_VERSION_SPECIFIED"
    );
    assert_eq!(parsed[3]["Error"]["Type"], "Receiver");
    assert_eq!(parsed[3]["ResponseMetadata"]["RequestId"], "req-500");
}

// ------------------------------------------------------------------------------------------------
// Generator
// ------------------------------------------------------------------------------------------------

#[test]
fn generated_query_models_are_up_to_date() {
    if !botocore_available() {
        return;
    }
    let output = std::process::Command::new("python3")
        .arg(repo_root().join("tools/codegen/query_model.py"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "iam/model.rs or sts/model.rs is stale; run `python3 tools/codegen/query_model.py`\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

// ------------------------------------------------------------------------------------------------
// Robustness
// ------------------------------------------------------------------------------------------------

fn param_name() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        Just("Name".to_string()),
        Just("Count".to_string()),
        Just("Big".to_string()),
        Just("Flag".to_string()),
        Just("When".to_string()),
        Just("Blob".to_string()),
        Just("Items".to_string()),
        Just("Inner".to_string()),
        Just("Things".to_string()),
        Just("Matrix".to_string()),
        Just("Attributes".to_string()),
        Just("Tags".to_string()),
        Just("member".to_string()),
        Just("entry".to_string()),
        Just("key".to_string()),
        Just("value".to_string()),
        (0usize..12).prop_map(|n| n.to_string()),
        "[ -~]{0,3}",
    ];
    proptest::collection::vec(segment, 1..6).prop_map(|segments| segments.join("."))
}

fn encode_component(raw: &str) -> String {
    raw.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'.' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_form_decoder(
        body in proptest::collection::vec(any::<u8>(), 0..256),
        query in proptest::option::of("[ -~]{0,64}"),
    ) {
        if let Ok(f) = decode_form(&body, query.as_deref()) {
            let _ = decode::<Sample>(&f);
        }
    }

    #[test]
    fn arbitrary_parameters_never_panic_typed_reading(
        pairs in proptest::collection::vec((param_name(), "[ -~]{0,8}|\\PC{0,4}"), 0..24),
    ) {
        let body = pairs
            .iter()
            .map(|(name, value)| format!("{}={}", encode_component(name), encode_component(value)))
            .collect::<Vec<_>>()
            .join("&");
        let f = decode_form(body.as_bytes(), None).unwrap();
        match decode::<Sample>(&f) {
            Ok(_) => {}
            Err(QueryDecodeError::MalformedInput(message)) => {
                prop_assert!(message.is_empty() || message == msg::MISSING_NUMBER);
            }
            Err(QueryDecodeError::Validation(message)) => {
                prop_assert!(message.contains(" validation error"));
            }
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }
}
