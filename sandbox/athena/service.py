"""Athena, executed for real: the API, the query lifecycle and the result files.

``StartQueryExecution`` parses the statement (a syntax error is refused right there, as Athena
does), then the query runs on a small worker pool: QUEUED -> RUNNING -> SUCCEEDED | FAILED |
CANCELLED. The statement runs in DuckDB over the data of the Glue tables in the sandbox's S3 (see
engine.py and statements.py); results land at ``<OutputLocation>/<id>.csv`` (DDL: ``<id>.txt``)
with a ``.metadata`` companion, before the query reports SUCCEEDED.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sandbox.athena.catalog import GlueCatalog
from sandbox.athena.engine import Cancelled, Engine, Run
from sandbox.athena.errors import InvalidRequest, QueryFailed, internal, malformed
from sandbox.athena.model import (
    CANCELLED,
    FAILED,
    FINAL,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    QueryExecution,
    WorkGroup,
)
from sandbox.athena.parsing import Statement, parse_statement
from sandbox.athena.results import ResultSet, decode_token, encode_token, page, parse_csv
from sandbox.athena.statements import Job, Outcome, StatementRunner
from sandbox.aws import parse_s3_uri
from sandbox.context import SandboxContext
from sandbox.protocol import AwsError, RequestInfo

log = logging.getLogger("sandbox.athena")

PRIMARY = "primary"
_WORKGROUP_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,128}$")
_NO_OUTPUT = ("No output location provided. An output location is required either through the Workgroup "
              "result configuration setting or as an API input.")


class ResultMemory:
    """Rows of finished SELECTs stay in memory for GetQueryResults up to a budget of cells; past it
    the oldest are dropped and read back from their ``<id>.csv`` when asked for again."""

    def __init__(self, budget_cells: int):
        self.budget = budget_cells
        self.cells = 0
        self._held: OrderedDict[str, QueryExecution] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, qe: QueryExecution) -> None:
        result = qe.result
        cells = len(result.rows) * max(1, len(result.names))
        with self._lock:
            self._held[qe.id] = qe
            self.cells += cells
            while self.cells > self.budget and len(self._held) > 1:
                _, old = self._held.popitem(last=False)
                self.cells -= len(old.result.rows) * max(1, len(old.result.names))
                old.result.rows, old.result.evicted, old.result.first_page = [], True, None

    def clear(self) -> None:
        with self._lock:
            self._held.clear()
            self.cells = 0


@dataclass
class RegionState:
    queries: dict[str, QueryExecution] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # submission order
    tokens: dict[str, str] = field(default_factory=dict)
    workgroups: dict[str, WorkGroup] = field(default_factory=lambda: {PRIMARY: WorkGroup(PRIMARY)})


class AthenaService:
    name = "athena"
    operations: frozenset[str] = frozenset({
        "StartQueryExecution", "GetQueryExecution", "BatchGetQueryExecution", "ListQueryExecutions",
        "GetQueryResults", "StopQueryExecution", "GetWorkGroup", "ListWorkGroups", "CreateWorkGroup",
        "DeleteWorkGroup", "UpdateWorkGroup",
    })
    #: queries that run at once; more wait QUEUED
    workers = 3
    #: how long StartQueryExecution waits for a query to finish before answering. A query that ends
    #: within it is SUCCEEDED by the client's first poll, which saves a poll round on short queries.
    linger_seconds = 0.05
    #: result cells kept in memory across all queries before the oldest are read back from S3
    result_cells_in_memory = 5_000_000

    def __init__(self, ctx: SandboxContext):
        self.ctx = ctx
        self.engine = Engine(ctx.s3, ctx.state_dir)
        self.runner = StatementRunner(self.engine, ctx.s3)
        self._regions: dict[tuple[str, str], RegionState] = {}
        self._lock = threading.RLock()
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="athena")
        self._memory = ResultMemory(self.result_cells_in_memory)

    # -- dispatch ----------------------------------------------------------------------------
    def handle(self, operation: str, params: dict[str, Any], request: RequestInfo) -> dict[str, Any]:
        region = self._region(request)
        return getattr(self, f"_op_{operation}")(params, region, request)

    def _region(self, request: RequestInfo) -> RegionState:
        key = (request.account_id, request.region)
        with self._lock:
            return self._regions.setdefault(key, RegionState())

    def _query(self, region: RegionState, query_id: str | None) -> QueryExecution:
        qe = region.queries.get(query_id or "")
        if qe is None:
            raise InvalidRequest(f"QueryExecution {query_id} was not found", "INVALID_INPUT")
        return qe

    def _workgroup(self, region: RegionState, name: str | None) -> WorkGroup:
        wg = region.workgroups.get(name or PRIMARY)
        if wg is None:
            raise InvalidRequest("WorkGroup is not found.")
        return wg

    # -- StartQueryExecution -----------------------------------------------------------------
    def _op_StartQueryExecution(self, params: dict, region: RegionState, request: RequestInfo) -> dict:
        sql = params.get("QueryString")
        if not sql:
            raise InvalidRequest("1 validation error detected: Value null at 'queryString' failed to satisfy "
                                 "constraint: Member must not be null")
        token = _token(params.get("ClientRequestToken"))
        wg = self._workgroup(region, params.get("WorkGroup"))
        context = _context(params.get("QueryExecutionContext") or {})
        output = self._output_location(params, wg)
        with self._lock:
            if token in region.tokens:
                return {"QueryExecutionId": self._idempotent(region, token, sql, context, output)}
            stmt = parse_statement(sql)
            _refuse_up_front(stmt)
            qe = self._new_query(region, sql, stmt, wg, context, output, token, params, request)
        future = self._pool.submit(self._execute, qe)
        future.add_done_callback(_log_crash)
        qe.done.wait(self.linger_seconds)
        return {"QueryExecutionId": qe.id}

    def _output_location(self, params: dict, wg: WorkGroup) -> str | None:
        requested = (params.get("ResultConfiguration") or {}).get("OutputLocation")
        location = wg.output_location if (wg.enforced and wg.output_location) else (requested or wg.output_location)
        if not location:
            raise InvalidRequest(_NO_OUTPUT)
        try:
            bucket, _ = parse_s3_uri(location)
        except AwsError:
            raise InvalidRequest("outputLocation is not a valid S3 path.") from None
        if not self.ctx.s3.bucket_exists(bucket):
            raise InvalidRequest(f"Unable to verify/create output bucket {bucket}")
        return location.rstrip("/")

    def _idempotent(self, region: RegionState, token: str, sql: str, context: dict, output: str | None) -> str:
        qe = region.queries[region.tokens[token]]
        if qe.query != _clean(sql) or qe.context != context or qe.output_base != output:
            raise InvalidRequest("Idempotent parameters do not match", "IDEMPOTENT_PARAMETER_MISMATCH")
        return qe.id

    def _new_query(self, region: RegionState, sql: str, stmt: Statement, wg: WorkGroup, context: dict,
                   output: str | None, token: str, params: dict, request: RequestInfo) -> QueryExecution:
        query_id = str(uuid.uuid4())
        catalog = GlueCatalog(request.region, request.account_id)
        exec_params = params.get("ExecutionParameters")
        run = Run(query_id, catalog, context.get("Database", "default").lower(), list(exec_params or []),
                  context.get("Catalog", "awsdatacatalog"))
        result_file, manifest = _output_files(stmt, output, query_id)
        qe = QueryExecution(query_id, _clean(sql), stmt, wg.name, context, output, result_file, manifest, run,
                            token, exec_params)
        region.queries[query_id] = qe
        region.order.append(query_id)
        region.tokens[token] = query_id
        return qe

    # -- running -----------------------------------------------------------------------------
    def _execute(self, qe: QueryExecution) -> None:
        if not qe.start():
            return  # stopped while queued
        try:
            outcome = self.runner.run(qe.statement, qe.run, self._job(qe))
            qe.run.check()
            qe.executed = time.time()
            self._write_results(qe, outcome)
            if qe.finish(SUCCEEDED, outcome.result) and outcome.result.header:
                # While the client polls, build the page it is about to ask for (the default size).
                outcome.result.first_page = page(outcome.result, qe.id, 1000, None)
                self._memory.keep(qe)
        except Cancelled:
            qe.finish(CANCELLED, reason="Query cancelled by user")
        except QueryFailed as e:
            qe.finish(FAILED, error=e)
        except AwsError as e:  # an S3 / Glue error from moto while running
            qe.finish(FAILED, error=QueryFailed("HIVE_FILESYSTEM_ERROR", e.message))
        except Exception as e:  # a sandbox bug: fail the query loudly, keep serving
            log.error("athena query %s crashed:\n%s", qe.id, traceback.format_exc())
            qe.finish(FAILED, error=internal(f"sandbox internal error: {type(e).__name__}: {e}"))
        finally:
            self.engine.release(qe.run)

    def _job(self, qe: QueryExecution) -> Job:
        return Job(qe.id, qe.output_base, self.ctx.state_dir / "athena-tmp" / "writes" / qe.id)

    def _write_results(self, qe: QueryExecution, outcome: Outcome) -> None:
        """Athena's result files, written before the query reports SUCCEEDED."""
        if qe.output_base is None:
            return
        result, kind = outcome.result, qe.statement.kind
        s3 = self.ctx.s3
        if outcome.manifest is not None:  # UNLOAD / CTAS / INSERT: a manifest, no result file
            base = qe.manifest_file[:-len("-manifest.csv")]
            _put(s3, qe.manifest_file, "".join(f"{uri}\n" for uri in outcome.manifest).encode())
            _put(s3, f"{base}.metadata", result.metadata_bytes(qe.id))
            return
        data = result.csv_bytes() if _is_csv(qe.statement) else result.txt_bytes()
        _put(s3, qe.result_file, data)
        if result.names or kind == "select":
            _put(s3, f"{qe.result_file}.metadata", result.metadata_bytes(qe.id))

    # -- the other query operations ------------------------------------------------------------
    def _op_GetQueryExecution(self, params: dict, region: RegionState, request: RequestInfo) -> dict:
        return {"QueryExecution": self._query(region, params.get("QueryExecutionId")).to_api()}

    def _op_BatchGetQueryExecution(self, params: dict, region: RegionState, request: RequestInfo) -> dict:
        ids = params.get("QueryExecutionIds") or []
        if not 1 <= len(ids) <= 50:
            raise InvalidRequest("1 validation error detected: Value at 'queryExecutionIds' failed to satisfy "
                                 "constraint: Member must have length less than or equal to 50")
        found, missing = [], []
        for query_id in ids:
            qe = region.queries.get(query_id)
            if qe is None:
                missing.append({"QueryExecutionId": query_id, "ErrorCode": "INVALID_INPUT",
                                "ErrorMessage": f"QueryExecution {query_id} was not found"})
            else:
                found.append(qe.to_api())
        return {"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing}

    def _op_ListQueryExecutions(self, params: dict, region: RegionState, request: RequestInfo) -> dict:
        wg = self._workgroup(region, params.get("WorkGroup"))
        limit = _max_results(params, 50, 0, 50)
        with self._lock:
            ids = [q for q in reversed(region.order) if region.queries[q].workgroup == wg.name]
        start = decode_token(params["NextToken"], f"list:{wg.name}") if params.get("NextToken") else 0
        page = ids[start:start + limit]
        # The model allows no empty id list: a workgroup without queries answers without the member.
        out: dict[str, Any] = {"QueryExecutionIds": page} if page else {}
        if start + limit < len(ids):
            out["NextToken"] = encode_token(f"list:{wg.name}", start + limit)
        return out

    def _op_GetQueryResults(self, params: dict, region: RegionState, request: RequestInfo) -> dict:
        qe = self._query(region, params.get("QueryExecutionId"))
        limit = _max_results(params, 1000, 1, 1000)
        state = qe.state
        if state in (QUEUED, RUNNING):
            raise InvalidRequest(f"Query has not yet finished. Current state: {state}",
                                 "INVALID_QUERY_EXECUTION_STATE")
        if state == FAILED:
            raise InvalidRequest("Query did not finish successfully. Final query state: FAILED",
                                 "INVALID_QUERY_EXECUTION_STATE")
        if state == CANCELLED or qe.result is None:
            raise InvalidRequest("Could not find results", "RESULT_NOT_FOUND")
        if qe.result.evicted:
            self._reload(qe)
        if limit == 1000 and not params.get("NextToken") and qe.result.first_page is not None:
            return qe.result.first_page
        return page(qe.result, qe.id, limit, params.get("NextToken"))

    def _reload(self, qe: QueryExecution) -> None:
        bucket, key = parse_s3_uri(qe.result_file)
        rows = parse_csv(self.ctx.s3.get(bucket, key).decode())
        qe.result.rows, qe.result.evicted = rows[1:], False
        self._memory.keep(qe)

    def _op_StopQueryExecution(self, params: dict, region: RegionState, request: RequestInfo) -> dict:
        self._query(region, params.get("QueryExecutionId")).stop()
        return {}

    # -- workgroups ----------------------------------------------------------------------------
    def _op_GetWorkGroup(self, params: dict, region: RegionState, request: RequestInfo) -> dict:
        return {"WorkGroup": self._workgroup(region, params.get("WorkGroup")).to_api()}

    def _op_ListWorkGroups(self, params: dict, region: RegionState, request: RequestInfo) -> dict:
        limit = _max_results(params, 50, 1, 50)
        with self._lock:
            groups = sorted(region.workgroups.values(), key=lambda w: w.name)
        start = decode_token(params["NextToken"], "workgroups") if params.get("NextToken") else 0
        out: dict[str, Any] = {"WorkGroups": [w.summary() for w in groups[start:start + limit]]}
        if start + limit < len(groups):
            out["NextToken"] = encode_token("workgroups", start + limit)
        return out

    def _op_CreateWorkGroup(self, params: dict, region: RegionState, request: RequestInfo) -> dict:
        name = params.get("Name") or ""
        if not _WORKGROUP_NAME.match(name):
            raise InvalidRequest(f"1 validation error detected: Value '{name}' at 'name' failed to satisfy "
                                 "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9._-]{1,128}")
        config = params.get("Configuration") or {}
        location = (config.get("ResultConfiguration") or {}).get("OutputLocation")
        if location:
            try:
                parse_s3_uri(location)
            except AwsError:
                raise InvalidRequest("outputLocation is not a valid S3 path.") from None
        with self._lock:
            if name in region.workgroups:
                raise InvalidRequest("WorkGroup is already created")
            region.workgroups[name] = WorkGroup(name, config, params.get("Description") or "")
        return {}

    def _op_UpdateWorkGroup(self, params: dict, region: RegionState, request: RequestInfo) -> dict:
        # Implemented so that a workgroup change never lands in moto's separate (unused) workgroups.
        wg = self._workgroup(region, params.get("WorkGroup"))
        updates = params.get("ConfigurationUpdates") or {}
        with self._lock:
            _update_workgroup(wg, updates)
            if "Description" in params:
                wg.description = params["Description"] or ""
            if params.get("State"):
                wg.state = params["State"]
        return {}

    def _op_DeleteWorkGroup(self, params: dict, region: RegionState, request: RequestInfo) -> dict:
        name = params.get("WorkGroup")
        self._workgroup(region, name)
        if name == PRIMARY:
            raise InvalidRequest("Cannot delete primary workgroup")
        with self._lock:
            del region.workgroups[name]
        return {}

    # -- service lifecycle ---------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        counts = {s: 0 for s in (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)}
        with self._lock:
            for region in self._regions.values():
                for qe in region.queries.values():
                    counts[qe.state] += 1
        return {"queries": counts, **self.engine.status()}

    def reset(self) -> None:
        self._stop_all()
        with self._lock:
            self._regions.clear()
        self._memory.clear()
        self.engine.reset()

    def shutdown(self) -> None:
        self._stop_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _stop_all(self) -> None:
        with self._lock:
            queries = [q for r in self._regions.values() for q in r.queries.values() if q.state not in FINAL]
        for qe in queries:
            qe.stop()


# -- helpers -------------------------------------------------------------------------------------
def _clean(sql: str) -> str:
    """Athena returns the query as sent, minus surrounding whitespace and a trailing ``;``."""
    return sql.strip().rstrip(";").strip()


def _token(token: str | None) -> str:
    if not token:
        raise InvalidRequest("clientRequestToken is null or empty")
    if len(token) < 32:
        raise InvalidRequest("1 validation error detected: Value at 'clientRequestToken' failed to satisfy "
                             "constraint: Member must have length greater than or equal to 32")
    if len(token) > 128:
        raise InvalidRequest("1 validation error detected: Value at 'clientRequestToken' failed to satisfy "
                             "constraint: Member must have length less than or equal to 128")
    return token


def _context(context: dict) -> dict[str, str]:
    """QueryExecutionContext as GetQueryExecution echoes it: Catalog lowercased, absent keys absent."""
    out = {}
    if context.get("Database"):
        out["Database"] = context["Database"]
    if context.get("Catalog"):
        out["Catalog"] = context["Catalog"].lower()
    return out


def _refuse_up_front(stmt: Statement) -> None:
    if stmt.kind == "create_table":
        props = stmt.tree.args.get("properties")
        has_location = props is not None and any(p.key == "locationproperty" for p in props.expressions)
        if not has_location:
            raise malformed("No location was specified for table. An S3 location must be specified")


def _is_csv(stmt: Statement) -> bool:
    return stmt.kind == "select" or (stmt.kind == "unsupported" and stmt.statement_type == "DML")


def _output_files(stmt: Statement, output: str | None, query_id: str) -> tuple[str | None, str | None]:
    """(ResultConfiguration.OutputLocation, Statistics.DataManifestLocation) for a statement."""
    if output is None:
        return None, None
    if stmt.kind == "ctas":
        return f"{output}/tables/{query_id}", f"{output}/tables/{query_id}-manifest.csv"
    if stmt.kind in ("unload", "insert"):
        return f"{output}/{query_id}", f"{output}/{query_id}-manifest.csv"
    return f"{output}/{query_id}{'.csv' if _is_csv(stmt) else '.txt'}", None


def _put(s3, uri: str, data: bytes) -> None:
    bucket, key = parse_s3_uri(uri)
    s3.put(bucket, key, data, content_type="application/octet-stream")


def _max_results(params: dict, default: int, low: int, high: int) -> int:
    value = params.get("MaxResults", default)
    if value < low:
        raise InvalidRequest("1 validation error detected: Value at 'maxResults' failed to satisfy constraint: "
                             f"Member must have value greater than or equal to {low}")
    if value > high:
        raise InvalidRequest("1 validation error detected: Value at 'maxResults' failed to satisfy constraint: "
                             f"Member must have value less than or equal to {high}")
    return value


def _update_workgroup(wg: WorkGroup, updates: dict) -> None:
    config = wg.configuration
    result = dict(config.get("ResultConfiguration") or {})
    result_updates = updates.get("ResultConfigurationUpdates") or {}
    if result_updates.get("RemoveOutputLocation"):
        result.pop("OutputLocation", None)
    if result_updates.get("OutputLocation"):
        try:
            parse_s3_uri(result_updates["OutputLocation"])
        except AwsError:
            raise InvalidRequest("outputLocation is not a valid S3 path.") from None
        result["OutputLocation"] = result_updates["OutputLocation"]
    config["ResultConfiguration"] = result
    for key in ("EnforceWorkGroupConfiguration", "PublishCloudWatchMetricsEnabled", "RequesterPaysEnabled",
                "BytesScannedCutoffPerQuery"):
        if key in updates:
            config[key] = updates[key]
    if updates.get("RemoveBytesScannedCutoffPerQuery"):
        config.pop("BytesScannedCutoffPerQuery", None)


def _log_crash(future) -> None:
    if future.exception() is not None:
        log.error("athena worker crashed: %r", future.exception())


__all__ = ["AthenaService", "ResultSet"]
