"""Running a planned query in DuckDB over the local copies of the tables' files.

One long-lived in-memory DuckDB database serves every query; each query gets its own cursor (a
connection that shares the database), which is what StopQueryExecution interrupts. Plans are
cached per statement text, parameters and database, and reused while the Glue definitions of
their tables are unchanged, so a repeated query skips parsing, analysis and translation.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from sandbox.athena.catalog import GlueCatalog, Partition
from sandbox.athena.errors import QueryFailed
from sandbox.athena.numeric import MACROS
from sandbox.athena.params import bind
from sandbox.athena.pruning import selection_sql
from sandbox.athena.relations import ParquetSchemas, PartFiles, relation_sql
from sandbox.athena.results import ResultSet, java_double, java_float
from sandbox.athena.semantics import RUNTIME_ERROR
from sandbox.athena.storage import FileCache, list_locations
from sandbox.athena.translate import Plan, Planner, TableRef
from sandbox.aws import S3Store

_PLAN_CACHE_SIZE = 512


class Cancelled(Exception):
    """StopQueryExecution interrupted the query."""


@dataclass
class Run:
    """Per-query state the engine needs and fills in."""

    query_id: str
    catalog: GlueCatalog
    database: str
    params: list[str]
    catalog_name: str = "awsdatacatalog"
    scanned_bytes: int = 0
    planned: float | None = None  # when the DuckDB SQL was ready (for QueryPlanningTimeInMillis)
    cancelled: threading.Event = field(default_factory=threading.Event)
    cursor: duckdb.DuckDBPyConnection | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def connection(self, opener) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection running this query (taken on first use), which Stop interrupts."""
        with self.lock:
            if self.cancelled.is_set():
                raise Cancelled()
            if self.cursor is None:
                self.cursor = opener()
            return self.cursor

    def detach(self) -> duckdb.DuckDBPyConnection | None:
        with self.lock:
            cursor, self.cursor = self.cursor, None
        return cursor

    def cancel(self) -> None:
        with self.lock:
            self.cancelled.set()
            if self.cursor is not None:
                self.cursor.interrupt()

    def check(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled()


class Engine:
    def __init__(self, s3: S3Store, state_dir: Path):
        self.s3 = s3
        self.db = duckdb.connect(config={
            "integer_division": True,  # Athena: 7/2 = 3
            "ieee_floating_point_ops": True,  # Java doubles: NaN and Infinity rather than errors
            "temp_directory": str(Path(state_dir) / "athena-tmp"),
        })
        self.db.execute("SET TimeZone = 'UTC'")  # Athena's session time zone
        self.db.execute("SET enable_progress_bar = false")
        self.db.execute("SET parquet_metadata_cache = true")  # cached files never change (ETag in the path)
        _register_functions(self.db)
        for macro in MACROS:
            self.db.execute(macro)
        self.files = FileCache(s3, Path(state_dir) / "athena-cache")
        self.schemas = ParquetSchemas()
        self._plans: OrderedDict[tuple, Plan] = OrderedDict()
        self._prunes: OrderedDict[tuple, frozenset[int]] = OrderedDict()
        self._lock = threading.Lock()
        self._local = threading.local()

    def cursor(self, run: Run) -> duckdb.DuckDBPyConnection:
        return run.connection(self._thread_cursor)

    def _thread_cursor(self) -> duckdb.DuckDBPyConnection:
        # Each worker thread keeps its connection: opening one is cheap, closing one is not (ms).
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self.db.cursor()
        return cursor

    def release(self, run: Run) -> None:
        """The query is over; a connection that was interrupted is not reused."""
        cursor = run.detach()
        if cursor is not None and run.cancelled.is_set():
            self._local.cursor = None
            cursor.close()

    def close(self) -> None:
        self.db.close()

    # -- planning ----------------------------------------------------------------------------
    def plan(self, run: Run, tree, text: str, base: int, markers: list[str]) -> Plan:
        key = (text, base, tuple(run.params), run.catalog.region, run.database, run.catalog_name)
        with self._lock:
            cached = self._plans.get(key)
        if cached is not None and self._still_valid(run.catalog, cached):
            with self._lock:
                self._plans.move_to_end(key)
            return cached
        planner = Planner(run.catalog, run.database, text, base, run.catalog_name)
        plan = planner.plan(bind(tree.copy(), markers, run.params))
        with self._lock:
            self._plans[key] = plan
            while len(self._plans) > _PLAN_CACHE_SIZE:
                self._plans.popitem(last=False)
        return plan

    @staticmethod
    def _still_valid(catalog: GlueCatalog, plan: Plan) -> bool:
        for ref in plan.refs:
            current = catalog.find_table(ref.table.database, ref.table.name)
            if current is None or current.fingerprint != ref.table.fingerprint:
                return False
        return True

    # -- running -----------------------------------------------------------------------------
    def sql_for(self, plan: Plan, run: Run) -> str:
        """The plan's DuckDB SQL with every table replaced by its (pruned) relation."""
        selected: list[list[Partition] | None] = []
        fallback = False
        for ref in plan.refs:
            parts, ok = self._partitions(ref, run)
            selected.append(parts)
            fallback = fallback or not ok
        relations = [self._relation(ref, parts, run, fallback) for ref, parts in zip(plan.refs, selected, strict=True)]
        run.planned = time.time()
        return plan.render(relations, fallback)

    def _partitions(self, ref: TableRef, run: Run) -> tuple[list[Partition] | None, bool]:
        """The partitions the query can read (None: unpartitioned), and whether pruning worked."""
        if not ref.table.partitioned:
            return None, True
        parts = ref.table.partitions()
        for part in parts:
            if len(part.values) != len(ref.table.partition_keys):
                raise QueryFailed("HIVE_INVALID_METADATA", f"Partition {list(part.values)} of table "
                                  f"'{ref.table.qualified}' does not match its partition keys")
        if not ref.prune_sql or not parts:
            return parts, True
        keep = self._selected(ref, parts, run)
        if keep is None:  # cannot analyse: read every partition and let the WHERE decide
            return parts, False
        return [p for i, p in enumerate(parts) if i in keep], True

    def _selected(self, ref: TableRef, parts: list[Partition], run: Run) -> frozenset[int] | None:
        """Indexes of the partitions that satisfy the pruning predicate (memoised: the answer only
        depends on the predicate and the partition values)."""
        key = (ref.prune_sql, ref.alias, tuple((k.name, k.type) for k in ref.table.partition_keys),
               tuple(p.values for p in parts))
        with self._lock:
            if key in self._prunes:
                return self._prunes[key]
        sql = selection_sql(ref.alias, ref.table.partition_keys, parts, ref.prune_sql)
        try:
            keep = frozenset(row[0] for row in self.cursor(run).execute(sql).fetchall())
        except duckdb.InterruptException:
            raise Cancelled() from None
        except duckdb.Error:
            keep = None
        with self._lock:
            self._prunes[key] = keep
            while len(self._prunes) > _PLAN_CACHE_SIZE:
                self._prunes.popitem(last=False)
        return keep

    def _relation(self, ref: TableRef, parts: list[Partition] | None, run: Run, fallback: bool) -> str:
        table = ref.table
        if parts is None:
            located = [(None, table.location)]
        else:
            located = [(p, p.location) for p in parts if p.location is not None]
        listing = list_locations(self.s3, [loc for _, loc in located])
        part_files = []
        for part, loc in located:
            objects = listing[loc]
            run.scanned_bytes += sum(o.size for o in objects)
            paths = [self.files.local_path(o) for o in objects]
            run.check()
            values = part.values if part is not None else ()
            storage = part.storage if part is not None else table.storage
            part_files.append(PartFiles(paths, values, storage))
        with_partitions = ref.needs_partitions_fallback if fallback else ref.needs_partitions
        return relation_sql(table, part_files, with_partitions, self.schemas)

    def query(self, plan: Plan, run: Run) -> ResultSet:
        sql = self.sql_for(plan, run)
        cursor = self.cursor(run)
        try:
            cursor.execute(sql)
            rows = cursor.fetchall()
            types = [d[1] for d in cursor.description]
        except duckdb.InterruptException:
            raise Cancelled() from None
        except duckdb.Error as e:
            raise duckdb_failure(e) from None
        return ResultSet.from_duckdb(plan.names, types, rows)

    def execute(self, sql: str, run: Run) -> list[tuple]:
        cursor = self.cursor(run)
        try:
            return cursor.execute(sql).fetchall()
        except duckdb.InterruptException:
            raise Cancelled() from None
        except duckdb.Error as e:
            raise duckdb_failure(e) from None

    def describe(self, sql: str, run: Run) -> tuple[list[str], list]:
        """Column names and DuckDB types of a query, without running it."""
        try:
            rel = self.cursor(run).sql(sql)
            return list(rel.columns), list(rel.types)
        except duckdb.Error as e:
            raise duckdb_failure(e) from None

    def status(self) -> dict:
        with self._lock:
            plans = len(self._plans)
        return {"plan_cache_entries": plans, **self.files.stats()}

    def reset(self) -> None:
        with self._lock:
            self._plans.clear()
            self._prunes.clear()
        self.files.clear()


def _register_functions(db: duckdb.DuckDBPyConnection) -> None:
    """Java's Double/Float.toString for CAST(... AS varchar) (see semantics.py)."""
    import pyarrow as pa

    def rendered(render):
        return lambda values: pa.array([None if v is None else render(v) for v in values.to_pylist()], pa.string())

    db.create_function("athena_double_text", rendered(java_double), ["DOUBLE"], "VARCHAR", type="arrow")
    db.create_function("athena_real_text", rendered(java_float), ["FLOAT"], "VARCHAR", type="arrow")


_CAST = re.compile(r"Could not convert (?:string )?'([^']*)' to (\w+)")
_TYPE_NAMES = {"INT32": "INT", "INT64": "BIGINT", "INT16": "SMALLINT", "INT8": "TINYINT", "DOUBLE": "DOUBLE",
               "FLOAT": "REAL", "BOOL": "BOOLEAN", "DATE": "DATE", "TIMESTAMP": "TIMESTAMP"}


def duckdb_failure(e: duckdb.Error) -> QueryFailed:
    """A DuckDB error worded as the Athena error it corresponds to."""
    text = str(e).split("\n")[0]
    if RUNTIME_ERROR in text:  # raised on purpose by the translated SQL
        name, _, message = text.split(RUNTIME_ERROR, 1)[1].partition("|")
        return QueryFailed(name, message)
    if "Division by zero" in text:
        return QueryFailed("DIVISION_BY_ZERO", "Division by zero")
    m = _CAST.search(text)
    if m:
        return QueryFailed("INVALID_CAST_ARGUMENT", f"Cannot cast '{m.group(1)}' to {_TYPE_NAMES.get(m.group(2), m.group(2))}")
    if isinstance(e, duckdb.OutOfRangeException) or "Overflow" in text or "out of range for the destination" in text:
        # (the last: a numeric CAST that does not fit, e.g. sum() of integers cast to bigint;
        # Trino reports these as NUMERIC_VALUE_OUT_OF_RANGE too)
        return QueryFailed("NUMERIC_VALUE_OUT_OF_RANGE", text)
    if isinstance(e, duckdb.ConversionException):
        return QueryFailed("INVALID_CAST_ARGUMENT", text)
    m = re.search(r"(?:Scalar|Aggregate|Table) Function with name (\w+) does not exist", text)
    if m:
        return QueryFailed("NOT_SUPPORTED", f"the sandbox does not emulate the function {m.group(1)}()")
    if "No function matches" in text:
        return QueryFailed("FUNCTION_NOT_FOUND", text)
    if isinstance(e, duckdb.IOException) or "Invalid Input Error" in text and (".parquet" in text or "CSV" in text):
        return QueryFailed("HIVE_BAD_DATA", text)
    return QueryFailed("SANDBOX_ENGINE_ERROR", f"DuckDB (the sandbox's engine) could not run the translated "
                       f"query: {text}")
