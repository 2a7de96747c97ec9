"""Planning a query: Glue tables resolved, the query qualified and typed, Athena's semantics applied
(semantics.py), partition predicates extracted for pruning, and DuckDB SQL generated with each table
as a placeholder for its (pruned) relation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.errors import ErrorLevel, OptimizeError, UnsupportedError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from sandbox.athena import numeric, semantics
from sandbox.athena.catalog import DEFAULT_CATALOG, GlueCatalog, TableInfo, check_readable
from sandbox.athena.datatypes import glue_to_sqlglot
from sandbox.athena.errors import QueryFailed, failed, not_supported, position
from sandbox.athena.pruning import conjuncts, eligible_sources, is_partition_conjunct

REL_PREFIX = "__athena_rel_"
_UNNAMED = "__athena_unnamed_"


@dataclass
class TableRef:
    index: int
    table: TableInfo
    alias: str
    pos: tuple[int, int] | None
    prune_sql: str | None = None
    needs_partitions: bool = False
    needs_partitions_fallback: bool = False


@dataclass
class Plan:
    sql: str  # DuckDB SQL, tables as __athena_rel_<i> placeholders, pruned conjuncts removed
    fallback_sql: str  # the same with every conjunct kept, for when pruning cannot be evaluated
    refs: list[TableRef]
    names: list[str]
    fingerprint: tuple = field(default=())

    def render(self, relations: list[str], fallback: bool = False) -> str:
        sql = self.fallback_sql if fallback else self.sql
        # Longest placeholders first, so __athena_rel_1 never eats into __athena_rel_10.
        for i in sorted(range(len(relations)), key=lambda k: -len(str(k))):
            sql = sql.replace(f"{REL_PREFIX}{i}", relations[i])
        return sql


class Planner:
    """Plans one SELECT (or the SELECT inside UNLOAD / CTAS / INSERT)."""

    def __init__(self, catalog: GlueCatalog, database: str, text: str, base: int = 0,
                 catalog_name: str = DEFAULT_CATALOG):
        self.catalog = catalog
        self.database = database
        self.catalog_name = catalog_name
        self.text = text
        self.base = base

    def pos(self, node: exp.Expression | None) -> tuple[int, int] | None:
        starts = [n.meta["start"] for n in (node.walk() if node is not None else [])
                  if isinstance(n, exp.Expression) and "start" in n.meta]
        return position(self.text, min(starts), self.base) if starts else None

    def plan(self, tree: exp.Expression) -> Plan:
        tree = tree.copy()
        tables = self._resolve_tables(tree)
        _mark_unnamed(tree)
        tree = self._qualify(tree, tables)
        schema = self._schema(tables)
        tree = annotate_types(tree, schema=schema, dialect="athena")
        semantics.check(tree, self.pos)
        tree = numeric.apply(tree, schema, self.pos)
        semantics.rewrite(tree, self.pos)
        refs = self._refs(tree, tables)
        names = _output_names(tree)
        _apply_names(tree, names)
        conj = self._prune_conjuncts(tree, refs)
        fallback_sql = self._generate(tree)
        for ref in refs:
            ref.needs_partitions_fallback = _references_partitions(tree, ref)
        for node in conj:
            node.replace(exp.true())
        sql = self._generate(tree)
        for ref in refs:
            ref.needs_partitions = _references_partitions(tree, ref)
        fingerprint = tuple(sorted({r.table.fingerprint for r in refs}))
        return Plan(sql, fallback_sql, refs, names, fingerprint)

    # -- tables ------------------------------------------------------------------------------
    def _resolve_tables(self, tree: exp.Expression) -> dict[tuple[str, str], TableInfo]:
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        found: dict[tuple[str, str], TableInfo] = {}
        for table in list(tree.find_all(exp.Table)):
            if not isinstance(table.this, exp.Identifier):
                continue
            if not table.args.get("db") and table.name.lower() in ctes:
                continue
            info = self._table(table)
            found[(info.database, info.name)] = info
            table.set("this", exp.to_identifier(info.name))
            table.set("db", exp.to_identifier(info.database))
            table.set("catalog", exp.to_identifier(DEFAULT_CATALOG))
        return found

    def _table(self, table: exp.Table) -> TableInfo:
        pos = self.pos(table)
        catalog = table.catalog or self.catalog_name
        if catalog.lower() != DEFAULT_CATALOG:
            raise failed("CATALOG_NOT_FOUND", f"Catalog '{catalog.lower()}' does not exist", pos)
        if table.db.lower() == "information_schema":
            raise not_supported("information_schema")
        info = self.catalog.table(table.db or self.database, table.name, pos)
        check_readable(info, pos)
        return info

    def _schema(self, tables: dict[tuple[str, str], TableInfo]) -> MappingSchema | None:
        if not tables:
            return None
        mapping: dict = {DEFAULT_CATALOG: {}}
        for (db, name), info in tables.items():
            mapping[DEFAULT_CATALOG].setdefault(db, {})[name] = {
                c.name: glue_to_sqlglot(c.type).sql("athena") for c in info.all_columns}
        return MappingSchema(mapping, dialect="athena")

    def _qualify(self, tree: exp.Expression, tables: dict) -> exp.Expression:
        try:
            return qualify(tree, schema=self._schema(tables), dialect="athena", catalog=DEFAULT_CATALOG,
                           db=self.database, validate_qualify_columns=True, quote_identifiers=False,
                           identify=False)
        except OptimizeError as e:
            raise self._qualify_error(tree, str(e)) from None

    def _qualify_error(self, tree: exp.Expression, message: str) -> QueryFailed:
        m = re.search(r"Column '([^']+)' could not be resolved|Unknown column: (\S+)", message)
        if m:
            name = (m.group(1) or m.group(2)).split(".")[-1]
            node = next((c for c in tree.find_all(exp.Column) if c.name.lower() == name.lower()), None)
            return failed("COLUMN_NOT_FOUND", f"Column '{name}' cannot be resolved or requester is not "
                          "authorized to access requested resources", self.pos(node))
        m = re.search(r"Ambiguous column '?([^' ]+)", message)
        if m:
            return failed("AMBIGUOUS_NAME", f"Column '{m.group(1)}' is ambiguous")
        return not_supported(f"this query shape (the sandbox could not analyse it: {message})")

    # -- pruning -----------------------------------------------------------------------------
    def _refs(self, tree: exp.Expression, tables: dict) -> list[TableRef]:
        refs = []
        for table in list(tree.find_all(exp.Table)):
            key = (table.db, table.name)
            if table.args.get("db") and key in tables:
                ref = TableRef(len(refs), tables[key], table.alias_or_name, self.pos(table))
                refs.append(ref)
                alias = exp.TableAlias(this=exp.to_identifier(ref.alias))
                table.replace(exp.Table(this=exp.to_identifier(f"{REL_PREFIX}{ref.index}"), alias=alias))
        return refs

    def _prune_conjuncts(self, tree: exp.Expression, refs: list[TableRef]) -> list[exp.Expression]:
        by_name = {f"{REL_PREFIX}{r.index}": r for r in refs}
        removed: list[exp.Expression] = []
        for select in tree.find_all(exp.Select):
            for alias, table in eligible_sources(select).items():
                ref = by_name.get(table.name)
                if ref is None or not ref.table.partitioned:
                    continue
                keys = {k.name for k in ref.table.partition_keys}
                mine = [c for c in conjuncts(select.args.get("where")) if is_partition_conjunct(c, alias, keys)]
                if mine:
                    ref.prune_sql = " AND ".join(f"({self._generate(c)})" for c in mine)
                    removed += mine
        return removed

    def _generate(self, tree: exp.Expression) -> str:
        try:
            return tree.sql("duckdb", unsupported_level=ErrorLevel.RAISE)
        except UnsupportedError as e:
            raise not_supported(f"this SQL in DuckDB ({e})") from None


# -- output names and partition references -------------------------------------------------------
def _leftmost_select(tree: exp.Expression) -> exp.Select | None:
    node = tree
    while isinstance(node, (exp.SetOperation, exp.Subquery)):
        node = node.this
    return node if isinstance(node, exp.Select) else None


def _mark_unnamed(tree: exp.Expression) -> None:
    """Trino names an unnamed output column ``_col<position>``; mark them before stars expand."""
    select = _leftmost_select(tree)
    if select is None:
        return
    for i, item in enumerate(select.expressions):
        if not isinstance(item, (exp.Alias, exp.Column, exp.Star)):
            item.replace(exp.alias_(item.copy(), f"{_UNNAMED}{i}"))


def _output_names(tree: exp.Expression) -> list[str]:
    select = _leftmost_select(tree)
    if select is None:
        return []
    names = []
    for i, item in enumerate(select.expressions):
        name = item.alias_or_name
        names.append(f"_col{i}" if name.startswith(_UNNAMED) else name)
    return names


def _apply_names(tree: exp.Expression, names: list[str]) -> None:
    """Give DuckDB's output columns Athena's names (``_col0``...), which UNLOAD and CTAS write."""
    select = _leftmost_select(tree)
    for item, name in zip(select.expressions if select else [], names, strict=False):
        if isinstance(item, exp.Alias) and item.alias.startswith(_UNNAMED):
            item.set("alias", exp.to_identifier(name))


def _references_partitions(tree: exp.Expression, ref: TableRef) -> bool:
    keys = {k.name for k in ref.table.partition_keys}
    return any(c.table == ref.alias and c.name in keys for c in tree.find_all(exp.Column))
