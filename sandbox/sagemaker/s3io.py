"""Moving job data between moto's S3 and a job directory, the way SageMaker's agents do.

An ``S3Prefix`` names every object under it; relative paths are kept below the local directory.
If the prefix is itself the key of an object, that one object is the input, stored under its
base name (what SageMaker and its local mode do for ``s3://bucket/data.csv``).
"""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

from sandbox.aws import S3Store, parse_s3_uri
from sandbox.protocol import AwsError


class JobFailure(Exception):
    """The job fails with this FailureReason."""


def list_inputs(s3: S3Store, uri: str) -> list[tuple[str, str]]:
    """(key, path relative to the local directory) of every object ``uri`` names."""
    bucket, prefix = parse_s3_uri(uri)
    try:
        if prefix and s3.head(bucket, prefix) is not None:
            return [(prefix, prefix.rsplit("/", 1)[-1])]
        objects = s3.list(bucket, prefix)
    except AwsError as e:
        raise JobFailure(f"ClientError: {e.message}") from None
    return [(o.key, o.key[len(prefix) :].lstrip("/")) for o in objects if not o.key.endswith("/")]


def no_objects_message(uri: str, region: str, role_arn: str | None) -> str:
    bucket, _ = parse_s3_uri(uri)
    return (
        f'No S3 objects found under S3 URL "{uri}" given in input data source. Please ensure that the '
        f"bucket exists in the selected region ({region}), that objects exist under that S3 prefix, and "
        f'that the role "{role_arn}" has "s3:ListBucket" permissions on bucket "{bucket}".'
    )


def download(s3: S3Store, uri: str, target: Path) -> list[Path]:
    """Copy every object ``uri`` names into ``target``; the local paths written."""
    bucket, _ = parse_s3_uri(uri)
    written = []
    for key, relative in list_inputs(s3, uri):
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_get(s3, bucket, key))
        written.append(path)
    target.mkdir(parents=True, exist_ok=True)
    return written


def get_object(s3: S3Store, uri: str) -> bytes:
    bucket, key = parse_s3_uri(uri)
    return _get(s3, bucket, key)


def _get(s3: S3Store, bucket: str, key: str) -> bytes:
    try:
        return s3.get(bucket, key)
    except AwsError as e:
        raise JobFailure(f"ClientError: {e.message}") from None


def upload_tree(s3: S3Store, source: Path, uri: str) -> int:
    """Upload every file below ``source`` under the ``uri`` prefix; how many were uploaded."""
    bucket, prefix = parse_s3_uri(uri)
    prefix = prefix.rstrip("/")
    count = 0
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        key = "/".join(filter(None, [prefix, path.relative_to(source).as_posix()]))
        put(s3, bucket, key, path.read_bytes())
        count += 1
    return count


def put(s3: S3Store, bucket: str, key: str, data: bytes) -> None:
    try:
        s3.put(bucket, key, data)
    except AwsError as e:
        raise JobFailure(f"ClientError: Failed to upload to s3://{bucket}/{key}: {e.message}") from None


def tar_gz(source: Path) -> bytes:
    """The directory's contents as a gzipped tarball with paths relative to it, as SageMaker packs them."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(source.rglob("*")):
            tar.add(path, arcname=path.relative_to(source).as_posix(), recursive=False)
    return buffer.getvalue()


def extract_tar_gz(data: bytes, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            tar.extractall(target, filter="data")
    except (tarfile.TarError, OSError) as e:
        raise JobFailure(f"ClientError: could not extract the archive: {e}") from None


def fresh_dir(path: Path) -> Path:
    """An empty directory at ``path`` (left over by an earlier server run or a reset)."""
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
