"""Athena statements built without pasting values into SQL.

SQL files in ``include/sql/`` use named placeholders (``:partition_date``). ``bind`` turns them into
Athena's positional ``?`` and a list of ExecutionParameters: each value is typed (date, int, float,
bool, str) and rendered as a single SQL literal, which Athena parses as a literal and nothing else.
The only text built here is the UNLOAD wrapper, whose target is an S3 prefix checked by pattern.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

_S3_PREFIX = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/([A-Za-z0-9_=.-]+/)*$")
UNLOAD_FORMATS = {"PARQUET", "JSON", "TEXTFILE", "ORC", "AVRO"}
UNLOAD_COMPRESSIONS = {"SNAPPY", "GZIP", "ZSTD", "LZ4", "NONE"}


class SqlParameterError(ValueError):
    """A parameter that is missing, unused or of a type that cannot become a literal."""


_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")


class Identifier(str):
    """A database name for a ``:name`` placeholder where SQL needs an identifier, not a value (a query that
    joins tables of two databases: ``FROM :raw_database.sales``). Identifiers cannot be ExecutionParameters,
    so it is written into the statement, double-quoted, and only if it is a plain lower-case Glue name."""

    def __new__(cls, value: str) -> Identifier:
        if not _IDENTIFIER.match(value):
            raise SqlParameterError(f"{value!r} is not a Glue database or table name ([a-z_][a-z0-9_]*)")
        return super().__new__(cls, value)

    def quoted(self) -> str:
        return f'"{self}"'


def literal(value: Any) -> str:
    """A Python value as one Athena SQL literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise SqlParameterError(f"{value!r} has no SQL literal")
        return repr(value)
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}'"
    if isinstance(value, date):
        return f"'{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise SqlParameterError(f"cannot pass a {type(value).__name__} as an Athena parameter")


def placeholders(sql: str) -> list[tuple[str, int, int]]:
    """(name, start, end) of each ``:name`` placeholder, found with sqlglot's tokenizer so that
    text inside string literals and comments is never mistaken for one."""
    from sqlglot.dialects.athena import Athena
    from sqlglot.tokens import TokenType

    tokens = Athena().tokenize(sql)
    found = []
    for colon, name in zip(tokens, tokens[1:], strict=False):
        if colon.token_type == TokenType.COLON and name.start == colon.end + 1 and re.fullmatch(r"[a-z_]\w*", name.text):
            found.append((name.text, colon.start, name.end + 1))
    return found


def bind(sql: str, values: dict[str, Any]) -> tuple[str, list[str]]:
    """``sql`` with each ``:name`` replaced by ``?``, and the ExecutionParameters in order."""
    found = placeholders(sql)
    names = {name for name, _, _ in found}
    missing = sorted(names - set(values))
    unused = sorted(set(values) - names)
    if missing or unused:
        raise SqlParameterError(f"SQL parameters missing: {missing}; given but not used: {unused}")
    parts, params, pos = [], [], 0
    for name, start, end in found:
        parts.append(sql[pos:start])
        if isinstance(values[name], Identifier):
            parts.append(values[name].quoted())
        else:
            parts.append("?")
            params.append(literal(values[name]))
        pos = end
    parts.append(sql[pos:])
    return "".join(parts), params


def unload(select_sql: str, target_prefix: str, fmt: str = "PARQUET", compression: str = "SNAPPY") -> str:
    """``UNLOAD (<select>) TO '<prefix>' WITH (...)``: Athena writes the result files under the prefix."""
    if not _S3_PREFIX.match(target_prefix):
        raise ValueError(f"UNLOAD target must be an s3:// prefix ending in '/', got {target_prefix!r}")
    fmt = fmt.upper()
    if fmt not in UNLOAD_FORMATS:
        raise ValueError(f"UNLOAD format must be one of {sorted(UNLOAD_FORMATS)}, got {fmt!r}")
    if compression.upper() not in UNLOAD_COMPRESSIONS:
        raise ValueError(f"UNLOAD compression must be one of {sorted(UNLOAD_COMPRESSIONS)}, got {compression!r}")
    body = select_sql.strip().rstrip(";")
    return (f"UNLOAD (\n{body}\n)\nTO '{target_prefix}'\n"
            f"WITH (format = '{fmt}', compression = '{compression.upper()}')")
