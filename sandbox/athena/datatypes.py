"""Type names in the three dialects the engine juggles: Glue/Hive (the catalog), DuckDB (execution)
and Athena (``ColumnInfo`` and the types CTAS writes back to Glue)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlglot import exp

# Athena's ColumnInfo.Precision for types whose precision is fixed (measured by athena-local).
_FIXED_PRECISION = {
    "tinyint": 3, "smallint": 5, "integer": 10, "bigint": 19, "double": 17, "float": 17,
    "timestamp": 3, "time": 3, "timestamp with time zone": 3, "varbinary": 1073741824,
}
_VARCHAR_MAX = 2147483647

_DUCK_TO_ATHENA = {
    "BOOLEAN": "boolean", "TINYINT": "tinyint", "SMALLINT": "smallint", "INTEGER": "integer",
    "BIGINT": "bigint", "UTINYINT": "smallint", "USMALLINT": "integer", "UINTEGER": "bigint",
    # DuckDB widens sum(integer) to HUGEINT where Athena returns bigint; values beyond bigint are
    # refused when formatted (Athena would have overflowed).
    "HUGEINT": "bigint", "UBIGINT": "bigint", "UHUGEINT": "bigint",
    # Athena reports real columns as "float" in ColumnInfo (measured).
    "FLOAT": "float", "DOUBLE": "double", "VARCHAR": "varchar", "DATE": "date",
    "TIMESTAMP": "timestamp", "TIMESTAMP_MS": "timestamp", "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP_S": "timestamp", "TIMESTAMP WITH TIME ZONE": "timestamp with time zone",
    "TIME": "time", "BLOB": "varbinary", "INTERVAL": "interval day to second", "UUID": "uuid",
    "JSON": "json", "NULL": "unknown", "\"NULL\"": "unknown",
}


@dataclass(frozen=True)
class AthenaType:
    name: str
    precision: int = 0
    scale: int = 0

    def column_info(self, column: str) -> dict:
        return {
            "CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": column, "Label": column,
            "Type": self.name, "Precision": self.precision, "Scale": self.scale, "Nullable": "UNKNOWN",
            "CaseSensitive": self.name in ("varchar", "char"),
        }


def athena_type(duck_type) -> AthenaType:
    """Athena's ColumnInfo type for a DuckDB result type (a DuckDBPyType or its string)."""
    text = str(duck_type)
    if text.startswith("DECIMAL"):
        precision, scale = _decimal_args(text)
        return AthenaType("decimal", precision, scale)
    if text.endswith("]"):
        return AthenaType("array")
    if text.startswith("MAP("):
        return AthenaType("map")
    if text.startswith(("STRUCT(", "TUPLE(", "UNION(")):
        return AthenaType("row")
    if text.startswith("VARCHAR"):
        return AthenaType("varchar", _VARCHAR_MAX)
    if text.startswith("ENUM("):
        return AthenaType("varchar", _VARCHAR_MAX)
    name = _DUCK_TO_ATHENA.get(text, text.lower())
    if text == "TIMESTAMP_S":
        return AthenaType(name, 0)
    return AthenaType(name, _FIXED_PRECISION.get(name, 0))


def _decimal_args(text: str) -> tuple[int, int]:
    inner = text[text.index("(") + 1:text.index(")")] if "(" in text else "18,3"
    p, s = (int(x) for x in inner.split(","))
    return p, s


@functools.lru_cache(maxsize=4096)
def glue_to_sqlglot(glue_type: str) -> exp.DataType:
    """Parse a Glue/Hive column type (``array<struct<a:int>>``, ``decimal(10,2)``, ``string``)."""
    dtype = exp.DataType.build(glue_type.strip(), dialect="hive")
    return _fix_bare_decimal(dtype)


def _fix_bare_decimal(dtype: exp.DataType) -> exp.DataType:
    for node in dtype.find_all(exp.DataType):
        if node.this == exp.DataType.Type.DECIMAL and not node.expressions:
            # Hive's bare DECIMAL is decimal(10,0); DuckDB's would be DECIMAL(18,3).
            node.set("expressions", [exp.DataTypeParam(this=exp.Literal.number(10)),
                                     exp.DataTypeParam(this=exp.Literal.number(0))])
        elif node.this == exp.DataType.Type.TIMESTAMP and not node.expressions:
            # Athena reads Hive timestamps as timestamp(3), rounding finer values to milliseconds.
            node.set("expressions", [exp.DataTypeParam(this=exp.Literal.number(3))])
    return dtype


@functools.lru_cache(maxsize=4096)
def glue_to_duck(glue_type: str) -> str:
    """DuckDB type text for a Glue column type."""
    return glue_to_sqlglot(glue_type).sql("duckdb")


def is_string_type(glue_type: str) -> bool:
    return glue_to_sqlglot(glue_type).this in exp.DataType.TEXT_TYPES


def duck_to_glue(duck_type) -> str:
    """The Hive type Athena's CTAS writes to Glue for a DuckDB result column."""
    text = str(duck_type)
    if text.startswith("DECIMAL"):
        p, s = _decimal_args(text)
        return f"decimal({p},{s})"
    return _sqlglot_to_hive(exp.DataType.build(_duck_text_for_sqlglot(text), dialect="duckdb"))


def _duck_text_for_sqlglot(text: str) -> str:
    return {"HUGEINT": "BIGINT", "UBIGINT": "BIGINT", "UHUGEINT": "BIGINT",
            "TIMESTAMP WITH TIME ZONE": "TIMESTAMP"}.get(text, text)


def _sqlglot_to_hive(dtype: exp.DataType) -> str:
    text = dtype.sql("hive").lower()
    for old, new in (("text", "string"), ("varchar", "string"), (": ", ":"), (", ", ",")):
        text = text.replace(old, new)
    return text


def hive_type_text(dtype: exp.DataType) -> str:
    """Normalise a parsed DDL column type to Glue's spelling (``array<struct<a:int,b:string>>``)."""
    text = dtype.sql("hive").lower()
    return text.replace(": ", ":").replace(", ", ",")
