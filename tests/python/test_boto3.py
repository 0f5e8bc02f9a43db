"""boto3 against a real Coffer: values, errors as botocore maps them, staging labels, ListSecrets,
idempotency, deletion, DescribeSecret field presence, and what reaches the log.

Expected messages are the spec's (shared/spec/secretsmanager-api.md, Appendix A); label states are
compared as sets (§4.4: label order is not significant)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import secrets as pysecrets
import time
import urllib.error
import urllib.request
import uuid

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest

from conftest import start_server, stop_and_check

UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

MSG_NOT_FOUND = "Secrets Manager can't find the specified secret."
MSG_NO_LABEL = "Secrets Manager can't find the specified secret value for staging label: {}"
MSG_NO_VERSION = "Secrets Manager can't find the specified secret value for VersionId: {}"
MSG_STAGE_MISMATCH = "You provided a VersionStage that is not associated to the provided VersionId."
MSG_MARKED = "You can't perform this operation on the secret because it was marked for deletion."
MSG_SCHEDULED = "You can't create this secret because a secret with this name is already scheduled for deletion."
MSG_EXISTS = "The operation failed because the secret {} already exists."
MSG_TOKEN = ("You can't use ClientRequestToken {} because that value is already in use for a "
             "version of secret {}.")
MSG_NAME = ("Invalid name. Must be a valid name containing alphanumeric characters, or any of the "
            "following: -/_+=.@!")
MSG_REMOVE_FROM = ("The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is "
                   "currently attached to version {}, so you must explicitly reference that version "
                   "in RemoveFromVersionId.")
MSG_WINDOW = "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."
MSG_FORCE_AND_WINDOW = "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."
MSG_PASSWORD_SHORT = "Password length is too short based on the required types."
MSG_PASSWORD_MAX = ("1 validation error detected: Value '5000' at 'passwordLength' failed to satisfy "
                    "constraint: Member must have value less than or equal to 4096")
MSG_SIGNATURE = ("The request signature we calculated does not match the signature you provided. "
                 "Check your AWS Secret Access Key and signing method. Consult the service "
                 "documentation for details.")
MSG_UNKNOWN_KEY = "The security token included in the request is invalid."


def token() -> str:
    return str(uuid.uuid4())


def assert_client_error(exc_info, code: str, message: str | None = None, *, modeled: bool) -> dict:
    """Checks a ClientError as botocore reports it (spec §1.4) and returns its response."""
    err = exc_info.value
    response = err.response
    assert response["Error"]["Code"] == code
    if message is not None:
        assert response["Error"]["Message"] == message
    meta = response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 400
    assert UUID4_RE.match(meta["RequestId"]), meta
    if modeled:
        # A modeled exception: its own class, and `Message` copied to the top level.
        assert type(err).__name__ == code
        assert response.get("Message") == response["Error"]["Message"]
    else:
        assert type(err) is botocore.exceptions.ClientError
    return response


def labelled(sm, name: str) -> dict[str, set[str]]:
    """VersionId -> labels of the labelled versions; Describe and ListSecretVersionIds must agree."""
    described = {v: set(s) for v, s in sm.describe_secret(SecretId=name).get("VersionIdsToStages", {}).items()}
    listed = {v["VersionId"]: set(v["VersionStages"])
              for v in sm.list_secret_version_ids(SecretId=name)["Versions"]}
    assert described == listed, f"Describe {described} vs ListSecretVersionIds {listed}"
    return described


def put(sm, name: str, stages: list[str] | None = None, value: str | None = None) -> str:
    kwargs = {"VersionStages": stages} if stages is not None else {}
    response = sm.put_secret_value(SecretId=name, SecretString=value or uuid.uuid4().hex, **kwargs)
    if stages is not None:
        assert set(response["VersionStages"]) >= set(stages)
    return response["VersionId"]


def uvs(sm, name: str, label: str, remove: str | None = None, move: str | None = None) -> None:
    kwargs = {}
    if remove:
        kwargs["RemoveFromVersionId"] = remove
    if move:
        kwargs["MoveToVersionId"] = move
    response = sm.update_secret_version_stage(SecretId=name, VersionStage=label, **kwargs)
    assert response["Name"] == name


def today_midnight_utc() -> dt.datetime:
    now = dt.datetime.now(dt.timezone.utc)
    return dt.datetime(now.year, now.month, now.day, tzinfo=dt.timezone.utc)


# --------------------------------------------------------------------------------------------
# Binary and string values
# --------------------------------------------------------------------------------------------

BINARY = bytes([0x00, 0x01, 0x02, 0xFF, 0xFE, 0xFD])


def test_binary_round_trip(sm, unique_name):
    name = unique_name("binary")
    created = sm.create_secret(Name=name, SecretBinary=BINARY)

    raw_bodies = []

    def keep_body(http_response, **_):
        raw_bodies.append(http_response.content)

    event = "after-call.secretsmanager.GetSecretValue"
    sm.meta.events.register(event, keep_body)
    try:
        got = sm.get_secret_value(SecretId=name)
    finally:
        sm.meta.events.unregister(event, keep_body)
    assert isinstance(got["SecretBinary"], bytes)
    assert got["SecretBinary"] == BINARY
    assert "SecretString" not in got
    assert got["VersionId"] == created["VersionId"]
    # On the wire the blob is standard base64 (spec §1.3).
    assert json.loads(raw_bodies[-1])["SecretBinary"] == base64.b64encode(BINARY).decode()

    # Another binary version through PutSecretValue, read back by VersionId.
    second = bytes([0xFE, 0xFD, 0x00, 0x80])
    v2 = sm.put_secret_value(SecretId=name, SecretBinary=second)["VersionId"]
    assert sm.get_secret_value(SecretId=name, VersionId=v2)["SecretBinary"] == second
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretBinary"] == BINARY


def test_binary_version_is_never_returned_as_string(sm, unique_name):
    name = unique_name("mixed")
    v1 = sm.create_secret(Name=name, SecretString="text value")["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretBinary=BINARY)["VersionId"]

    current = sm.get_secret_value(SecretId=name)
    assert current["VersionId"] == v2
    assert current["SecretBinary"] == BINARY and "SecretString" not in current

    previous = sm.get_secret_value(SecretId=name, VersionId=v1)
    assert previous["SecretString"] == "text value" and "SecretBinary" not in previous
    assert set(previous["VersionStages"]) == {"AWSPREVIOUS"}

    # A binary value that happens to be valid UTF-8 stays binary too.
    v3 = sm.put_secret_value(SecretId=name, SecretBinary=b"plain ascii")["VersionId"]
    third = sm.get_secret_value(SecretId=name, VersionId=v3)
    assert third["SecretBinary"] == b"plain ascii" and "SecretString" not in third


def test_string_value_is_returned_byte_identical(sm, unique_name):
    name = unique_name("unicode")
    value = '{"pässwörd": "\u2603 \U0001f511", "nl": "a\nb\tc", "quote": "\\"x\\""}\n'
    sm.create_secret(Name=name, SecretString=value)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == value


# --------------------------------------------------------------------------------------------
# Errors as botocore maps them
# --------------------------------------------------------------------------------------------

def test_request_id_on_success(sm, unique_name):
    response = sm.create_secret(Name=unique_name("rid"), SecretString="x")
    meta = response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 200
    assert UUID4_RE.match(meta["RequestId"])
    assert meta["HTTPHeaders"]["x-amzn-requestid"] == meta["RequestId"]


def test_resource_not_found(sm, unique_name):
    name = unique_name("missing")
    for call in (lambda: sm.get_secret_value(SecretId=name),
                 lambda: sm.describe_secret(SecretId=name),
                 lambda: sm.put_secret_value(SecretId=name, SecretString="x"),
                 lambda: sm.delete_secret(SecretId=name),
                 lambda: sm.restore_secret(SecretId=name),
                 lambda: sm.tag_resource(SecretId=name, Tags=[{"Key": "k", "Value": "v"}]),
                 lambda: sm.list_secret_version_ids(SecretId=name)):
        with pytest.raises(sm.exceptions.ResourceNotFoundException) as exc:
            call()
        assert_client_error(exc, "ResourceNotFoundException", MSG_NOT_FOUND, modeled=True)

    # A full ARN of a secret that does not exist is not found either.
    arn = f"arn:aws:secretsmanager:us-east-1:111122223333:secret:{name}-AbC123"
    with pytest.raises(sm.exceptions.ResourceNotFoundException) as exc:
        sm.describe_secret(SecretId=arn)
    assert_client_error(exc, "ResourceNotFoundException", MSG_NOT_FOUND, modeled=True)


def test_value_not_found_messages(sm, unique_name):
    name = unique_name("nolabel")
    v1 = sm.create_secret(Name=name, SecretString="x")["VersionId"]

    with pytest.raises(sm.exceptions.ResourceNotFoundException) as exc:
        sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
    assert_client_error(exc, "ResourceNotFoundException", MSG_NO_LABEL.format("AWSPREVIOUS"), modeled=True)

    unknown = token()
    with pytest.raises(sm.exceptions.ResourceNotFoundException) as exc:
        sm.get_secret_value(SecretId=name, VersionId=unknown)
    assert_client_error(exc, "ResourceNotFoundException", MSG_NO_VERSION.format(unknown), modeled=True)

    with pytest.raises(sm.exceptions.InvalidRequestException) as exc:
        sm.get_secret_value(SecretId=name, VersionId=v1, VersionStage="AWSPENDING")
    assert_client_error(exc, "InvalidRequestException", MSG_STAGE_MISMATCH, modeled=True)

    # A secret created without a value has no AWSCURRENT (spec Appendix C.2).
    empty = unique_name("novalue")
    created = sm.create_secret(Name=empty)
    assert "VersionId" not in created
    assert "VersionIdsToStages" not in sm.describe_secret(SecretId=empty)
    with pytest.raises(sm.exceptions.ResourceNotFoundException) as exc:
        sm.get_secret_value(SecretId=empty)
    assert_client_error(exc, "ResourceNotFoundException", MSG_NO_LABEL.format("AWSCURRENT"), modeled=True)
    first = sm.put_secret_value(SecretId=empty, SecretString="now")
    assert first["VersionStages"] == ["AWSCURRENT"]


def test_resource_exists(sm, unique_name):
    name = unique_name("exists")
    t = token()
    created = sm.create_secret(Name=name, SecretString="a", ClientRequestToken=t)

    # Same name, new token: the name is taken.
    with pytest.raises(sm.exceptions.ResourceExistsException) as exc:
        sm.create_secret(Name=name, SecretString="a")
    assert_client_error(exc, "ResourceExistsException", MSG_EXISTS.format(name), modeled=True)

    # Same token, another value: CreateSecret, PutSecretValue and UpdateSecret all refuse.
    message = MSG_TOKEN.format(t, created["ARN"])
    for call in (lambda: sm.create_secret(Name=name, SecretString="b", ClientRequestToken=t),
                 lambda: sm.put_secret_value(SecretId=name, SecretString="b", ClientRequestToken=t),
                 lambda: sm.update_secret(SecretId=name, SecretString="b", ClientRequestToken=t),
                 lambda: sm.put_secret_value(SecretId=name, SecretBinary=b"a", ClientRequestToken=t)):
        with pytest.raises(sm.exceptions.ResourceExistsException) as exc:
            call()
        assert_client_error(exc, "ResourceExistsException", message, modeled=True)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "a"


def test_marked_for_deletion_is_invalid_request(sm, unique_name):
    name = unique_name("marked")
    sm.create_secret(Name=name, SecretString="x")
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    for call in (lambda: sm.get_secret_value(SecretId=name),
                 lambda: sm.put_secret_value(SecretId=name, SecretString="y"),
                 lambda: sm.update_secret(SecretId=name, Description="d"),
                 lambda: sm.tag_resource(SecretId=name, Tags=[{"Key": "k", "Value": "v"}]),
                 lambda: sm.untag_resource(SecretId=name, TagKeys=["k"]),
                 lambda: sm.delete_secret(SecretId=name)):
        with pytest.raises(sm.exceptions.InvalidRequestException) as exc:
            call()
        assert_client_error(exc, "InvalidRequestException", MSG_MARKED, modeled=True)

    with pytest.raises(sm.exceptions.InvalidRequestException) as exc:
        sm.create_secret(Name=name, SecretString="x")
    assert_client_error(exc, "InvalidRequestException", MSG_SCHEDULED, modeled=True)

    # Metadata reads still work (README decision; spec §4.8 recommends allowing them).
    assert "DeletedDate" in sm.describe_secret(SecretId=name)
    assert len(sm.list_secret_version_ids(SecretId=name)["Versions"]) == 1


def test_invalid_parameter(sm, unique_name):
    name = unique_name("param")
    v1 = sm.create_secret(Name=name, SecretString="x")["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="y", VersionStages=["AWSPENDING"])["VersionId"]

    cases = [
        (lambda: sm.delete_secret(SecretId=name, RecoveryWindowInDays=3), MSG_WINDOW),
        (lambda: sm.delete_secret(SecretId=name, RecoveryWindowInDays=31), MSG_WINDOW),
        (lambda: sm.delete_secret(SecretId=name, RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True),
         MSG_FORCE_AND_WINDOW),
        (lambda: sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=v2),
         MSG_REMOVE_FROM.format(v1)),
        (lambda: sm.get_random_password(PasswordLength=3), MSG_PASSWORD_SHORT),
        # Coffer's own texts (AWS records none): only the type is checked.
        (lambda: sm.create_secret(Name=unique_name("both"), SecretString="x", SecretBinary=b"x"), None),
        (lambda: sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING",
                                                RemoveFromVersionId=v1), None),
        (lambda: sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING",
                                                RemoveFromVersionId=v2, MoveToVersionId=token()), None),
    ]
    for call, message in cases:
        with pytest.raises(sm.exceptions.InvalidParameterException) as exc:
            call()
        assert_client_error(exc, "InvalidParameterException", message, modeled=True)
    assert labelled(sm, name) == {v1: {"AWSCURRENT"}, v2: {"AWSPENDING"}}


def test_limit_exceeded_for_21_labels(sm, unique_name):
    name = unique_name("labels21")
    sm.create_secret(Name=name, SecretString="x")  # AWSCURRENT is label 1
    twenty = [f"L{i:02d}" for i in range(20)]
    with pytest.raises(sm.exceptions.LimitExceededException) as exc:
        sm.put_secret_value(SecretId=name, SecretString="y", VersionStages=twenty)
    assert_client_error(exc, "LimitExceededException", modeled=True)
    # 19 custom labels plus AWSCURRENT is exactly the quota.
    v2 = put(sm, name, twenty[:19])
    assert labelled(sm, name)[v2] == set(twenty[:19])
    with pytest.raises(sm.exceptions.LimitExceededException):
        sm.update_secret_version_stage(SecretId=name, VersionStage="ONE-TOO-MANY", MoveToVersionId=v2)


def test_invalid_next_token(sm, unique_name):
    with pytest.raises(sm.exceptions.InvalidNextTokenException) as exc:
        sm.list_secrets(NextToken="bm90LWEtdG9rZW4=")
    assert_client_error(exc, "InvalidNextTokenException", modeled=True)

    # A real token from one query is not accepted for another (tokens are bound to the query).
    prefix = unique_name("tok")
    for i in range(3):
        sm.create_secret(Name=f"{prefix}/{i}", SecretString="x")
    page = sm.list_secrets(MaxResults=1, Filters=[{"Key": "name", "Values": [prefix]}])
    assert page.get("NextToken")
    with pytest.raises(sm.exceptions.InvalidNextTokenException):
        sm.list_secrets(MaxResults=1, NextToken=page["NextToken"],
                        Filters=[{"Key": "description", "Values": ["other"]}])

    name = unique_name("tokv")
    sm.create_secret(Name=name, SecretString="x")
    with pytest.raises(sm.exceptions.InvalidNextTokenException) as exc:
        sm.list_secret_version_ids(SecretId=name, NextToken="garbage-token")
    assert_client_error(exc, "InvalidNextTokenException", modeled=True)


def test_validation_exception_is_unmodeled(sm, unique_name):
    for bad in ("has space", "star*", "colon:x", "bang!", "caf\u00e9"):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            sm.create_secret(Name=bad, SecretString="x")
        assert_client_error(exc, "ValidationException", MSG_NAME, modeled=False)
    # The same check applies to a SecretId that is not an ARN.
    for call in (lambda: sm.get_secret_value(SecretId="bad name"),
                 lambda: sm.describe_secret(SecretId="bad?name"),
                 lambda: sm.delete_secret(SecretId="bad]name")):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            call()
        assert_client_error(exc, "ValidationException", MSG_NAME, modeled=False)

    # botocore checks no maximum on the client side, so the server reports it.
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.get_random_password(PasswordLength=5000)
    assert_client_error(exc, "ValidationException", MSG_PASSWORD_MAX, modeled=False)


def test_authentication_errors(coffer, monkeypatch):
    secret = coffer.secret_access_key
    wrong_secret = coffer.client(aws_secret_access_key=("x" if secret[0] != "x" else "y") + secret[1:])
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        wrong_secret.list_secrets()
    assert_client_error(exc, "InvalidSignatureException", MSG_SIGNATURE, modeled=False)

    unknown_key = coffer.client(aws_access_key_id="AKIA" + "Z" * 16)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        unknown_key.list_secrets()
    assert_client_error(exc, "UnrecognizedClientException", MSG_UNKNOWN_KEY, modeled=False)

    other_region = coffer.client(region_name="eu-west-1")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        other_region.list_secrets()
    assert_client_error(exc, "InvalidSignatureException",
                        "Credential should be scoped to a valid region, not 'eu-west-1'. ", modeled=False)

    # A request signed 10 minutes ago is outside Secrets Manager's 5-minute window.
    real_now = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda *a, **k: real_now(*a, **k) - dt.timedelta(minutes=10))
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        coffer.client().list_secrets()
    monkeypatch.undo()
    response = assert_client_error(exc, "InvalidSignatureException", modeled=False)
    stamp = r"(\d{8}T\d{6}Z)"
    match = re.fullmatch(rf"Signature expired: {stamp} is now earlier than {stamp} \({stamp} - 5 min\.\)",
                         response["Error"]["Message"])
    assert match, response["Error"]["Message"]
    fmt = "%Y%m%dT%H%M%SZ"
    signed, limit, now = (dt.datetime.strptime(g, fmt) for g in match.groups())
    assert now - limit == dt.timedelta(minutes=5)
    assert dt.timedelta(minutes=9) < now - signed < dt.timedelta(minutes=11)


# --------------------------------------------------------------------------------------------
# Staging labels: spec §4.4 scenarios A-F
# --------------------------------------------------------------------------------------------

def test_labels_scenario_a(sm, unique_name):
    name = unique_name("label-a")
    v1 = sm.create_secret(Name=name, SecretString="S0")["VersionId"]
    v2 = put(sm, name, ["one", "two", "three"])
    v3 = put(sm, name, ["one", "two", "three", "four"])
    assert labelled(sm, name) == {v1: {"AWSCURRENT"}, v3: {"four", "one", "three", "two"}}
    deprecated = [v for v in sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
                  if v["VersionId"] == v2]
    assert len(deprecated) == 1 and "VersionStages" not in deprecated[0]
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "S0"


def test_labels_scenario_b(sm, unique_name):
    name = unique_name("label-b")
    v1 = sm.create_secret(Name=name, SecretString="S0")["VersionId"]
    v2 = put(sm, name, ["one", "two", "three"])
    v3 = put(sm, name, ["one", "two", "four"])
    assert labelled(sm, name) == {v1: {"AWSCURRENT"}, v2: {"three"}, v3: {"four", "one", "two"}}


def test_labels_scenario_c(sm, unique_name):
    name = unique_name("label-c")
    v1 = sm.create_secret(Name=name, SecretString="S1")["VersionId"]
    v2 = put(sm, name, ["AWSSOMETHING", "AWSPENDING", "PUT1"])
    uvs(sm, name, "AWSCURRENT", remove=v1, move=v2)
    assert labelled(sm, name) == {v1: {"AWSPREVIOUS"}, v2: {"AWSCURRENT", "AWSPENDING", "AWSSOMETHING", "PUT1"}}
    v3 = put(sm, name, ["AWSPENDING", "PUT2"])
    assert labelled(sm, name) == {v1: {"AWSPREVIOUS"}, v2: {"AWSCURRENT", "AWSSOMETHING", "PUT1"},
                                  v3: {"AWSPENDING", "PUT2"}}
    uvs(sm, name, "AWSCURRENT", remove=v2, move=v3)
    assert labelled(sm, name) == {v2: {"AWSPREVIOUS", "AWSSOMETHING", "PUT1"},
                                  v3: {"AWSCURRENT", "AWSPENDING", "PUT2"}}


def test_labels_scenario_d(sm, unique_name):
    name = unique_name("label-d")
    v1 = sm.create_secret(Name=name, SecretString="SS")["VersionId"]
    response = sm.put_secret_value(SecretId=name, SecretString="S1", VersionStages=["AWSCURRENT", "PUT0"])
    v2 = response["VersionId"]
    assert set(response["VersionStages"]) == {"AWSCURRENT", "PUT0"}
    assert labelled(sm, name) == {v1: {"AWSPREVIOUS"}, v2: {"AWSCURRENT", "PUT0"}}
    v3 = put(sm, name, ["AWSPENDING", "PUT1"], value="S2")
    assert labelled(sm, name) == {v1: {"AWSPREVIOUS"}, v2: {"AWSCURRENT", "PUT0"}, v3: {"AWSPENDING", "PUT1"}}
    assert sm.get_secret_value(SecretId=name)["VersionId"] == v2
    uvs(sm, name, "AWSCURRENT", remove=v2, move=v3)
    assert labelled(sm, name) == {v2: {"AWSPREVIOUS", "PUT0"}, v3: {"AWSCURRENT", "AWSPENDING", "PUT1"}}
    v4 = put(sm, name, ["AWSPENDING", "PUT2"])
    uvs(sm, name, "AWSCURRENT", remove=v3, move=v4)
    assert labelled(sm, name) == {v2: {"PUT0"}, v3: {"AWSPREVIOUS", "PUT1"},
                                  v4: {"AWSCURRENT", "AWSPENDING", "PUT2"}}


def test_labels_scenario_e(sm, unique_name):
    name = unique_name("label-e")
    v1 = sm.create_secret(Name=name, SecretString="SS")["VersionId"]
    v2 = put(sm, name, ["PENDING"])
    uvs(sm, name, "AWSCURRENT", remove=v1, move=v2)
    assert labelled(sm, name) == {v1: {"AWSPREVIOUS"}, v2: {"AWSCURRENT", "PENDING"}}
    uvs(sm, name, "PENDING", remove=v2)
    assert labelled(sm, name) == {v1: {"AWSPREVIOUS"}, v2: {"AWSCURRENT"}}


def test_labels_scenario_f(sm, unique_name):
    name = unique_name("label-f")
    v1 = sm.create_secret(Name=name, SecretString="S1")["VersionId"]
    v2 = put(sm, name)
    v3 = put(sm, name)
    assert labelled(sm, name) == {v2: {"AWSPREVIOUS"}, v3: {"AWSCURRENT"}}
    everything = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    by_id = {v["VersionId"]: v for v in everything}
    assert set(by_id) == {v1, v2, v3}
    assert "VersionStages" not in by_id[v1]
    assert set(by_id[v2]["VersionStages"]) == {"AWSPREVIOUS"}


def test_default_put_abandons_pending(sm, unique_name):
    # Spec §4.4: a Put without VersionStages removes AWSPENDING from wherever it is.
    name = unique_name("label-pending")
    v1 = sm.create_secret(Name=name, SecretString="S1")["VersionId"]
    v2 = put(sm, name, ["AWSPENDING"])
    uvs(sm, name, "AWSCURRENT", remove=v1, move=v2)
    assert labelled(sm, name) == {v1: {"AWSPREVIOUS"}, v2: {"AWSCURRENT", "AWSPENDING"}}
    v3 = put(sm, name)
    assert labelled(sm, name) == {v2: {"AWSPREVIOUS"}, v3: {"AWSCURRENT"}}


def test_label_rollback_and_no_op_moves(sm, unique_name):
    name = unique_name("label-rollback")
    v1 = sm.create_secret(Name=name, SecretString="1")["VersionId"]
    v2 = put(sm, name)
    # Moving AWSCURRENT back to the AWSPREVIOUS version swaps the two (spec §3.6 step 4).
    uvs(sm, name, "AWSCURRENT", remove=v2, move=v1)
    assert labelled(sm, name) == {v1: {"AWSCURRENT"}, v2: {"AWSPREVIOUS"}}
    # Moving a label to the version that holds it changes nothing (spec §3.6 step 6).
    uvs(sm, name, "AWSCURRENT", move=v1)
    uvs(sm, name, "AWSCURRENT", remove=v1, move=v1)
    assert labelled(sm, name) == {v1: {"AWSCURRENT"}, v2: {"AWSPREVIOUS"}}
    # AWSCURRENT cannot be detached without a destination (spec §3.6 step 5).
    with pytest.raises(sm.exceptions.InvalidParameterException):
        sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", RemoveFromVersionId=v1)
    # A deprecated version stays readable by VersionId (spec §4.5), without VersionStages.
    v3 = put(sm, name)
    v4 = put(sm, name)
    old = sm.get_secret_value(SecretId=name, VersionId=v1)
    assert old["SecretString"] == "1" and "VersionStages" not in old
    assert labelled(sm, name) == {v3: {"AWSPREVIOUS"}, v4: {"AWSCURRENT"}}


def test_put_with_explicit_awscurrent_abandons_pending(sm, unique_name):
    # Spec §3.4 step 6 recommends: an explicit VersionStages with AWSCURRENT also drops AWSPENDING.
    name = unique_name("label-explicit")
    v1 = sm.create_secret(Name=name, SecretString="1")["VersionId"]
    v2 = put(sm, name, ["AWSPENDING"])
    uvs(sm, name, "AWSCURRENT", remove=v1, move=v2)
    v3 = put(sm, name, ["AWSCURRENT", "X"])
    assert labelled(sm, name) == {v2: {"AWSPREVIOUS"}, v3: {"AWSCURRENT", "X"}}


# --------------------------------------------------------------------------------------------
# ListSecrets
# --------------------------------------------------------------------------------------------

@pytest.fixture
def listed_secrets(sm, unique_name):
    """Three secrets under a unique prefix: alpha (description + tag team=core), beta
    (description + tag env=prod), gamma (neither)."""
    prefix = unique_name("list")
    sm.create_secret(Name=f"{prefix}/alpha", SecretString="a", Description="First database secret",
                     Tags=[{"Key": "team", "Value": "core"}])
    sm.create_secret(Name=f"{prefix}/beta", SecretString="b", Description="second WebCredential",
                     Tags=[{"Key": "env", "Value": "prod"}])
    sm.create_secret(Name=f"{prefix}/gamma", SecretString="c")
    return prefix


def list_names(sm, prefix: str, *filters: tuple[str, list[str]], **kwargs) -> set[str]:
    """Short names of the secrets under `prefix` that also match `filters` (all ANDed)."""
    all_filters = [{"Key": "name", "Values": [prefix + "/"]}]
    all_filters += [{"Key": key, "Values": values} for key, values in filters]
    names, next_token = [], None
    while True:
        page = sm.list_secrets(Filters=all_filters, **({"NextToken": next_token} if next_token else {}), **kwargs)
        names += [entry["Name"] for entry in page["SecretList"]]
        next_token = page.get("NextToken")
        if not next_token:
            break
    assert len(names) == len(set(names))
    return {n[len(prefix) + 1:] for n in names}


def test_list_filter_name_prefix(sm, listed_secrets):
    p = listed_secrets
    assert list_names(sm, p) == {"alpha", "beta", "gamma"}
    assert list_names(sm, p, ("name", [f"{p}/al"])) == {"alpha"}
    assert list_names(sm, p, ("name", [f"{p}/alpha", f"{p}/gam"])) == {"alpha", "gamma"}  # values OR
    assert list_names(sm, p, ("name", [f"{p}/ALPHA"])) == set()  # case-sensitive
    assert list_names(sm, p, ("name", ["lpha"])) == set()  # a prefix, not a substring


def test_list_filter_negation(sm, listed_secrets):
    p = listed_secrets
    assert list_names(sm, p, ("name", [f"!{p}/al"])) == {"beta", "gamma"}
    # Secrets without a description never match a description filter, negated or not (README).
    assert list_names(sm, p, ("description", ["!first"])) == {"beta"}
    assert list_names(sm, p, ("tag-key", ["!team"])) == {"beta"}


def test_list_filter_description_words(sm, listed_secrets):
    p = listed_secrets
    assert list_names(sm, p, ("description", ["data"])) == {"alpha"}  # word prefix
    assert list_names(sm, p, ("description", ["FIRST"])) == {"alpha"}  # case-insensitive
    assert list_names(sm, p, ("description", ["sec"])) == {"alpha", "beta"}
    assert list_names(sm, p, ("description", ["f d"])) == {"alpha"}  # every word must match
    assert list_names(sm, p, ("description", ["atabase"])) == set()  # not a substring
    assert list_names(sm, p, ("description", ["cred"])) == {"beta"}  # camel case splits words
    # Two filters with the same key are ANDed.
    assert list_names(sm, p, ("description", ["first"]), ("description", ["secret"])) == {"alpha"}
    assert list_names(sm, p, ("description", ["first"]), ("description", ["second"])) == set()


def test_list_filter_tags(sm, listed_secrets):
    p = listed_secrets
    assert list_names(sm, p, ("tag-key", ["tea"])) == {"alpha"}
    assert list_names(sm, p, ("tag-key", ["Team"])) == set()  # case-sensitive
    assert list_names(sm, p, ("tag-value", ["pro"])) == {"beta"}
    assert list_names(sm, p, ("tag-key", ["team", "env"])) == {"alpha", "beta"}


def test_list_filter_all(sm, listed_secrets):
    p = listed_secrets
    assert list_names(sm, p, ("all", ["core"])) == {"alpha"}  # a tag value
    assert list_names(sm, p, ("all", ["env"])) == {"beta"}  # a tag key
    assert list_names(sm, p, ("all", ["DATABASE"])) == {"alpha"}  # description, any case
    assert list_names(sm, p, ("all", ["web"])) == {"beta"}
    assert list_names(sm, p, ("all", ["atabase"])) == set()


def test_list_filter_recorded_word_cases(sm, unique_name):
    """The word matching recorded against AWS (spec §4.9), for `description` and `all`."""
    u = "u" + uuid.uuid4().hex[:12]  # one word: the name filter scopes, without adding words
    descriptions = {"d1": "a secret", "d2": "an secret", "d3": "asecret", "d4": "thesecret",
                    "d5": "one two", "d6": "one and two", "d7": "DescTwo", "d8": "COMPANYthings"}
    for short, description in descriptions.items():
        sm.create_secret(Name=u + short, Description=description)

    def matches(key: str, value: str) -> set[str]:
        return {n[len(u):] for n in (e["Name"] for e in sm.list_secrets(
            Filters=[{"Key": "name", "Values": [u]}, {"Key": key, "Values": [value]}])["SecretList"])}

    cases = {
        "a": {"d1", "d2", "d3", "d6"},
        "a secret": {"d1", "d2"},
        "one two": {"d5", "d6"},
        "o t": {"d5", "d6"},
        "d t": {"d7"},
        "Ythings": {"d8"},
        "things": set(), "N": set(), "pany": set(), "+": set(), "ret": set(),
    }
    for value, expected in cases.items():
        assert matches("description", value) == expected, value
        assert matches("all", value) == expected, value

    # `all` also splits names, on one kind of separator only.
    for sep in "/_+=.@-":
        sm.create_secret(Name=f"{u}{sep}AppBeta{sep}x")
    sm.create_secret(Name=f"{u}-AppBeta/xyz")  # two kinds of separator: one word, never found
    sm.create_secret(Name=f"{u}SecretOne", Tags=[{"Key": "foo", "Value": "bar"}])
    sm.create_secret(Name=f"{u}_tagged", Tags=[{"Key": "k", "Value": "foo"}])
    assert matches("all", "AppBeta") == {f"{sep}AppBeta{sep}x" for sep in "/_+=.@-"}
    assert matches("all", "foo") == {"SecretOne", "_tagged"}
    assert matches("all", "Secret") == matches("all", "secret") == matches("all", "sec") == {"d1", "d2", "SecretOne"}


def test_list_secrets_input_errors(sm):
    with pytest.raises(sm.exceptions.InvalidParameterException) as exc:
        sm.list_secrets(Filters=[{"Key": "name"}])
    assert_client_error(exc, "InvalidParameterException", "Invalid filter values for key: name", modeled=True)
    with pytest.raises(sm.exceptions.InvalidParameterException) as exc:
        sm.list_secrets(Filters=[{"Values": ["x"]}])
    assert_client_error(exc, "InvalidParameterException", "Invalid filter key", modeled=True)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.list_secrets(MaxResults=101)
    assert_client_error(exc, "ValidationException", (
        "1 validation error detected: Value '101' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 100"), modeled=False)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.list_secrets(SortBy="size")
    assert_client_error(exc, "ValidationException", (
        "1 validation error detected: Value 'size' at 'sortBy' failed to satisfy constraint: Member "
        "must satisfy enum value set: [created-date, last-accessed-date, last-changed-date, name]"),
        modeled=False)


def test_list_entries_and_planned_deletion(sm, listed_secrets):
    p = listed_secrets
    entries = {e["Name"]: e for e in sm.list_secrets(Filters=[{"Key": "name", "Values": [p + "/"]}])["SecretList"]}
    alpha = entries[f"{p}/alpha"]
    assert alpha["Description"] == "First database secret"
    assert alpha["Tags"] == [{"Key": "team", "Value": "core"}]
    assert list(alpha["SecretVersionsToStages"].values()) == [["AWSCURRENT"]]
    assert "VersionIdsToStages" not in alpha
    gamma = entries[f"{p}/gamma"]
    assert "Description" not in gamma and "Tags" not in gamma

    sm.delete_secret(SecretId=f"{p}/gamma", RecoveryWindowInDays=7)
    assert list_names(sm, p) == {"alpha", "beta"}
    assert list_names(sm, p, IncludePlannedDeletion=True) == {"alpha", "beta", "gamma"}
    planned = sm.list_secrets(IncludePlannedDeletion=True,
                              Filters=[{"Key": "name", "Values": [f"{p}/gamma"]}])["SecretList"]
    # The same instant in List and Describe (spec §4.8 recommendation, README decision).
    assert planned[0]["DeletedDate"] == sm.describe_secret(SecretId=f"{p}/gamma")["DeletedDate"]


def test_list_secrets_paginator(sm, unique_name):
    prefix = unique_name("paginate")
    names = [f"{prefix}/s{i}" for i in range(5)]
    for name in names:
        sm.create_secret(Name=name, SecretString="x")
    paginator = sm.get_paginator("list_secrets")
    filters = [{"Key": "name", "Values": [prefix + "/"]}]

    pages = list(paginator.paginate(Filters=filters, PaginationConfig={"PageSize": 2}))
    seen = [entry["Name"] for page in pages for entry in page["SecretList"]]
    assert seen == names  # default order: creation date, oldest first (README)
    assert len(pages) >= 3
    assert all(len(page["SecretList"]) <= 2 for page in pages)
    assert "NextToken" not in pages[-1]

    first = paginator.paginate(Filters=filters, PaginationConfig={"PageSize": 2, "MaxItems": 3}).build_full_result()
    assert [e["Name"] for e in first["SecretList"]] == names[:3]
    rest = paginator.paginate(Filters=filters, PaginationConfig={
        "PageSize": 2, "StartingToken": first["NextToken"]}).build_full_result()
    assert [e["Name"] for e in rest["SecretList"]] == names[3:]

    descending = paginator.paginate(Filters=filters, SortOrder="desc",
                                    PaginationConfig={"PageSize": 2}).build_full_result()
    assert [e["Name"] for e in descending["SecretList"]] == names[::-1]


# --------------------------------------------------------------------------------------------
# Idempotency
# --------------------------------------------------------------------------------------------

def test_idempotent_create_put_update(sm, unique_name):
    name = unique_name("idem")
    t1, t2, t3 = token(), token(), token()
    first = sm.create_secret(Name=name, SecretString="v1", ClientRequestToken=t1, Description="d1")
    again = sm.create_secret(Name=name, SecretString="v1", ClientRequestToken=t1, Description="other")
    assert {k: again[k] for k in ("ARN", "Name", "VersionId")} == {k: first[k] for k in ("ARN", "Name", "VersionId")}
    assert first["VersionId"] == t1
    assert sm.describe_secret(SecretId=name)["Description"] == "d1"  # the retry changed nothing

    put1 = sm.put_secret_value(SecretId=name, SecretString="v2", ClientRequestToken=t2)
    put2 = sm.put_secret_value(SecretId=name, SecretString="v2", ClientRequestToken=t2)
    assert put1["VersionId"] == put2["VersionId"] == t2
    assert put2["VersionStages"] == ["AWSCURRENT"]
    # Replaying the creating token of v1 returns its current labels and changes nothing.
    replay = sm.put_secret_value(SecretId=name, SecretString="v1", ClientRequestToken=t1)
    assert replay["VersionId"] == t1 and replay["VersionStages"] == ["AWSPREVIOUS"]
    assert labelled(sm, name) == {t1: {"AWSPREVIOUS"}, t2: {"AWSCURRENT"}}

    up1 = sm.update_secret(SecretId=name, SecretString="v3", ClientRequestToken=t3)
    up2 = sm.update_secret(SecretId=name, SecretString="v3", ClientRequestToken=t3)
    assert up1["VersionId"] == up2["VersionId"] == t3
    assert labelled(sm, name) == {t2: {"AWSPREVIOUS"}, t3: {"AWSCURRENT"}}
    versions = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == sorted([t1, t2, t3])

    # Binary idempotency compares bytes and type.
    t4 = token()
    sm.put_secret_value(SecretId=name, SecretBinary=b"\x00\xff", ClientRequestToken=t4)
    assert sm.put_secret_value(SecretId=name, SecretBinary=b"\x00\xff", ClientRequestToken=t4)["VersionId"] == t4
    with pytest.raises(sm.exceptions.ResourceExistsException):
        sm.put_secret_value(SecretId=name, SecretString="\x00\xff", ClientRequestToken=t4)


def test_update_secret_without_value_creates_no_version(sm, unique_name):
    name = unique_name("update-meta")
    v1 = sm.create_secret(Name=name, SecretString="x")["VersionId"]
    response = sm.update_secret(SecretId=name, Description="new")
    assert "VersionId" not in response
    assert sm.describe_secret(SecretId=name)["Description"] == "new"
    assert labelled(sm, name) == {v1: {"AWSCURRENT"}}


# --------------------------------------------------------------------------------------------
# Deletion
# --------------------------------------------------------------------------------------------

def test_delete_window_restore_and_force(sm, unique_name):
    name = unique_name("delete")
    arn = sm.create_secret(Name=name, SecretString="keep")["ARN"]
    before = time.time()
    deleted = sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    after = time.time()
    assert deleted["ARN"] == arn and deleted["Name"] == name
    deletion = deleted["DeletionDate"].timestamp()
    assert before + 7 * 86400 - 2 <= deletion <= after + 7 * 86400 + 2

    described = sm.describe_secret(SecretId=name)
    assert described["DeletedDate"] == deleted["DeletionDate"]  # README: the scheduled date

    restored = sm.restore_secret(SecretId=name)
    assert restored["ARN"] == arn and restored["Name"] == name
    assert "DeletedDate" not in sm.describe_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "keep"

    # Default window: 30 days.
    default = sm.delete_secret(SecretId=name)
    assert abs(default["DeletionDate"].timestamp() - time.time() - 30 * 86400) < 60

    # Forcing works on a scheduled secret; the name is then free and a new secret gets a new ARN.
    forced = sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert forced["Name"] == name and forced["ARN"] == arn
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.describe_secret(SecretId=name)
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.restore_secret(SecretId=name)
    new_arn = sm.create_secret(Name=name, SecretString="new")["ARN"]
    assert new_arn != arn
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.describe_secret(SecretId=arn)


def test_force_delete_of_missing_secret_succeeds(sm, unique_name):
    name = unique_name("never-existed")
    response = sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert response["Name"] == name
    assert "ARN" in response and "DeletionDate" in response


# --------------------------------------------------------------------------------------------
# DescribeSecret field presence (spec §3.7, §4.16)
# --------------------------------------------------------------------------------------------

def test_describe_fresh_secret_fields(sm, unique_name):
    name = unique_name("describe")
    created = sm.create_secret(Name=name, SecretString="x", Description="")
    described = sm.describe_secret(SecretId=name)
    for present in ("ARN", "Name", "CreatedDate", "LastChangedDate", "VersionIdsToStages"):
        assert present in described, present
    for absent in ("Description", "KmsKeyId", "Tags", "LastAccessedDate", "DeletedDate", "RotationEnabled",
                   "RotationLambdaARN", "RotationRules", "LastRotatedDate", "NextRotationDate",
                   "PrimaryRegion", "ReplicationStatus", "OwningService"):
        assert absent not in described, absent
    assert described["ARN"] == created["ARN"]
    assert described["VersionIdsToStages"] == {created["VersionId"]: ["AWSCURRENT"]}
    # DescribeSecret is not a read of the value.
    assert "LastAccessedDate" not in sm.describe_secret(SecretId=name)


def test_describe_tags_absent_then_empty_after_untag_all(sm, unique_name):
    name = unique_name("tags")
    sm.create_secret(Name=name, SecretString="x")
    assert "Tags" not in sm.describe_secret(SecretId=name)
    response = sm.tag_resource(SecretId=name, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}])
    assert set(response) == {"ResponseMetadata"}
    assert response["ResponseMetadata"]["HTTPHeaders"].get("content-length") == "0"  # empty body
    sm.tag_resource(SecretId=name, Tags=[{"Key": "a", "Value": "2"}])  # merge: replaces the value
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=name)["Tags"]}
    assert tags == {"a": "2", "b": ""}
    sm.untag_resource(SecretId=name, TagKeys=["a", "not-there"])
    sm.untag_resource(SecretId=name, TagKeys=["b"])
    described = sm.describe_secret(SecretId=name)
    assert described["Tags"] == []
    listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]
    assert listed[0]["Tags"] == []

    # Tag rules (spec §4.10; the texts are Coffer's own): aws: is reserved, keys are unique in a
    # request, at most 50 tags.
    for tags in ([{"Key": "aws:reserved", "Value": "x"}], [{"Key": "d", "Value": "1"}, {"Key": "d", "Value": "2"}]):
        with pytest.raises(sm.exceptions.InvalidParameterException):
            sm.tag_resource(SecretId=name, Tags=tags)
    with pytest.raises((sm.exceptions.InvalidParameterException, sm.exceptions.LimitExceededException)):
        sm.tag_resource(SecretId=name, Tags=[{"Key": f"k{i}", "Value": ""} for i in range(51)])
    assert sm.describe_secret(SecretId=name)["Tags"] == []


def test_describe_last_accessed_is_midnight_utc(sm, unique_name):
    name = unique_name("accessed")
    sm.create_secret(Name=name, SecretString="x")
    day_before = today_midnight_utc()
    sm.get_secret_value(SecretId=name)
    day_after = today_midnight_utc()
    first = sm.describe_secret(SecretId=name)["LastAccessedDate"]
    assert first.astimezone(dt.timezone.utc) in (day_before, day_after)
    sm.get_secret_value(SecretId=name)
    assert sm.describe_secret(SecretId=name)["LastAccessedDate"] == first or day_after != day_before
    version = sm.list_secret_version_ids(SecretId=name)["Versions"][0]
    assert version["LastAccessedDate"] == first


def test_describe_deleted_date_while_scheduled(sm, unique_name):
    name = unique_name("deleted-date")
    sm.create_secret(Name=name, SecretString="x")
    changed = sm.describe_secret(SecretId=name)["LastChangedDate"]
    deleted = sm.delete_secret(SecretId=name, RecoveryWindowInDays=10)
    described = sm.describe_secret(SecretId=name)
    assert described["DeletedDate"] == deleted["DeletionDate"]
    sm.restore_secret(SecretId=name)
    described = sm.describe_secret(SecretId=name)
    assert "DeletedDate" not in described
    assert described["LastChangedDate"] >= changed


def test_created_date_of_version_and_of_secret(sm, unique_name):
    # Spec §4.16: GetSecretValue/ListSecretVersionIds give the version's creation time,
    # DescribeSecret the secret's.
    name = unique_name("created")
    v1 = sm.create_secret(Name=name, SecretString="1")["VersionId"]
    time.sleep(0.01)
    v2 = put(sm, name)
    secret_created = sm.describe_secret(SecretId=name)["CreatedDate"]
    v1_created = sm.get_secret_value(SecretId=name, VersionId=v1)["CreatedDate"]
    v2_created = sm.get_secret_value(SecretId=name, VersionId=v2)["CreatedDate"]
    assert secret_created <= v1_created < v2_created
    listed = {v["VersionId"]: v["CreatedDate"] for v in sm.list_secret_version_ids(SecretId=name)["Versions"]}
    assert listed == {v1: v1_created, v2: v2_created}


def test_last_changed_date_increases(sm, unique_name):
    name = unique_name("changed")
    sm.create_secret(Name=name, SecretString="x")
    dates = [sm.describe_secret(SecretId=name)["LastChangedDate"]]
    sm.update_secret(SecretId=name, Description="one")
    dates.append(sm.describe_secret(SecretId=name)["LastChangedDate"])
    sm.put_secret_value(SecretId=name, SecretString="y")
    dates.append(sm.describe_secret(SecretId=name)["LastChangedDate"])
    assert dates[0] < dates[1] < dates[2]


# --------------------------------------------------------------------------------------------
# Nothing secret reaches the log
# --------------------------------------------------------------------------------------------

def store_read_and_generate(server, name: str) -> list[str]:
    """Writes and reads known random values through `server`; returns what must never be logged."""
    client = server.client()
    value = "leakcheck-" + pysecrets.token_urlsafe(24)
    binary = pysecrets.token_bytes(24)
    newer = "leakcheck2-" + pysecrets.token_urlsafe(24)
    client.create_secret(Name=name, SecretString=value)
    assert client.get_secret_value(SecretId=name)["SecretString"] == value
    client.put_secret_value(SecretId=name, SecretBinary=binary)
    assert client.get_secret_value(SecretId=name)["SecretBinary"] == binary
    client.update_secret(SecretId=name, SecretString=newer)
    assert client.get_secret_value(SecretId=name)["SecretString"] == newer
    password = client.get_random_password(PasswordLength=64)["RandomPassword"]
    # An error path with a value in the request must not echo it either.
    with pytest.raises(client.exceptions.ResourceExistsException):
        client.create_secret(Name=name, SecretString=value + "x")
    return [value, newer, base64.b64encode(binary).decode(), binary.hex(), password,
            server.secret_access_key]


def wait_for_log(server, request_count_hint: str, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        log = server.log()
        if request_count_hint in log or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


def test_no_secret_value_in_session_log(coffer, unique_name):
    forbidden = store_read_and_generate(coffer, unique_name("leak"))
    log = wait_for_log(coffer, "GetRandomPassword")
    assert "GetSecretValue" in log, "the server logs no requests at all: the check would be vacuous"
    for needle in forbidden:
        assert needle not in log, "a secret value or the secret access key reached the log"


def test_no_secret_value_in_trace_log(tmp_path, unique_name):
    # Even at the most verbose log level nothing secret may be logged (README security model).
    server = start_server(tmp_path / "trace", extra_args=("--log", "trace"))
    try:
        forbidden = store_read_and_generate(server, unique_name("leak-trace"))
        wait_for_log(server, "GetRandomPassword")
    finally:
        stop_and_check(server)
    log = server.log_path.read_text(encoding="utf-8", errors="replace")
    for needle in forbidden:
        assert needle not in log, "a secret value or the secret access key reached the trace log"


# --------------------------------------------------------------------------------------------
# More of Appendix C: SecretId forms, value size, BatchGetSecretValue, GetRandomPassword
# --------------------------------------------------------------------------------------------

def test_secret_id_forms(sm, unique_name):
    # Spec §4.3: name, full ARN and partial ARN; a partial ARN that looks like a full one fails.
    base = unique_name("ids").replace("/", "_")
    names = {
        f"{base}/Valid_+=.@-Name": True,
        f"{base}/Valid_+=.@-Name-a1b2": True,
        f"{base}/Valid_+=.@-Name-a1b2c3-": True,
        f"{base}/Invalid_+=.@-Name-a1b2c3": False,
    }
    for name, partial_works in names.items():
        arn = sm.create_secret(Name=name, SecretString=name)["ARN"]
        assert arn.startswith("arn:aws:secretsmanager:us-east-1:111122223333:secret:" + name + "-")
        assert sm.get_secret_value(SecretId=name)["SecretString"] == name
        assert sm.get_secret_value(SecretId=arn)["SecretString"] == name
        partial = arn[:-7]
        if partial_works:
            assert sm.get_secret_value(SecretId=partial)["ARN"] == arn
        else:
            with pytest.raises(sm.exceptions.ResourceNotFoundException) as exc:
                sm.get_secret_value(SecretId=partial)
            assert_client_error(exc, "ResourceNotFoundException", MSG_NOT_FOUND, modeled=True)


def test_secret_value_size_limit(sm, unique_name):
    name = unique_name("size")
    sm.create_secret(Name=name, SecretString="a" * 65536)
    assert len(sm.get_secret_value(SecretId=name)["SecretString"]) == 65536
    sm.put_secret_value(SecretId=name, SecretBinary=b"\x01" * 65536)
    too_big = "b" * 65537
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.put_secret_value(SecretId=name, SecretString=too_big)
    response = assert_client_error(exc, "ValidationException", modeled=False)
    # Spec §1.6: sensitive members are reported without their value.
    assert response["Error"]["Message"] == (
        "1 validation error detected: Value at 'secretString' failed to satisfy constraint: "
        "Member must have length less than or equal to 65536")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.put_secret_value(SecretId=name, SecretBinary=b"\x02" * 65537)
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    assert "\x02" not in exc.value.response["Error"]["Message"]


def test_batch_get_secret_value(sm, unique_name):
    good = unique_name("batch-ok")
    gone = unique_name("batch-deleted")
    missing = unique_name("batch-missing")
    v_good = sm.create_secret(Name=good, SecretString="g")["VersionId"]
    sm.create_secret(Name=gone, SecretBinary=b"\x00")
    sm.delete_secret(SecretId=gone, RecoveryWindowInDays=7)
    response = sm.batch_get_secret_value(SecretIdList=[good, missing, gone])
    values = response["SecretValues"]
    assert [(v["Name"], v["SecretString"], v["VersionId"], v["VersionStages"]) for v in values] == \
        [(good, "g", v_good, ["AWSCURRENT"])]
    errors = {e["SecretId"]: (e["ErrorCode"], e["Message"]) for e in response["Errors"]}
    assert errors == {missing: ("ResourceNotFoundException", MSG_NOT_FOUND),
                      gone: ("InvalidRequestException", MSG_MARKED)}

    with pytest.raises(sm.exceptions.InvalidParameterException) as exc:
        sm.batch_get_secret_value(SecretIdList=[good], Filters=[{"Key": "name", "Values": [good]}])
    assert_client_error(exc, "InvalidParameterException",
                        "Either 'SecretIdList' or 'Filters' must be provided, but not both.", modeled=True)
    filtered = sm.batch_get_secret_value(Filters=[{"Key": "name", "Values": [good]}])
    assert [v["Name"] for v in filtered["SecretValues"]] == [good]


def test_get_random_password_defaults(sm):
    password = sm.get_random_password()["RandomPassword"]
    assert len(password) == 32
    punctuation = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    assert any(c.islower() for c in password) and any(c.isupper() for c in password)
    assert any(c.isdigit() for c in password) and any(c in punctuation for c in password)
    assert " " not in password
    assert all(c.isascii() and (c.isalnum() or c in punctuation) for c in password)
    spaced = sm.get_random_password(PasswordLength=200, IncludeSpace=True, ExcludeLowercase=True,
                                    ExcludeUppercase=True, ExcludeNumbers=True)["RandomPassword"]
    assert len(spaced) == 200 and set(spaced) <= punctuation | {" "}


# --------------------------------------------------------------------------------------------
# The wire below boto3: requests botocore signs but does not shape (spec §1, §4.6)
# --------------------------------------------------------------------------------------------

def raw_call(server, operation: str | None, body, *, secret_access_key: str | None = None):
    """POSTs a SigV4-signed request with exactly `body`; returns (status, headers, parsed body)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if operation:
        headers["X-Amz-Target"] = f"secretsmanager.{operation}"
    request = botocore.awsrequest.AWSRequest(method="POST", url=server.endpoint + "/", data=data, headers=headers)
    credentials = botocore.credentials.Credentials(server.access_key_id,
                                                   secret_access_key or server.secret_access_key)
    botocore.auth.SigV4Auth(credentials, "secretsmanager", server.region).add_auth(request)
    prepared = request.prepare()
    http_request = urllib.request.Request(prepared.url, data=prepared.body, method="POST",
                                          headers=dict(prepared.headers.items()))
    try:
        with urllib.request.urlopen(http_request, timeout=10) as response:
            status, response_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, response_headers, raw = error.code, error.headers, error.read()
    return status, response_headers, (json.loads(raw) if raw else None)


def test_raw_requests_without_client_request_token(coffer, sm, unique_name):
    message = "You must provide a ClientRequestToken value. We recommend a UUID-type value."
    expected = {"__type": "InvalidRequestException", "Message": message}
    name = unique_name("raw-token")
    sm.create_secret(Name=name, SecretString="x")
    requests = [
        ("CreateSecret", {"Name": unique_name("raw-create"), "SecretString": "x"}),
        ("PutSecretValue", {"SecretId": name, "SecretString": "y"}),
        ("UpdateSecret", {"SecretId": name, "SecretString": "y"}),
        # The token check comes before the existence check (spec §1.6, order 3).
        ("PutSecretValue", {"SecretId": unique_name("raw-missing"), "SecretString": "y"}),
    ]
    for operation, body in requests:
        status, headers, parsed = raw_call(coffer, operation, body)
        assert (status, parsed) == (400, expected), operation
        assert UUID4_RE.match(headers["x-amzn-RequestId"])
    assert len(sm.list_secret_version_ids(SecretId=name)["Versions"]) == 1


def test_raw_error_shapes(coffer, unique_name):
    # Modeled exceptions carry `Message`; errors outside the model carry `message` (spec §1.4).
    status, _, parsed = raw_call(coffer, "DescribeSecret", {"SecretId": unique_name("raw-missing")})
    assert (status, parsed) == (400, {"__type": "ResourceNotFoundException", "Message": MSG_NOT_FOUND})

    status, _, parsed = raw_call(coffer, "DescribeSecret", {"SecretId": "bad name"})
    assert (status, parsed) == (400, {"__type": "ValidationException", "message": MSG_NAME})

    status, _, parsed = raw_call(coffer, "DescribeSecret", {})
    assert (status, parsed) == (400, {"__type": "ValidationException", "message": (
        "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: "
        "Member must not be null")})

    status, _, parsed = raw_call(coffer, "ListSecrets", {}, secret_access_key="wrong" * 8)
    assert (status, parsed) == (400, {"__type": "InvalidSignatureException", "message": MSG_SIGNATURE})

    status, _, parsed = raw_call(coffer, "ListSecrets", b"{not json")
    assert status == 400 and parsed["__type"] == "SerializationException"

    status, _, parsed = raw_call(coffer, "NoSuchOperation", {})
    assert status == 400 and parsed["__type"] == "UnknownOperationException"


def test_raw_void_operations_return_empty_body(coffer, sm, unique_name):
    name = unique_name("raw-void")
    sm.create_secret(Name=name, SecretString="x")
    status, headers, parsed = raw_call(coffer, "TagResource", {"SecretId": name, "Tags": [{"Key": "k", "Value": "v"}]})
    assert (status, parsed, headers["Content-Length"]) == (200, None, "0")
    status, headers, parsed = raw_call(coffer, "UntagResource", {"SecretId": name, "TagKeys": ["k"]})
    assert (status, parsed, headers["Content-Length"]) == (200, None, "0")
