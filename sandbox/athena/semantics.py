"""Where Trino (Athena) and DuckDB disagree, on a qualified and type-annotated sqlglot tree.

``check`` refuses what Trino refuses but DuckDB would quietly accept; ``rewrite`` changes what
DuckDB would compute differently. Each rule has a test comparing with what Athena returns.

- integer division truncates (``7/2 = 3``; the DuckDB connection also runs with
  ``integer_division``) and an integer quotient keeps the operands' type;
- ``date_add`` / ``date_trunc`` / ``date + INTERVAL`` on a DATE stay DATEs (DuckDB makes a
  timestamp); a time unit on a DATE is an error; ``date_diff`` counts whole units (DuckDB's
  ``date_diff`` counts boundaries crossed, its ``date_sub`` counts whole units);
- numeric result types (decimal literals as DOUBLE, decimal arithmetic, ``sum`` / ``avg``) are
  Trino's, from numeric.py;
- ``format()`` is Java's ``String.format``, run as DuckDB's ``printf``;
- ``CAST(double AS varchar)`` reads like Java (``1.0E7``), ``CAST(timestamp AS varchar)`` keeps the
  milliseconds, ``CAST(double AS integer)`` rounds half up (DuckDB: half to even), and a varchar
  that is not an integer does not cast to one (DuckDB would round ``'1.5'``);
- ``regexp_extract`` without a match and ``json_extract_scalar`` of an object are NULL (DuckDB:
  ``''`` and the object's text);
- comparing a varchar with a number, date, timestamp or boolean is a TYPE_MISMATCH, and ``||`` /
  ``concat`` on non-strings a FUNCTION_NOT_FOUND, where DuckDB would cast implicitly;
- functions unknown to Trino are FUNCTION_NOT_FOUND and Trino functions the sandbox cannot run
  faithfully NOT_SUPPORTED, rather than letting DuckDB run a same-named function.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp

from sandbox.athena.errors import failed, not_supported

Pos = Callable[[exp.Expression | None], "tuple[int, int] | None"]
T = exp.DataType.Type
_STRING = {T.VARCHAR, T.CHAR, T.TEXT, T.NCHAR, T.NVARCHAR, T.NAME}
_TEMPORAL = {T.DATE, T.DATETIME, T.TIMESTAMP, T.TIMESTAMPTZ, T.TIMESTAMPLTZ, T.TIMESTAMP_S, T.TIMESTAMP_MS,
             T.TIMESTAMP_NS, T.DATE32, T.DATETIME64, T.TIME, T.TIMETZ}
_INTEGERS = {T.TINYINT: 1, T.SMALLINT: 2, T.INT: 3, T.BIGINT: 4}
_FLOATS = {T.DOUBLE, T.FLOAT}
_NESTED = {T.ARRAY, T.MAP, T.STRUCT}
_DATE_UNITS = {"DAY", "WEEK", "MONTH", "QUARTER", "YEAR"}
_OPERATORS = {exp.EQ: "=", exp.NEQ: "<>", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<=",
              exp.NullSafeEQ: "IS NOT DISTINCT FROM", exp.NullSafeNEQ: "IS DISTINCT FROM"}

# Trino functions sqlglot has no node for, which DuckDB runs with the same meaning (maybe renamed).
_RENAMED = {"every": "bool_and", "is_finite": "isfinite", "is_infinite": "isinf", "geometric_mean": "geomean",
            "bit_count": "bit_count", "map_values": "map_values", "json_array_length": "json_array_length"}
_CONSTANTS = {"nan": "CAST('NaN' AS DOUBLE)", "infinity": "CAST('Infinity' AS DOUBLE)", "e": "exp(1)"}
# Trino functions the sandbox does not run: DuckDB lacks them or computes something else.
_KNOWN_TRINO = set("""
codepoint hamming_distance luhn_check word_stem regexp_position millisecond parse_duration timezone_hour
timezone_minute to_iso8601 to_milliseconds yow format_datetime parse_datetime human_readable_seconds checksum
histogram map_agg multimap_agg all_match any_match array_union arrays_overlap combinations ngrams none_match
trim_array zip zip_with map_concat map_entries map_filter map_zip_with multimap_from_entries transform_keys
transform_values json_array_get json_size json_exists xxhash64 crc32 murmur3 spooky_hash_v2_32 spooky_hash_v2_64
hmac_md5 hmac_sha1 hmac_sha256 hmac_sha512 url_extract_host url_extract_parameter url_extract_path
url_extract_port url_extract_protocol url_extract_query url_extract_fragment url_decode url_encode
bing_tile from_big_endian_32 from_big_endian_64 to_big_endian_32 to_big_endian_64 from_ieee754_32
from_ieee754_64 to_ieee754_32 to_ieee754_64 current_timezone at_timezone with_timezone from_unixtime_nanos
to_geometry st_point st_geometryfromtext st_astext st_contains st_distance approx_most_frequent
approx_set merge cardinality_estimate empty_approx_set classify features learn_classifier
evaluate_classifier_predictions qdigest_agg tdigest_agg value_at_quantile values_at_quantiles numeric_histogram
reduce_agg set_agg set_union array_histogram inverse_normal_cdf normal_cdf inverse_beta_cdf beta_cdf
wilson_interval_lower wilson_interval_upper cosine_similarity from_base32 to_base32 from_base64url to_base64url
sha384 xxhash3
""".split())
# sqlglot knows these, but would hand DuckDB a Joda pattern or a differently-spelled result.
_NOT_RUNNABLE = {exp.Typeof: "typeof", exp.ParseDatetime: "parse_datetime"}

# Runtime errors raised from SQL (DuckDB's error()); engine.py turns them back into Athena errors.
RUNTIME_ERROR = "ATHENA|"


# -- checks --------------------------------------------------------------------------------------
def check(tree: exp.Expression, pos: Pos) -> None:
    for node in tree.walk():
        if isinstance(node, exp.Anonymous):
            _check_function(node, pos)
        elif type(node) in _NOT_RUNNABLE:
            raise not_supported(f"the function {_NOT_RUNNABLE[type(node)]}()")
        elif type(node) in _OPERATORS:
            _compare(node, node.left, node.right, _OPERATORS[type(node)], pos)
        elif isinstance(node, exp.Between):
            _compare(node, node.this, node.args["low"], "BETWEEN", pos)
            _compare(node, node.this, node.args["high"], "BETWEEN", pos)
        elif isinstance(node, exp.In) and node.expressions:
            for item in node.expressions:
                _compare(node, node.this, item, "IN", pos)
        elif isinstance(node, (exp.DPipe, exp.Concat)):
            _concat(node, pos)


def _check_function(node: exp.Anonymous, pos: Pos) -> None:
    name = node.name.lower()
    if name in _RENAMED or name in _CONSTANTS:
        return
    if name in _KNOWN_TRINO:
        raise not_supported(f"the Trino function {name}()")
    raise failed("FUNCTION_NOT_FOUND", f"Function '{name}' not registered", pos(node))


def _compare(node: exp.Expression, left: exp.Expression, right: exp.Expression, op: str, pos: Pos) -> None:
    lc, rc = category(left), category(right)
    if lc and rc and lc != rc:
        raise failed("TYPE_MISMATCH", f"Cannot apply operator: {type_name(left)} {op} {type_name(right)}", pos(node))


def _concat(node: exp.Expression, pos: Pos) -> None:
    args = [node.left, node.right] if isinstance(node, exp.DPipe) else list(node.expressions)
    if any(category(a) not in (None, "string") for a in args):
        names = ", ".join(type_name(a) for a in args)
        raise failed("FUNCTION_NOT_FOUND", f"Unexpected parameters ({names}) for function concat", pos(node))


def category(node: exp.Expression) -> str | None:
    dtype = node.type
    if dtype is None or isinstance(node, exp.Null):
        return None
    kind = dtype.this
    if kind in _STRING:
        return "string"
    if kind in exp.DataType.NUMERIC_TYPES:
        return "numeric"
    if kind in _TEMPORAL:
        return "temporal"
    return "boolean" if kind == T.BOOLEAN else None


def type_name(node: exp.Expression) -> str:
    """A type as Trino names it in messages (``varchar(10)`` for a literal, ``integer``...)."""
    if isinstance(node, exp.Literal) and node.is_string:
        return f"varchar({len(node.this)})"
    return _dtype_name(node.type)


def _dtype_name(dtype: exp.DataType | None) -> str:
    text = dtype.sql("athena").lower() if dtype is not None else "unknown"
    text = re.sub(r"\bint\b", "integer", text.replace("text", "varchar"))
    return {"timestamp": "timestamp(3)"}.get(text, text)


# -- rewrites ------------------------------------------------------------------------------------
def rewrite(tree: exp.Expression, pos: Pos) -> None:
    for node in list(tree.walk()):
        rule = _RULES.get(type(node))
        if rule is not None:
            rule(node, pos)


def _wrap(node: exp.Expression, to: exp.DataType | str) -> None:
    """Wrap ``node`` in a CAST, keeping the node itself so the walk still reaches its children."""
    hole = exp.Null()
    node.replace(hole)
    hole.replace(exp.Cast(this=node, to=exp.DataType.build(to) if isinstance(to, str) else to))


def _replace(node: exp.Expression, new: exp.Expression) -> None:
    node.replace(new)


def _kind(node: exp.Expression) -> exp.DataType.Type:
    return node.type.this if node.type is not None else T.UNKNOWN


def _date_add(node: exp.Expression, pos: Pos) -> None:
    if isinstance(node, (exp.Add, exp.Sub)):
        if not isinstance(node.expression, exp.Interval):
            return
        unit, fn = node.expression.text("unit").upper(), "+"
    else:
        unit, fn = node.text("unit").upper() or "DAY", node.key
    unit = unit[:-1] if unit.endswith("S") else unit
    arg, kind = node.this, _kind(node.this)
    if kind in (T.DATE, T.DATE32):
        if unit not in _DATE_UNITS:
            raise failed("INVALID_FUNCTION_ARGUMENT", f"'{unit.lower()}' is not a valid DATE field", pos(node))
        _wrap(node, "DATE")
    elif kind in (T.TIMESTAMP, T.TIMESTAMP_S, T.TIMESTAMP_MS) and arg.type.expressions:
        _wrap(node, arg.type.copy())  # timestamp(p) in, timestamp(p) out (DuckDB widens to µs)
    elif kind in _STRING:
        raise failed("FUNCTION_NOT_FOUND", f"Unexpected parameters (varchar) for function {fn}", pos(node))
    elif kind not in _TEMPORAL:
        raise not_supported("date arithmetic on a value whose type the sandbox cannot tell "
                            "(Athena keeps a DATE a DATE, DuckDB would make it a timestamp)")


def _date_trunc(node: exp.Expression, pos: Pos) -> None:
    if _kind(node.this) in (T.DATE, T.DATE32):
        _wrap(node, "DATE")


def _date_diff(node: exp.DateDiff, pos: Pos) -> None:
    # Trino counts whole units between the two values, which is DuckDB's date_sub (not date_diff).
    unit = exp.Literal.string((node.text("unit") or "DAY").lower())
    _replace(node, exp.Anonymous(this="date_sub", expressions=[unit, node.expression, node.this]))


def _format(node: exp.Format, pos: Pos) -> None:
    fmt = node.this
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        raise not_supported("format() with a format string that is not a literal")
    args = list(node.expressions)
    i = 0
    for m in re.finditer(r"%(\d+\$)?([-#+ 0,(]*)(\d+)?(\.\d+)?([a-zA-Z%])", fmt.this):
        index, flags, conv = m.group(1), m.group(2), m.group(5)
        if conv in "%n":
            continue
        if index or "," in flags or "(" in flags or conv not in "sdfeExXo":
            raise not_supported(f"the format() specifier '{m.group(0)}'")
        if i < len(args) and conv == "s":
            args[i] = _as_text(args[i])
        i += 1
    _replace(node, exp.Anonymous(this="printf", expressions=[exp.Literal.string(fmt.this.replace("%n", "\n")),
                                                             *args]))


def _as_text(node: exp.Expression) -> exp.Expression:
    """``node`` rendered as Trino's CAST(... AS varchar) would."""
    kind = _kind(node)
    if kind == T.DOUBLE:
        return exp.Anonymous(this="athena_double_text", expressions=[node])
    if kind == T.FLOAT:
        return exp.Anonymous(this="athena_real_text", expressions=[node])
    if kind in (T.TIMESTAMP, T.TIMESTAMP_MS, T.TIMESTAMP_NS, T.TIMESTAMPTZ, T.TIMESTAMP_S):
        pattern = "%Y-%m-%d %H:%M:%S" + _fraction(node.type) + (" UTC" if kind == T.TIMESTAMPTZ else "")
        return exp.Anonymous(this="strftime", expressions=[node, exp.Literal.string(pattern)])
    return exp.Cast(this=node, to=exp.DataType.build("VARCHAR"))


def _fraction(dtype: exp.DataType) -> str:
    """Trino prints a timestamp(p) with p fraction digits; Hive tables' timestamps are timestamp(3)."""
    params = [int(p.name) for p in dtype.expressions if p.name.isdigit()]
    precision = 0 if dtype.this == T.TIMESTAMP_S else params[0] if params else 3
    return "" if precision == 0 else ".%g" if precision <= 3 else ".%f"


def _cast(node: exp.Cast, pos: Pos) -> None:
    target, source = node.to.this, _kind(node.this)
    if target in _STRING and source in _NESTED:
        raise failed("TYPE_MISMATCH", f"Cannot cast {_dtype_name(node.this.type)} to varchar", pos(node))
    if target in _STRING and source in _FLOATS | _TEMPORAL - {T.DATE, T.DATE32, T.TIME, T.TIMETZ}:
        _replace(node, _as_text(node.this))
    elif target in _INTEGERS and source in _FLOATS:
        node.set("this", exp.Anonymous(this="round", expressions=[node.this]))  # half up, not half even
    elif target in _INTEGERS and source in _STRING:
        _integer_from_text(node)


def _integer_from_text(node: exp.Cast) -> None:
    """Trino casts only integer text to an integer type; DuckDB would round ``'1.5'``."""
    text = node.this
    ok = exp.Anonymous(this="regexp_full_match", expressions=[text.copy(), exp.Literal.string(r"\s*[+-]?\d+\s*")])
    target = _dtype_name(node.to).upper().replace("INTEGER", "INT")
    if isinstance(node, exp.TryCast):
        otherwise: exp.Expression = exp.Null()
    else:
        message = exp.DPipe(this=exp.DPipe(this=exp.Literal.string(f"{RUNTIME_ERROR}INVALID_CAST_ARGUMENT|Cannot cast '"),
                                           expression=text.copy()),
                            expression=exp.Literal.string(f"' to {target}"))
        otherwise = exp.Anonymous(this="error", expressions=[message])
    hole = exp.Null()
    node.replace(hole)
    hole.replace(exp.Case(ifs=[exp.If(this=ok, true=node)], default=otherwise))


def _regexp_extract(node: exp.RegexpExtract, pos: Pos) -> None:
    # Trino: NULL when the pattern does not match (DuckDB returns '').
    matches = exp.Anonymous(this="regexp_matches", expressions=[node.this.copy(), node.expression.copy()])
    hole = exp.Null()
    node.replace(hole)
    hole.replace(exp.Case(ifs=[exp.If(this=matches, true=node)]))


def _json_extract_scalar(node: exp.JSONExtractScalar, pos: Pos) -> None:
    # Trino: NULL for an object or array (DuckDB's ->> returns its JSON text).
    path = node.expression
    path_sql = exp.Literal.string(path.sql("duckdb").strip("'")) if not isinstance(path, exp.Literal) else path.copy()
    kind = exp.Anonymous(this="json_type", expressions=[node.this.copy(), path_sql])
    nested = exp.In(this=kind, expressions=[exp.Literal.string("OBJECT"), exp.Literal.string("ARRAY")])
    hole = exp.Null()
    node.replace(hole)
    hole.replace(exp.Case(ifs=[exp.If(this=nested, true=exp.Null())], default=node))


def _anonymous(node: exp.Anonymous, pos: Pos) -> None:
    name = node.name.lower()
    if name in _CONSTANTS:
        node.replace(exp.maybe_parse(_CONSTANTS[name], dialect="duckdb"))
    elif name in _RENAMED:
        node.set("this", _RENAMED[name])


_RULES: dict[type, Callable[[exp.Expression, Pos], None]] = {
    exp.DateAdd: _date_add, exp.DateSub: _date_add, exp.Add: _date_add, exp.Sub: _date_add,
    exp.TimestampTrunc: _date_trunc, exp.DateTrunc: _date_trunc,
    exp.DateDiff: _date_diff,
    exp.Format: _format,
    exp.Cast: _cast, exp.TryCast: _cast,
    exp.RegexpExtract: _regexp_extract,
    exp.JSONExtractScalar: _json_extract_scalar,
    exp.Anonymous: _anonymous,
}
