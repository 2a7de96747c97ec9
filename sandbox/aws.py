"""In-process access to moto's backends for the parts of the sandbox that moto does not execute.

The SageMaker job runner and the Athena engine live in the same process as moto's server, so they
read and write S3, the Glue catalog and CloudWatch Logs through moto's backend objects directly:
no HTTP round trip, and no way to diverge from what boto3 clients of the sandbox see.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from sandbox.protocol import DEFAULT_ACCOUNT_ID, AwsError


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into (bucket, key); the key may be empty."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("s3", "s3a", "s3n") or not parsed.netloc:
        raise AwsError("ValidationException", f"Not an S3 URI: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    size: int
    etag: str
    last_modified: datetime

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class S3Store:
    """Read and write moto's S3 in-process."""

    def __init__(self, account_id: str = DEFAULT_ACCOUNT_ID):
        self.account_id = account_id
        self._lock = threading.Lock()

    @property
    def backend(self):
        from moto.s3.models import s3_backends

        return s3_backends[self.account_id]["global"]

    def bucket_exists(self, bucket: str) -> bool:
        return bucket in self.backend.buckets

    def _bucket(self, bucket: str):
        try:
            return self.backend.buckets[bucket]
        except KeyError:
            raise AwsError("NoSuchBucket", f"The specified bucket does not exist: {bucket}", 404) from None

    def list(self, bucket: str, prefix: str = "") -> list[S3Object]:
        """Every object under the prefix (no delimiter), sorted by key."""
        from moto.s3.models import FakeDeleteMarker

        _check("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": prefix})
        b = self._bucket(bucket)
        out = []
        for name, key in list(b.keys.items()):
            if name.startswith(prefix) and not isinstance(key, FakeDeleteMarker):
                out.append(
                    S3Object(bucket, name, key.size, key.etag.strip('"'), key.last_modified.replace(tzinfo=UTC))
                )
        return sorted(out, key=lambda o: o.key)

    def get(self, bucket: str, key: str) -> bytes:
        _check("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")
        self._bucket(bucket)
        obj = self.backend.get_object(bucket, key)
        if obj is None:
            raise AwsError("NoSuchKey", f"The specified key does not exist: s3://{bucket}/{key}", 404)
        return obj.value

    def head(self, bucket: str, key: str) -> S3Object | None:
        _check("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")  # HeadObject is authorised as GetObject
        b = self._bucket(bucket)
        obj = b.keys.get(key)
        if obj is None or not hasattr(obj, "size"):
            return None
        return S3Object(bucket, key, obj.size, obj.etag.strip('"'), obj.last_modified.replace(tzinfo=UTC))

    def put(self, bucket: str, key: str, data: bytes, content_type: str | None = None) -> None:
        _check("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}")
        self._bucket(bucket)
        with self._lock:
            obj = self.backend.put_object(bucket, key, data)
        if content_type:
            obj.set_metadata({"Content-Type": content_type})

    def delete(self, bucket: str, key: str) -> None:
        _check("s3:DeleteObject", f"arn:aws:s3:::{bucket}/{key}")
        self.backend.delete_object(bucket, key)

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        objects = self.list(bucket, prefix)
        for obj in objects:
            self.delete(bucket, obj.key)
        return len(objects)


def _check(action: str, resource: str, context: dict[str, str] | None = None) -> None:
    """Authorise an in-process call as the principal this thread acts for (a job's execution role); calls
    the sandbox makes for itself pass (sandbox.iam.check_in_process)."""
    from sandbox import iam

    iam.check_in_process(action.split(":", 1)[0], action, resource, context)


def glue_backend(region: str, account_id: str = DEFAULT_ACCOUNT_ID):
    from moto.glue.models import glue_backends

    return glue_backends[account_id][region]


def logs_backend(region: str, account_id: str = DEFAULT_ACCOUNT_ID):
    from moto.logs.models import logs_backends

    return logs_backends[account_id][region]


def now() -> datetime:
    return datetime.now(UTC)


def epoch(dt: datetime | None) -> float | None:
    return None if dt is None else round(dt.timestamp(), 3)


class LogWriter:
    """Appends lines to one CloudWatch Logs stream, creating the group and stream on first use."""

    def __init__(self, region: str, group: str, stream: str, account_id: str = DEFAULT_ACCOUNT_ID):
        self.region, self.group, self.stream = region, group, stream
        self.account_id = account_id
        self._lock = threading.Lock()
        backend = logs_backend(region, account_id)
        self._arn = f"arn:aws:logs:{region}:{account_id}:log-group:{group}:log-stream:{stream}"
        with _LOGS_LOCK:
            if group not in backend.groups:
                _check("logs:CreateLogGroup", f"arn:aws:logs:{region}:{account_id}:log-group:{group}:*")
                backend.create_log_group(group, {})
            if stream not in backend.groups[group].streams:
                _check("logs:CreateLogStream", self._arn)
                backend.create_log_stream(group, stream)

    def write(self, lines: list[str], timestamp_ms: int | None = None) -> None:
        if not lines:
            return
        ts = timestamp_ms or int(now().timestamp() * 1000)
        events: list[dict[str, Any]] = [{"timestamp": ts, "message": line} for line in lines]
        _check("logs:PutLogEvents", self._arn)
        with self._lock:
            logs_backend(self.region, self.account_id).put_log_events(self.group, self.stream, events)


_LOGS_LOCK = threading.Lock()
