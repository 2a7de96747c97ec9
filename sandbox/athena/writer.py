"""Writing a query's rows as table files, for UNLOAD, CTAS and INSERT INTO.

Rows are written locally first (DuckDB's COPY for Parquet; the sandbox's own rendering for text
and JSON, so values read the way Athena writes them), grouped by the Hive partition they belong
to, then uploaded to S3 under Hive-style ``col=value/`` folders with Hive's escaping.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import string
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from sandbox.athena.catalog import HIVE_DEFAULT_PARTITION
from sandbox.athena.engine import Engine, Run
from sandbox.athena.errors import QueryFailed, not_supported
from sandbox.athena.relations import sql_ident, sql_string
from sandbox.athena.results import formatter
from sandbox.athena.storage import Location
from sandbox.aws import S3Store

FORMATS = ("PARQUET", "TEXTFILE", "JSON")
_HIVE_ESCAPE = set('"#%\'*/:=?\\{[]^\x7f') | {chr(c) for c in range(1, 32)}
PartitionValues = tuple[str | None, ...]


def hive_escape(value: str) -> str:
    """Hive's ``FileUtils.escapePathName`` for a partition value in a path."""
    return "".join(f"%{ord(c):02X}" if c in _HIVE_ESCAPE else c for c in value)


def hive_unescape(text: str) -> str:
    return unquote(text)


def hive_path(keys: list[str], values: PartitionValues) -> str:
    return "/".join(f"{k}={HIVE_DEFAULT_PARTITION if v is None else hive_escape(v)}"
                    for k, v in zip(keys, values, strict=True))


@dataclass
class LocalWrite:
    rows: int
    names: list[str]
    types: list
    files: dict[PartitionValues, list[Path]] = field(default_factory=dict)


@dataclass
class Options:
    format: str = "PARQUET"
    compression: str | None = None
    delimiter: str = "\x01"
    partitioned_by: list[str] = field(default_factory=list)


def options(props: dict, default_format: str | None) -> Options:
    fmt = str(props.get("format") or default_format or "").upper()
    if not fmt:
        raise QueryFailed("INVALID_TABLE_PROPERTY", "The 'format' property must be specified")
    if fmt not in FORMATS:
        raise not_supported(f"writing {fmt} files (the sandbox writes PARQUET, TEXTFILE and JSON)")
    compression = props.get("compression") or props.get("write_compression") or props.get("parquet_compression")
    delimiter = props.get("field_delimiter") or "\x01"
    if len(delimiter) != 1:
        raise QueryFailed("INVALID_TABLE_PROPERTY", "field_delimiter must be a single character")
    partitioned = [p.lower() for p in props.get("partitioned_by") or []]
    return Options(fmt, str(compression).upper() if compression else None, delimiter, partitioned)


def write_local(engine: Engine, run: Run, sql: str, opts: Options, workdir: Path) -> LocalWrite:
    names, types = engine.describe(sql, run)
    _check_partition_columns(names, opts.partitioned_by)
    sql = _bigint_sums(sql, names, types)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    if opts.format == "PARQUET":
        return _write_parquet(engine, run, sql, names, types, opts, workdir)
    return _write_text(engine, run, sql, names, types, opts, workdir)


def _check_partition_columns(names: list[str], partitioned_by: list[str]) -> None:
    if partitioned_by and [n.lower() for n in names[-len(partitioned_by):]] != partitioned_by:
        raise QueryFailed("HIVE_COLUMN_ORDER_MISMATCH", "Partition keys must be the last columns in the table "
                          f"and in the same order as the table properties: {partitioned_by}")
    if partitioned_by and len(partitioned_by) == len(names):
        raise QueryFailed("INVALID_TABLE_PROPERTY", "Cannot partition by all columns of the query")


def _bigint_sums(sql: str, names: list[str], types: list) -> str:
    # DuckDB widens sum(integer) to HUGEINT; Athena's result (and so its files) is bigint.
    if not any(str(t) == "HUGEINT" for t in types):
        return sql
    items = [f"CAST(__q.{sql_ident(n)} AS BIGINT) AS {sql_ident(n)}" if str(t) == "HUGEINT"
             else f"__q.{sql_ident(n)}" for n, t in zip(names, types, strict=True)]
    return f"SELECT {', '.join(items)} FROM ({sql}) AS __q"  # noqa: S608 - quoted identifiers


def _write_parquet(engine: Engine, run: Run, sql: str, names: list[str], types: list, opts: Options,
                   workdir: Path) -> LocalWrite:
    compression = {"GZIP": "gzip", "SNAPPY": "snappy", "ZSTD": "zstd", "NONE": "uncompressed",
                   "UNCOMPRESSED": "uncompressed", "LZ4": "lz4"}.get(opts.compression or "GZIP")
    if compression is None:
        raise QueryFailed("INVALID_TABLE_PROPERTY", f"Unsupported compression: {opts.compression}")
    target = workdir if opts.partitioned_by else workdir / "data.parquet"
    partition = f", PARTITION_BY ({', '.join(sql_ident(p) for p in opts.partitioned_by)})" if opts.partitioned_by else ""
    rows = engine.execute(f"COPY ({sql}) TO {sql_string(str(target))} "
                          f"(FORMAT parquet, COMPRESSION {compression}{partition})", run)[0][0]
    out = LocalWrite(int(rows), names, types)
    if rows:
        for path in sorted(p for p in workdir.rglob("*") if p.is_file()):
            out.files.setdefault(_values_from_path(path.relative_to(workdir), opts.partitioned_by), []).append(path)
    return out


def _values_from_path(relative: Path, keys: list[str]) -> PartitionValues:
    parts = relative.parts[:-1]
    values = []
    for key, part in zip(keys, parts, strict=True):
        raw = part.split("=", 1)[1] if part.lower().startswith(f"{key.lower()}=") else part
        values.append(None if raw == HIVE_DEFAULT_PARTITION else hive_unescape(raw))
    return tuple(values)


def _write_text(engine: Engine, run: Run, sql: str, names: list[str], types: list, opts: Options,
                workdir: Path) -> LocalWrite:
    for name, t in zip(names, types, strict=True):
        if opts.format == "TEXTFILE" and t.id in ("list", "struct", "map", "array", "tuple"):
            raise not_supported(f"writing the complex column '{name}' as TEXTFILE")
    cursor = engine.cursor(run)
    cursor.execute(sql)
    n_part = len(opts.partitioned_by)
    render = _json_line(names[:len(names) - n_part], types) if opts.format == "JSON" \
        else _text_line(types[:len(types) - n_part], opts.delimiter)
    groups: dict[PartitionValues, list[str]] = {}
    total = 0
    while batch := cursor.fetchmany(10_000):
        run.check()
        for row in batch:
            values = tuple(None if v is None else str(v) for v in row[len(row) - n_part:]) if n_part else ()
            groups.setdefault(values, []).append(render(row))
        total += len(batch)
    out = LocalWrite(total, names, types)
    for i, (values, lines) in enumerate(groups.items()):
        path = workdir / f"part-{i:05d}.gz"
        with gzip.open(path, "wt", encoding="utf-8") as f:  # Athena gzips TEXTFILE and JSON output
            f.write("".join(line + "\n" for line in lines))
        out.files[values] = [path]
    return out


def _text_line(types: list, delimiter: str) -> Callable[[tuple], str]:
    fmts = [formatter(t) for t in types]
    return lambda row: delimiter.join("\\N" if v is None else f(v) for f, v in zip(fmts, row, strict=False))


def _json_line(names: list[str], types: list) -> Callable[[tuple], str]:
    fmts = [_json_value(t) for t in types[:len(names)]]
    return lambda row: json.dumps({n: (None if v is None else f(v)) for n, f, v in zip(names, fmts, row, strict=False)},
                                  separators=(",", ":"), ensure_ascii=False)


def _json_value(duck_type) -> Callable:
    kind = duck_type.id
    if kind in ("boolean", "tinyint", "smallint", "integer", "bigint", "hugeint", "double", "float"):
        return lambda v: v
    if kind in ("list", "struct", "map", "array"):
        return lambda v: json.loads(json.dumps(v, default=str))
    return formatter(duck_type)


def data_file_name(suffix: str) -> str:
    """A file name in the shape Trino gives its output (``<yyyymmdd_hhmmss>_<n>_<id>_<uuid>``)."""
    stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime())
    tag = "".join(random.choices(string.ascii_lowercase, k=5))  # noqa: S311 - a name, not a secret
    return f"{stamp}_{random.randint(0, 99999):05d}_{tag}_{uuid.uuid4()}{suffix}"  # noqa: S311


def upload(s3: S3Store, written: LocalWrite, destination: Callable[[PartitionValues], Location],
           opts: Options) -> list[str]:
    """Put the local files in S3; returns their URIs (the manifest)."""
    suffix = "" if opts.format == "PARQUET" else ".gz"
    uris = []
    for values, paths in written.files.items():
        loc = destination(values)
        for path in paths:
            key = f"{loc.prefix}{data_file_name(suffix)}"
            s3.put(loc.bucket, key, path.read_bytes())
            uris.append(f"s3://{loc.bucket}/{key}")
    return uris


def cleanup(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
    try:
        os.rmdir(workdir.parent)
    except OSError:
        pass
