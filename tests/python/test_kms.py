"""KMS end to end with the unchanged `aws` CLI and boto3: keys and their metadata, the four ways
to name a key, aliases, Encrypt/Decrypt/ReEncrypt with and without encryption context, data
keys and random bytes, key states (disabled, pending deletion), rotation, tags, key policies
(the default one, the lock-out check, and their authority over IAM identity policies), AWS's
not-found messages, and no plaintext in the server's log.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest

from conftest import REGION, start_server, stop_and_check

# The CLI's exit code for a service error: v1 exits 255, v2 254.
SERVICE_ERROR_EXIT = (254, 255)
DAY = 24 * 60 * 60
ALIAS_PREFIX_MESSAGE = ('Alias must start with the prefix "alias/". Please see '
                        "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html")
DATA_KEY_SIZE_MESSAGE = "Please specify either number of bytes or key spec."
LOCKOUT_MESSAGE = "The new key policy will not allow you to update the key policy in the future."
INCORRECT_KEY_MESSAGE = ("The key ID in the request does not identify a CMK that can perform this "
                         "operation.")

# Every plaintext and data key this module handles, for the log check at the end.
HANDLED: list[bytes] = []


def secret_bytes(label: str) -> bytes:
    """A plaintext unique to this run (binary, so it survives no accidental text decoding)."""
    value = f"coffer-kms-{label}-{uuid.uuid4().hex}".encode() + b"\x00\xfe\n"
    HANDLED.append(value)
    return value


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def kms(coffer):
    return coffer.client("kms")


@pytest.fixture(scope="module")
def iam(coffer):
    return coffer.client("iam")


def key_arn(coffer, key_id: str) -> str:
    return f"arn:aws:kms:{REGION}:{coffer.account_id}:key/{key_id}"


def alias_arn(coffer, name: str) -> str:
    return f"arn:aws:kms:{REGION}:{coffer.account_id}:{name}"


def new_key(kms, **kwargs) -> dict:
    return kms.create_key(**kwargs)["KeyMetadata"]


def error_of(call) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a call that must fail."""
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        call()
    response = excinfo.value.response
    return (response["Error"]["Code"], response["Error"]["Message"],
            response["ResponseMetadata"]["HTTPStatusCode"])


def cli_error(aws, code: str, operation: str, message: str, *args: str) -> None:
    """Runs `aws *args`, which must fail with exactly this error line."""
    proc = aws.run(*args)
    assert proc.returncode in SERVICE_ERROR_EXIT, (proc.returncode, proc.stdout, proc.stderr)
    expected = f"An error occurred ({code}) when calling the {operation} operation: {message}"
    assert proc.stderr.strip() == expected.strip()


def cli_bytes(aws, command: str) -> bytes:
    """Runs a shell pipeline starting with the CLI (for `| base64 -d`) and returns its stdout."""
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", command], env=aws.env, cwd=aws.cwd,
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


# --------------------------------------------------------------------------------------------
# Keys, names and metadata
# --------------------------------------------------------------------------------------------

def test_create_key_metadata_is_aws_s(coffer, aws):
    before = time.time()
    meta = aws.json("kms", "create-key")["KeyMetadata"]
    key_id = meta.pop("KeyId")
    uuid.UUID(key_id)
    created = meta.pop("CreationDate")
    assert isinstance(created, (int, float)) and before - 5 <= created <= time.time() + 5
    assert meta == {
        "AWSAccountId": coffer.account_id,
        "Arn": key_arn(coffer, key_id),
        "Enabled": True,
        "Description": "",
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": "Enabled",
        "Origin": "AWS_KMS",
        "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": False,
    }

    described = aws.json("kms", "create-key", "--description", "for the ledger",
                         "--tags", "TagKey=team,TagValue=ledger")["KeyMetadata"]
    assert described["Description"] == "for the ledger"
    tags = aws.json("kms", "list-resource-tags", "--key-id", described["KeyId"])["Tags"]
    assert tags == [{"TagKey": "team", "TagValue": "ledger"}]

    listed = aws.json("kms", "list-keys")["Keys"]
    assert {"KeyId": key_id, "KeyArn": key_arn(coffer, key_id)} in listed


def test_unsupported_key_kinds(kms):
    code, message, _ = error_of(lambda: kms.create_key(KeySpec="RSA_2048"))
    assert (code, message) == ("ValidationException", "You must specify a KeyUsage value for all "
                               "KMS keys except for symmetric encryption keys.")
    for kwargs in ({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"},
                   {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"},
                   {"MultiRegion": True},
                   {"Origin": "EXTERNAL"}):
        code, _, status = error_of(lambda: kms.create_key(**kwargs))
        assert (code, status) == ("UnsupportedOperationException", 400), kwargs


def test_describe_key_by_id_arn_alias_and_alias_arn(coffer, aws, kms, unique_name):
    key = new_key(kms, Description="four names")
    alias = "alias/" + unique_name("describe")
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    for name in (key["KeyId"], key["Arn"], alias, alias_arn(coffer, alias)):
        meta = aws.json("kms", "describe-key", "--key-id", name)["KeyMetadata"]
        assert (meta["KeyId"], meta["Arn"], meta["Description"]) == (
            key["KeyId"], key["Arn"], "four names"), name


def test_unknown_and_malformed_key_ids_are_not_found(coffer, aws, kms, unique_name):
    missing = str(uuid.uuid4())
    cli_error(aws, "NotFoundException", "DescribeKey",
              f"Key '{key_arn(coffer, missing)}' does not exist",
              "kms", "describe-key", "--key-id", missing)
    assert error_of(lambda: kms.describe_key(KeyId="not-a-key-id")) == (
        "NotFoundException", "Invalid keyId 'not-a-key-id'", 400)
    alias = "alias/" + unique_name("nobody")
    assert error_of(lambda: kms.describe_key(KeyId=alias)) == (
        "NotFoundException", f"Alias {alias_arn(coffer, alias)} is not found.", 400)
    plaintext = secret_bytes("unknown-alias")
    assert error_of(lambda: kms.encrypt(KeyId=alias, Plaintext=plaintext)) == (
        "NotFoundException", f"Alias {alias_arn(coffer, alias)} is not found.", 400)
    # Management operations take a key id or ARN, not an alias.
    assert error_of(lambda: kms.disable_key(KeyId=alias)) == (
        "NotFoundException", f"Invalid keyId '{alias}'", 400)


# --------------------------------------------------------------------------------------------
# Aliases
# --------------------------------------------------------------------------------------------

def test_aliases(coffer, aws, kms, unique_name):
    first, second = new_key(kms), new_key(kms)
    alias = "alias/" + unique_name("app")
    proc = aws.run("kms", "create-alias", "--alias-name", alias, "--target-key-id", first["KeyId"],
                   check=True)
    assert proc.stdout.strip() == ""

    listed = aws.json("kms", "list-aliases", "--key-id", first["KeyId"])["Aliases"]
    assert len(listed) == 1
    entry = listed[0]
    assert (entry["AliasName"], entry["AliasArn"], entry["TargetKeyId"]) == (
        alias, alias_arn(coffer, alias), first["KeyId"])
    assert isinstance(entry["CreationDate"], (int, float))
    assert isinstance(entry["LastUpdatedDate"], (int, float))
    everything = kms.list_aliases(Limit=1000)
    assert everything["Truncated"] is False
    names = [a["AliasName"] for a in everything["Aliases"]]
    assert alias in names and "alias/aws/secretsmanager" in names
    assert names == sorted(names)

    cli_error(aws, "AlreadyExistsException", "CreateAlias",
              f"An alias with the name {alias_arn(coffer, alias)} already exists",
              "kms", "create-alias", "--alias-name", alias, "--target-key-id", second["KeyId"])
    cli_error(aws, "ValidationException", "CreateAlias", ALIAS_PREFIX_MESSAGE,
              "kms", "create-alias", "--alias-name", "no-prefix", "--target-key-id",
              first["KeyId"])
    cli_error(aws, "NotAuthorizedException", "CreateAlias", "",
              "kms", "create-alias", "--alias-name", "alias/aws/mine", "--target-key-id",
              first["KeyId"])
    assert error_of(lambda: kms.update_alias(AliasName="alias/aws/secretsmanager",
                                             TargetKeyId=first["KeyId"])) == (
        "NotAuthorizedException", "", 400)
    assert error_of(lambda: kms.delete_alias(AliasName="alias/aws/secretsmanager")) == (
        "NotAuthorizedException", "", 400)

    aws.run("kms", "update-alias", "--alias-name", alias, "--target-key-id", second["KeyId"],
            check=True)
    assert aws.json("kms", "describe-key", "--key-id", alias)["KeyMetadata"]["KeyId"] == (
        second["KeyId"])
    assert aws.json("kms", "list-aliases", "--key-id", first["KeyId"])["Aliases"] == []

    aws.run("kms", "delete-alias", "--alias-name", alias, check=True)
    assert aws.json("kms", "list-aliases", "--key-id", second["KeyId"])["Aliases"] == []
    cli_error(aws, "NotFoundException", "DeleteAlias",
              f"Alias {alias_arn(coffer, alias)} is not found.",
              "kms", "delete-alias", "--alias-name", alias)


def test_the_aws_managed_alias_is_listed_before_its_key_exists(tmp_path):
    server = start_server(tmp_path / "fresh")
    try:
        kms = server.client("kms")
        listed = kms.list_aliases()
        assert listed["Truncated"] is False
        assert listed["Aliases"] == [{
            "AliasName": "alias/aws/secretsmanager",
            "AliasArn": f"arn:aws:kms:{REGION}:{server.account_id}:alias/aws/secretsmanager",
        }]
        keys = kms.list_keys()
        assert (keys["Keys"], keys["Truncated"]) == ([], False)
    finally:
        stop_and_check(server)


# --------------------------------------------------------------------------------------------
# Encrypt, Decrypt, ReEncrypt, data keys, random bytes
# --------------------------------------------------------------------------------------------

def test_encrypt_decrypt_round_trips_with_the_cli(coffer, aws, kms, unique_name, tmp_path: Path):
    key = new_key(kms)
    other = new_key(kms)
    alias = "alias/" + unique_name("crypto")
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    plaintext = secret_bytes("cli")
    plain_file = tmp_path / "plain.bin"
    plain_file.write_bytes(plaintext)

    for key_name, context in ((key["KeyId"], None), (alias, "purpose=test,app=coffer")):
        extra = ["--encryption-context", context] if context else []
        encrypted = aws.json("kms", "encrypt", "--key-id", key_name,
                             "--plaintext", f"fileb://{plain_file}", *extra)
        assert encrypted["KeyId"] == key["Arn"]
        assert encrypted["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
        blob = tmp_path / "cipher.bin"
        blob.write_bytes(base64.b64decode(encrypted["CiphertextBlob"]))
        assert plaintext not in blob.read_bytes()

        decrypted = cli_bytes(aws, f"aws kms decrypt --ciphertext-blob fileb://{blob} "
                                   f"{' '.join(extra)} --query Plaintext --output text "
                                   "| base64 -d")
        assert decrypted == plaintext
        # The key named explicitly, by ARN.
        got = aws.json("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}",
                       "--key-id", key["Arn"], *extra)
        assert (got["KeyId"], got["EncryptionAlgorithm"]) == (key["Arn"], "SYMMETRIC_DEFAULT")
        assert base64.b64decode(got["Plaintext"]) == plaintext

    # The encryption context is bound: a wrong, missing or extra pair does not decrypt.
    for context in ("purpose=prod,app=coffer", None, "purpose=test,app=coffer,x=y"):
        extra = ["--encryption-context", context] if context else []
        cli_error(aws, "InvalidCiphertextException", "Decrypt", "",
                  "kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}", *extra)
    cli_error(aws, "IncorrectKeyException", "Decrypt", INCORRECT_KEY_MESSAGE,
              "kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}",
              "--encryption-context", "purpose=test,app=coffer", "--key-id", other["KeyId"])
    corrupted = bytearray(blob.read_bytes())
    corrupted[-1] ^= 1
    assert error_of(lambda: kms.decrypt(CiphertextBlob=bytes(corrupted), EncryptionContext={
        "purpose": "test", "app": "coffer"})) == ("InvalidCiphertextException", "", 400)
    assert error_of(lambda: kms.decrypt(CiphertextBlob=b"not a ciphertext")) == (
        "InvalidCiphertextException", "", 400)


def test_re_encrypt_moves_a_ciphertext_to_another_key(kms, unique_name):
    source, destination = new_key(kms), new_key(kms)
    alias = "alias/" + unique_name("destination")
    kms.create_alias(AliasName=alias, TargetKeyId=destination["KeyId"])
    plaintext = secret_bytes("re-encrypt")
    blob = kms.encrypt(KeyId=source["KeyId"], Plaintext=plaintext,
                       EncryptionContext={"stage": "one"})["CiphertextBlob"]

    moved = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext={"stage": "one"},
                           DestinationKeyId=alias, DestinationEncryptionContext={"stage": "two"})
    assert (moved["SourceKeyId"], moved["KeyId"]) == (source["Arn"], destination["Arn"])
    assert moved["SourceEncryptionAlgorithm"] == moved["DestinationEncryptionAlgorithm"] == (
        "SYMMETRIC_DEFAULT")
    opened = kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"stage": "two"})
    assert (opened["Plaintext"], opened["KeyId"]) == (plaintext, destination["Arn"])
    assert error_of(lambda: kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=alias))[0] == (
        "InvalidCiphertextException")


def test_data_keys_and_random_bytes(aws, kms):
    key = new_key(kms)
    data_key = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256",
                                     EncryptionContext={"purpose": "data"})
    HANDLED.append(data_key["Plaintext"])
    assert len(data_key["Plaintext"]) == 32 and data_key["KeyId"] == key["Arn"]
    opened = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"],
                         EncryptionContext={"purpose": "data"})
    assert opened["Plaintext"] == data_key["Plaintext"]

    by_cli = cli_bytes(aws, f"aws kms generate-data-key --key-id {key['KeyId']} "
                            "--key-spec AES_256 --query Plaintext --output text | base64 -d")
    HANDLED.append(by_cli)
    assert len(by_cli) == 32
    assert len(kms.generate_data_key(KeyId=key["Arn"], KeySpec="AES_128")["Plaintext"]) == 16
    assert len(kms.generate_data_key(KeyId=key["Arn"], NumberOfBytes=64)["Plaintext"]) == 64

    for kwargs in ({}, {"KeySpec": "AES_256", "NumberOfBytes": 32}):
        assert error_of(lambda: kms.generate_data_key(KeyId=key["KeyId"], **kwargs)) == (
            "ValidationException", DATA_KEY_SIZE_MESSAGE, 400)

    sealed = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_128")
    assert "Plaintext" not in sealed and sealed["KeyId"] == key["Arn"]
    assert len(kms.decrypt(CiphertextBlob=sealed["CiphertextBlob"])["Plaintext"]) == 16
    assert error_of(lambda: kms.generate_data_key_without_plaintext(KeyId=key["KeyId"])) == (
        "ValidationException", DATA_KEY_SIZE_MESSAGE, 400)

    random = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    HANDLED.append(random)
    assert len(random) == 32 and random != kms.generate_random(NumberOfBytes=32)["Plaintext"]
    cli_error(aws, "ValidationException", "GenerateRandom",
              "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy "
              "constraint: Member must have value less than or equal to 1024",
              "kms", "generate-random", "--number-of-bytes", "1025")
    assert error_of(lambda: kms.generate_random()) == (
        "ValidationException", "NumberOfBytes is required.", 400)


# --------------------------------------------------------------------------------------------
# Key states
# --------------------------------------------------------------------------------------------

def test_disabled_keys_neither_encrypt_nor_decrypt(aws, kms):
    key = new_key(kms)
    plaintext = secret_bytes("disabled")
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext)["CiphertextBlob"]

    aws.run("kms", "disable-key", "--key-id", key["KeyId"], check=True)
    disabled = f"{key['Arn']} is disabled."
    assert error_of(lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext)) == (
        "DisabledException", disabled, 400)
    assert error_of(lambda: kms.decrypt(CiphertextBlob=blob)) == (
        "DisabledException", disabled, 400)
    assert error_of(lambda: kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")) == (
        "DisabledException", disabled, 400)
    meta = aws.json("kms", "describe-key", "--key-id", key["KeyId"])["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"]) == ("Disabled", False)

    aws.run("kms", "enable-key", "--key-id", key["KeyId"], check=True)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == plaintext
    assert kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext)["KeyId"] == key["Arn"]


def test_scheduled_deletion_and_its_cancellation(aws, kms):
    key = new_key(kms)
    plaintext = secret_bytes("pending")
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext)["CiphertextBlob"]

    cli_error(aws, "ValidationException", "ScheduleKeyDeletion",
              "PendingWindowInDays should be between 7 and 30, but it is 6",
              "kms", "schedule-key-deletion", "--key-id", key["KeyId"],
              "--pending-window-in-days", "6")
    now = time.time()
    scheduled = aws.json("kms", "schedule-key-deletion", "--key-id", key["KeyId"],
                         "--pending-window-in-days", "7")
    assert (scheduled["KeyId"], scheduled["KeyState"], scheduled["PendingWindowInDays"]) == (
        key["Arn"], "PendingDeletion", 7)
    assert abs(scheduled["DeletionDate"] - (now + 7 * DAY)) < 300

    pending = f"{key['Arn']} is pending deletion."
    assert error_of(lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext)) == (
        "KMSInvalidStateException", pending, 400)
    assert error_of(lambda: kms.decrypt(CiphertextBlob=blob)) == (
        "KMSInvalidStateException", pending, 400)
    assert error_of(lambda: kms.enable_key(KeyId=key["KeyId"])) == (
        "KMSInvalidStateException", pending, 400)
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"]) == ("PendingDeletion", False)
    assert "DeletionDate" in meta

    cancelled = aws.json("kms", "cancel-key-deletion", "--key-id", key["KeyId"])
    assert cancelled == {"KeyId": key["Arn"]}
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"]) == ("Disabled", False)
    assert "DeletionDate" not in meta
    kms.enable_key(KeyId=key["KeyId"])
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == plaintext


def test_rotation_keeps_old_ciphertexts_readable(aws, kms):
    key = new_key(kms)
    before = secret_bytes("before-rotation")
    old_blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=before)["CiphertextBlob"]

    status = aws.json("kms", "get-key-rotation-status", "--key-id", key["KeyId"])
    assert status == {"KeyRotationEnabled": False, "KeyId": key["KeyId"]}
    aws.run("kms", "enable-key-rotation", "--key-id", key["KeyId"], check=True)
    status = kms.get_key_rotation_status(KeyId=key["Arn"])
    assert (status["KeyRotationEnabled"], status["RotationPeriodInDays"]) == (True, 365)
    assert "NextRotationDate" in status

    rotated = aws.json("kms", "rotate-key-on-demand", "--key-id", key["KeyId"])
    assert rotated == {"KeyId": key["KeyId"]}
    after = secret_bytes("after-rotation")
    new_blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=after)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=old_blob)["Plaintext"] == before
    assert kms.decrypt(CiphertextBlob=new_blob)["Plaintext"] == after

    kms.disable_key_rotation(KeyId=key["KeyId"])
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False
    assert error_of(lambda: kms.enable_key_rotation(KeyId=key["KeyId"],
                                                    RotationPeriodInDays=2561))[0] == (
        "ValidationException")


# --------------------------------------------------------------------------------------------
# Tags and key policies
# --------------------------------------------------------------------------------------------

def test_tags(aws, kms):
    key = new_key(kms)
    aws.run("kms", "tag-resource", "--key-id", key["KeyId"], "--tags",
            '[{"TagKey": "team", "TagValue": "blue"}, {"TagKey": "env", "TagValue": "prod"}]',
            check=True)
    listed = kms.list_resource_tags(KeyId=key["KeyId"])
    assert listed["Tags"] == [{"TagKey": "env", "TagValue": "prod"},
                              {"TagKey": "team", "TagValue": "blue"}]
    assert listed["Truncated"] is False
    aws.run("kms", "untag-resource", "--key-id", key["Arn"], "--tag-keys", "team", check=True)
    assert aws.json("kms", "list-resource-tags", "--key-id", key["KeyId"])["Tags"] == [
        {"TagKey": "env", "TagValue": "prod"}]
    assert error_of(lambda: kms.tag_resource(KeyId=key["KeyId"], Tags=[
        {"TagKey": "aws:owner", "TagValue": "x"}])) == (
        "TagException", "Tags beginning with aws: are reserved", 400)


def test_key_policy_default_and_lockout_check(coffer, aws, kms, tmp_path: Path):
    key = new_key(kms)
    got = aws.json("kms", "get-key-policy", "--key-id", key["KeyId"], "--policy-name", "default")
    assert got["PolicyName"] == "default"
    assert json.loads(got["Policy"]) == {
        "Version": "2012-10-17", "Id": "key-default-1", "Statement": [{
            "Sid": "Enable IAM User Permissions", "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{coffer.account_id}:root"},
            "Action": "kms:*", "Resource": "*"}]}

    # Use of the key, but no more PutKeyPolicy for anyone.
    narrower = policy({"Effect": "Allow",
                       "Principal": {"AWS": f"arn:aws:iam::{coffer.account_id}:root"},
                       "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey",
                                  "kms:GetKeyPolicy"],
                       "Resource": "*"})
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(narrower)
    cli_error(aws, "MalformedPolicyDocumentException", "PutKeyPolicy", LOCKOUT_MESSAGE,
              "kms", "put-key-policy", "--key-id", key["KeyId"], "--policy-name", "default",
              "--policy", f"file://{policy_file}")
    assert kms.get_key_policy(KeyId=key["KeyId"])["Policy"] == got["Policy"]

    aws.run("kms", "put-key-policy", "--key-id", key["KeyId"], "--policy-name", "default",
            "--policy", f"file://{policy_file}", "--bypass-policy-lockout-safety-check",
            check=True)
    assert kms.get_key_policy(KeyId=key["KeyId"])["Policy"] == narrower
    code, message, _ = error_of(lambda: kms.put_key_policy(
        KeyId=key["KeyId"], PolicyName="default", Policy=got["Policy"]))
    assert code == "AccessDeniedException" and "kms:PutKeyPolicy" in message
    plaintext = secret_bytes("narrow-policy")
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == plaintext


def test_the_key_policy_is_authoritative(coffer, kms, iam):
    admin_arn = coffer.client("sts").get_caller_identity()["Arn"]
    user = f"kms-user-{uuid.uuid4().hex[:10]}"
    user_arn = iam.create_user(UserName=user)["User"]["Arn"]
    iam.put_user_policy(UserName=user, PolicyName="kms-all", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}))
    access = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = coffer.client("kms", aws_access_key_id=access["AccessKeyId"],
                            aws_secret_access_key=access["SecretAccessKey"])

    # A key whose policy names the administrator only: neither the user nor the account.
    private = new_key(kms, Policy=policy({"Effect": "Allow", "Principal": {"AWS": admin_arn},
                                          "Action": "kms:*", "Resource": "*"}))
    plaintext = secret_bytes("authority")
    for call, action in ((lambda: as_user.describe_key(KeyId=private["KeyId"]), "DescribeKey"),
                         (lambda: as_user.encrypt(KeyId=private["Arn"], Plaintext=plaintext),
                          "Encrypt")):
        code, message, status = error_of(call)
        assert (code, status) == ("AccessDeniedException", 400)
        assert message.startswith(
            f"User: {user_arn} is not authorized to perform: kms:{action} on resource: "
            f"{private['Arn']}"), message
    assert kms.describe_key(KeyId=private["KeyId"])["KeyMetadata"]["Enabled"] is True

    # The default policy delegates to the account, so the identity policy counts.
    shared = new_key(kms)
    assert as_user.describe_key(KeyId=shared["KeyId"])["KeyMetadata"]["Arn"] == shared["Arn"]
    blob = as_user.encrypt(KeyId=shared["KeyId"], Plaintext=plaintext)["CiphertextBlob"]
    assert as_user.decrypt(CiphertextBlob=blob)["Plaintext"] == plaintext

    # Without an identity policy, the account's delegation grants nothing.
    iam.delete_user_policy(UserName=user, PolicyName="kms-all")
    code, message, _ = error_of(lambda: as_user.describe_key(KeyId=shared["KeyId"]))
    assert code == "AccessDeniedException" and "kms:DescribeKey" in message


# --------------------------------------------------------------------------------------------
# Secrets Manager on KMS keys
# --------------------------------------------------------------------------------------------

def test_secrets_on_a_customer_managed_key_follow_its_state(coffer, aws, kms, unique_name):
    key = json.loads(aws.run("kms", "create-key", "--description", "secrets key",
                             check=True).stdout)["KeyMetadata"]
    alias = f"alias/{uuid.uuid4().hex[:12]}"
    aws.run("kms", "create-alias", "--alias-name", alias, "--target-key-id", key["KeyId"],
            check=True)
    name = unique_name("on-cmk")
    aws.run("secretsmanager", "create-secret", "--name", name, "--secret-string", "cmk value",
            "--kms-key-id", alias, check=True)
    described = aws.json("secretsmanager", "describe-secret", "--secret-id", name)
    assert described["KmsKeyId"] == key["Arn"]
    versions = aws.json("secretsmanager", "list-secret-version-ids", "--secret-id", name)
    assert versions["Versions"][0]["KmsKeyIds"] == [key["Arn"]]

    def read():
        return aws.run("secretsmanager", "get-secret-value", "--secret-id", name,
                       "--query", "SecretString", "--output", "text")

    assert read().stdout.strip() == "cmk value"
    aws.run("kms", "disable-key", "--key-id", key["KeyId"], check=True)
    failed = read()
    assert failed.returncode != 0
    assert "(DecryptionFailure) when calling the GetSecretValue operation" in failed.stderr
    assert f"{key['Arn']} is disabled." in failed.stderr
    failed = aws.run("secretsmanager", "put-secret-value", "--secret-id", name,
                     "--secret-string", "next")
    assert failed.returncode != 0 and "(EncryptionFailure)" in failed.stderr
    aws.run("kms", "enable-key", "--key-id", key["KeyId"], check=True)
    assert read().stdout.strip() == "cmk value"

    aws.run("kms", "schedule-key-deletion", "--key-id", key["KeyId"],
            "--pending-window-in-days", "7", check=True)
    failed = read()
    assert failed.returncode != 0 and f"{key['Arn']} is pending deletion." in failed.stderr
    aws.run("kms", "cancel-key-deletion", "--key-id", key["KeyId"], check=True)
    aws.run("kms", "enable-key", "--key-id", key["KeyId"], check=True)
    assert read().stdout.strip() == "cmk value"

    # Secrets without a key use aws/secretsmanager, which DescribeSecret does not name.
    plain = unique_name("on-default")
    aws.run("secretsmanager", "create-secret", "--name", plain, "--secret-string", "d",
            check=True)
    assert "KmsKeyId" not in aws.json("secretsmanager", "describe-secret", "--secret-id", plain)
    managed = kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]
    assert managed["KeyManager"] == "AWS"
    # An unknown key is refused when the secret is created.
    failed = aws.run("secretsmanager", "create-secret", "--name", unique_name("no-key"),
                     "--secret-string", "x", "--kms-key-id", "alias/does-not-exist")
    assert failed.returncode != 0 and "(EncryptionFailure)" in failed.stderr


def test_reading_a_secret_needs_kms_decrypt_on_its_customer_managed_key(coffer, kms, iam,
                                                                         unique_name):
    key = new_key(kms)
    sm = coffer.client()
    name = unique_name("needs-decrypt")
    sm.create_secret(Name=name, SecretString="guarded by kms", KmsKeyId=key["Arn"])
    user = f"reader-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
        {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": key["Arn"]}))
    access = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = coffer.client(aws_access_key_id=access["AccessKeyId"],
                            aws_secret_access_key=access["SecretAccessKey"])
    code, message, _ = error_of(lambda: as_user.get_secret_value(SecretId=name))
    assert (code, message) == ("AccessDeniedException", "Access to KMS is not allowed")
    # Allowed kms:Decrypt (the key's default policy delegates to IAM), the user reads it.
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=policy(
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "kms:Decrypt"],
         "Resource": "*"}))
    assert as_user.get_secret_value(SecretId=name)["SecretString"] == "guarded by kms"


# --------------------------------------------------------------------------------------------
# Background maintenance, on a server whose clock the test moves
# --------------------------------------------------------------------------------------------

def test_due_rotations_and_deletions_happen_in_the_background(tmp_path, monkeypatch):
    clock_file = tmp_path / "clock-offset-ms"
    clock_file.write_text("0")
    server = start_server(tmp_path / "server", extra_args=("--deletion-purge-interval", "1"),
                          extra_env={"COFFER_TEST_CLOCK_FILE": str(clock_file)})
    try:
        if "test clock" not in server.log():
            pytest.skip("this coffer binary has no test clock (a release build)")
        kms = server.client("kms")
        doomed = new_key(kms)
        kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)
        rotating = new_key(kms)
        kms.enable_key_rotation(KeyId=rotating["KeyId"], RotationPeriodInDays=90)
        first_due = kms.get_key_rotation_status(KeyId=rotating["KeyId"])["NextRotationDate"]
        plaintext = secret_bytes("maintenance")
        blob = kms.encrypt(KeyId=rotating["KeyId"], Plaintext=plaintext)["CiphertextBlob"]

        # 91 days on (the client signs with the moved time too, to stay inside the skew window).
        days = 91
        clock_file.write_text(str(days * DAY * 1000))
        real_now = botocore.auth.get_current_datetime
        monkeypatch.setattr(botocore.auth, "get_current_datetime",
                            lambda *a, **k: real_now(*a, **k) + dt.timedelta(days=days))
        deadline = time.monotonic() + 15
        while "deleted=1" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert error_of(lambda: kms.describe_key(KeyId=doomed["KeyId"])) == (
            "NotFoundException", f"Key '{doomed['Arn']}' does not exist", 400)
        status = kms.get_key_rotation_status(KeyId=rotating["KeyId"])
        assert status["NextRotationDate"] >= first_due + dt.timedelta(days=89)
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == plaintext
        assert "rotated=1" in server.log()
        monkeypatch.undo()
    finally:
        stop_and_check(server)


# --------------------------------------------------------------------------------------------
# The wire: signing scope and operations outside the subset
# --------------------------------------------------------------------------------------------

def raw_kms(coffer, target: str, body: dict, *, service: str = "kms") -> tuple[int, dict | None]:
    """A hand-signed KMS request (signed for `service`): (HTTP status, parsed body or None for
    an empty one)."""
    data = json.dumps(body).encode()
    request = botocore.awsrequest.AWSRequest(
        method="POST", url=coffer.endpoint + "/", data=data,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target})
    credentials = botocore.credentials.Credentials(coffer.access_key_id, coffer.secret_access_key)
    botocore.auth.SigV4Auth(credentials, service, coffer.region).add_auth(request)
    prepared = request.prepare()
    http_request = urllib.request.Request(prepared.url, data=data, method="POST",
                                          headers=dict(prepared.headers.items()))
    try:
        with urllib.request.urlopen(http_request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_signing_scope_and_unknown_operations(coffer):
    status, body = raw_kms(coffer, "TrentService.ListKeys", {})
    assert status == 200 and body["Truncated"] in (True, False)
    assert raw_kms(coffer, "TrentService.ListKeys", {}, service="secretsmanager") == (400, {
        "__type": "InvalidSignatureException",
        "message": "Credential should be scoped to correct service: 'kms'. "})
    for target in ("TrentService.CreateGrant", "TrentService.Sign", "TrentService.listKeys"):
        status, body = raw_kms(coffer, target, {})
        assert (status, body["__type"]) == (400, "UnknownOperationException"), target
    # Operations without an output answer with an empty body, as AWS does.
    key_id = raw_kms(coffer, "TrentService.CreateKey", {})[1]["KeyMetadata"]["KeyId"]
    assert raw_kms(coffer, "TrentService.DisableKey", {"KeyId": key_id}) == (200, None)


# --------------------------------------------------------------------------------------------
# Nothing in the log
# --------------------------------------------------------------------------------------------

def test_no_plaintext_in_the_log(coffer, kms):
    key = new_key(kms)
    plaintext = secret_bytes("log")
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext,
                       EncryptionContext={"purpose": "log"})["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "log"})[
        "Plaintext"] == plaintext
    HANDLED.append(kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")["Plaintext"])
    error_of(lambda: kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "other"}))

    log = coffer.log()
    assert "TrentService" in log or "Encrypt" in log, "the log should record KMS requests"
    for value in HANDLED:
        for form in (value, base64.b64encode(value)):
            text = form.decode("latin-1")
            # The binary plaintexts carry a unique text prefix; check it and the full value.
            assert text not in log
            if text.startswith("coffer-kms-"):
                assert text.split("\x00")[0] not in log
