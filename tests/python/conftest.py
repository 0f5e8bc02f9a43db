"""Fixtures for the Python suite: a real `coffer` binary, boto3 clients and the `aws` CLI.

The server under test is the binary named by `COFFER_BIN` (default `<repo>/target/debug/coffer`;
build it with `cargo build -p coffer --locked`). One server serves the whole session on a free
loopback port with a fresh data directory and random administrator credentials; its stderr log
is captured to a file so tests can inspect it. Tests use unique secret names (`unique_name`), so
they do not depend on each other or on their order.

With `COFFER_TEST_STORE=postgres` the whole suite runs against PostgreSQL instead of the
embedded store: every server a test starts gets `--store <COFFER_TEST_POSTGRES_URL>` (default
`postgres://postgres@127.0.0.1:5432/postgres`), a schema of its own (`--store-schema`, one per
data directory, so a test that restarts a server finds its data again; all dropped at the end
of the session) and the session's root key file. Tests that need the embedded store itself
(the SQLite file, unseal shares, the data directory's lock) are skipped in that mode, with the
reason; the PostgreSQL-only tests (`test_multinode.py`, `test_postgres_restart.py`) run only in
it.
"""

from __future__ import annotations

import json
import os
import queue
import re
import secrets
import signal
import string
import subprocess
import sys
import sysconfig
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import botocore.config
import pytest
import base64
import shutil
import tempfile

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / "target" / "debug" / "coffer"
REGION = "us-east-1"
ACCOUNT_ID = "111122223333"
LISTENING = re.compile(r"^coffer (\S+) listening on (http://\S+)$")
STARTUP_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 30.0
CLI_TIMEOUT = 60.0

# Which store the servers run on: "embedded" (the default) or "postgres".
STORE_MODE = os.environ.get("COFFER_TEST_STORE", "embedded")
POSTGRES_URL = os.environ.get("COFFER_TEST_POSTGRES_URL",
                              "postgres://postgres@127.0.0.1:5432/postgres")
# Schemas this suite creates start with this; a later run drops those a crashed run left.
SCHEMA_PREFIX = "coffer_pytest_"
ABANDONED_SCHEMA_SECONDS = 30 * 60

# Tests that need the embedded store itself, skipped with COFFER_TEST_STORE=postgres.
EMBEDDED_ONLY = {
    "test_audit.py::test_no_secret_value_reaches_the_trail_its_sinks_or_the_logs":
        "reads the audit trail out of the SQLite file",
    "test_audit.py::test_verify_catches_each_kind_of_tampering":
        "tampers with the SQLite file",
    "test_seal.py::test_shares_unseal_seal_and_survive_a_restart":
        "unseal shares (a PostgreSQL store refuses `coffer operator init`)",
    "test_seal.py::test_root_key_from_a_command":
        "restarts the data directory's store by hand, without --store",
    "test_seal.py::test_rotating_the_root_key_file":
        "rotates the root key of the data directory's store (`--data-dir`)",
    "test_metrics.py::test_sealed_follows_seal_and_unseal_and_counts_survive":
        "needs a data directory sealed with unseal shares (refused on PostgreSQL)",
}


def postgres_mode() -> bool:
    return STORE_MODE == "postgres"


def psql(sql: str, *, url: str | None = None, check: bool = True) -> str:
    """Runs SQL through the `psql` client (no Python driver needed); returns its output."""
    proc = subprocess.run(["psql", url or POSTGRES_URL, "-X", "-q", "-A", "-t", "-v",
                           "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True,
                          timeout=60)
    if check:
        assert proc.returncode == 0, f"psql failed: {proc.stderr}"
    return proc.stdout


_schema_counter = iter(range(1_000_000))
# Every schema this session made, so that the end of the session drops them.
_created_schemas: list[str] = []
# Data directory -> its schema: a server restarted on the same directory finds its data.
_schema_of_dir: dict[str, str] = {}


def new_schema() -> str:
    """A schema name no other run uses (created by the first server that names it); dropped
    at the end of the session."""
    name = f"{SCHEMA_PREFIX}{int(time.time())}_{os.getpid()}_{next(_schema_counter)}"
    _created_schemas.append(name)
    return name


def drop_schema(name: str) -> None:
    psql(f"DROP SCHEMA IF EXISTS {name} CASCADE", check=False)


def _sweep_abandoned_schemas() -> None:
    rows = psql(f"SELECT nspname FROM pg_namespace WHERE nspname LIKE '{SCHEMA_PREFIX}%'",
                check=False)
    cutoff = time.time() - ABANDONED_SCHEMA_SECONDS
    for name in rows.split():
        try:
            created = int(name[len(SCHEMA_PREFIX):].split("_")[0])
        except ValueError:
            continue
        if created < cutoff:
            drop_schema(name)


_root_key_dir: str | None = None


def session_root_key_file() -> Path:
    """The root key every PostgreSQL-mode server of this session uses (a key file)."""
    global _root_key_dir
    if _root_key_dir is None:
        _root_key_dir = tempfile.mkdtemp(prefix="coffer-pytest-key-")
    path = Path(_root_key_dir) / "root.key"
    if not path.exists():
        path.write_text(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
        path.chmod(0o600)
    return path


def postgres_args(schema: str) -> list[str]:
    return ["--store", POSTGRES_URL, "--store-schema", schema]


def pytest_sessionstart(session):
    if postgres_mode():
        _sweep_abandoned_schemas()


def pytest_sessionfinish(session, exitstatus):
    for name in _created_schemas:
        drop_schema(name)
    if _root_key_dir is not None:
        shutil.rmtree(_root_key_dir, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    postgres_only = ("test_multinode.py", "test_postgres_restart.py")
    for item in items:
        file_name = item.nodeid.split("/")[-1]
        if postgres_mode():
            for prefix, reason in EMBEDDED_ONLY.items():
                if file_name == prefix or file_name.startswith(prefix + "::"):
                    item.add_marker(pytest.mark.skip(reason=f"embedded store only: {reason}"))
        elif file_name.split("::")[0] in postgres_only:
            item.add_marker(pytest.mark.skip(
                reason="needs PostgreSQL: run with COFFER_TEST_STORE=postgres"))


# Administrator credentials for the session's server, fresh for each run.
_ALNUM_UPPER = string.ascii_uppercase + string.digits
_SECRET_CHARS = string.ascii_letters + string.digits + "/+"


def random_access_key_id() -> str:
    return "AKIA" + "".join(secrets.choice(_ALNUM_UPPER) for _ in range(16))


def random_secret_access_key() -> str:
    return "".join(secrets.choice(_SECRET_CHARS) for _ in range(40))


def coffer_bin() -> Path:
    path = Path(os.environ.get("COFFER_BIN") or DEFAULT_BIN)
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"the coffer binary is missing: {path} is not an executable file. Build it with "
            f"`cargo build -p coffer --locked` from {REPO}, or point COFFER_BIN at a built binary.",
            pytrace=False,
        )
    return path


@dataclass
class CofferServer:
    """A running `coffer server` process, started by `start()` and stopped by `stop()`."""

    args: list[str]
    env: dict[str, str]
    log_path: Path
    access_key_id: str
    secret_access_key: str
    region: str = REGION
    account_id: str = ACCOUNT_ID
    endpoint: str = ""
    version: str = ""
    stdout_lines: list[str] = field(default_factory=list)
    _proc: subprocess.Popen | None = None
    _lines: "queue.Queue[str | None]" = field(default_factory=queue.Queue)

    def start(self) -> "CofferServer":
        binary = coffer_bin()
        self._log = open(self.log_path, "wb")
        self._proc = subprocess.Popen(
            [str(binary), *self.args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=self.env,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        # Drain stdout for the server's whole life so that it never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                pytest.fail(f"coffer did not print its listening line within {STARTUP_TIMEOUT:.0f}s;"
                            f" log:\n{self.log()}", pytrace=False)
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                code = self._proc.wait()
                pytest.fail(f"coffer exited with code {code} before listening; stdout:\n"
                            + "\n".join(self.stdout_lines) + f"\nlog:\n{self.log()}", pytrace=False)
            match = LISTENING.match(line)
            if match:
                self.version, self.endpoint = match.group(1), match.group(2)
                return self

    def _drain(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for raw in self._proc.stdout:
            line = raw.rstrip("\n")
            self.stdout_lines.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def wait_for_stdout(self, predicate, timeout: float = 10.0) -> list[str]:
        """Waits until `predicate(lines)` holds for the stdout lines printed so far."""
        deadline = time.monotonic() + timeout
        while not predicate(list(self.stdout_lines)):
            if time.monotonic() > deadline:
                raise AssertionError("coffer's stdout never satisfied the condition; stdout:\n"
                                     + "\n".join(self.stdout_lines))
            time.sleep(0.02)
        return list(self.stdout_lines)

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        """Sends SIGTERM and returns the exit code; kills the server if it outlives the timeout."""
        assert self._proc is not None
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
        try:
            code = self._proc.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._kill()
            raise AssertionError(f"coffer did not exit within {SHUTDOWN_TIMEOUT:.0f}s of SIGTERM;"
                                 f" log:\n{self.log()}")
        finally:
            self._log.close()
        return code

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def client(self, service: str = "secretsmanager", **overrides):
        """A boto3 client for this server, with retries disabled."""
        kwargs = dict(
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=botocore.config.Config(retries={"total_max_attempts": 1}, connect_timeout=5,
                                          read_timeout=30),
        )
        kwargs.update(overrides)
        return boto3.session.Session().client(service, **kwargs)


def base_env() -> dict[str, str]:
    """The environment every child process starts from: nothing AWS_* or COFFER_* leaks in."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "COFFER_", "BOTO_")) and k not in ("HOME",)}
    # Prefer the console scripts of the Python running the tests (where pip put `aws`).
    scripts = sysconfig.get_path("scripts")
    env["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")
    return env


def start_server(tmp: Path, *, extra_args: tuple[str, ...] = (), dev: bool = False,
                 extra_env: dict[str, str] | None = None) -> CofferServer:
    tmp.mkdir(parents=True, exist_ok=True)
    env = base_env()
    env["HOME"] = str(tmp)
    env.update(extra_env or {})
    if dev:
        args = ["server", "--dev", "--listen", "127.0.0.1:0", *extra_args]
        key_id, secret = "AKIACOFFERDEVKEY0001", "cofferDevSecretKey/DoNotUseInProduction0"
        account = "000000000000"
    else:
        key_id, secret = random_access_key_id(), random_secret_access_key()
        env["COFFER_ADMIN_ACCESS_KEY_ID"] = key_id
        env["COFFER_ADMIN_SECRET_ACCESS_KEY"] = secret
        args = ["server", "--listen", "127.0.0.1:0", "--data-dir", str(tmp / "data"),
                "--region", REGION, "--account-id", ACCOUNT_ID, *extra_args]
        account = ACCOUNT_ID
        if postgres_mode() and "--store" not in extra_args:
            key = str(tmp.resolve())
            if key not in _schema_of_dir:
                _schema_of_dir[key] = new_schema()
            args += postgres_args(_schema_of_dir[key])
            if not {"--root-key", "--root-key-command"} & set(extra_args) \
                    and "COFFER_ROOT_KEY" not in env and "COFFER_ROOT_KEY_COMMAND" not in env:
                args += ["--root-key", str(session_root_key_file())]
    server = CofferServer(args=args, env=env, log_path=tmp / "coffer.log", access_key_id=key_id,
                          secret_access_key=secret, account_id=account)
    return server.start()


def stop_and_check(server: CofferServer) -> None:
    code = server.stop()
    assert code == 0, f"coffer exited with code {code} after SIGTERM; log:\n{server.log()}"


@pytest.fixture(scope="session")
def coffer(tmp_path_factory) -> CofferServer:
    """The session's server: endpoint, credentials, region, account and its captured log.

    It logs at `debug` (one line per request) so that the leak checks read the most verbose log
    an operator would run with."""
    server = start_server(tmp_path_factory.mktemp("coffer"), extra_args=("--log", "debug"))
    yield server
    stop_and_check(server)


@pytest.fixture(scope="session")
def sm(coffer):
    """A boto3 Secrets Manager client for the session's server, retries disabled."""
    return coffer.client()


@pytest.fixture
def unique_name(request):
    """Returns a function making secret names unique to this test run: `<prefix>-<uuid>`."""
    test = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-")[:40]

    def make(prefix: str = "") -> str:
        return f"{prefix or 'pytest'}/{test}-{uuid.uuid4().hex[:12]}"

    return make


@dataclass
class AwsCli:
    """Runs the `aws` CLI in a clean environment against one server."""

    env: dict[str, str]
    cwd: Path

    def run(self, *args: str, env: dict[str, str] | None = None, check: bool | None = None,
            input: str | None = None) -> subprocess.CompletedProcess:
        full_env = dict(self.env)
        full_env.update(env or {})
        proc = subprocess.run(["aws", *args], env=full_env, cwd=self.cwd, capture_output=True,
                              text=True, timeout=CLI_TIMEOUT, input=input)
        if check:
            assert proc.returncode == 0, (f"aws {' '.join(args)} exited {proc.returncode}\n"
                                          f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

    def json(self, *args: str, **kwargs) -> dict:
        """Runs a command that must succeed and returns its JSON output ({} for no output)."""
        proc = self.run(*args, check=True, **kwargs)
        return json.loads(proc.stdout) if proc.stdout.strip() else {}


def clean_cli_env(tmp: Path) -> dict[str, str]:
    """An environment in which the developer's ~/.aws and AWS_* variables cannot interfere."""
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "aws-config"
    credentials = tmp / "aws-credentials"
    config.write_text("")
    credentials.write_text("")
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    env = base_env()
    env.update({
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
        "LC_ALL": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
    })
    return env


def cli_for(server: CofferServer, tmp: Path) -> AwsCli:
    env = clean_cli_env(tmp)
    env.update({
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": server.access_key_id,
        "AWS_SECRET_ACCESS_KEY": server.secret_access_key,
        "AWS_DEFAULT_REGION": server.region,
        "AWS_MAX_ATTEMPTS": "1",
    })
    return AwsCli(env=env, cwd=tmp)


@pytest.fixture
def aws(coffer, tmp_path) -> AwsCli:
    """The `aws` CLI pointed at the session's server (`aws.run(...)`, `aws.json(...)`)."""
    return cli_for(coffer, tmp_path)


def pytest_report_header(config):
    return [f"coffer binary: {os.environ.get('COFFER_BIN') or DEFAULT_BIN}", f"python: {sys.executable}"]
