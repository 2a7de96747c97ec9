"""Bad days under the real scheduler (issue 14, the operational half): a real `airflow backfill create` of days
before the pipeline's start_date refuses each day and pages once; and when the scheduler runs a failed task's
failure callback itself (through the dag-processor, with no exception in its context), on-call still gets one
alert for that try, the worker's, with the AWS reason.

Each test leaves the shared stack as it found it (its runs deleted, Slack emptied, faults cleared), so
tests/scheduler/test_scheduler.py, which counts runs and Slack threads, is not disturbed."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from urllib.parse import quote

import pytest

from sandbox.client import SandboxClient
from tests.conftest import REPO
from tests.scheduler.conftest import (
    SEED_END,
    backfill,
    delete_slack_messages,
    runs,
    send_schedulers_callback,
    task_states,
    wait_backfill,
    wait_for,
)
from tools.inspect_run import inspect_partition

pytestmark = pytest.mark.scheduler


def _kind(message: dict) -> str | None:
    return ((message.get("metadata") or {}).get("event_payload") or {}).get("kind")


def _messages_since(stack, before: set[str]) -> list[dict]:
    """Slack messages posted since `before` (a set of ts), leaving out deadline pages: the run the scheduler
    made for yesterday waits for sales that never land here and pages for its deadline after 08:00 UTC."""
    return [m for m in SandboxClient(stack.endpoint).slack_messages()
            if m["ts"] not in before and _kind(m) != "deadline"]


def _cleanup(stack, days: list[date], before: set[str]) -> None:
    """Clear this test's faults, and delete its runs and Slack messages (through Slack's own chat.delete).
    Faults first: a fault left behind (an API call below failing) would fail every later test on the stack."""
    SandboxClient(stack.endpoint).clear_faults()
    for day in days:
        run = runs(stack).get(day.isoformat())
        if run:
            stack.api("DELETE", f"/dags/demand_forecast/dagRuns/{quote(run['dag_run_id'], safe='')}")
    delete_slack_messages(stack, _messages_since(stack, before))


def _slack_now(stack) -> set[str]:
    return {m["ts"] for m in SandboxClient(stack.endpoint).slack_messages()}


def _failures(stack, day: date, task_id: str | None = None) -> list[dict]:
    return [m for m in SandboxClient(stack.endpoint).slack_messages()
            if (p := (m.get("metadata") or {}).get("event_payload", {})).get("kind") == "failure"
            and p.get("partition") == day.isoformat() and task_id in (None, p.get("task_id"))]


def _nothing_published(stack, day: date) -> None:
    report = inspect_partition(stack.endpoint, day.isoformat())
    assert report["partition"] is None and report["model_versions_for_partition"] == 0


def test_a_cli_backfill_before_start_date_refuses_every_day_and_pages_once(stack):
    import yaml

    start = date.fromisoformat(yaml.safe_load((REPO / "include/config/demand_forecast.yaml").read_text())["start_date"])
    days = [start - timedelta(days=2), start - timedelta(days=1)]
    before = _slack_now(stack)
    try:
        stack.api("PATCH", "/dags/demand_forecast", {"is_paused": True})  # see conftest.backfill
        try:
            # SQLite refuses a writer whose transaction began as a reader while the scheduler writes ("database
            # is locked", without waiting; Airflow 3.3.2 on SQLite, see README). The CLI then rolls its whole
            # backfill back, so asking again is safe; the production database (Postgres) does not do this.
            for _ in range(3):
                done = subprocess.run([sys.executable, "-m", "airflow", "backfill", "create", "--dag-id",
                                       "demand_forecast", "--from-date", days[0].isoformat(), "--to-date",
                                       days[-1].isoformat()],
                                      cwd=REPO, env=stack.env(), capture_output=True, text=True, timeout=300)
                if done.returncode == 0 or "database is locked" not in done.stderr + done.stdout:
                    break
        finally:
            stack.api("PATCH", "/dags/demand_forecast", {"is_paused": False})
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        [created] = [b for b in stack.api("GET", "/backfills?dag_id=demand_forecast")["backfills"]
                     if b["from_date"].startswith(days[0].isoformat())]
        wait_backfill(stack, created["id"], timeout=600)
        by_day = runs(stack)
        for day in days:
            run = by_day[day.isoformat()]
            assert run["state"] == "failed"  # not "success with nothing done"
            states = task_states(stack, run["dag_run_id"])
            assert states.pop("prepare_run") == "failed" and set(states.values()) == {"upstream_failed"}, states
            [failure] = _failures(stack, day)
            assert "demand_forecast.prepare_run failed" in failure["text"]
            assert f"partition {day} is before the pipeline's first partition {start}" in failure["text"]
            assert "airflow backfill create" in json.dumps(failure["blocks"])
            _nothing_published(stack, day)
        top = [m for m in _messages_since(stack, before) if not m["thread_ts"]]
        assert len(top) == 1 and "@ml-oncall" in json.dumps(top[0]["blocks"])  # one page; the days are replies
    finally:
        _cleanup(stack, days, before)


def _airflow_logs(stack) -> str:
    """Every log the stack wrote (the dag-processor's per-file logs, and standalone's own)."""
    return "\n".join(p.read_text(errors="replace") for p in stack.root.rglob("*.log"))


def test_the_schedulers_copy_of_a_failure_is_not_a_second_alert(stack):
    day = SEED_END - timedelta(days=10)  # not one of the days test_scheduler.py backfills
    client = SandboxClient(stack.endpoint)
    before = _slack_now(stack)
    try:
        client.fail_calls("athena", "StartQueryExecution", "InternalServerException", count=None)
        created = backfill(stack, day, day, max_active_runs=1)
        wait_backfill(stack, created["id"], timeout=600)
        client.clear_faults()
        run = runs(stack)[day.isoformat()]
        assert run["state"] == "failed"
        assert task_states(stack, run["dag_run_id"])["extract_training"] == "failed"
        [worker] = _failures(stack, day, "extract_training")
        assert "InternalServerException" in worker["text"]

        send_schedulers_callback(stack, run["dag_run_id"], "extract_training")
        wait_for(lambda: "this try was already alerted" in _airflow_logs(stack), 120,
                 what="the dag-processor to run the scheduler's copy of the failure callback")
        [kept] = _failures(stack, day, "extract_training")  # still one message for this try
        assert kept["ts"] == worker["ts"] and "InternalServerException" in kept["text"]
        assert "none reported" not in json.dumps(kept["blocks"])
        _nothing_published(stack, day)
    finally:
        _cleanup(stack, [day], before)


def test_the_schedulers_copy_alone_still_pages_with_the_jobs_reason(stack):
    """The worker can die before it pages: Airflow 3.3 fails a deferred try that resumed within seconds from a
    stale executor event and kills its worker (apache/airflow#72716), or the worker is OOM-killed. Then only the
    scheduler's copy of the failure is left, run by the dag-processor with no exception in its context, and the
    page must still quote SageMaker's reason: the notifier looks up the try's job (IdempotentJob.failure_of_try)."""
    day = SEED_END - timedelta(days=11)
    reason = "AlgorithmError: injected: the processing instance ran out of disk"
    client = SandboxClient(stack.endpoint)
    before = _slack_now(stack)
    try:
        client.fail_job(f"demand-forecast-preprocess-{day:%Y%m%d}-*", reason, count=None)
        created = backfill(stack, day, day, max_active_runs=1)
        wait_backfill(stack, created["id"], timeout=600)
        client.clear_faults()
        run = runs(stack)[day.isoformat()]
        assert run["state"] == "failed"
        assert task_states(stack, run["dag_run_id"])["preprocess"] == "failed"
        [worker] = _failures(stack, day, "preprocess")
        assert reason in worker["text"]
        # As if the worker had died before paging: only the scheduler's copy is left to page.
        delete_slack_messages(stack, [worker])
        send_schedulers_callback(stack, run["dag_run_id"], "preprocess")
        [copy] = wait_for(lambda: _failures(stack, day, "preprocess"), 120,
                          what="the dag-processor to page with the scheduler's copy of the failure")
        assert reason in copy["text"], copy["text"]
        assert "none reported" not in json.dumps(copy["blocks"]) and "try 4/4" in copy["text"]
        _nothing_published(stack, day)
    finally:
        _cleanup(stack, [day], before)
