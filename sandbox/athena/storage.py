"""Table data in the sandbox's S3: listing a location the way Hive does, and a local file cache.

DuckDB cannot read ``s3://`` offline, so every object a query reads is materialised once under
``<state_dir>/athena-cache/``, keyed by bucket, key and ETag: a second query over unchanged data
reads nothing from S3 again, and a rewritten object (new ETag) is fetched afresh.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import re
import shutil
import threading
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sandbox.aws import S3Object, S3Store, parse_s3_uri


@dataclass(frozen=True)
class Location:
    """An S3 prefix that holds table data, always ending in ``/`` (so ``dt=1`` never matches ``dt=10``)."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, uri: str) -> Location:
        bucket, key = parse_s3_uri(uri)
        if key and not key.endswith("/"):
            key += "/"
        return cls(bucket, key)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def child(self, name: str) -> Location:
        return Location(self.bucket, f"{self.prefix}{name.strip('/')}/")


def is_hidden(relative_key: str) -> bool:
    """Hive skips files and directories whose names start with ``_`` or ``.`` (``_SUCCESS``,
    ``_temporary/``, ``.crc``), and the zero-byte ``dir/`` markers some tools write."""
    return relative_key.endswith("/") or any(p[:1] in ("_", ".") for p in relative_key.split("/"))


def list_locations(s3: S3Store, locations: list[Location]) -> dict[Location, list[S3Object]]:
    """The data files under each location, listing each bucket once rather than once per partition."""
    by_bucket: dict[str, list[Location]] = defaultdict(list)
    for loc in locations:
        by_bucket[loc.bucket].append(loc)
    found: dict[Location, list[S3Object]] = {}
    for bucket, locs in by_bucket.items():
        # A missing bucket raises NoSuchBucket: the query fails rather than reading an empty table.
        objects = s3.list(bucket, os.path.commonprefix([loc.prefix for loc in locs]))
        keys = [o.key for o in objects]
        for loc in locs:
            start = bisect.bisect_left(keys, loc.prefix)
            end = bisect.bisect_left(keys, loc.prefix + "\U0010ffff")
            found[loc] = [o for o in objects[start:end]
                          if o.size > 0 and not is_hidden(o.key[len(loc.prefix):])]
    return found


class FileCache:
    """Local copies of S3 objects, one file per (bucket, key, ETag)."""

    def __init__(self, s3: S3Store, root: Path):
        self.s3 = s3
        self.root = Path(root)
        self._index: dict[tuple[str, str], tuple[str, str]] = {}
        self._lock = threading.Lock()
        self.fetched_objects = 0
        self.fetched_bytes = 0
        self.hits = 0

    def local_path(self, obj: S3Object) -> str:
        with self._lock:
            cached = self._index.get((obj.bucket, obj.key))
        if cached and cached[0] == obj.etag:
            with self._lock:
                self.hits += 1
            return cached[1]
        return self._fetch(obj, cached[1] if cached else None)

    def _fetch(self, obj: S3Object, stale: str | None) -> str:
        path = self._path_for(obj)
        if not os.path.exists(path):
            data = self.s3.get(obj.bucket, obj.key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{uuid.uuid4().hex}.tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
            with self._lock:
                self.fetched_objects += 1
                self.fetched_bytes += len(data)
        with self._lock:
            self._index[(obj.bucket, obj.key)] = (obj.etag, path)
        if stale and stale != path and os.path.exists(stale):
            os.unlink(stale)
        return path

    def _path_for(self, obj: S3Object) -> str:
        digest = hashlib.sha1(f"{obj.bucket}/{obj.key}".encode()).hexdigest()
        etag = re.sub(r"[^0-9A-Za-z-]", "", obj.etag)
        # Keep the key's extensions: DuckDB picks gzip/zstd decompression from the file name.
        suffix = re.sub(r"[^0-9A-Za-z.]", "", "".join(Path(obj.key).suffixes[-2:]))[:24]
        return str(self.root / digest[:2] / f"{digest}-{etag}{suffix}")

    def stats(self) -> dict:
        with self._lock:
            return {"cached_objects": len(self._index), "s3_objects_fetched": self.fetched_objects,
                    "s3_bytes_fetched": self.fetched_bytes, "cache_hits": self.hits}

    def clear(self) -> None:
        with self._lock:
            self._index.clear()
            self.fetched_objects = self.fetched_bytes = self.hits = 0
        shutil.rmtree(self.root, ignore_errors=True)
