"""An in-process stand-in for the AWS Lambda Invoke API, for rotation tests.

`LambdaHarness` serves `POST /2015-03-31/functions/<FunctionName>/invocations` on 127.0.0.1 (a
free port, a background thread) and calls Python `lambda_handler(event, context)` callables the
test registers, answering on the wire as AWS Lambda does:

* RequestResponse (the default `X-Amz-Invocation-Type`): 200, the handler's return value as JSON
  (`null` for None), `X-Amz-Executed-Version: $LATEST`. If the handler raises: still 200, with
  `X-Amz-Function-Error: Unhandled` and the Python runtime's error document
  `{"errorMessage", "errorType", "requestId", "stackTrace"}`.
* Event: the handler runs on a background thread; the answer is 202 with an empty body.
* DryRun: 204 with an empty body; the handler is not called.
* Unknown function: 404, `x-amzn-ErrorType: ResourceNotFoundException`,
  `{"Type": "User", "message": "Function not found: arn:aws:lambda:...:function:<name>"}`.
* A body that is not JSON: 400, `x-amzn-ErrorType: InvalidRequestContentException`.

`<FunctionName>` may be a name, a full function ARN or a partial ARN (`<account>:function:<name>`),
percent-encoded or not, optionally with a `:<qualifier>` suffix or a `?Qualifier=` parameter; the
harness resolves all of them to the registered name. It does not check signatures, but records
whether an `Authorization` header was sent. Every request is recorded in `.invocations`.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import traceback
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Invocation", "LambdaContext", "LambdaHarness", "parse_function_id"]

INVOKE_PATH_PREFIX = "/2015-03-31/functions/"
INVOKE_PATH_SUFFIX = "/invocations"
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "111122223333"  # the account conftest.py's server runs with
DEFAULT_TIMEOUT = 30.0

# Outcomes recorded in `Invocation.outcome`.
SUCCESS = "success"          # the handler returned (RequestResponse or Event)
ERROR = "error"              # the handler raised (or its result could not be marshalled)
NOT_FOUND = "not_found"      # no function registered under that name (404)
BAD_REQUEST = "bad_request"  # unparseable body, unknown invocation type, wrong path/method
DRY_RUN = "dry_run"          # X-Amz-Invocation-Type: DryRun (204, handler not called)

Handler = Callable[[Any, "LambdaContext"], Any]


@dataclass(frozen=True)
class Invocation:
    """One request the harness received. `event` is the parsed JSON body (None if unparseable)."""

    function_name: str | None   # the resolved (registered) name; None if the path was not an invoke path
    function_id: str            # the FunctionName path segment as sent, percent-decoded
    qualifier: str | None
    invocation_type: str        # "RequestResponse", "Event", "DryRun" or whatever was sent
    event: Any
    outcome: str                # SUCCESS, ERROR, NOT_FOUND, BAD_REQUEST or DRY_RUN
    status: int                 # the HTTP status the harness answered with
    result: Any = None          # the handler's return value (SUCCESS)
    error: dict | None = None   # the Lambda error document (ERROR) or the service error body
    request_id: str = ""
    time: float = 0.0           # time.time() when the request arrived
    duration: float = 0.0       # seconds from arrival until the outcome was known
    authorization: bool = False  # whether an Authorization header was sent
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    path: str = ""

    @property
    def step(self) -> str | None:
        """The rotation step (`event["Step"]`), if the event is a rotation event."""
        return self.event.get("Step") if isinstance(self.event, dict) else None

    def summary(self) -> str:
        """A one-line description that carries no event values other than the step."""
        text = f"{self.function_name or self.function_id!r} step={self.step} -> {self.outcome} ({self.status})"
        if self.outcome == ERROR and self.error:
            text += f" {self.error.get('errorType')}: {self.error.get('errorMessage')}"
        return text


class LambdaContext:
    """The subset of the Python runtime's context object a rotation function uses."""

    def __init__(self, function_name: str, invoked_function_arn: str, aws_request_id: str,
                 timeout: float, region: str):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = invoked_function_arn
        self.memory_limit_in_mb = "128"
        self.aws_request_id = aws_request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d", time.gmtime()) + "/[$LATEST]" + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self.region = region
        self._deadline_ms = int(time.time() * 1000) + int(timeout * 1000)

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def __repr__(self) -> str:
        return (f"LambdaContext(function_name={self.function_name!r}, "
                f"aws_request_id={self.aws_request_id!r})")


def parse_function_id(function_id: str) -> tuple[str, str | None, str | None, str | None]:
    """Splits a FunctionName as Lambda accepts it into (name, qualifier, region, account).

    Accepted: `name`, `name:qualifier`, `account:function:name[:qualifier]` and
    `arn:<partition>:lambda:<region>:<account>:function:name[:qualifier]`."""
    parts = function_id.split(":")
    if len(parts) >= 7 and parts[0] == "arn" and parts[2] == "lambda" and parts[5] == "function":
        return parts[6], (parts[7] if len(parts) > 7 else None), parts[3] or None, parts[4] or None
    if len(parts) >= 3 and parts[1] == "function":
        return parts[2], (parts[3] if len(parts) > 3 else None), None, parts[0] or None
    if len(parts) == 2:
        return parts[0], parts[1], None, None
    return function_id, None, None, None


class LambdaHarness:
    """A Lambda Invoke endpoint on 127.0.0.1 serving registered Python handlers.

    Use as a context manager (or call `start()`/`stop()`):

        with LambdaHarness() as lam:
            lam.register("rotator", handler)
            ... point Coffer at lam.base_url, use lam.function_arn("rotator") ...
            lam.wait_for(lambda calls: len(calls) >= 4, timeout=10)
    """

    def __init__(self, *, region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID,
                 host: str = "127.0.0.1"):
        self.region = region
        self.account_id = account_id
        self._host = host
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._handlers: dict[str, tuple[Handler, float]] = {}
        self._invocations: list[Invocation] = []
        self._generation = 0  # bumped on every record, so wait_for never misses one
        self._event_threads: list[threading.Thread] = []
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> "LambdaHarness":
        if self._server is not None:
            raise RuntimeError("the harness is already running")
        harness = self

        class RequestHandler(_InvokeRequestHandler):
            owner = harness

        server = http.server.ThreadingHTTPServer((self._host, 0), RequestHandler)
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        self.base_url = f"http://{self._host}:{self.port}"
        self._thread = threading.Thread(target=server.serve_forever, name="lambda-harness",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stops serving and waits (up to `timeout`) for Event invocations still running."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout)
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._event_threads)
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0))

    def __enter__(self) -> "LambdaHarness":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- functions ------------------------------------------------------------------------------

    def register(self, name: str, handler: Handler, *, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Registers `handler(event, context)` as function `name`; returns its function ARN.

        `timeout` only feeds `context.get_remaining_time_in_millis()`; it is not enforced."""
        if not name or ":" in name or "/" in name:
            raise ValueError(f"invalid function name {name!r}")
        with self._lock:
            self._handlers[name] = (handler, timeout)
        return self.function_arn(name)

    def unregister(self, name: str) -> None:
        with self._lock:
            self._handlers.pop(name, None)

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"

    def invoke_url(self, name: str) -> str:
        return f"{self.base_url}{INVOKE_PATH_PREFIX}{urllib.parse.quote(name, safe='')}{INVOKE_PATH_SUFFIX}"

    def _lookup(self, name: str) -> tuple[Handler, float] | None:
        with self._lock:
            return self._handlers.get(name)

    # -- records --------------------------------------------------------------------------------

    @property
    def invocations(self) -> list[Invocation]:
        """A snapshot (a new list) of every request received so far, in the order they finished."""
        with self._lock:
            return list(self._invocations)

    def calls(self, function_name: str | None = None) -> list[Invocation]:
        """The invocations that reached a handler (SUCCESS or ERROR), optionally for one function."""
        return [i for i in self.invocations if i.outcome in (SUCCESS, ERROR)
                and (function_name is None or i.function_name == function_name)]

    def steps(self, function_name: str | None = None) -> list[str | None]:
        """`event["Step"]` of each invocation that reached a handler, in order."""
        return [i.step for i in self.calls(function_name)]

    def clear(self) -> None:
        with self._lock:
            self._invocations.clear()

    def wait_for(self, predicate: Callable[[list[Invocation]], bool],
                 timeout: float = 10.0) -> list[Invocation]:
        """Waits until `predicate(invocations)` holds and returns that snapshot.

        Raises AssertionError (listing what was received, without event values) on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                snapshot, seen = list(self._invocations), self._generation
            # Outside the lock: the predicate may itself call `invocations`, `steps()`, ...
            if predicate(snapshot):
                return snapshot
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                received = "\n".join("  " + i.summary() for i in snapshot) or "  (none)"
                raise AssertionError(
                    f"the Lambda harness never satisfied the condition within {timeout}s; "
                    f"invocations:\n{received}")
            with self._changed:
                if self._generation == seen:
                    self._changed.wait(min(remaining, 0.1))

    def _record(self, invocation: Invocation) -> None:
        with self._changed:
            self._invocations.append(invocation)
            self._generation += 1
            self._changed.notify_all()

    def _track(self, thread: threading.Thread) -> None:
        with self._lock:
            self._event_threads = [t for t in self._event_threads if t.is_alive()]
            self._event_threads.append(thread)


def _run_handler(handler: Handler, event: Any, context: LambdaContext) -> tuple[str, Any, dict | None]:
    """Calls the handler as the Python runtime does: (outcome, result JSON text, error document)."""
    try:
        result = handler(event, context)
    except Exception as exc:  # noqa: BLE001 - the runtime reports every exception
        frames = list(traceback.extract_tb(exc.__traceback__))
        # Like the runtime, leave out the frames before the user's handler (the harness's own).
        while len(frames) > 1 and frames[0].filename == __file__:
            frames.pop(0)
        return ERROR, None, {
            "errorMessage": str(exc),
            "errorType": type(exc).__name__,
            "requestId": context.aws_request_id,
            "stackTrace": traceback.format_list(frames),
        }
    try:
        body = json.dumps(result)
    except (TypeError, ValueError) as exc:
        return ERROR, None, {
            "errorMessage": f"Unable to marshal response: {exc}",
            "errorType": "Runtime.MarshalError",
            "requestId": context.aws_request_id,
            "stackTrace": [],
        }
    return SUCCESS, (result, body), None


class _InvokeRequestHandler(http.server.BaseHTTPRequestHandler):
    owner: LambdaHarness  # set on the per-harness subclass
    protocol_version = "HTTP/1.1"
    server_version = "LambdaHarness"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep pytest output clean; the invocation record is the log

    # -- plumbing -------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)
        self.wfile.flush()

    def _service_error(self, status: int, error_type: str, message: str, request_id: str) -> dict:
        document = {"Type": "User", "message": message}
        self._send(status, json.dumps(document).encode(), {
            "Content-Type": "application/json",
            "x-amzn-RequestId": request_id,
            "x-amzn-ErrorType": error_type,
        })
        return document

    # -- requests -------------------------------------------------------------------------------

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        self._invoke("POST")

    def do_GET(self) -> None:  # noqa: N802
        self._invoke("GET")

    def do_PUT(self) -> None:  # noqa: N802
        self._invoke("PUT")

    def _invoke(self, method: str) -> None:
        owner = self.owner
        arrived = time.time()
        request_id = str(uuid.uuid4())
        headers = {name: value for name, value in self.headers.items()}
        authorization = self.headers.get("Authorization") is not None
        raw = self._read_body()
        split = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(split.query)
        invocation_type = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"

        def record(**fields: Any) -> None:
            base = dict(function_name=None, function_id="", qualifier=None,
                        invocation_type=invocation_type, event=None, request_id=request_id,
                        time=arrived, duration=time.time() - arrived, authorization=authorization,
                        headers=headers, method=method, path=split.path)
            base.update(fields)
            owner._record(Invocation(**base))

        path = split.path
        if (method != "POST" or not path.startswith(INVOKE_PATH_PREFIX)
                or not path.endswith(INVOKE_PATH_SUFFIX)
                or "/" in path[len(INVOKE_PATH_PREFIX):-len(INVOKE_PATH_SUFFIX)]):
            # Recorded before answering (as everywhere below) so a test sees it once the caller returns.
            document = {"Type": "User", "message": f"Unknown operation {method} {path}"}
            record(outcome=BAD_REQUEST, status=404, error=document)
            self._send(404, json.dumps(document).encode(), {
                "Content-Type": "application/json", "x-amzn-RequestId": request_id,
                "x-amzn-ErrorType": "UnknownOperationException"})
            return

        function_id = urllib.parse.unquote(path[len(INVOKE_PATH_PREFIX):-len(INVOKE_PATH_SUFFIX)])
        name, qualifier, arn_region, arn_account = parse_function_id(function_id)
        qualifier = (query.get("Qualifier") or [qualifier])[0]
        ids = dict(function_name=name, function_id=function_id, qualifier=qualifier)

        registered = owner._lookup(name)
        if registered is None:
            arn = (f"arn:aws:lambda:{arn_region or owner.region}:{arn_account or owner.account_id}"
                   f":function:{name}" + (f":{qualifier}" if qualifier else ""))
            message = f"Function not found: {arn}"
            document = {"Type": "User", "message": message}
            record(outcome=NOT_FOUND, status=404, error=document, **ids)
            self._service_error(404, "ResourceNotFoundException", message, request_id)
            return
        handler, timeout = registered

        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            message = f"Unsupported invocation type: {invocation_type}"
            record(outcome=BAD_REQUEST, status=400, error={"Type": "User", "message": message}, **ids)
            self._service_error(400, "InvalidParameterValueException", message, request_id)
            return

        try:
            event = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except (UnicodeDecodeError, ValueError) as exc:
            message = f"Could not parse request body into json: {exc}"
            record(outcome=BAD_REQUEST, status=400, error={"Type": "User", "message": message}, **ids)
            self._service_error(400, "InvalidRequestContentException", message, request_id)
            return

        if invocation_type == "DryRun":
            record(outcome=DRY_RUN, status=204, event=event, **ids)
            self._send(204, b"", {"x-amzn-RequestId": request_id})
            return

        context = LambdaContext(name, owner.function_arn(name) + (f":{qualifier}" if qualifier else ""),
                                request_id, timeout, owner.region)

        if invocation_type == "Event":
            def run_async() -> None:
                outcome, result, error = _run_handler(handler, event, context)
                record(outcome=outcome, status=202, event=event, error=error,
                       result=result[0] if result else None, **ids)

            thread = threading.Thread(target=run_async, name=f"lambda-event-{name}", daemon=True)
            owner._track(thread)
            thread.start()
            self._send(202, b"", {"x-amzn-RequestId": request_id})
            return

        outcome, result, error = _run_handler(handler, event, context)
        response_headers = {
            "Content-Type": "application/json",
            "x-amzn-RequestId": request_id,
            "X-Amz-Executed-Version": "$LATEST",
        }
        if outcome == SUCCESS:
            value, body = result
            record(outcome=SUCCESS, status=200, event=event, result=value, **ids)
            self._send(200, body.encode("utf-8"), response_headers)
        else:
            response_headers["X-Amz-Function-Error"] = "Unhandled"
            record(outcome=ERROR, status=200, event=event, error=error, **ids)
            self._send(200, json.dumps(error).encode("utf-8"), response_headers)
