#!/usr/bin/env python3
"""Generate the JSON 1.1 wire models, crates/wire/src/<service>/model.rs, from botocore.

Usage (from anywhere):
    python3 tools/codegen/wire_model.py                  # (re)write every generated file
    python3 tools/codegen/wire_model.py --check          # exit 1 and print a diff summary if stale
    python3 tools/codegen/wire_model.py --stdout --service kms   # print one generated file

Needs python3 with botocore (the models are read from the installed package) and rustfmt (the output
is formatted with `rustfmt --edition 2024`, so `cargo fmt` leaves it alone). Shared machinery (model
analysis, constraint validation code, `--check`) lives in codegen_common.py; this file holds what is
specific to JSON 1.1.

What is generated per service, for the operations listed in SERVICES below (all of Secrets Manager's,
the subsets of KMS and CloudTrail Coffer serves; crates/wire/src/codec.rs is the hand-written runtime it
builds on):
- `Operation`: the operations, `ALL`, `from_target`, `name`, `has_output`.
- `Request`: one variant per operation, with `Request::decode(operation, body)`.
- `OperationInput`: ties each `<Op>Request` to its operation and `<Op>Response`.
- One Rust struct per structure shape reachable from an operation input or output. Every member is
  `Option<T>`. Input-side structures implement `Deserialize` (member-wise, via `codec::ReadMembers`;
  map members reject repeated keys) and `Validate` (model constraints, AWS message grammar);
  output-side structures derive `Serialize` and omit absent members.
- Where the service's errors are generated (KMS, CloudTrail; Secrets Manager's are mapped in errors.rs):
  `ModeledError`, every exception the operations declare with its `__type`, HTTP status and message
  key, `with_message` to build an `errors::AwsError`, and `Operation::errors`.
- The audit record's parts (codegen_common.emit_audit, on crates/wire/src/audit.rs):
  `Operation::read_only`, `Operation::records_response`, `audit_request_parameters`,
  `OperationOutput` / `audit_response_elements`, and `AuditValue` for the structures they hold.

The generator refuses model features it does not know how to translate faithfully (constrained maps,
maps or blobs in constraint echoes, unknown regex escapes, recursive shapes, ...) instead of emitting
something subtly wrong; extend it when botocore's model grows such a feature.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from dataclasses import dataclass, field

from codegen_common import (
    AUDIT_NAMES,
    REPO_ROOT,
    AuditConfig,
    Model,
    UnsupportedModel,
    codec_types,
    describe,
    emit_audit,
    emit_check_fns,
    emit_echo,
    emit_enums,
    emit_file,
    emit_patterns,
    emit_validate,
    field_name,
    load_model,
    rustfmt,
    section,
    std_uses,
)

SCRIPT = "tools/codegen/wire_model.py"


@dataclass(frozen=True)
class Service:
    api_version: str
    module: str
    # The operations Coffer serves, one per line: adding an operation is adding its name here.
    # None: every operation of the model.
    operations: tuple[str, ...] | None = None
    # String shapes whose model length limit is enforced on the UTF-8 byte length instead of the
    # code point count.
    byte_length_shapes: frozenset[str] = frozenset()
    # Generate `ModeledError` and `Operation::errors`.
    modeled_errors: bool = False
    # HTTP status of exceptions whose model declares none and for which AWS documents one other
    # than 400 (client) or 500 (the model's `fault` exceptions).
    error_status: dict[str, int] = field(default_factory=dict)
    # The message key of exceptions botocore's model gives no members, when the service has one.
    memberless_error_message: str | None = None
    # Scalar shapes whose constraints the service checks itself, with its own exception.
    service_checked_shapes: frozenset[str] = frozenset()
    # Read-only operations beyond the name prefixes, and members never to be recorded.
    audit: AuditConfig = field(default_factory=AuditConfig)


SERVICES = {
    "secretsmanager": Service(
        api_version="2017-10-17",
        module="secretsmanager",
        # The documented secret-value quota is 65,536 bytes (spec §4.7).
        byte_length_shapes=frozenset({"SecretStringType"}),
        # Companion spec §7.2 (GetRandomPassword already has a read-only name).
        audit=AuditConfig(read_only=("ValidateResourcePolicy",)),
    ),
    "kms": Service(
        api_version="2014-11-01",
        module="kms",
        operations=(
            # Keys
            "CreateKey",
            "DescribeKey",
            "ListKeys",
            "EnableKey",
            "DisableKey",
            "ScheduleKeyDeletion",
            "CancelKeyDeletion",
            # Aliases
            "CreateAlias",
            "UpdateAlias",
            "DeleteAlias",
            "ListAliases",
            # Rotation
            "EnableKeyRotation",
            "DisableKeyRotation",
            "GetKeyRotationStatus",
            "RotateKeyOnDemand",
            # Cryptography
            "Encrypt",
            "Decrypt",
            "ReEncrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateRandom",
            # Tags
            "TagResource",
            "UntagResource",
            "ListResourceTags",
            # Key policies
            "GetKeyPolicy",
            "PutKeyPolicy",
        ),
        modeled_errors=True,
        # Companion spec §6 [Doc]: the model marks it a fault but declares no status.
        error_status={"DependencyTimeoutException": 503},
        # CloudTrail marks KMS's cryptographic operations read-only (AWS's ReEncrypt record has
        # `"readOnly": true`), so their responses, plaintext included, are never recorded.
        audit=AuditConfig(
            read_only=(
                "Encrypt",
                "Decrypt",
                "ReEncrypt",
                "GenerateDataKey",
                "GenerateDataKeyWithoutPlaintext",
                "GenerateRandom",
            )
        ),
    ),
    "cloudtrail": Service(
        api_version="2013-11-01",
        module="cloudtrail",
        operations=("LookupEvents",),
        modeled_errors=True,
        # botocore's model gives CloudTrail's exceptions no members; the service (and AWS's Smithy
        # model) sends the message as `Message`.
        memberless_error_message="Message",
        # Companion spec §7.1: MaxResults outside 1–50 is InvalidMaxResultsException, which the
        # domain raises, not a ValidationException.
        service_checked_shapes=frozenset({"MaxResults"}),
        audit=AuditConfig(read_only=("LookupEvents",)),
    ),
}

# Reads a map member, refusing a key that appears twice (see crates/wire/src/kms/maps.rs).
MAP_READER = "crate::kms::maps::read_map_member"

# Names the generated module defines or imports; a model structure with one of these names would
# shadow or clash with them.
RESERVED_NAMES = {
    "Operation", "Request", "OperationInput", "ModeledError", "AwsError", "MessageKey", "Path",
    "Pattern", "Validate", "ValidationErrors", "ReadMembers", "MemberSet", "WireDecodeError", "Echo",
    "EchoStructure", "EpochTime", "Blob", "SensitiveBlob", "SensitiveString", "BTreeMap",
    "Deserialize", "Deserializer", "DeserializeOwned", "MapAccess", "Serialize", "Option", "Result",
    "String", "Vec", "Box",
}


# ------------------------------------------------------------------------------------------------
# Code emission (JSON 1.1 specific)
# ------------------------------------------------------------------------------------------------


def emit_operations(model: Model, config: Service) -> list[str]:
    ops = model.op_names
    prefix = model.raw["metadata"]["targetPrefix"]
    served = "of the API" if config.operations is None else "Coffer serves"
    out = [
        f"/// The operations {served}, selected by the header",
        f"/// `X-Amz-Target: {prefix}.<Name>`.",
        "#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]",
        "pub enum Operation {",
    ]
    out += [f"    {op}," for op in ops]
    out += ["}", "", "impl Operation {"]
    out += [
        "    /// Every operation, in alphabetical order.",
        f"    pub const ALL: [Operation; {len(ops)}] = [",
    ]
    out += [f"        Operation::{op}," for op in ops]
    out += ["    ];", ""]
    out += [
        f"    /// Parses an `X-Amz-Target` value: exactly `{prefix}.<Name>`, case-sensitive.",
        "    pub fn from_target(x_amz_target: &str) -> Option<Operation> {",
        "        match x_amz_target {",
    ]
    out += [f'            "{prefix}.{op}" => Some(Operation::{op}),' for op in ops]
    out += ["            _ => None,", "        }", "    }", ""]
    out += [
        "    /// The operation name as it appears in `X-Amz-Target`, IAM actions and CloudTrail.",
        "    pub fn name(&self) -> &'static str {",
        "        match self {",
    ]
    out += [f'            Operation::{op} => "{op}",' for op in ops]
    out += ["        }", "    }", ""]
    void = [op for op in ops if "output" not in model.operations[op]]
    out += [
        "    /// False for operations without an output shape: AWS answers those with an empty body",
        "    /// (`Content-Length: 0`), not `{}`.",
        "    pub fn has_output(&self) -> bool {",
    ]
    if void:
        out += ["        !matches!(self, " + " | ".join(f"Operation::{op}" for op in void) + ")"]
    else:
        out += ["        true"]
    out += ["    }"]
    if config.modeled_errors:
        out += [
            "",
            "    /// The exceptions the model declares for the operation, in model order.",
            "    pub fn errors(&self) -> &'static [ModeledError] {",
            "        match self {",
        ]
        for op in ops:
            errs = [e["shape"] for e in model.operations[op].get("errors", [])]
            out.append(
                f"            Operation::{op} => &["
                + ", ".join(f"ModeledError::{e}" for e in errs)
                + "],"
            )
        out += ["        }", "    }"]
    out += ["}", ""]
    return out


def modeled_errors(model: Model, config: Service) -> list[tuple[str, int, str]]:
    """(shape name, HTTP status, message key) of every exception the operations declare."""
    names = sorted({e["shape"] for op in model.op_names for e in model.operations[op].get("errors", [])})
    unknown = set(config.error_status) - set(names)
    if unknown:
        raise UnsupportedModel(f"status given for undeclared errors: {', '.join(sorted(unknown))}")
    out = []
    for name in names:
        shape = model.shape(name)
        members = list(shape.get("members", {}))
        if not members and config.memberless_error_message:
            members = [config.memberless_error_message]
        # The message travels under the member's own name; anything else would need rendering.
        if members not in (["message"], ["Message"]):
            raise UnsupportedModel(f"error {name} has members {members}, not one message")
        trait = shape.get("error", {})
        if trait.get("code", name) != name:
            raise UnsupportedModel(f"error {name} has wire code {trait['code']}")
        if "httpStatusCode" in trait and name in config.error_status:
            raise UnsupportedModel(f"error {name}: the model now declares its status")
        status = trait.get("httpStatusCode") or config.error_status.get(name)
        if status is None:
            status = 500 if shape.get("fault") else 400
        key = "MessageKey::Modeled" if members == ["Message"] else "MessageKey::Framework"
        out.append((name, status, key))
    return out


def emit_errors(model: Model, config: Service) -> list[str]:
    errors = modeled_errors(model, config)
    names = [e[0] for e in errors]
    out = [
        "/// The exceptions the operations declare. On the wire `__type` is the shape name, which SDKs",
        "/// map to their exception class.",
        "#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]",
        "pub enum ModeledError {",
    ]
    out += [f"    {n}," for n in names]
    out += ["}", "", "impl ModeledError {"]
    out += [f"    pub const ALL: [ModeledError; {len(names)}] = ["]
    out += [f"        ModeledError::{n}," for n in names]
    out += ["    ];", ""]

    def table(doc: list[str], fn: str, ret: str, values: list[str]) -> list[str]:
        lines = ["    " + d for d in doc]
        lines.append(f"    pub fn {fn}(self) -> {ret} {{")
        if len(set(values)) == 1:
            lines.append(f"        {values[0]}")
        else:
            lines.append("        match self {")
            lines += [f"            ModeledError::{n} => {v}," for n, v in zip(names, values)]
            lines.append("        }")
        lines += ["    }", ""]
        return lines

    out += table(["/// The `__type` sent on the wire: the shape name."], "error_type", "&'static str",
                 [f'"{e[0]}"' for e in errors])
    out += table(
        [
            "/// The HTTP status: the model's, else AWS's documented one (400 for client errors, 500",
            "/// for the model's faults unless AWS documents another).",
        ],
        "http_status", "u16", [str(e[1]) for e in errors],
    )
    out += table(
        [
            "/// The key the message travels under: the model's member name (`message` is",
            "/// `MessageKey::Framework`'s key, `Message` `MessageKey::Modeled`'s).",
        ],
        "message_key", "MessageKey", [e[2] for e in errors],
    )
    out += [
        "    /// The error whose `__type` is `error_type`.",
        "    pub fn from_error_type(error_type: &str) -> Option<ModeledError> {",
        "        ModeledError::ALL.into_iter().find(|e| e.error_type() == error_type)",
        "    }",
        "",
        "    /// This error, ready to render, with `message` (which may be empty).",
        "    pub fn with_message(self, message: impl Into<String>) -> AwsError {",
        "        AwsError {",
        "            error_type: self.error_type(),",
        "            message: message.into(),",
        "            status: self.http_status(),",
        "            key: self.message_key(),",
        "        }",
        "    }",
        "}",
        "",
    ]
    return out


def emit_requests(model: Model) -> list[str]:
    ops = model.op_names
    out = [
        "/// A decoded, validated request of any operation.",
        "#[derive(Debug)]",
        "pub enum Request {",
    ]
    out += [f"    {op}({input_name(model, op)})," for op in ops]
    out += ["}", "", "impl Request {"]
    out += [
        "    /// Decodes and validates `body` as the input of `operation` (see `codec::decode`).",
        "    pub fn decode(operation: Operation, body: &[u8]) -> Result<Request, WireDecodeError> {",
        "        match operation {",
    ]
    out += [f"            Operation::{op} => codec::decode(body).map(Request::{op})," for op in ops]
    out += ["        }", "    }", ""]
    out += [
        "    /// Decodes `body` without checking the model's constraints: tests build requests with",
        "    /// every member set this way.",
        "    #[cfg(test)]",
        "    pub(crate) fn decode_unvalidated(",
        "        operation: Operation,",
        "        body: &[u8],",
        "    ) -> Result<Request, serde_json::Error> {",
        "        match operation {",
    ]
    out += [f"            Operation::{op} => serde_json::from_slice(body).map(Request::{op})," for op in ops]
    out += ["        }", "    }", ""]
    out += ["    pub fn operation(&self) -> Operation {", "        match self {"]
    out += [f"            Request::{op}(_) => Operation::{op}," for op in ops]
    out += ["        }", "    }", "}", ""]
    out += [
        "/// Ties a request type to its operation and response type.",
        "pub trait OperationInput: DeserializeOwned + Validate {",
        "    const OPERATION: Operation;",
        "    type Output: Serialize + Default;",
        "}",
        "",
    ]
    for op in ops:
        out += [
            f"impl OperationInput for {input_name(model, op)} {{",
            f"    const OPERATION: Operation = Operation::{op};",
            f"    type Output = {output_name(model, op)};",
            "}",
            "",
        ]
    return out


def input_name(model: Model, op: str) -> str:
    return model.input_name(op)


def output_name(model: Model, op: str) -> str:
    return model.output_name(op)


def emit_struct(model: Model, name: str, title: str) -> list[str]:
    if name in RESERVED_NAMES or name in AUDIT_NAMES:
        raise UnsupportedModel(f"structure {name} clashes with a generated or imported name")
    shape = model.shape(name)
    members = shape.get("members", {})
    required = set(shape.get("required", []))
    is_in = name in model.input_structs
    is_out = name in model.output_structs
    derives = ["Clone", "Debug", "Default"]
    if is_out:
        derives.append("Serialize")
    out = [f"/// {title}", f"#[derive({', '.join(derives)})]"]
    if not members:
        return out + [f"pub struct {name} {{}}", ""]
    out.append(f"pub struct {name} {{")
    seen_fields = set()
    for member, spec in members.items():
        fname = field_name(member)
        if fname in seen_fields:
            raise UnsupportedModel(f"{name}: two members map to field {fname}")
        seen_fields.add(fname)
        out.append("    " + describe(model, spec["shape"], spec, member in required))
        if is_out:
            out.append(
                f'    #[serde(rename = "{member}", skip_serializing_if = "Option::is_none")]'
            )
        out.append(f"    pub {fname}: Option<{model.rust_type(spec['shape'])}>,")
    out += ["}", ""]
    if is_in:
        out += emit_read_members(model, name)
        out += emit_validate(model, name)
    if name in model.echo_structs:
        out += emit_echo(model, name)
    return out


def emit_read_members(model: Model, name: str) -> list[str]:
    members = model.shape(name).get("members", {})
    out = [
        f"impl<'de> Deserialize<'de> for {name} {{",
        "    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {",
        "        codec::deserialize_structure(deserializer)",
        "    }",
        "}",
        "",
        f"impl ReadMembers for {name} {{",
        "    fn read_member<'de, A: MapAccess<'de>>(",
        "        &mut self,",
        "        name: &str,",
        "        map: &mut A,",
        "        seen: &mut MemberSet,",
        "    ) -> Result<bool, A::Error> {",
        "        match name {",
    ]
    for index, (member, spec) in enumerate(members.items()):
        read = "read_map_member" if model.shape(spec["shape"])["type"] == "map" else "read_member"
        out.append(
            f'            "{member}" => {read}(map, seen, {index}, &mut self.{field_name(member)})?,'
        )
    out += ["            _ => return Ok(false),", "        }", "        Ok(true)", "    }", "}", ""]
    return out


def check_names(model: Model):
    inputs = {input_name(model, op) for op in model.op_names}
    for op in model.op_names:
        name = output_name(model, op)
        if "output" not in model.operations[op] and (name in model.shapes or name in inputs):
            raise UnsupportedModel(f"{op}: synthesized output name {name} is taken by a model shape")


def generate(service: str) -> str:
    config = SERVICES[service]
    raw = load_model(service, config.api_version)
    operations = list(config.operations) if config.operations is not None else None
    model = Model(
        raw,
        operations=operations,
        byte_length_shapes=config.byte_length_shapes,
        service_checked_shapes=config.service_checked_shapes,
    )
    check_names(model)
    meta = raw["metadata"]

    checks = emit_check_fns(model)

    requests = [input_name(model, op) for op in model.op_names]
    responses = [
        model.operations[op]["output"]["shape"]
        for op in model.op_names
        if "output" in model.operations[op]
    ]
    top = set(requests) | set(responses)
    shared = sorted((model.input_structs | model.output_structs) - top)

    body: list[str] = []
    body += section("Operations")
    body += emit_operations(model, config)
    body += emit_requests(model)
    if config.modeled_errors:
        body += section("Errors")
        body += emit_errors(model, config)
    body += section("Requests")
    for op in model.op_names:
        body += emit_struct(model, input_name(model, op), f"Input of `{op}`.")
    body += section("Responses")
    for op in model.op_names:
        if "output" in model.operations[op]:
            body += emit_struct(model, output_name(model, op), f"Output of `{op}`.")
        else:
            name = output_name(model, op)
            body += [
                f"/// Output of `{op}`: the model declares none, so AWS sends an empty body",
                "/// (see `Operation::has_output`); this serializes as `{}` for callers that need a value.",
                "#[derive(Clone, Debug, Default, Serialize)]",
                f"pub struct {name} {{}}",
                "",
            ]
    body += section("Shared structures")
    for name in shared:
        sides = []
        if name in model.input_structs:
            sides.append("requests")
        if name in model.output_structs:
            sides.append("responses")
        body += emit_struct(model, name, f"Model structure `{name}` (used in {' and '.join(sides)}).")
    body += section("Enums")
    body += emit_enums(model)
    body += section("Audit records")
    body += emit_audit(model, config.audit)
    body += section("Constraint checks")
    body += emit_patterns(model)
    body += checks

    text = "\n".join(body)
    codec_items = ["self", "Echo", "EchoStructure", "MemberSet", "Path", "Pattern", "ReadMembers",
                   "Validate", "ValidationErrors", "WireDecodeError", "read_member"] + codec_types(model)
    if "EchoStructure::" not in text:
        codec_items = [i for i in codec_items if i not in ("Echo", "EchoStructure")]

    header = [
        f"// @generated by {SCRIPT} from botocore's `{service}` service model (API version",
        f"// {meta['apiVersion']}). Do not edit by hand: change the generator (or botocore) and run",
        f"//     python3 {SCRIPT}",
        f"// `--check` (run by the crate's tests) fails when this file is stale.",
        "",
        f"//! {meta['serviceFullName']} request and response types, generated from the service model:",
        "//! decoding (`Deserialize`, member-wise), model-constraint validation (`Validate`, spec §1.6) and",
        "//! response encoding (`Serialize`, absent members omitted); the audit record's",
        "//! `requestParameters`, `responseElements` and `readOnly` (see `crate::audit`).",
    ]
    if config.modeled_errors:
        header += [
            "//!",
            "//! `ModeledError`: the exceptions the operations declare, each with its `__type`, HTTP",
            "//! status and message key, ready to become an `errors::AwsError`.",
        ]
    if config.operations is not None:
        header += ["//!"]
        header += textwrap.wrap(
            f"The operations Coffer serves: {', '.join(model.op_names)}.",
            width=100,
            initial_indent="//! ",
            subsequent_indent="//! ",
        )
    header += [""]
    header += [f"use {u};" for u in std_uses(model)]
    header += [
        "",
        "use serde::de::{DeserializeOwned, MapAccess};",
        "use serde::{Deserialize, Deserializer, Serialize};",
        "use serde_json::{" + ("Map, Value" if "Map::new()" in text else "Value") + "};",
        "",
        "use crate::audit::{self, AuditValue};",
        "use crate::codec::{" + ", ".join(codec_items) + "};",
    ]
    if config.modeled_errors:
        header += ["use crate::errors::{AwsError, MessageKey};"]
    if "read_map_member(" in text:
        header += [f"use {MAP_READER};"]
    header += [""]
    return rustfmt("\n".join(header) + "\n" + text + "\n", SCRIPT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="fail if a committed file is stale")
    mode.add_argument("--stdout", action="store_true", help="print instead of writing")
    parser.add_argument("--service", choices=sorted(SERVICES), action="append",
                        help="only this service (repeatable; default: all)")
    args = parser.parse_args()
    mode_name = "check" if args.check else "stdout" if args.stdout else "write"

    status = 0
    for service in args.service or sorted(SERVICES):
        output = REPO_ROOT / "crates" / "wire" / "src" / SERVICES[service].module / "model.rs"
        try:
            generated = generate(service)
        except UnsupportedModel as err:
            print(f"wire_model.py: {service}: unsupported model feature: {err}", file=sys.stderr)
            return 2
        status = max(status, emit_file(generated, output, SCRIPT, mode_name))
    return status


if __name__ == "__main__":
    sys.exit(main())
