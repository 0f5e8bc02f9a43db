"""The unchanged `aws` CLI against a real Coffer: the README quick start, errors, pagination and
one call of each everyday operation."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from conftest import REPO, clean_cli_env, start_server, stop_and_check

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ARN_RE = re.compile(r"^(arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+)-([A-Za-z0-9]{6})$")
# The CLI's exit code for a service error: v1 exits 255, v2 254.
SERVICE_ERROR_EXIT = (254, 255)
NOT_FOUND = ("An error occurred (ResourceNotFoundException) when calling the GetSecretValue "
             "operation: Secrets Manager can't find the specified secret.")
BAD_SIGNATURE = ("An error occurred (InvalidSignatureException) when calling the GetSecretValue "
                 "operation: The request signature we calculated does not match the signature you "
                 "provided. Check your AWS Secret Access Key and signing method. Consult the service "
                 "documentation for details.")


# --------------------------------------------------------------------------------------------
# README quick start
# --------------------------------------------------------------------------------------------

def quickstart_steps() -> list[tuple[str, str]]:
    """The README's quick-start block as (command, expected output) pairs."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- quickstart:begin -->\n(.*?)<!-- quickstart:end -->", readme, re.S)
    assert match, "README.md has no <!-- quickstart:begin --> ... <!-- quickstart:end --> block"
    lines = [line for line in match.group(1).splitlines() if not line.startswith("```")]
    steps: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"quick-start output line before any command: {line!r}"
            steps[-1][1].append(line)
    assert steps, "the quick-start block has no commands"
    return [(command, "\n".join(output).strip()) for command, output in steps]


class Varying:
    """Maps each per-run value of the README (ARN suffix, VersionId) to the value this run got,
    so that the same README value must correspond to the same actual value everywhere."""

    def __init__(self):
        self.seen: dict[tuple[str, str], str] = {}

    def same(self, kind: str, expected: str, actual: str, where: str) -> None:
        key = (kind, expected)
        if key in self.seen:
            assert actual == self.seen[key], (
                f"{where}: README uses one {kind} {expected!r} in several places, but this run "
                f"returned both {self.seen[key]!r} and {actual!r}")
        else:
            self.seen[key] = actual


def compare_quickstart_json(expected: dict, actual: dict, varying: Varying, where: str) -> None:
    assert set(actual) == set(expected), (
        f"{where}: keys differ: README has {sorted(expected)}, server returned {sorted(actual)}")
    for key, want in expected.items():
        got = actual[key]
        if key == "ARN":
            want_match, got_match = ARN_RE.match(want), ARN_RE.match(got)
            assert want_match, f"{where}: README ARN {want!r} has no 6-character suffix"
            assert got_match, f"{where}: ARN {got!r} does not end in -<6 alphanumerics>"
            assert got_match.group(1) == want_match.group(1), f"{where}: ARN {got!r} vs README {want!r}"
            varying.same("ARN suffix", want_match.group(2), got_match.group(2), where)
        elif key == "VersionId":
            assert isinstance(got, str) and UUID_RE.match(got), f"{where}: VersionId {got!r} is not a UUID"
            varying.same("VersionId", want, got, where)
        elif key.endswith("Date"):
            assert isinstance(got, (int, float)) and not isinstance(got, bool), (
                f"{where}: {key} must be an epoch number, got {got!r}")
        else:
            assert got == want, f"{where}: {key} is {got!r}, README shows {want!r}"


@pytest.fixture
def dev_server(tmp_path):
    """A fresh `coffer server --dev` of its own: the quick start uses a fixed secret name."""
    server = start_server(tmp_path / "dev", dev=True)
    yield server
    stop_and_check(server)


def test_readme_quickstart_replays(dev_server, tmp_path):
    steps = quickstart_steps()
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = clean_cli_env(tmp_path / "cli")
    exported: dict[str, str] = {}
    varying = Varying()
    ran_json = 0
    for command, expected in steps:
        export = re.fullmatch(r"export ([A-Z_][A-Z0-9_]*)=(\S*)", command)
        if export:
            name, value = export.groups()
            exported[name] = value
            env[name] = dev_server.endpoint if name == "AWS_ENDPOINT_URL" else value
            assert expected == "", f"`{command}` shows output in the README: {expected!r}"
            continue
        proc = subprocess.run(["bash", "-c", command], env=env, cwd=workdir, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0, (f"`{command}` exited {proc.returncode}\n"
                                      f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        if expected.startswith(("{", "[")):
            try:
                actual = json.loads(proc.stdout)
            except json.JSONDecodeError as e:
                pytest.fail(f"`{command}` printed no JSON ({e}):\n{proc.stdout}\nstderr:\n{proc.stderr}")
            compare_quickstart_json(json.loads(expected), actual, varying, f"`{command}`")
            ran_json += 1
        else:
            assert proc.stdout.strip() == expected, f"`{command}` output differs from the README"
    assert ran_json >= 2, "the quick start should show at least the create and get outputs"

    # The README says to paste the export lines the dev server prints: they must be the same
    # lines (only the port differs).
    printed_lines = dev_server.wait_for_stdout(
        lambda lines: sum(line.startswith("export ") for line in lines) >= len(exported))
    printed = dict(re.fullmatch(r"export ([A-Z_][A-Z0-9_]*)=(\S*)", line.strip()).groups()
                   for line in printed_lines if line.startswith("export "))
    assert printed.pop("AWS_ENDPOINT_URL") == dev_server.endpoint
    readme_exports = dict(exported)
    readme_exports.pop("AWS_ENDPOINT_URL", None)
    assert printed == readme_exports


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------

def test_cli_missing_secret_is_resource_not_found(aws, unique_name):
    proc = aws.run("secretsmanager", "get-secret-value", "--secret-id", unique_name("missing"))
    assert proc.returncode in SERVICE_ERROR_EXIT, proc
    assert proc.stdout == ""
    assert proc.stderr.strip() == NOT_FOUND


def test_cli_wrong_secret_key_is_invalid_signature(aws, coffer, unique_name):
    wrong = ("A" if coffer.secret_access_key[0] != "A" else "B") + coffer.secret_access_key[1:]
    proc = aws.run("secretsmanager", "get-secret-value", "--secret-id", unique_name("any"),
                   env={"AWS_SECRET_ACCESS_KEY": wrong})
    assert proc.returncode in SERVICE_ERROR_EXIT, proc
    assert proc.stderr.strip() == BAD_SIGNATURE


# --------------------------------------------------------------------------------------------
# Pagination
# --------------------------------------------------------------------------------------------

def test_cli_list_secrets_paginates(aws, sm, unique_name):
    prefix = unique_name("cli-page")
    names = [f"{prefix}/s{i}" for i in range(7)]
    for name in names:
        sm.create_secret(Name=name, SecretString="v")
    name_filter = ["--filters", f"Key=name,Values={prefix}/"]

    # Auto-pagination: pages of 2 (four ListSecrets calls) still print every secret once.
    listed = aws.json("secretsmanager", "list-secrets", *name_filter, "--page-size", "2")
    assert sorted(s["Name"] for s in listed["SecretList"]) == names
    assert "NextToken" not in listed

    # --max-items truncates and hands out a token; --starting-token resumes without duplicates.
    seen, token, rounds = [], None, 0
    while True:
        args = ["secretsmanager", "list-secrets", *name_filter, "--page-size", "2", "--max-items", "3"]
        if token:
            args += ["--starting-token", token]
        page = aws.json(*args)
        assert len(page["SecretList"]) <= 3
        seen += [s["Name"] for s in page["SecretList"]]
        token = page.get("NextToken")
        rounds += 1
        if not token:
            break
        assert rounds < 5
    assert rounds == 3
    assert sorted(seen) == names and len(seen) == len(set(seen))


# --------------------------------------------------------------------------------------------
# One call of each everyday operation
# --------------------------------------------------------------------------------------------

def test_cli_versions_and_labels(aws, sm, unique_name):
    name = unique_name("cli-versions")
    v1 = sm.create_secret(Name=name, SecretString="one")["VersionId"]

    put = aws.json("secretsmanager", "put-secret-value", "--secret-id", name,
                   "--secret-string", "two", "--version-stages", "AWSPENDING")
    v2 = put["VersionId"]
    assert UUID_RE.match(v2) and put["Name"] == name
    assert put["VersionStages"] == ["AWSPENDING"]
    assert set(put) == {"ARN", "Name", "VersionId", "VersionStages"}

    moved = aws.json("secretsmanager", "update-secret-version-stage", "--secret-id", name,
                     "--version-stage", "AWSCURRENT", "--remove-from-version-id", v1,
                     "--move-to-version-id", v2)
    assert set(moved) == {"ARN", "Name"} and moved["Name"] == name

    versions = aws.json("secretsmanager", "list-secret-version-ids", "--secret-id", name)
    assert versions["Name"] == name and versions["ARN"] == put["ARN"]
    stages = {v["VersionId"]: set(v["VersionStages"]) for v in versions["Versions"]}
    assert stages == {v1: {"AWSPREVIOUS"}, v2: {"AWSCURRENT", "AWSPENDING"}}
    for entry in versions["Versions"]:
        assert entry["KmsKeyIds"] == ["DefaultEncryptionKey"]
        assert isinstance(entry["CreatedDate"], (int, float))

    value = aws.json("secretsmanager", "get-secret-value", "--secret-id", name)
    assert value["SecretString"] == "two" and value["VersionId"] == v2


def test_cli_delete_and_restore(aws, sm, unique_name):
    name = unique_name("cli-delete")
    arn = sm.create_secret(Name=name, SecretString="x")["ARN"]
    deleted = aws.json("secretsmanager", "delete-secret", "--secret-id", name,
                       "--recovery-window-in-days", "7")
    assert deleted["ARN"] == arn and deleted["Name"] == name
    assert isinstance(deleted["DeletionDate"], (int, float))
    assert "DeletedDate" in sm.describe_secret(SecretId=name)

    restored = aws.json("secretsmanager", "restore-secret", "--secret-id", arn)
    assert restored == {"ARN": arn, "Name": name}
    assert "DeletedDate" not in sm.describe_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "x"


def test_cli_tag_and_untag(aws, sm, unique_name):
    name = unique_name("cli-tags")
    sm.create_secret(Name=name, SecretString="x")
    tagged = aws.run("secretsmanager", "tag-resource", "--secret-id", name,
                     "--tags", "Key=team,Value=core", "Key=env,Value=prod", check=True)
    assert tagged.stdout.strip() == ""  # void operation: empty body, nothing printed
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=name)["Tags"]}
    assert tags == {"team": "core", "env": "prod"}

    untagged = aws.run("secretsmanager", "untag-resource", "--secret-id", name,
                       "--tag-keys", "team", check=True)
    assert untagged.stdout.strip() == ""
    assert sm.describe_secret(SecretId=name)["Tags"] == [{"Key": "env", "Value": "prod"}]


def test_cli_get_random_password(aws):
    out = aws.json("secretsmanager", "get-random-password", "--password-length", "40",
                   "--exclude-punctuation", "--exclude-characters", "abcXYZ01")
    password = out["RandomPassword"]
    assert set(out) == {"RandomPassword"}
    assert len(password) == 40
    assert password.isalnum() and password.isascii()
    assert not set(password) & set("abcXYZ01")
    # RequireEachIncludedType defaults to true: lower, upper and digits are all present.
    assert any(c.islower() for c in password)
    assert any(c.isupper() for c in password)
    assert any(c.isdigit() for c in password)
