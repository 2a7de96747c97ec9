"""Trino's numeric types for arithmetic and aggregates, applied to the values and the result metadata.

sqlglot's type annotation guesses numeric result types (``price * qty`` keeps the left operand's
DECIMAL(15,2), ``sum(decimal)`` too), and DuckDB computes with its own rules (``decimal / decimal``
and ``avg(decimal)`` go through DOUBLE; ``decimal(15,2) * decimal(15,2)`` is DECIMAL(18,4)). Trino
(Athena engine v3) types every operator and aggregate by fixed rules, and those types decide both
the values (scale, rounding) and ``ColumnInfo``. This module types each arithmetic node and
aggregate by Trino's rules and wraps it in an explicit CAST, so that DuckDB computes and reports
exactly that type:

- ``a + b`` / ``a - b`` on decimals: ``decimal(min(38, 1 + max(s1,s2) + max(p1-s1, p2-s2)), max(s1,s2))``;
- ``a * b``: ``decimal(min(38, p1+p2), s1+s2)``;
- ``a / b``: ``decimal(min(38, p1 + s2 + max(0, s2-s1)), max(s1,s2))``, rounded half up (computed on
  128-bit unscaled integers, never through DOUBLE);
- ``a % b``: ``decimal(min(38, min(p1-s1, p2-s2) + max(s1,s2)), max(s1,s2))``;
- an integer operand is ``decimal(3|5|10|19, 0)`` next to a decimal; anything with a double is a
  double, with a real (and no double) a real; integer op integer is the wider integer type;
- ``sum``: integers -> bigint, ``decimal(p,s)`` -> ``decimal(38,s)``; ``avg``: integers -> double,
  ``decimal(p,s)`` -> ``decimal(p,s)`` rounded half up;
- double division by zero is ``Infinity`` / ``-Infinity`` / ``NaN``; integer and decimal division
  by zero fail with DIVISION_BY_ZERO;
- ``bitwise_and`` & co. are bigint;
- a bare literal with a point (``1.0``) is a DOUBLE in Athena (see FIDELITY.md), ``1e0`` too.

Sources: Trino's ``DecimalOperators`` signatures (add, divide and modulus precision formulas read
in its source: division is ``min(38, a_precision + b_scale + max(b_scale - a_scale, 0))``),
``functions/decimal.md``, ``DecimalSumAggregation`` / ``DecimalAverageAggregation`` /
``DoubleOperators`` / ``MathFunctions`` (round, floor, ceiling, truncate), and Athena's
"Considerations for data types" (decimal literals must be written ``DECIMAL '0.12'``).

- ``round`` / ``floor`` / ``ceiling`` / ``truncate`` of a decimal have Trino's decimal result types.

Where an operand's type cannot be told (an unknown function's result, say), arithmetic is refused
with NOT_SUPPORTED rather than left to DuckDB's own typing.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.scope import traverse_scope

from sandbox.athena.errors import failed, not_supported

Pos = Callable[[exp.Expression | None], "tuple[int, int] | None"]
T = exp.DataType.Type
INTEGERS = {T.TINYINT: 3, T.SMALLINT: 5, T.INT: 10, T.BIGINT: 19}
_INT_ORDER = [T.TINYINT, T.SMALLINT, T.INT, T.BIGINT]
_STRING = {T.VARCHAR, T.CHAR, T.TEXT, T.NCHAR, T.NVARCHAR, T.NAME}
_MARK = "trino_numeric"
MAX_PRECISION = 38

# DuckDB macros the rewritten SQL calls (created by the engine on its connection).
MACROS = (
    # Trino's decimal division: unscaled n / d rounded half up (away from zero); d = 0 fails.
    "CREATE OR REPLACE MACRO __athena_div_half_up(n, d) AS "
    "(CASE WHEN (n < 0) = (d < 0) THEN 1 ELSE -1 END) * ((2 * abs(n) + abs(d)) // (2 * abs(d)))",
    # Java's double division: x/0 is +-Infinity or NaN. DuckDB's '/' fails on zero; its fdiv
    # (floor division) gives IEEE results for a zero divisor, sign of zero included.
    "CREATE OR REPLACE MACRO __athena_fdiv(a, b) AS CASE WHEN b = 0 THEN fdiv(a, b) ELSE a / b END",
)


# -- types -----------------------------------------------------------------------------------------
def decimal(p: int, s: int) -> exp.DataType:
    return exp.DataType.build(f"DECIMAL({p}, {s})")


def decimal_params(dtype: exp.DataType) -> tuple[int, int] | None:
    """(precision, scale) of a decimal, or of an integer type seen as a decimal."""
    if dtype.this in INTEGERS:
        return INTEGERS[dtype.this], 0
    if dtype.this != T.DECIMAL:
        return None
    params = [int(p.name) for p in dtype.expressions if p.name.isdigit()]
    if not params:
        return 38, 0  # sqlglot's bare DECIMAL; Glue's bare decimal is fixed to (10,0) in datatypes.py
    return params[0], params[1] if len(params) > 1 else 0


def _kind(node: exp.Expression) -> str:
    """'int', 'decimal', 'double', 'real', 'null', 'string', 'other' or 'unknown'."""
    if isinstance(node, exp.Null):
        return "null"
    dtype = node.type
    if dtype is None or dtype.this in (T.UNKNOWN,):
        return "unknown"
    kind = dtype.this
    if kind in INTEGERS:
        return "int"
    if kind == T.DECIMAL:
        return "decimal"
    if kind == T.DOUBLE:
        return "double"
    if kind == T.FLOAT:
        return "real"
    if kind == T.NULL:
        return "null"
    if kind in _STRING:
        return "string"
    return "other"


def _wider_int(a: exp.DataType, b: exp.DataType) -> exp.DataType:
    return exp.DataType.build(max(a.this, b.this, key=_INT_ORDER.index))


# -- the pass ------------------------------------------------------------------------------------
def apply(tree: exp.Expression, schema, pos: Pos) -> exp.Expression:
    """Type and rewrite every scope, innermost first. Each scope is re-annotated before it is
    typed, so columns of a derived table carry the (CAST) types given inside it."""
    scopes = list(traverse_scope(tree))
    for scope in scopes:
        annotate_types(tree, schema=schema, dialect="athena")
        root = scope.expression
        inner = {id(s.expression) for s in scopes if s is not scope}
        for node in _post_order(root, inner):
            rule = _RULES.get(type(node))
            if rule is not None and not node.meta.get(_MARK):
                rule(node, pos)
    return annotate_types(tree, schema=schema, dialect="athena")


def _post_order(root: exp.Expression, skip: set[int]) -> list[exp.Expression]:
    out: list[exp.Expression] = []

    def visit(node: exp.Expression) -> None:
        for child in node.iter_expressions():
            if id(child) in skip or child.meta.get(_MARK):
                continue
            visit(child)
        out.append(node)

    visit(root)
    return out


def _wrap(node: exp.Expression, to: exp.DataType, new: exp.Expression | None = None) -> exp.Cast:
    """Replace ``node`` by CAST(new or node AS to), marked as already typed."""
    hole = exp.Null()
    node.replace(hole)
    cast = exp.Cast(this=new if new is not None else node, to=to)
    cast.meta[_MARK] = True
    cast.type = to.copy()
    hole.replace(cast)
    return cast


def _operands(node: exp.Binary, op: str, pos: Pos) -> tuple[str, str] | None:
    lk, rk = _kind(node.left), _kind(node.right)
    numeric = {"int", "decimal", "double", "real", "null"}
    if lk in numeric and rk in numeric:
        return lk, rk
    if "string" in (lk, rk) and {lk, rk} <= numeric | {"string"}:
        raise failed("TYPE_MISMATCH", f"Cannot apply operator: {_name(node.left)} {op} {_name(node.right)}",
                     pos(node))
    if "unknown" in (lk, rk) and {lk, rk} <= numeric | {"unknown"}:
        raise not_supported(f"arithmetic on a value whose type the sandbox cannot tell "
                            f"({node.sql('athena')[:80]}); Trino's result type depends on it")
    return None  # dates, intervals...: other rules


def _name(node: exp.Expression) -> str:
    from sandbox.athena.semantics import type_name

    return type_name(node)


def _result(lk: str, rk: str, node: exp.Binary) -> tuple[str, exp.DataType | None]:
    """The common kind and, for non-decimals, the result type."""
    kinds = {lk, rk} - {"null"}
    if not kinds:
        return "null", None
    if "double" in kinds:
        return "double", exp.DataType.build("DOUBLE")
    if "real" in kinds:
        return "real", exp.DataType.build("REAL")
    if kinds == {"int"}:
        types = [n.type for n, k in ((node.left, lk), (node.right, rk)) if k == "int"]
        return "int", _wider_int(types[0], types[-1])
    return "decimal", None


def _decimals(node: exp.Binary) -> tuple[tuple[int, int], tuple[int, int]]:
    left = decimal_params(node.left.type) if _kind(node.left) != "null" else None
    right = decimal_params(node.right.type) if _kind(node.right) != "null" else None
    left = left or right
    right = right or left
    return left, right  # type: ignore[return-value]


def _arith(node: exp.Binary, pos: Pos) -> None:
    op = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}[type(node)]
    kinds = _operands(node, op, pos)
    if kinds is None:
        return
    kind, dtype = _result(*kinds, node)
    if kind == "null":
        return
    if kind == "decimal":
        (p1, s1), (p2, s2) = _decimals(node)
        if isinstance(node, (exp.Add, exp.Sub)):
            p, s = min(MAX_PRECISION, 1 + max(s1, s2) + max(p1 - s1, p2 - s2)), max(s1, s2)
        elif isinstance(node, exp.Mul):
            p, s = min(MAX_PRECISION, p1 + p2), s1 + s2
            if s > MAX_PRECISION:
                raise failed("NUMERIC_VALUE_OUT_OF_RANGE", f"DECIMAL scale must be in range [0, 38]: {s}", pos(node))
        elif isinstance(node, exp.Div):
            p, s = min(MAX_PRECISION, p1 + s2 + max(0, s2 - s1)), max(s1, s2)
            _wrap(node, decimal(p, s), _decimal_quotient(node.left, s1, node.right, s2, s))
            return
        else:
            p, s = min(MAX_PRECISION, min(p1 - s1, p2 - s2) + max(s1, s2)), max(s1, s2)
        _wrap(node, decimal(p, s))
        return
    if isinstance(node, exp.Div) and kind in ("double", "real"):
        quotient = exp.Anonymous(this="__athena_fdiv", expressions=[node.left.copy(), node.right.copy()])
        _wrap(node, dtype, quotient)
        return
    _wrap(node, dtype)


def _unscaled(value: exp.Expression, scale: int, shift: int) -> exp.Expression:
    """``value`` (scale ``scale``) times 10**shift as a 128-bit integer (exact: shift >= scale)."""
    as_decimal = exp.Cast(this=value.copy(), to=decimal(MAX_PRECISION, scale))
    factor = exp.Cast(this=exp.Literal.number(10 ** shift), to=decimal(MAX_PRECISION, 0))
    return exp.Cast(this=exp.Mul(this=as_decimal, expression=factor), to=exp.DataType.build("HUGEINT"))


def _from_unscaled(unscaled: exp.Expression, scale: int) -> exp.Expression:
    whole = exp.Cast(this=unscaled, to=decimal(MAX_PRECISION, 0))
    if scale == 0:
        return whole
    unit = exp.Cast(this=exp.Literal.string(f"0.{'0' * (scale - 1)}1"), to=decimal(scale + 1, scale))
    return exp.Mul(this=whole, expression=unit)


def _decimal_quotient(left: exp.Expression, s1: int, right: exp.Expression, s2: int, s: int,
                      denominator: exp.Expression | None = None) -> exp.Expression:
    """round_half_up(left * 10**s / right) / 10**s, on unscaled integers: Trino's decimal division."""
    n = _unscaled(left, s1, s + s2)
    d = denominator if denominator is not None else _unscaled(right, s2, s2)
    return _from_unscaled(exp.Anonymous(this="__athena_div_half_up", expressions=[n, d]), s)


def _neg(node: exp.Neg, pos: Pos) -> None:
    kind = _kind(node.this)
    if kind == "string":
        raise failed("TYPE_MISMATCH", f"Cannot negate {_name(node.this)}", pos(node))
    if kind in ("int", "decimal", "double", "real"):
        _wrap(node, node.this.type.copy())


def _literal(node: exp.Literal, pos: Pos) -> None:
    if node.is_string:
        return
    text = node.this
    if "e" in text.lower():
        node.type = exp.DataType.build("DOUBLE")  # DuckDB reads 1e0 as a DOUBLE too
        return
    if "." in text:
        parent = node.parent.parent if isinstance(node.parent, exp.Array) else node.parent
        if isinstance(parent, (exp.ApproxQuantile, exp.Quantile, exp.PercentileCont, exp.PercentileDisc,
                               exp.TableSample, exp.Limit, exp.Offset)):
            return  # DuckDB wants these as bare constants
        # Athena engine v3 parses a bare decimal literal as DOUBLE (parse_decimal_literals_as_double).
        _wrap(node, exp.DataType.build("DOUBLE"))
        return
    digits = text.lstrip("-")
    if digits.isdigit() and int(digits) > 2**31 - 1:
        node.type = exp.DataType.build("BIGINT")


def _agg_arg(node: exp.AggFunc) -> tuple[exp.Expression, exp.Expression]:
    """The aggregated value (inside DISTINCT, if any) and the node that holds it."""
    arg = node.this
    if isinstance(arg, exp.Distinct) and arg.expressions:
        return arg.expressions[0], arg
    return arg, node


def _sum(node: exp.Sum, pos: Pos) -> None:
    value, _ = _agg_arg(node)
    kind = _kind(value)
    if kind == "int":
        _wrap(_outer(node), exp.DataType.build("BIGINT"))  # DuckDB's HUGEINT; out of range fails
    elif kind == "decimal":
        _, s = decimal_params(value.type)
        _wrap(_outer(node), decimal(MAX_PRECISION, s))
    elif kind in ("double", "real"):
        _wrap(_outer(node), value.type.copy())
    elif kind == "string":
        raise failed("FUNCTION_NOT_FOUND", f"Unexpected parameters ({_name(value)}) for function sum", pos(node))
    elif kind == "unknown":
        raise not_supported("sum() of a value whose type the sandbox cannot tell")


def _avg(node: exp.Avg, pos: Pos) -> None:
    value, _ = _agg_arg(node)
    kind = _kind(value)
    outer = _outer(node)
    if kind == "int":
        _wrap(outer, exp.DataType.build("DOUBLE"))
    elif kind in ("double", "real"):
        _wrap(outer, value.type.copy())
    elif kind == "decimal":
        p, s = decimal_params(value.type)
        # sum / count on unscaled integers, rounded half up, like DecimalAverageAggregation.
        total = _over(outer, node, exp.Sum(this=node.this.copy()))
        count = _over(outer, node, exp.Count(this=node.this.copy()))
        d = exp.Cast(this=exp.Nullif(this=count, expression=exp.Literal.number(0)), to=exp.DataType.build("HUGEINT"))
        _wrap(outer, decimal(p, s), _decimal_quotient(total, s, None, 0, s, denominator=d))
    elif kind == "string":
        raise failed("FUNCTION_NOT_FOUND", f"Unexpected parameters ({_name(value)}) for function avg", pos(node))
    elif kind == "unknown":
        raise not_supported("avg() of a value whose type the sandbox cannot tell")


def _outer(node: exp.Expression) -> exp.Expression:
    """The aggregate as it stands in the query: itself, or the window (FILTER) around it."""
    parent = node.parent
    while isinstance(parent, (exp.Filter, exp.Window)) and parent.this is node:
        node, parent = parent, parent.parent
    return node


def _over(outer: exp.Expression, agg: exp.Expression, new: exp.Expression) -> exp.Expression:
    """``new`` in place of ``agg`` inside a copy of its window / FILTER wrapper."""
    if outer is agg:
        return new
    copy = outer.copy()
    for node in copy.walk():
        if type(node) is type(agg) and node == agg:
            node.replace(new)
            break
    return copy


def _same(node: exp.Expression, pos: Pos) -> None:
    """Functions whose type is their argument's (parentheses, min, max, abs...)."""
    value, _ = _agg_arg(node) if isinstance(node, exp.AggFunc) else (node.this, node)
    if value is not None and value.type is not None and _kind(value) != "unknown":
        node.type = value.type.copy()


def _branches(node: exp.Expression) -> list[exp.Expression]:
    if isinstance(node, exp.Case):
        return [i.args.get("true") for i in node.args.get("ifs") or []] + [node.args.get("default")]
    if isinstance(node, exp.If):
        return [node.args.get("true"), node.args.get("false")]
    if isinstance(node, exp.Nullif):
        return [node.this]
    return [node.this, *node.expressions]


def _supertype(node: exp.Expression, pos: Pos) -> None:
    """CASE / IF / COALESCE / GREATEST / LEAST / NULLIF: Trino's common supertype of the values."""
    if isinstance(node, exp.If) and isinstance(node.parent, exp.Case):
        return  # a WHEN branch: the CASE around it is typed
    values = [v for v in _branches(node) if v is not None]
    kinds = {_kind(v) for v in values} - {"null"}
    if not kinds or not kinds <= {"int", "decimal", "double", "real"}:
        if kinds and kinds <= {"int", "decimal", "double", "real", "unknown"}:
            raise not_supported(f"a {node.key.upper()} over values whose types the sandbox cannot tell")
        return
    typed = [v.type for v in values if _kind(v) != "null"]
    if "double" in kinds:
        to = exp.DataType.build("DOUBLE")
    elif "real" in kinds:
        to = exp.DataType.build("REAL")
    elif kinds == {"int"}:
        to = typed[0]
        for t in typed[1:]:
            to = _wider_int(to, t)
    else:
        params = [decimal_params(t) for t in typed]
        scale = max(s for _, s in params)
        digits = max(p - s for p, s in params)
        to = decimal(min(MAX_PRECISION, digits + scale), scale)
    _wrap(node, to.copy())


def _rounding(node: exp.Expression, pos: Pos) -> None:
    """round / floor / ceiling / truncate. On a decimal(p,s), Trino's MathFunctions give:
    round(x) and floor/ceiling(x) decimal(min(38, p - s + min(s,1)), 0); round(x, d)
    decimal(min(38, p+1), s); truncate(x) decimal(max(1, p-s), 0); truncate(x, d) decimal(p, s).
    DuckDB rounds decimals half away from zero like Trino; the CAST gives the type."""
    kind = _kind(node.this)
    if kind == "decimal":
        p, s = decimal_params(node.this.type)
        digits = node.args.get("decimals")
        if isinstance(node, (exp.Floor, exp.Ceil)) and (digits is not None or node.args.get("to") is not None):
            raise not_supported(f"{node.key}() with a second argument")
        if isinstance(node, exp.Trunc):
            to = decimal(p, s) if digits is not None else decimal(max(1, p - s), 0)
        elif digits is not None:
            to = decimal(min(MAX_PRECISION, p + 1), s)
        else:
            to = decimal(min(MAX_PRECISION, p - s + min(s, 1)), 0)
        _wrap(node, to)
    elif kind in ("int", "double", "real"):
        node.type = node.this.type.copy()
    elif kind == "unknown":
        raise not_supported(f"{node.key}() of a value whose type the sandbox cannot tell")


def _bigint(node: exp.Expression, pos: Pos) -> None:
    """Trino functions that return bigint where sqlglot says int (DuckDB returns BIGINT too)."""
    node.type = exp.DataType.build("BIGINT")


_BIGINT_FUNCTIONS = [getattr(exp, name) for name in (
    "Year", "Month", "Day", "Hour", "Minute", "Second", "Quarter", "Week", "DayOfWeek", "DayOfWeekIso",
    "DayOfMonth", "DayOfYear", "YearOfWeek", "YearOfWeekIso", "DateDiff", "Extract", "StrPosition", "Length",
    "ArraySize") if hasattr(exp, name)]


def _bitwise(node: exp.Expression, pos: Pos) -> None:
    _wrap(node, exp.DataType.build("BIGINT"))


_RULES: dict[type, Callable[[exp.Expression, Pos], None]] = {
    exp.Add: _arith, exp.Sub: _arith, exp.Mul: _arith, exp.Div: _arith, exp.Mod: _arith,
    exp.Neg: _neg,
    exp.Literal: _literal,
    exp.Sum: _sum, exp.Avg: _avg,
    exp.Paren: _same, exp.Max: _same, exp.Min: _same, exp.AnyValue: _same, exp.Abs: _same,
    exp.Case: _supertype, exp.If: _supertype, exp.Coalesce: _supertype, exp.Greatest: _supertype,
    exp.Least: _supertype, exp.Nullif: _supertype,
    exp.Round: _rounding, exp.Floor: _rounding, exp.Ceil: _rounding, exp.Trunc: _rounding,
    exp.BitwiseAnd: _bitwise, exp.BitwiseOr: _bitwise, exp.BitwiseXor: _bitwise, exp.BitwiseNot: _bitwise,
    exp.BitwiseLeftShift: _bitwise, exp.BitwiseRightShift: _bitwise,
    **dict.fromkeys(_BIGINT_FUNCTIONS, _bigint),
}
