"""The audit trail end to end: one CloudTrail-format record per call (successes, AccessDenied and
authentication failures included), LookupEvents through boto3 and the `aws` CLI, no secret value
anywhere in the trail, its sinks or the logs, and `coffer audit verify` catching each kind of
tampering.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import sqlite3
import struct
import subprocess
import time
import uuid

import botocore.exceptions
import lz4.block
import pytest

from conftest import base_env, coffer_bin, start_server, stop_and_check


def lookup(server, key: str, value: str, expect: int | None = None, timeout: float = 5.0) -> list:
    """Events matching one lookup attribute; waits for `expect` events (reads are queued)."""
    trail = server.client("cloudtrail")
    deadline = time.monotonic() + timeout
    while True:
        events = []
        kwargs = {"LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}]}
        for page in trail.get_paginator("lookup_events").paginate(**kwargs):
            events.extend(page["Events"])
        if expect is None or len(events) >= expect or time.monotonic() > deadline:
            return events
        time.sleep(0.05)


def records(events: list) -> list[dict]:
    return [json.loads(e["CloudTrailEvent"]) for e in events]


def by_name(events: list) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for record in records(events):
        out.setdefault(record["eventName"], []).append(record)
    return out


def test_each_call_is_recorded_once_with_cloudtrails_fields(coffer, sm, unique_name):
    name = unique_name("audited")
    created = sm.create_secret(Name=name, SecretString="audited value 1")
    arn = created["ARN"]
    got = sm.get_secret_value(SecretId=name)
    sm.put_secret_value(SecretId=arn, SecretString="audited value 2")
    sm.describe_secret(SecretId=arn)
    sm.tag_resource(SecretId=arn, Tags=[{"Key": "team", "Value": "audit"}])
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.get_secret_value(SecretId=arn, VersionId=str(uuid.uuid4()))
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)

    events = lookup(coffer, "ResourceName", arn, expect=7)
    names = by_name(events)
    assert {k: len(v) for k, v in names.items()} == {
        "CreateSecret": 1, "GetSecretValue": 2, "PutSecretValue": 1, "DescribeSecret": 1,
        "TagResource": 1, "DeleteSecret": 1}
    assert events == sorted(events, key=lambda e: e["EventTime"], reverse=True)
    read = next(r for r in names["GetSecretValue"] if "errorCode" not in r)
    assert read["requestID"] == got["ResponseMetadata"]["RequestId"]
    assert read["eventSource"] == "secretsmanager.amazonaws.com"
    assert read["readOnly"] is True and read["responseElements"] is None
    assert read["userIdentity"]["type"] == "IAMUser"
    assert read["userIdentity"]["arn"] == f"arn:aws:iam::{coffer.account_id}:user/admin"
    assert read["userIdentity"]["accessKeyId"] == coffer.access_key_id
    assert read["userIdentity"]["principalId"].startswith("AIDA")
    assert read["resources"] == [{"accountId": coffer.account_id,
                                  "type": "AWS::SecretsManager::Secret", "ARN": arn}]
    assert read["requestParameters"] == {"secretId": name}
    for field in ("eventVersion", "eventTime", "awsRegion", "sourceIPAddress", "userAgent",
                  "eventID", "eventType", "managementEvent", "recipientAccountId",
                  "eventCategory"):
        assert field in read, field
    assert read["eventType"] == "AwsApiCall" and read["recipientAccountId"] == coffer.account_id
    failed = next(r for r in names["GetSecretValue"] if "errorCode" in r)
    assert failed["errorCode"] == "ResourceNotFoundException"
    assert failed["errorMessage"]
    put = names["PutSecretValue"][0]
    assert put["readOnly"] is False
    assert "secretString" not in put["requestParameters"]
    assert put["requestParameters"]["secretId"] == arn
    summary = next(e for e in events if e["EventName"] == "PutSecretValue")
    assert summary["ReadOnly"] == "false" and summary["Username"] == "admin"
    assert summary["AccessKeyId"] == coffer.access_key_id
    assert summary["Resources"] == [{"ResourceType": "AWS::SecretsManager::Secret",
                                     "ResourceName": arn}]


def test_denied_and_unauthenticated_calls_are_recorded(coffer, sm, unique_name):
    iam = coffer.client("iam")
    user = f"audit-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    secret = sm.create_secret(Name=unique_name("denied"), SecretString="x")
    as_user = coffer.client(aws_access_key_id=key["AccessKeyId"],
                            aws_secret_access_key=key["SecretAccessKey"])
    with pytest.raises(botocore.exceptions.ClientError):
        as_user.get_secret_value(SecretId=secret["ARN"])
    denied = records(lookup(coffer, "Username", user, expect=1))
    assert len(denied) == 1
    assert denied[0]["errorCode"] == "AccessDenied"
    assert "is not authorized to perform: secretsmanager:GetSecretValue" in denied[0]["errorMessage"]
    assert denied[0]["userIdentity"]["userName"] == user

    wrong = coffer.client(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key="x" * 40)
    with pytest.raises(botocore.exceptions.ClientError):
        wrong.list_secrets()
    unauthenticated = [r for r in records(lookup(coffer, "AccessKeyId", key["AccessKeyId"], expect=2))
                       if r["userIdentity"]["type"] == "Unknown"]
    assert len(unauthenticated) == 1
    assert unauthenticated[0]["errorCode"] == "InvalidSignatureException"
    assert unauthenticated[0]["eventName"] == "ListSecrets"


def test_batch_get_records_each_secret_read(coffer, sm, unique_name):
    a = sm.create_secret(Name=unique_name("batch-a"), SecretString="a")
    b = sm.create_secret(Name=unique_name("batch-b"), SecretString="b")
    sm.batch_get_secret_value(SecretIdList=[a["ARN"], b["ARN"]])
    for arn in (a["ARN"], b["ARN"]):
        reads = [r for r in records(lookup(coffer, "ResourceName", arn, expect=2))
                 if r["eventName"] == "GetSecretValue"]
        assert len(reads) == 1


def test_lookup_events_with_the_cli(coffer, sm, aws, unique_name):
    name = unique_name("cli-lookup")
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    for _ in range(3):
        sm.get_secret_value(SecretId=arn)
    lookup(coffer, "ResourceName", arn, expect=4)
    out = aws.json("cloudtrail", "lookup-events", "--lookup-attributes",
                   f"AttributeKey=ResourceName,AttributeValue={arn}")
    assert [e["EventName"] for e in out["Events"]] == ["GetSecretValue"] * 3 + ["CreateSecret"]
    out = aws.json("cloudtrail", "lookup-events", "--lookup-attributes",
                   "AttributeKey=EventName,AttributeValue=GetSecretValue", "--max-items", "2")
    assert len(out["Events"]) == 2 and all(e["EventName"] == "GetSecretValue" for e in out["Events"])
    assert "NextToken" in out
    out = aws.json("cloudtrail", "lookup-events", "--lookup-attributes",
                   "AttributeKey=EventSource,AttributeValue=secretsmanager.amazonaws.com",
                   "--start-time", str(int(time.time()) - 600), "--end-time", str(int(time.time()) + 5),
                   "--max-results", "5")
    assert 0 < len(out["Events"]) <= 5 and "NextToken" in out
    assert all(e["EventSource"] == "secretsmanager.amazonaws.com" for e in out["Events"])
    out = aws.json("cloudtrail", "lookup-events", "--lookup-attributes",
                   "AttributeKey=ReadOnly,AttributeValue=false", "--max-items", "3")
    assert all(e["ReadOnly"] == "false" for e in out["Events"])
    failed = aws.run("cloudtrail", "lookup-events", "--start-time", "2030-01-02",
                     "--end-time", "2030-01-01")
    assert failed.returncode != 0 and "InvalidTimeRangeException" in failed.stderr
    failed = aws.run("cloudtrail", "lookup-events", "--lookup-attributes",
                     "AttributeKey=EventName,AttributeValue=a", "AttributeKey=Username,AttributeValue=b")
    assert failed.returncode != 0 and "InvalidLookupAttributesException" in failed.stderr


# --------------------------------------------------------------------------------------------
# No secret anywhere: the trail, its sinks, the logs
# --------------------------------------------------------------------------------------------

def test_no_secret_value_reaches_the_trail_its_sinks_or_the_logs(tmp_path):
    audit_file = tmp_path / "audit.jsonl"
    server = start_server(tmp_path / "server", extra_args=(
        "--log", "debug", "--audit-file", str(audit_file), "--audit-stdout"))
    markers = [f"leak-marker-{uuid.uuid4().hex}" for _ in range(6)]
    try:
        sm = server.client()
        kms = server.client("kms")
        secret = sm.create_secret(Name="leak/check", SecretString=markers[0])
        sm.put_secret_value(SecretId=secret["ARN"], SecretBinary=markers[1].encode())
        sm.update_secret(SecretId=secret["ARN"], SecretString=markers[2])
        sm.get_secret_value(SecretId=secret["ARN"])
        sm.batch_get_secret_value(SecretIdList=[secret["ARN"]])
        password = sm.get_random_password(PasswordLength=40)["RandomPassword"]
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key, Plaintext=markers[3].encode())["CiphertextBlob"]
        kms.decrypt(CiphertextBlob=blob)
        data_key = kms.generate_data_key(KeyId=key, KeySpec="AES_256")["Plaintext"]
        random_bytes = kms.generate_random(NumberOfBytes=32)["Plaintext"]
        iam = server.client("iam")
        iam.create_user(UserName="leaky")
        access = iam.create_access_key(UserName="leaky")["AccessKey"]
        time.sleep(0.3)
    finally:
        stop_and_check(server)

    forbidden = markers + [password, access["SecretAccessKey"]]
    forbidden += [base64.b64encode(m.encode()).decode() for m in markers]
    forbidden += [base64.b64encode(data_key).decode(), base64.b64encode(random_bytes).decode()]
    database = sqlite3.connect(tmp_path / "server" / "data" / "coffer.db")
    trail = "\n".join(stored_records(database))
    database.close()
    sink = audit_file.read_text()
    stdout = "\n".join(server.stdout_lines)
    log = server.log()
    assert "GetRandomPassword" in trail and "GenerateDataKey" in trail
    assert len(sink.splitlines()) == len(trail.splitlines()) > 10
    assert sink.splitlines() == [line for line in stdout.splitlines() if line.startswith("{")]
    for place, text in (("the audit store", trail), ("the audit file", sink),
                        ("stdout", stdout), ("the log", log)):
        for value in forbidden:
            assert value not in text, f"a secret value reached {place}"


# --------------------------------------------------------------------------------------------
# coffer audit verify
# --------------------------------------------------------------------------------------------

def verify(data_dir, *extra: str) -> subprocess.CompletedProcess:
    env = base_env()
    return subprocess.run([str(coffer_bin()), "audit", "verify", "--data-dir", str(data_dir), *extra],
                          capture_output=True, text=True, env=env, timeout=60)


def chunk_rows(blob: bytes) -> list[tuple]:
    """Decodes one audit chunk of the embedded store (format in store-embedded's audit_sql.rs)
    into audit_records rows: (seq, account_id, region, event_time, event_id, event_name,
    event_source, read_only, username, access_key_id, resources, record, previous_hash, hash)."""
    payload = lz4.block.decompress(blob)
    assert payload[0] == 1, "unknown chunk format"
    rows, at = [], 1

    def take(n: int) -> bytes:
        nonlocal at
        part = payload[at:at + n]
        at += n
        return part

    def member():
        (length,) = struct.unpack("<I", take(4))
        return None if length == 0xFFFFFFFF else take(length)

    while at < len(payload):
        seq, event_time = struct.unpack("<qq", take(16))
        read_only = take(1)[0]
        previous, digest = member(), member()
        account, region, event_id, name, source, user, key, resources, record = (
            member() for _ in range(9))
        text = lambda b: None if b is None else b.decode()
        rows.append((seq, text(account), text(region), event_time, text(event_id), text(name),
                     text(source), read_only, text(user), text(key), text(resources), text(record),
                     previous, digest))
    return rows


def stored_records(db: sqlite3.Connection) -> list[str]:
    """The JSON text of every stored record, in order."""
    return [row[11] for (blob,) in db.execute("SELECT records FROM audit_chunks ORDER BY first_seq")
            for row in chunk_rows(blob)]


def unpack_chunks(db: sqlite3.Connection) -> None:
    """Turns the chunks back into one row per record, the layout of earlier versions, which the
    store moves into chunks again when it opens: lets the tests below tamper row by row."""
    for (blob,) in db.execute("SELECT records FROM audit_chunks ORDER BY first_seq").fetchall():
        db.executemany("INSERT INTO audit_records (seq, account_id, region, event_time, event_id, "
                       "event_name, event_source, read_only, username, access_key_id, resources, "
                       "record, previous_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       chunk_rows(blob))
    db.execute("DELETE FROM audit_chunks")


def chain_hash(seq: int, previous: bytes, record: str) -> bytes:
    return hashlib.sha256(b"coffer.audit-record.v1" + struct.pack(">Q", seq) + previous
                          + record.encode()).digest()


def rechain(db: sqlite3.Connection, start: int) -> None:
    """What an attacker who can write the store does: recompute every hash from `start` on."""
    rows = db.execute("SELECT seq, record FROM audit_records WHERE seq >= ? ORDER BY seq",
                      (start,)).fetchall()
    (previous,) = db.execute("SELECT hash FROM audit_records WHERE seq < ? ORDER BY seq DESC LIMIT 1",
                             (start,)).fetchone()
    for seq, record in rows:
        digest = chain_hash(seq, previous, record)
        db.execute("UPDATE audit_records SET previous_hash = ?, hash = ? WHERE seq = ?",
                   (previous, digest, seq))
        previous = digest


def test_verify_catches_each_kind_of_tampering(tmp_path):
    server = start_server(tmp_path / "server")
    try:
        sm = server.client()
        arn = sm.create_secret(Name="verify/me", SecretString="v")["ARN"]
        for i in range(20):
            sm.get_secret_value(SecretId=arn)
            if i % 5 == 0:
                sm.put_secret_value(SecretId=arn, SecretString=f"v{i}")
        time.sleep(0.3)
    finally:
        stop_and_check(server)
    pristine = tmp_path / "server" / "data"
    intact = verify(pristine)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "INTACT" in intact.stdout and "checked against the key derived from the root key" in intact.stdout
    total = len(stored_records(sqlite3.connect(pristine / "coffer.db")))
    assert total >= 25

    def tampered(label: str, change) -> str:
        copy = tmp_path / label
        shutil.copytree(pristine, copy)
        db = sqlite3.connect(copy / "coffer.db")
        unpack_chunks(db)
        change(db)
        db.commit()
        db.close()
        result = verify(copy)
        assert result.returncode == 1, f"{label}: {result.stdout}{result.stderr}"
        assert "TAMPERED" in result.stdout
        return result.stdout

    out = tampered("modified", lambda db: db.execute(
        "UPDATE audit_records SET record = replace(record, 'GetSecretValue', 'ListSecrets') WHERE seq = 5"))
    assert "record 5 (eventID" in out and "was modified" in out

    out = tampered("removed", lambda db: db.execute("DELETE FROM audit_records WHERE seq = 7"))
    assert "records 7..7 are missing" in out

    def insert(db):
        # Make room after record 3, forge a record there, renumber and re-chain everything.
        db.execute("UPDATE audit_records SET seq = -seq WHERE seq > 3")
        db.execute("UPDATE audit_records SET seq = -seq + 1 WHERE seq < 0")
        columns = ("account_id, region, event_time, event_id, event_name, event_source, read_only, "
                   "username, access_key_id, resources, record")
        db.execute(f"INSERT INTO audit_records (seq, {columns}, previous_hash, hash) "
                   f"SELECT 4, {columns}, previous_hash, hash FROM audit_records WHERE seq = 3")
        db.execute("UPDATE audit_records SET record = replace(record, 'GetSecretValue', 'DescribeSecret'),"
                   " event_id = 'forged' WHERE seq = 4")
        rechain(db, 4)

    out = tampered("inserted", insert)
    assert "does not match the digest signed for it" in out

    def reorder(db):
        a = db.execute("SELECT record, event_id FROM audit_records WHERE seq = 3").fetchone()
        b = db.execute("SELECT record, event_id FROM audit_records WHERE seq = 4").fetchone()
        db.execute("UPDATE audit_records SET record = ?, event_id = ? WHERE seq = 3", b)
        db.execute("UPDATE audit_records SET record = ?, event_id = ? WHERE seq = 4", a)

    out = tampered("reordered", reorder)
    assert "record 3 (eventID" in out and "record 4 (eventID" in out

    def reorder_and_rechain(db):
        reorder(db)
        rechain(db, 3)

    out = tampered("reordered-rechained", reorder_and_rechain)
    assert "does not match the digest signed for it" in out

    # A digest forged with another key is refused when the real key is known.
    out = tampered("forged-digest", lambda db: db.execute(
        "UPDATE audit_digests SET public_key = zeroblob(32)"))
    assert "signed by a key that is not this trail's" in out
