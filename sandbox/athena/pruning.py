"""Partition pruning: which registered partitions a query can possibly read.

A WHERE conjunct that refers only to one table's partition columns (and constants) is evaluated
by DuckDB itself over the partitions' typed values, so ``dt BETWEEN ...``, ``dt IN (...)``,
``dt >= date_format(date_add('day', -90, ...), '%Y-%m-%d')`` and the like prune with exactly the
semantics the query would apply to the rows. Anything the analysis cannot vouch for (subqueries,
other tables' columns, random functions, the null-supplying side of an outer join) simply does not
prune: the full WHERE still runs on the rows, so the answer stays correct.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

from sandbox.athena.catalog import Column, Partition
from sandbox.athena.datatypes import glue_to_duck
from sandbox.athena.relations import sql_ident, sql_string

_VOLATILE = {"rand", "random", "uuid", "shuffle", "now", "current_timestamp"}
INDEX_COLUMN = "__athena_part"


def eligible_sources(select: exp.Select) -> dict[str, exp.Table]:
    """The tables of one SELECT whose rows its WHERE filters directly (not null-extended)."""
    from_ = select.args.get("from_")
    items: list[tuple[exp.Expression, bool]] = []
    if from_ is not None:
        items.append((from_.this, True))
    for join in select.args.get("joins") or []:
        side = (join.side or "").upper()
        if side in ("RIGHT", "FULL"):
            items = [(node, False) for node, _ in items]
        items.append((join.this, side not in ("LEFT", "FULL")))
    return {node.alias_or_name: node for node, ok in items if ok and isinstance(node, exp.Table)}


def conjuncts(where: exp.Where | None) -> Iterator[exp.Expression]:
    if where is None:
        return
    stack = [where.this]
    while stack:
        node = stack.pop()
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.And):
            stack += [node.right, node.left]
        else:
            yield node


def is_partition_conjunct(node: exp.Expression, alias: str, keys: set[str]) -> bool:
    columns = list(node.find_all(exp.Column))
    if not columns or any(c.table != alias or c.name not in keys for c in columns):
        return False
    if node.find(exp.Subquery, exp.Select, exp.Exists, exp.AggFunc, exp.Window, exp.Rand, exp.Placeholder):
        return False
    return not any(f.name.lower() in _VOLATILE for f in node.find_all(exp.Anonymous))


def selection_sql(alias: str, keys: list[Column], partitions: list[Partition], predicate: str) -> str:
    """A query returning the indexes of the partitions for which ``predicate`` holds."""
    rows = []
    for i, part in enumerate(partitions):
        values = [f"CAST(NULL AS {glue_to_duck(k.type)})" if v is None
                  else f"CAST({sql_string(v)} AS {glue_to_duck(k.type)})"
                  for v, k in zip(part.values, keys, strict=True)]
        rows.append(f"({i}, {', '.join(values)})")
    names = ", ".join([INDEX_COLUMN] + [sql_ident(k.name) for k in keys])
    return (f"SELECT {INDEX_COLUMN} FROM (VALUES {', '.join(rows)}) AS {sql_ident(alias)}({names}) "  # noqa: S608
            f"WHERE {predicate}")
