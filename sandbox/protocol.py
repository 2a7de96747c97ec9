"""Wire-level helpers: which AWS service and operation a request is, and how errors look on the wire.

AWS speaks four protocols to boto3. The sandbox implements JSON-protocol services itself
(SageMaker, Athena) and must produce errors that botocore parses for every protocol, because
faults can be injected into any service (S3 503 SlowDown, STS Throttling, ...).
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

DEFAULT_ACCOUNT_ID = "123456789012"

# X-Amz-Target prefixes -> botocore service names.
TARGET_PREFIXES = {
    "SageMaker": "sagemaker",
    "AmazonAthena": "athena",
    "AWSGlue": "glue",
    "Logs_20140328": "logs",
}
QUERY_SERVICES = {"sts", "iam"}

_RPC_V2_PATH = re.compile(r"^/service/[^/]+/operation/([A-Za-z0-9]+)$")
_CREDENTIAL_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


class AwsError(Exception):
    """An error an AWS service would return; rendered in the protocol of the service that raised it."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def validation_error(message: str) -> AwsError:
    return AwsError("ValidationException", message)


@dataclass
class RequestInfo:
    """What a request is, as far as routing and fault injection care."""

    service: str | None
    operation: str | None
    region: str
    access_key: str | None = None
    body: bytes = b""
    query: dict[str, list[str]] = field(default_factory=dict)
    #: the URI members of a rest-json request (``{DataSetId}`` in the operation's requestUri)
    uri: dict[str, str] = field(default_factory=dict)

    @property
    def account_id(self) -> str:
        return DEFAULT_ACCOUNT_ID


def identify(environ: dict[str, Any], body: bytes, default_region: str) -> RequestInfo:
    """Work out the service, operation and region of a WSGI request."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    access_key, region, service = None, default_region, None
    m = _CREDENTIAL_SCOPE.search(auth)
    if m:
        access_key, region, service = m.group(1), m.group(2), m.group(3)
    elif "X-Amz-Credential" in query:  # presigned URL
        parts = query["X-Amz-Credential"][0].split("/")
        if len(parts) >= 4:
            access_key, region, service = parts[0], parts[2], parts[3]
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    operation = None
    service = _service_name(service) if service else service
    rpc = _RPC_V2_PATH.match(environ.get("PATH_INFO", ""))
    if rpc:  # Smithy RPC v2 (CBOR): /service/<ServiceShape>/operation/<Operation>
        operation = rpc.group(1)
    if service is None and not target and body and b"Action=" in body:
        form = parse_qs(body.decode("utf-8", "replace"))
        service = _QUERY_VERSIONS.get((form.get("Version") or [""])[0])
    if target and "." in target:
        prefix, operation = target.split(".", 1)
        service = TARGET_PREFIXES.get(prefix, service or prefix.lower())
    elif rpc:
        pass
    elif service in QUERY_SERVICES or service_protocol(service) in ("query", "ec2"):
        form = parse_qs(body.decode("utf-8", "replace")) if body else {}
        operation = (form.get("Action") or query.get("Action") or [None])[0]
    elif service == "s3":
        operation = s3_operation(environ, query)
    uri: dict[str, str] = {}
    if operation is None and service and service_protocol(service) == "rest-json":
        operation, uri = rest_json_operation(service, environ.get("REQUEST_METHOD", "GET"),
                                             environ.get("PATH_INFO", "/"))
    return RequestInfo(service, operation, region, access_key, body, query, uri)


def rest_json_operation(service: str, method: str, path: str) -> tuple[str | None, dict[str, str]]:
    """The operation of a rest-json request (QuickSight, ...) and its URI members, from the method and path
    as the service's botocore model routes them (so fault injection and IAM see the operation's name)."""
    from urllib.parse import unquote

    for op_method, pattern, name in _rest_routes(service):
        if op_method == method:
            m = pattern.match(path)
            if m:
                return name, {k: unquote(v) for k, v in m.groupdict().items()}
    return None, {}


@functools.cache
def _rest_routes(service: str) -> list[tuple[str, re.Pattern, str]]:
    import botocore.session

    model = botocore.session.get_session().get_service_model(service)
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http["requestUri"].split("?", 1)[0]
        regex = re.sub(r"\\\{(\w+)(?:\\\+)?\\\}", lambda m: f"(?P<{m.group(1)}>[^/]+)", re.escape(uri))
        # literal segments first: /data-sets/{Id}/ingestions must not be taken for /data-sets/{Id}
        routes.append((http["method"], re.compile(f"^{regex}$"), name, -uri.count("{")))
    routes.sort(key=lambda r: r[3], reverse=True)
    return [(m, p, n) for m, p, n, _ in routes]


# Sub-resources (query keys) -> the name S3's operations give them: PUT /b?encryption is PutBucketEncryption.
_S3_SUBRESOURCES = {
    "acl": "Acl", "analytics": "AnalyticsConfiguration", "cors": "Cors", "encryption": "Encryption",
    "intelligent-tiering": "IntelligentTieringConfiguration", "inventory": "InventoryConfiguration",
    "lifecycle": "LifecycleConfiguration", "logging": "Logging", "metrics": "MetricsConfiguration",
    "notification": "NotificationConfiguration", "object-lock": "ObjectLockConfiguration",
    "ownershipControls": "OwnershipControls", "policy": "Policy", "publicAccessBlock": "PublicAccessBlock",
    "replication": "Replication", "requestPayment": "RequestPayment", "tagging": "Tagging",
    "versioning": "Versioning", "website": "Website", "accelerate": "AccelerateConfiguration",
    "legal-hold": "LegalHold", "retention": "Retention", "attributes": "Attributes",
}
_S3_VERBS = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "HEAD": "Head"}


def s3_operation(environ: dict[str, Any], query: dict[str, list[str]]) -> str:
    """The S3 operation name of a path-style REST request (for fault matching and error messages)."""
    method = environ.get("REQUEST_METHOD", "GET")
    parts = environ.get("PATH_INFO", "/").lstrip("/").split("/", 1)
    has_key = len(parts) == 2 and parts[1] != ""
    if not parts[0]:
        return "ListBuckets"
    sub = next((k for k in query if k in _S3_SUBRESOURCES), None)
    if sub is not None and method in _S3_VERBS:
        scope = "" if sub in ("publicAccessBlock", "object-lock") else "Object" if has_key else "Bucket"
        return f"{_S3_VERBS[method]}{scope}{_S3_SUBRESOURCES[sub]}"
    if not has_key:
        if method == "GET":
            return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
        return {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket"}.get(
            method, "DeleteObjects" if "delete" in query else "PostBucket"
        )
    if method == "PUT":
        if "partNumber" in query:
            return "UploadPart"
        return "CopyObject" if environ.get("HTTP_X_AMZ_COPY_SOURCE") else "PutObject"
    if method == "POST":
        return "CreateMultipartUpload" if "uploads" in query else "CompleteMultipartUpload"
    return {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(method, method)


def request_id() -> str:
    return str(uuid.uuid4())


def json_response(payload: dict[str, Any], status: int = 200) -> tuple[int, list[tuple[str, str]], bytes]:
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    return status, [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("x-amzn-RequestId", request_id()),
        ("Content-Length", str(len(body))),
    ], body


def error_response(service: str | None, error: AwsError) -> tuple[int, list[tuple[str, str]], bytes]:
    """Render an AwsError the way the given service's protocol does, so botocore parses it into a
    ClientError: JSON (``__type``), rest-json (also ``x-amzn-ErrorType``), query and EC2 XML, S3's
    rest-xml, and Smithy RPC v2 CBOR. The protocol is the one botocore picks from the service's model;
    an unknown service gets JSON."""
    rid = request_id()
    protocol = service_protocol(service)
    status = error.status
    headers = [("x-amzn-RequestId", rid)]
    if protocol in ("json", "rest-json", "smithy-rpc-v2-cbor"):
        # Modelled error members (e.g. Athena's AthenaErrorCode) ride along in the body.
        payload = {"__type": error.code, "message": error.message, **(getattr(error, "extra", None) or {})}
        if protocol == "smithy-rpc-v2-cbor":
            data = _cbor(payload)
            headers += [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        else:
            data = json.dumps(payload, separators=(",", ":"), default=str).encode()
            headers.append(("Content-Type", "application/x-amz-json-1.1"))
            if protocol == "rest-json":
                headers.append(("x-amzn-ErrorType", error.code))
        headers.append(("Content-Length", str(len(data))))
        return status, headers, data
    code, message = _xml(error.code), _xml(error.message)
    if protocol == "query":
        kind = "Receiver" if status >= 500 else "Sender"
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>"
        )
    elif protocol == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>{rid}</RequestID></Response>"
        )
    else:  # rest-xml (S3)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{rid}</RequestId></Error>"
        )
    data = body.encode()
    return status, [
        *headers,
        ("Content-Type", "text/xml"),
        ("x-amz-request-id", rid),
        ("Content-Length", str(len(data))),
    ], data


# Credential-scope signing names that differ from the botocore service name, for services moto serves.
# (Deriving this from botocore reads all ~400 service models, seconds of CPU; the list is short and stable.)
_SIGNING_NAME_SERVICES = {
    "monitoring": "cloudwatch",
    "states": "stepfunctions",
    "elasticmapreduce": "emr",
    "elasticfilesystem": "efs",
    "es": "opensearch",
    "tagging": "resourcegroupstaggingapi",
    "kinesisanalytics": "kinesisanalyticsv2",
}


def _service_name(signing_name: str) -> str:
    """The botocore service a credential scope's signing name stands for (monitoring -> cloudwatch)."""
    return _SIGNING_NAME_SERVICES.get(signing_name, signing_name)


@functools.cache
def service_protocol(service: str | None) -> str:
    """The wire protocol botocore uses for ``service`` ("json" for an unknown or missing service)."""
    if not service:
        return "json"
    import botocore.session
    from botocore.utils import PRIORITY_ORDERED_SUPPORTED_PROTOCOLS

    try:
        metadata = botocore.session.get_session().get_service_model(service).metadata
    except Exception:  # not a botocore service name (e.g. a signing name moto routes by itself)
        return "json"
    # What the client picks when the model lists several (CloudWatch: CBOR, JSON and query -> JSON).
    listed = metadata.get("protocols") or [metadata.get("protocol", "json")]
    return next((p for p in PRIORITY_ORDERED_SUPPORTED_PROTOCOLS if p in listed), metadata.get("protocol", "json"))


def error_for_exception(
    exc: BaseException, service: str | None, operation: str | None, body: bytes = b""
) -> AwsError:
    """The error a client gets for an exception the request's handler did not turn into one itself.

    An AwsError is already that. moto's own exception types carry the AWS error they stand for
    (an S3 error met while answering another service, e.g. a missing bucket behind a SageMaker call,
    is that service's ValidationException naming the S3 error). botocore ClientErrors (the sandbox
    calling itself) keep their code. An operation moto lacks is an InternalFailure with HTTP 501,
    which botocore does not retry. A crash on a request that breaks the operation's model (moto
    assumes valid input; AWS's front end refuses it first) is the validation error AWS sends.
    Anything else is a sandbox bug: InternalFailure (500) naming it.
    """
    if isinstance(exc, AwsError):
        return exc
    unknown = unknown_operation(service, operation)
    if unknown is not None:
        return unknown
    what = f"{service or 'unknown service'}:{operation or 'unknown operation'}"
    moto_error = _moto_error(exc)
    if moto_error is not None:
        code, message, status, origin = moto_error
        if origin == "s3" and service not in (None, "s3"):
            return validation_error(f"{code}: {message}")
        return AwsError(code, message, status)
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and isinstance(response.get("Error"), dict):  # botocore ClientError
        err = response["Error"]
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 400
        return AwsError(str(err.get("Code") or "InternalFailure"), str(err.get("Message") or ""), int(status))
    if isinstance(exc, NotImplementedError):
        if operation is None:  # a REST service: moto names the handler it lacks ("describe_ingestion")
            m = re.search(r"The (\w+) action has not been implemented", str(exc))
            operation = "".join(w.capitalize() for w in m.group(1).split("_")) if m else None
            what = f"{service or 'unknown service'}:{operation or 'unknown operation'}"
        return AwsError(
            "InternalFailure",
            f"the sandbox does not implement {what} (moto lacks it: {exc}); this is a sandbox limitation, "
            "not an AWS error",
            501,
        )
    invalid = _invalid_request(service, operation, body)
    if invalid is not None:
        return invalid
    return AwsError(
        "InternalFailure",
        f"sandbox bug while answering {what}: {type(exc).__name__}: {exc} "
        "(the traceback is in the sandbox server's log)",
        500,
    )


def unknown_operation(service: str | None, operation: str | None) -> AwsError | None:
    """AWS's error for a query request without an Action, or an operation the service does not have at all
    (AWS's common errors MissingAction / InvalidAction; JSON services answer UnknownOperationException)."""
    if not service or service_protocol(service) == "rest-xml":
        return None
    if service_protocol(service) in ("query", "ec2"):
        if not operation:
            return AwsError("MissingAction", "The request is missing an action or a required parameter.")
        if not _known_operation(service, operation):
            return AwsError("InvalidAction", f"The action or operation requested is invalid: {operation}")
    elif operation and not _known_operation(service, operation) and _has_model(service):
        return AwsError("UnknownOperationException", f"Unknown operation {operation}")
    return None


@functools.cache
def _has_model(service: str) -> bool:
    return service in _available_services()


@functools.cache
def _available_services() -> frozenset[str]:
    import botocore.session

    return frozenset(botocore.session.get_session().get_available_services())


def _invalid_request(service: str | None, operation: str | None, body: bytes) -> AwsError | None:
    """The validation error AWS answers a request with that breaks its operation's input shape, or None.
    JSON services: every constraint of the model; query services: required members only."""
    if not service or not operation or not _known_operation(service, operation):
        return None
    protocol = service_protocol(service)
    if protocol == "json":
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return AwsError("SerializationException", "the request body is not JSON")
        if not isinstance(params, dict):
            return AwsError("SerializationException", "the request body is not a JSON object")
        from sandbox.sagemaker.validation import problems_message

        message = problems_message(service, operation, params)
        return validation_error(message) if message else None
    if protocol in ("query", "ec2"):
        missing = query_missing_members(service, operation, body)
        if missing:
            problems = [f"Value null at '{m[:1].lower() + m[1:]}' failed to satisfy constraint: Member must not be "
                        "null" for m in missing]
            noun = "error" if len(problems) == 1 else "errors"
            return AwsError("ValidationError", f"{len(problems)} validation {noun} detected: " + "; ".join(problems))
    return None


def query_missing_members(service: str, operation: str, body: bytes) -> list[str]:
    """Required top-level members of a query-protocol request that its form does not carry."""
    import botocore.session

    shape = botocore.session.get_session().get_service_model(service).operation_model(operation).input_shape
    if shape is None:
        return []
    keys = {k.split(".", 1)[0] for k in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)}
    return [name for name in shape.required_members
            if (shape.members[name].serialization.get("name") or name) not in keys]


# Characters XML 1.0 cannot carry: a query/XML service that echoes one in a response (moto does, in
# "not found" messages and in what it stores) would send a body no client can parse.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def query_control_characters(body: bytes) -> AwsError | None:
    """A ValidationError for a query-protocol request with a value XML cannot carry, else None. AWS's
    patterns for names and ids exclude control characters; the sandbox refuses them in every member."""
    for key, values in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items():
        for value in values:
            if _XML_FORBIDDEN.search(value):
                member = key.split(".", 1)[0]
                return AwsError(
                    "ValidationError",
                    f"1 validation error detected: Value at '{member[:1].lower() + member[1:]}' failed to satisfy "
                    "constraint: Member must not contain control characters",
                )
    return None


# A query-protocol request sent without a signature (sts:AssumeRoleWithSAML/WebIdentity) has no
# credential scope to name its service; its Version does.
_QUERY_VERSIONS = {"2011-06-15": "sts", "2010-05-08": "iam"}


@functools.cache
def _known_operation(service: str, operation: str) -> bool:
    import botocore.session

    try:
        return operation in botocore.session.get_session().get_service_model(service).operation_names
    except Exception:
        return False


def _moto_error(exc: BaseException) -> tuple[str, str, int, str] | None:
    """(code, message, HTTP status, moto service) of one of moto's exception types, else None."""
    module = type(exc).__module__ or ""
    if not module.startswith("moto."):
        return None
    origin = module.split(".")[1]
    error_type, status = getattr(exc, "error_type", None), getattr(exc, "code", None)
    if isinstance(error_type, str) and isinstance(status, int):  # werkzeug-based RESTError / JsonRESTError
        return error_type, str(getattr(exc, "message", "") or exc), status, origin
    if isinstance(status, str):  # moto's newer ServiceException: code is the error code, status from the model
        return status, str(getattr(exc, "message", "") or exc), 400, origin
    return None


def _cbor(payload: dict[str, Any]) -> bytes:
    """A map of strings in CBOR (RFC 8949), enough for an error body; non-strings become their str()."""

    def head(major: int, n: int) -> bytes:
        if n < 24:
            return bytes([major << 5 | n])
        for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if n < 1 << (8 * size):
                return bytes([major << 5 | extra]) + n.to_bytes(size, "big")
        raise ValueError("too long")

    def text(value: Any) -> bytes:
        data = str(value).encode()
        return head(3, len(data)) + data

    return head(5, len(payload)) + b"".join(text(k) + text(v) for k, v in payload.items())


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
