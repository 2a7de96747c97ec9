"""One local endpoint for S3, Glue, CloudWatch Logs, STS and IAM (moto), SageMaker and Athena (executed
here), Slack, and a small control API under ``/_sandbox/``.

Routing, in order:

1. ``/_sandbox/...``: the control API and the Slack stand-in. S3 bucket names cannot start with
   ``_``, so this prefix never shadows a path-style S3 request.
2. Fault injection: a registered fault for the request's service and operation answers instead.
3. ``X-Amz-Target: SageMaker.*`` / ``AmazonAthena.*``, and QuickSight's ingestion routes (rest-json, identified
   from botocore's model), for operations the sandbox implements.
4. Everything else: moto's own server application.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
import traceback
from typing import Any

from sandbox import iam, iam_api
from sandbox.access import AccessRecord
from sandbox.context import SandboxContext, Service
from sandbox.faults import FaultSpecError
from sandbox.iam import Authorizer
from sandbox.protocol import (
    AwsError,
    error_for_exception,
    error_response,
    identify,
    json_response,
    query_control_characters,
    service_protocol,
    unknown_operation,
)
from sandbox.slack import SlackService

log = logging.getLogger("sandbox")

Response = tuple[int, list[tuple[str, str]], bytes]
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found",
            409: "Conflict", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


def _control_json(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, default=str, indent=1).encode()
    return status, [("Content-Type", "application/json")], body


def _names_a_session(info) -> bool:
    """AWS validates a request before it authorises it: an AssumeRole without RoleSessionName is a
    ValidationError (rendered from moto's failure on it), whatever the role's trust policy says."""
    from urllib.parse import parse_qs

    return bool(parse_qs((info.body or b"").decode("utf-8", "replace")).get("RoleSessionName"))


class SandboxApp:
    """The WSGI application behind ``python -m sandbox serve``."""

    def __init__(self, ctx: SandboxContext, services: list[Service] | None = None):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.ctx = ctx
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.services: dict[str, Service] = {s.name: s for s in (services or [])}
        self.slack = SlackService(ctx.state_dir, ctx.faults)
        self.started_at = time.time()
        # (principal, action, resource) of every AWS call, for the least-privilege tests (sandbox.access),
        # authorised against the caller's IAM policies unless `serve --no-iam` (sandbox.iam).
        self.access = AccessRecord()
        self.iam = Authorizer(enabled=ctx.iam_enforced)
        iam.install(self.iam, self.access)

    # -- WSGI ------------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response):
        info = None
        try:
            path = environ.get("PATH_INFO", "")
            if path.startswith("/_sandbox/"):
                return self._respond(start_response, self._control(path[len("/_sandbox/"):], environ))
            auth = environ.get("HTTP_AUTHORIZATION", "")
            body = b""
            # S3 bodies can be large and streamed: only buffer bodies of non-S3 calls.
            if "/s3/aws4_request" not in auth:
                body = _read_body(environ)
                environ["wsgi.input"] = io.BytesIO(body)
                environ["CONTENT_LENGTH"] = str(len(body))
            info = identify(environ, body, self.ctx.default_region)
            denied = self._authorise(info, environ)
            if denied is not None:
                return self._respond(start_response, denied)
            if info.service == "iam" and info.operation == "SimulatePrincipalPolicy":
                return self._respond(start_response, iam_api.simulate_principal_policy(self.iam, info.body))
            fault = self.ctx.faults.take_call_fault(info.service, info.operation)
            if fault is not None:
                log.info("fault injected: %s.%s -> %s after %.1f s", info.service, info.operation,
                         fault.error or "a normal answer", fault.delay_seconds)
                time.sleep(fault.delay_seconds)  # the server is threaded: only this call waits
                if fault.error is not None:
                    return self._respond(start_response, error_response(info.service, fault.to_error()))
            service = self.services.get(info.service or "")
            if service is not None and info.operation in service.operations:
                response = self._call(service, info)
                self.access.note_response(info, response[2])
                return self._respond(start_response, response)
            return self._moto(environ, start_response, info)
        except Exception as e:
            # Nothing unmapped reaches a client: an operation moto lacks, a bug in moto or here, becomes the
            # error AWS would send, or an InternalFailure naming the bug, in the protocol of the request's
            # service so that botocore raises a ClientError rather than a ResponseParserError.
            service, operation = (info.service, info.operation) if info is not None else (None, None)
            error = error_for_exception(e, service, operation, info.body if info is not None else b"")
            if error.status == 501:
                log.warning("%s", error.message)
            elif error.status >= 500:
                log.error("unhandled error in %s:%s:\n%s", service, operation, traceback.format_exc())
            return self._respond(start_response, error_response(service, error))

    def _moto(self, environ: dict[str, Any], start_response, info):
        """moto's answer. For the XML query protocols (IAM, STS, EC2), whose bodies are small, the body is
        checked: moto echoes request values into its XML unescaped-for-XML-1.0, and a client cannot parse
        that, so such a request is refused up front, and a body that still does not parse is an error."""
        if service_protocol(info.service) not in ("query", "ec2"):
            return self.moto(environ, start_response)
        refused = unknown_operation(info.service, info.operation) or query_control_characters(info.body)
        if refused is not None:
            return self._respond(start_response, error_response(info.service, refused))
        captured: dict[str, Any] = {}
        written: list[bytes] = []

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return written.append

        result = self.moto(environ, capture)
        try:
            body = b"".join([*written, *result])
        finally:
            if hasattr(result, "close"):
                result.close()
        if not body.strip() and not captured["status"].startswith("2"):
            raise RuntimeError(f"moto answered {info.operation} with {captured['status']} and no body")
        if body.strip():
            from xml.etree import ElementTree

            try:
                ElementTree.fromstring(body)
            except ElementTree.ParseError as e:
                raise RuntimeError(f"moto answered {info.operation} with XML that does not parse ({e})") from None
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _authorise(self, info, environ: dict[str, Any]) -> Response | None:
        """Record the call as IAM would authorise it, and refuse it as AWS does if the caller may not."""
        entries = self.access.entries_for(info, environ)
        if not entries:
            return None
        token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN") or (info.query.get("X-Amz-Security-Token") or [None])[0]
        try:
            principal = self.iam.principal(info.access_key, token, info.service)
        except AwsError as e:
            if not self.iam.enabled:
                self.access.add(info.access_key or "anonymous", entries)
                return None
            return error_response(info.service, e)
        for action, resource, context in entries:
            decision = self.iam.decide(principal, action, resource, context)
            if (decision.allowed and action == "sts:AssumeRole" and _names_a_session(info)
                    and not self.iam.trusted(principal, resource)):
                decision = iam.Decision(False)
            if not decision.allowed:
                self.access.add(principal.label, [(action, resource, context)], allowed=False)
                log.info("denied: %s %s on %s", principal.arn, action, resource)
                return error_response(info.service, iam.denial(info.service, principal, action, resource, decision))
        self.access.add(principal.label, entries)
        return None

    @staticmethod
    def _respond(start_response, response: Response):
        status, headers, body = response
        if not any(k.lower() == "content-length" for k, _ in headers):
            headers = [*headers, ("Content-Length", str(len(body)))]
        start_response(f"{status} {_REASONS.get(status, 'Status')}", headers)
        return [body]

    def _call(self, service: Service, info) -> Response:
        try:
            params = json.loads(info.body or b"{}")
        except ValueError:  # not JSON, or not UTF-8
            params = None
        if not isinstance(params, dict):
            return error_response(
                service.name, AwsError("SerializationException", "the request body is not a JSON object")
            )
        try:
            result = service.handle(info.operation, params, info)
        except AwsError as e:
            if self.ctx.validate_responses:
                from sandbox.shapes import validate_error

                self.ctx.record_violations(validate_error(service.name, info.operation, e.code))
            return error_response(service.name, e)
        if self.ctx.validate_responses:
            from sandbox.shapes import validate_output

            wire = json.loads(json.dumps(result, default=str))
            self.ctx.record_violations(validate_output(service.name, info.operation, wire))
        # rest-json outputs carry the HTTP status as a member (QuickSight's Status); it is not in the body
        return json_response(result, status=int(result.pop("Status", 200)))

    # -- control API and Slack ---------------------------------------------------------------------------
    def _control(self, route: str, environ: dict[str, Any]) -> Response:
        method = environ.get("REQUEST_METHOD", "GET")
        if route.startswith("slack/api/"):
            return self.slack.handle_api(route[len("slack/api/"):], environ, _read_body(environ))
        if route.startswith("slack/services/"):
            return self.slack.handle_webhook(route[len("slack/services/"):], _read_body(environ))
        if route == "slack/messages":
            if method == "DELETE":
                self.slack.reset()
                return _control_json({"deleted": True})
            return _control_json(self.slack.messages())
        if route == "access":
            if method == "DELETE":
                self.access.clear()
                return _control_json({"deleted": True})
            return _control_json(self.access.entries())
        if route == "health":
            return _control_json({"ok": True, "uptime_s": round(time.time() - self.started_at, 3)})
        if route == "status":
            return _control_json(self.status())
        if route == "stats":
            return _control_json({"shape_violations": list(self.ctx.shape_violations)})
        if route == "reset" and method == "POST":
            self.reset()
            return _control_json({"reset": True})
        if route == "faults" or route.startswith("faults/"):
            return self._faults(method, route, environ)
        return _control_json({"error": f"no such control route: /_sandbox/{route}"}, 404)

    def _faults(self, method: str, route: str, environ: dict[str, Any]) -> Response:
        if method == "GET":
            return _control_json(self.ctx.faults.list())
        if method == "DELETE":
            fault_id = route.partition("/")[2]
            removed = self.ctx.faults.remove(int(fault_id) if fault_id else None)
            return _control_json({"removed": removed})
        if method == "POST":
            try:
                spec = json.loads(_read_body(environ) or b"{}")
                return _control_json(self.ctx.faults.add(spec), 201)
            except (json.JSONDecodeError, FaultSpecError, TypeError) as e:
                return _control_json({"error": str(e)}, 400)
        return _control_json({"error": f"method {method} not allowed"}, 400)

    def status(self) -> dict[str, Any]:
        from sandbox.inventory import inventory

        return {
            "endpoint": self.ctx.endpoint_url,
            "pid": os.getpid(),
            "uptime_s": round(time.time() - self.started_at, 1),
            "state_dir": str(self.ctx.state_dir),
            "iam": {"enforced": self.iam.enabled},
            **inventory(self.ctx),
            **{name: svc.status() for name, svc in self.services.items()},
            "slack": {"messages": len(self.slack.messages())},
            "faults": self.ctx.faults.list(),
        }

    def reset(self) -> None:
        from moto.moto_api import _internal

        for svc in self.services.values():
            svc.reset()
        _internal.moto_api_backend.reset()
        self.ctx.faults.remove()
        self.slack.reset()
        self.ctx.shape_violations.clear()
        self.access.clear()

    def shutdown(self) -> None:
        for svc in self.services.values():
            svc.shutdown()


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH")
    if length:
        return stream.read(int(length))
    if environ.get("wsgi.input_terminated"):
        return stream.read()
    return b""


def build_app(ctx: SandboxContext) -> SandboxApp:
    """The app with every service the sandbox implements."""
    services: list[Service] = []
    from sandbox.athena.service import AthenaService
    from sandbox.sagemaker.service import SageMakerService

    services.append(SageMakerService(ctx))
    services.append(AthenaService(ctx))
    from sandbox.quicksight import QuickSightService

    services.append(QuickSightService(ctx))
    # The CloudFormation types moto lacks (the seed deploys infra/demand-forecast.yaml through moto).
    from sandbox import cfn

    cfn.install({s.name: s for s in services})
    return SandboxApp(ctx, services)


def serve(host: str, port: int, state_dir: str, *, validate_responses: bool = False,
          max_concurrent_jobs: int = 4, queue_excess_jobs: bool = False, cpus: int | None = None,
          verbose: bool = False,
          ready_file: str | None = None, iam_enforced: bool = True) -> None:
    """Run the sandbox in the foreground until SIGINT/SIGTERM."""
    import signal
    import socket

    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    class Handler(MotoRequestHandler):
        # No keep-alive: Werkzeug's server sends "Connection: close" on every response whatever the
        # protocol version (it cannot drain a request body safely otherwise), so each call is a new
        # connection and handler thread (about 1 ms of server CPU, measured for issue 9).

        def setup(self) -> None:
            super().setup()
            # Werkzeug writes the headers and the body separately; without TCP_NODELAY, Nagle's
            # algorithm can hold the body back until the client ACKs the headers.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            if verbose:
                super().log_request(code, size)

    os.environ.setdefault("MOTO_PORT", str(port))
    ctx = SandboxContext(
        state_dir=state_dir,
        endpoint_url=f"http://{host}:{port}",
        validate_responses=validate_responses,
        max_concurrent_jobs=max_concurrent_jobs,
        queue_excess_jobs=queue_excess_jobs,
        iam_enforced=iam_enforced,
        **({"cpus": cpus} if cpus else {}),
    )
    app = build_app(ctx)
    server = make_server(host, port, app, threaded=True, request_handler=Handler)
    actual_port = server.server_address[1]
    if actual_port != port:
        ctx.endpoint_url = f"http://{host}:{actual_port}"
    info = {"pid": os.getpid(), "host": host, "port": actual_port, "endpoint": ctx.endpoint_url,
            "started_at": time.time()}
    server_file = ctx.state_dir / "server.json"
    server_file.write_text(json.dumps(info))
    if ready_file:
        with open(ready_file, "w") as f:
            f.write(json.dumps(info))

    def _stop(signum, frame):  # raise in the main thread so serve_forever unwinds
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    # A background job of a non-interactive shell starts with SIGINT ignored, and Python then leaves it
    # ignored: Ctrl-C (or `kill -INT`) would do nothing. The sandbox always answers it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print(f"sandbox listening on {ctx.endpoint_url} (state in {ctx.state_dir}; IAM "
          f"{'enforced' if iam_enforced else 'NOT enforced (--no-iam)'}); Ctrl-C stops it", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        print("sandbox stopping: stopping jobs...", flush=True)
        app.shutdown()
        server.server_close()
        if server_file.exists() and json.loads(server_file.read_text()).get("pid") == os.getpid():
            server_file.unlink()
        print("sandbox stopped", flush=True)
