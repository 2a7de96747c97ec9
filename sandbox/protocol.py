"""Wire-level helpers: which AWS service and operation a request is, and how errors look on the wire.

AWS speaks four protocols to boto3. The sandbox implements JSON-protocol services itself
(SageMaker, Athena) and must produce errors that botocore parses for every protocol, because
faults can be injected into any service (S3 503 SlowDown, STS Throttling, ...).
"""

from __future__ import annotations

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
JSON_SERVICES = {"sagemaker", "athena", "glue", "logs", "secretsmanager", "kms"}
QUERY_SERVICES = {"sts", "iam", "cloudformation"}

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
    if target and "." in target:
        prefix, operation = target.split(".", 1)
        service = TARGET_PREFIXES.get(prefix, service or prefix.lower())
    elif service in QUERY_SERVICES:
        form = parse_qs(body.decode("utf-8", "replace")) if body else {}
        operation = (form.get("Action") or query.get("Action") or [None])[0]
    elif service == "s3":
        operation = s3_operation(environ, query)
    return RequestInfo(service, operation, region, access_key, body, query)


def s3_operation(environ: dict[str, Any], query: dict[str, list[str]]) -> str:
    """The S3 operation name of a path-style REST request (enough for fault matching)."""
    method = environ.get("REQUEST_METHOD", "GET")
    parts = environ.get("PATH_INFO", "/").lstrip("/").split("/", 1)
    has_key = len(parts) == 2 and parts[1] != ""
    if not parts[0]:
        return "ListBuckets"
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
    """Render an AwsError the way the given service's protocol does, so botocore parses it."""
    rid = request_id()
    if service in JSON_SERVICES or service is None:
        # Modelled error members (e.g. Athena's AthenaErrorCode) ride along in the body.
        payload = {"__type": error.code, "message": error.message, **(getattr(error, "extra", None) or {})}
        return json_response(payload, error.status)
    if service in QUERY_SERVICES:
        kind = "Receiver" if error.status >= 500 else "Sender"
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{_xml(error.code)}</Code>"
            f"<Message>{_xml(error.message)}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>"
        )
    else:  # rest-xml (S3)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{_xml(error.code)}</Code><Message>{_xml(error.message)}</Message>"
            f"<RequestId>{rid}</RequestId></Error>"
        )
    data = body.encode()
    return error.status, [
        ("Content-Type", "text/xml"),
        ("x-amzn-RequestId", rid),
        ("x-amz-request-id", rid),
        ("Content-Length", str(len(data))),
    ], data


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
