"""Rotation end to end: RotateSecret, CancelRotateSecret and the schedule through boto3 and the
aws CLI; a rotation function written like AWS's templates, served over the Lambda Invoke
protocol by `rotation.lambda_harness`; and Coffer's built-in database rotation against the real
PostgreSQL and MariaDB servers of the machine."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import threading
import time
import uuid

import botocore.exceptions
import pytest

from conftest import start_server, stop_and_check
from rotation.lambda_harness import LambdaHarness
from rotation.template_function import FakeTarget, make_handler

FUNCTION = "template-rotation"


def stages(sm, secret_id: str) -> dict[str, list[str]]:
    return sm.describe_secret(SecretId=secret_id).get("VersionIdsToStages", {})


def wait_until(predicate, timeout: float = 20.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def rotated_to(sm, secret_id: str, token: str):
    labels = stages(sm, secret_id)
    return labels.get(token) == ["AWSCURRENT"] and labels


def lookup(server, name: str) -> list[dict]:
    trail = server.client("cloudtrail")
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])["Events"]
    return [json.loads(e["CloudTrailEvent"]) for e in events]


@pytest.fixture
def harness():
    with LambdaHarness() as h:
        yield h


def rotation_server(tmp_path, harness, *extra: str, extra_env=None):
    server = start_server(tmp_path / "server", extra_args=(
        "--rotation-function", f"{FUNCTION}={harness.base_url}",
        "--rotation-check-interval", "1", "--rotation-retry-delay", "1", *extra),
        extra_env=extra_env)
    return server


def client_factory(server):
    return lambda: server.client()


# --------------------------------------------------------------------------------------------
# A template-style function over the Lambda Invoke protocol
# --------------------------------------------------------------------------------------------

def test_a_template_function_rotates_through_all_four_steps(tmp_path, harness):
    server = rotation_server(tmp_path, harness)
    try:
        sm = server.client()
        target = FakeTarget({"app": "first-password"})
        harness.register(FUNCTION, make_handler(target, client_factory=client_factory(server)))
        secret = sm.create_secret(Name="rotate/template",
                                  SecretString=json.dumps({"username": "app",
                                                           "password": "first-password"}))
        first = secret["VersionId"]
        token = str(uuid.uuid4())
        answer = sm.rotate_secret(SecretId=secret["ARN"], ClientRequestToken=token,
                                  RotationLambdaARN=harness.function_arn(FUNCTION),
                                  RotationRules={"AutomaticallyAfterDays": 30})
        assert answer["VersionId"] == token and answer["ARN"] == secret["ARN"]
        labels = wait_until(lambda: rotated_to(sm, secret["ARN"], token), what="AWSCURRENT moved")
        # AWS leaves AWSCURRENT on the new version, AWSPREVIOUS on the old, no AWSPENDING.
        assert labels == {token: ["AWSCURRENT"], first: ["AWSPREVIOUS"]}
        assert harness.steps(FUNCTION) == ["createSecret", "setSecret", "testSecret",
                                           "finishSecret"]
        event = harness.calls(FUNCTION)[0].event
        assert event["SecretId"] == secret["ARN"] and event["ClientRequestToken"] == token
        assert len(event["RotationToken"]) >= 36
        new = json.loads(sm.get_secret_value(SecretId=secret["ARN"])["SecretString"])
        assert new["password"] != "first-password"
        assert target.login("app", new["password"]) and not target.login("app", "first-password")
        old = sm.get_secret_value(SecretId=secret["ARN"], VersionStage="AWSPREVIOUS")
        assert json.loads(old["SecretString"])["password"] == "first-password"

        described = wait_until(lambda: (d := sm.describe_secret(SecretId=secret["ARN"]))
                               .get("LastRotatedDate") and d, what="LastRotatedDate")
        assert described["RotationEnabled"] is True
        assert described["RotationLambdaARN"] == harness.function_arn(FUNCTION)
        assert described["RotationRules"]["AutomaticallyAfterDays"] == 30
        days = (described["NextRotationDate"] - described["LastRotatedDate"]).total_seconds() / 86400
        assert 29 <= days <= 31
        listed = [s for s in sm.list_secrets()["SecretList"] if s["ARN"] == secret["ARN"]][0]
        assert listed["RotationEnabled"] is True and "NextRotationDate" in listed

        names = [e["eventName"] for e in lookup(server, "RotationSucceeded")]
        assert names == ["RotationSucceeded"]
        started = lookup(server, "RotationStarted")[0]
        assert started["eventType"] == "AwsServiceEvent"
        assert started["userIdentity"]["invokedBy"] == "secretsmanager.amazonaws.com"
    finally:
        stop_and_check(server)


def test_a_failure_at_set_secret_leaves_pending_is_audited_and_the_retry_completes(
        tmp_path, harness):
    server = rotation_server(tmp_path, harness)
    try:
        sm = server.client()
        target = FakeTarget({"app": "pw-0"})
        fail = {"setSecret": 1}
        harness.register(FUNCTION, make_handler(target, fail,
                                                client_factory=client_factory(server)))
        secret = sm.create_secret(Name="rotate/flaky",
                                  SecretString=json.dumps({"username": "app", "password": "pw-0"}))
        token = str(uuid.uuid4())
        sm.rotate_secret(SecretId=secret["ARN"], ClientRequestToken=token,
                         RotationLambdaARN=harness.function_arn(FUNCTION))
        # The first attempt stops at setSecret: the pending version holds its value.
        harness.wait_for(lambda calls: [c.step for c in calls][:2] == ["createSecret", "setSecret"])
        failed = wait_until(lambda: lookup(server, "RotationFailed"), what="RotationFailed")
        assert "during setSecret step" in failed[0]["errorMessage"]
        assert FUNCTION in failed[0]["errorMessage"]
        # The retry resumes at setSecret and completes.
        wait_until(lambda: rotated_to(sm, secret["ARN"], token), what="the retry to complete")
        assert harness.steps(FUNCTION) == ["createSecret", "setSecret", "setSecret",
                                           "testSecret", "finishSecret"]
        assert "AWSPENDING" not in sum(stages(sm, secret["ARN"]).values(), [])
        assert target.password_changes == ["app"]
    finally:
        stop_and_check(server)


def test_a_rotation_in_progress_is_refused_and_its_own_token_resumes_it(tmp_path, harness):
    server = rotation_server(tmp_path, harness, "--rotation-max-attempts", "1")
    try:
        sm = server.client()
        target = FakeTarget({"app": "pw"})
        fail = {"testSecret": 1}
        harness.register(FUNCTION, make_handler(target, fail,
                                                client_factory=client_factory(server)))
        secret = sm.create_secret(Name="rotate/stuck",
                                  SecretString=json.dumps({"username": "app", "password": "pw"}))
        token = str(uuid.uuid4())
        sm.rotate_secret(SecretId=secret["ARN"], ClientRequestToken=token,
                         RotationLambdaARN=harness.function_arn(FUNCTION))
        wait_until(lambda: lookup(server, "RotationFailed"), what="RotationFailed")
        assert stages(sm, secret["ARN"])[token] == ["AWSPENDING"]
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            sm.rotate_secret(SecretId=secret["ARN"], ClientRequestToken=str(uuid.uuid4()))
        assert refused.value.response["Error"]["Code"] == "InvalidRequestException"
        assert refused.value.response["Error"]["Message"] == \
            "Previous rotation request is still in progress."
        assert sm.rotate_secret(SecretId=secret["ARN"], ClientRequestToken=token)["VersionId"] == token
        wait_until(lambda: rotated_to(sm, secret["ARN"], token), what="the resumed rotation")
    finally:
        stop_and_check(server)


def test_unregistered_functions_are_never_called_and_nothing_is_saved(tmp_path, harness):
    server = rotation_server(tmp_path, harness)
    try:
        sm = server.client()
        secret = sm.create_secret(Name="rotate/ssrf", SecretString="v")
        for arn in ("arn:aws:lambda:us-east-1:111122223333:function:not-registered",
                    "http://169.254.169.254/latest"):
            with pytest.raises(botocore.exceptions.ClientError) as denied:
                sm.rotate_secret(SecretId=secret["ARN"], RotationLambdaARN=arn)
            assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
            assert denied.value.response["Error"]["Message"].startswith(
                "Secrets Manager cannot invoke the specified Lambda function.")
        described = sm.describe_secret(SecretId=secret["ARN"])
        assert "RotationEnabled" not in described and "RotationLambdaARN" not in described
        with pytest.raises(botocore.exceptions.ClientError) as none:
            sm.rotate_secret(SecretId=secret["ARN"])
        assert none.value.response["Error"]["Message"] == \
            "No Lambda rotation function ARN is associated with this secret."
        with pytest.raises(botocore.exceptions.ClientError) as bad:
            sm.rotate_secret(SecretId=secret["ARN"], RotationLambdaARN=harness.function_arn(FUNCTION),
                             RotationRules={"ScheduleExpression": "cron(0 * * * ? *)"})
        assert bad.value.response["Error"]["Code"] == "InvalidParameterException"
        assert harness.invocations == []
    finally:
        stop_and_check(server)


def test_cancel_rotate_secret_through_the_cli(tmp_path, harness):
    server = rotation_server(tmp_path, harness)
    try:
        sm = server.client()
        target = FakeTarget({"app": "pw"})
        harness.register(FUNCTION, make_handler(target, client_factory=client_factory(server)))
        secret = sm.create_secret(Name="rotate/cancel",
                                  SecretString=json.dumps({"username": "app", "password": "pw"}))
        env = {"AWS_ACCESS_KEY_ID": server.access_key_id,
               "AWS_SECRET_ACCESS_KEY": server.secret_access_key,
               "AWS_DEFAULT_REGION": server.region, "PATH": __import__("os").environ["PATH"],
               "HOME": str(tmp_path)}
        aws = ["aws", "--endpoint-url", server.endpoint, "--output", "json", "secretsmanager"]
        out = subprocess.run(aws + ["rotate-secret", "--secret-id", "rotate/cancel",
                                    "--rotation-lambda-arn", harness.function_arn(FUNCTION),
                                    "--rotation-rules", '{"ScheduleExpression": "rate(10 days)"}',
                                    "--no-rotate-immediately"],
                             capture_output=True, text=True, env=env, check=True)
        assert json.loads(out.stdout)["ARN"] == secret["ARN"]
        described = sm.describe_secret(SecretId=secret["ARN"])
        assert described["RotationEnabled"] is True
        assert described["RotationRules"]["ScheduleExpression"] == "rate(10 days)"
        assert "NextRotationDate" in described
        out = subprocess.run(aws + ["cancel-rotate-secret", "--secret-id", "rotate/cancel"],
                             capture_output=True, text=True, env=env, check=True)
        assert json.loads(out.stdout)["Name"] == "rotate/cancel"
        described = sm.describe_secret(SecretId=secret["ARN"])
        assert described["RotationEnabled"] is False
        assert "NextRotationDate" not in described
        assert described["RotationRules"]["ScheduleExpression"] == "rate(10 days)"
    finally:
        stop_and_check(server)


def test_a_scheduled_rotation_runs_when_its_window_comes(tmp_path, harness):
    clock_file = tmp_path / "clock-offset-ms"
    clock_file.write_text("0")
    server = rotation_server(tmp_path, harness,
                             extra_env={"COFFER_TEST_CLOCK_FILE": str(clock_file)})
    try:
        if "test clock" not in server.log():
            pytest.skip("this coffer binary has no test clock (a release build)")
        sm = server.client()
        target = FakeTarget({"app": "pw"})
        inner = make_handler(target, client_factory=client_factory(server))
        started, go = threading.Event(), threading.Event()

        def gated(event, context):
            # Requests are signed with the real time: the server's clock must be back before
            # the function calls it.
            started.set()
            go.wait(20)
            return inner(event, context)

        harness.register(FUNCTION, gated)
        secret = sm.create_secret(Name="rotate/scheduled",
                                  SecretString=json.dumps({"username": "app", "password": "pw"}))
        sm.rotate_secret(SecretId=secret["ARN"], RotationLambdaARN=harness.function_arn(FUNCTION),
                         RotationRules={"ScheduleExpression": "rate(1 day)"},
                         RotateImmediately=False)
        # RotateImmediately=false runs testSecret alone now; the test function fails it (the
        # temporary pending version has no value), which changes nothing.
        go.set()
        harness.wait_for(lambda calls: len(calls) >= 1)
        wait_until(lambda: lookup(server, "TestRotationFailed")
                   or lookup(server, "TestRotationSucceeded"), what="the test rotation")
        described = sm.describe_secret(SecretId=secret["ARN"])
        assert list(stages(sm, secret["ARN"]).values()) == [["AWSCURRENT"]]
        assert "LastRotatedDate" not in described
        harness.clear()
        started.clear()
        go.clear()
        # Two days later the window has come: the scheduler starts the rotation.
        clock_file.write_text(str(2 * 86_400_000))
        assert started.wait(20), "the scheduler did not start the rotation"
        clock_file.write_text("0")
        time.sleep(0.3)
        go.set()
        wait_until(lambda: sm.describe_secret(SecretId=secret["ARN"]).get("LastRotatedDate"),
                   what="the scheduled rotation")
        assert harness.steps(FUNCTION) == ["createSecret", "setSecret", "testSecret",
                                           "finishSecret"]
        assert target.password_changes == ["app"]
    finally:
        stop_and_check(server)


# --------------------------------------------------------------------------------------------
# Built-in database rotation (no function to deploy)
# --------------------------------------------------------------------------------------------

def managed(server, name: str) -> str:
    return f"arn:aws:lambda:{server.region}:{server.account_id}:function:{name}"


def psql(sql: str) -> str:
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-At",
                           "-v", "ON_ERROR_STOP=1", "-c", sql],
                          capture_output=True, text=True, check=True).stdout.strip()


def scram_verifies(verifier: str, password: str) -> bool:
    """Checks a password against PostgreSQL's stored SCRAM-SHA-256 verifier (this machine's
    PostgreSQL trusts every login on 127.0.0.1, so a login would prove nothing)."""
    method, rest = verifier.split("$", 1)
    assert method == "SCRAM-SHA-256"
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key, _server_key = keys.split(":")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt),
                                 int(iterations))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return hashlib.sha256(client_key).digest() == base64.b64decode(stored_key)


def test_managed_single_user_rotation_on_postgresql(tmp_path):
    role = f"coffer_rot_{uuid.uuid4().hex[:10]}"
    psql(f"CREATE ROLE {role} LOGIN PASSWORD 'initial-Pw1'")
    server = start_server(tmp_path / "server")
    try:
        sm = server.client()
        secret = sm.create_secret(Name=f"db/{role}", SecretString=json.dumps({
            "engine": "postgres", "host": "127.0.0.1", "port": 5432, "username": role,
            "password": "initial-Pw1", "dbname": "postgres"}))
        token = sm.rotate_secret(SecretId=secret["ARN"],
                                 RotationLambdaARN=managed(server, "coffer-rotation-single-user"),
                                 RotationRules={"AutomaticallyAfterDays": 7})["VersionId"]
        labels = wait_until(lambda: rotated_to(sm, secret["ARN"], token), what="the rotation")
        assert labels == {token: ["AWSCURRENT"], secret["VersionId"]: ["AWSPREVIOUS"]}
        new = json.loads(sm.get_secret_value(SecretId=secret["ARN"])["SecretString"])
        assert new["username"] == role and new["dbname"] == "postgres"
        verifier = psql(f"SELECT rolpassword FROM pg_authid WHERE rolname = '{role}'")
        assert scram_verifies(verifier, new["password"])
        assert not scram_verifies(verifier, "initial-Pw1")
        assert lookup(server, "RotationSucceeded")
    finally:
        stop_and_check(server)
        psql(f"DROP ROLE IF EXISTS {role}")


def mariadb(sql: str, user: str = "root", password: str = "") -> subprocess.CompletedProcess:
    args = ["mariadb", "-h", "127.0.0.1", "-P", "3306", "-u", user, "-N", "-e", sql]
    if password:
        args.insert(1, f"-p{password}")
    return subprocess.run(args, capture_output=True, text=True)


def test_managed_rotation_on_mariadb_single_user_and_alternating_users(tmp_path):
    suffix = uuid.uuid4().hex[:8]
    user, master = f"app_{suffix}", f"master_{suffix}"
    setup = (f"CREATE USER '{user}'@'%' IDENTIFIED BY 'start-Pw1';"
             f"GRANT SELECT ON test.* TO '{user}'@'%';"
             f"CREATE USER '{master}'@'%' IDENTIFIED BY 'master-Pw1';"
             f"GRANT ALL PRIVILEGES ON *.* TO '{master}'@'%' WITH GRANT OPTION;")
    assert mariadb(setup).returncode == 0
    server = start_server(tmp_path / "server")
    try:
        sm = server.client()
        base = {"engine": "mariadb", "host": "127.0.0.1", "port": 3306}
        master_secret = sm.create_secret(Name=f"db/{master}", SecretString=json.dumps(
            {**base, "username": master, "password": "master-Pw1"}))
        single = sm.create_secret(Name=f"db/{user}", SecretString=json.dumps(
            {**base, "username": user, "password": "start-Pw1"}))
        token = sm.rotate_secret(SecretId=single["ARN"],
                                 RotationLambdaARN=managed(server, "coffer-rotation-single-user"))[
            "VersionId"]
        wait_until(lambda: rotated_to(sm, single["ARN"], token), what="single-user rotation")
        new = json.loads(sm.get_secret_value(SecretId=single["ARN"])["SecretString"])
        # The new password logs in, the old one no longer does.
        assert mariadb("SELECT 1", user, new["password"]).returncode == 0
        assert mariadb("SELECT 1", user, "start-Pw1").returncode != 0

        # Alternating users: the first rotation creates the clone, the next alternates back.
        alternating = sm.create_secret(Name=f"db/{user}-alt", SecretString=json.dumps(
            {**base, "username": user, "password": new["password"],
             "masterarn": master_secret["ARN"]}))
        arn = managed(server, "coffer-rotation-alternating-users")
        first = sm.rotate_secret(SecretId=alternating["ARN"], RotationLambdaARN=arn)["VersionId"]
        wait_until(lambda: rotated_to(sm, alternating["ARN"], first), what="first alternation")
        clone = json.loads(sm.get_secret_value(SecretId=alternating["ARN"])["SecretString"])
        assert clone["username"] == f"{user}_clone"
        assert mariadb("SELECT count(*) FROM information_schema.SCHEMA_PRIVILEGES",
                       clone["username"], clone["password"]).returncode == 0
        second = sm.rotate_secret(SecretId=alternating["ARN"], RotationLambdaARN=arn)["VersionId"]
        wait_until(lambda: rotated_to(sm, alternating["ARN"], second), what="second alternation")
        back = json.loads(sm.get_secret_value(SecretId=alternating["ARN"])["SecretString"])
        assert back["username"] == user
        assert mariadb("SELECT 1", user, back["password"]).returncode == 0
        # The previous user keeps working until its next turn (that is the point of the strategy).
        assert mariadb("SELECT 1", clone["username"], clone["password"]).returncode == 0
    finally:
        stop_and_check(server)
        mariadb(f"DROP USER IF EXISTS '{user}'@'%', '{user}_clone'@'%', '{master}'@'%'")


def test_functions_registered_by_the_admin_command_are_used_after_sighup(tmp_path, harness):
    import signal

    from conftest import base_env, coffer_bin
    config = tmp_path / "coffer.toml"
    config.write_text('log = "info"\n')

    def admin(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(coffer_bin()), "rotation-function", "--config", str(config),
                               *args], capture_output=True, text=True, env=base_env(), timeout=30)

    server = start_server(tmp_path / "server", extra_args=(
        "--config", str(config), "--rotation-check-interval", "1"))
    try:
        sm = server.client()
        target = FakeTarget({"app": "pw"})
        harness.register(FUNCTION, make_handler(target, client_factory=client_factory(server)))
        secret = sm.create_secret(Name="rotate/registered",
                                  SecretString=json.dumps({"username": "app", "password": "pw"}))
        with pytest.raises(botocore.exceptions.ClientError) as denied:
            sm.rotate_secret(SecretId=secret["ARN"], RotationLambdaARN=harness.function_arn(FUNCTION))
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"

        added = admin("add", f"{FUNCTION}={harness.base_url}")
        assert added.returncode == 0, added.stderr
        listed = admin("list")
        assert f"{FUNCTION}\t{harness.base_url}" in listed.stdout
        assert 'log = "info"' in config.read_text()
        assert admin("add", "bad name=http://x").returncode != 0
        server._proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "rotation functions reloaded" in server.log(), what="the reload")

        token = sm.rotate_secret(SecretId=secret["ARN"],
                                 RotationLambdaARN=harness.function_arn(FUNCTION))["VersionId"]
        wait_until(lambda: rotated_to(sm, secret["ARN"], token), what="the rotation")

        assert admin("remove", FUNCTION).returncode == 0
        assert admin("remove", FUNCTION).returncode != 0
        server._proc.send_signal(signal.SIGHUP)
        wait_until(lambda: server.log().count("rotation functions reloaded") >= 2, what="reload 2")
        with pytest.raises(botocore.exceptions.ClientError) as again:
            sm.rotate_secret(SecretId=secret["ARN"], RotationLambdaARN=harness.function_arn(FUNCTION))
        assert again.value.response["Error"]["Code"] == "AccessDeniedException"
    finally:
        stop_and_check(server)
