"""Athena UNLOAD of a parameterised query into an S3 prefix, idempotent across reruns and retries.

Why not the Amazon provider's ``AthenaOperator``:

- It has no ExecutionParameters, so values reach the SQL as rendered text.
- A retry starts a second query while the first may still be writing to the same place.
- A task killed while deferred leaves its query running.
- UNLOAD fails on a non-empty prefix; the provider leaves clearing it to you, and a rerun of a day
  must replace that day's extract, not add to it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from airflow.providers.amazon.aws.hooks.athena import AthenaHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.configuration import conf
from airflow.sdk.exceptions import AirflowException

from batchml import sql as sqlmod
from batchml.operators.jobs import IdempotentJob
from batchml.operators.links import AthenaQueryLink
from batchml.operators.waiting import Waiter

if TYPE_CHECKING:
    from airflow.sdk import Context

    from batchml.attempts import Attempt

_RUNNING, _DONE = {"QUEUED", "RUNNING"}, {"SUCCEEDED"}


class AthenaQueryFailed(AirflowException):
    """An Athena query ended FAILED or CANCELLED. ``aws_reason`` is Athena's StateChangeReason."""

    def __init__(self, query_execution_id: str, state: str, reason: str | None):
        self.query_execution_id, self.state = query_execution_id, state
        self.aws_reason = reason or f"the query ended {state} without a reason"
        super().__init__(f"Athena query {query_execution_id} {state}: {self.aws_reason}")


class AthenaUnloadOperator(IdempotentJob, AwsBaseOperator[AthenaHook]):
    """Write the result of a SELECT to an S3 prefix with ``UNLOAD``.

    :param sql: the SELECT, or a path to a ``.sql`` file under the DAG's template search path, with
        ``:name`` placeholders. (templated)
    :param parameters: values for the placeholders, sent as Athena ExecutionParameters. (templated)
    :param database: database unqualified table names resolve in. (templated)
    :param output_prefix: ``s3://bucket/prefix/`` the result files go to. (templated)
    :param workgroup: Athena workgroup. (templated)
    :param result_location: where Athena writes the query's manifest and metadata; defaults to the
        workgroup's result location. (templated)
    :param output_format: UNLOAD format, PARQUET by default.
    :param if_output_exists: ``"replace"`` (default) deletes what is under ``output_prefix`` before a new
        query, so a rerun gives the same result; ``"fail"`` refuses to touch existing files.
    :param poll_interval: seconds between status checks. (templated)
    :param max_wait: stop the query and fail after this long.
    :param deferrable: wait in the triggerer.
    :param plan: the run plan (XComArg); with ``request``, replaces ``parameters``, ``database``,
        ``output_prefix``, ``workgroup`` and ``result_location``, and gives the connection and region.
    :param request: pure function ``(plan, **request_kwargs) -> batchml.job_requests.UnloadQuery``.
    :param request_kwargs: keyword arguments for ``request``; XComArgs in it resolve when the task runs.

    A retry first looks for the query an earlier try of the same attempt chain started (each query
    carries an ``-- airflow:`` comment naming its task instance and try): it waits for it if it still
    runs and takes its result if it succeeded, so two queries never write the same prefix.
    Returns ``{"query_execution_id", "output_prefix", "rows", "data_scanned_bytes", "engine_ms"}``.
    """

    aws_hook_class = AthenaHook
    template_fields: Sequence[str] = aws_template_fields(
        "sql", "parameters", "database", "output_prefix", "workgroup", "result_location", "poll_interval"
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql", "parameters": "json"}
    operator_extra_links = (AthenaQueryLink(),)
    ui_color = "#D6EAF8"

    def __init__(
        self,
        *,
        sql: str,
        parameters: dict[str, Any] | None = None,
        database: str | None = None,
        output_prefix: str | None = None,
        workgroup: str = "primary",
        result_location: str | None = None,
        output_format: str = "PARQUET",
        if_output_exists: Literal["replace", "fail"] = "replace",
        poll_interval: float | str = 30,
        max_wait: timedelta = timedelta(hours=1),
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        plan: Any = None,
        request: Any = None,
        request_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if (request is None) == (database is None or output_prefix is None or parameters is None):
            raise ValueError("give either parameters, database and output_prefix, or a request builder")
        if if_output_exists not in ("replace", "fail"):
            raise ValueError(f"if_output_exists must be 'replace' or 'fail', got {if_output_exists!r}")
        self.sql = sql
        self.parameters = parameters
        self.database = database
        self.output_prefix = output_prefix
        self.workgroup = workgroup
        self.result_location = result_location
        self.output_format = output_format
        self.if_output_exists = if_output_exists
        self.poll_interval = poll_interval
        self.max_wait = max_wait
        self.deferrable = deferrable
        self.init_plan(plan, request, request_kwargs)

    def prepare(self, context: Context) -> None:
        self.resolve_plan(context)
        if self.request is not None:
            query = self.build()
            self.parameters, self.database, self.workgroup = query.parameters, query.database, query.workgroup
            self.output_prefix, self.result_location = query.output_prefix, query.result_location

    # -- the idempotent job interface (batchml.operators.jobs) -------------------------------------------
    kind = "query"

    def work_id(self, described: dict[str, Any]) -> str:
        return described["QueryExecutionId"]

    def state(self, described: dict[str, Any]):
        state = described["Status"]["State"]
        return "done" if state in _DONE else "running" if state in _RUNNING else "ended"

    def result(self, described: dict[str, Any]) -> dict[str, Any]:
        return self._result(described)

    def launch(self, attempt: Attempt, context: Context) -> str:
        statement, params = self._statement(attempt)
        self._clear_output()
        kwargs: dict[str, Any] = {
            "QueryString": statement,
            "QueryExecutionContext": {"Database": self.database},
            "WorkGroup": self.workgroup,
            # Same token if botocore resends this exact call after a network error: still one query. The task
            # instance's id (new for every try, and for every run of a day again) keeps a later run's identical
            # statement from being answered with the earlier run's query: Athena returns the query a token
            # already started instead of running it, and this run has just emptied its output prefix.
            "ClientRequestToken": hashlib.sha256(
                statement.encode() + repr(params).encode() + str(getattr(context["ti"], "id", "")).encode()
            ).hexdigest()[:64],
        }
        if params:
            kwargs["ExecutionParameters"] = params
        if self.result_location:
            kwargs["ResultConfiguration"] = {"OutputLocation": self.result_location}
        # The client, not AthenaHook.run_query: that has no ExecutionParameters.
        query_id = self.hook.conn.start_query_execution(**kwargs)["QueryExecutionId"]
        self._work_id = query_id  # from here on, a kill cancels it
        self.log.info("Started query %s unloading to %s with parameters %s", query_id, self.output_prefix, params)
        return query_id

    def _statement(self, attempt: Attempt) -> tuple[str, list[str]]:
        select, params = sqlmod.bind(self.sql, dict(self.parameters))
        return attempt.comment() + "\n" + sqlmod.unload(select, self.output_prefix, self.output_format), params

    def _clear_output(self) -> None:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        s3 = S3Hook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify)
        bucket, prefix = S3Hook.parse_s3_url(self.output_prefix)
        keys = s3.list_keys(bucket_name=bucket, prefix=prefix)
        if not keys:
            return
        if self.if_output_exists == "fail":
            raise AirflowException(f"{self.output_prefix} holds {len(keys)} objects and if_output_exists='fail'")
        self.log.info("Deleting %d objects under %s so the rerun replaces them.", len(keys), self.output_prefix)
        s3.delete_objects(bucket=bucket, keys=keys)

    def earlier_work(self, attempt: Attempt, context: Context) -> dict[str, Any] | None:
        """A query is never adopted from another run, so this is ``launched_work``."""
        return self.launched_work(attempt, context)

    def launched_work(self, attempt: Attempt, context: Context) -> dict[str, Any] | None:
        """The newest query this attempt chain started, if any. Athena lists newest first, so the scan
        stops at the first query submitted before this DAG run started."""
        dag_run = context.get("dag_run")
        since = getattr(dag_run, "start_date", None)
        conn = self.hook.conn
        for page in conn.get_paginator("list_query_executions").paginate(
                WorkGroup=self.workgroup, PaginationConfig={"MaxItems": 500, "PageSize": 50}):
            ids = page.get("QueryExecutionIds", [])
            if not ids:
                break
            queries = conn.batch_get_query_execution(QueryExecutionIds=ids)["QueryExecutions"]
            for query in sorted(queries, key=lambda q: q["Status"]["SubmissionDateTime"], reverse=True):
                if attempt.launched_query(query.get("Query", "")):
                    return query
                if since is not None and query["Status"]["SubmissionDateTime"] < since:
                    return None
        return None

    def wait(self, query_id: str) -> dict[str, Any]:
        from airflow.providers.amazon.aws.triggers.athena import AthenaTrigger

        return self.wait_for(
            what=f"query {query_id}",
            check=lambda: self.hook.get_query_info(query_id)["QueryExecution"],
            running=lambda query: query["Status"]["State"] in _RUNNING,
            finish=self._finish,
            stop=lambda: self.stop(query_id),
            # the provider's waiters/athena.json, which AthenaTrigger uses too
            waiter=Waiter("query_complete", {"QueryExecutionId": query_id}, ["QueryExecution.Status.State"]),
            trigger=lambda delay, attempts: AthenaTrigger(
                query_execution_id=query_id, waiter_delay=delay, waiter_max_attempts=attempts,
                aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify,
                botocore_config=self.botocore_config),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        query_id = (event or {}).get("value") or self._work_id
        if not query_id:
            raise AirflowException(f"trigger event without a query id: {event}")
        self._work_id = query_id  # the task's link, and a kill, concern this query
        query = self.hook.get_query_info(query_id)["QueryExecution"]
        if (event or {}).get("status") != "success" and query["Status"]["State"] in _RUNNING:
            self.stop(query_id)
        return self._finish(query)

    def _finish(self, query: dict[str, Any]) -> dict[str, Any]:
        status = query["Status"]
        if status["State"] in _DONE:
            return self._result(query)
        if status["State"] in _RUNNING:
            raise AirflowException(f"lost track of query {query['QueryExecutionId']} while it was {status['State']}")
        raise self.failure(query)

    def failure(self, described: dict[str, Any]) -> AthenaQueryFailed:
        status = described["Status"]
        return AthenaQueryFailed(described["QueryExecutionId"], status["State"], status.get("StateChangeReason"))

    def _result(self, query: dict[str, Any]) -> dict[str, Any]:
        stats = query.get("Statistics", {})
        rows = None
        try:
            rows = self.hook.conn.get_query_results(QueryExecutionId=query["QueryExecutionId"], MaxResults=1
                                                    ).get("UpdateCount")
        except Exception as e:  # the row count is informative only
            self.log.info("No row count for %s: %s", query["QueryExecutionId"], e)
        return {
            "query_execution_id": query["QueryExecutionId"],
            "output_prefix": self.output_prefix,
            "rows": rows,
            "data_scanned_bytes": stats.get("DataScannedInBytes"),
            "engine_ms": stats.get("EngineExecutionTimeInMillis"),
        }

    def get_openlineage_facets_on_complete(self, task_instance):
        """The tables the query reads and the prefix it unloads to, named as the provider's AthenaOperator
        names them, with the query's id (the provider parses only the SQL; ours has placeholders, so the
        statement is parsed with its parameters bound)."""
        from airflow.providers.common.compat.openlineage.facet import ExternalQueryRunFacet, SQLJobFacet
        from airflow.providers.openlineage.extractors import OperatorLineage

        from batchml.operators import lineage

        select, _ = sqlmod.bind(self.sql, dict(self.parameters or {}))
        region = self.hook.conn_region_name
        inputs = [lineage.table_dataset(region, db, table) for db, table in lineage.tables_read(select, self.database)]
        run_facets = {}
        if self._work_id:
            run_facets["externalQuery"] = ExternalQueryRunFacet(externalQueryId=self._work_id, source="awsathena")
        return OperatorLineage(inputs=inputs, outputs=[lineage.s3_dataset(self.output_prefix)],
                               job_facets={"sql": SQLJobFacet(query=select)}, run_facets=run_facets)

    def stop(self, query_id: str) -> None:
        try:
            self.log.warning("Cancelling query %s.", query_id)
            self.hook.stop_query(query_id)
        except Exception:
            self.log.exception("Could not cancel query %s", query_id)


def read_unloaded(uri: str, *, aws_conn_id: str, region_name: str) -> list[dict[str, Any]]:
    """The rows an UNLOAD wrote under ``uri`` (Parquet), for a task that judges a query's small result (a profile,
    a few days of metrics) in Airflow: results too large for a worker stay in S3 for the next job to read."""
    import io

    import pyarrow.parquet as pq
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    s3 = S3Hook(aws_conn_id=aws_conn_id, region_name=region_name)
    bucket, prefix = S3Hook.parse_s3_url(uri)
    keys = [k for k in s3.list_keys(bucket_name=bucket, prefix=prefix) or []
            if not k.rsplit("/", 1)[-1].startswith(("_", "."))]  # Athena's manifest and markers
    return [row for k in keys for row in pq.read_table(io.BytesIO(s3.get_key(k, bucket).get()["Body"].read())).to_pylist()]
