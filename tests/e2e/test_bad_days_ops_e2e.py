"""Bad days, the operational half (issue 14): every logical date either runs or is refused with a page, and a
broken environment Variable never silences the page. Real `airflow dags test` runs on the sandbox, sharing the
session's `pipeline`; the days used here (before LAST_DAY - 11) are left alone by the other e2e files."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from sandbox import profile
from tests.e2e.conftest import LAST_DAY, alerts

pytestmark = pytest.mark.e2e

VARIABLE = "AIRFLOW_VAR_DEMAND_FORECAST_ENV"


def _nothing_published(pipeline, day: date) -> None:
    """No Glue partition, no model version and no prediction prefix for the day."""
    report = pipeline.inspect(day)
    assert report["partition"] is None and report["model_versions_for_partition"] == 0
    s3 = pipeline.sandbox.boto3_client("s3")
    listed = s3.list_objects_v2(Bucket=profile.BUCKET, Prefix=f"{profile.PREFIX}/demand_forecast/predictions/dt={day}/")
    assert listed.get("KeyCount", 0) == 0


def _failed_only_at_prepare_run(pipeline, log: str) -> None:
    states = pipeline.task_states(log)
    assert states.pop("prepare_run") == "failed", states
    assert set(states.values()) == {"upstream_failed"}, states


def test_a_day_before_start_date_is_refused_at_once_and_pages(pipeline):
    """Before: the run succeeded with no task instance at all. Now every task exists; prepare_run refuses
    the day (no retry), saying how to backfill it, and on-call is paged once."""
    day = date.fromisoformat(pipeline.settings()["start_date"]) - timedelta(days=1)
    assert day < LAST_DAY - timedelta(days=11)
    code, log = pipeline.dags_test(day)
    assert code != 0
    _failed_only_at_prepare_run(pipeline, log)
    assert f"partition {day} is before the pipeline's first partition" in log
    [page] = alerts(pipeline, day)
    assert page["channel_name"] == profile.SLACK_CHANNEL[1:] and "demand_forecast.prepare_run failed" in page["text"]
    blocks = json.dumps(page["blocks"])
    assert f"set start_date to {day} or earlier" in blocks and "airflow backfill create" in blocks
    assert "try 1/4" in page["text"] and profile.ONCALL_HANDLE in blocks
    _nothing_published(pipeline, day)


# (days before LAST_DAY, the Variable, prepare_run's error, the alert's own words for the problem)
BROKEN = [
    pytest.param(12, "{\"region\": \"us-east-1\",", "is not valid JSON", "is not valid JSON", id="not-json"),
    pytest.param(13, None, "is not set", "is not set", id="missing"),
    pytest.param(14, "no-channel", "'slack_channel' is a required property", "has no slack_channel",
                 id="no-slack-channel"),
]


@pytest.mark.parametrize(("offset", "variable", "error", "problem"), BROKEN)
def test_a_broken_environment_variable_still_pages_once_naming_the_problem(pipeline, offset, variable, error,
                                                                          problem):
    """Before: prepare_run failed and nobody heard of it ("no Slack channel configured" in a log). Now the
    page goes to the Slack connection's fallback channel and names what is wrong with the Variable."""
    day = LAST_DAY - timedelta(days=offset)
    if variable == "no-channel":
        variable = json.dumps({k: v for k, v in profile.pipeline_environment().items() if k != "slack_channel"})
    env = {VARIABLE: variable} if variable is not None else {}
    code, log = pipeline.dags_test(day, unset=() if variable is not None else (VARIABLE,), **env)
    assert code != 0
    _failed_only_at_prepare_run(pipeline, log)
    assert error in log
    [page] = alerts(pipeline, day)  # exactly one message about the day, anywhere
    assert page["channel_name"] == profile.SLACK_FALLBACK_CHANNEL[1:]
    assert "demand_forecast.prepare_run failed" in page["text"] and error in page["text"]
    blocks = json.dumps(page["blocks"])
    assert "Configuration problem" in blocks and f"'demand_forecast_env' {problem}" in blocks
    assert f"fallback channel {profile.SLACK_FALLBACK_CHANNEL}" in blocks
    assert profile.ONCALL_HANDLE in blocks  # the connection's fallback handle, or the Variable's own
    _nothing_published(pipeline, day)


def test_two_overlapping_days_each_face_the_latest_model_approved_before_them(pipeline):
    """D and D+1 run at the same time. Before: D+1 chose its champion when it started, so it faced whatever
    was approved then (not D's model, still training); run one after the other, it faced D's. Now D+1's
    find_champion waits until D has decided, so D+1 faces D's model however the two overlap, and D never
    faces D+1's (newer) one."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    day, next_day = LAST_DAY - timedelta(days=16), LAST_DAY - timedelta(days=15)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(pipeline.dags_test, day)
        time.sleep(3)  # D's run exists first, as in a backfill, which starts its runs in date order
        second = pool.submit(pipeline.dags_test, next_day)
        (code, log), (next_code, next_log) = first.result(), second.result()
    assert code == 0, log[-5000:]
    assert next_code == 0, next_log[-5000:]
    report, next_report = pipeline.inspect(day), pipeline.inspect(next_day)
    assert report["gate"] == "challenger approved" and report["model_versions_for_partition"] == 1
    # D+1 was scored against D's model, the latest approved before it ...
    assert next_report["evaluation"]["models"]["champion"]["model_package_arn"] == report["model_package"]["arn"]
    assert f"Champion for {next_day}: {report['model_package']['arn']} (trained for {day})" in next_log
    # ... and D against nothing newer than itself.
    champion = report["evaluation"]["models"]["champion"]
    assert champion is None or champion["model_package_arn"] != next_report.get("model_package", {}).get("arn")
    print("D+1 waited for D:", "Waiting for earlier days to decide their model" in next_log)
