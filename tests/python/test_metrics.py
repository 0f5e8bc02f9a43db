"""`GET /metrics`, end to end: the Prometheus exposition after real boto3 calls.

API requests are counted by service, operation and outcome (`ok` or the AWS error type, here
a success, an IAM user's AccessDenied, a missing secret and an operation that does not exist)
and timed in a histogram; an operation name a client makes up is counted as `unknown`; the
exposition never holds a secret value or name; `coffer_sealed` follows seal and unseal, and
the counts survive them.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.request
import uuid

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest

from conftest import base_env, coffer_bin, start_server, stop_and_check

OPENMETRICS = "application/openmetrics-text"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')


def scrape(server) -> tuple[str, str]:
    """(content type, body) of `GET /metrics`, unauthenticated."""
    with urllib.request.urlopen(server.endpoint + "/metrics", timeout=10) as response:
        assert response.status == 200
        return response.headers["Content-Type"], response.read().decode("utf-8")


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    """Samples by (name, labels); fails on any line that is not valid exposition."""
    lines = text.splitlines()
    assert lines[-1] == "# EOF", "the exposition must end with # EOF"
    samples = {}
    for line in lines[:-1]:
        if line.startswith("# "):
            assert line.split(" ")[1] in ("HELP", "TYPE", "UNIT"), line
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        pairs = frozenset(LABEL.findall(labels or ""))
        key = (name, pairs)
        assert key not in samples, f"duplicate series: {line!r}"
        samples[key] = float(value)
    return samples


def metrics(server) -> dict[tuple[str, frozenset], float]:
    content_type, body = scrape(server)
    assert content_type.startswith(OPENMETRICS), content_type
    return parse(body)


def value(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests(samples, service: str, operation: str, outcome: str) -> float:
    return value(samples, "coffer_requests_total", service=service, operation=operation,
                 outcome=outcome)


def latency_count(samples, service: str, operation: str) -> float:
    return value(samples, "coffer_request_duration_seconds_count", service=service,
                 operation=operation)


def send_unknown_operation(server, operation: str) -> int:
    """A correctly signed Secrets Manager request naming an operation that does not exist."""
    request = botocore.awsrequest.AWSRequest(
        method="POST", url=server.endpoint + "/", data=b"{}",
        headers={"Content-Type": "application/x-amz-json-1.1",
                 "X-Amz-Target": f"secretsmanager.{operation}"})
    credentials = botocore.credentials.Credentials(server.access_key_id, server.secret_access_key)
    botocore.auth.SigV4Auth(credentials, "secretsmanager", server.region).add_auth(request)
    prepared = request.prepare()
    http_request = urllib.request.Request(prepared.url, data=b"{}", method="POST",
                                          headers=dict(prepared.headers.items()))
    try:
        with urllib.request.urlopen(http_request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        assert json.loads(error.read())["__type"].endswith("UnknownOperationException")
        return error.code


def test_requests_are_counted_by_service_operation_and_outcome(coffer, sm, unique_name):
    iam = coffer.client("iam")
    value_written = f"metrics-secret-value-{uuid.uuid4().hex}"
    name = unique_name("metrics")
    made_up = f"NoSuchOperation{uuid.uuid4().hex[:8]}"
    before = metrics(coffer)

    sm.create_secret(Name=name, SecretString=value_written)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == value_written
    # An IAM user without any policy is denied.
    user = f"metrics-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = coffer.client(aws_access_key_id=key["AccessKeyId"],
                            aws_secret_access_key=key["SecretAccessKey"])
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        as_user.get_secret_value(SecretId=name)
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    # The request id a client gets back is the one in the server's request log line.
    request_id = denied.value.response["ResponseMetadata"]["RequestId"]
    line = f'request_id="{request_id}" operation="GetSecretValue" status=400'
    assert any(line in entry and 'outcome="AccessDeniedException"' in entry
               for entry in coffer.log().splitlines()), request_id
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        sm.get_secret_value(SecretId=unique_name("missing"))
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert send_unknown_operation(coffer, made_up) == 400

    content_type, body = scrape(coffer)
    assert content_type == "application/openmetrics-text; version=1.0.0; charset=utf-8"
    after = parse(body)

    def delta(service, operation, outcome):
        return (requests(after, service, operation, outcome)
                - requests(before, service, operation, outcome))

    assert delta("secretsmanager", "CreateSecret", "ok") == 1
    assert delta("secretsmanager", "GetSecretValue", "ok") == 1
    assert delta("secretsmanager", "GetSecretValue", "AccessDeniedException") == 1
    assert delta("secretsmanager", "GetSecretValue", "ResourceNotFoundException") == 1
    assert delta("secretsmanager", "unknown", "UnknownOperationException") == 1
    assert delta("iam", "CreateUser", "ok") == 1
    assert delta("iam", "CreateAccessKey", "ok") == 1
    # Every operation has its `ok` series from the start, used or not.
    assert ("coffer_requests_total", frozenset({"service": "kms", "operation": "ReEncrypt",
                                                "outcome": "ok"}.items())) in after

    # The latency histogram: one observation per request, cumulative buckets up to +Inf.
    labels = {"service": "secretsmanager", "operation": "GetSecretValue"}
    count = latency_count(after, **labels)
    assert count - latency_count(before, **labels) == 3
    buckets = sorted(
        (float("inf") if dict(key[1])["le"] == "+Inf" else float(dict(key[1])["le"]), v)
        for key, v in after.items()
        if key[0] == "coffer_request_duration_seconds_bucket"
        and {k: v for k, v in key[1] if k != "le"} == labels)
    assert len(buckets) == 17 and buckets[0][0] == 0.00005 and buckets[-2][0] == 5.0
    assert [v for _, v in buckets] == sorted(v for _, v in buckets), "buckets are cumulative"
    assert buckets[-1] == (float("inf"), count)
    assert value(after, "coffer_request_duration_seconds_sum", **labels) > 0

    assert value(after, "coffer_sealed") == 0
    assert ("coffer_store_errors_total", frozenset()) in after
    for audit in ("coffer_audit_queue_depth", "coffer_audit_records_total",
                  "coffer_audit_failures_total"):
        assert (audit, frozenset()) in after, audit

    # Nothing a client wrote reaches the exposition: no value, no name, no made-up operation.
    for leaked in (value_written, name, user, key["AccessKeyId"], made_up):
        assert leaked not in body, f"{leaked!r} appears in /metrics"


def test_metrics_needs_no_credentials_and_only_get(coffer):
    with urllib.request.urlopen(coffer.endpoint + "/metrics", timeout=10) as response:
        assert response.status == 200
    post = urllib.request.Request(coffer.endpoint + "/metrics", data=b"", method="POST")
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(post, timeout=10)
    assert excinfo.value.code == 405


def operator(*args: str, env: dict[str, str] | None = None) -> str:
    full_env = base_env()
    full_env.update(env or {})
    proc = subprocess.run([str(coffer_bin()), "operator", *args], capture_output=True, text=True,
                          env=full_env, timeout=60)
    assert proc.returncode == 0, f"coffer operator {args[0]} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_sealed_follows_seal_and_unseal_and_counts_survive(tmp_path):
    data_dir = tmp_path / "server" / "data"
    out = operator("init", "--data-dir", str(data_dir), "--key-shares", "3",
                   "--key-threshold", "2")
    shares = re.findall(r"^Unseal share \d+: (\S+)$", out, re.M)
    assert len(shares) == 3

    server = start_server(tmp_path / "server")
    try:
        sealed = metrics(server)
        assert value(sealed, "coffer_sealed") == 1
        with pytest.raises(botocore.exceptions.ClientError):
            server.client().list_secrets()
        with pytest.raises(botocore.exceptions.ClientError):
            server.client("sts").get_caller_identity()
        sealed = metrics(server)
        assert requests(sealed, "secretsmanager", "ListSecrets",
                        "ServiceUnavailableException") == 1
        assert requests(sealed, "sts", "unknown", "ServiceUnavailable") == 1

        for share in shares[:2]:
            operator("unseal", "--endpoint-url", server.endpoint, share)
        server.client().list_secrets()
        unsealed = metrics(server)
        assert value(unsealed, "coffer_sealed") == 0
        assert requests(unsealed, "secretsmanager", "ListSecrets", "ok") == 1
        assert requests(unsealed, "secretsmanager", "ListSecrets",
                        "ServiceUnavailableException") == 1

        operator("seal", "--endpoint-url", server.endpoint,
                 env={"AWS_ACCESS_KEY_ID": server.access_key_id,
                      "AWS_SECRET_ACCESS_KEY": server.secret_access_key})
        resealed = metrics(server)
        assert value(resealed, "coffer_sealed") == 1
        assert requests(resealed, "secretsmanager", "ListSecrets", "ok") == 1
    finally:
        stop_and_check(server)
