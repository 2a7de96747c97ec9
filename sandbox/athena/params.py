"""``ExecutionParameters``: binding values to the ``?`` placeholders of a statement.

Binding happens in the syntax tree, never by pasting text. Each ``?`` token (found by sqlglot's
tokenizer, so a ``?`` inside a string or comment is left alone) is first replaced by a one-letter
marker identifier, which keeps every other token at its original position for error messages, and
the marker is later replaced by the parsed value.

Athena does not bind values verbatim; it classifies each one (measured by the athena-local
project against Athena, 2026-09-14):

- a value that parses as an expression without column references is that expression
  (``'abc'``, ``42``, ``DATE '2026-01-01'``, ``NULL``);
- a value that does not parse, or that mentions an identifier, is a string literal
  (``abc``, ``1; DROP TABLE x``, ``it's``);
- a value that parses but is not a plain literal is the expression, and fails the query when it
  does not analyse (``1 OR 1=1``).

The sandbox binds the first two classes the same way. For the third it refuses anything that is
not a literal (FAILED, INVALID_PARAMETER_USAGE) rather than risk an expression that DuckDB would
evaluate differently from Trino.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError

from sandbox.athena.errors import QueryFailed

_MARKER_BASE = 0x4E00  # CJK ideographs: one character each, parsed as identifiers
_MAX_PARAMS = 5000


def mark_placeholders(sql: str) -> tuple[str, list[str]]:
    """Replace each ``?`` placeholder with a marker identifier of the same length."""
    try:
        tokens = Dialect.get_or_raise("trino").tokenize(sql)
    except (TokenError, ParseError):
        return sql, []
    chars = list(sql)
    markers: list[str] = []
    for token in tokens:
        if token.token_type.name == "PLACEHOLDER" and token.text == "?":
            marker = _marker(len(markers), sql)
            chars[token.start] = marker
            markers.append(marker)
    return "".join(chars), markers


def _marker(index: int, sql: str) -> str:
    code = _MARKER_BASE + index
    while chr(code) in sql:  # never collide with text the user wrote
        code += _MAX_PARAMS
    return chr(code)


def bind(tree: exp.Expression, markers: list[str], values: list[str]) -> exp.Expression:
    """Replace the marker identifiers by the parsed parameter values."""
    if markers and len(markers) != len(values):
        raise QueryFailed("INVALID_PARAMETER_USAGE",
                          f"Incorrect number of parameters: expected {len(markers)} but found {len(values)}")
    if not markers:  # Athena ignores values given to a statement without placeholders
        return tree
    literals = {m: parse_value(v) for m, v in zip(markers, values, strict=True)}
    for column in list(tree.find_all(exp.Column)):
        if not column.table and column.name in literals:
            column.replace(literals[column.name].copy())
    return tree


def parse_value(text: str) -> exp.Expression:
    """One ExecutionParameters value as a literal expression (see the module doc)."""
    parsed = _single_expression(text)
    if parsed is None or parsed.find(exp.Column, exp.Identifier, exp.Star):
        return exp.Literal.string(text)
    if _is_literal(parsed):
        return parsed
    raise QueryFailed("INVALID_PARAMETER_USAGE",
                      f"execution parameter {text!r} is an expression; the sandbox binds only literals "
                      "(strings in quotes, numbers, DATE/TIMESTAMP '...', true, false, NULL)")


def _single_expression(text: str) -> exp.Expression | None:
    """``text`` as one expression, or None when it is not exactly one (``1; DROP TABLE x``)."""
    if not text.strip():
        return None
    try:
        statements = sqlglot.parse(f"SELECT {text}", read="athena")
    except (ParseError, TokenError):
        return None
    if len(statements) != 1 or not isinstance(statements[0], exp.Select):
        return None
    select = statements[0]
    extra = [k for k, v in select.args.items() if v and k not in ("expressions", "kind")]
    return select.expressions[0] if len(select.expressions) == 1 and not extra else None


def _is_literal(node: exp.Expression) -> bool:
    if isinstance(node, exp.Neg):
        return isinstance(node.this, exp.Literal) and not node.this.is_string
    if isinstance(node, (exp.Literal, exp.Boolean, exp.Null)):
        return True
    if isinstance(node, exp.Cast):  # DATE '...', TIMESTAMP '...', DECIMAL '...'
        return isinstance(node.this, exp.Literal) and node.this.is_string
    return False
