"""Recognising a statement: its kind, ``StatementType`` / ``SubstatementType``, and its parts.

DML goes through sqlglot's Athena (Trino) dialect. The Hive DDL spellings sqlglot leaves opaque
(``ALTER TABLE ... ADD PARTITION``, ``MSCK REPAIR TABLE``, ``SHOW ...``, ``UNLOAD``) are read by the
small tokenizer below. A statement that does not parse is refused by ``StartQueryExecution`` with
``InvalidRequestException`` / ``MALFORMED_QUERY``, as Athena does; a statement the sandbox parses but
does not emulate becomes a FAILED query with a ``NOT_SUPPORTED`` reason.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError

from sandbox.athena.errors import InvalidRequest, malformed, position
from sandbox.athena.params import mark_placeholders

# Athena's own list for a statement that starts with an unknown word (measured 2026-09-24).
_EXPECTING = ("'ALTER', 'ANALYZE', 'CALL', 'COMMENT', 'COMMIT', 'CREATE', 'DEALLOCATE', 'DELETE', 'DENY', "
              "'DESC', 'DESCRIBE', 'DROP', 'EXECUTE', 'EXPLAIN', 'GRANT', 'INSERT', 'MERGE', 'PREPARE', "
              "'REFRESH', 'RESET', 'REVOKE', 'ROLLBACK', 'SET', 'SHOW', 'START', 'TRUNCATE', 'UNLOAD', "
              "'UPDATE', 'USE', <query>")
_KNOWN_UNSUPPORTED = {"ANALYZE", "CALL", "COMMENT", "COMMIT", "DEALLOCATE", "DELETE", "DENY", "EXECUTE",
                      "EXPLAIN", "GRANT", "MERGE", "PREPARE", "REFRESH", "RESET", "REVOKE", "ROLLBACK",
                      "SET", "START", "TRUNCATE", "UPDATE", "USE", "OPTIMIZE", "VACUUM", "DESCRIBE", "DESC"}


@dataclass
class Statement:
    kind: str
    statement_type: str
    substatement_type: str | None
    text: str  # the query as submitted (markers in place of ?)
    tree: exp.Expression | None = None
    markers: list[str] = field(default_factory=list)
    base: int = 0  # offset of ``tree``'s text inside ``text`` (UNLOAD's inner SELECT)
    detail: dict[str, Any] = field(default_factory=dict)


# -- tokens for the Hive DDL spellings ------------------------------------------------------------
_TOKEN = re.compile(r"""\s+|--[^\n]*|/\*.*?\*/|'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*"|`(?:[^`]|``)*`"""
                    r"""|[A-Za-z_][\w$]*|\d+(?:\.\d+)?|.""", re.S)


@dataclass
class Token:
    kind: str  # word | ident | str | num | punct
    text: str
    start: int

    @property
    def value(self) -> str:
        if self.kind == "str":
            body = self.text[1:-1]
            return body.replace("''", "'").replace("\\'", "'") if self.text[0] == "'" else body
        if self.kind == "ident":
            return self.text[1:-1].replace("``", "`")
        return self.text

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


def tokenize(text: str) -> list[Token]:
    out = []
    for m in _TOKEN.finditer(text):
        t = m.group(0)
        if t.isspace() or t.startswith("--") or t.startswith("/*"):
            continue
        kind = ("str" if t[0] in "'\"" else "ident" if t[0] == "`" else "word" if t[0].isalpha() or t[0] == "_"
                else "num" if t[0].isdigit() else "punct")
        out.append(Token(kind, t, m.start()))
    return out


class TokenStream:
    """A cursor over tokens with Hive-style error messages."""

    def __init__(self, text: str, tokens: list[Token]):
        self.text, self.tokens, self.i = text, tokens, 0

    def peek(self, ahead: int = 0) -> Token | None:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else None

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise self.error("<EOF>")
        self.i += 1
        return tok

    def accept(self, *words: str) -> bool:
        tok = self.peek()
        if tok is not None and (tok.is_word(*words) or (tok.kind == "punct" and tok.text in words)):
            self.i += 1
            return True
        return False

    def expect(self, *words: str) -> Token:
        tok = self.peek()
        if tok is None or not (tok.is_word(*words) or (tok.kind == "punct" and tok.text in words)):
            raise self.error(tok.text if tok else "<EOF>", " or ".join(words))
        self.i += 1
        return tok

    def name(self) -> list[str]:
        """A dotted name: ``t``, ``db.t``, ```db`.`t```."""
        parts = [self._name_part()]
        while self.accept("."):
            parts.append(self._name_part())
        return parts

    def _name_part(self) -> str:
        tok = self.take()
        if tok.kind not in ("word", "ident") and not (tok.kind == "str" and tok.text[0] == '"'):
            raise self.error(tok.text, "identifier")
        return tok.value.lower()

    def at_end(self) -> bool:
        return self.peek() is None

    def error(self, found: str, expecting: str | None = None) -> InvalidRequest:
        tok = self.peek()
        pos = position(self.text, tok.start if tok else len(self.text.rstrip())) or (1, 1)
        tail = f" expecting {expecting}" if expecting else ""
        return malformed(f"line {pos[0]}:{pos[1] - 1}: mismatched input '{found}'{tail}")


# -- classification ------------------------------------------------------------------------------
def parse_statement(sql: str) -> Statement:
    """Classify and parse one statement; syntax errors raise InvalidRequest (MALFORMED_QUERY).
    Statements are never modified once parsed, so a repeated query reuses its parse."""
    return _parse_cached(sql.strip().rstrip(";").rstrip())


@functools.lru_cache(maxsize=512)
def _parse_cached(sql: str) -> Statement:
    text, markers = mark_placeholders(sql)
    tokens = tokenize(text)
    if not tokens:
        raise malformed(f"line 1:{len(sql) + 1}: mismatched input '<EOF>'. Expecting: {_EXPECTING}")
    first = tokens[0].text.upper()
    second = tokens[1].text.upper() if len(tokens) > 1 else ""
    stmt = _dispatch(first, second, text, tokens)
    stmt.markers = markers
    return stmt


def _dispatch(first: str, second: str, text: str, tokens: list[Token]) -> Statement:
    if first in ("SELECT", "WITH", "VALUES", "TABLE", "("):
        return Statement("select", "DML", "SELECT", text, tree=_parse_dml(text))
    if first == "UNLOAD":
        return _unload(text)
    if first == "INSERT":
        return Statement("insert", "DML", "INSERT", text, tree=_parse_dml(text))
    if first == "CREATE":
        return _create(text, tokens)
    if first == "DROP":
        return _drop(text, tokens)
    if first == "ALTER":
        return _alter(text, tokens)
    if first == "MSCK":
        return _msck(text, tokens)
    if first == "SHOW":
        return _show(text, tokens, second)
    if first in _KNOWN_UNSUPPORTED:
        sub = {"DESCRIBE": "DESCRIBE_TABLE", "DESC": "DESCRIBE_TABLE", "EXPLAIN": "EXPLAIN"}.get(first)
        stype = "UTILITY" if first in ("DESCRIBE", "DESC") else "DML" if first in ("EXPLAIN", "DELETE", "UPDATE",
                                                                                    "MERGE") else "DDL"
        return Statement("unsupported", stype, sub, text, detail={"what": f"{first} statements"})
    raise malformed(f"line 1:1: mismatched input '{tokens[0].text}'. Expecting: {_EXPECTING}")


def _parse_dml(text: str, base: int = 0, full: str | None = None) -> exp.Expression:
    full = full if full is not None else text
    try:
        trees = [t for t in sqlglot.parse(text, read="athena", error_level=ErrorLevel.RAISE) if t is not None]
    except (ParseError, TokenError) as e:
        raise _syntax_error(e, full, base) from None
    if len(trees) != 1:
        raise malformed("Only one sql statement is allowed. Got: " + str(len(trees)))
    if isinstance(trees[0], exp.Command):
        raise malformed(f"line 1:1: mismatched input '{trees[0].name}'. Expecting: {_EXPECTING}")
    return trees[0]


def _syntax_error(e: Exception, full: str, base: int) -> InvalidRequest:
    info = (getattr(e, "errors", None) or [{}])[0]
    found = info.get("highlight") or "<EOF>"
    line, col = info.get("line") or 1, info.get("col") or 1
    if base:  # the inner SELECT of UNLOAD: report the position in the whole statement
        offset = _offset(full[base:], line, col)
        line, col = position(full, offset, base) or (line, col)
    col = max(1, col - len(found) + 1)
    why = str(info.get("description") or e).split("\n")[0]
    return malformed(f"line {line}:{col}: mismatched input '{found}'. Expecting: <{why}>")


def _offset(text: str, line: int, col: int) -> int:
    lines = text.split("\n")
    return sum(len(x) + 1 for x in lines[:line - 1]) + col - 1


# -- UNLOAD --------------------------------------------------------------------------------------
def _unload(text: str) -> Statement:
    start = text.upper().index("UNLOAD") + len("UNLOAD")
    m = re.compile(r"\s*\(").match(text, start)
    if not m:
        raise _at(text, start, "expecting '('")
    inner_start = m.end()
    inner_end = _matching_paren(text, inner_start - 1)
    tree = _parse_dml(text[inner_start:inner_end], inner_start, text)
    rest = tokenize(text[inner_end + 1:])
    stream = TokenStream(text[inner_end + 1:], rest)
    stream.expect("TO")
    target = stream.take()
    if target.kind != "str":
        raise stream.error(target.text, "a quoted S3 location")
    props = _with_properties(stream)
    return Statement("unload", "DML", "UNLOAD", text, tree=tree, base=inner_start,
                     detail={"target": target.value, "properties": props})


def _matching_paren(text: str, open_at: int) -> int:
    depth = 0
    for tok in tokenize(text[open_at:]):
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            depth -= 1
            if depth == 0:
                return open_at + tok.start
    raise _at(text, len(text), "missing ')'")


def _with_properties(stream: TokenStream) -> dict[str, Any]:
    props: dict[str, Any] = {}
    if stream.at_end():
        return props
    stream.expect("WITH")
    stream.expect("(")
    while True:
        key = stream.take().value.lower()
        stream.expect("=")
        props[key] = _property_value(stream)
        if stream.accept(")"):
            break
        stream.expect(",")
    if not stream.at_end():
        raise stream.error(stream.peek().text, "<EOF>")
    return props


def _property_value(stream: TokenStream) -> Any:
    tok = stream.take()
    if tok.is_word("ARRAY"):
        stream.expect("[")
        items = []
        while not stream.accept("]"):
            items.append(stream.take().value)
            stream.accept(",")
        return items
    if tok.is_word("TRUE", "FALSE"):
        return tok.text.lower() == "true"
    return tok.value


def _at(text: str, offset: int, what: str) -> InvalidRequest:
    pos = position(text, offset) or (1, 1)
    return malformed(f"line {pos[0]}:{pos[1]}: {what}")


# -- CREATE / DROP -------------------------------------------------------------------------------
def _create(text: str, tokens: list[Token]) -> Statement:
    words = [t.text.upper() for t in tokens[1:4]]
    if words[:1] in (["DATABASE"], ["SCHEMA"]):
        return Statement("create_database", "DDL", "CREATE_DATABASE", text, tree=_parse_ddl(text))
    if words[:1] == ["EXTERNAL"] or words[:1] == ["TABLE"]:
        tree = _parse_ddl(text)
        if isinstance(tree, exp.Create) and tree.expression is not None:
            return Statement("ctas", "DDL", "CREATE_TABLE_AS_SELECT", text, tree=tree)
        return Statement("create_table", "DDL", "CREATE_TABLE", text, tree=tree)
    sub = "CREATE_VIEW" if "VIEW" in words else None
    return Statement("unsupported", "DDL", sub, text, detail={"what": f"CREATE {' '.join(words[:2])} statements"})


def _parse_ddl(text: str) -> exp.Expression:
    try:
        tree = sqlglot.parse_one(text, read="athena", error_level=ErrorLevel.RAISE)
    except (ParseError, TokenError) as e:
        raise _syntax_error(e, text, 0) from None
    if isinstance(tree, exp.Command):
        raise malformed(f"line 1:1: mismatched input '{tree.name}'. Expecting: {_EXPECTING}")
    return tree


def _drop(text: str, tokens: list[Token]) -> Statement:
    stream = TokenStream(text, tokens)
    stream.expect("DROP")
    what = stream.take().text.upper()
    if what not in ("TABLE", "DATABASE", "SCHEMA"):
        return Statement("unsupported", "DDL", f"DROP_{what}", text, detail={"what": f"DROP {what} statements"})
    exists = stream.accept("IF") and bool(stream.expect("EXISTS"))
    name = stream.name()
    cascade = stream.accept("CASCADE")
    stream.accept("PURGE", "RESTRICT")
    if not stream.at_end():
        raise stream.error(stream.peek().text, "<EOF>")
    kind = "drop_table" if what == "TABLE" else "drop_database"
    sub = "DROP_TABLE" if what == "TABLE" else "DROP_DATABASE"
    return Statement(kind, "DDL", sub, text, detail={"name": name, "if_exists": exists, "cascade": cascade})


# -- ALTER TABLE ... ADD / DROP PARTITION --------------------------------------------------------
def _alter(text: str, tokens: list[Token]) -> Statement:
    stream = TokenStream(text, tokens)
    stream.expect("ALTER")
    stream.expect("TABLE")
    name = stream.name()
    action = stream.peek()
    if action is not None and action.is_word("ADD") and _has_partition(stream):
        stream.take()
        exists = stream.accept("IF") and bool(stream.expect("NOT")) and bool(stream.expect("EXISTS"))
        specs = _partition_specs(stream, with_location=True)
        return Statement("add_partition", "DDL", "ALTER_TABLE_ADD_PARTITION", text,
                         detail={"name": name, "if_not_exists": exists, "partitions": specs})
    if action is not None and action.is_word("DROP") and _has_partition(stream):
        stream.take()
        exists = stream.accept("IF") and bool(stream.expect("EXISTS"))
        specs = _partition_specs(stream, with_location=False, separator=",")
        return Statement("drop_partition", "DDL", "ALTER_TABLE_DROP_PARTITION", text,
                         detail={"name": name, "if_exists": exists, "partitions": specs})
    what = action.text.upper() if action else ""
    return Statement("unsupported", "DDL", None, text, detail={"what": f"ALTER TABLE ... {what} statements"})


def _has_partition(stream: TokenStream) -> bool:
    return any(t.is_word("PARTITION") for t in stream.tokens[stream.i:stream.i + 5])


def _partition_specs(stream: TokenStream, with_location: bool, separator: str | None = None) -> list[dict]:
    specs = []
    while True:
        stream.expect("PARTITION")
        stream.expect("(")
        values: dict[str, str] = {}
        while True:
            key = stream.name()[-1]
            stream.expect("=")
            values[key] = _partition_value(stream)
            if stream.accept(")"):
                break
            stream.expect(",")
        location = None
        if with_location and stream.accept("LOCATION"):
            loc = stream.take()
            if loc.kind != "str":
                raise stream.error(loc.text, "a quoted S3 location")
            location = loc.value
        specs.append({"values": values, "location": location})
        if separator:
            stream.accept(separator)
        if stream.at_end():
            return specs


def _partition_value(stream: TokenStream) -> str:
    tok = stream.take()
    if tok.is_word("DATE", "TIMESTAMP") and stream.peek() is not None and stream.peek().kind == "str":
        tok = stream.take()
    if tok.kind in ("str", "num", "word"):
        return tok.value
    raise stream.error(tok.text, "a constant")


# -- MSCK / SHOW ---------------------------------------------------------------------------------
def _msck(text: str, tokens: list[Token]) -> Statement:
    stream = TokenStream(text, tokens)
    stream.expect("MSCK")
    stream.expect("REPAIR")
    stream.expect("TABLE")
    name = stream.name()
    if not stream.at_end():
        raise stream.error(stream.peek().text, "<EOF>")
    return Statement("msck", "DDL", "MSCK_REPAIR", text, detail={"name": name})


def _show(text: str, tokens: list[Token], second: str) -> Statement:
    stream = TokenStream(text, tokens)
    stream.expect("SHOW")
    if second == "PARTITIONS":
        stream.take()
        name = stream.name()
        return Statement("show_partitions", "UTILITY", "SHOW_PARTITIONS", text, detail={"name": name})
    if second == "TABLES":
        stream.take()
        database = stream.name()[-1] if stream.accept("IN", "FROM") else None
        pattern = stream.take().value if not stream.at_end() else None
        return Statement("show_tables", "UTILITY", "SHOW_TABLES", text,
                         detail={"database": database, "pattern": pattern})
    if second in ("DATABASES", "SCHEMAS"):
        stream.take()
        stream.accept("LIKE")
        pattern = stream.take().value if not stream.at_end() else None
        return Statement("show_databases", "UTILITY", "SHOW_DATABASES", text, detail={"pattern": pattern})
    return Statement("unsupported", "UTILITY", None, text, detail={"what": f"SHOW {second} statements"})
