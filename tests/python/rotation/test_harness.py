"""Tests of the Lambda harness and the template rotation function on their own: no Coffer binary.

The harness is driven with `urllib.request` (the raw wire shapes) and with boto3's Lambda client
(that a real AWS SDK parses them). The rotation function runs against `FakeSecretsManager`, an
in-memory stand-in for the few Secrets Manager calls the templates make, while `rotate()` plays
the service's part: it stages the AWSPENDING version and invokes the four steps over HTTP.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import boto3
import botocore.config
import pytest

from . import template_function as tf
from .lambda_harness import LambdaHarness, parse_function_id

REGION = "us-east-1"
ACCOUNT = "111122223333"


# -- helpers ------------------------------------------------------------------------------------


def post(url: str, body: bytes | str | None = b"{}", headers: dict[str, str] | None = None):
    """POSTs and returns (status, headers as a lower-cased dict, raw body), for any status."""
    if isinstance(body, str):
        body = body.encode()
    request = urllib.request.Request(url, data=body if body is not None else b"", method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def lambda_client(harness: LambdaHarness):
    return boto3.session.Session().client(
        "lambda", endpoint_url=harness.base_url, region_name=REGION,
        aws_access_key_id="AKIAHARNESSTEST00001", aws_secret_access_key="harness/test/secret/key",
        config=botocore.config.Config(retries={"total_max_attempts": 1}, read_timeout=10))


def echo(event, context):
    return {"event": event, "function_name": context.function_name,
            "request_id": context.aws_request_id,
            "remaining_ms": context.get_remaining_time_in_millis()}


def explode(event, context):
    raise ValueError("boom: %s" % event.get("why"))


@pytest.fixture
def harness():
    with LambdaHarness(region=REGION, account_id=ACCOUNT) as lam:
        lam.register("echo", echo)
        lam.register("explode", explode)
        lam.register("nothing", lambda event, context: None)
        yield lam


# -- the wire format ----------------------------------------------------------------------------


def test_request_response_success(harness):
    assert harness.base_url.startswith("http://127.0.0.1:")
    status, headers, body = post(harness.invoke_url("echo"), json.dumps({"Step": "createSecret", "n": 1}))
    assert status == 200
    assert headers["x-amz-executed-version"] == "$LATEST"
    assert headers["content-type"] == "application/json"
    assert "x-amz-function-error" not in headers
    result = json.loads(body)
    assert result["event"] == {"Step": "createSecret", "n": 1}
    assert result["function_name"] == "echo"
    assert result["request_id"] == headers["x-amzn-requestid"]
    assert 0 < result["remaining_ms"] <= 30_000

    [call] = harness.invocations
    assert (call.function_name, call.outcome, call.status, call.step) == ("echo", "success", 200, "createSecret")
    assert call.event == {"Step": "createSecret", "n": 1}
    assert call.result == result
    assert call.invocation_type == "RequestResponse"
    assert call.authorization is False
    assert call.time <= time.time() and call.duration >= 0


def test_none_result_is_json_null(harness):
    status, headers, body = post(harness.invoke_url("nothing"), "{}")
    assert (status, body) == (200, b"null")
    assert headers["x-amz-executed-version"] == "$LATEST"


def test_handler_exception_is_an_unhandled_function_error(harness):
    status, headers, body = post(harness.invoke_url("explode"), json.dumps({"why": "testing"}))
    assert status == 200
    assert headers["x-amz-function-error"] == "Unhandled"
    assert headers["x-amz-executed-version"] == "$LATEST"
    error = json.loads(body)
    assert set(error) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert error["errorMessage"] == "boom: testing"
    assert error["errorType"] == "ValueError"
    assert error["requestId"] == headers["x-amzn-requestid"]
    # The runtime's traceback.format_list() of the user's frames only.
    assert error["stackTrace"] and all(isinstance(line, str) for line in error["stackTrace"])
    assert "in explode" in error["stackTrace"][0]
    assert not any("lambda_harness.py" in line for line in error["stackTrace"])

    [call] = harness.invocations
    assert (call.outcome, call.status, call.error) == ("error", 200, error)


def test_unknown_function_is_404_resource_not_found(harness):
    status, headers, body = post(harness.invoke_url("missing"), "{}")
    assert status == 404
    assert headers["x-amzn-errortype"] == "ResourceNotFoundException"
    assert json.loads(body) == {
        "Type": "User",
        "message": f"Function not found: arn:aws:lambda:{REGION}:{ACCOUNT}:function:missing"}
    [call] = harness.invocations
    assert (call.function_name, call.outcome, call.status) == ("missing", "not_found", 404)
    assert harness.calls() == []


@pytest.mark.parametrize("function_id", [
    "echo",
    f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:echo",
    f"{ACCOUNT}:function:echo",
    "echo:$LATEST",
])
@pytest.mark.parametrize("encode", [True, False])
def test_function_name_forms_resolve(harness, function_id, encode):
    segment = urllib.parse.quote(function_id, safe="") if encode else function_id
    status, _, body = post(f"{harness.base_url}/2015-03-31/functions/{segment}/invocations", "{}")
    assert status == 200, body
    [call] = harness.invocations
    assert call.function_name == "echo" and call.function_id == function_id


def test_parse_function_id():
    assert parse_function_id("arn:aws:lambda:eu-west-1:123456789012:function:f:live") == (
        "f", "live", "eu-west-1", "123456789012")
    assert parse_function_id("123456789012:function:f") == ("f", None, None, "123456789012")
    assert parse_function_id("f") == ("f", None, None, None)


def test_event_invocation_answers_202_then_runs(harness):
    release = threading.Event()

    def slow(event, context):
        release.wait(5)
        return "done"

    harness.register("slow", slow)
    status, headers, body = post(harness.invoke_url("slow"), "{}", {"X-Amz-Invocation-Type": "Event"})
    assert (status, body) == (202, b"")
    assert harness.invocations == []  # recorded once the handler finishes
    release.set()
    [call] = harness.wait_for(lambda calls: len(calls) == 1, timeout=5)
    assert (call.invocation_type, call.outcome, call.result) == ("Event", "success", "done")


def test_dry_run_does_not_call_the_handler(harness):
    status, _, body = post(harness.invoke_url("explode"), "{}", {"X-Amz-Invocation-Type": "DryRun"})
    assert (status, body) == (204, b"")
    assert [c.outcome for c in harness.invocations] == ["dry_run"]


def test_body_that_is_not_json_is_rejected(harness):
    status, headers, body = post(harness.invoke_url("echo"), "{not json")
    assert status == 400
    assert headers["x-amzn-errortype"] == "InvalidRequestContentException"
    assert json.loads(body)["message"].startswith("Could not parse request body into json")
    assert harness.calls() == []


def test_authorization_header_presence_is_recorded(harness):
    post(harness.invoke_url("echo"), "{}", {"Authorization": "AWS4-HMAC-SHA256 Credential=x"})
    [call] = harness.invocations
    assert call.authorization is True


def test_wait_for_predicate_may_use_the_harness(harness):
    def later():
        time.sleep(0.2)
        post(harness.invoke_url("echo"), json.dumps({"Step": "testSecret"}))

    threading.Thread(target=later, daemon=True).start()
    harness.wait_for(lambda calls: harness.steps() == ["testSecret"], timeout=5)


def test_wait_for_times_out_with_a_summary(harness):
    post(harness.invoke_url("explode"), json.dumps({"Step": "setSecret"}))
    with pytest.raises(AssertionError, match=r"step=setSecret -> error \(200\) ValueError"):
        harness.wait_for(lambda calls: len(calls) > 1, timeout=0.2)


def test_boto3_lambda_client_understands_the_harness(harness):
    client = lambda_client(harness)

    ok = client.invoke(FunctionName="echo", Payload=json.dumps({"a": 1}))
    assert ok["StatusCode"] == 200 and ok["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in ok
    assert json.loads(ok["Payload"].read())["event"] == {"a": 1}

    failed = client.invoke(FunctionName=harness.function_arn("explode"), Payload=b'{"why": "sdk"}')
    assert failed["StatusCode"] == 200 and failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorMessage"] == "boom: sdk"

    with pytest.raises(client.exceptions.ResourceNotFoundException) as missing:
        client.invoke(FunctionName="missing", Payload=b"{}")
    assert missing.value.response["Error"]["Message"].startswith("Function not found: arn:aws:lambda:")

    queued = client.invoke(FunctionName="echo", InvocationType="Event", Payload=b"{}")
    assert queued["StatusCode"] == 202

    calls = harness.wait_for(lambda calls: len(calls) == 4, timeout=5)
    assert [c.outcome for c in calls[:3]] == ["success", "error", "not_found"]
    assert all(c.authorization for c in calls)  # boto3 signs with SigV4
    assert calls[1].function_id == harness.function_arn("explode")


# -- the rotation function against an in-memory Secrets Manager -----------------------------------


class FakeSecretsManager:
    """The Secrets Manager calls the templates make, in memory, with AWS's staging semantics."""

    class exceptions:  # noqa: N801 - mirrors boto3's client.exceptions namespace
        class ResourceNotFoundException(Exception):
            pass

        class InvalidRequestException(Exception):
            pass

    def __init__(self):
        self._lock = threading.Lock()
        self._secrets: dict[str, dict] = {}
        self.operations: list[str] = []
        self.rotation_tokens: list[str | None] = []

    # test-side helpers
    def create(self, name: str, value: dict) -> str:
        arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-{secrets.token_hex(3)}"
        self._secrets[arn] = {"name": name, "rotation": False,
                              "versions": {str(uuid.uuid4()): {"string": json.dumps(value), "stages": {"AWSCURRENT"}}}}
        return arn

    def begin_rotation(self, arn: str, token: str) -> None:
        """What the service does before createSecret: stage a valueless AWSPENDING version."""
        with self._lock:
            secret = self._secrets[arn]
            secret["rotation"] = True
            secret["versions"].setdefault(token, {"string": None, "stages": set()})
            self._move_stage(secret, "AWSPENDING", token)

    def end_rotation(self, arn: str) -> None:
        with self._lock:
            for version in self._secrets[arn]["versions"].values():
                version["stages"].discard("AWSPENDING")

    def value(self, arn: str, stage: str = "AWSCURRENT") -> dict:
        return json.loads(self.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"])

    @staticmethod
    def _move_stage(secret: dict, stage: str, to_version: str) -> None:
        for version in secret["versions"].values():
            version["stages"].discard(stage)
        secret["versions"][to_version]["stages"].add(stage)

    def _secret(self, secret_id: str) -> dict:
        try:
            return self._secrets[secret_id]
        except KeyError:
            raise self.exceptions.ResourceNotFoundException(f"no secret {secret_id}") from None

    # boto3-shaped API
    def describe_secret(self, *, SecretId):
        with self._lock:
            self.operations.append("DescribeSecret")
            secret = self._secret(SecretId)
            return {"ARN": SecretId, "Name": secret["name"], "RotationEnabled": secret["rotation"],
                    "VersionIdsToStages": {vid: sorted(v["stages"]) for vid, v in secret["versions"].items()
                                           if v["stages"]}}

    def get_secret_value(self, *, SecretId, VersionId=None, VersionStage=None):
        with self._lock:
            self.operations.append("GetSecretValue")
            secret = self._secret(SecretId)
            if VersionId is None:
                stage = VersionStage or "AWSCURRENT"
                VersionId = next((vid for vid, v in secret["versions"].items() if stage in v["stages"]), None)
            version = secret["versions"].get(VersionId)
            if (version is None or version["string"] is None
                    or (VersionStage and VersionStage not in version["stages"])):
                raise self.exceptions.ResourceNotFoundException("Secrets Manager can't find the specified secret value")
            return {"ARN": SecretId, "VersionId": VersionId, "SecretString": version["string"],
                    "VersionStages": sorted(version["stages"])}

    def get_random_password(self, *, ExcludeCharacters=""):
        self.operations.append("GetRandomPassword")
        alphabet = [c for c in string.ascii_letters + string.digits + string.punctuation if c not in ExcludeCharacters]
        return {"RandomPassword": "".join(secrets.choice(alphabet) for _ in range(32))}

    def put_secret_value(self, *, SecretId, ClientRequestToken, SecretString, VersionStages, RotationToken=None):
        with self._lock:
            self.operations.append("PutSecretValue")
            self.rotation_tokens.append(RotationToken)
            secret = self._secret(SecretId)
            version = secret["versions"].setdefault(ClientRequestToken, {"string": None, "stages": set()})
            if version["string"] is not None and version["string"] != SecretString:
                raise self.exceptions.InvalidRequestException("version exists with a different value")
            version["string"] = SecretString
            for stage in VersionStages:
                self._move_stage(secret, stage, ClientRequestToken)
            return {"ARN": SecretId, "VersionId": ClientRequestToken}

    def update_secret_version_stage(self, *, SecretId, VersionStage, MoveToVersionId, RemoveFromVersionId=None):
        with self._lock:
            self.operations.append("UpdateSecretVersionStage")
            secret = self._secret(SecretId)
            holder = next((vid for vid, v in secret["versions"].items() if VersionStage in v["stages"]), None)
            if holder is not None and holder != MoveToVersionId and holder != RemoveFromVersionId:
                raise self.exceptions.InvalidRequestException("RemoveFromVersionId does not hold the stage")
            self._move_stage(secret, VersionStage, MoveToVersionId)
            if VersionStage == "AWSCURRENT" and holder not in (None, MoveToVersionId):
                self._move_stage(secret, "AWSPREVIOUS", holder)
            return {"ARN": SecretId}


def rotate(harness: LambdaHarness, sm: FakeSecretsManager, function: str, arn: str, token: str):
    """Plays the service: stages AWSPENDING, invokes the steps in order, stops at the first error.

    Returns None on success, else (failed step, Lambda error document)."""
    sm.begin_rotation(arn, token)
    for step in tf.STEPS:
        event = {"Step": step, "SecretId": arn, "ClientRequestToken": token, "RotationToken": "opaque-" + token}
        status, headers, body = post(harness.invoke_url(function), json.dumps(event))
        assert status == 200, body
        if "x-amz-function-error" in headers:
            return step, json.loads(body)
    sm.end_rotation(arn)
    return None


@pytest.fixture
def rotation(harness):
    sm = FakeSecretsManager()
    target = tf.FakeTarget({"app": "initial-password"})
    arn = sm.create("db/app", {"username": "app", "password": "initial-password", "host": "db"})
    return harness, sm, target, arn


def test_full_rotation_changes_the_password_everywhere(rotation, caplog):
    harness, sm, target, arn = rotation
    harness.register("rotator", tf.make_handler(target, client_factory=lambda: sm))
    token = str(uuid.uuid4())
    with caplog.at_level("INFO", logger=tf.__name__):
        assert rotate(harness, sm, "rotator", arn, token) is None

    current = sm.value(arn)
    assert current["username"] == "app" and current["host"] == "db"
    assert current["password"] != "initial-password"
    assert not any(c in current["password"] for c in tf.DEFAULT_EXCLUDE_CHARACTERS)
    assert target.password_of("app") == current["password"]
    assert sm.value(arn, "AWSPREVIOUS")["password"] == "initial-password"
    assert target.password_changes == ["app"]
    assert sm.describe_secret(SecretId=arn)["VersionIdsToStages"][token] == ["AWSCURRENT"]
    assert sm.rotation_tokens == [None]  # the classic templates do not pass RotationToken

    assert harness.steps("rotator") == list(tf.STEPS)
    assert [c.outcome for c in harness.calls()] == ["success"] * 4
    assert "createSecret: Successfully put secret for ARN %s and version %s." % (arn, token) in caplog.text
    assert "finishSecret: Successfully set AWSCURRENT stage to version %s" % token in caplog.text
    assert current["password"] not in caplog.text and "initial-password" not in caplog.text


def test_fail_steps_fails_the_first_attempt_and_the_retry_succeeds(rotation):
    harness, sm, target, arn = rotation
    fail_steps = {"setSecret": 1}
    harness.register("rotator", tf.make_handler(target, fail_steps, client_factory=lambda: sm))
    token = str(uuid.uuid4())

    step, error = rotate(harness, sm, "rotator", arn, token)
    assert step == "setSecret"
    assert error["errorType"] == "InjectedFailure"
    assert error["errorMessage"] == "Injected failure at setSecret for secret %s" % arn
    assert fail_steps == {"setSecret": 0}
    assert target.password_of("app") == "initial-password"
    pending = sm.value(arn, "AWSPENDING")["password"]

    # The retry reuses the token: createSecret keeps the pending value, the rest proceeds.
    assert rotate(harness, sm, "rotator", arn, token) is None
    assert sm.value(arn)["password"] == pending == target.password_of("app")
    assert sm.operations.count("PutSecretValue") == 1
    assert harness.steps() == ["createSecret", "setSecret", *tf.STEPS]
    assert [c.outcome for c in harness.calls()] == ["success", "error"] + ["success"] * 4


def test_set_secret_refuses_when_no_credentials_log_in(rotation):
    harness, sm, target, arn = rotation
    target.set_password("app", "changed-behind-our-back")
    harness.register("rotator", tf.make_handler(target, client_factory=lambda: sm))
    step, error = rotate(harness, sm, "rotator", arn, str(uuid.uuid4()))
    assert step == "setSecret" and error["errorType"] == "ValueError"
    assert error["errorMessage"].startswith("Unable to log into target with previous, current, or pending secret")


def test_handler_checks_rotation_enabled_and_staging(rotation):
    harness, sm, target, arn = rotation
    harness.register("rotator", tf.make_handler(target, client_factory=lambda: sm))
    token = str(uuid.uuid4())

    def invoke(step, token):
        event = {"Step": step, "SecretId": arn, "ClientRequestToken": token}
        status, headers, body = post(harness.invoke_url("rotator"), json.dumps(event))
        return headers.get("x-amz-function-error"), json.loads(body)

    fault, error = invoke("createSecret", token)
    assert fault == "Unhandled" and error["errorType"] == "ValueError"
    assert error["errorMessage"] == "Secret %s is not enabled for rotation" % arn

    sm.begin_rotation(arn, token)
    other = str(uuid.uuid4())
    fault, error = invoke("createSecret", other)
    assert fault == "Unhandled"
    assert error["errorMessage"] == "Secret version %s has no stage for rotation of secret %s." % (other, arn)

    current = next(v for v, s in sm.describe_secret(SecretId=arn)["VersionIdsToStages"].items() if "AWSCURRENT" in s)
    assert invoke("setSecret", current) == (None, None)  # already AWSCURRENT: log and return

    sm.end_rotation(arn)  # the token's version is left without a stage; give it another one
    with sm._lock:
        sm._secrets[arn]["versions"][token]["stages"].add("CUSTOM")
    fault, error = invoke("createSecret", token)
    assert error["errorMessage"] == "Secret version %s not set as AWSPENDING for rotation of secret %s." % (token, arn)

    sm.begin_rotation(arn, token)
    fault, error = invoke("rotateSecret", token)
    assert (fault, error["errorMessage"]) == ("Unhandled", "Invalid step parameter rotateSecret for secret %s" % arn)


def test_pass_rotation_token_forwards_it_to_put_secret_value(rotation):
    harness, sm, target, arn = rotation
    harness.register("rotator", tf.make_handler(target, client_factory=lambda: sm, pass_rotation_token=True))
    token = str(uuid.uuid4())
    assert rotate(harness, sm, "rotator", arn, token) is None
    assert sm.rotation_tokens == ["opaque-" + token]


def test_default_client_factory_uses_secrets_manager_endpoint(monkeypatch):
    monkeypatch.setenv("SECRETS_MANAGER_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    client = tf.default_client_factory()
    assert client.meta.endpoint_url == "http://127.0.0.1:9"
    assert client.meta.service_model.service_name == "secretsmanager"


def test_step_functions_are_not_collected_as_tests():
    assert tf.test_secret.__test__ is False
