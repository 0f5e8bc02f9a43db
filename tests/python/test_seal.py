"""The root of trust split into Shamir unseal shares, end to end with the real binary.

`coffer operator init` prints the shares once; a server on that directory starts sealed and
answers every API call with 503 (JSON for Secrets Manager and KMS, XML for IAM and STS) until
`coffer operator unseal` has received the threshold of shares; fewer shares, a mistyped share
or another directory's share do not unseal it; `coffer operator seal` seals it again, and a
restart comes back sealed. Secrets written before sealing read back after unsealing, and no
share ever reaches the log.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.request

import botocore.exceptions
import pytest

from conftest import base_env, coffer_bin, start_server, stop_and_check

SHARE_LINE = re.compile(r"^Unseal share (\d+): (\S+)$", re.M)


def operator(*args: str, input: str | None = None, env: dict[str, str] | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
    full_env = base_env()
    full_env.update(env or {})
    proc = subprocess.run([str(coffer_bin()), "operator", *args], capture_output=True, text=True,
                          input=input, env=full_env, timeout=60)
    if check:
        assert proc.returncode == 0, f"coffer operator {args[0]} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def init(data_dir, shares: int = 5, threshold: int = 3) -> list[str]:
    out = operator("init", "--data-dir", str(data_dir), "--key-shares", str(shares),
                   "--key-threshold", str(threshold)).stdout
    found = SHARE_LINE.findall(out)
    assert [int(i) for i, _ in found] == list(range(1, shares + 1)), out
    return [share for _, share in found]


def get(server, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(server.endpoint + path, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def unseal(server, share: str | None = None, *, stdin: str | None = None,
           check: bool = True) -> subprocess.CompletedProcess:
    args = ["unseal", "--endpoint-url", server.endpoint]
    if share is not None:
        args.append(share)
    return operator(*args, input=stdin, check=check)


def status(server) -> dict:
    return json.loads(operator("status", "--endpoint-url", server.endpoint).stdout)


def assert_sealed(server):
    assert get(server, "/health")[0] == 200
    assert get(server, "/ready") == (503, {"status": "sealed"})
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        server.client().list_secrets()
    response = excinfo.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert response["Error"]["Code"] == "ServiceUnavailableException"
    assert "Coffer is sealed" in response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        server.client("kms").list_keys()
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        server.client("sts").get_caller_identity()
    assert excinfo.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_shares_unseal_seal_and_survive_a_restart(tmp_path):
    data_dir = tmp_path / "server" / "data"
    shares = init(data_dir)
    assert not (data_dir / "root.key").exists(), "the root key is written nowhere"
    config = json.loads((data_dir / "seal.json").read_text())
    assert (config["type"], config["shares"], config["threshold"]) == ("shamir", 5, 3)
    # A second init of the same directory is refused.
    again = operator("init", "--data-dir", str(data_dir), check=False)
    assert again.returncode != 0 and "already initialised" in again.stderr

    server = start_server(tmp_path / "server")
    try:
        server.wait_for_stdout(
            lambda lines: any("SEALED: 3 unseal share(s) are needed" in line for line in lines))
        assert_sealed(server)
        assert status(server) == {"sealed": True, "type": "shamir", "threshold": 3, "progress": 0}

        # Two shares (one from the command line, one typed on standard input) are not enough.
        unseal(server, shares[4])
        progress = json.loads(unseal(server, stdin=shares[1] + "\n").stdout)
        assert progress == {"sealed": True, "threshold": 3, "progress": 2}
        assert_sealed(server)
        # A mistyped share, a repeated one, or another directory's are refused.
        mistyped = shares[0][:-3] + ("AAA" if not shares[0].endswith("AAA") else "BBB")
        refused = unseal(server, mistyped, check=False)
        assert refused.returncode != 0 and "not a valid unseal share" in refused.stderr
        refused = unseal(server, shares[4], check=False)
        assert refused.returncode != 0 and "already submitted" in refused.stderr
        assert status(server)["progress"] == 2
        # The third share unseals.
        assert json.loads(unseal(server, shares[2]).stdout) == {"sealed": False}
        assert get(server, "/ready") == (200, {"status": "ready"})
        sm = server.client()
        sm.create_secret(Name="sealed/db", SecretString="survives sealing")
        assert sm.get_secret_value(SecretId="sealed/db")["SecretString"] == "survives sealing"

        # Sealing needs credentials allowed coffer:Seal.
        no_creds = operator("seal", "--endpoint-url", server.endpoint, check=False)
        assert no_creds.returncode != 0 and "credentials" in no_creds.stderr
        wrong = operator("seal", "--endpoint-url", server.endpoint, check=False,
                         env={"AWS_ACCESS_KEY_ID": server.access_key_id,
                              "AWS_SECRET_ACCESS_KEY": "x" * 40})
        assert wrong.returncode != 0 and "403" in wrong.stderr
        admin_env = {"AWS_ACCESS_KEY_ID": server.access_key_id,
                     "AWS_SECRET_ACCESS_KEY": server.secret_access_key}
        sealed = operator("seal", "--endpoint-url", server.endpoint, env=admin_env)
        assert json.loads(sealed.stdout) == {"sealed": True}
        assert_sealed(server)

        # Shares of another directory combine into a key that is not this server's.
        foreign = init(tmp_path / "other" / "data")
        unseal(server, foreign[0])
        unseal(server, foreign[1])
        refused = unseal(server, foreign[2], check=False)
        assert refused.returncode != 0 and "do not recombine" in refused.stderr
        assert status(server)["progress"] == 0
        assert_sealed(server)

        for share in shares[:3]:
            unseal(server, share)
        assert sm.get_secret_value(SecretId="sealed/db")["SecretString"] == "survives sealing"
    finally:
        stop_and_check(server)

    # A restart starts sealed again; the same shares unseal it.
    server = start_server(tmp_path / "server")
    try:
        assert_sealed(server)
        for share in (shares[3], shares[0], shares[1]):
            unseal(server, share)
        assert server.client().get_secret_value(SecretId="sealed/db")["SecretString"] == \
            "survives sealing"
        log = server.log()
        for share in shares + foreign:
            assert share not in log
        assert "survives sealing" not in log
    finally:
        stop_and_check(server)


def test_a_key_file_server_cannot_be_sealed(coffer):
    status_code, body = get(coffer, "/coffer/operator/status")
    assert (status_code, body) == (200, {"sealed": False, "type": "key"})
    refused = operator("seal", "--endpoint-url", coffer.endpoint, check=False,
                       env={"AWS_ACCESS_KEY_ID": coffer.access_key_id,
                            "AWS_SECRET_ACCESS_KEY": coffer.secret_access_key})
    assert refused.returncode != 0 and "key file" in refused.stderr
    assert get(coffer, "/ready")[0] == 200


def test_root_key_from_a_command(tmp_path):
    """The auto-unseal seam: a command (an external KMS or HSM client) prints the root key."""
    import base64
    import os

    key = base64.b64encode(os.urandom(32)).decode()
    key_file = tmp_path / "unwrapped.key"
    key_file.write_text(key + "\n")
    command = f"cat {key_file}"
    server = start_server(tmp_path / "server", extra_args=("--root-key-command", command))
    try:
        assert any("root key obtained from --root-key-command" in line
                   for line in server.wait_for_stdout(
                       lambda lines: any("root key" in line for line in lines)))
        server.client().create_secret(Name="cmd/secret", SecretString="v")
    finally:
        stop_and_check(server)
    assert not (tmp_path / "server" / "data" / "root.key").exists()
    # Restarting with another key fails: the command must give back the same key.
    env = base_env()
    env["HOME"] = str(tmp_path)
    wrong = subprocess.run(
        [str(coffer_bin()), "server", "--listen", "127.0.0.1:0", "--data-dir",
         str(tmp_path / "server" / "data"), "--account-id", "111122223333",
         "--root-key-command", "head -c 32 /dev/urandom | base64"],
        capture_output=True, text=True, env=env, timeout=60)
    assert wrong.returncode != 0
    assert "not the root key this data was written with" in wrong.stderr
    failing = subprocess.run(
        [str(coffer_bin()), "server", "--listen", "127.0.0.1:0", "--data-dir",
         str(tmp_path / "server" / "data"), "--account-id", "111122223333",
         "--root-key-command", f"echo {key}; exit 3"],
        capture_output=True, text=True, env=env, timeout=60)
    assert failing.returncode != 0 and "--root-key-command failed" in failing.stderr
    assert key not in failing.stderr + failing.stdout


def test_rotating_the_root_key_file(tmp_path):
    server = start_server(tmp_path / "server")
    data_dir = tmp_path / "server" / "data"
    try:
        server.client().create_secret(Name="rotate/db", SecretString="before rotation")
        kms = server.client("kms")
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key, Plaintext=b"kms before rotation")["CiphertextBlob"]
        # Not while the server runs: the data directory is locked.
        busy = operator("rotate-root-key", "--data-dir", str(data_dir), check=False)
        assert busy.returncode != 0 and "another coffer server" in busy.stderr
    finally:
        stop_and_check(server)
    old_key = (data_dir / "root.key").read_text()
    rotated = operator("rotate-root-key", "--data-dir", str(data_dir))
    assert "Root key rotated" in rotated.stdout
    new_key = (data_dir / "root.key").read_text()
    assert new_key != old_key and old_key.strip() not in rotated.stdout + rotated.stderr
    assert not (data_dir / "root.key.new").exists()

    server = start_server(tmp_path / "server")
    try:
        assert server.client().get_secret_value(SecretId="rotate/db")["SecretString"] == \
            "before rotation"
        assert server.client("kms").decrypt(CiphertextBlob=blob)["Plaintext"] == \
            b"kms before rotation"
    finally:
        stop_and_check(server)
