"""A Glue table (or the pruned part of it) as a DuckDB relation over the local copies of its files.

The relation has Athena's semantics, not the files': column names and types come from the Glue
schema (values are cast to the declared types, a column missing from a file reads as NULL), and
partition columns come from the Glue partition values typed per ``PartitionKeys`` (a ``dt string``
partition stays varchar; DuckDB's hive auto-detection is switched off). Partition values are
attached with a join on the file name rather than one scan per partition: one scan over many files
is what keeps the sandbox's overhead small.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlglot import exp

from sandbox.athena.catalog import Column, StorageFormat, TableInfo
from sandbox.athena.datatypes import glue_to_duck, glue_to_sqlglot, is_string_type
from sandbox.athena.errors import QueryFailed, not_supported

FILE_COLUMN = "__athena_file"


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class PartFiles:
    """The local files of one partition (or of the whole table), with its partition values."""

    paths: list[str]
    values: tuple[str | None, ...]
    storage: StorageFormat


class ParquetSchemas:
    """Column names and DuckDB types of local Parquet files; the files are immutable (their path
    has the ETag)."""

    def __init__(self) -> None:
        self._columns: dict[str, dict[str, str | None]] = {}
        self._lock = threading.Lock()

    def types(self, paths: list[str]) -> dict[str, set[str | None]]:
        """Each column name (lower case) with the DuckDB types it has across ``paths`` (None: a
        type this map does not know, which is always cast)."""
        out: dict[str, set[str | None]] = {}
        for path in paths:
            with self._lock:
                known = self._columns.get(path)
            if known is None:
                known = self._read(path)
                with self._lock:
                    self._columns[path] = known
            for name, duck in known.items():
                out.setdefault(name, set()).add(duck)
        return out

    @staticmethod
    def _read(path: str) -> dict[str, str | None]:
        import pyarrow.parquet as pq

        try:
            schema = pq.read_schema(path)
        except Exception as e:  # a corrupt or non-Parquet object in a Parquet table
            raise QueryFailed("HIVE_CANNOT_OPEN_SPLIT", f"Error opening Hive split {path}: {e}") from None
        return {f.name.lower(): _ARROW_TO_DUCK.get(str(f.type)) or _arrow_decimal(str(f.type)) for f in schema}


# Arrow types DuckDB reads as exactly these types (timestamps are left out: Athena reads them at
# millisecond precision, which the CAST to the Glue type does).
_ARROW_TO_DUCK = {
    "int8": "TINYINT", "int16": "SMALLINT", "int32": "INT", "int64": "BIGINT", "bool": "BOOLEAN",
    "float": "REAL", "double": "DOUBLE", "string": "TEXT", "large_string": "TEXT", "string_view": "TEXT",
    "date32[day]": "DATE",
}


def _arrow_decimal(text: str) -> str | None:
    if text.startswith("decimal128(") and text.endswith(")"):
        p, s = (x.strip() for x in text[len("decimal128("):-1].split(","))
        return f"DECIMAL({p}, {s})"
    return None


def relation_sql(table: TableInfo, parts: list[PartFiles], with_partitions: bool,
                 schemas: ParquetSchemas) -> str:
    """SQL (a parenthesised subquery) for the rows of ``parts``."""
    parts = [p for p in parts if p.paths]
    if not parts:
        return _empty(table, with_partitions)
    groups: dict[StorageFormat, list[PartFiles]] = {}
    for part in parts:
        groups.setdefault(part.storage, []).append(part)
    selects = [_group_select(table, storage, group, with_partitions, schemas)
               for storage, group in groups.items()]
    return "(" + " UNION ALL ".join(selects) + ")"


def _empty(table: TableInfo, with_partitions: bool) -> str:
    cols = table.all_columns if with_partitions else table.columns
    items = ", ".join(f"CAST(NULL AS {glue_to_duck(c.type)}) AS {sql_ident(c.name)}" for c in cols) or "1 AS _"
    return f"(SELECT {items} WHERE false)"  # noqa: S608 - identifiers are quoted by sql_ident


def _group_select(table: TableInfo, storage: StorageFormat, parts: list[PartFiles],
                  with_partitions: bool, schemas: ParquetSchemas) -> str:
    paths = [p for part in parts for p in part.paths]
    reader, columns = _reader(table, storage, paths, schemas)
    items = list(columns)
    source = f"{reader} AS __f"
    if with_partitions and table.partition_keys:
        if len(set(paths)) != len(paths):  # two partitions share a location: read it once each
            return " UNION ALL ".join(_group_select(table, storage, [p], True, schemas) for p in parts)
        items += [f"__m.{sql_ident(k.name)} AS {sql_ident(k.name)}" for k in table.partition_keys]
        source += f" JOIN {_partition_values(table.partition_keys, parts)} ON __f.{FILE_COLUMN} = __m.{FILE_COLUMN}"
    return f"SELECT {', '.join(items)} FROM {source}"  # noqa: S608 - built from quoted parts


def _partition_values(keys: list[Column], parts: list[PartFiles]) -> str:
    rows = []
    for part in parts:
        values = ", ".join(_typed_value(v, k) for v, k in zip(part.values, keys, strict=True))
        rows += [f"({sql_string(path)}, {values})" for path in part.paths]
    names = ", ".join([FILE_COLUMN] + [sql_ident(k.name) for k in keys])
    return f"(VALUES {', '.join(rows)}) AS __m({names})"


def _typed_value(value: str | None, key: Column) -> str:
    if value is None:
        return f"CAST(NULL AS {glue_to_duck(key.type)})"
    return f"CAST({sql_string(value)} AS {glue_to_duck(key.type)})"


def _reader(table: TableInfo, storage: StorageFormat, paths: list[str],
            schemas: ParquetSchemas) -> tuple[str, list[str]]:
    files = "[" + ", ".join(sql_string(p) for p in paths) + "]"
    common = f"filename={sql_string(FILE_COLUMN)}, hive_partitioning=false"
    if storage.kind == "parquet":
        present = schemas.types(paths)
        cols = [_cast_or_null(c, present) for c in table.columns]
        return f"read_parquet({files}, union_by_name=true, {common})", cols
    if storage.kind in ("text", "csv"):
        _require_flat(table, storage)
        return _csv_reader(table, storage, files, common), [_text_cast(i, c) for i, c in enumerate(table.columns)]
    if storage.kind == "json":
        spec = ", ".join(f"{sql_string(c.name)}: {sql_string(glue_to_duck(c.type))}" for c in table.columns)
        ignore = storage.serde_param("ignore.malformed.json", "false").lower() == "true"
        reader = (f"read_json({files}, format='newline_delimited', columns={{{spec}}}, "
                  f"ignore_errors={'true' if ignore else 'false'}, {common})")
        return reader, [f"__f.{sql_ident(c.name)} AS {sql_ident(c.name)}" for c in table.columns]
    raise not_supported(f"reading {storage.kind} files (table '{table.qualified}')")


def _cast_or_null(col: Column, present: dict[str, set[str | None]]) -> str:
    duck = glue_to_duck(col.type)
    if col.name not in present:  # Athena reads a column a file lacks as NULL
        return f"CAST(NULL AS {duck}) AS {sql_ident(col.name)}"
    if present[col.name] == {duck}:
        # Already the declared type in every file: no CAST, so DuckDB can push filters into the scan.
        return f"__f.{sql_ident(col.name)} AS {sql_ident(col.name)}"
    return f"CAST(__f.{sql_ident(col.name)} AS {duck}) AS {sql_ident(col.name)}"


def _require_flat(table: TableInfo, storage: StorageFormat) -> None:
    for col in table.columns:
        if glue_to_sqlglot(col.type).this in (exp.DataType.Type.ARRAY, exp.DataType.Type.MAP,
                                              exp.DataType.Type.STRUCT):
            raise not_supported(f"complex column '{col.name}' in a {storage.kind} table ('{table.qualified}')")


def _csv_reader(table: TableInfo, storage: StorageFormat, files: str, common: str) -> str:
    columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(table.columns)))
    skip = int(storage.table_param("skip.header.line.count", "0") or 0)
    if storage.kind == "csv":  # OpenCSVSerde: quoted fields, no NULL marker (an empty field is '')
        delim = storage.serde_param("separatorChar", ",")
        quote = storage.serde_param("quoteChar", '"')
        escape = storage.serde_param("escapeChar", "\\")
        options = f"quote={sql_string(quote)}, escape={sql_string(escape)}, nullstr='\x1f\x1e'"
    else:  # LazySimpleSerDe: no quoting, \N is NULL, fields default to ^A
        delim = storage.serde_param("field.delim") or storage.serde_param("serialization.format") or "\x01"
        if delim.isdigit() and len(delim) > 1:
            delim = chr(int(delim))
        null = storage.serde_param("serialization.null.format", "\\N")
        escape = storage.serde_param("escape.delim", "")
        options = f"quote='', escape={sql_string(escape)}, nullstr={sql_string(null)}"
    return (f"read_csv({files}, columns={{{columns}}}, header=false, skip={skip}, delim={sql_string(delim)}, "
            f"{options}, null_padding=true, strict_mode=false, auto_detect=false, {common})")


def _text_cast(index: int, col: Column) -> str:
    source = f"__f.c{index}"
    if is_string_type(col.type):
        return f"{source} AS {sql_ident(col.name)}"
    # Hive's text SerDes read a value that does not parse as the declared type as NULL.
    return f"TRY_CAST(trim({source}) AS {glue_to_duck(col.type)}) AS {sql_ident(col.name)}"
