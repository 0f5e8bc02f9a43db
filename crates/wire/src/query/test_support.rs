//! Helpers shared by the IAM, STS and Query-runtime tests: running botocore over our output.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

pub(crate) fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// True if python3 with botocore is installed; prints a SKIPPED line otherwise.
pub(crate) fn botocore_available() -> bool {
    let available = Command::new("python3")
        .args(["-c", "import botocore"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !available {
        eprintln!("SKIPPED: python3 with botocore is not installed (CI has both)");
    }
    available
}

/// Runs a Python script with `input` as JSON on stdin and parses its stdout as JSON.
pub(crate) fn python_json(script: &str, args: &[&str], input: &Value) -> Value {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        &serde_json::to_vec(input).unwrap(),
    )
    .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "python printed no JSON ({err}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Parses responses with botocore's own Query parser, the way a boto3 client does.
///
/// Input: `[{"op": .., "status": .., "body": ..}]`. Success bodies are parsed with the operation's
/// output shape and then run through `json_decode_policies` (which botocore registers for IAM);
/// error bodies go through the error parser. Timestamps come back as ISO 8601 strings;
/// `ResponseMetadata` keeps only what the XML carried.
pub(crate) const BOTOCORE_PARSE: &str = r#"
import json, sys
import botocore.session
from botocore.handlers import json_decode_policies
from botocore.parsers import create_parser

service = sys.argv[1]
model = botocore.session.get_session().get_service_model(service)
parser = create_parser(model.metadata["protocol"])
out = []
for case in json.load(sys.stdin):
    op = model.operation_model(case["op"])
    response = {"status_code": case["status"], "headers": {}, "body": case["body"].encode()}
    parsed = parser.parse(response, op.output_shape)
    if case["status"] < 300 and service == "iam":
        json_decode_policies(parsed, op)
    # Added by the parser from the (empty) HTTP envelope, not from our XML.
    for key in ("HTTPHeaders", "HTTPStatusCode"):
        parsed.get("ResponseMetadata", {}).pop(key, None)
    out.append(parsed)
print(json.dumps(out, sort_keys=True,
                 default=lambda v: v.isoformat() if hasattr(v, "isoformat") else repr(v)))
"#;

/// Serializes requests with botocore's own Query serializer and form-encodes them as its HTTP layer
/// does. Input: `[{"op": .., "params": {..}}]`; output: the bodies.
pub(crate) const BOTOCORE_SERIALIZE: &str = r#"
import json, sys
from urllib.parse import urlencode
import botocore.session
from botocore.serialize import create_serializer

model = botocore.session.get_session().get_service_model(sys.argv[1])
serializer = create_serializer("query")
out = []
for case in json.load(sys.stdin):
    request = serializer.serialize_to_request(case["params"], model.operation_model(case["op"]))
    pairs = [(k.encode("utf-8"), str(v).encode("utf-8")) for k, v in request["body"].items()]
    out.append(urlencode(pairs, doseq=True))
print(json.dumps(out))
"#;

/// Maps error codes to botocore's modeled exception classes through a real (offline) client.
/// Input: a list of codes; output: the exception class names (`ClientError` for unmodeled codes).
pub(crate) const BOTOCORE_EXCEPTIONS: &str = r#"
import json, sys
import botocore.session

client = botocore.session.get_session().create_client(
    sys.argv[1], region_name="us-east-1",
    aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
print(json.dumps([client.exceptions.from_code(code).__name__ for code in json.load(sys.stdin)]))
"#;
