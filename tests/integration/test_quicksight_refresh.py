"""QuickSightRefreshOperator against the sandbox's QuickSight: sync and deferred (the provider's trigger really run),
a retry that attaches to the previous try's ingestion instead of starting a second one, and a failure that names
QuickSight's error."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowException
from botocore.exceptions import ClientError

from batchml.operators.quicksight import QuickSightRefreshOperator
from tests.conformance.operators import context, defer_and_resume

ACCOUNT = "123456789012"


@pytest.fixture
def quicksight(aws, sandbox, unique, monkeypatch):
    for key, value in sandbox.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    qs = aws("quicksight")
    data_set = f"ds-{unique}"
    qs.create_data_set(AwsAccountId=ACCOUNT, DataSetId=data_set, Name=data_set, ImportMode="SPICE",
                       PhysicalTableMap={"t": {"S3Source": {"DataSourceArn": f"arn:aws:quicksight:us-east-1:{ACCOUNT}:"
                                                            "datasource/x",
                                                            "InputColumns": [{"Name": "c", "Type": "STRING"}]}}})
    return SimpleNamespace(client=qs, data_set=data_set, sandbox=sandbox)


def _op(qs, **kw) -> QuickSightRefreshOperator:
    return QuickSightRefreshOperator(task_id="refresh", retries=3, data_set_id=qs.data_set, ingestion_id=f"{qs.data_set}-20261120-r",
                                     partitions=["2026-11-20"], assets=["demand_forecast.predictions"],
                                     aws_conn_id=None, region_name="us-east-1", waiter_delay=1, waiter_max_attempts=30,
                                     **kw)


def _ctx(try_number: int = 1, max_tries: int = 3) -> dict:
    """A try of a task with retries=3 (max_tries 3 until it is cleared; each clear raises it by 4)."""
    ctx = context()
    ctx["ti"].try_number, ctx["ti"].max_tries = try_number, max_tries
    return ctx


def _ingestions(qs) -> dict[str, str]:
    found = qs.client.list_ingestions(AwsAccountId=ACCOUNT, DataSetId=qs.data_set)["Ingestions"]
    return {i["IngestionId"]: i["IngestionStatus"] for i in found}


def test_sync_refresh_records_the_partition(quicksight):
    result = _op(quicksight, deferrable=False).execute(_ctx())
    assert result == {"data_set_id": quicksight.data_set, "ingestion_id": f"{quicksight.data_set}-20261120-r-1",
                      "partitions": ["2026-11-20"], "assets": ["demand_forecast.predictions"],
                      "status": "COMPLETED", "attached": False}
    assert _ingestions(quicksight) == {f"{quicksight.data_set}-20261120-r-1": "COMPLETED"}


def test_deferred_refresh_resumes_from_the_providers_trigger(quicksight):
    result = defer_and_resume(_op(quicksight, deferrable=True), _ctx())
    assert result["status"] == "COMPLETED" and result["ingestion_id"].endswith("-1")


def test_a_retry_attaches_to_the_previous_trys_running_ingestion(quicksight):
    quicksight.sandbox.client.slow_job(f"{quicksight.data_set}/*-1", 3)
    quicksight.client.create_ingestion(AwsAccountId=ACCOUNT, DataSetId=quicksight.data_set,
                                       IngestionId=f"{quicksight.data_set}-20261120-r-1")  # try 1's, still running
    result = _op(quicksight, deferrable=False).execute(_ctx(try_number=2))
    assert result["attached"] and result["ingestion_id"].endswith("-1")
    assert _ingestions(quicksight) == {f"{quicksight.data_set}-20261120-r-1": "COMPLETED"}, "no second ingestion"


def test_a_retry_after_a_failed_ingestion_starts_a_new_one(quicksight):
    quicksight.sandbox.client.fail_job(f"{quicksight.data_set}/*-1", "CUSTOMER_ERROR: bad column")
    with pytest.raises(AirflowException) as failed:
        defer_and_resume(_op(quicksight, deferrable=True), _ctx())  # the trigger's real event: an error
    message = str(failed.value)
    assert f"{quicksight.data_set}-20261120-r-1 of data set {quicksight.data_set} ended FAILED" in message
    assert "partitions 2026-11-20" in message and "CUSTOMER_ERROR: bad column" in message
    result = _op(quicksight, deferrable=False).execute(_ctx(try_number=2))
    assert not result["attached"] and result["ingestion_id"].endswith("-2")
    assert _ingestions(quicksight) == {f"{quicksight.data_set}-20261120-r-1": "FAILED",
                                       f"{quicksight.data_set}-20261120-r-2": "COMPLETED"}


def test_a_retry_after_a_try_that_attached_still_attaches(quicksight):
    """Try 1 started -1; try 2 attached to it (starting none) and was failed anyway (Airflow 3.3 fails a deferred
    try that resumed quickly with its stale defer-exit event, apache/airflow#72716): try 3 must find -1, not
    look only for -2 and start a second refresh (what CI saw: two COMPLETED ingestions for one event)."""
    ds = quicksight.data_set
    quicksight.client.create_ingestion(AwsAccountId=ACCOUNT, DataSetId=ds, IngestionId=f"{ds}-20261120-r-1")
    result = _op(quicksight, deferrable=False).execute(_ctx(try_number=3))
    assert result["attached"] and result["ingestion_id"] == f"{ds}-20261120-r-1"
    assert _ingestions(quicksight) == {f"{ds}-20261120-r-1": "COMPLETED"}, "no second ingestion"


def test_a_cleared_task_refreshes_again(quicksight):
    """After a clear (max_tries 3 -> 7, tries go on at 5) the completed ingestion of tries 1-4 is not this
    chain's: the user asked for a new refresh."""
    ds = quicksight.data_set
    quicksight.client.create_ingestion(AwsAccountId=ACCOUNT, DataSetId=ds, IngestionId=f"{ds}-20261120-r-1")
    result = _op(quicksight, deferrable=False).execute(_ctx(try_number=5, max_tries=7))
    assert not result["attached"] and result["ingestion_id"] == f"{ds}-20261120-r-5"
    assert _ingestions(quicksight) == {f"{ds}-20261120-r-1": "COMPLETED", f"{ds}-20261120-r-5": "COMPLETED"}


def test_a_retry_that_cannot_see_the_earlier_ingestion_fails_instead_of_guessing(quicksight):
    """Only ResourceNotFoundException means "that try started none"; a DescribeIngestion that keeps failing
    otherwise fails the try (and it is retried) rather than risking a second refresh."""
    ds = quicksight.data_set
    quicksight.client.create_ingestion(AwsAccountId=ACCOUNT, DataSetId=ds, IngestionId=f"{ds}-20261120-r-1")
    quicksight.sandbox.client.fail_calls("quicksight", "DescribeIngestion", "AccessDeniedException", count=None)
    try:
        with pytest.raises(ClientError, match="AccessDeniedException"):
            _op(quicksight, deferrable=False).execute(_ctx(try_number=2))
    finally:
        quicksight.sandbox.client.clear_faults()
    assert set(_ingestions(quicksight)) == {f"{ds}-20261120-r-1"}, "no second ingestion"


def test_the_schedulers_copy_of_a_failed_refresh_pages_with_quicksights_error(quicksight, slack):
    """When Airflow fails the last try itself (apache/airflow#72716 kills the worker before it reads the ingestion's
    end), the scheduler's copy of the failure has no exception. The notifier renders the task as the dag-processor
    parsed it and asks it what ended the try's ingestion: the page quotes QuickSight's ErrorInfo, and nothing is
    started by looking."""
    from datetime import UTC, datetime

    from batchml.notifiers import OnCallNotifier
    from tests.integration.test_operators import context

    ds = quicksight.data_set
    quicksight.sandbox.client.fail_job(f"{ds}/*-4", "SQL_TABLE_NOT_FOUND: table forecast_accuracy is missing")
    with pytest.raises(AirflowException, match="SQL_TABLE_NOT_FOUND") as worker:  # the worker's last try
        _op(quicksight, deferrable=False).execute(_ctx(try_number=4))
    assert worker.value.aws_reason == "SQL_TABLE_NOT_FOUND: table forecast_accuracy is missing"
    # The parsed task, with a template in the ingestion id as the DAG's would be rendered.
    parsed = _op(quicksight, deferrable=False)
    parsed.ingestion_id = "{{ params.data_set }}-20261120-r"
    scheduler_copy = {**context("refresh", 4), "task": parsed, "params": {"data_set": ds},
                      "logical_date": datetime(2026, 11, 20, tzinfo=UTC)}
    OnCallNotifier(pipeline="demand_forecast", slack_conn_id="slack_bot").notify(scheduler_copy)
    [page] = slack.messages()
    assert f"```{worker.value.aws_reason}```" in str(page["blocks"]) and "try 4/4" in page["text"], page
    assert parsed.ingestion_id.startswith("{{"), "the parsed task itself is left unrendered"
    assert _ingestions(quicksight) == {f"{ds}-20261120-r-4": "FAILED"}, "looking started nothing"
