//! The AWS JSON 1.1 edge and SigV4 authentication, exercised with raw HTTP/1.1 requests
//! (signed by the real AWS signer, `aws-sigv4`) against the real `coffer` binary: body
//! decoding, size limit, dispatch, every authentication failure with AWS's exact texts,
//! response headers, and a seeded fuzz run that must never produce a server error.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime};

use common::{ACCESS_KEY_ID, ACCOUNT_ID, REGION, Server, Signer};
use serde_json::{Value, json};

const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. \
                        Check your AWS Secret Access Key and signing method. Consult the service \
                        documentation for details.";
const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The server's request body limit (`http::MAX_BODY_BYTES`).
const MAX_BODY_BYTES: usize = 512 * 1024;
const MISSING_SECRET_ID: &str = "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null";

// -------------------------------------------------------------------------------------------
// Raw HTTP/1.1 with SigV4
// -------------------------------------------------------------------------------------------

impl Signer {
    fn secret(self, secret: &str) -> Signer {
        Signer {
            secret: secret.into(),
            ..self
        }
    }

    fn access_key_id(self, access_key_id: &str) -> Signer {
        Signer {
            access_key_id: access_key_id.into(),
            ..self
        }
    }

    fn region(self, region: &str) -> Signer {
        Signer {
            region: region.into(),
            ..self
        }
    }

    fn service(self, service: &str) -> Signer {
        Signer {
            service: service.into(),
            ..self
        }
    }

    fn at(self, time: SystemTime) -> Signer {
        Signer { time, ..self }
    }
}

#[derive(Clone)]
struct RawRequest {
    method: &'static str,
    path: String,
    /// Host header value (`127.0.0.1:port`), also the address connected to.
    host: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

#[derive(Debug)]
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl RawRequest {
    /// `POST /` with the JSON content type and, if given, `X-Amz-Target` (not yet signed).
    fn api(server: &Server, target: Option<&str>, body: impl Into<Vec<u8>>) -> RawRequest {
        let host = server.host();
        let mut headers = vec![
            ("host".to_owned(), host.clone()),
            ("content-type".to_owned(), JSON_CONTENT_TYPE.to_owned()),
        ];
        if let Some(target) = target {
            headers.push(("x-amz-target".to_owned(), target.to_owned()));
        }
        RawRequest {
            method: "POST",
            path: "/".into(),
            host,
            headers,
            body: body.into(),
        }
    }

    /// A Secrets Manager operation: `X-Amz-Target: secretsmanager.<operation>`.
    fn op(server: &Server, operation: &str, body: impl Into<Vec<u8>>) -> RawRequest {
        RawRequest::api(
            server,
            Some(&format!("secretsmanager.{operation}")),
            body.into(),
        )
    }

    fn header(mut self, name: &str, value: &str) -> RawRequest {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Signs every header present so far (and the body) and adds `X-Amz-Date` and
    /// `Authorization`.
    fn signed_by(mut self, signer: &Signer) -> RawRequest {
        let added = signer.sign(
            self.method,
            &self.host,
            &self.path,
            &self.headers,
            &self.body,
        );
        self.headers.extend(added);
        self
    }

    fn signed(self) -> RawRequest {
        self.signed_by(&Signer::admin())
    }

    /// The request line and headers, with `framing` (Content-Length / Transfer-Encoding)
    /// and, unless `keep_alive`, `Connection: close`.
    fn head_with(&self, framing: &str, keep_alive: bool) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.path);
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(framing);
        if !keep_alive {
            head.push_str("connection: close\r\n");
        }
        head.push_str("\r\n");
        head.into_bytes()
    }

    fn head(&self, framing: &str) -> Vec<u8> {
        self.head_with(framing, false)
    }

    /// Sends with a truthful `Content-Length`.
    fn send(&self) -> RawResponse {
        let mut bytes = self.head(&format!("content-length: {}\r\n", self.body.len()));
        bytes.extend_from_slice(&self.body);
        exchange(&self.host, bytes)
    }

    /// Sends with `Transfer-Encoding: chunked`, in chunks of `chunk` bytes.
    fn send_chunked(&self, chunk: usize) -> RawResponse {
        let mut bytes = self.head("transfer-encoding: chunked\r\n");
        for piece in self.body.chunks(chunk) {
            bytes.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            bytes.extend_from_slice(piece);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"0\r\n\r\n");
        exchange(&self.host, bytes)
    }
}

/// Writes `bytes` (from another thread, ignoring write errors: the server may answer and
/// close before reading everything) and reads the response until the server closes.
fn exchange(host: &str, bytes: Vec<u8>) -> RawResponse {
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let write = std::thread::spawn(move || {
        let _ = writer.write_all(&bytes);
        let _ = writer.flush();
    });
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // A reset after the server has answered (it closed with our upload unread):
            // whatever was received is the response.
            Err(e) if !raw.is_empty() && e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the response from {host}: {e}"),
        }
    }
    let _ = write.join();
    parse_response(&raw)
}

/// Reads exactly one response (with a Content-Length) from a kept-alive connection; `None`
/// if the server closes the connection first.
fn read_one_response(stream: &mut TcpStream) -> Option<RawResponse> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..at]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .expect("a Content-Length");
            if raw.len() >= at + 4 + length {
                return Some(parse_response(&raw[..at + 4 + length]));
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) if raw.is_empty() => return None,
            Ok(0) => panic!("closed mid-response: {:?}", String::from_utf8_lossy(&raw)),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => panic!("{e} mid-response: {:?}", String::from_utf8_lossy(&raw)),
        }
    }
}

fn parse_response(raw: &[u8]) -> RawResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no complete response head in {:?}",
                String::from_utf8_lossy(raw)
            )
        });
    let head = std::str::from_utf8(&raw[..split]).expect("response head is text");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (k, v) = line.split_once(':').expect("header line");
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    let rest = &raw[split + 4..];
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        let mut rest = rest;
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size_text = std::str::from_utf8(&rest[..line_end]).unwrap();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
                .expect("chunk size");
            rest = &rest[line_end + 2..];
            if size == 0 {
                break;
            }
            body.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        body
    } else if let Some(length) = header("content-length") {
        let length: usize = length.parse().expect("content-length");
        assert!(
            rest.len() >= length,
            "body shorter than its Content-Length: {} < {length}",
            rest.len()
        );
        rest[..length].to_vec()
    } else {
        rest.to_vec()
    };
    RawResponse {
        status,
        headers,
        body,
    }
}

// -------------------------------------------------------------------------------------------
// Assertions
// -------------------------------------------------------------------------------------------

/// `x-amzn-RequestId` is a lower-case UUID v4 and the content type is AWS JSON 1.1.
fn assert_api_headers(response: &RawResponse) {
    let id = response
        .header("x-amzn-RequestId")
        .unwrap_or_else(|| panic!("no x-amzn-RequestId in {response:?}"));
    let parsed = uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("request id {id:?}: {e}"));
    assert_eq!(parsed.get_version_num(), 4, "request id {id:?} is not v4");
    assert_eq!(
        parsed.hyphenated().to_string(),
        id,
        "request id {id:?} is not a lower-case hyphenated UUID"
    );
    assert_eq!(
        response.header("content-type"),
        Some(JSON_CONTENT_TYPE),
        "{response:?}"
    );
    assert!(response.header("date").is_some(), "no Date: {response:?}");
    assert_eq!(
        response.header("content-length"),
        Some(response.body.len().to_string().as_str()),
        "{response:?}"
    );
    // Optional, but if sent it must agree with the body (the Rust SDK prefers it).
    if let Some(error_type) = response.header("x-amzn-ErrorType") {
        let code = error_type.split(':').next().unwrap();
        assert_eq!(
            response.json()["__type"],
            code,
            "x-amzn-ErrorType disagrees with __type"
        );
    }
}

/// Which key an error's message travels under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    /// Modeled Secrets Manager exceptions: `Message`.
    Modeled,
    /// Framework errors (authentication, validation, serialization): `message`.
    Framework,
}

/// Asserts an AWS error shape: status, `__type`, the message under the right key (and only
/// there), no other members. Returns the message.
fn assert_error(response: &RawResponse, status: u16, error_type: &str, key: Key) -> String {
    assert_eq!(response.status, status, "{response:?}: {}", response.text());
    assert_api_headers(response);
    let body = response.json();
    let object = body
        .as_object()
        .unwrap_or_else(|| panic!("error body is not an object: {body}"));
    assert_eq!(object.get("__type"), Some(&json!(error_type)), "{body}");
    let (present, absent) = match key {
        Key::Modeled => ("Message", "message"),
        Key::Framework => ("message", "Message"),
    };
    assert!(
        !object.contains_key(absent),
        "{error_type} must carry `{present}`, not `{absent}`: {body}"
    );
    for member in object.keys() {
        assert!(
            member == "__type" || member == present,
            "unexpected member {member:?} in error body {body}"
        );
    }
    match object.get(present) {
        Some(Value::String(message)) => message.clone(),
        None => String::new(),
        Some(other) => panic!("message is not a string: {other}"),
    }
}

fn assert_error_message(
    response: &RawResponse,
    status: u16,
    error_type: &str,
    key: Key,
    message: &str,
) {
    let actual = assert_error(response, status, error_type, key);
    assert_eq!(actual, message, "{error_type} message");
}

/// Any AWS error shape: `__type` plus at most one of `message` / `Message`.
fn assert_any_error_shape(response: &RawResponse) -> String {
    assert_api_headers(response);
    let body = response.json();
    let object = body
        .as_object()
        .unwrap_or_else(|| panic!("error body is not an object: {body}"));
    let error_type = object
        .get("__type")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("error body without __type: {body}"))
        .to_owned();
    let mut messages = 0;
    for (member, value) in object {
        match member.as_str() {
            "__type" => {}
            "message" | "Message" => {
                messages += 1;
                assert!(value.is_string(), "{body}");
            }
            other => panic!("unexpected member {other:?} in error body {body}"),
        }
    }
    assert!(messages <= 1, "{body}");
    error_type
}

fn assert_ok(response: &RawResponse) -> Value {
    assert_eq!(response.status, 200, "{response:?}: {}", response.text());
    assert_api_headers(response);
    response.json()
}

fn token() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Parses an ISO 8601 basic timestamp (`20251106T132108Z`).
fn parse_amz_date(text: &str) -> jiff::Timestamp {
    jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", text)
        .unwrap_or_else(|e| panic!("{text:?} is not YYYYMMDDTHHMMSSZ: {e}"))
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
}

fn amz_date(time: SystemTime) -> String {
    jiff::Timestamp::try_from(time)
        .unwrap()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string()
}

// -------------------------------------------------------------------------------------------
// JSON edge
// -------------------------------------------------------------------------------------------

#[test]
fn malformed_json_non_objects_and_wrong_types_are_serialization_exceptions() {
    let server = Server::start();
    let create = RawRequest::op(
        &server,
        "CreateSecret",
        json!({"Name": "edge/ok", "ClientRequestToken": token(), "SecretString": "v"}).to_string(),
    )
    .signed()
    .send();
    assert_ok(&create);

    let cases: Vec<(&str, &str, String)> = vec![
        // Not JSON at all / truncated / trailing garbage.
        ("GetSecretValue", "malformed", r#"{"SecretId":"#.into()),
        ("GetSecretValue", "malformed", "{SecretId: 'edge/ok'}".into()),
        ("GetSecretValue", "malformed", r#"{"SecretId":"edge/ok"} x"#.into()),
        ("GetSecretValue", "malformed", "\u{feff}{}".into()),
        ("ListSecrets", "malformed", "{\"MaxResults\":1,}".into()),
        // A top-level value that is not an object.
        ("ListSecrets", "non-object", "[]".into()),
        ("ListSecrets", "non-object", r#""{}""#.into()),
        ("ListSecrets", "non-object", "42".into()),
        ("ListSecrets", "non-object", "null".into()),
        ("ListSecrets", "non-object", "true".into()),
        // A member of the wrong JSON type.
        (
            "GetSecretValue",
            "structure for string",
            r#"{"SecretId":{"a":1}}"#.into(),
        ),
        (
            "GetSecretValue",
            "list for string",
            r#"{"SecretId":["edge/ok"]}"#.into(),
        ),
        (
            "GetSecretValue",
            "number for string",
            r#"{"SecretId":12}"#.into(),
        ),
        (
            "TagResource",
            "string for list",
            r#"{"SecretId":"edge/ok","Tags":"team=core"}"#.into(),
        ),
        (
            "CreateSecret",
            "string for structure",
            json!({"Name": "edge/x", "ClientRequestToken": token(), "SecretString": "v",
                   "Tags": [{"Key": "k", "Value": "v"}], "AddReplicaRegions": "eu-west-1"})
            .to_string(),
        ),
        (
            "RotateSecret",
            "string for structure",
            json!({"SecretId": "edge/ok", "ClientRequestToken": token(),
                   "RotationRules": "rate(10 days)"})
            .to_string(),
        ),
        (
            "ListSecrets",
            "string for number",
            r#"{"MaxResults":"10"}"#.into(),
        ),
        (
            "ListSecretVersionIds",
            "string for boolean",
            r#"{"SecretId":"edge/ok","IncludeDeprecated":"true"}"#.into(),
        ),
        (
            "ListSecrets",
            "fraction for integer",
            r#"{"MaxResults":1.5}"#.into(),
        ),
        (
            "CreateSecret",
            "invalid base64 blob",
            json!({"Name": "edge/b", "ClientRequestToken": token(), "SecretBinary": "!!not base64!!"})
                .to_string(),
        ),
    ];
    let mut cases: Vec<(&str, &str, Vec<u8>)> = cases
        .into_iter()
        .map(|(operation, what, body)| (operation, what, body.into_bytes()))
        .collect();
    // Invalid UTF-8 inside a string, and an escaped lone surrogate.
    cases.push((
        "GetSecretValue",
        "invalid UTF-8",
        b"{\"SecretId\":\"\xff\xfe\"}".to_vec(),
    ));
    cases.push((
        "GetSecretValue",
        "lone surrogate",
        br#"{"SecretId":"\ud800"}"#.to_vec(),
    ));
    for (operation, what, body) in &cases {
        let body_text = String::from_utf8_lossy(body);
        let response = RawRequest::op(&server, operation, body.clone())
            .signed()
            .send();
        assert!(
            response.status < 500,
            "{operation} with {what} body {body_text:?} caused a server error: {response:?}"
        );
        let message = assert_error(&response, 400, "SerializationException", Key::Framework);
        assert!(
            !message.is_empty(),
            "{operation} {what}: empty SerializationException message"
        );
        // The message never quotes the request.
        assert!(
            !message.contains("edge/ok") && !message.contains("team=core"),
            "{operation} {what}: message echoes the request: {message:?}"
        );
    }

    // The typical Coral message for a structure where a scalar is expected (spec §1.3).
    let response = RawRequest::op(&server, "GetSecretValue", r#"{"SecretId":{"a":1}}"#)
        .signed()
        .send();
    assert_error_message(
        &response,
        400,
        "SerializationException",
        Key::Framework,
        "Start of structure or map found where not expected.",
    );

    // Nothing was created by the refused CreateSecret calls, and the server still works.
    let listed = assert_ok(&RawRequest::op(&server, "ListSecrets", "{}").signed().send());
    let names: Vec<&str> = listed["SecretList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["edge/ok"]);
}

#[test]
fn unknown_members_are_ignored_and_null_members_are_absent() {
    let server = Server::start();
    let created = assert_ok(
        &RawRequest::op(
            &server,
            "CreateSecret",
            json!({
                "Name": "edge/unknown",
                "ClientRequestToken": token(),
                "SecretString": "value-1",
                "Description": null,
                "KmsKeyId": null,
                "Tags": null,
                "SomeFutureMember": {"Nested": [1, 2, {"x": null}]},
                "AnotherOne": "x"
            })
            .to_string(),
        )
        .signed()
        .send(),
    );
    assert_eq!(created["Name"], "edge/unknown");

    let read = assert_ok(
        &RawRequest::op(
            &server,
            "GetSecretValue",
            json!({"SecretId": "edge/unknown", "VersionId": null, "VersionStage": null,
                   "FutureFlag": true})
            .to_string(),
        )
        .signed()
        .send(),
    );
    assert_eq!(read["SecretString"], "value-1");
    assert_eq!(read["VersionStages"], json!(["AWSCURRENT"]));
    assert!(read.get("SecretBinary").is_none(), "{read}");

    let described = assert_ok(
        &RawRequest::op(
            &server,
            "DescribeSecret",
            r#"{"SecretId":"edge/unknown","Unknown":[]}"#,
        )
        .signed()
        .send(),
    );
    // A null Description was not stored as anything.
    assert!(described.get("Description").is_none(), "{described}");
    // Response members that are absent are omitted, never null.
    for (member, value) in described.as_object().unwrap() {
        assert!(!value.is_null(), "DescribeSecret member {member} is null");
    }

    // A null required member is the same as a missing one.
    let response = RawRequest::op(&server, "GetSecretValue", r#"{"SecretId":null}"#)
        .signed()
        .send();
    assert_error_message(
        &response,
        400,
        "ValidationException",
        Key::Framework,
        MISSING_SECRET_ID,
    );

    // ListSecrets with null members and unknown ones.
    let listed = assert_ok(
        &RawRequest::op(
            &server,
            "ListSecrets",
            r#"{"MaxResults":null,"NextToken":null,"Filters":null,"Whatever":1}"#,
        )
        .signed()
        .send(),
    );
    assert_eq!(listed["SecretList"].as_array().unwrap().len(), 1);
}

#[test]
fn plain_json_content_type_and_other_paths_are_accepted() {
    let server = Server::start();
    let mut request = RawRequest::op(&server, "ListSecrets", "{}");
    for (name, value) in &mut request.headers {
        if name == "content-type" {
            *value = "application/json".into();
        }
    }
    assert_ok(&request.signed().send());

    // An endpoint URL with a path prefix: the SDK posts (and signs) that path.
    let mut request = RawRequest::op(&server, "ListSecrets", "{}");
    request.path = "/coffer/api/".into();
    assert_ok(&request.signed().send());
}

#[test]
fn an_empty_body_is_an_empty_object() {
    let server = Server::start();
    for body in ["", "   \r\n\t"] {
        let listed = assert_ok(&RawRequest::op(&server, "ListSecrets", body).signed().send());
        assert_eq!(listed["SecretList"], json!([]), "body {body:?}");

        let response = RawRequest::op(&server, "GetSecretValue", body)
            .signed()
            .send();
        assert_error_message(
            &response,
            400,
            "ValidationException",
            Key::Framework,
            MISSING_SECRET_ID,
        );
    }
    // GetRandomPassword needs no member at all: the default length is 32.
    let password = assert_ok(
        &RawRequest::op(&server, "GetRandomPassword", "")
            .signed()
            .send(),
    );
    assert_eq!(
        password["RandomPassword"].as_str().unwrap().chars().count(),
        32
    );
}

#[test]
fn validation_failures_use_the_model_constraint_messages() {
    let server = Server::start();
    // Missing required member (AWS-recorded text).
    for operation in ["GetSecretValue", "DescribeSecret", "ListSecretVersionIds"] {
        let response = RawRequest::op(&server, operation, "{}").signed().send();
        assert_error_message(
            &response,
            400,
            "ValidationException",
            Key::Framework,
            MISSING_SECRET_ID,
        );
    }
    // Range and length constraints, in the shared grammar.
    let response = RawRequest::op(&server, "ListSecrets", r#"{"MaxResults":101}"#)
        .signed()
        .send();
    assert_error_message(
        &response,
        400,
        "ValidationException",
        Key::Framework,
        "1 validation error detected: Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100",
    );
    let response = RawRequest::op(&server, "GetRandomPassword", r#"{"PasswordLength":5000}"#)
        .signed()
        .send();
    assert_error_message(
        &response,
        400,
        "ValidationException",
        Key::Framework,
        "1 validation error detected: Value '5000' at 'passwordLength' failed to satisfy constraint: Member must have value less than or equal to 4096",
    );
    let response = RawRequest::op(&server, "GetSecretValue", r#"{"SecretId":""}"#)
        .signed()
        .send();
    assert_error_message(
        &response,
        400,
        "ValidationException",
        Key::Framework,
        "1 validation error detected: Value '' at 'secretId' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );

    // A sensitive member is never echoed.
    let secret_marker = "NEVER-ECHO-".repeat(6000); // 66000 characters > 65536
    let response = RawRequest::op(
        &server,
        "CreateSecret",
        json!({"Name": "edge/long", "ClientRequestToken": token(), "SecretString": secret_marker})
            .to_string(),
    )
    .signed()
    .send();
    let message = assert_error(&response, 400, "ValidationException", Key::Framework);
    assert_eq!(
        message,
        "1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to 65536"
    );

    // Two violations at once: "2 validation errors detected", items joined by "; ".
    let response = RawRequest::op(
        &server,
        "ListSecretVersionIds",
        r#"{"SecretId":"","MaxResults":0}"#,
    )
    .signed()
    .send();
    let message = assert_error(&response, 400, "ValidationException", Key::Framework);
    assert!(
        message.starts_with("2 validation errors detected: "),
        "{message}"
    );
    assert!(message.contains("; "), "{message}");
    assert!(
        message.contains("Value '' at 'secretId' failed to satisfy constraint: Member must have length greater than or equal to 1"),
        "{message}"
    );
    assert!(
        message.contains("Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"),
        "{message}"
    );

    // A modeled exception carries `Message` (capital M): a raw CreateSecret without a token.
    let response = RawRequest::op(
        &server,
        "CreateSecret",
        r#"{"Name":"edge/no-token","SecretString":"v"}"#,
    )
    .signed()
    .send();
    assert_error_message(
        &response,
        400,
        "InvalidRequestException",
        Key::Modeled,
        "You must provide a ClientRequestToken value. We recommend a UUID-type value.",
    );
    let response = RawRequest::op(&server, "GetSecretValue", r#"{"SecretId":"edge/none"}"#)
        .signed()
        .send();
    assert_error_message(
        &response,
        400,
        "ResourceNotFoundException",
        Key::Modeled,
        "Secrets Manager can't find the specified secret.",
    );
}

#[test]
fn a_body_over_512_kib_is_refused_and_the_server_keeps_serving() {
    let server = Server::start();
    // A ListSecrets body of exactly the limit (an ignored member as padding) is accepted.
    let padded = |total: usize| {
        let prefix = r#"{"Padding":""#;
        let suffix = r#""}"#;
        let mut body = String::with_capacity(total);
        body.push_str(prefix);
        body.push_str(&"a".repeat(total - prefix.len() - suffix.len()));
        body.push_str(suffix);
        assert_eq!(body.len(), total);
        body
    };
    let at_limit = RawRequest::op(&server, "ListSecrets", padded(MAX_BODY_BYTES)).signed();
    assert_ok(&at_limit.send());
    assert_ok(&at_limit.send_chunked(64 * 1024));

    let expect_too_large = |response: &RawResponse, how: &str| {
        assert_eq!(
            response.status,
            413,
            "{how}: {response:?} {}",
            response.text()
        );
        assert_api_headers(response);
        let body = response.json();
        assert_eq!(body["__type"], "SerializationException", "{how}: {body}");
        assert!(body["message"].is_string(), "{how}: {body}");
    };

    // One byte over, truthful Content-Length (refused before the body is read).
    let over = RawRequest::op(&server, "ListSecrets", padded(MAX_BODY_BYTES + 1)).signed();
    expect_too_large(&over.send(), "Content-Length, limit + 1");
    // One byte over, chunked (refused while reading).
    expect_too_large(&over.send_chunked(64 * 1024), "chunked, limit + 1");
    expect_too_large(
        &over.send_chunked(1000),
        "chunked in small pieces, limit + 1",
    );

    // A big CreateSecret of 2 MiB, both framings; nothing is created.
    let big = RawRequest::op(
        &server,
        "CreateSecret",
        json!({"Name": "edge/huge", "ClientRequestToken": token(),
               "SecretString": "x".repeat(2 * 1024 * 1024)})
        .to_string(),
    )
    .signed();
    expect_too_large(&big.send(), "Content-Length, 2 MiB");
    expect_too_large(&big.send_chunked(256 * 1024), "chunked, 2 MiB");

    // On a keep-alive connection, the unread rest of a refused body is never parsed as the
    // next request: the server either closes the connection or answers the next request.
    {
        let mut bytes = over.head_with(&format!("content-length: {}\r\n", over.body.len()), true);
        bytes.extend_from_slice(&over.body);
        let mut stream = TcpStream::connect(server.host()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        let upload = std::thread::spawn(move || {
            let _ = writer.write_all(&bytes);
        });
        let first = read_one_response(&mut stream).expect("the 413 response");
        expect_too_large(&first, "keep-alive, limit + 1");
        let next = RawRequest::op(&server, "ListSecrets", "{}").signed();
        let mut second = next.head_with("content-length: 2\r\n", true);
        second.extend_from_slice(b"{}");
        if stream.write_all(&second).is_ok() {
            // Either the connection is closed, or the next request is answered properly.
            if let Some(response) = read_one_response(&mut stream) {
                assert_ok(&response);
            }
        }
        drop(stream);
        let _ = upload.join();
    }

    // The server keeps serving, on new connections, signed and unsigned.
    let health = RawRequest {
        method: "GET",
        path: "/health".into(),
        host: server.host(),
        headers: vec![("host".into(), server.host())],
        body: Vec::new(),
    }
    .send();
    assert_eq!(health.status, 200);
    let listed = assert_ok(&RawRequest::op(&server, "ListSecrets", "{}").signed().send());
    assert_eq!(listed["SecretList"], json!([]));
}

// -------------------------------------------------------------------------------------------
// Dispatch
// -------------------------------------------------------------------------------------------

#[test]
fn missing_unknown_and_foreign_targets_are_unknown_operations() {
    let server = Server::start();
    let targets: [Option<&str>; 7] = [
        None,
        Some("secretsmanager.Nope"),
        Some("secretsmanager.listSecrets"), // the operation name is case-sensitive
        Some("secretsmanager."),
        Some("SecretsManager.ListSecrets"), // so is the prefix
        Some("DynamoDB_20120810.ListTables"),
        Some("ListSecrets"),
    ];
    for target in targets {
        let response = RawRequest::api(&server, target, "{}").signed().send();
        let message = assert_error(&response, 400, "UnknownOperationException", Key::Framework);
        assert!(
            message.is_empty() || !message.contains("Nope"),
            "{target:?}: {message:?}"
        );
    }
}

// -------------------------------------------------------------------------------------------
// Authentication
// -------------------------------------------------------------------------------------------

#[test]
fn an_unsigned_target_header_is_an_incomplete_signature() {
    let server = Server::start();
    // Signed without X-Amz-Target, which is added afterwards.
    let response = RawRequest::api(&server, None, "{}")
        .signed()
        .header("x-amz-target", "secretsmanager.ListSecrets")
        .send();
    assert_error_message(
        &response,
        400,
        "IncompleteSignatureException",
        Key::Framework,
        "'x-amz-target' must be a 'SignedHeader' in the AWS Authorization.",
    );
}

#[test]
fn a_request_without_authorization_is_missing_an_authentication_token() {
    let server = Server::start();
    for (operation, body) in [
        ("ListSecrets", "{}"),
        ("GetSecretValue", r#"{"SecretId":"x"}"#),
        ("Nope", "{}"),
    ] {
        let response = RawRequest::op(&server, operation, body).send();
        assert_error_message(
            &response,
            400,
            "MissingAuthenticationTokenException",
            Key::Framework,
            "Missing Authentication Token",
        );
    }
    // An X-Amz-Date alone is no authentication either.
    let response = RawRequest::op(&server, "ListSecrets", "{}")
        .header("x-amz-date", &amz_date(SystemTime::now()))
        .send();
    assert_error_message(
        &response,
        400,
        "MissingAuthenticationTokenException",
        Key::Framework,
        "Missing Authentication Token",
    );
}

#[test]
fn an_unknown_access_key_is_unrecognized() {
    let server = Server::start();
    let response = RawRequest::op(&server, "ListSecrets", "{}")
        .signed_by(&Signer::admin().access_key_id("AKIAUNKNOWNKEY000001"))
        .send();
    assert_error_message(
        &response,
        400,
        "UnrecognizedClientException",
        Key::Framework,
        "The security token included in the request is invalid.",
    );
}

#[test]
fn a_wrong_secret_or_a_tampered_request_is_a_signature_mismatch() {
    let server = Server::start();
    // Wrong secret key for a known access key.
    let response = RawRequest::op(&server, "ListSecrets", "{}")
        .signed_by(&Signer::admin().secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"))
        .send();
    assert_error_message(
        &response,
        400,
        "InvalidSignatureException",
        Key::Framework,
        MISMATCH,
    );

    // Body changed after signing (same length).
    let mut tampered = RawRequest::op(&server, "ListSecrets", r#"{"MaxResults":1}"#).signed();
    tampered.body = br#"{"MaxResults":2}"#.to_vec();
    assert_error_message(
        &tampered.send(),
        400,
        "InvalidSignatureException",
        Key::Framework,
        MISMATCH,
    );

    // A signed header changed after signing: the target.
    let mut retargeted = RawRequest::op(&server, "ListSecrets", "{}").signed();
    for (name, value) in &mut retargeted.headers {
        if name == "x-amz-target" {
            *value = "secretsmanager.GetRandomPassword".into();
        }
    }
    assert_error_message(
        &retargeted.send(),
        400,
        "InvalidSignatureException",
        Key::Framework,
        MISMATCH,
    );

    // The untampered request works.
    assert_ok(
        &RawRequest::op(&server, "ListSecrets", r#"{"MaxResults":1}"#)
            .signed()
            .send(),
    );
}

#[test]
fn requests_outside_the_five_minute_window_are_refused() {
    let server = Server::start();
    let six_minutes = Duration::from_secs(6 * 60);

    let sent_at = jiff::Timestamp::now();
    let old = SystemTime::now() - six_minutes;
    let response = RawRequest::op(&server, "ListSecrets", "{}")
        .signed_by(&Signer::admin().at(old))
        .send();
    let message = assert_error(&response, 400, "InvalidSignatureException", Key::Framework);
    // Signature expired: {amzdate} is now earlier than {now - 5 min} ({now} - 5 min.)
    let rest = message
        .strip_prefix(&format!(
            "Signature expired: {} is now earlier than ",
            amz_date(old)
        ))
        .unwrap_or_else(|| panic!("{message:?}"));
    let rest = rest
        .strip_suffix(" - 5 min.)")
        .unwrap_or_else(|| panic!("{message:?}"));
    let (bound, now) = rest
        .split_once(" (")
        .unwrap_or_else(|| panic!("{message:?}"));
    let (bound, now) = (parse_amz_date(bound), parse_amz_date(now));
    assert_eq!(
        now - jiff::SignedDuration::from_secs(300),
        bound,
        "{message:?}"
    );
    let skew = (now.as_second() - sent_at.as_second()).abs();
    assert!(skew <= 30, "server time in {message:?} is {skew} s off");

    let sent_at = jiff::Timestamp::now();
    let future = SystemTime::now() + six_minutes;
    let response = RawRequest::op(&server, "ListSecrets", "{}")
        .signed_by(&Signer::admin().at(future))
        .send();
    let message = assert_error(&response, 400, "InvalidSignatureException", Key::Framework);
    // Signature not yet current: {amzdate} is still later than {now + 5 min} ({now} + 5 min.)
    let rest = message
        .strip_prefix(&format!(
            "Signature not yet current: {} is still later than ",
            amz_date(future)
        ))
        .unwrap_or_else(|| panic!("{message:?}"));
    let rest = rest
        .strip_suffix(" + 5 min.)")
        .unwrap_or_else(|| panic!("{message:?}"));
    let (bound, now) = rest
        .split_once(" (")
        .unwrap_or_else(|| panic!("{message:?}"));
    let (bound, now) = (parse_amz_date(bound), parse_amz_date(now));
    assert_eq!(
        now + jiff::SignedDuration::from_secs(300),
        bound,
        "{message:?}"
    );
    let skew = (now.as_second() - sent_at.as_second()).abs();
    assert!(skew <= 30, "server time in {message:?} is {skew} s off");

    // Inside the window (4 minutes either way) is fine.
    for time in [
        SystemTime::now() - Duration::from_secs(240),
        SystemTime::now() + Duration::from_secs(240),
    ] {
        assert_ok(
            &RawRequest::op(&server, "ListSecrets", "{}")
                .signed_by(&Signer::admin().at(time))
                .send(),
        );
    }
}

#[test]
fn the_credential_scope_must_name_this_region_and_service() {
    let server = Server::start();
    let response = RawRequest::op(&server, "ListSecrets", "{}")
        .signed_by(&Signer::admin().region("eu-west-1"))
        .send();
    assert_error_message(
        &response,
        400,
        "InvalidSignatureException",
        Key::Framework,
        "Credential should be scoped to a valid region, not 'eu-west-1'. ",
    );

    let response = RawRequest::op(&server, "ListSecrets", "{}")
        .signed_by(&Signer::admin().service("kms"))
        .send();
    assert_error_message(
        &response,
        400,
        "InvalidSignatureException",
        Key::Framework,
        "Credential should be scoped to correct service: 'secretsmanager'. ",
    );
}

#[test]
fn a_malformed_authorization_header_is_an_incomplete_signature() {
    let server = Server::start();
    let date = amz_date(SystemTime::now());
    let day = &date[..8];
    let credential =
        format!("Credential={ACCESS_KEY_ID}/{day}/{REGION}/secretsmanager/aws4_request");
    let signature = format!("Signature={}", "0".repeat(64));
    let headers = "SignedHeaders=content-type;host;x-amz-date;x-amz-target";
    let malformed = [
        // Signature and SignedHeaders missing.
        (format!("AWS4-HMAC-SHA256 {credential}"), "Signature"),
        // Credential missing.
        (
            format!("AWS4-HMAC-SHA256 {headers}, {signature}"),
            "Credential",
        ),
        // SignedHeaders missing.
        (
            format!("AWS4-HMAC-SHA256 {credential}, {signature}"),
            "SignedHeaders",
        ),
    ];
    for (authorization, missing) in &malformed {
        let response = RawRequest::op(&server, "ListSecrets", "{}")
            .header("x-amz-date", &date)
            .header("authorization", authorization)
            .send();
        let message = assert_error(
            &response,
            400,
            "IncompleteSignatureException",
            Key::Framework,
        );
        assert!(
            message.contains(&format!(
                "Authorization header requires '{missing}' parameter."
            )),
            "{authorization:?}: {message:?}"
        );
        // The signature value is never echoed back.
        assert!(
            !message.contains(&"0".repeat(64)),
            "{authorization:?}: {message:?}"
        );
    }

    // A credential without five parts.
    let response = RawRequest::op(&server, "ListSecrets", "{}")
        .header("x-amz-date", &date)
        .header(
            "authorization",
            &format!(
                "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/{day}/{REGION}, {headers}, {signature}"
            ),
        )
        .send();
    assert_error(
        &response,
        400,
        "IncompleteSignatureException",
        Key::Framework,
    );

    // A scope that does not end in aws4_request.
    let signed = RawRequest::op(&server, "ListSecrets", "{}").signed();
    let mut bad_terminator = signed.clone();
    for (name, value) in &mut bad_terminator.headers {
        if name == "authorization" {
            *value = value.replace("/aws4_request", "/aws4_requesx");
        }
    }
    // The spec's table says IncompleteSignatureException, both type and text marked [?];
    // Coffer answers InvalidSignatureException. Accept either, insist on the text.
    let response = bad_terminator.send();
    let error_type = assert_any_error_shape(&response);
    assert!(
        error_type == "IncompleteSignatureException" || error_type == "InvalidSignatureException",
        "{error_type}"
    );
    let message = assert_error(&response, 400, &error_type, Key::Framework);
    assert!(
        message.starts_with(
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_requesx'."
        ),
        "{message:?}"
    );

    // A scope date that differs from the X-Amz-Date.
    let mut other_day = signed.clone();
    let signed_at = signed
        .headers
        .iter()
        .find(|(name, _)| name == "x-amz-date")
        .map(|(_, value)| value.clone())
        .unwrap();
    let signed_day = &signed_at[..8];
    let yesterday = amz_date(SystemTime::now() - Duration::from_secs(86_400))[..8].to_owned();
    for (name, value) in &mut other_day.headers {
        if name == "authorization" {
            *value = value.replace(&format!("/{signed_day}/"), &format!("/{yesterday}/"));
        }
    }
    let message = assert_error(
        &other_day.send(),
        400,
        "InvalidSignatureException",
        Key::Framework,
    );
    assert!(
        message.starts_with(&format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{yesterday}' != '{signed_day}', from '{signed_at}'."
        )),
        "{message:?}"
    );

    // No date at all.
    let response = RawRequest::op(&server, "ListSecrets", "{}")
        .header(
            "authorization",
            &format!("AWS4-HMAC-SHA256 {credential}, {headers}, {signature}"),
        )
        .send();
    let message = assert_error(
        &response,
        400,
        "IncompleteSignatureException",
        Key::Framework,
    );
    // AWS appends an echo of the Authorization header (spec: wording [?]).
    assert!(
        message.starts_with(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        ),
        "{message:?}"
    );
    assert!(!message.contains(&"0".repeat(64)), "{message:?}");
}

// -------------------------------------------------------------------------------------------
// Response shape
// -------------------------------------------------------------------------------------------

#[test]
fn every_response_carries_a_request_id_and_the_json_content_type() {
    let server = Server::start();
    let responses = vec![
        RawRequest::op(
            &server,
            "CreateSecret",
            json!({"Name": "ids/a", "ClientRequestToken": token(), "SecretString": "v"})
                .to_string(),
        )
        .signed()
        .send(),
        RawRequest::op(&server, "GetSecretValue", r#"{"SecretId":"ids/a"}"#)
            .signed()
            .send(),
        RawRequest::op(&server, "ListSecrets", "").signed().send(),
        RawRequest::op(
            &server,
            "TagResource",
            r#"{"SecretId":"ids/a","Tags":[{"Key":"k","Value":"v"}]}"#,
        )
        .signed()
        .send(),
        // Errors from every layer.
        RawRequest::op(&server, "GetSecretValue", r#"{"SecretId":"ids/none"}"#)
            .signed()
            .send(),
        RawRequest::op(&server, "GetSecretValue", "{}")
            .signed()
            .send(),
        RawRequest::op(&server, "GetSecretValue", "{")
            .signed()
            .send(),
        RawRequest::op(&server, "Nope", "{}").signed().send(),
        RawRequest::api(&server, None, "{}").send(),
        RawRequest::op(&server, "ListSecrets", "{}").send(),
        RawRequest::op(&server, "ListSecrets", "{}")
            .signed_by(&Signer::admin().secret("x".repeat(40).as_str()))
            .send(),
        RawRequest::op(&server, "ListSecrets", "{}")
            .signed_by(&Signer::admin().access_key_id("AKIAUNKNOWNKEY000001"))
            .send(),
        RawRequest::op(&server, "ListSecrets", vec![b'a'; MAX_BODY_BYTES + 1])
            .signed()
            .send(),
    ];
    let mut ids = std::collections::HashSet::new();
    for response in &responses {
        assert_api_headers(response);
        if response.status != 200 {
            assert_any_error_shape(response);
        }
        let id = response.header("x-amzn-RequestId").unwrap().to_owned();
        assert!(ids.insert(id.clone()), "request id {id} was reused");
    }
    assert_eq!(responses[0].status, 200);
    assert_eq!(responses[1].status, 200);
}

#[test]
fn tag_and_untag_answer_200_with_an_empty_body() {
    let server = Server::start();
    assert_ok(
        &RawRequest::op(
            &server,
            "CreateSecret",
            json!({"Name": "tags/a", "ClientRequestToken": token(), "SecretString": "v"})
                .to_string(),
        )
        .signed()
        .send(),
    );
    let tagged = RawRequest::op(
        &server,
        "TagResource",
        r#"{"SecretId":"tags/a","Tags":[{"Key":"team","Value":"core"},{"Key":"env","Value":"prod"}]}"#,
    )
    .signed()
    .send();
    assert_eq!(tagged.status, 200, "{}", tagged.text());
    assert_api_headers(&tagged);
    assert!(tagged.body.is_empty(), "{:?}", tagged.text());
    assert_eq!(tagged.header("content-length"), Some("0"));

    let untagged = RawRequest::op(
        &server,
        "UntagResource",
        r#"{"SecretId":"tags/a","TagKeys":["env","not-there"]}"#,
    )
    .signed()
    .send();
    assert_eq!(untagged.status, 200, "{}", untagged.text());
    assert_api_headers(&untagged);
    assert!(untagged.body.is_empty(), "{:?}", untagged.text());
    assert_eq!(untagged.header("content-length"), Some("0"));

    let described = assert_ok(
        &RawRequest::op(&server, "DescribeSecret", r#"{"SecretId":"tags/a"}"#)
            .signed()
            .send(),
    );
    assert_eq!(described["Tags"], json!([{"Key": "team", "Value": "core"}]));
}

#[test]
fn health_answers_without_authentication() {
    let server = Server::start();
    let host = server.host();
    let response = RawRequest {
        method: "GET",
        path: "/health".into(),
        host: host.clone(),
        headers: vec![("host".into(), host)],
        body: Vec::new(),
    }
    .send();
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json()["status"], "ok");
}

#[test]
fn secret_binary_stored_raw_comes_back_as_the_same_base64_text() {
    let server = Server::start();
    let created = assert_ok(
        &RawRequest::op(
            &server,
            "CreateSecret",
            json!({"Name": "bin", "ClientRequestToken": token(), "SecretBinary": "AAEC/w=="})
                .to_string(),
        )
        .signed()
        .send(),
    );
    let arn = created["ARN"].as_str().unwrap();
    assert!(
        arn.starts_with(&format!(
            "arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:bin-"
        )),
        "{arn}"
    );
    let read = RawRequest::op(&server, "GetSecretValue", r#"{"SecretId":"bin"}"#)
        .signed()
        .send();
    let value = assert_ok(&read);
    assert_eq!(value["SecretBinary"], "AAEC/w==");
    assert!(value.get("SecretString").is_none(), "{value}");
    // The text on the wire is exactly that (no escaping of '/').
    assert!(
        read.text().contains(r#""SecretBinary":"AAEC/w==""#),
        "{}",
        read.text()
    );

    let batch = assert_ok(
        &RawRequest::op(
            &server,
            "BatchGetSecretValue",
            r#"{"SecretIdList":["bin"]}"#,
        )
        .signed()
        .send(),
    );
    assert_eq!(batch["SecretValues"][0]["SecretBinary"], "AAEC/w==");
}

// -------------------------------------------------------------------------------------------
// Fuzz
// -------------------------------------------------------------------------------------------

/// xorshift64*: small, seeded, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const OPERATIONS: &[&str] = &[
    "BatchGetSecretValue",
    "CancelRotateSecret",
    "CreateSecret",
    "DeleteResourcePolicy",
    "DeleteSecret",
    "DescribeSecret",
    "GetRandomPassword",
    "GetResourcePolicy",
    "GetSecretValue",
    "ListSecretVersionIds",
    "ListSecrets",
    "PutResourcePolicy",
    "PutSecretValue",
    "RemoveRegionsFromReplication",
    "ReplicateSecretToRegions",
    "RestoreSecret",
    "RotateSecret",
    "StopReplicationToReplica",
    "TagResource",
    "UntagResource",
    "UpdateSecret",
    "UpdateSecretVersionStage",
    "ValidateResourcePolicy",
    "Nope",
];

const MEMBERS: &[&str] = &[
    "SecretId",
    "Name",
    "SecretString",
    "SecretBinary",
    "ClientRequestToken",
    "VersionId",
    "VersionStage",
    "VersionStages",
    "Description",
    "KmsKeyId",
    "Tags",
    "TagKeys",
    "Key",
    "Value",
    "Values",
    "Filters",
    "MaxResults",
    "NextToken",
    "SortOrder",
    "SortBy",
    "IncludeDeprecated",
    "IncludePlannedDeletion",
    "RecoveryWindowInDays",
    "ForceDeleteWithoutRecovery",
    "PasswordLength",
    "ExcludeCharacters",
    "ExcludeNumbers",
    "IncludeSpace",
    "RequireEachIncludedType",
    "RotationRules",
    "AutomaticallyAfterDays",
    "Duration",
    "ScheduleExpression",
    "RotationLambdaARN",
    "RotateImmediately",
    "RotationToken",
    "SecretIdList",
    "MoveToVersionId",
    "RemoveFromVersionId",
    "ResourcePolicy",
    "BlockPublicPolicy",
    "AddReplicaRegions",
    "RemoveReplicaRegions",
    "Region",
    "ForceOverwriteReplicaSecret",
    "Unknown",
];

const STRINGS: &[&str] = &[
    "",
    "fuzz/a",
    "fuzz/b",
    "AWSCURRENT",
    "AWSPREVIOUS",
    "AWSPENDING",
    "arn:aws:secretsmanager:us-east-1:111122223333:secret:fuzz/a-AbCdEf",
    "arn:aws:secretsmanager:eu-west-1:999999999999:secret:x",
    "AAEC/w==",
    "not base64!",
    "00000000-0000-4000-8000-000000000000",
    "eu-west-1",
    "rate(10 days)",
    "cron(0 0 * * ? *)",
    "2h",
    "asc",
    "name",
    "all",
    "{\"Version\":\"2012-10-17\",\"Statement\":[]}",
    "\u{0}",
    "\u{feff}",
    "日本語のシークレット",
    "\u{1F511}",
    "a/b/c/../d",
    "%00%ff",
    "!not",
];

fn random_string(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => {
            let len = rng.below(80);
            (0..len)
                .map(|_| char::from(32 + rng.below(95) as u8))
                .collect()
        }
        1 => {
            let len = [1, 31, 32, 64, 65, 257, 2049, 4097][rng.below(8)];
            "x".repeat(len)
        }
        2 => (0..rng.below(20))
            .filter_map(|_| char::from_u32(rng.next() as u32 % 0x11_0000))
            .collect(),
        _ => (*rng.pick(STRINGS)).to_owned(),
    }
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    let kinds = if depth >= 3 { 6 } else { 9 };
    match rng.below(kinds) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => json!(
            [
                0i64,
                1,
                -1,
                7,
                30,
                100,
                101,
                4096,
                i64::MAX,
                i64::MIN,
                i32::MAX as i64 + 1
            ][rng.below(11)]
        ),
        3 => json!([u64::MAX, 1e30f64 as u64][rng.below(2)]),
        4 => serde_json::Number::from_f64([0.5, -0.0, 1e300, 3.25, -7.5][rng.below(5)])
            .map(Value::Number)
            .unwrap_or(Value::Null),
        5 => Value::String(random_string(rng)),
        6 | 7 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => random_object(rng, depth + 1),
    }
}

fn random_object(rng: &mut Rng, depth: usize) -> Value {
    let mut object = serde_json::Map::new();
    for _ in 0..rng.below(6) {
        object.insert((*rng.pick(MEMBERS)).to_owned(), random_value(rng, depth));
    }
    Value::Object(object)
}

/// JSON-ish token soup, to hit the parser's error paths.
fn random_token_soup(rng: &mut Rng) -> Vec<u8> {
    const TOKENS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"SecretId\"",
        "\"Name\"",
        "\"Tags\"",
        "\"MaxResults\"",
        "null",
        "true",
        "1e999",
        "-0",
        "01",
        "\"\\ud800\"",
        "\"\\u0000\"",
        "\"\\x\"",
        "\"",
        " ",
        "\n",
        "NaN",
        "Infinity",
        "/* c */",
    ];
    let mut out = Vec::new();
    if rng.below(2) == 0 {
        out.push(b'{');
    }
    for _ in 0..rng.below(20) {
        out.extend_from_slice(rng.pick(TOKENS).as_bytes());
    }
    out
}

/// A value of the member's model type (mostly), with random content.
fn typed_value(rng: &mut Rng, member: &str) -> Value {
    if rng.below(8) == 0 {
        return random_value(rng, 1);
    }
    let string = |rng: &mut Rng| -> Value {
        match rng.below(3) {
            0 => json!(["fuzz/a", "fuzz/b"][rng.below(2)]),
            1 => json!(uuid::Uuid::from_u64_pair(rng.next(), rng.next()).to_string()),
            _ => Value::String(random_string(rng)),
        }
    };
    match member {
        "MaxResults" | "RecoveryWindowInDays" | "PasswordLength" | "AutomaticallyAfterDays" => {
            json!([0i64, 1, 2, 7, 20, 30, 100, 101, 4096, 5000, -3][rng.below(11)])
        }
        "IncludeDeprecated"
        | "IncludePlannedDeletion"
        | "ForceDeleteWithoutRecovery"
        | "ExcludeNumbers"
        | "IncludeSpace"
        | "RequireEachIncludedType"
        | "RotateImmediately"
        | "BlockPublicPolicy"
        | "ForceOverwriteReplicaSecret" => Value::Bool(rng.below(2) == 0),
        "VersionStages" | "TagKeys" | "Values" | "SecretIdList" | "RemoveReplicaRegions" => {
            Value::Array((0..rng.below(4)).map(|_| string(rng)).collect())
        }
        "Tags" => Value::Array(
            (0..rng.below(4))
                .map(|_| json!({"Key": string(rng), "Value": string(rng)}))
                .collect(),
        ),
        "Filters" => Value::Array(
            (0..rng.below(3))
                .map(|_| {
                    let key = [
                        "name",
                        "tag-key",
                        "tag-value",
                        "description",
                        "all",
                        "bogus",
                    ][rng.below(6)];
                    json!({"Key": key, "Values": [string(rng)]})
                })
                .collect(),
        ),
        "RotationRules" => {
            let days = [0i64, 1, 30, 1001][rng.below(4)];
            let duration = ["2h", "25h", "x"][rng.below(3)];
            json!({
                "AutomaticallyAfterDays": days,
                "ScheduleExpression": string(rng),
                "Duration": duration,
            })
        }
        "AddReplicaRegions" => json!([{"Region": string(rng)}]),
        "SecretBinary" => json!(["AAEC/w==", "", "Zm9vdGVzdA==", "@@"][rng.below(4)]),
        _ => string(rng),
    }
}

fn typed_object(rng: &mut Rng) -> Value {
    let mut object = serde_json::Map::new();
    for _ in 0..1 + rng.below(5) {
        let member = *rng.pick(MEMBERS);
        object.insert(member.to_owned(), typed_value(rng, member));
    }
    Value::Object(object)
}

fn random_body(rng: &mut Rng) -> Vec<u8> {
    match rng.below(8) {
        6 | 7 => typed_object(rng).to_string().into_bytes(),
        0 => (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
        1 => random_value(rng, 0).to_string().into_bytes(),
        2 => random_token_soup(rng),
        3 => {
            // A valid-looking object with one byte flipped.
            let mut body = random_object(rng, 0).to_string().into_bytes();
            if !body.is_empty() {
                let at = rng.below(body.len());
                body[at] = rng.next() as u8;
            }
            body
        }
        _ => random_object(rng, 0).to_string().into_bytes(),
    }
}

#[test]
fn random_bodies_never_cause_a_server_error() {
    let seed: u64 = std::env::var("COFFER_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x00c0_ffee_5eed_2025);
    let iterations: usize = std::env::var("COFFER_FUZZ_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400);
    let server = Server::start();
    for name in ["fuzz/a", "fuzz/b"] {
        assert_ok(
            &RawRequest::op(
                &server,
                "CreateSecret",
                json!({"Name": name, "ClientRequestToken": token(), "SecretString": "seed"})
                    .to_string(),
            )
            .signed()
            .send(),
        );
    }

    // splitmix-style scramble so that nearby seeds give unrelated streams (never 0).
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let started = Instant::now();
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..iterations {
        let operation = *rng.pick(OPERATIONS);
        let body = random_body(&mut rng);
        let request = RawRequest::op(&server, operation, body.clone()).signed();
        let response = if rng.below(5) == 0 {
            request.send_chunked(1 + rng.below(64))
        } else {
            request.send()
        };
        let context = || {
            format!(
                "iteration {i} (seed {seed}): {operation} with body {:?}",
                String::from_utf8_lossy(&body)
            )
        };
        assert!(
            response.status == 200 || (400..500).contains(&response.status),
            "{}: status {} {}",
            context(),
            response.status,
            response.text()
        );
        assert_api_headers(&response);
        let outcome = if response.status == 200 {
            if !response.body.is_empty() {
                assert!(response.json().is_object(), "{}", context());
            }
            "200".to_owned()
        } else {
            assert_any_error_shape(&response)
        };
        *statuses.entry(outcome).or_default() += 1;
    }
    eprintln!(
        "fuzz: {iterations} requests in {:?}, outcomes {statuses:?}",
        started.elapsed()
    );

    // Still up and consistent.
    let read = assert_ok(
        &RawRequest::op(&server, "ListSecrets", r#"{"IncludePlannedDeletion":true}"#)
            .signed()
            .send(),
    );
    assert!(read["SecretList"].is_array());
    assert!(
        !server.log().contains("panicked"),
        "the server log shows a panic:\n{}",
        server.log()
    );
}
