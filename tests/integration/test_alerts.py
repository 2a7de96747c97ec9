"""On-call alerting against the sandbox's Slack, with slack_sdk making real HTTP calls through the Slack
provider's hooks and Airflow connections (from AIRFLOW_CONN_* variables, as in a deployment)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest

from batchml import alerts
from batchml.alerts import Alert, SlackChannel, Threads, page_failure, policy, post_recovered
from batchml.notifiers import OnCallNotifier


def mine(slack) -> list[dict]:
    return slack.messages()


def alert(day: str, *, task="train", run_type="backfill", run_id=None, reason="AlgorithmError: boom") -> Alert:
    return Alert(dag_id="demand_forecast", task_id=task, partition=day, run_id=run_id or f"{run_type}__{day}",
                 run_type=run_type, try_number=4, max_tries=3, error="SageMakerJobFailed: ...", aws_reason=reason,
                 log_url="http://localhost:8080/log", oncall_handle="@ml-oncall")


def test_thirty_failing_backfill_days_are_one_page_and_thirty_replies(slack):
    channel = SlackChannel("slack_bot", slack.channel)
    days = [f"2026-10-{d:02d}" for d in range(1, 31)]
    for day in days:
        page_failure(channel, alert(day))
    messages = mine(slack)
    top = [m for m in messages if not m["thread_ts"]]
    assert len(top) == 1 and "@ml-oncall" in json.dumps(top[0]["blocks"])
    replies = [m for m in messages if m["thread_ts"] == top[0]["ts"]]
    assert sorted(m["metadata"]["event_payload"]["partition"] for m in replies) == days
    assert all("@ml-oncall" not in json.dumps(m["blocks"]) for m in replies)  # the parent paged; replies don't
    assert "AlgorithmError: boom" in replies[0]["text"]


def test_failures_of_one_run_share_its_thread_and_recovery_replies_there(slack):
    channel = SlackChannel("slack_bot", slack.channel)
    run = "scheduled__2026-11-20T00:00:00+00:00"
    assert page_failure(channel, alert("2026-11-20", task="extract_training", run_type="scheduled", run_id=run)
                        ).startswith("paged")
    page_failure(channel, alert("2026-11-20", task="extract_scoring", run_type="scheduled", run_id=run))
    page_failure(channel, alert("2026-11-19", run_type="scheduled", run_id="scheduled__2026-11-19"))
    top = [m for m in mine(slack) if not m["thread_ts"]]
    assert [m["metadata"]["event_payload"]["partition"] for m in top] == ["2026-11-20", "2026-11-19"]
    assert post_recovered(channel, "demand_forecast", "2026-11-20", run, None) == "recovered in 1 thread(s)"
    thread = [m for m in mine(slack) if m["thread_ts"] == top[0]["ts"]]
    assert [m["metadata"]["event_payload"]["kind"] for m in thread] == ["failure", "recovered"]
    assert "recovered" in thread[-1]["text"]
    # Said once: a second success of the same day has nothing left to recover.
    assert post_recovered(channel, "demand_forecast", "2026-11-20", run, None) == "nothing to recover"
    assert post_recovered(channel, "demand_forecast", "2026-11-18", run, None) == "nothing to recover"


def test_recovery_of_a_backfilled_day_replies_in_the_backfill_thread(slack):
    channel = SlackChannel("slack_bot", slack.channel)
    for day in ("2026-10-01", "2026-10-02"):
        page_failure(channel, alert(day))
    assert post_recovered(channel, "demand_forecast", "2026-10-02", "backfill__x", None) == "recovered in 1 thread(s)"
    [top] = [m for m in mine(slack) if not m["thread_ts"]]
    kinds = [(m["metadata"]["event_payload"]["kind"], m["metadata"]["event_payload"]["partition"])
             for m in mine(slack) if m["thread_ts"] == top["ts"]]
    assert kinds == [("failure", "2026-10-01"), ("failure", "2026-10-02"), ("recovered", "2026-10-02")]


def test_racing_thread_parents_converge_on_the_earliest(slack):
    channel = SlackChannel("slack_bot", slack.channel)
    threads = Threads(channel)
    meta = alerts.metadata("group", "demand_forecast/backfill", "demand_forecast", None)
    first, opened_first = threads.open("demand_forecast/backfill", alerts.BACKFILL_WINDOW, "a", [], meta)
    # A concurrent callback that looked before `first` existed opens a second parent:
    second, opened_second = threads.open("demand_forecast/backfill", alerts.BACKFILL_WINDOW, "b", [], meta)
    assert opened_first and not opened_second and second == first
    assert [m["text"] for m in mine(slack) if not m["thread_ts"]] == ["a"]  # the loser deleted itself


def test_webhook_pages_once_per_group_and_counts_the_rest(slack, monkeypatch):
    state: dict = {}
    monkeypatch.setattr(policy, "_webhook_state", lambda: json.loads(json.dumps(state)) if state else
                        {"groups": {}, "failed": {}})
    monkeypatch.setattr(policy, "_save_webhook_state", lambda s: state.update(s))
    channel = SlackChannel("slack_hook", None)
    assert not channel.threads
    outcomes = [page_failure(channel, alert(f"2026-10-{d:02d}")) for d in range(1, 6)]
    assert outcomes[0] == "paged by webhook" and all(o.startswith("not paged again") for o in outcomes[1:])
    assert state["groups"]["demand_forecast/backfill"]["suppressed"] == 4
    assert post_recovered(channel, "demand_forecast", "2026-10-03", "r", None) == "posted recovered"
    texts = [m["text"] for m in mine(slack)]
    assert len(texts) == 2 and "will not page again" in texts[0] and "recovered" in texts[1]


def _failure_context(day: str, exception: Exception) -> dict:
    from datetime import datetime

    ti = SimpleNamespace(dag_id="demand_forecast", task_id="train", run_id=f"manual__{day}", try_number=4,
                         max_tries=3, log_url="http://localhost:8080/dags/demand_forecast/runs/x/tasks/train")
    return {"ti": ti, "dag_run": SimpleNamespace(run_type="manual", logical_date=None),
            "logical_date": datetime.fromisoformat(f"{day}T00:00:00+00:00"), "exception": exception}


def test_429_then_200_delivers_one_message(slack, caplog):
    from batchml.operators.sagemaker import SageMakerJobFailed

    slack.sandbox.client.slack_fault(status=429, count=1, retry_after=1)
    error = SageMakerJobFailed("training", "demand-forecast-train-20261120-4", "Failed", "AlgorithmError: OOM")
    OnCallNotifier(pipeline="demand_forecast", slack_conn_id="slack_bot").notify(_failure_context("2026-11-20", error))
    [page] = mine(slack)
    assert "AlgorithmError: OOM" in page["text"] and "try 4/4" in page["text"]
    assert "xoxb-test-secret-token" not in caplog.text


def test_slack_down_is_logged_and_never_raised(slack, caplog):
    slack.sandbox.client.slack_fault(status=500, count=None)
    try:
        OnCallNotifier(pipeline="demand_forecast", slack_conn_id="slack_bot").notify(
            _failure_context("2026-11-20", RuntimeError("boom")))
    finally:
        slack.sandbox.client.clear_faults()
    assert "Slack alert failed (the task's own state is unchanged)" in caplog.text
    assert mine(slack) == []
    assert "xoxb-test-secret-token" not in caplog.text


def test_deadline_pages_only_for_scheduled_runs(slack):
    # What the scheduler hands the triggerer: the REST API's DAGRunResponse as JSON.
    context = {"dag_run": {"dag_id": "demand_forecast", "dag_run_id": "scheduled__2026-11-21T00:00:00+00:00",
                           "run_type": "scheduled", "logical_date": "2026-11-20T00:00:00Z", "state": "running"},
               "deadline": {"deadline_time": "2026-11-21T08:00:00+00:00"}}
    from batchml.deadlines import partition_not_published

    result = asyncio.run(partition_not_published(pipeline="demand_forecast", slack_conn_id="slack_bot", context=context))
    assert result == "paged: deadline missed"
    [page] = mine(slack)
    assert "2026-11-20 is not published" in page["text"] and "@ml-oncall" in json.dumps(page["blocks"])
    backfill = {**context, "dag_run": {**context["dag_run"], "run_type": "backfill"}}
    skipped = asyncio.run(partition_not_published(pipeline="demand_forecast", slack_conn_id="slack_bot", context=backfill))
    assert skipped.startswith("not paging") and len(mine(slack)) == 1


# --- one alert per failed try, whichever process runs the callback -------------------------------------------
def _scheduler_copy(a: Alert) -> Alert:
    """What the dag-processor builds when the scheduler runs the failure callback itself: the same task
    instance and try, but no exception, so no AWS reason."""
    from dataclasses import replace

    return replace(a, aws_reason=None, error="unknown error")


@pytest.mark.parametrize("run_type", ["manual", "backfill"])
def test_the_schedulers_copy_of_a_failure_is_not_posted_again(slack, run_type):
    channel = SlackChannel("slack_bot", slack.channel)
    worker = alert("2026-11-20", run_type=run_type)
    page_failure(channel, worker)
    outcome = page_failure(channel, _scheduler_copy(worker))
    assert outcome.startswith("not posted: this try was already alerted")
    failures = [m for m in mine(slack) if m["metadata"]["event_payload"]["kind"] == "failure"]
    assert len(failures) == 1 and "AlgorithmError: boom" in failures[0]["text"]
    # The next try of the same task instance (after a clear) is a new failure and is posted.
    from dataclasses import replace

    page_failure(channel, replace(worker, try_number=5))
    assert len([m for m in mine(slack) if m["metadata"]["event_payload"]["kind"] == "failure"]) == 2


def test_the_copy_with_the_reason_wins_when_it_comes_second(slack):
    channel = SlackChannel("slack_bot", slack.channel)
    worker = alert("2026-11-20", run_type="scheduled", run_id="scheduled__2026-11-20")
    assert page_failure(channel, _scheduler_copy(worker)).startswith("paged")
    outcome = page_failure(channel, worker)
    assert outcome.startswith("updated the earlier alert")
    [page] = mine(slack)  # one message, edited in place: still the page, now with the reason
    assert "AlgorithmError: boom" in page["text"] and "none reported" not in json.dumps(page["blocks"])
    assert "@ml-oncall" in json.dumps(page["blocks"]) and page["metadata"]["event_payload"]["aws_reason"] == "yes"


def test_copies_that_raced_converge_on_one_with_the_reason(slack):
    """Both processes looked before either posted: each posts, then the thread converges on the oldest
    message, carrying the AWS reason."""
    channel = SlackChannel("slack_bot", slack.channel)
    worker = alert("2026-11-21")
    page_failure(channel, alert("2026-11-20"))  # opens the backfill thread
    [parent] = [m["ts"] for m in mine(slack) if not m["thread_ts"]]
    meta = alerts.metadata("failure", worker.group, worker.dag_id, worker.partition, **alerts.failure_key(worker))
    channel.post(*alerts.failure_message(_scheduler_copy(worker), mention=False), thread_ts=parent, meta=meta)
    ts = channel.post(*alerts.failure_message(worker, mention=False), thread_ts=parent,
                      meta={**meta, "event_payload": {**meta["event_payload"], "aws_reason": "yes"}})
    assert alerts._converge(channel, Threads(channel), parent, alerts.failure_key(worker), ts).startswith("merged 2")
    [copy] = [m for m in mine(slack) if m["metadata"]["event_payload"].get("partition") == "2026-11-21"]
    assert "AlgorithmError: boom" in copy["text"] and float(copy["ts"]) < float(ts)


def test_webhook_posts_one_message_per_try(slack, monkeypatch):
    state: dict = {}
    monkeypatch.setattr(policy, "_webhook_state", lambda: json.loads(json.dumps(state)) if state else
                        {"groups": {}, "failed": {}})
    monkeypatch.setattr(policy, "_save_webhook_state", lambda s: state.update(s))
    channel = SlackChannel("slack_hook", None)
    worker = alert("2026-11-20", run_type="manual")
    assert page_failure(channel, worker) == "paged by webhook"
    assert page_failure(channel, _scheduler_copy(worker)) == "not posted: this try was already alerted"
    assert len(mine(slack)) == 1 and state["groups"]["demand_forecast/run/manual__2026-11-20"]["suppressed"] == 0


# --- a broken environment Variable never silences a page -------------------------------------------------------
@pytest.mark.parametrize(("variable", "problem"), [
    (None, "is not set"),
    ("{not json", "is not valid JSON"),
    (json.dumps({"oncall_handle": "@someone"}), "has no slack_channel"),
])
def test_a_broken_variable_pages_the_connections_fallback_channel(slack, monkeypatch, unique, variable, problem):
    from batchml.operators.sagemaker import SageMakerJobFailed

    fallback = f"{unique}-fallback"
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_BOT", json.dumps({
        "conn_type": "slack", "password": "xoxb-test-secret-token",
        "extra": {"base_url": f"{slack.sandbox.endpoint}/_sandbox/slack/api/", "fallback_channel": f"#{fallback}",
                  "fallback_oncall_handle": "@platform-oncall"}}))
    if variable is None:
        monkeypatch.delenv("AIRFLOW_VAR_DEMAND_FORECAST_ENV")
    else:
        monkeypatch.setenv("AIRFLOW_VAR_DEMAND_FORECAST_ENV", variable)
    error = SageMakerJobFailed("training", "demand-forecast-train-20261120-4", "Failed", "AlgorithmError: OOM")
    OnCallNotifier(pipeline="demand_forecast", slack_conn_id="slack_bot").notify(_failure_context("2026-11-20", error))
    [page] = [m for m in slack.sandbox.client.slack_messages() if m["channel_name"] == fallback]
    blocks = json.dumps(page["blocks"])
    assert "AlgorithmError: OOM" in page["text"]
    assert f"'demand_forecast_env' {problem}" in blocks and f"fallback channel #{fallback}" in blocks
    assert ("@someone" if variable and "@someone" in variable else "@platform-oncall") in blocks


def test_without_a_fallback_the_failed_alert_names_the_problem(slack, monkeypatch, caplog):
    monkeypatch.setenv("AIRFLOW_VAR_DEMAND_FORECAST_ENV", "{not json")
    OnCallNotifier(pipeline="demand_forecast", slack_conn_id="slack_bot").notify(
        _failure_context("2026-11-20", RuntimeError("boom")))
    assert "'demand_forecast_env' is not valid JSON" in caplog.text and "fallback channel: none" in caplog.text
    assert mine(slack) == []


def test_a_failure_airflow_reports_without_an_exception_still_pages_with_sagemakers_reason(slack, aws_env, bucket, unique):
    """When Airflow fails a try itself (a lost worker, apache/airflow#72716), the scheduler runs the failure
    callback through the dag-processor with no exception in the context. The notifier looks up what ended the
    try's job, on the operator as the dag-processor parsed it, and the page carries SageMaker's reason."""
    from datetime import UTC, datetime

    from tests.integration.test_operators import context, jobs, processing_op

    prefix, reason = f"{unique}-pre-20261120", "AlgorithmError: the instance ran out of memory"
    aws_env.client.fail_job(f"{prefix}-1", reason, count=1)
    with pytest.raises(Exception, match="ran out of memory"):  # the worker's try; say it died before paging
        processing_op("pre", prefix, bucket).execute(context("pre", 1))
    notifier = OnCallNotifier(pipeline="demand_forecast", slack_conn_id="slack_bot")
    scheduler_copy = {**context("pre", 1), "task": processing_op("pre", prefix, bucket),
                      "logical_date": datetime(2026, 11, 20, tzinfo=UTC)}
    notifier.notify(scheduler_copy)
    [page] = mine(slack)
    assert reason in page["text"] and "2026-11-20" in page["text"], page["text"]
    assert f"```{reason}```" in json.dumps(page["blocks"])  # the AWS reason block, not "none reported"
    assert [j["ProcessingJobStatus"] for j in jobs(aws_env, prefix)] == ["Failed"]  # looking launched nothing

    # A try whose job did not fail (here: another run's try, which launched none) pages without a reason.
    notifier.notify({**scheduler_copy, "ti": context("pre", 1, run_id="manual__other")["ti"]})
    other = [m for m in mine(slack) if m["ts"] != page["ts"]]
    assert len(other) == 1 and "none reported" in json.dumps(other[0]["blocks"]), other


def test_a_lookup_that_hangs_delays_the_page_but_does_not_lose_it(slack, aws_env, bucket, unique, monkeypatch):
    """The scheduler's copy runs in the dag-processor, which kills it after 50 s: a SageMaker endpoint that does not
    answer must not take the page with it. The lookup is given up after LOOKUP_SECONDS and the page goes out."""
    import threading
    import time
    from datetime import UTC, datetime

    from batchml import notifiers
    from tests.integration.test_operators import context, processing_op

    monkeypatch.setattr(notifiers, "LOOKUP_SECONDS", 1)
    prefix = f"{unique}-pre-20261120"
    aws_env.client.fail_calls("sagemaker", "ListProcessingJobs", error=None, delay_seconds=10, count=None)
    started = time.monotonic()
    try:
        OnCallNotifier(pipeline="demand_forecast", slack_conn_id="slack_bot").notify(
            {**context("pre", 1), "task": processing_op("pre", prefix, bucket),
             "logical_date": datetime(2026, 11, 20, tzinfo=UTC)})
        took = time.monotonic() - started
    finally:
        aws_env.client.clear_faults()
    [page] = mine(slack)
    assert "none reported" in json.dumps(page["blocks"]) and "it_dag.pre failed for 2026-11-20" in page["text"]
    assert took < 8, f"the page waited {took:.0f} s for the lookup"
    for lookup in [t for t in threading.enumerate() if t.name == "aws-failure-lookup"]:
        lookup.join(30)  # let the abandoned lookup end while the sandbox still answers
