"""Several Coffer nodes on one PostgreSQL store (issue 7's acceptance test).

Three `coffer server` processes share one PostgreSQL schema and one root key. They start
together on the empty schema and agree on one key-encryption key and one administrator key;
boto3 clients spread over the three write the same few secrets concurrently (PutSecretValue and
UpdateSecretVersionStage) while one node is killed with SIGKILL; afterwards every secret has
exactly one AWSCURRENT, every acknowledged version exists, the audit chain verifies, and the
background jobs the dead node held have been taken over. A change made through one node is
honoured by the others within the documented bound (README, "PostgreSQL and several nodes").

Runs only with COFFER_TEST_STORE=postgres (see conftest.py).
"""

from __future__ import annotations

import collections
import configparser
import datetime as dt
import json
import random
import subprocess
import threading
import time
import uuid
from pathlib import Path

import botocore.auth
import botocore.config
import botocore.exceptions
import pytest

from conftest import (ACCOUNT_ID, POSTGRES_URL, REGION, CofferServer, base_env, coffer_bin,
                      new_schema, postgres_args, psql, random_access_key_id,
                      random_secret_access_key, session_root_key_file, stop_and_check)

NODES = 3
PURGE_INTERVAL = 1
# The lease TTL the server derives from the purge interval: 2 x interval + 5 s.
LEASE_TTL = 2 * PURGE_INTERVAL + 5
# What the README documents: IAM and KMS generations are re-read at most once a second, and a
# cached secret is served for at most --cache-max-age (1 s by default with PostgreSQL).
FRESHNESS_BOUND = 1.0
# Slack for a debug build on a busy two-core machine: a request, a poll step, scheduling.
SLACK = 2.0
DAY_MS = 24 * 3600 * 1000
# What a client sees of a node that died under it (or before it).
# A refused connection (EndpointConnectionError) or one cut mid-request (HTTPClientError).
CONNECTION_ERRORS = (botocore.exceptions.HTTPClientError, botocore.exceptions.ConnectionError)


class Cluster:
    """Nodes on one schema, started together."""

    def __init__(self, tmp: Path, *, admin: tuple[str, str] | None, clock_file: Path | None = None,
                 extra_args: tuple[str, ...] = ()):
        self.schema = new_schema()
        self.nodes: list[CofferServer] = []
        for i in range(NODES):
            node_tmp = tmp / f"node{i}"
            node_tmp.mkdir(parents=True, exist_ok=True)
            env = base_env()
            env["HOME"] = str(node_tmp)
            if admin:
                env["COFFER_ADMIN_ACCESS_KEY_ID"], env["COFFER_ADMIN_SECRET_ACCESS_KEY"] = admin
            if clock_file:
                env["COFFER_TEST_CLOCK_FILE"] = str(clock_file)
            args = ["server", "--listen", "127.0.0.1:0", "--data-dir", str(node_tmp / "data"),
                    "--region", REGION, "--account-id", ACCOUNT_ID,
                    "--root-key", str(session_root_key_file()),
                    "--deletion-purge-interval", str(PURGE_INTERVAL),
                    *postgres_args(self.schema), *extra_args]
            key_id, secret = admin or ("", "")
            self.nodes.append(CofferServer(args=args, env=env, log_path=node_tmp / "coffer.log",
                                           access_key_id=key_id, secret_access_key=secret))
        # Together, so that their first starts race on the empty schema.
        failures: list[BaseException] = []

        def start(node: CofferServer) -> None:
            try:
                node.start()
            except BaseException as error:  # pytest.fail raises Failed, a BaseException
                failures.append(error)

        threads = [threading.Thread(target=start, args=(node,)) for node in self.nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            self.stop()
            raise failures[0]

    def stop(self) -> None:
        for node in self.nodes:
            if node._proc is not None and node._proc.poll() is None:
                stop_and_check(node)

    def table(self, sql: str) -> list[list[str]]:
        out = psql(f"SET search_path TO {self.schema}; {sql}")
        return [line.split("|") for line in out.splitlines() if line]

    def lease_holders(self) -> dict[str, str]:
        now = int(time.time() * 1000)
        return {name: holder for name, holder, expires in
                self.table("SELECT name, holder, expires_at FROM leases")
                if int(expires) > now}

    def node_of(self, holder: str) -> int | None:
        """The node whose process holds a lease (holder ids are host:pid:random)."""
        pid = int(holder.split(":")[1])
        for i, node in enumerate(self.nodes):
            if node._proc is not None and node._proc.pid == pid:
                return i
        return None


def client(node: CofferServer, service: str = "secretsmanager", **keys):
    return node.client(service, **keys, config=botocore.config.Config(
        retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=60))


def error_code(error: botocore.exceptions.ClientError) -> str:
    return error.response["Error"]["Code"]


def wait_until(condition, timeout: float, step: float = 0.05, what: str = "the condition"):
    """Polls `condition` until it returns a true value; returns (value, seconds taken)."""
    started = time.monotonic()
    while True:
        value = condition()
        if value:
            return value, time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what} did not happen within {timeout:.1f}s")
        time.sleep(step)


@pytest.mark.parametrize("round_", range(2))
def test_nodes_starting_together_agree_on_one_keyring_and_one_administrator(tmp_path, round_):
    cluster = Cluster(tmp_path, admin=None)
    try:
        written = [i for i, node in enumerate(cluster.nodes)
                   if (tmp_path / f"node{i}" / "data" / "admin-credentials").exists()]
        assert len(written) == 1, f"admin-credentials written by nodes {written}"
        announced = [i for i, node in enumerate(cluster.nodes)
                     if any("administrator credentials written" in line
                            for line in node.stdout_lines)]
        assert announced == written
        assert cluster.table("SELECT count(*) FROM key_encryption_keys") == [["1"]]
        assert cluster.table("SELECT count(*) FROM access_keys") == [["1"]]
        assert cluster.table("SELECT count(*) FROM iam_entities") == [["1"]]
        credentials = configparser.ConfigParser()
        credentials.read(tmp_path / f"node{written[0]}" / "data" / "admin-credentials")
        keys = dict(aws_access_key_id=credentials["default"]["aws_access_key_id"],
                    aws_secret_access_key=credentials["default"]["aws_secret_access_key"])
        # The first secrets, created on every node at once, race to create the AWS managed
        # key `aws/secretsmanager`; every node opens what the others sealed.
        names = [f"multinode/start-{i}-{uuid.uuid4().hex[:8]}" for i in range(NODES)]
        creators = [threading.Thread(target=lambda i=i: client(cluster.nodes[i], **keys)
                                     .create_secret(Name=names[i], SecretString=f"by node {i}"))
                    for i in range(NODES)]
        for thread in creators:
            thread.start()
        for thread in creators:
            thread.join()
        for node in cluster.nodes:
            for i, name in enumerate(names):
                assert client(node, **keys).get_secret_value(SecretId=name)["SecretString"] \
                    == f"by node {i}"
        kms_keys = {client(node, "kms", **keys).describe_key(
            KeyId="alias/aws/secretsmanager")["KeyMetadata"]["KeyId"] for node in cluster.nodes}
        assert len(kms_keys) == 1, f"one aws/secretsmanager key for all nodes: {kms_keys}"
        assert cluster.table("SELECT count(*) FROM kms_keys") == [["1"]]
    finally:
        cluster.stop()


@pytest.fixture
def admin():
    return random_access_key_id(), random_secret_access_key()


def test_a_change_through_one_node_is_honoured_by_the_others_within_the_bound(tmp_path, admin):
    cluster = Cluster(tmp_path, admin=admin)
    a, b = cluster.nodes[0], cluster.nodes[1]
    try:
        iam = client(a, "iam")
        sm_a = client(a)
        name = f"multinode/fresh-{uuid.uuid4().hex[:8]}"
        arn = sm_a.create_secret(Name=name, SecretString="v1")["ARN"]
        iam.create_user(UserName="reader")
        iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                           "Resource": arn}]}))
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        reader_keys = dict(aws_access_key_id=key["AccessKeyId"],
                           aws_secret_access_key=key["SecretAccessKey"])
        reader_b = client(b, **reader_keys)
        # B has the reader's credential, policies and the secret cached.
        _, took = wait_until(lambda: _reads(reader_b, name) == "v1", 5,
                             what="the new key working on node B")
        for _ in range(3):
            assert reader_b.get_secret_value(SecretId=name)["SecretString"] == "v1"

        # A PutSecretValue on A is read on B within the bound.
        sm_a.put_secret_value(SecretId=name, SecretString="v2")
        changed = time.monotonic()
        wait_until(lambda: _reads(reader_b, name) == "v2", FRESHNESS_BOUND + SLACK,
                   what="node B reading the value put through node A")
        print(f"value seen on B {time.monotonic() - changed:.3f}s after the put on A")

        # A policy tightened on A denies on B within the bound.
        iam.put_user_policy(UserName="reader", PolicyName="deny", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Action": "secretsmanager:GetSecretValue",
                           "Resource": "*"}]}))
        changed = time.monotonic()
        wait_until(lambda: _reads(reader_b, name) == "AccessDeniedException",
                   FRESHNESS_BOUND + SLACK, what="node B denying after the policy change on A")
        print(f"deny honoured on B {time.monotonic() - changed:.3f}s after the change on A")
        iam.delete_user_policy(UserName="reader", PolicyName="deny")
        wait_until(lambda: _reads(reader_b, name) == "v2", FRESHNESS_BOUND + SLACK,
                   what="node B allowing again")

        # An access key made inactive on A stops working on B within the bound...
        iam.update_access_key(UserName="reader", AccessKeyId=key["AccessKeyId"],
                              Status="Inactive")
        changed = time.monotonic()
        wait_until(lambda: _reads(reader_b, name) == "UnrecognizedClientException",
                   FRESHNESS_BOUND + SLACK, what="node B refusing the inactive key")
        print(f"inactive key refused on B {time.monotonic() - changed:.3f}s after A")
        # ...and a deleted one too (after working again once reactivated).
        iam.update_access_key(UserName="reader", AccessKeyId=key["AccessKeyId"], Status="Active")
        wait_until(lambda: _reads(reader_b, name) == "v2", FRESHNESS_BOUND + SLACK,
                   what="node B accepting the reactivated key")
        iam.delete_access_key(UserName="reader", AccessKeyId=key["AccessKeyId"])
        changed = time.monotonic()
        wait_until(lambda: _reads(reader_b, name) == "UnrecognizedClientException",
                   FRESHNESS_BOUND + SLACK, what="node B refusing the deleted key")
        print(f"deleted key refused on B {time.monotonic() - changed:.3f}s after A")

        # A KMS key disabled on A cannot be used on B within the bound.
        kms_a, kms_b = client(a, "kms"), client(b, "kms")
        key_id = kms_a.create_key()["KeyMetadata"]["KeyId"]
        kms_b.encrypt(KeyId=key_id, Plaintext=b"x")
        kms_a.disable_key(KeyId=key_id)
        changed = time.monotonic()

        def encrypt_refused():
            try:
                kms_b.encrypt(KeyId=key_id, Plaintext=b"x")
                return False
            except botocore.exceptions.ClientError as error:
                return error_code(error) == "DisabledException"

        wait_until(encrypt_refused, FRESHNESS_BOUND + SLACK,
                   what="node B refusing the KMS key disabled on A")
        print(f"disabled KMS key refused on B {time.monotonic() - changed:.3f}s after A")
    finally:
        cluster.stop()


def _reads(sm, name: str) -> str:
    """The value, or the error code."""
    try:
        return sm.get_secret_value(SecretId=name)["SecretString"]
    except botocore.exceptions.ClientError as error:
        return error_code(error)


def test_concurrent_writers_on_three_nodes_and_a_killed_node(tmp_path, admin, monkeypatch):
    clock_file = tmp_path / "clock"
    clock_file.write_text("0")
    cluster = Cluster(tmp_path, admin=admin, clock_file=clock_file)
    try:
        _concurrent_writers_and_a_killed_node(cluster, clock_file, monkeypatch)
    finally:
        cluster.stop()


def _concurrent_writers_and_a_killed_node(cluster: Cluster, clock_file: Path, monkeypatch) -> None:
    nodes = cluster.nodes
    sm0 = client(nodes[0])
    names = [f"multinode/load-{i}-{uuid.uuid4().hex[:8]}" for i in range(4)]
    for name in names:
        sm0.create_secret(Name=name, SecretString="initial")
    doomed = f"multinode/doomed-{uuid.uuid4().hex[:8]}"
    sm0.create_secret(Name=doomed, SecretString="to be purged")
    client(nodes[1]).delete_secret(SecretId=doomed, RecoveryWindowInDays=7)

    holders, _ = wait_until(lambda: len(cluster.lease_holders()) == 3 and cluster.lease_holders(),
                            10, what="all three job leases being held")
    victim = cluster.node_of(holders["deletion-purge"])
    assert victim is not None, holders
    survivors = [i for i in range(NODES) if i != victim]

    # Load: threads spread over the nodes; each PutSecretValue acknowledged is remembered.
    acknowledged: dict[str, set[str]] = collections.defaultdict(set)
    outcomes = collections.Counter()
    lock = threading.Lock()
    ops_per_thread = 25  # 12 threads x 25 ops over 4 secrets stays under 100 versions each
    done_ops = collections.Counter()

    def worker(index: int) -> None:
        rng = random.Random(index)
        node = index % NODES
        clients = {i: client(nodes[i]) for i in range(NODES)}
        for op in range(ops_per_thread):
            name = rng.choice(names)
            sm = clients[node]
            try:
                if rng.random() < 0.7:
                    version = str(uuid.uuid4())
                    sm.put_secret_value(SecretId=name, ClientRequestToken=version,
                                        SecretString=f"value {index}/{op}")
                    with lock:
                        acknowledged[name].add(version)
                        outcomes["put ok"] += 1
                else:
                    versions = sm.list_secret_version_ids(SecretId=name)["Versions"]
                    current = next(v["VersionId"] for v in versions
                                   if "AWSCURRENT" in v["VersionStages"])
                    target = rng.choice(versions)["VersionId"]
                    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT",
                                                   MoveToVersionId=target,
                                                   RemoveFromVersionId=current)
                    with lock:
                        outcomes["move ok"] += 1
            except CONNECTION_ERRORS:
                # The killed node: not acknowledged; go on through another node.
                with lock:
                    outcomes[f"connection error (node {node})"] += 1
                node = rng.choice(survivors)
            except botocore.exceptions.ClientError as error:
                code = error_code(error)
                message = error.response["Error"].get("Message", "")
                # A move computed from a stale read (another writer moved the label since):
                # AWS's answer, and nothing was changed.
                if code == "InvalidParameterException" and (
                        "is not attached to version" in message
                        or "is currently attached to version" in message):
                    code = "stale move refused"
                with lock:
                    outcomes[code] += 1
            with lock:
                done_ops["all"] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    # Mid-load, the holder of the deletion purge dies without a word.
    wait_until(lambda: done_ops["all"] >= 12 * ops_per_thread // 2, 120, what="half the load")
    nodes[victim]._proc.kill()
    nodes[victim]._proc.wait()
    killed_at = time.monotonic()
    for thread in threads:
        thread.join(timeout=300)
    print("outcomes:", dict(outcomes))
    # A lost race on RemoveFromVersionId is AWS's answer to a stale read; nothing else may fail
    # but the requests the killed node never answered.
    unexpected = {k: v for k, v in outcomes.items()
                  if k not in ("put ok", "move ok", "stale move refused")
                  and not k.startswith("connection error")}
    assert not unexpected, f"unexpected failures: {unexpected}"
    assert outcomes["put ok"] > 0 and outcomes["move ok"] > 0

    # The jobs the dead node held are taken over by a survivor within TTL + one interval.
    def taken_over():
        now = cluster.lease_holders()
        return len(now) == 3 and all(cluster.node_of(h) in survivors for h in now.values()) \
            and now
    after, took = wait_until(taken_over, LEASE_TTL + PURGE_INTERVAL + SLACK + 5,
                             what="the dead node's leases being taken over")
    print(f"leases after the kill ({time.monotonic() - killed_at:.1f}s): {after}")
    new_holder = cluster.node_of(after["deletion-purge"])
    assert "this node now runs the job" in nodes[new_holder].log()

    # No acknowledged write is lost, and each secret has exactly one AWSCURRENT.
    sm_alive = client(nodes[survivors[0]])
    for name in names:
        versions = {}
        token = {}
        while True:
            page = sm_alive.list_secret_version_ids(SecretId=name, IncludeDeprecated=True,
                                                    MaxResults=100, **token)
            for version in page["Versions"]:
                versions[version["VersionId"]] = version.get("VersionStages", [])
            if "NextToken" not in page:
                break
            token = {"NextToken": page["NextToken"]}
        holders_of = collections.Counter(stage for stages in versions.values()
                                         for stage in stages)
        assert holders_of["AWSCURRENT"] == 1, (name, versions)
        assert holders_of["AWSPREVIOUS"] <= 1, (name, versions)
        missing = acknowledged[name] - versions.keys()
        assert not missing, f"{name}: acknowledged versions lost: {missing}"
        # Every survivor serves the same AWSCURRENT (within the cache's bound).
        current = next(v for v, stages in versions.items() if "AWSCURRENT" in stages)
        for i in survivors:
            wait_until(lambda: client(nodes[i]).get_secret_value(SecretId=name)["VersionId"]
                       == current, FRESHNESS_BOUND + SLACK, what=f"node {i} serving AWSCURRENT")

    # The survivor purges: past the recovery window (every node reads the same test clock; the
    # client signs with the moved time too, to stay inside the skew window).
    clock_file.write_text(str(8 * DAY_MS))
    real_now = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda *a, **k: real_now(*a, **k) + dt.timedelta(days=8))

    def purged():
        try:
            sm_alive.describe_secret(SecretId=doomed)
            return False
        except botocore.exceptions.ClientError as error:
            return error_code(error) == "ResourceNotFoundException"

    wait_until(purged, 20, what="the survivor purging the secret past its recovery window")
    # Past the jump every lease looks expired, so either survivor may have run it.
    assert any("secret deleted at the end of its recovery window" in nodes[i].log()
               for i in survivors)

    monkeypatch.undo()

    # The audit chain written by three nodes (one of them killed mid-write) is intact.
    verify = subprocess.run(
        [str(coffer_bin()), "audit", "verify", "--store", POSTGRES_URL, "--store-schema",
         cluster.schema, "--root-key", str(session_root_key_file())],
        capture_output=True, text=True, timeout=120, env=base_env())
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "INTACT" in verify.stdout, verify.stdout
    assert "checked against the key derived from the root key" in verify.stdout
