"""Shared pieces of Coffer's botocore-to-Rust generators (wire_model.py for JSON 1.1, query_model.py
for the AWS Query protocol).

Protocol-independent: loading a botocore model (optionally restricted to an operation subset), naming,
translating AWS's Java regexes, Rust types for shapes, and the model-constraint validation code
(`Validate` impls and `check_*` functions built on crates/wire/src/codec.rs), so both protocols report
constraint violations through one mechanism. Also the write / `--check` / `--stdout` driver.
"""

from __future__ import annotations

import difflib
import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

RUST_KEYWORDS = {
    "as", "async", "await", "box", "break", "const", "continue", "crate", "dyn", "else", "enum",
    "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move",
    "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true", "try", "type",
    "unsafe", "use", "where", "while", "yield",
}

# The order in which one member's failed constraints are listed. Which order AWS uses differs by
# front-end: STS reports `pattern` before `length` [AWS: an empty RoleArn gives "2 validation errors
# detected: Value '' at 'roleArn' ... regular expression pattern ...; Value '' at 'roleArn' ... length
# greater than or equal to 20"]; for Secrets Manager the order is unrecorded and stays as first written.
LENGTH_FIRST = ("length", "enum", "pattern")
PATTERN_FIRST = ("pattern", "enum", "length")


class UnsupportedModel(Exception):
    """The model uses something this generator cannot translate faithfully."""


# ------------------------------------------------------------------------------------------------
# Model loading and naming
# ------------------------------------------------------------------------------------------------


def load_model(service: str, api_version: str) -> dict:
    import botocore.session

    loader = botocore.session.get_session().get_component("data_loader")
    return loader.load_service_model(service, "service-2", api_version=api_version)


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
    # AWS lower-cases only the first letter (`rotationLambdaARN`), in validation paths and in
    # CloudTrail records alike; applied literally, `ARN` becomes `aRN` and `AWSAccountId`
    # `aWSAccountId`.
    return member[:1].lower() + member[1:]


def rust_str(text: str) -> str:
    if "\\" not in text and '"' not in text:
        return f'"{text}"'
    hashes = "#"
    while f'"{hashes}' in text:
        hashes += "#"
    return f'r{hashes}"{text}"{hashes}'


def const_name(shape_name: str) -> str:
    return snake_case(shape_name).upper()


def check_fn(shape_name: str) -> str:
    return f"check_{snake_case(shape_name)}"


def opt(n) -> str:
    return "None" if n is None else f"Some({n})"


# ------------------------------------------------------------------------------------------------
# Java regex -> `regex` crate
# ------------------------------------------------------------------------------------------------

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
# Unicode general categories: `\p{L}` means the same in Java and the `regex` crate. Java's other `\p{..}`
# names (`Alpha`, `Punct`, ...) are ASCII POSIX classes there and Unicode ones here, so they are refused.
UNICODE_CATEGORIES = {
    "L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No", "P", "Pc", "Pd",
    "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So", "Z", "Zs", "Zl", "Zp", "C", "Cc", "Cf",
    "Co", "Cn",
}


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
            elif e == "u":
                # Java reads exactly four hex digits, so the model's `\u10000-\u10FFFF` is `\u1000`,
                # `0-\u10FF`, `F`, `F` (AWS indeed rejects supplementary characters there).
                digits = pattern[i + 2 : i + 6]
                if len(digits) != 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                    raise UnsupportedModel(f"malformed \\u escape in pattern {pattern!r}")
                if 0xD800 <= int(digits, 16) <= 0xDFFF:
                    raise UnsupportedModel(f"surrogate \\u{digits} in pattern {pattern!r}")
                out.append(f"\\x{{{digits}}}")
                i += 6
                continue
            elif e in "pP":
                end = pattern.find("}", i)
                if pattern[i + 2 : i + 3] != "{" or end < 0:
                    raise UnsupportedModel(f"\\{e} without {{name}} in pattern {pattern!r}")
                name = pattern[i + 3 : end]
                if name not in UNICODE_CATEGORIES:
                    raise UnsupportedModel(f"\\{e}{{{name}}} in pattern {pattern!r} needs a rule")
                out.append(pattern[i : end + 1])
                i = end + 1
                continue
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


# ------------------------------------------------------------------------------------------------
# Model analysis
# ------------------------------------------------------------------------------------------------


class Model:
    """A botocore service model, optionally restricted to a subset of its operations.

    `byte_length_shapes`: string shapes whose length limit is enforced on the UTF-8 byte length
    instead of the code point count. `constraint_order`: see LENGTH_FIRST / PATTERN_FIRST.
    `service_checked_shapes`: scalar shapes whose model constraints the service checks itself,
    with its own exception, so decoding must let them through.
    """

    def __init__(
        self,
        raw: dict,
        operations: list[str] | None = None,
        byte_length_shapes: frozenset[str] = frozenset(),
        constraint_order: tuple[str, ...] = LENGTH_FIRST,
        service_checked_shapes: frozenset[str] = frozenset(),
    ):
        self.raw = raw
        self.shapes: dict = raw["shapes"]
        self.operations: dict = raw["operations"]
        if operations is None:
            self.op_names = sorted(self.operations)
        else:
            unknown = [op for op in operations if op not in self.operations]
            if unknown:
                raise UnsupportedModel(f"operations not in the model: {', '.join(unknown)}")
            if len(set(operations)) != len(operations):
                raise UnsupportedModel("an operation is listed twice")
            self.op_names = sorted(operations)
        self.byte_length_shapes = byte_length_shapes
        self.constraint_order = constraint_order
        self.service_checked_shapes = service_checked_shapes
        for name in service_checked_shapes:
            if name not in self.shapes or self.shapes[name]["type"] in ("structure", "list", "map"):
                raise UnsupportedModel(f"service-checked shape {name} is not a scalar of the model")
        self.input_structs: set[str] = set()
        self.output_structs: set[str] = set()
        self.checked_shapes: set[str] = set()
        self.echo_structs: set[str] = set()
        self.patterns: dict[str, str] = {}
        self.enums: dict[str, list] = {}
        self.uses: set[str] = set()
        reached: set[str] = set()
        for name in self.op_names:
            op = self.operations[name]
            if "input" in op:
                self._reach(op["input"]["shape"], self.input_structs, [], reached)
            if "output" in op:
                self._reach(op["output"]["shape"], self.output_structs, [], reached)
        # Only shapes the generated code uses: a subset must not drag in the whole model.
        for name in reached if operations is not None else self.shapes:
            shape = self.shapes[name]
            for member, spec in shape.get("members", {}).items():
                if "sensitive" in spec:
                    # The Rust type is chosen per shape; a member-level override would be ignored.
                    raise UnsupportedModel(f"{name}.{member}: member-level `sensitive`")
            if "enum" in shape:
                self.enums[name] = shape["enum"]

    def _reach(self, name: str, into: set, stack: list, reached: set):
        if name in stack:
            raise UnsupportedModel(f"recursive shape {' -> '.join(stack + [name])}")
        reached.add(name)
        shape = self.shapes[name]
        t = shape["type"]
        if t == "structure":
            if len(shape.get("members", {})) > 64:
                raise UnsupportedModel(f"{name} has more than 64 members (codec::MemberSet)")
            into.add(name)
            for m in shape.get("members", {}).values():
                self._reach(m["shape"], into, stack + [name], reached)
        elif t == "list":
            self._reach(shape["member"]["shape"], into, stack + [name], reached)
        elif t == "map":
            self._reach(shape["key"]["shape"], into, stack + [name], reached)
            self._reach(shape["value"]["shape"], into, stack + [name], reached)

    def shape(self, name: str) -> dict:
        return self.shapes[name]

    def input_name(self, op: str) -> str:
        return self.operations[op]["input"]["shape"]

    def output_name(self, op: str) -> str:
        o = self.operations[op].get("output")
        return o["shape"] if o else f"{op}Response"

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
        if name in self.service_checked_shapes:
            return False
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
# Documentation and validation code
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
            unit = "UTF-8 bytes" if name in model.byte_length_shapes else "characters"
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
    if name in model.service_checked_shapes:
        parts.append("checked by the service, not when decoding")
    if t == "list":
        parts.append(f"items `{shape['member']['shape']}`")
    if t == "map":
        parts.append(f"`{shape['key']['shape']}` to `{shape['value']['shape']}`")
    return "/// " + ", ".join(parts) + "."


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
        checks = {}
        if lo is not None or hi is not None:
            length = f"{text}.len()" if name in model.byte_length_shapes else f"{text}.chars().count()"
            checks["length"] = f"errors.length(path, {echo}, {length}, {bounds});"
        if "enum" in shape:
            checks["enum"] = f"errors.one_of(path, {echo}, {text}, &{const_name(name)}_VALUES);"
        if "pattern" in shape:
            model.patterns[name] = shape["pattern"]
            checks["pattern"] = f"errors.pattern(path, {echo}, {text}, &{const_name(name)}_PATTERN);"
        lines += [checks[kind] for kind in model.constraint_order if kind in checks]
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


def emit_check_fns(model: Model) -> list[str]:
    """The `check_*` functions for every constrained shape reachable from an input structure.

    Runs before the structures are emitted: it discovers which patterns and `Echo` impls are needed.
    """
    for name in sorted(model.input_structs):
        emit_validate(model, name)
    done: set[str] = set()
    while model.checked_shapes - done:
        for name in sorted(model.checked_shapes - done):
            done.add(name)
            emit_check_fn(model, name)
    checks: list[str] = []
    for name in sorted(done):
        checks += emit_check_fn(model, name)
    return checks


def emit_enums(model: Model) -> list[str]:
    out: list[str] = []
    for name in sorted(model.enums):
        values = model.enums[name]
        out += [
            f"/// Values of the model enum `{name}`, in model order.",
            f"pub const {const_name(name)}_VALUES: [&str; {len(values)}] = ["
            + ", ".join(f'"{v}"' for v in values)
            + "];",
            "",
        ]
    return out


def emit_patterns(model: Model) -> list[str]:
    out: list[str] = []
    pattern_names = sorted(model.patterns)
    for name in pattern_names:
        src = model.patterns[name]
        out += [
            f"static {const_name(name)}_PATTERN: Pattern = Pattern::new({rust_str(src)}, || {{",
            f"    codec::compile_pattern({rust_str(translate_pattern(src))})",
            "});",
            "",
        ]
    out += [
        "/// Every model pattern, so a server can force their compilation at startup instead of on the",
        "/// first request that needs one.",
        f"pub static PATTERNS: [&Pattern; {len(pattern_names)}] = ["
        + ", ".join(f"&{const_name(n)}_PATTERN" for n in pattern_names)
        + "];",
        "",
    ]
    return out


def codec_types(model: Model) -> list[str]:
    """The `crate::codec` value types (`EpochTime`, `SensitiveString`, ...) the generated code uses."""
    return sorted(u.split("::")[-1] for u in model.uses if u.startswith("crate::codec::"))


def std_uses(model: Model) -> list[str]:
    return sorted(u for u in model.uses if u.startswith("std::"))


def section(title: str) -> list[str]:
    bar = "// " + "-" * 97
    return [bar, f"// {title}", bar, ""]


# ------------------------------------------------------------------------------------------------
# Audit records: CloudTrail's readOnly, requestParameters and responseElements (spec §7.2, §7.3)
# ------------------------------------------------------------------------------------------------

# CloudTrail marks calls read-only by what they do; for the operations Coffer serves, these name
# prefixes say it. Services add the read-only operations the prefixes miss (AuditConfig.read_only).
READ_ONLY_PREFIXES = ("Get", "Describe", "List", "BatchGet")

# Names the generated audit code uses; a model structure with one of these names would clash.
AUDIT_NAMES = {"Map", "Value", "AuditValue", "OperationOutput"}


class AuditConfig:
    """What a service adds to the model-derived audit rules.

    `read_only`: operations CloudTrail marks read-only that READ_ONLY_PREFIXES miss.
    `redacted`: (structure, member) pairs never recorded although the model does not mark them
    sensitive, each with the reason (a comment in the generated code).
    """

    def __init__(self, read_only: tuple[str, ...] = (), redacted: dict | None = None):
        self.read_only = read_only
        self.redacted: dict[tuple[str, str], str] = redacted or {}


def read_only_ops(model: Model, config: AuditConfig) -> list[str]:
    unknown = [op for op in config.read_only if op not in model.op_names]
    if unknown:
        raise UnsupportedModel(f"read-only operations not served: {', '.join(unknown)}")
    return [
        op for op in model.op_names
        if op.startswith(READ_ONLY_PREFIXES) or op in config.read_only
    ]


def recorded_response_ops(model: Model, config: AuditConfig) -> list[str]:
    """Operations whose response CloudTrail records: not read-only (so not GetSecretValue,
    BatchGetSecretValue, GetRandomPassword nor KMS's cryptographic operations) and with an output."""
    read_only = set(read_only_ops(model, config))
    return [op for op in model.op_names if op not in read_only and "output" in model.operations[op]]


def _sensitive_value(model: Model, name: str) -> bool:
    """A shape whose values are secret as a whole: sensitive itself, or a list or map of such.
    (A structure with sensitive members is recorded without them instead.)"""
    shape = model.shape(name)
    if shape.get("sensitive"):
        return True
    if shape["type"] == "list":
        return _sensitive_value(model, shape["member"]["shape"])
    if shape["type"] == "map":
        return _sensitive_value(model, shape["key"]["shape"]) or _sensitive_value(
            model, shape["value"]["shape"]
        )
    return False


def _binary_value(model: Model, name: str) -> bool:
    shape = model.shape(name)
    if shape["type"] == "blob":
        return True
    if shape["type"] == "list":
        return _binary_value(model, shape["member"]["shape"])
    if shape["type"] == "map":
        return _binary_value(model, shape["value"]["shape"])
    return False


def audit_drop_reason(model: Model, config: AuditConfig, struct: str, member: str, spec: dict):
    """Why a member is never written to an audit record, or None if it is recorded."""
    if (struct, member) in config.redacted:
        return config.redacted[(struct, member)]
    if spec.get("sensitive") or _sensitive_value(model, spec["shape"]):
        return "sensitive in the model"
    if _binary_value(model, spec["shape"]):
        return "binary, which CloudTrail does not record"
    return None


def audit_structs(model: Model, config: AuditConfig) -> list[str]:
    """The structures an audit record can hold: those reachable through recorded members from
    every request and from the responses CloudTrail records."""
    for struct, member in config.redacted:
        if member not in model.shapes.get(struct, {}).get("members", {}):
            raise UnsupportedModel(f"redacted member {struct}.{member} is not in the model")
    found: set[str] = set()

    def reach(name: str):
        shape = model.shape(name)
        t = shape["type"]
        if t == "structure":
            if name in found:
                return
            if name in AUDIT_NAMES:
                raise UnsupportedModel(f"structure {name} clashes with a generated audit name")
            found.add(name)
            for member, spec in shape.get("members", {}).items():
                if audit_drop_reason(model, config, name, member, spec) is None:
                    reach(spec["shape"])
        elif t == "list":
            reach(shape["member"]["shape"])
        elif t == "map":
            if model.shape(shape["key"]["shape"])["type"] != "string":
                raise UnsupportedModel(f"map {name} with non-string keys in an audit record")
            reach(shape["value"]["shape"])

    for op in model.op_names:
        reach(model.input_name(op))
    for op in recorded_response_ops(model, config):
        reach(model.output_name(op))
    return sorted(found)


def emit_audit(model: Model, config: AuditConfig) -> list[str]:
    """`Operation::read_only` and `records_response`, `audit_request_parameters`,
    `OperationOutput` with `audit_response_elements`, and `AuditValue` for every structure an
    audit record can hold (built on crates/wire/src/audit.rs)."""
    ops = model.op_names
    read_only = read_only_ops(model, config)
    recorded = recorded_response_ops(model, config)

    def matches(names: list[str]) -> str:
        if not names:
            return "false"
        if len(names) == len(ops):
            return "true"
        return "matches!(self, " + " | ".join(f"Operation::{op}" for op in names) + ")"

    named = "named " + ", ".join(f"`{p}*`" for p in READ_ONLY_PREFIXES)
    if config.read_only:
        doc = f"CloudTrail's `readOnly`: operations {named}, and " + ", ".join(
            f"`{op}`" for op in config.read_only
        ) + "."
    else:
        doc = f"CloudTrail's `readOnly`: operations {named}."
    out = ["impl Operation {"]
    out += textwrap.wrap(doc, width=100, initial_indent="    /// ", subsequent_indent="    /// ")
    out += [
        "    pub fn read_only(self) -> bool {",
        f"        {matches(read_only)}",
        "    }",
        "",
        "    /// Whether the audit record holds the response (`responseElements`): never for read-only",
        "    /// calls (so never a returned secret value, password or plaintext) nor for operations",
        "    /// without output; `null` then.",
        "    pub fn records_response(self) -> bool {",
        f"        {matches(recorded)}",
        "    }",
        "}",
        "",
        "/// CloudTrail's `requestParameters` for a decoded request: its members with the first letter",
        "/// lower-cased, without sensitive or binary ones; `null` when none is left.",
        "pub fn audit_request_parameters(request: &Request) -> Value {",
        "    match request {",
    ]
    out += [f"        Request::{op}(r) => audit::top_level(r)," for op in ops]
    out += [
        "    }",
        "}",
        "",
        "/// Ties a response type to its operation, and gives the audit record's `responseElements`.",
        "pub trait OperationOutput {",
        "    const OPERATION: Operation;",
        "",
        "    /// `null` unless `Self::OPERATION.records_response()`.",
        "    fn audit_response_elements(&self) -> Value;",
        "}",
        "",
        "/// CloudTrail's `responseElements` for a response: `null` for read-only operations and",
        "/// operations without output, else the members as in `audit_request_parameters`.",
        "pub fn audit_response_elements<T: OperationOutput>(response: &T) -> Value {",
        "    response.audit_response_elements()",
        "}",
        "",
    ]
    outputs = [model.output_name(op) for op in ops]
    if len(set(outputs)) != len(outputs):
        raise UnsupportedModel("two operations share an output shape (one OperationOutput impl each)")
    for op in ops:
        name = model.output_name(op)
        if op in recorded:
            body = ["    fn audit_response_elements(&self) -> Value {", "        audit::top_level(self)", "    }"]
        else:
            why = "read-only" if op in read_only else "no output"
            body = [
                f"    /// Not recorded ({why}): the members are not even looked at.",
                "    fn audit_response_elements(&self) -> Value {",
                "        Value::Null",
                "    }",
            ]
        out += [f"impl OperationOutput for {name} {{", f"    const OPERATION: Operation = Operation::{op};", ""]
        out += body
        out += ["}", ""]
    for name in audit_structs(model, config):
        members = model.shape(name).get("members", {})
        lines = []
        for member, spec in members.items():
            reason = audit_drop_reason(model, config, name, member, spec)
            if reason is not None:
                lines.append(f"// `{member}`: never recorded ({reason}).")
                continue
            lines.append(
                f'audit::member(&mut members, "{lower_camel(member)}", self.{field_name(member)}.as_ref());'
            )
        recorded_any = any(not l.startswith("//") for l in lines)
        out += [f"impl AuditValue for {name} {{", "    fn audit_value(&self) -> Option<Value> {"]
        if recorded_any:
            out.append("        let mut members = Map::new();")
        else:
            out.append("        let members = Map::new();")
        out += ["        " + l for l in lines]
        out += ["        Some(Value::Object(members))", "    }", "}", ""]
    return out


# ------------------------------------------------------------------------------------------------
# Output
# ------------------------------------------------------------------------------------------------


def rustfmt(source: str, script: str) -> str:
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
        sys.exit(f"{script}: rustfmt not found on PATH")
    if result.returncode != 0:
        sys.stderr.write(source)
        sys.exit(f"{script}: rustfmt rejected the generated code:\n{result.stderr}")
    return result.stdout


def emit_file(generated: str, output: Path, script: str, mode: str) -> int:
    """Writes `generated` to `output` (mode "write"), prints it ("stdout"), or compares ("check").

    Returns the process exit status: 1 when `--check` finds the committed file stale.
    """
    rel = output.relative_to(REPO_ROOT)
    if mode == "stdout":
        sys.stdout.write(generated)
        return 0
    if mode == "check":
        current = output.read_text() if output.exists() else ""
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
        print(f"Regenerate with: python3 {script}", file=sys.stderr)
        return 1
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(generated)
    print(f"wrote {rel}")
    return 0
