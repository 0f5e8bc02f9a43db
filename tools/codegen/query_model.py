#!/usr/bin/env python3
"""Generate crates/wire/src/{iam,sts}/model.rs (AWS Query protocol) from botocore's service models.

Usage (from anywhere):
    python3 tools/codegen/query_model.py                  # (re)write every generated file
    python3 tools/codegen/query_model.py --check          # exit 1 and print a diff summary if stale
    python3 tools/codegen/query_model.py --stdout --service sts   # print one generated file

Needs python3 with botocore and rustfmt, like wire_model.py (the JSON 1.1 generator); both build on
codegen_common.py, so model constraints are validated by the same generated `Validate` code.

What is generated per service, for the operations listed in SERVICES below (see
crates/wire/src/query/ for the hand-written runtime):
- `API_VERSION`, `XML_NAMESPACE`, `SIGNING_NAME`.
- `Operation`: `ALL`, `from_action`, `from_params` (Action/Version dispatch errors), `name`,
  `has_output`, `errors`.
- `Request`: one variant per operation, with `Request::decode(operation, &FormParams)`;
  `OperationInput` ties each `<Op>Request` to its operation and `<Op>Response`.
- `ModeledError`: every error shape the listed operations declare, with the model's error code,
  HTTP status and fault side, and `with_message` to build a `query::QueryError`.
- One struct per structure shape reachable from the listed operations; every member is `Option<T>`.
  Input side: `query::FromForm` (form parameters per botocore's query serializer) and `Validate`.
  Output side: `query::XmlStructure`; each `<Op>Response` also implements `query::QueryOutput`
  (root element, namespace, result wrapper), including an empty one for operations without output.
- IAM policy documents (`policyDocumentType`) are written URL-encoded (spec §5.2).
- The audit record's parts, as for the JSON services (codegen_common.emit_audit): `Operation::read_only`,
  `Operation::records_response`, `audit_request_parameters` (from the decoded request),
  `OperationOutput` / `audit_response_elements`, and `AuditValue` for the structures they hold.

Like wire_model.py, it refuses model features it cannot translate faithfully (flattened lists or
maps, XML attributes, recursive shapes, unknown regex escapes, ...).
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from dataclasses import dataclass, field

from codegen_common import (
    AUDIT_NAMES,
    PATTERN_FIRST,
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

SCRIPT = "tools/codegen/query_model.py"


@dataclass(frozen=True)
class Service:
    api_version: str
    module: str
    # The operations Coffer serves, one per line: adding an operation is adding its name here.
    operations: tuple[str, ...]
    # Read-only operations beyond the name prefixes, and members never to be recorded.
    audit: AuditConfig = field(default_factory=AuditConfig)


SERVICES = {
    "iam": Service(
        api_version="2010-05-08",
        module="iam",
        operations=(
            # Users
            "CreateUser",
            "GetUser",
            "ListUsers",
            "DeleteUser",
            "TagUser",
            "UntagUser",
            "ListUserTags",
            # Access keys
            "CreateAccessKey",
            "ListAccessKeys",
            "UpdateAccessKey",
            "DeleteAccessKey",
            # Inline user policies
            "PutUserPolicy",
            "GetUserPolicy",
            "DeleteUserPolicy",
            "ListUserPolicies",
            # Groups
            "CreateGroup",
            "GetGroup",
            "DeleteGroup",
            "AddUserToGroup",
            "RemoveUserFromGroup",
            "ListGroupsForUser",
            "PutGroupPolicy",
            "GetGroupPolicy",
            "DeleteGroupPolicy",
            "ListGroupPolicies",
            # Roles
            "CreateRole",
            "GetRole",
            "DeleteRole",
            "UpdateAssumeRolePolicy",
            "TagRole",
            "UntagRole",
            "PutRolePolicy",
            "GetRolePolicy",
            "DeleteRolePolicy",
            "ListRolePolicies",
            # Managed policies
            "CreatePolicy",
            "GetPolicy",
            "GetPolicyVersion",
            "DeletePolicy",
            "ListPolicies",
            "AttachUserPolicy",
            "DetachUserPolicy",
            "ListAttachedUserPolicies",
            "AttachGroupPolicy",
            "DetachGroupPolicy",
            "ListAttachedGroupPolicies",
            "AttachRolePolicy",
            "DetachRolePolicy",
            "ListAttachedRolePolicies",
        ),
    ),
    "sts": Service(
        api_version="2011-06-15",
        module="sts",
        operations=(
            "GetCallerIdentity",
            "AssumeRole",
            "GetSessionToken",
        ),
        # botocore marks only the secret access key sensitive; these are credentials too and
        # never belong in an audit record.
        audit=AuditConfig(
            redacted={
                ("Credentials", "SessionToken"): "a session token is a credential",
                ("AssumeRoleRequest", "TokenCode"): "an MFA code is a credential",
                ("GetSessionTokenRequest", "TokenCode"): "an MFA code is a credential",
                ("ProvidedContext", "ContextAssertion"): "a signed context assertion is a credential",
            }
        ),
    ),
}

# String shapes that IAM sends URL-encoded (RFC 3986) in responses: policy documents (spec §5.2).
# botocore's `json_decode_policies` undoes exactly this, keyed on the same shape name.
URL_ENCODED_SHAPES = frozenset({"policyDocumentType"})

# Names the generated module defines or imports; a model structure with one of these names would
# shadow or clash with them.
RESERVED_NAMES = {
    "Operation", "Request", "OperationInput", "ModeledError", "Path", "Pattern", "Validate",
    "ValidationErrors", "FormParams", "FormReader", "FromForm", "QueryDecodeError", "QueryError",
    "QueryOutput", "XmlStructure", "XmlWriter", "Echo", "EchoStructure", "EpochTime", "Blob",
    "SensitiveBlob", "SensitiveString", "BTreeMap", "Option", "Result", "String", "Vec", "Box",
}

# Member-spec keys that change how a member is put on the wire in ways this generator does not
# implement.
UNSUPPORTED_MEMBER_KEYS = {"xmlAttribute", "xmlNamespace", "flattened", "queryName", "hostLabel"}


# ------------------------------------------------------------------------------------------------
# Wire names and per-shape code fragments
# ------------------------------------------------------------------------------------------------


def wire_name(member: str, spec: dict) -> str:
    """The parameter / element name: the member's `locationName`, else the member name."""
    bad = UNSUPPORTED_MEMBER_KEYS & set(spec)
    if bad:
        raise UnsupportedModel(f"member {member}: {', '.join(sorted(bad))}")
    return spec.get("locationName", member)


def collection_names(model: Model, shape_name: str) -> tuple[str, ...]:
    """List: (item name,). Map: (entry name, key name, value name). Flattened ones are refused."""
    shape = model.shape(shape_name)
    if shape.get("flattened"):
        raise UnsupportedModel(f"flattened {shape['type']} {shape_name}")
    if shape["type"] == "list":
        return (shape["member"].get("locationName", "member"),)
    return ("entry", shape["key"].get("locationName", "key"), shape["value"].get("locationName", "value"))


def reader(model: Model, shape_name: str) -> str:
    """Expression reading a value of the shape at a `FormReader`'s current key (`FnMut(&mut FormReader)
    -> Result<Option<T>, QueryDecodeError>`)."""
    t = model.shape(shape_name)["type"]
    if t == "structure":
        return "FormReader::structure"
    if t == "list":
        (item,) = collection_names(model, shape_name)
        inner = reader(model, model.shape(shape_name)["member"]["shape"])
        return f'|form| form.list("{item}", {inner})'
    if t == "map":
        entry, key, value = collection_names(model, shape_name)
        shape = model.shape(shape_name)
        kr, vr = reader(model, shape["key"]["shape"]), reader(model, shape["value"]["shape"])
        return f'|form| form.map("{entry}", "{key}", "{value}", {kr}, {vr})'
    return "FormReader::scalar"


def writer(model: Model, shape_name: str) -> str:
    """Expression writing one value of the shape (`FnMut(&mut XmlWriter, &str, &T)`)."""
    shape = model.shape(shape_name)
    t = shape["type"]
    if t == "structure":
        return "XmlWriter::structure"
    if t == "string" and shape_name in URL_ENCODED_SHAPES:
        return "XmlWriter::url_encoded"
    if t == "list":
        (item,) = collection_names(model, shape_name)
        inner = writer(model, shape["member"]["shape"])
        return f'|w, name, items| w.list(name, "{item}", items, {inner})'
    if t == "map":
        entry, key, value = collection_names(model, shape_name)
        kw, vw = writer(model, shape["key"]["shape"]), writer(model, shape["value"]["shape"])
        return f'|w, name, map| w.map(name, "{entry}", "{key}", "{value}", map, {kw}, {vw})'
    return "XmlWriter::value"


def write_member(model: Model, shape_name: str, name: str) -> str:
    """Statement writing member `name` whose value is bound to `value`."""
    shape = model.shape(shape_name)
    t = shape["type"]
    if t == "structure":
        return f'w.structure("{name}", value);'
    if t == "string" and shape_name in URL_ENCODED_SHAPES:
        return f'w.url_encoded("{name}", value);'
    if t == "list":
        (item,) = collection_names(model, shape_name)
        return f'w.list("{name}", "{item}", value, {writer(model, shape["member"]["shape"])});'
    if t == "map":
        entry, key, val = collection_names(model, shape_name)
        kw, vw = writer(model, shape["key"]["shape"]), writer(model, shape["value"]["shape"])
        return f'w.map("{name}", "{entry}", "{key}", "{val}", value, {kw}, {vw});'
    return f'w.value("{name}", value);'


# ------------------------------------------------------------------------------------------------
# Code emission
# ------------------------------------------------------------------------------------------------


def modeled_errors(model: Model) -> list[tuple[str, str, int, bool]]:
    """(shape name, code, HTTP status, sender fault) of every error the operations declare."""
    names = sorted({e["shape"] for op in model.op_names for e in model.operations[op].get("errors", [])})
    out = []
    for name in names:
        trait = model.shape(name).get("error", {})
        status = trait.get("httpStatusCode", 400)
        out.append((name, trait.get("code", name), status, trait.get("senderFault", status < 500)))
    return out


def emit_constants(model: Model) -> list[str]:
    meta = model.raw["metadata"]
    signing = meta.get("signingName", meta["endpointPrefix"])
    return [
        "/// The only `Version` this service accepts.",
        f'pub const API_VERSION: &str = "{meta["apiVersion"]}";',
        "",
        "/// `xmlns` of every response and modeled error.",
        f'pub const XML_NAMESPACE: &str = "{meta["xmlNamespace"]}";',
        "",
        "/// The SigV4 credential-scope service that routes a Query request here (spec §1).",
        f'pub const SIGNING_NAME: &str = "{signing}";',
        "",
    ]


def emit_operations(model: Model) -> list[str]:
    ops = model.op_names
    version = model.raw["metadata"]["apiVersion"]
    out = [
        "/// The operations Coffer serves, selected by `Action=<Name>` with",
        f"/// `Version={version}`.",
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
        "    /// Parses an `Action` value: exactly the operation name, case-sensitive.",
        "    pub fn from_action(action: &str) -> Option<Operation> {",
        "        match action {",
    ]
    out += [f'            "{op}" => Some(Operation::{op}),' for op in ops]
    out += ["            _ => None,", "        }", "    }", ""]
    out += [
        "    /// The operation named by the request's `Action`, if `Version` is this API's:",
        "    /// `MissingAction` / `InvalidAction` otherwise (see `query::resolve_operation`).",
        "    pub fn from_params(form: &FormParams) -> Result<Operation, QueryError> {",
        "        query::resolve_operation(form, API_VERSION, Operation::from_action)",
        "    }",
        "",
        "    /// The operation name as it appears in `Action`, IAM actions and CloudTrail.",
        "    pub fn name(&self) -> &'static str {",
        "        match self {",
    ]
    out += [f'            Operation::{op} => "{op}",' for op in ops]
    out += ["        }", "    }", ""]
    void = [op for op in ops if "output" not in model.operations[op]]
    out += [
        "    /// False for operations without an output shape: their response holds only",
        "    /// `ResponseMetadata`.",
        "    pub fn has_output(&self) -> bool {",
    ]
    if void:
        out += ["        !matches!(self, " + " | ".join(f"Operation::{op}" for op in void) + ")"]
    else:
        out += ["        true"]
    out += ["    }", ""]
    out += [
        "    /// The errors the model declares for the operation, in model order.",
        "    pub fn errors(&self) -> &'static [ModeledError] {",
        "        match self {",
    ]
    for op in ops:
        errs = [e["shape"] for e in model.operations[op].get("errors", [])]
        out.append(
            f"            Operation::{op} => &[" + ", ".join(f"ModeledError::{e}" for e in errs) + "],"
        )
    out += ["        }", "    }", "}", ""]
    return out


def emit_requests(model: Model) -> list[str]:
    ops = model.op_names
    out = [
        "/// A decoded, validated request of any operation.",
        "#[derive(Debug)]",
        "// One value per HTTP request, matched once and moved into its handler: boxing the larger",
        "// variants would cost an allocation and clutter every match for no gain.",
        "#[allow(clippy::large_enum_variant)]",
        "pub enum Request {",
    ]
    out += [f"    {op}({model.input_name(op)})," for op in ops]
    out += ["}", "", "impl Request {"]
    out += [
        "    /// Reads and validates the parameters of `operation` (see `query::decode`).",
        "    pub fn decode(operation: Operation, form: &FormParams) -> Result<Request, QueryDecodeError> {",
        "        match operation {",
    ]
    out += [f"            Operation::{op} => query::decode(form).map(Request::{op})," for op in ops]
    out += ["        }", "    }", ""]
    out += [
        "    /// Reads the parameters of `operation` without checking the model's constraints: tests",
        "    /// build requests with every member set this way.",
        "    #[cfg(test)]",
        "    pub(crate) fn decode_unvalidated(",
        "        operation: Operation,",
        "        form: &FormParams,",
        "    ) -> Result<Request, QueryDecodeError> {",
        "        let form = &mut FormReader::new(form);",
        "        match operation {",
    ]
    out += [f"            Operation::{op} => FromForm::read(form).map(Request::{op})," for op in ops]
    out += ["        }", "    }", ""]
    out += ["    pub fn operation(&self) -> Operation {", "        match self {"]
    out += [f"            Request::{op}(_) => Operation::{op}," for op in ops]
    out += ["        }", "    }", "}", ""]
    out += [
        "/// Ties a request type to its operation and response type.",
        "pub trait OperationInput: FromForm + Validate {",
        "    const OPERATION: Operation;",
        "    type Output: QueryOutput + Default;",
        "}",
        "",
    ]
    for op in ops:
        out += [
            f"impl OperationInput for {model.input_name(op)} {{",
            f"    const OPERATION: Operation = Operation::{op};",
            f"    type Output = {model.output_name(op)};",
            "}",
            "",
        ]
    return out


def emit_errors(model: Model) -> list[str]:
    errors = modeled_errors(model)
    names = [e[0] for e in errors]
    out = [
        "/// The error shapes the operations declare, with their wire code, HTTP status and fault side",
        "/// from the model's `error` trait.",
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
        lines += [f"    pub fn {fn}(self) -> {ret} {{", "        match self {"]
        lines += [f"            ModeledError::{n} => {v}," for n, v in zip(names, values)]
        lines += ["        }", "    }", ""]
        return lines

    out += table(["/// The shape name, which SDKs use for the exception class."], "shape_name",
                 "&'static str", [f'"{e[0]}"' for e in errors])
    out += table(["/// The `<Code>` sent on the wire: the model's error code, not the shape name."],
                 "code", "&'static str", [f'"{e[1]}"' for e in errors])
    out += table(["/// The HTTP status from the model."], "http_status", "u16", [str(e[2]) for e in errors])
    out += table(["/// `Sender` (true) or `Receiver` (false) in `<Type>`."], "sender_fault", "bool",
                 ["true" if e[3] else "false" for e in errors])
    out += [
        "    /// The error whose shape is `shape_name` (`NoSuchEntityException`).",
        "    pub fn from_shape_name(shape_name: &str) -> Option<ModeledError> {",
        "        ModeledError::ALL.into_iter().find(|e| e.shape_name() == shape_name)",
        "    }",
        "",
        "    /// The error with the wire `code`, if the model has one.",
        "    pub fn from_code(code: &str) -> Option<ModeledError> {",
        "        ModeledError::ALL.into_iter().find(|e| e.code() == code)",
        "    }",
        "",
        "    /// This error, ready to render, with `message`.",
        "    pub fn with_message(self, message: impl Into<String>) -> QueryError {",
        "        QueryError::modeled(self.code(), self.http_status(), self.sender_fault(), message)",
        "    }",
        "}",
        "",
    ]
    return out


def emit_struct(model: Model, name: str, title: str, output_of: str | None = None) -> list[str]:
    if name in RESERVED_NAMES or name in AUDIT_NAMES:
        raise UnsupportedModel(f"structure {name} clashes with a generated or imported name")
    shape = model.shape(name)
    members = shape.get("members", {})
    required = set(shape.get("required", []))
    is_in = name in model.input_structs
    is_out = name in model.output_structs
    out = [f"/// {title}", "#[derive(Clone, Debug, Default)]"]
    if members:
        out.append(f"pub struct {name} {{")
        seen_fields = set()
        for member, spec in members.items():
            fname = field_name(member)
            if fname in seen_fields:
                raise UnsupportedModel(f"{name}: two members map to field {fname}")
            seen_fields.add(fname)
            out.append("    " + describe(model, spec["shape"], spec, member in required))
            if is_out and spec["shape"] in URL_ENCODED_SHAPES:
                out.append("    /// Written URL-encoded in responses (spec §5.2).")
            out.append(f"    pub {fname}: Option<{model.rust_type(spec['shape'])}>,")
        out += ["}", ""]
    else:
        out += [f"pub struct {name} {{}}", ""]
    if is_in:
        out += emit_from_form(model, name)
        out += emit_validate(model, name)
    if is_out:
        out += emit_xml_structure(model, name)
    if output_of is not None:
        out += emit_query_output(model, name, output_of)
    if name in model.echo_structs:
        out += emit_echo(model, name)
    return out


def emit_from_form(model: Model, name: str) -> list[str]:
    members = model.shape(name).get("members", {})
    if not members:
        return [
            f"impl FromForm for {name} {{",
            "    fn read(_form: &mut FormReader<'_>) -> Result<Self, QueryDecodeError> {",
            f"        Ok({name} {{}})",
            "    }",
            "}",
            "",
        ]
    out = [
        f"impl FromForm for {name} {{",
        "    fn read(form: &mut FormReader<'_>) -> Result<Self, QueryDecodeError> {",
        f"        Ok({name} {{",
    ]
    for member, spec in members.items():
        out.append(
            f'            {field_name(member)}: form.member("{wire_name(member, spec)}", '
            f"{reader(model, spec['shape'])})?,"
        )
    out += ["        })", "    }", "}", ""]
    return out


def emit_xml_structure(model: Model, name: str) -> list[str]:
    members = model.shape(name).get("members", {})
    if not members:
        return [
            f"impl XmlStructure for {name} {{",
            "    fn write_members(&self, _w: &mut XmlWriter) {}",
            "}",
            "",
        ]
    out = [f"impl XmlStructure for {name} {{", "    fn write_members(&self, w: &mut XmlWriter) {"]
    for member, spec in members.items():
        stmt = write_member(model, spec["shape"], wire_name(member, spec))
        out += [
            f"        if let Some(value) = &self.{field_name(member)} {{",
            f"            {stmt}",
            "        }",
        ]
    out += ["    }", "}", ""]
    return out


def emit_query_output(model: Model, name: str, op: str) -> list[str]:
    output = model.operations[op].get("output")
    if output is not None and "resultWrapper" not in output:
        raise UnsupportedModel(f"{op}: output without resultWrapper")
    wrapper = f'Some("{output["resultWrapper"]}")' if output else "None"
    return [
        f"impl QueryOutput for {name} {{",
        f'    const OPERATION_NAME: &\'static str = "{op}";',
        "    const XML_NAMESPACE: &'static str = XML_NAMESPACE;",
        f"    const RESULT_WRAPPER: Option<&'static str> = {wrapper};",
        "}",
        "",
    ]


def check_names(model: Model):
    for op in model.op_names:
        members = model.shape(model.input_name(op)).get("members", {})
        for member, spec in members.items():
            if wire_name(member, spec) in ("Action", "Version"):
                raise UnsupportedModel(f"{op}: member {member} collides with the dispatch parameters")
    outputs = [model.output_name(op) for op in model.op_names]
    if len(set(outputs)) != len(outputs):
        raise UnsupportedModel("two operations share an output shape (one QueryOutput impl each)")
    inputs = {model.input_name(op) for op in model.op_names}
    for op in model.op_names:
        name = model.output_name(op)
        if "output" not in model.operations[op] and (name in model.shapes or name in inputs):
            raise UnsupportedModel(f"{op}: synthesized output name {name} is taken by a model shape")


def generate(service: str) -> str:
    config = SERVICES[service]
    raw = load_model(service, config.api_version)
    model = Model(raw, operations=list(config.operations), constraint_order=PATTERN_FIRST)
    check_names(model)
    meta = raw["metadata"]

    checks = emit_check_fns(model)

    requests = [model.input_name(op) for op in model.op_names]
    responses = [model.output_name(op) for op in model.op_names if "output" in model.operations[op]]
    shared = sorted((model.input_structs | model.output_structs) - set(requests) - set(responses))

    body: list[str] = []
    body += section("Service")
    body += emit_constants(model)
    body += section("Operations")
    body += emit_operations(model)
    body += emit_requests(model)
    body += section("Errors")
    body += emit_errors(model)
    body += section("Requests")
    for op in model.op_names:
        body += emit_struct(model, model.input_name(op), f"Input of `{op}`.")
    body += section("Responses")
    for op in model.op_names:
        name = model.output_name(op)
        if "output" in model.operations[op]:
            body += emit_struct(model, name, f"Output of `{op}`.", output_of=op)
        else:
            body += [
                f"/// Output of `{op}`: the model declares none, so the response holds only",
                "/// `ResponseMetadata`.",
                "#[derive(Clone, Debug, Default)]",
                f"pub struct {name} {{}}",
                "",
                f"impl XmlStructure for {name} {{",
                "    fn write_members(&self, _w: &mut XmlWriter) {}",
                "}",
                "",
            ]
            body += emit_query_output(model, name, op)
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

    def used(items: list[str]) -> list[str]:
        return [i for i in items if re.search(rf"\b{i}\b", text)]

    codec_items = (["self"] if "codec::" in text else []) + used(
        ["Echo", "EchoStructure", "Path", "Pattern", "Validate", "ValidationErrors"] + codec_types(model)
    )
    query_items = ["self"] + used(
        ["FormParams", "FormReader", "FromForm", "QueryDecodeError", "QueryError", "QueryOutput",
         "XmlStructure", "XmlWriter"]
    )
    ops = ", ".join(model.op_names)
    header = [
        f"// @generated by {SCRIPT} from botocore's `{service}` service model (API version",
        f"// {meta['apiVersion']}). Do not edit by hand: change the generator (or botocore) and run",
        f"//     python3 {SCRIPT}",
        "// `--check` (run by the crate's tests) fails when this file is stale.",
        "",
        f"//! {meta['serviceFullName']} (Query protocol), the operations Coffer serves: request",
        "//! decoding from form parameters (`FromForm`), model-constraint validation (`Validate`, spec §1.6",
        "//! grammar), XML response encoding (`XmlStructure`, `QueryOutput`; absent members omitted) and the",
        "//! modeled errors (`ModeledError`); the audit record's `requestParameters`, `responseElements` and",
        "//! `readOnly` (see `crate::audit`).",
        "//!",
    ]
    header += textwrap.wrap(
        f"Operations: {ops}.", width=100, initial_indent="//! ", subsequent_indent="//! "
    )
    header += [
        "",
    ]
    header += [f"use {u};" for u in std_uses(model)]
    header += [
        "",
        "use serde_json::{" + ("Map, Value" if "Map::new()" in text else "Value") + "};",
        "",
        "use crate::audit::{self, AuditValue};",
        "use crate::codec::{" + ", ".join(codec_items) + "};",
        "use crate::query::{" + ", ".join(query_items) + "};",
        "",
    ]
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
            print(f"query_model.py: {service}: unsupported model feature: {err}", file=sys.stderr)
            return 2
        status = max(status, emit_file(generated, output, SCRIPT, mode_name))
    return status


if __name__ == "__main__":
    sys.exit(main())
