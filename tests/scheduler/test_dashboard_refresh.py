"""dashboard_refresh on the real scheduler: an Asset event on demand_forecast.predictions (posted through the REST
API with the extra the publish step writes) makes the scheduler start one run, which starts exactly one SPICE
ingestion per data set, deferred on the triggerer; an ingestion that keeps failing pages on-call once, with
QuickSight's error, after its last try."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from sandbox.client import SandboxClient
from tests.scheduler.conftest import delete_slack_messages, send_schedulers_callback, wait_for

pytestmark = pytest.mark.scheduler
DAG = "dashboard_refresh"
DATA_SETS = ("demand-forecast-predictions", "demand-forecast-quality")
ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def refresh_dag(stack):
    wait_for(lambda: _get(stack, f"/dags/{DAG}"), 120, what=f"{DAG} to be parsed")
    stack.api("PATCH", f"/dags/{DAG}", {"is_paused": False})
    yield stack
    # Paused again: the demand_forecast backfills of later tests publish predictions, and a refresh run each
    # would page into the shared channel those tests count pages in.
    stack.api("PATCH", f"/dags/{DAG}", {"is_paused": True})


def _get(stack, path):
    try:
        return stack.api("GET", path)
    except RuntimeError:
        return None


def _quicksight(stack):
    import boto3

    return boto3.client("quicksight", endpoint_url=stack.endpoint, region_name="us-east-1",
                        aws_access_key_id="sandbox", aws_secret_access_key="sandbox")


def _publish(stack, day: str) -> None:
    """The event demand_forecast's publish_predictions emits for `day` (its extra, as GlueCatalogUpsert... writes it)."""
    assets = stack.api("GET", "/assets?name_pattern=demand_forecast.predictions")["assets"]
    asset_id = next(a["id"] for a in assets if a["name"] == "demand_forecast.predictions")
    stack.api("POST", "/assets/events", {"asset_id": asset_id, "extra": {
        "table": "demand_forecast.predictions", "partition": f"dt='{day}'", "action": "created"}})


def _runs(stack) -> list[dict]:
    return stack.api("GET", f"/dags/{DAG}/dagRuns?limit=100&order_by=start_date")["dag_runs"]


def _finished_run(stack, known: set[str], timeout: float = 300) -> dict:
    def done():
        new = [r for r in _runs(stack) if r["dag_run_id"] not in known]
        return new[0] if len(new) == 1 and new[0]["state"] in ("success", "failed") else None
    return wait_for(done, timeout, interval=2, what=f"a new {DAG} run to finish")


def _tasks(stack, run_id: str) -> list[dict]:
    return stack.api("GET", f"/dags/{DAG}/dagRuns/{quote(run_id, safe='')}/taskInstances")["task_instances"]


def _ingestions(stack, data_set: str) -> list[dict]:
    return _quicksight(stack).list_ingestions(AwsAccountId=ACCOUNT, DataSetId=data_set)["Ingestions"]


def test_a_predictions_event_triggers_exactly_one_ingestion_per_data_set(refresh_dag):
    stack = refresh_dag
    known = {r["dag_run_id"] for r in _runs(stack)}
    before = {ds: {i["IngestionId"] for i in _ingestions(stack, ds)} for ds in DATA_SETS}
    _publish(stack, "2026-11-20")
    run = _finished_run(stack, known)
    assert run["run_type"] == "asset_triggered" and run["state"] == "success", run
    refreshes = [t for t in _tasks(stack, run["dag_run_id"]) if t["task_id"] == "refresh"]
    assert sorted(t["map_index"] for t in refreshes) == [0, 1] and {t["state"] for t in refreshes} == {"success"}
    tries = {t["map_index"]: t["try_number"] for t in refreshes}  # above 1 when Airflow failed a resumed try
    for ds in DATA_SETS:
        new = [i for i in _ingestions(stack, ds) if i["IngestionId"] not in before[ds]]
        assert len(new) == 1, (ds, [(i["IngestionId"], i["IngestionStatus"]) for i in new], tries)
        assert new[0]["IngestionStatus"] == "COMPLETED" and new[0]["IngestionId"].startswith(f"{ds}-20261120-")
    # every QuickSight call was the Airflow role's (the connection assumes it), allowed by its policy in infra/
    calls = [e for e in SandboxClient(stack.endpoint).access()
             if e["action"].startswith("quicksight:") and e["principal"] != "sandbox"]  # not this test's own
    assert {e["action"] for e in calls} >= {"quicksight:CreateIngestion", "quicksight:DescribeIngestion"}
    assert all(e["allowed"] and ":assumed-role/demand-forecast-airflow/" in e["principal"] for e in calls), calls
    # the refresh records the partition it carried
    xcom = stack.api("GET", f"/dags/{DAG}/dagRuns/{quote(run['dag_run_id'], safe='')}/taskInstances/refresh/"
                            "xcomEntries/return_value?map_index=0&deserialize=true")
    value = xcom["value"] if isinstance(xcom["value"], dict) else json.loads(xcom["value"])
    assert value["partitions"] == ["2026-11-20"] and value["assets"] == ["demand_forecast.predictions"]


def test_an_ingestion_that_keeps_failing_pages_once_with_quicksights_error(refresh_dag):
    stack = refresh_dag
    sandbox = SandboxClient(stack.endpoint)
    # Only messages posted from here on count. The channel is not emptied: the deadline page of the scheduled
    # run, posted when the stack started after 08:00 UTC, is asserted by test_scheduler.py later.
    before = {m["ts"] for m in sandbox.slack_messages()}
    # Each ingestion runs 10 s before it fails, as a real one takes a while, not the sandbox's default 1 s: with
    # a trigger that fires within seconds of the deferral, Airflow 3.3 can fail the resumed try itself from the
    # stale "worker exited" event (apache/airflow#72716). That case is checked on purpose below.
    sandbox.add_fault(job="demand-forecast-quality/*", count=None, delay_seconds=10,
                      failure_reason="SQL_TABLE_NOT_FOUND: table demand_forecast.forecast_accuracy is missing")
    try:
        known = {r["dag_run_id"] for r in _runs(stack)}
        _publish(stack, "2026-11-21")
        run = _finished_run(stack, known)
    finally:
        sandbox.clear_faults()
    assert run["state"] == "failed"
    states = {t["map_index"]: (t["state"], t["try_number"]) for t in _tasks(stack, run["dag_run_id"])
              if t["task_id"] == "refresh"}
    assert states[0][0] == "success" and states[1] == ("failed", 4), states
    failed = [i for i in _ingestions(stack, "demand-forecast-quality") if "-20261121-" in i["IngestionId"]]
    assert sorted(i["IngestionId"][-2:] for i in failed) == ["-1", "-2", "-3", "-4"], "one ingestion per try"
    assert {i["IngestionStatus"] for i in failed} == {"FAILED"}
    pages = wait_for(lambda: [m for m in sandbox.slack_messages() if m["ts"] not in before and DAG in json.dumps(m)],
                     60, interval=2, what="the page")
    assert len(pages) == 1, pages
    page = json.dumps(pages[0])
    assert "SQL_TABLE_NOT_FOUND" in page and "demand-forecast-quality" in page and "2026-11-21" in page
    assert "none reported" not in page  # QuickSight's ErrorInfo is the page's AWS reason

    # As if Airflow had failed that last try itself and killed its worker before it paged: only the scheduler's
    # copy is left, run by the dag-processor with no exception, for a mapped task it has to unmap itself.
    delete_slack_messages(stack, pages)
    send_schedulers_callback(stack, run["dag_run_id"], "refresh", dag_id=DAG, map_index=1)
    [copy] = wait_for(lambda: [m for m in sandbox.slack_messages() if m["ts"] not in before and DAG in json.dumps(m)],
                      120, interval=2, what="the dag-processor's page for the scheduler's copy of the failure")
    assert "```SQL_TABLE_NOT_FOUND" in json.dumps(copy["blocks"]) and "try 4/4" in copy["text"], copy
