"""A Secrets Manager rotation function written the way AWS's rotation templates are written.

It follows `SecretsManagerRotationTemplate/lambda_function.py` and the single-user RDS templates
from aws-samples/aws-secrets-manager-rotation-lambdas: `lambda_handler` checks the secret's
metadata and the version's staging labels, then dispatches to `create_secret`, `set_secret`,
`test_secret` and `finish_secret`. The secret is a JSON object with at least `username` and
`password`; the "database" whose password it rotates is a `FakeTarget` the test owns.

Because the target (and optional failure injection) belong to a test, the handler is built by
`make_handler(target, ...)`, which returns a `lambda_handler(event, context)` closure to register
with `LambdaHarness`. Like the templates, the handler builds its client per invocation with
`boto3.client('secretsmanager', endpoint_url=os.environ['SECRETS_MANAGER_ENDPOINT'])`, taking
credentials and region from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_DEFAULT_REGION;
pass `client_factory` to build it differently. Nothing here logs a secret value.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any, Callable, MutableMapping

import boto3

__all__ = [
    "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS", "STEPS",
    "FakeConnection", "FakeTarget", "InjectedFailure",
    "create_secret", "default_client_factory", "finish_secret", "get_connection",
    "get_secret_dict", "make_handler", "set_secret", "test_secret",
]

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

AWSCURRENT = "AWSCURRENT"
AWSPENDING = "AWSPENDING"
AWSPREVIOUS = "AWSPREVIOUS"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
DEFAULT_EXCLUDE_CHARACTERS = "/@\"'\\"  # the templates' default for EXCLUDE_CHARACTERS


class InjectedFailure(Exception):
    """Raised by a handler when the test asked (via `fail_steps`) for a step to fail."""


# -- the "target system" ---------------------------------------------------------------------------


class FakeTarget:
    """A stand-in for the database whose password is rotated: username -> password, thread-safe.

    `password_changes` lists the usernames whose password `set_secret` changed, in order, and
    `login_attempts` counts logins; neither records passwords."""

    def __init__(self, users: dict[str, str] | None = None):
        self._lock = threading.Lock()
        self._users: dict[str, str] = dict(users or {})
        self.password_changes: list[str] = []
        self.login_attempts = 0

    def add_user(self, username: str, password: str) -> None:
        with self._lock:
            self._users[username] = password

    def login(self, username: str, password: str) -> bool:
        with self._lock:
            self.login_attempts += 1
            return username in self._users and self._users[username] == password

    def set_password(self, username: str, password: str) -> None:
        with self._lock:
            if username not in self._users:
                raise KeyError(f"no such user {username!r}")
            self._users[username] = password
            self.password_changes.append(username)

    def password_of(self, username: str) -> str | None:
        with self._lock:
            return self._users.get(username)

    def __repr__(self) -> str:  # never show passwords
        with self._lock:
            return f"FakeTarget(users={sorted(self._users)})"


class FakeConnection:
    """A session on the target, opened by `get_connection` with a working username/password."""

    def __init__(self, target: FakeTarget, username: str):
        self._target = target
        self.username = username

    def set_password(self, password: str) -> None:
        """The equivalent of `ALTER USER ... IDENTIFIED BY ...` for the connected user."""
        self._target.set_password(self.username, password)

    def close(self) -> None:
        pass


def get_connection(target: FakeTarget, secret_dict: dict) -> FakeConnection | None:
    """Tries to log into the target with the secret's credentials; None if they do not work."""
    if target.login(secret_dict["username"], secret_dict["password"]):
        return FakeConnection(target, secret_dict["username"])
    return None


# -- the handler --------------------------------------------------------------------------------


def default_client_factory():
    """The templates' client: Secrets Manager at $SECRETS_MANAGER_ENDPOINT, env credentials."""
    # A fresh Session per call rather than boto3.client(): the harness runs handlers on several
    # threads, and boto3's shared default session is not thread-safe to create clients from.
    return boto3.session.Session().client(
        "secretsmanager", endpoint_url=os.environ["SECRETS_MANAGER_ENDPOINT"])


def make_handler(target: FakeTarget, fail_steps: MutableMapping[str, int] | None = None, *,
                 client_factory: Callable[[], Any] | None = None,
                 exclude_characters: str | None = None,
                 pass_rotation_token: bool = False) -> Callable[[dict, Any], None]:
    """Returns a `lambda_handler(event, context)` rotating the secret's password on `target`.

    `fail_steps` (the test's own dict, e.g. `{"setSecret": 1}`) makes the next N invocations of
    a step raise `InjectedFailure` before doing anything; the count is decremented in place.
    `client_factory()` builds the Secrets Manager client for each invocation (default:
    `default_client_factory`). `exclude_characters` overrides $EXCLUDE_CHARACTERS for
    `get_random_password`. With `pass_rotation_token`, createSecret passes the event's
    `RotationToken` to `put_secret_value` (the classic templates do not)."""
    lock = threading.Lock()
    factory = client_factory or default_client_factory

    def inject_failure(step: str, arn: str) -> None:
        if fail_steps is None:
            return
        with lock:
            remaining = fail_steps.get(step, 0)
            if remaining <= 0:
                return
            fail_steps[step] = remaining - 1
        logger.error("%s: Injected failure for secret %s." % (step, arn))
        raise InjectedFailure("Injected failure at %s for secret %s" % (step, arn))

    def lambda_handler(event: dict, context: Any) -> None:
        """Secrets Manager rotation handler.

        Args:
            event (dict): Lambda dictionary of event parameters. These keys must include:
                - SecretId: The secret ARN or identifier
                - ClientRequestToken: The ClientRequestToken of the secret version
                - Step: The rotation step (createSecret, setSecret, testSecret or finishSecret)
            context (LambdaContext): The Lambda runtime information

        Raises:
            ResourceNotFoundException: If the secret with the specified arn and stage does not exist
            ValueError: If the secret is not properly configured for rotation
            KeyError: If the secret JSON lacks a required field
        """
        arn = event["SecretId"]
        token = event["ClientRequestToken"]
        step = event["Step"]

        inject_failure(step, arn)

        # Setup the client
        service_client = factory()

        # Make sure the version is staged correctly
        metadata = service_client.describe_secret(SecretId=arn)
        if not metadata.get("RotationEnabled"):
            logger.error("Secret %s is not enabled for rotation" % arn)
            raise ValueError("Secret %s is not enabled for rotation" % arn)
        versions = metadata.get("VersionIdsToStages", {})
        if token not in versions:
            logger.error("Secret version %s has no stage for rotation of secret %s." % (token, arn))
            raise ValueError("Secret version %s has no stage for rotation of secret %s." % (token, arn))
        if AWSCURRENT in versions[token]:
            logger.info("Secret version %s already set as AWSCURRENT for secret %s." % (token, arn))
            return
        elif AWSPENDING not in versions[token]:
            logger.error("Secret version %s not set as AWSPENDING for rotation of secret %s." % (token, arn))
            raise ValueError("Secret version %s not set as AWSPENDING for rotation of secret %s." % (token, arn))

        if step == "createSecret":
            rotation_token = event.get("RotationToken") if pass_rotation_token else None
            create_secret(service_client, arn, token, exclude_characters, rotation_token)
        elif step == "setSecret":
            set_secret(service_client, arn, token, target)
        elif step == "testSecret":
            test_secret(service_client, arn, token, target)
        elif step == "finishSecret":
            finish_secret(service_client, arn, token)
        else:
            logger.error("lambda_handler: Invalid step parameter %s for secret %s" % (step, arn))
            raise ValueError("Invalid step parameter %s for secret %s" % (step, arn))

    return lambda_handler


# -- the steps ----------------------------------------------------------------------------------


def create_secret(service_client, arn: str, token: str, exclude_characters: str | None = None,
                  rotation_token: str | None = None) -> None:
    """Generate a new secret

    Checks that AWSCURRENT exists, then, unless the AWSPENDING version for `token` already has a
    value, puts a copy of the current secret with a new random password as AWSPENDING.
    """
    # Make sure the current secret exists
    current_dict = get_secret_dict(service_client, arn, AWSCURRENT)

    # Now try to get the secret version, if that fails, put a new secret
    try:
        get_secret_dict(service_client, arn, AWSPENDING, token)
        logger.info("createSecret: Successfully retrieved secret for %s." % arn)
    except service_client.exceptions.ResourceNotFoundException:
        # Get exclude characters from environment variable
        if exclude_characters is None:
            exclude_characters = os.environ.get("EXCLUDE_CHARACTERS", DEFAULT_EXCLUDE_CHARACTERS)
        # Generate a random password
        passwd = service_client.get_random_password(ExcludeCharacters=exclude_characters)
        current_dict["password"] = passwd["RandomPassword"]

        # Put the secret
        kwargs = {}
        if rotation_token:
            kwargs["RotationToken"] = rotation_token
        service_client.put_secret_value(SecretId=arn, ClientRequestToken=token,
                                        SecretString=json.dumps(current_dict),
                                        VersionStages=[AWSPENDING], **kwargs)
        logger.info("createSecret: Successfully put secret for ARN %s and version %s." % (arn, token))


def set_secret(service_client, arn: str, token: str, target: FakeTarget) -> None:
    """Set the secret

    Sets the AWSPENDING password on the target, logging in with the pending, current or previous
    credentials (in that order) as the RDS templates do.
    """
    current_dict = get_secret_dict(service_client, arn, AWSCURRENT)
    pending_dict = get_secret_dict(service_client, arn, AWSPENDING, token)

    # First try to login with the pending secret, if it succeeds, return
    conn = get_connection(target, pending_dict)
    if conn:
        conn.close()
        logger.info("setSecret: AWSPENDING secret is already set as password in target for secret arn %s." % arn)
        return

    # Make sure the user from current and pending match
    if current_dict["username"] != pending_dict["username"]:
        logger.error("setSecret: Attempting to modify user %s other than current user %s"
                     % (pending_dict["username"], current_dict["username"]))
        raise ValueError("Attempting to modify user %s other than current user %s"
                         % (pending_dict["username"], current_dict["username"]))

    # Now try the current password
    conn = get_connection(target, current_dict)

    # If both current and pending do not work, try previous
    if not conn:
        try:
            conn = get_connection(target, get_secret_dict(service_client, arn, AWSPREVIOUS))
        except service_client.exceptions.ResourceNotFoundException:
            conn = None

    # If we still don't have a connection, raise a ValueError
    if not conn:
        logger.error("setSecret: Unable to log into target with previous, current, or pending secret of secret arn %s" % arn)
        raise ValueError("Unable to log into target with previous, current, or pending secret of secret arn %s" % arn)

    # Now set the password to the pending password
    try:
        conn.set_password(pending_dict["password"])
        logger.info("setSecret: Successfully set password for user %s in target for secret arn %s."
                    % (pending_dict["username"], arn))
    finally:
        conn.close()


def test_secret(service_client, arn: str, token: str, target: FakeTarget) -> None:
    """Test the secret

    Logs into the target with the AWSPENDING secret.
    """
    conn = get_connection(target, get_secret_dict(service_client, arn, AWSPENDING, token))
    if conn:
        conn.close()
        logger.info("testSecret: Successfully signed into target with AWSPENDING secret in %s." % arn)
        return
    logger.error("testSecret: Unable to log into target with pending secret of secret ARN %s" % arn)
    raise ValueError("Unable to log into target with pending secret of secret ARN %s" % arn)


# pytest would otherwise collect `test_secret` wherever a test module imports it by name.
test_secret.__test__ = False


def finish_secret(service_client, arn: str, token: str) -> None:
    """Finish the secret

    Moves AWSCURRENT to the version `token` (Secrets Manager moves AWSPREVIOUS itself).
    """
    # First describe the secret to get the current version
    metadata = service_client.describe_secret(SecretId=arn)
    current_version = None
    for version in metadata["VersionIdsToStages"]:
        if AWSCURRENT in metadata["VersionIdsToStages"][version]:
            if version == token:
                # The correct version is already marked as current, return
                logger.info("finishSecret: Version %s already marked as AWSCURRENT for %s" % (version, arn))
                return
            current_version = version
            break

    # Finalize by staging the secret version current
    service_client.update_secret_version_stage(SecretId=arn, VersionStage=AWSCURRENT,
                                               MoveToVersionId=token,
                                               RemoveFromVersionId=current_version)
    logger.info("finishSecret: Successfully set AWSCURRENT stage to version %s for secret %s." % (token, arn))


def get_secret_dict(service_client, arn: str, stage: str, token: str | None = None) -> dict:
    """Gets the secret dictionary corresponding for the secret arn, stage, and token

    Raises:
        ResourceNotFoundException: If the secret with the specified arn and stage does not exist
        ValueError: If the secret is not valid JSON
        KeyError: If the secret json does not contain the expected keys
    """
    required_fields = ["username", "password"]

    # Only do VersionId validation against the stage if a token is passed in
    if token:
        secret = service_client.get_secret_value(SecretId=arn, VersionId=token, VersionStage=stage)
    else:
        secret = service_client.get_secret_value(SecretId=arn, VersionStage=stage)
    plaintext = secret["SecretString"]
    try:
        secret_dict = json.loads(plaintext)
    except ValueError:
        # Do not chain the JSON error: its message quotes the secret text.
        raise ValueError("Secret %s at stage %s is not valid JSON" % (arn, stage)) from None
    if not isinstance(secret_dict, dict):
        raise ValueError("Secret %s at stage %s is not a JSON object" % (arn, stage))

    # Run validations against the secret
    for field in required_fields:
        if field not in secret_dict:
            raise KeyError("%s key is missing from secret JSON" % field)

    return secret_dict
