"""IAM and STS (Query protocol) against the real binary, with boto3 and the `aws` CLI.

Users, access keys (Inactive keys stop working), inline and managed policies, groups, roles with
trust policies, tags, GetCallerIdentity for users and role sessions, AssumeRole with the
temporary credentials in use, tampered session tokens, and the modeled error shapes boto3 maps
to its exception classes.
"""

from __future__ import annotations

import base64
import json
import uuid

import botocore.exceptions
import pytest

TRUST_ACCOUNT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                   "Action": "sts:AssumeRole"}],
}
ALLOW_SECRETS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}],
}


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def iam(coffer):
    return coffer.client("iam")


@pytest.fixture(scope="module")
def sts(coffer):
    return coffer.client("sts")


def client_for(coffer, service, key_id, secret, token=None):
    return coffer.client(service, aws_access_key_id=key_id, aws_secret_access_key=secret,
                         aws_session_token=token)


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_admin_caller_identity(coffer, sts, aws):
    identity = sts.get_caller_identity()
    assert identity["Account"] == coffer.account_id
    assert identity["Arn"] == f"arn:aws:iam::{coffer.account_id}:user/admin"
    assert identity["UserId"].startswith("AIDA") and len(identity["UserId"]) == 21
    cli = aws.json("sts", "get-caller-identity")
    assert cli == {k: identity[k] for k in ("UserId", "Account", "Arn")}
    admin = aws.json("iam", "get-user")["User"]
    assert admin["UserName"] == "admin" and admin["UserId"] == identity["UserId"]
    policy = aws.json("iam", "get-user-policy", "--user-name", "admin", "--policy-name",
                      "AdministratorAccess")
    assert policy["PolicyDocument"]["Statement"][0]["Action"] == "*"


def test_users_and_access_keys_with_the_cli(coffer, aws):
    user = name("alice")
    created = aws.json("iam", "create-user", "--user-name", user, "--path", "/team/",
                       "--tags", "Key=team,Value=core")["User"]
    assert created["Arn"] == f"arn:aws:iam::{coffer.account_id}:user/team/{user}"
    assert created["Tags"] == [{"Key": "team", "Value": "core"}]
    aws.run("iam", "tag-user", "--user-name", user, "--tags", "Key=env,Value=dev", check=True)
    tags = aws.json("iam", "list-user-tags", "--user-name", user)["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {"team": "core", "env": "dev"}
    assert user in [u["UserName"] for u in aws.json("iam", "list-users")["Users"]]

    key = aws.json("iam", "create-access-key", "--user-name", user)["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40
    listed = aws.json("iam", "list-access-keys", "--user-name", user)["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in listed] == [(key["AccessKeyId"], "Active")]
    assert "SecretAccessKey" not in listed[0]

    # The new user's key works at once; GetCallerIdentity needs no permission.
    env = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    me = aws.json("sts", "get-caller-identity", env=env)
    assert me["Arn"] == created["Arn"] and me["UserId"] == created["UserId"]

    aws.run("iam", "update-access-key", "--user-name", user, "--access-key-id",
            key["AccessKeyId"], "--status", "Inactive", check=True)
    refused = aws.run("sts", "get-caller-identity", env=env)
    assert refused.returncode != 0 and "InvalidClientTokenId" in refused.stderr, refused.stderr

    aws.run("iam", "delete-access-key", "--user-name", user, "--access-key-id",
            key["AccessKeyId"], check=True)
    assert aws.json("iam", "list-access-keys", "--user-name", user)["AccessKeyMetadata"] == []
    aws.run("iam", "delete-user", "--user-name", user, check=True)
    gone = aws.run("iam", "get-user", "--user-name", user)
    assert gone.returncode != 0 and "NoSuchEntity" in gone.stderr


def test_policies_groups_and_roles(coffer, iam):
    user, group, role, managed = name("bob"), name("devs"), name("app"), name("readers")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="inline", PolicyDocument=json.dumps(ALLOW_SECRETS))
    got = iam.get_user_policy(UserName=user, PolicyName="inline")
    assert got["PolicyDocument"] == ALLOW_SECRETS  # URL-encoded on the wire, decoded by boto3
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == ["inline"]

    policy = iam.create_policy(PolicyName=managed, Path="/x/",
                               PolicyDocument=json.dumps(ALLOW_SECRETS))["Policy"]
    assert policy["Arn"] == f"arn:aws:iam::{coffer.account_id}:policy/x/{managed}"
    assert policy["DefaultVersionId"] == "v1" and policy["AttachmentCount"] == 0
    iam.attach_user_policy(UserName=user, PolicyArn=policy["Arn"])
    attached = iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]
    assert attached == [{"PolicyName": managed, "PolicyArn": policy["Arn"]}]
    assert iam.get_policy(PolicyArn=policy["Arn"])["Policy"]["AttachmentCount"] == 1
    version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId="v1")["PolicyVersion"]
    assert version["Document"] == ALLOW_SECRETS

    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [group]
    assert [u["UserName"] for u in iam.get_group(GroupName=group)["Users"]] == [user]

    created = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT),
                              Description="the app")["Role"]
    assert created["RoleId"].startswith("AROA") and created["MaxSessionDuration"] == 3600
    assert created["AssumeRolePolicyDocument"] == TRUST_ACCOUNT
    iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=json.dumps(ALLOW_SECRETS))
    iam.attach_role_policy(RoleName=role, PolicyArn=policy["Arn"])
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["p"]
    assert iam.get_role(RoleName=role)["Role"]["Description"] == "the app"

    # DeleteConflict while referenced, then a clean teardown.
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_user(UserName=user)
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_policy(PolicyArn=policy["Arn"])
    iam.remove_user_from_group(GroupName=group, UserName=user)
    iam.detach_user_policy(UserName=user, PolicyArn=policy["Arn"])
    iam.delete_user_policy(UserName=user, PolicyName="inline")
    iam.delete_user(UserName=user)
    iam.detach_role_policy(RoleName=role, PolicyArn=policy["Arn"])
    iam.delete_role_policy(RoleName=role, PolicyName="p")
    iam.delete_role(RoleName=role)
    iam.delete_group(GroupName=group)
    iam.delete_policy(PolicyArn=policy["Arn"])


def test_assume_role_and_use_the_session(coffer, iam, sts, aws):
    role = name("worker")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=json.dumps(ALLOW_SECRETS))
    arn = f"arn:aws:iam::{coffer.account_id}:role/{role}"
    out = sts.assume_role(RoleArn=arn, RoleSessionName="s1", DurationSeconds=900)
    creds, user = out["Credentials"], out["AssumedRoleUser"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretAccessKey"]) == 40
    assert user["Arn"] == f"arn:aws:sts::{coffer.account_id}:assumed-role/{role}/s1"
    assert user["AssumedRoleId"].startswith("AROA") and user["AssumedRoleId"].endswith(":s1")

    session = client_for(coffer, "sts", creds["AccessKeyId"], creds["SecretAccessKey"],
                         creds["SessionToken"])
    me = session.get_caller_identity()
    assert (me["Arn"], me["UserId"], me["Account"]) == (user["Arn"], user["AssumedRoleId"],
                                                         coffer.account_id)

    # The same through the CLI.
    cli = aws.json("sts", "assume-role", "--role-arn", arn, "--role-session-name", "cli")
    env = {"AWS_ACCESS_KEY_ID": cli["Credentials"]["AccessKeyId"],
           "AWS_SECRET_ACCESS_KEY": cli["Credentials"]["SecretAccessKey"],
           "AWS_SESSION_TOKEN": cli["Credentials"]["SessionToken"]}
    assert aws.json("sts", "get-caller-identity", env=env)["Arn"].endswith(f"/{role}/cli")

    # A tampered token, a token for another key and no token at all are invalid tokens.
    raw = bytearray(base64.b64decode(creds["SessionToken"]))
    raw[len(raw) // 2] ^= 1
    tampered = base64.b64encode(bytes(raw)).decode()
    for key_id, token in [(creds["AccessKeyId"], tampered),
                          ("ASIA" + "A" * 16, creds["SessionToken"]),
                          (creds["AccessKeyId"], None)]:
        bad = client_for(coffer, "sts", key_id, creds["SecretAccessKey"], token)
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            bad.get_caller_identity()
        assert error_code(excinfo) == "InvalidClientTokenId"
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    # Not allowed / no such role: AccessDenied with AWS's message form.
    missing = f"arn:aws:iam::{coffer.account_id}:role/{name('nope')}"
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        sts.assume_role(RoleArn=missing, RoleSessionName="s0")
    assert error_code(excinfo) == "AccessDenied"
    assert excinfo.value.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{coffer.account_id}:user/admin is not authorized to perform: "
        f"sts:AssumeRole on resource: {missing}")
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        sts.assume_role(RoleArn=arn, RoleSessionName="s0", DurationSeconds=7200)
    assert error_code(excinfo) == "ValidationError"
    with pytest.raises(sts.exceptions.MalformedPolicyDocumentException):
        sts.assume_role(RoleArn=arn, RoleSessionName="s0", Policy="{not json")


def test_get_session_token_gives_a_user_session(coffer, iam, sm, unique_name, aws):
    user = name("session-user")
    arn = iam.create_user(UserName=user)["User"]["Arn"]
    secret = sm.create_secret(Name=unique_name("session"), SecretString="via session")
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                       "Resource": secret["ARN"]},
                      {"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    user_sts = client_for(coffer, "sts", key["AccessKeyId"], key["SecretAccessKey"])
    creds = user_sts.get_session_token(DurationSeconds=900)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["SecretAccessKey"]) == 40

    # The session is the user: same ARN, same permissions.
    session_args = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    me = client_for(coffer, "sts", *session_args).get_caller_identity()
    assert me["Arn"] == arn
    session_sm = client_for(coffer, "secretsmanager", *session_args)
    assert session_sm.get_secret_value(SecretId=secret["ARN"])["SecretString"] == "via session"
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        session_sm.list_secrets()
    assert excinfo.value.response["Error"]["Code"] == "AccessDeniedException"

    # Without MFA, such sessions cannot call IAM, nor GetSessionToken again (as on AWS).
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client_for(coffer, "iam", *session_args).get_user()
    assert error_code(excinfo) == "InvalidClientTokenId"
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client_for(coffer, "sts", *session_args).get_session_token()
    assert error_code(excinfo) == "AccessDenied"
    assert excinfo.value.response["Error"]["Message"] == (
        "Cannot call GetSessionToken with session credentials")
    # Out-of-range durations are validation errors.
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        user_sts.get_session_token(DurationSeconds=129601)
    assert error_code(excinfo) == "ValidationError"

    # The CLI, with the default duration (12 hours).
    env = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    out = aws.json("sts", "get-session-token", env=env)["Credentials"]
    assert out["AccessKeyId"].startswith("ASIA") and out["Expiration"]


def test_new_users_are_denied_iam_until_a_policy_allows(coffer, iam):
    user = name("carol")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    theirs = client_for(coffer, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        theirs.list_users()
    assert error_code(excinfo) == "AccessDenied"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    iam.put_user_policy(UserName=user, PolicyName="iam-read", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["iam:List*", "iam:Get*"], "Resource": "*"}]}))
    assert any(u["UserName"] == user for u in theirs.list_users()["Users"])
    assert theirs.get_user()["User"]["UserName"] == user


def test_error_shapes(coffer, iam):
    user = name("dave")
    iam.create_user(UserName=user)
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException) as excinfo:
        iam.create_user(UserName=user.upper())
    assert excinfo.value.response["Error"]["Message"] == f"User with name {user.upper()} already exists."
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    with pytest.raises(iam.exceptions.NoSuchEntityException) as excinfo:
        iam.get_user(UserName=name("ghost"))
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert excinfo.value.response["Error"]["Type"] == "Sender"
    iam.create_access_key(UserName=user)
    iam.create_access_key(UserName=user)
    with pytest.raises(iam.exceptions.LimitExceededException) as excinfo:
        iam.create_access_key(UserName=user)
    assert excinfo.value.response["Error"]["Message"] == "Cannot exceed quota for AccessKeysPerUser: 2"
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException) as excinfo:
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument="{not json")
    assert excinfo.value.response["Error"]["Message"] == "This policy contains invalid Json"
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}))
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        iam.get_policy(PolicyArn="arn:aws:iam::111122223333:policy/" + name("none"))
    assert error_code(excinfo) == "NoSuchEntity"


def test_iam_scope_region_must_be_served(coffer):
    # With a custom endpoint botocore signs IAM for the client's region; Coffer accepts
    # us-east-1 and the regions it serves, and refuses others as AWS does.
    other = coffer.client("iam", region_name="eu-west-1")
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        other.get_user()
    assert error_code(excinfo) == "SignatureDoesNotMatch"
    assert excinfo.value.response["Error"]["Message"] == (
        "Credential should be scoped to a valid region, not 'eu-west-1'. ")
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_no_secret_in_the_log(coffer, iam, sts):
    user = name("eve")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    role = name("logged")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{coffer.account_id}:role/{role}",
                            RoleSessionName="s0")["Credentials"]
    log = coffer.log()
    for secret in (key["SecretAccessKey"], creds["SecretAccessKey"], creds["SessionToken"]):
        assert secret not in log
