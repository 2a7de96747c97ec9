"""Query results the way Athena hands them out: values as Trino renders them, the ``<id>.csv``
file, ``GetQueryResults`` pages and the ``.metadata`` companion.

Values are rendered once, by a formatter built per column from its DuckDB type, so that a double
reads ``1.0E7`` (Java's ``Double.toString``), a timestamp ``2026-01-01 00:00:00.000``, an array
``[1, 2]``, a row ``{a=1, b=x}`` and a varbinary ``01 02``, as Athena prints them.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sandbox.athena.datatypes import AthenaType, athena_type
from sandbox.athena.errors import QueryFailed
from sandbox.protocol import AwsError

Formatter = Callable[[Any], "str | None"]
_BIGINT = (-(2**63), 2**63 - 1)


# -- value formatting ----------------------------------------------------------------------------
def java_double(x: float) -> str:
    """Java's ``Double.toString`` (JDK 19+, shortest round-trip digits), which Trino uses."""
    if 1e-3 <= abs(x) < 1e7:  # Python's repr is already Java's plain notation in this range
        return repr(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return _java_decimal(repr(x), x)


def java_float(x: float) -> str:
    """Java's ``Float.toString``: the shortest digits that round-trip through a 32-bit float."""
    if math.isnan(x) or math.isinf(x):
        return java_double(x)
    for digits in range(1, 10):
        text = f"{x:.{digits}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == x:
            return _java_decimal(text, x)
    return _java_decimal(repr(x), x)


def _java_decimal(text: str, x: float) -> str:
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    sign, digits, exponent = Decimal(text).normalize().as_tuple()
    digits_text = "".join(map(str, digits))
    point = len(digits_text) + exponent  # position of the decimal point from the left
    minus = "-" if sign else ""
    if 1e-3 <= abs(x) < 1e7:
        if point <= 0:
            return f"{minus}0.{'0' * -point}{digits_text}"
        if point >= len(digits_text):
            return f"{minus}{digits_text}{'0' * (point - len(digits_text))}.0"
        return f"{minus}{digits_text[:point]}.{digits_text[point:]}"
    mantissa = digits_text[0] + "." + (digits_text[1:] or "0")
    return f"{minus}{mantissa}E{point - 1}"


def _timestamp(v: datetime) -> str:
    text = v.strftime("%Y-%m-%d %H:%M:%S") + f".{v.microsecond // 1000:03d}"
    return _with_zone(text, v)


def _timestamp_seconds(v: datetime) -> str:
    # timestamp(0), e.g. a TIMESTAMP '2026-01-01 00:00:00' literal: Trino prints no fraction.
    return _with_zone(v.strftime("%Y-%m-%d %H:%M:%S"), v)


def _with_zone(text: str, v: datetime) -> str:
    if v.tzinfo is not None:
        text += " " + _zone_name(v)
    return text


def _zone_name(v: datetime) -> str:
    name = v.tzname() or "UTC"
    return "UTC" if name in ("Etc/UTC", "UTC", "GMT") else name


def _time(v: time) -> str:
    return v.strftime("%H:%M:%S") + f".{v.microsecond // 1000:03d}"


def _interval(v: timedelta) -> str:
    total_ms = round(v.total_seconds() * 1000)
    sign = "-" if total_ms < 0 else ""
    total_ms = abs(total_ms)
    days, rem = divmod(total_ms, 86_400_000)
    hours, rem = divmod(rem, 3_600_000)
    minutes, rem = divmod(rem, 60_000)
    seconds, ms = divmod(rem, 1000)
    return f"{sign}{days} {hours:02d}:{minutes:02d}:{seconds:02d}.{ms:03d}"


def _bigint(v: int) -> str:
    if not _BIGINT[0] <= v <= _BIGINT[1]:
        raise QueryFailed("NUMERIC_VALUE_OUT_OF_RANGE", f"bigint addition overflow: {v}")
    return str(v)


def _decimal(v: Decimal) -> str:
    return format(v, "f")


def _scalar(kind: str) -> Formatter:
    simple: dict[str, Formatter] = {
        "boolean": lambda v: "true" if v else "false",
        "double": java_double, "float": java_float,
        "hugeint": _bigint, "ubigint": _bigint, "uhugeint": _bigint,
        "decimal": _decimal, "date": lambda v: v.isoformat(),
        "time": _time, "interval": _interval,
        "blob": lambda v: " ".join(f"{b:02x}" for b in bytes(v)),
    }
    if kind in simple:
        return simple[kind]
    if kind == "timestamp_s":
        return _timestamp_seconds
    if kind.startswith("timestamp"):
        return _timestamp
    return str


def formatter(duck_type) -> Formatter:
    """A function rendering non-NULL values of ``duck_type`` as Athena prints them."""
    kind = duck_type.id
    if kind in ("list", "array"):
        return _list_formatter(formatter(dict(duck_type.children)["child"]))
    if kind == "struct":
        names = [name for name, _ in duck_type.children]
        fields = [formatter(t) for _, t in duck_type.children]
        return _struct_formatter(names, fields)
    if kind == "tuple":  # an unnamed row
        return _tuple_formatter([formatter(t) for _, t in duck_type.children])
    if kind == "map":
        children = dict(duck_type.children)
        return _map_formatter(formatter(children["key"]), formatter(children["value"]))
    return _scalar(kind)


def _nested(fmt: Formatter) -> Formatter:
    return lambda v: "null" if v is None else fmt(v)


def _list_formatter(item: Formatter) -> Formatter:
    item = _nested(item)
    return lambda v: "[" + ", ".join(item(x) for x in v) + "]"


def _struct_formatter(names: list[str], fields: list[Formatter]) -> Formatter:
    fields = [_nested(f) for f in fields]

    def fmt(v: Any) -> str:
        values = v.values() if isinstance(v, dict) else v
        return "{" + ", ".join(f"{n}={f(x)}" for n, f, x in zip(names, fields, values, strict=False)) + "}"
    return fmt


def _tuple_formatter(fields: list[Formatter]) -> Formatter:
    fields = [_nested(f) for f in fields]
    return lambda v: "{" + ", ".join(f(x) for f, x in zip(fields, v, strict=False)) + "}"


def _map_formatter(key: Formatter, value: Formatter) -> Formatter:
    key, value = _nested(key), _nested(value)
    return lambda v: "{" + ", ".join(f"{key(k)}={value(x)}" for k, x in v.items()) + "}"


# -- result sets ---------------------------------------------------------------------------------
@dataclass
class ResultSet:
    """What a finished query returns: column names and types, and rows of rendered strings."""

    names: list[str] = field(default_factory=list)
    types: list[AthenaType] = field(default_factory=list)
    rows: list[list[str | None]] = field(default_factory=list)
    header: bool = False  # SELECT results start with the column names (DML); DDL/UTILITY do not
    update_count: int | None = None
    evicted: bool = False  # rows dropped from memory; they are read back from the <id>.csv
    first_page: dict | None = field(default=None, repr=False)  # GetQueryResults' default first page

    @classmethod
    def from_duckdb(cls, names: Sequence[str], duck_types: Sequence[Any], raw_rows: list[tuple]) -> ResultSet:
        # Column by column: one formatter per column, and varchar columns need none.
        columns = list(zip(*raw_rows, strict=True)) if raw_rows else [() for _ in duck_types]
        rendered = [col if t.id == "varchar" else [None if v is None else f(v) for v in col]
                    for t, f, col in zip(duck_types, (formatter(t) for t in duck_types), columns, strict=True)]
        rows = [list(r) for r in zip(*rendered, strict=True)] if raw_rows else []
        return cls(list(names), [athena_type(t) for t in duck_types], rows, header=True, update_count=0)

    @classmethod
    def text(cls, lines: list[str], column: str | None = None) -> ResultSet:
        """A DDL/UTILITY result: one string column (or none, like MSCK), no header row. SHOW
        statements (a column) report UpdateCount 0 like SELECT; DDL leaves it out (measured)."""
        if column is None:
            return cls([], [], [[line] for line in lines])
        return cls([column], [AthenaType("string")], [[line] for line in lines], update_count=0)

    @classmethod
    def count(cls, rows: int) -> ResultSet:
        """CTAS / UNLOAD / INSERT: no rows, a ``rows bigint`` column and the UpdateCount."""
        return cls(["rows"], [AthenaType("bigint", 19)], [], update_count=rows)

    def column_info(self) -> list[dict]:
        return [t.column_info(n) for n, t in zip(self.names, self.types, strict=True)]

    def all_rows(self) -> list[list[str | None]]:
        return ([list(self.names)] if self.header else []) + self.rows

    def csv_bytes(self) -> bytes:
        """Athena's ``<id>.csv``: every value quoted, NULL as an empty field, ``\\n`` line ends."""
        lines = [",".join(["" if v is None else '"' + v.replace('"', '""') + '"' for v in row])
                 for row in self.all_rows()]
        return ("\n".join(lines) + "\n").encode() if lines else b""

    def txt_bytes(self) -> bytes:
        """Athena's ``<id>.txt`` for DDL/UTILITY: rows joined by ``\\n``, columns by tabs, no
        header and no trailing newline."""
        return "\n".join("\t".join(v or "" for v in row) for row in self.all_rows()).encode()

    def metadata_bytes(self, query_id: str) -> bytes:
        # Real Athena writes a protobuf here; the sandbox documents its own JSON instead.
        return json.dumps({"sandbox": "athena-result-metadata/1", "QueryExecutionId": query_id,
                           "ColumnInfo": self.column_info(), "UpdateCount": self.update_count,
                           "RowCount": len(self.rows)}, separators=(",", ":")).encode()


def parse_csv(data: str) -> list[list[str | None]]:
    """Rows of a ``<id>.csv`` written by :meth:`ResultSet.csv_bytes` (an empty field is NULL, ``""``
    is an empty string, which Python's csv module cannot tell apart)."""
    rows: list[list[str | None]] = []
    row: list[str | None] = []
    i, n = 0, len(data)
    while i < n:
        if data[i] == '"':
            j = i + 1
            while True:
                j = data.index('"', j)
                if j + 1 < n and data[j + 1] == '"':
                    j += 2
                    continue
                break
            row.append(data[i + 1:j].replace('""', '"'))
            i = j + 1
        else:
            row.append(None)
        if i < n and data[i] == ",":
            i += 1
            continue
        rows.append(row)
        row = []
        i += 1  # the newline
    return rows


# -- paging --------------------------------------------------------------------------------------
def page(result: ResultSet, query_id: str, max_results: int, token: str | None) -> dict:
    """One GetQueryResults page; the header row (when any) counts towards the first page."""
    start = decode_token(token, query_id) if token else 0
    rows = result.all_rows()
    chunk = rows[start:start + max_results]
    out: dict[str, Any] = {
        "ResultSet": {"Rows": [_row(r) for r in chunk],
                      "ResultSetMetadata": {"ColumnInfo": result.column_info()}},
    }
    if result.update_count is not None:
        out["UpdateCount"] = result.update_count
    if start + max_results < len(rows):
        out["NextToken"] = encode_token(query_id, start + max_results)
    return out


def _row(values: list[str | None]) -> dict:
    return {"Data": [{} if v is None else {"VarCharValue": v} for v in values]}


def encode_token(query_id: str, offset: int) -> str:
    return base64.b64encode(f"sandbox-athena:{query_id}:{offset}".encode()).decode()


def decode_token(token: str, query_id: str) -> int:
    try:
        tag, rest = base64.b64decode(token, validate=True).decode().split(":", 1)
        qid, offset = rest.rsplit(":", 1)
        if tag != "sandbox-athena" or qid != query_id:
            raise ValueError(token)
        return int(offset)
    except (ValueError, UnicodeDecodeError):
        raise _malformed_token(token) from None


def _malformed_token(token: str) -> AwsError:
    from sandbox.athena.errors import InvalidRequest

    return InvalidRequest(f"The nextPageToken is malformed: {token}")
