"""Secrets Manager access decided by IAM policies, end to end, with boto3 and the `aws` CLI.

IAM users created through the IAM API get exactly what their policies allow: one secret and
not another, reads but not writes; an explicit Deny beats an Allow; a resource policy grants a
user with no identity policy; tag conditions (ABAC) compare principal and secret tags; role
sessions work until they expire (on a server whose clock the test moves); and a tampered body,
a wrong secret key or a request signed outside the clock-skew window are refused for IAM users
as for the administrator.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.request
import uuid

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest

from conftest import cli_for, start_server, stop_and_check

DENY_TAIL_NO_ALLOW = "because no identity-based policy allows the {action} action"
DENY_TAIL_EXPLICIT = "with an explicit deny in an identity-based policy"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def short(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_user(coffer, iam, *, inline: str | None = None, tags: dict[str, str] | None = None):
    """An IAM user with an access key and (optionally) an inline policy; returns (arn, key)."""
    user = short("authz")
    kwargs = {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]} if tags else {}
    arn = iam.create_user(UserName=user, **kwargs)["User"]["Arn"]
    if inline:
        iam.put_user_policy(UserName=user, PolicyName="inline", PolicyDocument=inline)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return arn, key


def sm_for(coffer, key, token: str | None = None):
    return coffer.client(aws_access_key_id=key["AccessKeyId"],
                         aws_secret_access_key=key["SecretAccessKey"], aws_session_token=token)


def denied(call, *, message: str | None = None, contains: str | None = None) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        call()
    error = excinfo.value.response["Error"]
    assert error["Code"] == "AccessDeniedException", error
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    if message is not None:
        assert error["Message"] == message
    if contains is not None:
        assert contains in error["Message"], error["Message"]
    return error["Message"]


@pytest.fixture(scope="module")
def iam(coffer):
    return coffer.client("iam")


def test_a_user_reads_the_one_secret_its_policy_names(coffer, sm, iam, unique_name, tmp_path):
    allowed = sm.create_secret(Name=unique_name("allowed"), SecretString="open sesame")
    other = sm.create_secret(Name=unique_name("other"), SecretString="not for you")
    arn, key = make_user(coffer, iam, inline=policy(
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": allowed["ARN"]}))
    user = sm_for(coffer, key)

    assert user.get_secret_value(SecretId=allowed["Name"])["SecretString"] == "open sesame"
    assert user.get_secret_value(SecretId=allowed["ARN"])["SecretString"] == "open sesame"
    action = "secretsmanager:GetSecretValue"
    denied(lambda: user.get_secret_value(SecretId=other["Name"]), message=(
        f"User: {arn} is not authorized to perform: {action} on resource: {other['Name']} "
        + DENY_TAIL_NO_ALLOW.format(action=action)))
    # Writes, reads of metadata and listing are other actions.
    denied(lambda: user.put_secret_value(SecretId=allowed["Name"], SecretString="changed"),
           contains="secretsmanager:PutSecretValue")
    denied(lambda: user.describe_secret(SecretId=allowed["Name"]),
           contains="secretsmanager:DescribeSecret")
    denied(lambda: user.list_secrets(), message=(
        f"User: {arn} is not authorized to perform: secretsmanager:ListSecrets "
        + DENY_TAIL_NO_ALLOW.format(action="secretsmanager:ListSecrets")))
    denied(lambda: user.create_secret(Name=unique_name("new"), SecretString="x"),
           contains="secretsmanager:CreateSecret")
    # A secret that does not exist is denied too (no probing names through NotFound).
    denied(lambda: user.get_secret_value(SecretId=unique_name("missing")),
           contains="secretsmanager:GetSecretValue")
    assert sm.get_secret_value(SecretId=allowed["Name"])["SecretString"] == "open sesame"

    # The same through the aws CLI with the user's keys.
    cli = cli_for(coffer, tmp_path)
    cli.env.update({"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                    "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]})
    got = cli.json("secretsmanager", "get-secret-value", "--secret-id", allowed["Name"])
    assert got["SecretString"] == "open sesame"
    failed = cli.run("secretsmanager", "get-secret-value", "--secret-id", other["Name"])
    assert failed.returncode != 0
    assert "(AccessDeniedException) when calling the GetSecretValue operation: User: " in failed.stderr
    assert "not for you" not in failed.stdout + failed.stderr

    # Policies take effect at once: removing the inline policy removes the access.
    iam.delete_user_policy(UserName=arn.rsplit("/", 1)[1], PolicyName="inline")
    denied(lambda: user.get_secret_value(SecretId=allowed["Name"]), contains=DENY_TAIL_NO_ALLOW
           .format(action=action))


def test_batch_get_secret_value_is_decided_per_secret(coffer, sm, iam, unique_name):
    mine = sm.create_secret(Name=unique_name("batch-mine"), SecretString="a")
    theirs = sm.create_secret(Name=unique_name("batch-theirs"), SecretString="b")
    arn, key = make_user(coffer, iam, inline=policy(
        {"Effect": "Allow", "Action": "secretsmanager:BatchGetSecretValue", "Resource": "*"},
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": mine["ARN"]}))
    out = sm_for(coffer, key).batch_get_secret_value(SecretIdList=[mine["Name"], theirs["Name"]])
    assert [v["Name"] for v in out["SecretValues"]] == [mine["Name"]]
    assert [(e["SecretId"], e["ErrorCode"]) for e in out["Errors"]] == \
        [(theirs["Name"], "AccessDeniedException")]


def test_an_explicit_deny_wins_over_an_allow(coffer, sm, iam, unique_name, tmp_path):
    guarded = sm.create_secret(Name=unique_name("guarded"), SecretString="g")
    free = sm.create_secret(Name=unique_name("free"), SecretString="f")
    arn, key = make_user(coffer, iam, inline=policy(
        {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "secretsmanager:Get*", "Resource": guarded["ARN"]}))
    user = sm_for(coffer, key)
    assert user.get_secret_value(SecretId=free["Name"])["SecretString"] == "f"
    action = "secretsmanager:GetSecretValue"
    denied(lambda: user.get_secret_value(SecretId=guarded["Name"]), message=(
        f"User: {arn} is not authorized to perform: {action} on resource: {guarded['Name']} "
        + DENY_TAIL_EXPLICIT))
    # The Deny names Get* only: describing the secret is still allowed.
    assert user.describe_secret(SecretId=guarded["Name"])["Name"] == guarded["Name"]

    # A Deny in a group policy applies to the group's members as well.
    group = short("deny-group")
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="no-free", PolicyDocument=policy(
        {"Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": free["ARN"]}))
    iam.add_user_to_group(GroupName=group, UserName=arn.rsplit("/", 1)[1])
    denied(lambda: user.get_secret_value(SecretId=free["Name"]), contains=DENY_TAIL_EXPLICIT)

    cli = cli_for(coffer, tmp_path)
    cli.env.update({"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                    "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]})
    failed = cli.run("secretsmanager", "get-secret-value", "--secret-id", guarded["Name"])
    assert failed.returncode != 0 and DENY_TAIL_EXPLICIT in failed.stderr


def test_a_resource_policy_grants_a_second_user(coffer, sm, iam, unique_name):
    shared = sm.create_secret(Name=unique_name("shared"), SecretString="shared value")
    private = sm.create_secret(Name=unique_name("private"), SecretString="private value")
    arn, key = make_user(coffer, iam)  # no identity policy at all
    user = sm_for(coffer, key)
    denied(lambda: user.get_secret_value(SecretId=shared["Name"]))

    sm.put_resource_policy(SecretId=shared["ARN"], ResourcePolicy=policy(
        {"Effect": "Allow", "Principal": {"AWS": arn},
         "Action": "secretsmanager:GetSecretValue", "Resource": "*"}))
    assert user.get_secret_value(SecretId=shared["ARN"])["SecretString"] == "shared value"
    denied(lambda: user.get_secret_value(SecretId=private["Name"]))
    denied(lambda: user.put_secret_value(SecretId=shared["Name"], SecretString="x"))

    # A resource policy's Deny also binds the administrator.
    sm.put_resource_policy(SecretId=shared["ARN"], ResourcePolicy=policy(
        {"Effect": "Deny", "Principal": {"AWS": "*"},
         "Action": "secretsmanager:GetSecretValue", "Resource": "*"}))
    denied(lambda: sm.get_secret_value(SecretId=shared["Name"]),
           contains="with an explicit deny in a resource-based policy")
    denied(lambda: user.get_secret_value(SecretId=shared["Name"]))
    sm.delete_resource_policy(SecretId=shared["ARN"])
    assert sm.get_secret_value(SecretId=shared["Name"])["SecretString"] == "shared value"


def test_tag_based_access(coffer, sm, iam, unique_name):
    blue = sm.create_secret(Name=unique_name("blue"), SecretString="b",
                            Tags=[{"Key": "team", "Value": "blue"}])
    red = sm.create_secret(Name=unique_name("red"), SecretString="r",
                           Tags=[{"Key": "team", "Value": "red"}])
    untagged = sm.create_secret(Name=unique_name("untagged"), SecretString="u")
    _, key = make_user(coffer, iam, tags={"team": "blue"}, inline=policy(
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
         "Condition": {"StringEquals": {
             "secretsmanager:ResourceTag/team": "${aws:PrincipalTag/team}"}}},
        # Tags on CreateSecret also need TagResource, as on AWS.
        {"Effect": "Allow", "Action": ["secretsmanager:CreateSecret", "secretsmanager:TagResource"],
         "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestTag/team": "${aws:PrincipalTag/team}"},
                       "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}}))
    user = sm_for(coffer, key)
    assert user.get_secret_value(SecretId=blue["Name"])["SecretString"] == "b"
    denied(lambda: user.get_secret_value(SecretId=red["Name"]))
    denied(lambda: user.get_secret_value(SecretId=untagged["Name"]))

    # Retagging the secret moves it into the user's reach, and out again.
    sm.tag_resource(SecretId=red["ARN"], Tags=[{"Key": "team", "Value": "blue"}])
    assert user.get_secret_value(SecretId=red["Name"])["SecretString"] == "r"
    sm.tag_resource(SecretId=red["ARN"], Tags=[{"Key": "team", "Value": "red"}])
    denied(lambda: user.get_secret_value(SecretId=red["Name"]))

    # Creating is allowed only with the user's own team tag.
    created = user.create_secret(Name=unique_name("by-blue"), SecretString="n",
                                 Tags=[{"Key": "team", "Value": "blue"}])
    assert created["Name"]
    denied(lambda: user.create_secret(Name=unique_name("by-blue-red"), SecretString="n",
                                      Tags=[{"Key": "team", "Value": "red"}]))
    denied(lambda: user.create_secret(Name=unique_name("by-blue-none"), SecretString="n"))


def test_managed_policy_attached_to_a_user(coffer, sm, iam, unique_name):
    prefix = unique_name("managed")
    mine = sm.create_secret(Name=f"{prefix}/db", SecretString="m")
    other = sm.create_secret(Name=unique_name("managed-other"), SecretString="o")
    region, account = coffer.region, coffer.account_id
    managed = iam.create_policy(PolicyName=short("read-prefix"), PolicyDocument=policy(
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue",
                                       "secretsmanager:DescribeSecret"],
         "Resource": f"arn:aws:secretsmanager:{region}:{account}:secret:{prefix}/*"}))["Policy"]
    arn, key = make_user(coffer, iam)
    iam.attach_user_policy(UserName=arn.rsplit("/", 1)[1], PolicyArn=managed["Arn"])
    user = sm_for(coffer, key)
    assert user.get_secret_value(SecretId=mine["Name"])["SecretString"] == "m"
    denied(lambda: user.get_secret_value(SecretId=other["Name"]))


def test_assumed_role_credentials_read_secrets(coffer, sm, iam, unique_name):
    secret = sm.create_secret(Name=unique_name("for-role"), SecretString="role value")
    role = short("reader")
    trust = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{coffer.account_id}:root"},
                    "Action": "sts:AssumeRole"})
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="read", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret["ARN"]}))
    creds = coffer.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="app")["Credentials"]
    session = coffer.client(aws_access_key_id=creds["AccessKeyId"],
                            aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds["SessionToken"])
    assert session.get_secret_value(SecretId=secret["Name"])["SecretString"] == "role value"
    message = denied(lambda: session.list_secrets())
    assert message.startswith(
        f"User: arn:aws:sts::{coffer.account_id}:assumed-role/{role}/app is not authorized")


# --------------------------------------------------------------------------------------------
# Authentication of IAM users' requests
# --------------------------------------------------------------------------------------------

def signed_request(coffer, key, operation: str, body: dict) -> botocore.awsrequest.AWSPreparedRequest:
    request = botocore.awsrequest.AWSRequest(
        method="POST", url=coffer.endpoint + "/", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/x-amz-json-1.1",
                 "X-Amz-Target": f"secretsmanager.{operation}"})
    credentials = botocore.credentials.Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    botocore.auth.SigV4Auth(credentials, "secretsmanager", coffer.region).add_auth(request)
    return request.prepare()


def send(prepared, body: bytes) -> tuple[int, dict]:
    http_request = urllib.request.Request(prepared.url, data=body, method="POST",
                                          headers=dict(prepared.headers.items()))
    try:
        with urllib.request.urlopen(http_request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_tampered_wrong_key_and_skewed_requests_are_refused(coffer, sm, iam, unique_name,
                                                             monkeypatch):
    secret = sm.create_secret(Name=unique_name("signed"), SecretString="s")
    other = sm.create_secret(Name=unique_name("signed-other"), SecretString="o")
    _, key = make_user(coffer, iam, inline=policy(
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret["ARN"]}))

    prepared = signed_request(coffer, key, "GetSecretValue", {"SecretId": secret["Name"]})
    status, parsed = send(prepared, prepared.body)
    assert (status, parsed["SecretString"]) == (200, "s")
    # The same signature over a body naming another secret.
    tampered = json.dumps({"SecretId": other["Name"]}).encode()
    status, parsed = send(prepared, tampered)
    assert (status, parsed["__type"]) == (400, "InvalidSignatureException")
    assert "SecretString" not in parsed

    wrong = dict(key, SecretAccessKey=("x" if key["SecretAccessKey"][0] != "x" else "y")
                 + key["SecretAccessKey"][1:])
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        sm_for(coffer, wrong).get_secret_value(SecretId=secret["Name"])
    assert excinfo.value.response["Error"]["Code"] == "InvalidSignatureException"

    real_now = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda *a, **k: real_now(*a, **k) + dt.timedelta(minutes=6))
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        sm_for(coffer, key).get_secret_value(SecretId=secret["Name"])
    monkeypatch.undo()
    error = excinfo.value.response["Error"]
    assert error["Code"] == "InvalidSignatureException"
    assert error["Message"].startswith("Signature not yet current: ")

    # An inactive key stops working; reactivated, it works again.
    iam.update_access_key(UserName=key["UserName"], AccessKeyId=key["AccessKeyId"],
                          Status="Inactive")
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        sm_for(coffer, key).get_secret_value(SecretId=secret["Name"])
    assert excinfo.value.response["Error"]["Code"] == "UnrecognizedClientException"
    iam.update_access_key(UserName=key["UserName"], AccessKeyId=key["AccessKeyId"],
                          Status="Active")
    assert sm_for(coffer, key).get_secret_value(SecretId=secret["Name"])["SecretString"] == "s"


# --------------------------------------------------------------------------------------------
# Expiry of role sessions, on a server whose clock the test moves
# --------------------------------------------------------------------------------------------

def test_assumed_role_credentials_expire(tmp_path, monkeypatch):
    clock_file = tmp_path / "clock-offset-ms"
    clock_file.write_text("0")
    server = start_server(tmp_path / "server",
                          extra_env={"COFFER_TEST_CLOCK_FILE": str(clock_file)})
    try:
        if "test clock" not in server.log():
            pytest.skip("this coffer binary has no test clock (a release build)")
        admin = server.client()
        iam, sts = server.client("iam"), server.client("sts")
        secret = admin.create_secret(Name="expiring/read", SecretString="until expiry")
        role = "expiring-reader"
        trust = policy({"Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{server.account_id}:root"},
                        "Action": "sts:AssumeRole"})
        role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        iam.put_role_policy(RoleName=role, PolicyName="read", PolicyDocument=policy(
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
             "Resource": secret["ARN"]}))
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="short",
                                DurationSeconds=900)["Credentials"]
        session = server.client(aws_access_key_id=creds["AccessKeyId"],
                                aws_secret_access_key=creds["SecretAccessKey"],
                                aws_session_token=creds["SessionToken"])
        assert session.get_secret_value(SecretId=secret["Name"])["SecretString"] == "until expiry"

        # 14 minutes on: still valid (the client signs with the moved time too, to stay inside
        # the 5-minute skew window).
        def move_to(minutes: int) -> None:
            clock_file.write_text(str(minutes * 60_000))
            real_now = botocore.auth.get_current_datetime
            monkeypatch.setattr(botocore.auth, "get_current_datetime",
                                lambda *a, **k: real_now(*a, **k) + dt.timedelta(minutes=minutes))
            time.sleep(0.3)  # the server polls the file every 50 ms

        move_to(14)
        assert session.get_secret_value(SecretId=secret["Name"])["SecretString"] == "until expiry"
        monkeypatch.undo()
        move_to(16)
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            session.get_secret_value(SecretId=secret["Name"])
        error = excinfo.value.response["Error"]
        assert error["Code"] == "ExpiredTokenException"
        assert error["Message"] == "The security token included in the request is expired"
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            server.client("sts", aws_access_key_id=creds["AccessKeyId"],
                          aws_secret_access_key=creds["SecretAccessKey"],
                          aws_session_token=creds["SessionToken"]).get_caller_identity()
        assert excinfo.value.response["Error"]["Code"] == "ExpiredToken"
        # The administrator's long-term key is unaffected by time.
        assert admin.get_secret_value(SecretId=secret["Name"])["SecretString"] == "until expiry"
        monkeypatch.undo()
    finally:
        stop_and_check(server)
