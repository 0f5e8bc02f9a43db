#!/usr/bin/env python3
"""Generate crates/wire/src/secretsmanager/model.rs from botocore's Secrets Manager service model.

Usage (from anywhere):
    python3 tools/codegen/wire_model.py            # (re)write the generated file
    python3 tools/codegen/wire_model.py --check    # exit 1 and print a diff summary if it is stale
    python3 tools/codegen/wire_model.py --stdout   # print the generated code

Needs python3 with botocore (the model is read from the installed package) and rustfmt (the output is
formatted with `rustfmt --edition 2024`, so `cargo fmt` leaves it alone). Shared machinery (model
analysis, constraint validation code, `--check`) lives in codegen_common.py; this file holds what is
specific to JSON 1.1.

What is generated (see crates/wire/src/codec.rs for the hand-written runtime it builds on):
- `Operation`: the 23 operations, `ALL`, `from_target`, `name`, `has_output`.
- `Request`: one variant per operation, with `Request::decode(operation, body)`.
- `OperationInput`: ties each `<Op>Request` to its operation and `<Op>Response`.
- One Rust struct per structure shape reachable from an operation input or output. Every member is
  `Option<T>`. Input-side structures implement `Deserialize` (member-wise, via `codec::ReadMembers`)
  and `Validate` (model constraints, AWS message grammar); output-side structures derive `Serialize`
  and omit absent members.

The generator refuses model features it does not know how to translate faithfully (maps or blobs in
constraint echoes, unknown regex escapes, recursive shapes, ...) instead of emitting something subtly
wrong; extend it when botocore's model grows such a feature.
"""

from __future__ import annotations

import argparse
import sys

from codegen_common import (
    REPO_ROOT,
    Model,
    UnsupportedModel,
    codec_types,
    describe,
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

SERVICE = "secretsmanager"
API_VERSION = "2017-10-17"

OUTPUT = REPO_ROOT / "crates" / "wire" / "src" / "secretsmanager" / "model.rs"
SCRIPT = "tools/codegen/wire_model.py"

# String shapes whose model length limit is enforced on the UTF-8 byte length instead of the code point
# count: the documented secret-value quota is 65,536 bytes (spec §4.7).
BYTE_LENGTH_SHAPES = frozenset({"SecretStringType"})


# ------------------------------------------------------------------------------------------------
# Code emission (JSON 1.1 specific)
# ------------------------------------------------------------------------------------------------


def emit_operations(model: Model) -> list[str]:
    ops = model.op_names
    prefix = model.raw["metadata"]["targetPrefix"]
    out = [
        "/// The operations of the API, selected by the header",
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
    out += ["    }", "}", ""]
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
    for index, (member, _) in enumerate(members.items()):
        out.append(
            f'            "{member}" => read_member(map, seen, {index}, &mut self.{field_name(member)})?,'
        )
    out += ["            _ => return Ok(false),", "        }", "        Ok(true)", "    }", "}", ""]
    return out


def generate(raw: dict) -> str:
    model = Model(raw, byte_length_shapes=BYTE_LENGTH_SHAPES)
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
    body += emit_operations(model)
    body += emit_requests(model)
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
    body += section("Constraint checks")
    body += emit_patterns(model)
    body += checks

    text = "\n".join(body)
    codec_items = ["self", "Echo", "EchoStructure", "MemberSet", "Path", "Pattern", "ReadMembers",
                   "Validate", "ValidationErrors", "WireDecodeError", "read_member"] + codec_types(model)
    if "EchoStructure::" not in text:
        codec_items = [i for i in codec_items if i not in ("Echo", "EchoStructure")]

    header = [
        f"// @generated by {SCRIPT} from botocore's `{SERVICE}` service model (API version",
        f"// {meta['apiVersion']}). Do not edit by hand: change the generator (or botocore) and run",
        f"//     python3 {SCRIPT}",
        f"// `--check` (run by the crate's tests) fails when this file is stale.",
        "",
        f"//! {meta['serviceFullName']} request and response types, generated from the service model:",
        "//! decoding (`Deserialize`, member-wise), model-constraint validation (`Validate`, spec §1.6) and",
        "//! response encoding (`Serialize`, absent members omitted).",
        "",
    ]
    header += [f"use {u};" for u in std_uses(model)]
    header += [
        "",
        "use serde::de::{DeserializeOwned, MapAccess};",
        "use serde::{Deserialize, Deserializer, Serialize};",
        "",
        "use crate::codec::{" + ", ".join(codec_items) + "};",
        "",
    ]
    return rustfmt("\n".join(header) + "\n" + text + "\n", SCRIPT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="fail if the committed file is stale")
    mode.add_argument("--stdout", action="store_true", help="print instead of writing")
    args = parser.parse_args()

    try:
        generated = generate(load_model(SERVICE, API_VERSION))
    except UnsupportedModel as err:
        print(f"wire_model.py: unsupported model feature: {err}", file=sys.stderr)
        return 2
    mode_name = "check" if args.check else "stdout" if args.stdout else "write"
    return emit_file(generated, OUTPUT, SCRIPT, mode_name)


if __name__ == "__main__":
    sys.exit(main())
