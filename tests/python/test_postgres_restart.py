"""PostgreSQL going away under load, and coming back.

While the database is unreachable, every request that needs it fails within a bounded time with
a retryable AWS error that names the store (503 `ServiceUnavailableException`, "The store is
unavailable: ..."), never a hang or an anonymous 500; once it is back, requests succeed again
without restarting Coffer, and the audit trail is intact.

The outage is made with a TCP relay in front of PostgreSQL that the test cuts (closing every
relayed connection and refusing new ones) and restores. Restarting the real server would
disturb whatever else uses it at the time (the Rust store tests, another run of this suite), so
that variant runs only when asked: `COFFER_TEST_PG_RESTART=1` restarts the local cluster with
`pg_ctlcluster` (about 2.5 s here) instead, with nothing else using PostgreSQL meanwhile.

Runs only with COFFER_TEST_STORE=postgres (see conftest.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import botocore.exceptions
import pytest

from conftest import (POSTGRES_URL, base_env, coffer_bin, new_schema, session_root_key_file,
                      start_server, stop_and_check)

CONNECT_TIMEOUT = 2
STATEMENT_TIMEOUT = 2
# The longest a request may take while the store is down: a connection attempt, or one
# transaction attempt bounded at twice the statement timeout, plus a debug build's slowness.
FAILURE_BOUND = max(CONNECT_TIMEOUT, 2 * STATEMENT_TIMEOUT) + 3
# After this long into an outage no request can be answered from what a node caches: cached
# secrets are reloaded after 1 s, and the IAM generation is re-read every second.
CACHES_DRAINED = 2.5
OUTAGE = 6.0
# A partition: each store call waits out its timeout, and a request makes a few in sequence.
PARTITION = 14.0
PARTITION_FAILURE_BOUND = 3 * max(CONNECT_TIMEOUT, 2 * STATEMENT_TIMEOUT) + 3
RECOVERY_BOUND = 10.0
STORE_MESSAGE = "The store is unavailable"


class Relay:
    """A TCP relay to PostgreSQL that can be cut (connections closed, new ones refused)."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = 0
        # Frozen: bytes stop flowing and new connections hang, as across a network partition
        # (nothing is refused or closed, so only timeouts can tell).
        self._thawed = threading.Event()
        self._thawed.set()
        self._running = False
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> "Relay":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.settimeout(0.1)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._running = True
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while self._running:
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if not self._thawed.is_set():
                with self._lock:
                    self._held.append(client)  # never answered; closed on thaw
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                self._thawed.wait()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self._running = False
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            for s in self._sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self._sockets.clear()

    def restore(self) -> None:
        self.start()

    def freeze(self) -> None:
        self._thawed.clear()

    def thaw(self) -> None:
        self._thawed.set()
        # Connections accepted while frozen never reached PostgreSQL: end them.
        with self._lock:
            held, self._held = self._held, []
        for s in held:
            s.close()


@dataclass
class Call:
    operation: str
    started: float
    took: float
    outcome: str  # "ok" or the error code
    message: str = ""
    status: int = 200


class Load:
    """Threads calling GetSecretValue and PutSecretValue in a loop, remembering each call."""

    def __init__(self, server, names: list[str]):
        self.calls: list[Call] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(server, names, op), daemon=True)
                         for op in ("get", "get", "put")]

    def start(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> list[Call]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        return self.calls

    def _run(self, server, names: list[str], op: str) -> None:
        sm = server.client()
        n = 0
        while not self._stop.is_set():
            started = time.monotonic()
            n += 1
            try:
                if op == "get":
                    sm.get_secret_value(SecretId=names[0])
                else:
                    # Spread over the secrets, slowly: each keeps at most 100 versions.
                    sm.put_secret_value(SecretId=names[n % len(names)],
                                        SecretString=uuid.uuid4().hex)
                    time.sleep(0.1)
                call = Call(op, started, time.monotonic() - started, "ok")
            except botocore.exceptions.ClientError as error:
                call = Call(op, started, time.monotonic() - started,
                            error.response["Error"]["Code"],
                            error.response["Error"].get("Message", ""),
                            error.response["ResponseMetadata"]["HTTPStatusCode"])
            except botocore.exceptions.HTTPClientError as error:
                call = Call(op, started, time.monotonic() - started, type(error).__name__,
                            str(error), 0)
            with self._lock:
                self.calls.append(call)
            time.sleep(0.02)


def ready(server) -> int:
    try:
        with urllib.request.urlopen(server.endpoint + "/ready", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def outage_under_load(server, cut, restore, *, outage: float = OUTAGE,
                      failure_bound: float = FAILURE_BOUND) -> None:
    sm = server.client()
    names = [f"restart/{uuid.uuid4().hex[:12]}" for _ in range(5)]
    for name in names:
        sm.create_secret(Name=name, SecretString="before the outage")
    load = Load(server, names).start()
    time.sleep(2)
    went_down = time.monotonic()
    cut()
    time.sleep(outage)
    came_back = time.monotonic()
    restore()
    # Until everything succeeds again for a while, or the bound passes.
    first_success = None
    deadline = came_back + RECOVERY_BOUND + 5
    while time.monotonic() < deadline:
        recent = [c for c in load.calls if c.started > came_back]
        ok_after = [c for c in recent if c.outcome == "ok"]
        if ok_after and first_success is None:
            first_success = min(c.started + c.took for c in ok_after)
        if first_success is not None and time.monotonic() - first_success > 3:
            break
        time.sleep(0.1)
    calls = load.stop()

    before = [c for c in calls if c.started + c.took < went_down]
    down = [c for c in calls if c.started > went_down + CACHES_DRAINED
            and c.started + c.took < came_back]
    settled = [c for c in calls if first_success is not None and c.started > first_success + 1]
    summary = {phase: sorted({(c.operation, c.outcome) for c in group})
               for phase, group in (("before", before), ("down", down), ("after", settled))}
    print(f"calls: {len(calls)}; outcomes by phase: {summary}")
    assert before and all(c.outcome == "ok" for c in before), summary

    # While down: every call fails, quickly, with the retryable error naming the store (or,
    # for a call whose audit record cannot be written, the audit trail's own 503).
    assert down, "no call was made while the store was down"
    for call in down:
        assert call.outcome == "ServiceUnavailableException" and call.status == 503, call
        assert STORE_MESSAGE in call.message or "audit trail" in call.message, call
        assert call.took < failure_bound, call
    assert any(STORE_MESSAGE in c.message for c in down), down
    # Nothing at any time is an anonymous internal error.
    internal = [c for c in calls if c.status == 500]
    assert not internal, internal[:5]
    print(f"longest failing call while down: {max(c.took for c in down):.3f}s; "
          f"longest call of all: {max(c.took for c in calls):.3f}s")
    # Never a hang, even for the calls caught in flight when the store went away.
    assert max(c.took for c in calls) < failure_bound

    # Back: requests succeed again without restarting Coffer.
    assert first_success is not None, "no call succeeded after the store came back"
    print(f"first success {first_success - came_back:.2f}s after the store came back")
    assert first_success - came_back < RECOVERY_BOUND
    assert settled and all(c.outcome == "ok" for c in settled), \
        sorted({(c.operation, c.outcome, c.message) for c in settled if c.outcome != "ok"})
    assert sm.get_secret_value(SecretId=name)["VersionId"]
    deadline = time.monotonic() + 10
    while ready(server) != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ready(server) == 200, "the server stays unready after the store came back"


def verify_trail(url: str, schema: str) -> None:
    verify = subprocess.run(
        [str(coffer_bin()), "audit", "verify", "--store", url, "--store-schema", schema,
         "--root-key", str(session_root_key_file())],
        capture_output=True, text=True, timeout=120, env=base_env())
    assert verify.returncode == 0 and "INTACT" in verify.stdout, verify.stdout + verify.stderr


def store_args(url: str, schema: str) -> tuple[str, ...]:
    return ("--store", url, "--store-schema", schema, "--root-key", str(session_root_key_file()),
            "--store-connect-timeout", str(CONNECT_TIMEOUT),
            "--store-statement-timeout", str(STATEMENT_TIMEOUT))


def test_requests_fail_clearly_while_the_store_is_down_and_recover(tmp_path):
    parts = urlsplit(POSTGRES_URL)
    relay = Relay((parts.hostname or "127.0.0.1", parts.port or 5432)).start()
    userinfo = parts.netloc.rpartition("@")[0]
    relayed = parts._replace(
        netloc=(userinfo + "@" if userinfo else "") + f"127.0.0.1:{relay.port}").geturl()
    schema = new_schema()
    server = start_server(tmp_path / "server", extra_args=store_args(relayed, schema))
    try:
        outage_under_load(server, relay.cut, relay.restore)
    finally:
        stop_and_check(server)
        relay.cut()
    verify_trail(POSTGRES_URL, schema)


def test_requests_fail_within_a_bound_while_the_store_does_not_answer(tmp_path):
    """A partition: PostgreSQL neither answers nor refuses; only timeouts can tell."""
    parts = urlsplit(POSTGRES_URL)
    relay = Relay((parts.hostname or "127.0.0.1", parts.port or 5432)).start()
    userinfo = parts.netloc.rpartition("@")[0]
    relayed = parts._replace(
        netloc=(userinfo + "@" if userinfo else "") + f"127.0.0.1:{relay.port}").geturl()
    schema = new_schema()
    server = start_server(tmp_path / "server", extra_args=store_args(relayed, schema))
    try:
        outage_under_load(server, relay.freeze, relay.thaw, outage=PARTITION,
                          failure_bound=PARTITION_FAILURE_BOUND)
    finally:
        stop_and_check(server)
        relay.thaw()
        relay.cut()
    verify_trail(POSTGRES_URL, schema)


def _cluster() -> tuple[str, str]:
    """The local cluster serving POSTGRES_URL's port: (version, name)."""
    port = str(urlsplit(POSTGRES_URL).port or 5432)
    for line in subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        version, name, cluster_port, *_ = line.split()
        if cluster_port == port:
            return version, name
    pytest.skip(f"no local cluster serves port {port}")


@pytest.mark.skipif(os.environ.get("COFFER_TEST_PG_RESTART") != "1",
                    reason="restarts the shared PostgreSQL server: set COFFER_TEST_PG_RESTART=1 "
                           "with nothing else using it")
@pytest.mark.skipif(shutil.which("pg_ctlcluster") is None, reason="no pg_ctlcluster here")
def test_a_real_postgresql_restart_under_load(tmp_path):
    version, name = _cluster()
    schema = new_schema()
    server = start_server(tmp_path / "server", extra_args=store_args(POSTGRES_URL, schema))

    def stop():
        subprocess.run(["pg_ctlcluster", version, name, "stop", "-m", "fast"], check=True)

    def start():
        subprocess.run(["pg_ctlcluster", version, name, "start"], check=True)

    try:
        outage_under_load(server, stop, start)
    finally:
        stop_and_check(server)
        subprocess.run(["pg_ctlcluster", version, name, "start"], capture_output=True)
    verify_trail(POSTGRES_URL, schema)
