#!/usr/bin/env python3
"""Generate crates/wire/src/secretsmanager/model.rs from botocore's Secrets Manager service model.

Usage (from anywhere):
    python3 tools/codegen/wire_model.py            # (re)write the generated file
    python3 tools/codegen/wire_model.py --check    # exit 1 and print a diff summary if it is stale
    python3 tools/codegen/wire_model.py --stdout   # print the generated code

Needs python3 with botocore (the model is read from the installed package) and rustfmt (the output is
formatted with `rustfmt --edition 2024`, so `cargo fmt` leaves it alone).

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
import difflib
import subprocess
import sys
from pathlib import Path

SERVICE = "secretsmanager"
API_VERSION = "2017-10-17"

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUT = REPO_ROOT / "crates" / "wire" / "src" / "secretsmanager" / "model.rs"
SCRIPT = "tools/codegen/wire_model.py"

# String shapes whose model length limit is enforced on the UTF-8 byte length instead of the code point
# count: the documented secret-value quota is 65,536 bytes (spec §4.7).
BYTE_LENGTH_SHAPES = {"SecretStringType"}

RUST_KEYWORDS = {
    "as", "async", "await", "box", "break", "const", "continue", "crate", "dyn", "else", "enum",
    "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move",
    "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true", "try", "type",
    "unsafe", "use", "where", "while", "yield",
}


class UnsupportedModel(Exception):
    """The model uses something this generator cannot translate faithfully."""


# ------------------------------------------------------------------------------------------------
# Model loading and analysis
# ------------------------------------------------------------------------------------------------


def load_model() -> dict:
    import botocore.session

    loader = botocore.session.get_session().get_component("data_loader")
    return loader.load_service_model(SERVICE, "service-2", api_version=API_VERSION)


def snake_case(name: str) -> str:
    out = []
    for i, c in enumerate(name):
        if c.isupper():
            prev = name[i - 1] if i > 0 else ""
            nxt = name[i + 1] if i + 1 < len(name) else ""
            if i > 0 and (prev.islower() or prev.isdigit() or (prev.isupper() and nxt.islower())):
                out.append("_")
            out.append(c.lower())
        else:
            out.append(c)
    return "".join(out)


def field_name(member: str) -> str:
    name = snake_case(member)
    return f"r#{name}" if name in RUST_KEYWORDS else name


def lower_camel(member: str) -> str:
    # AWS lower-cases only the first letter (`rotationLambdaARN`).
    return member[:1].lower() + member[1:]


def rust_str(text: str) -> str:
    if "\\" not in text and '"' not in text:
        return f'"{text}"'
    hashes = "#"
    while f'"{hashes}' in text:
        hashes += "#"
    return f'r{hashes}"{text}"{hashes}'


# Java regex escapes with a different meaning (or no equivalent) in the `regex` crate, rewritten to
# explicit ASCII classes. Java's `\d`, `\w`, `\s` are ASCII-only; the `regex` crate's are Unicode.
JAVA_CLASS_ESCAPES = {
    "d": "[0-9]",
    "D": "[^0-9]",
    "w": "[0-9A-Za-z_]",
    "W": "[^0-9A-Za-z_]",
    "s": r"[\t\n\x0B\x0C\r ]",
    "S": r"[^\t\n\x0B\x0C\r ]",
}
SAME_MEANING_ESCAPES = set("tnrf")
# Java's `.` excludes every line terminator, not just `\n`.
JAVA_DOT = r"[^\n\r\x{85}\x{2028}\x{2029}]"


def translate_pattern(pattern: str) -> str:
    """Java regex (as used by AWS) -> `regex` crate syntax with the same meaning, anchored."""
    out = []
    in_class = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 >= len(pattern):
                raise UnsupportedModel(f"dangling escape in pattern {pattern!r}")
            e = pattern[i + 1]
            if e in JAVA_CLASS_ESCAPES:
                out.append(JAVA_CLASS_ESCAPES[e])
            elif e in SAME_MEANING_ESCAPES or not e.isalnum():
                out.append("\\" + e)
            else:
                raise UnsupportedModel(f"escape \\{e} in pattern {pattern!r} needs a translation rule")
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "[" and in_class:
            raise UnsupportedModel(f"nested character class in pattern {pattern!r}")
        elif c == "]" and in_class:
            in_class = False
        elif c == "." and not in_class:
            out.append(JAVA_DOT)
            i += 1
            continue
        out.append(c)
        i += 1
    return f"^(?:{''.join(out)})$"


class Model:
    def __init__(self, raw: dict):
        self.raw = raw
        self.shapes: dict = raw["shapes"]
        self.operations: dict = raw["operations"]
        self.op_names = sorted(self.operations)
        self.input_structs: set[str] = set()
        self.output_structs: set[str] = set()
        self.checked_shapes: set[str] = set()
        self.echo_structs: set[str] = set()
        self.patterns: dict[str, str] = {}
        self.enums: dict[str, list] = {}
        self.uses: set[str] = set()
        for name in self.op_names:
            op = self.operations[name]
            if "input" in op:
                self._reach(op["input"]["shape"], self.input_structs, [])
            if "output" in op:
                self._reach(op["output"]["shape"], self.output_structs, [])
        for name, shape in self.shapes.items():
            for member, spec in shape.get("members", {}).items():
                if "sensitive" in spec:
                    # The Rust type is chosen per shape; a member-level override would be ignored.
                    raise UnsupportedModel(f"{name}.{member}: member-level `sensitive`")
            if "enum" in shape:
                self.enums[name] = shape["enum"]

    def _reach(self, name: str, into: set, stack: list):
        if name in stack:
            raise UnsupportedModel(f"recursive shape {' -> '.join(stack + [name])}")
        shape = self.shapes[name]
        t = shape["type"]
        if t == "structure":
            if len(shape.get("members", {})) > 64:
                raise UnsupportedModel(f"{name} has more than 64 members (codec::MemberSet)")
            into.add(name)
            for m in shape.get("members", {}).values():
                self._reach(m["shape"], into, stack + [name])
        elif t == "list":
            self._reach(shape["member"]["shape"], into, stack + [name])
        elif t == "map":
            self._reach(shape["key"]["shape"], into, stack + [name])
            self._reach(shape["value"]["shape"], into, stack + [name])

    def shape(self, name: str) -> dict:
        return self.shapes[name]

    def sensitive(self, name: str) -> bool:
        """True if the shape or anything inside it is sensitive (so its value must never be echoed)."""
        shape = self.shapes[name]
        if shape.get("sensitive"):
            return True
        t = shape["type"]
        if t == "structure":
            return any(
                m.get("sensitive") or self.sensitive(m["shape"]) for m in shape["members"].values()
            )
        if t == "list":
            return self.sensitive(shape["member"]["shape"])
        if t == "map":
            return self.sensitive(shape["key"]["shape"]) or self.sensitive(shape["value"]["shape"])
        return False

    def rust_type(self, name: str) -> str:
        shape = self.shapes[name]
        t = shape["type"]
        sensitive = bool(shape.get("sensitive"))
        if t == "string":
            ty = "SensitiveString" if sensitive else "String"
        elif t == "blob":
            ty = "SensitiveBlob" if sensitive else "Blob"
        elif t == "integer":
            return "i32"
        elif t == "long":
            return "i64"
        elif t == "boolean":
            return "bool"
        elif t == "timestamp":
            ty = "EpochTime"
        elif t == "list":
            return f"Vec<{self.rust_type(shape['member']['shape'])}>"
        elif t == "map":
            self.uses.add("std::collections::BTreeMap")
            key = self.rust_type(shape["key"]["shape"])
            value = self.rust_type(shape["value"]["shape"])
            return f"BTreeMap<{key}, {value}>"
        elif t == "structure":
            return name
        else:
            raise UnsupportedModel(f"shape {name} has unsupported type {t}")
        if ty != "String":
            self.uses.add(f"crate::codec::{ty}")
        return ty

    def needs_check(self, name: str) -> bool:
        """True if a value of this (input-side) shape can violate a model constraint."""
        shape = self.shapes[name]
        t = shape["type"]
        if t == "structure":
            return any(
                m in shape.get("required", []) or self.needs_check(s["shape"])
                for m, s in shape["members"].items()
            )
        own = any(
            k in shape for k in ("enum", "pattern")
        ) or shape.get("min", 0) > 0 or "max" in shape
        if t == "list":
            return own or self.needs_check(shape["member"]["shape"])
        if t == "map":
            if own or self.needs_check(shape["key"]["shape"]) or self.needs_check(
                shape["value"]["shape"]
            ):
                raise UnsupportedModel(f"constrained map {name} in an input (path format unknown)")
            return False
        return own


# ------------------------------------------------------------------------------------------------
# Code emission
# ------------------------------------------------------------------------------------------------


def describe(model: Model, name: str, member: dict, required: bool) -> str:
    """One-line doc for a member: model shape and constraints."""
    shape = model.shape(name)
    t = shape["type"]
    parts = [f"`{name}`"]
    if required:
        parts.append("required")
    if member.get("idempotencyToken"):
        parts.append("idempotency token")
    if shape.get("sensitive"):
        parts.append("sensitive")
    lo, hi = shape.get("min"), shape.get("max")
    if lo is not None or hi is not None:
        span = f"{lo or 0}..{'=' + str(hi) if hi is not None else ''}"
        if t == "string":
            unit = "UTF-8 bytes" if name in BYTE_LENGTH_SHAPES else "characters"
            parts.append(f"length {span} {unit}")
        elif t == "blob":
            parts.append(f"length {span} bytes")
        elif t == "list":
            parts.append(f"{span} items")
        else:
            parts.append(f"range {span}")
    if "enum" in shape:
        parts.append("one of " + ", ".join(f"`{v}`" for v in shape["enum"]))
    if "pattern" in shape:
        parts.append(f"pattern `{shape['pattern']}`")
    if t == "list":
        parts.append(f"items `{shape['member']['shape']}`")
    if t == "map":
        parts.append(f"`{shape['key']['shape']}` to `{shape['value']['shape']}`")
    return "/// " + ", ".join(parts) + "."


def const_name(shape_name: str) -> str:
    return snake_case(shape_name).upper()


def check_fn(shape_name: str) -> str:
    return f"check_{snake_case(shape_name)}"


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
    return model.operations[op]["input"]["shape"]


def output_name(model: Model, op: str) -> str:
    o = model.operations[op].get("output")
    return o["shape"] if o else f"{op}Response"


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


def check_call(model: Model, shape_name: str, value: str, path: str) -> str | None:
    """Statement validating `value` (a reference to a value of the shape) located at `path`."""
    if not model.needs_check(shape_name):
        return None
    t = model.shape(shape_name)["type"]
    if t == "structure":
        return f"{value}.validate_members({path}, errors);"
    model.checked_shapes.add(shape_name)
    arg = f"*{value}" if t in ("integer", "long") else value
    return f"{check_fn(shape_name)}({arg}, {path}, errors);"


def emit_validate(model: Model, name: str) -> list[str]:
    shape = model.shape(name)
    required = set(shape.get("required", []))
    body = []
    for member, spec in shape["members"].items():
        field = field_name(member)
        path = f'&Path::Member(path, "{lower_camel(member)}")'
        call = check_call(model, spec["shape"], "value", path)
        if member in required and call:
            body += [
                f"match &self.{field} {{",
                f"    None => errors.missing({path}),",
                f"    Some(value) => {call.rstrip(';')},",
                "}",
            ]
        elif member in required:
            body += [f"if self.{field}.is_none() {{", f"    errors.missing({path});", "}"]
        elif call:
            body += [f"if let Some(value) = &self.{field} {{", f"    {call}", "}"]
    params = "path: &Path<'_>, errors: &mut ValidationErrors" if body else (
        "_path: &Path<'_>, _errors: &mut ValidationErrors"
    )
    out = [f"impl Validate for {name} {{", f"    fn validate_members(&self, {params}) {{"]
    out += ["        " + line for line in body]
    out += ["    }", "}", ""]
    return out


def emit_echo(model: Model, name: str) -> list[str]:
    out = [f"impl Echo for {name} {{", "    fn echo(&self, out: &mut String) {"]
    out.append("        let mut echo = EchoStructure::new(out);")
    for member, spec in model.shape(name)["members"].items():
        t = model.shape(spec["shape"])["type"]
        if t in ("blob", "timestamp", "map"):
            raise UnsupportedModel(f"{name}.{member}: no echo format for {t}")
        field = field_name(member)
        accessor = {"string": "as_deref()", "list": "as_deref()"}.get(t, "as_ref()")
        out.append(f'        echo.member("{member}", self.{field}.{accessor});')
    out += ["        echo.finish();", "    }", "}", ""]
    return out


def emit_check_fn(model: Model, name: str) -> list[str]:
    shape = model.shape(name)
    t = shape["type"]
    sensitive = model.sensitive(name)
    echo_value = "None::<&str>" if sensitive else None
    lo = shape.get("min")
    lo = lo if lo else None  # a minimum of 0 can never fail
    hi = shape.get("max")
    bounds = f"{opt(lo)}, {opt(hi)}"
    lines = []
    if t == "string":
        if shape.get("sensitive"):
            param, text = "&SensitiveString", "value.expose()"
        else:
            param, text = "&str", "value"
        echo = echo_value or "Some(value)"
        if lo is not None or hi is not None:
            length = f"{text}.len()" if name in BYTE_LENGTH_SHAPES else f"{text}.chars().count()"
            lines.append(f"errors.length(path, {echo}, {length}, {bounds});")
        if "enum" in shape:
            lines.append(f"errors.one_of(path, {echo}, {text}, &{const_name(name)}_VALUES);")
        if "pattern" in shape:
            model.patterns[name] = shape["pattern"]
            lines.append(f"errors.pattern(path, {echo}, {text}, &{const_name(name)}_PATTERN);")
    elif t == "blob":
        # Raw bytes have no faithful textual echo; report blob violations without the value.
        param = "&SensitiveBlob" if shape.get("sensitive") else "&Blob"
        text = "value.expose()" if shape.get("sensitive") else "value.as_bytes()"
        lines.append(f"errors.length(path, None::<&str>, {text}.len(), {bounds});")
    elif t in ("integer", "long"):
        param = "i32" if t == "integer" else "i64"
        echo = echo_value or "Some(&value)"
        number = "i64::from(value)" if t == "integer" else "value"
        lines.append(f"errors.range(path, {echo}, {number}, {bounds});")
    elif t == "list":
        item = shape["member"]["shape"]
        param = f"&[{model.rust_type(item)}]"
        if lo is not None or hi is not None:
            if not sensitive and model.shape(item)["type"] == "structure":
                mark_echo(model, item)
            echo = echo_value or "Some(value)"
            lines.append(f"errors.length(path, {echo}, value.len(), {bounds});")
        call = check_call(model, item, "item", "&Path::Item(path, index)")
        if call:
            lines += [
                "for (index, item) in value.iter().enumerate() {",
                f"    {call}",
                "}",
            ]
    else:
        raise UnsupportedModel(f"no constraint check for {t} shape {name}")
    if not lines:
        raise UnsupportedModel(f"{name} reported as constrained but produced no checks")
    out = [
        f"fn {check_fn(name)}(value: {param}, path: &Path<'_>, errors: &mut ValidationErrors) {{"
    ]
    out += ["    " + line for line in lines]
    out += ["}", ""]
    return out


def opt(n) -> str:
    return "None" if n is None else f"Some({n})"


def mark_echo(model: Model, name: str):
    if name in model.echo_structs:
        return
    model.echo_structs.add(name)
    for spec in model.shape(name)["members"].values():
        target = model.shape(spec["shape"])
        if target["type"] == "structure":
            mark_echo(model, spec["shape"])
        elif target["type"] == "list" and model.shape(target["member"]["shape"])["type"] == "structure":
            mark_echo(model, target["member"]["shape"])


def generate(raw: dict) -> str:
    model = Model(raw)
    meta = raw["metadata"]

    # Check functions first: emitting them discovers which patterns and echo impls are needed.
    structs_in = sorted(model.input_structs)
    for name in structs_in:
        emit_validate(model, name)
    checks: list[str] = []
    done: set[str] = set()
    while model.checked_shapes - done:
        for name in sorted(model.checked_shapes - done):
            done.add(name)
            emit_check_fn(model, name)
    for name in sorted(done):
        checks += emit_check_fn(model, name)

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
    for name in sorted(model.enums):
        values = model.enums[name]
        body += [
            f"/// Values of the model enum `{name}`, in model order.",
            f"pub const {const_name(name)}_VALUES: [&str; {len(values)}] = ["
            + ", ".join(f'"{v}"' for v in values)
            + "];",
            "",
        ]
    body += section("Constraint checks")
    pattern_names = sorted(model.patterns)
    for name in pattern_names:
        src = model.patterns[name]
        body += [
            f"static {const_name(name)}_PATTERN: Pattern = Pattern::new({rust_str(src)}, || {{",
            f"    codec::compile_pattern({rust_str(translate_pattern(src))})",
            "});",
            "",
        ]
    body += [
        "/// Every model pattern, so a server can force their compilation at startup instead of on the",
        "/// first request that needs one.",
        f"pub static PATTERNS: [&Pattern; {len(pattern_names)}] = ["
        + ", ".join(f"&{const_name(n)}_PATTERN" for n in pattern_names)
        + "];",
        "",
    ]
    body += checks

    text = "\n".join(body)
    uses = sorted(model.uses)
    codec_types = sorted(u.split("::")[-1] for u in uses if u.startswith("crate::codec::"))
    codec_items = ["self", "Echo", "EchoStructure", "MemberSet", "Path", "Pattern", "ReadMembers",
                   "Validate", "ValidationErrors", "WireDecodeError", "read_member"] + codec_types
    if "EchoStructure::" not in text:
        codec_items = [i for i in codec_items if i not in ("Echo", "EchoStructure")]
    std_uses = [u for u in uses if u.startswith("std::")]

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
    header += [f"use {u};" for u in std_uses]
    header += [
        "",
        "use serde::de::{DeserializeOwned, MapAccess};",
        "use serde::{Deserialize, Deserializer, Serialize};",
        "",
        "use crate::codec::{" + ", ".join(codec_items) + "};",
        "",
    ]
    return rustfmt("\n".join(header) + "\n" + text + "\n")


def section(title: str) -> list[str]:
    bar = "// " + "-" * 97
    return [bar, f"// {title}", bar, ""]


def rustfmt(source: str) -> str:
    try:
        result = subprocess.run(
            ["rustfmt", "--edition", "2024", "--emit", "stdout", "--quiet"],
            input=source,
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            check=False,
        )
    except FileNotFoundError:
        sys.exit("wire_model.py: rustfmt not found on PATH")
    if result.returncode != 0:
        sys.stderr.write(source)
        sys.exit(f"wire_model.py: rustfmt rejected the generated code:\n{result.stderr}")
    return result.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="fail if the committed file is stale")
    mode.add_argument("--stdout", action="store_true", help="print instead of writing")
    args = parser.parse_args()

    try:
        generated = generate(load_model())
    except UnsupportedModel as err:
        print(f"wire_model.py: unsupported model feature: {err}", file=sys.stderr)
        return 2

    rel = OUTPUT.relative_to(REPO_ROOT)
    if args.stdout:
        sys.stdout.write(generated)
        return 0
    if args.check:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current == generated:
            print(f"{rel} is up to date")
            return 0
        diff = list(
            difflib.unified_diff(
                current.splitlines(),
                generated.splitlines(),
                f"{rel} (committed)",
                f"{rel} (generated)",
                lineterm="",
            )
        )
        added = sum(1 for l in diff if l.startswith("+") and not l.startswith("+++"))
        removed = sum(1 for l in diff if l.startswith("-") and not l.startswith("---"))
        print(f"{rel} is stale: {added} line(s) to add, {removed} to remove.", file=sys.stderr)
        for line in diff[:60]:
            print(line, file=sys.stderr)
        if len(diff) > 60:
            print(f"... ({len(diff) - 60} more diff lines)", file=sys.stderr)
        print(f"Regenerate with: python3 {SCRIPT}", file=sys.stderr)
        return 1
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(generated)
    print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
