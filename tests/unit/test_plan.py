"""Which day a run processes, which champion it faces, and what code it ships."""

from datetime import UTC, date, datetime

import pytest

from batchml.demand_forecast.plan import (
    PlanError,
    champion_of,
    code_bundle,
    partition_day,
    undecided_runs,
    windows,
)
from batchml.naming import S3Layout, job_name, job_name_prefix, job_sequence

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def test_partition_is_the_logical_day():
    assert partition_day(datetime(2026, 11, 20, 0, 0, tzinfo=UTC), NOW) == date(2026, 11, 20)
    assert partition_day(datetime(2026, 11, 20, 23, 59, tzinfo=UTC), NOW) == date(2026, 11, 20)


@pytest.mark.parametrize("logical, message", [
    (None, "trigger it with one"),
    (datetime(2026, 11, 21, 9, 0, tzinfo=UTC), "not complete yet"),
])
def test_runs_that_cannot_name_a_complete_day_stop(logical, message):
    with pytest.raises(PlanError, match=message):
        partition_day(logical, NOW)


def test_a_day_before_the_first_partition_is_refused_saying_how_to_backfill_it():
    first = date(2026, 1, 1)
    assert partition_day(datetime(2026, 1, 1, tzinfo=UTC), NOW, first_day=first) == first
    with pytest.raises(PlanError) as refused:
        partition_day(datetime(2025, 3, 1, tzinfo=UTC), NOW, first_day=first, history_days=548)
    message = str(refused.value)
    assert "partition 2025-03-01 is before the pipeline's first partition 2026-01-01" in message
    assert "set start_date to 2025-03-01 or earlier" in message and "to 2023-09-01)" in message
    assert "airflow backfill create --dag-id demand_forecast --from-date 2025-03-01 --to-date 2025-03-01" in message


def test_windows_end_at_d_and_score_the_days_after():
    w = windows(date(2026, 11, 20), history_days=548, active_lookback_days=28, horizon_days=7).model_dump(mode="json")
    assert w["history_start"] == "2025-05-22" and w["partition_date"] == "2026-11-20"
    assert (w["first_forecast_day"], w["last_forecast_day"]) == ("2026-11-21", "2026-11-27")
    assert w["active_start"] == "2026-10-24"


def _pkg(version, day, status="Approved"):
    return {"ModelPackageArn": f"arn:pkg/{version}", "ModelPackageVersion": version,
            "ModelPackageDescription": f"partition={day} demand_forecast trained for {day}",
            "ModelApprovalStatus": status}


def test_champion_is_the_latest_approved_before_d_never_a_later_one():
    packages = [_pkg(1, "2026-11-17"), _pkg(2, "2026-11-18", "Rejected"), _pkg(3, "2026-11-25"), _pkg(4, "2026-11-15")]
    assert champion_of(packages, date(2026, 11, 20)).model_package_arn == "arn:pkg/1"
    assert champion_of(packages, date(2026, 11, 15)) is None
    assert champion_of([], date(2026, 11, 20)) is None


def test_code_bundle_is_reproducible():
    first, files, digest = code_bundle()
    again, _, digest_again = code_bundle()
    assert first == again and digest == digest_again
    assert {"preprocess.py", "train.py", "evaluate.py", "inference.py", "features.py"} <= set(files)


def test_names_come_from_pipeline_step_and_day():
    prefix = job_name_prefix("demand_forecast", "train", "2026-11-20")
    assert prefix == "demand-forecast-train-20261120"
    assert job_name(prefix, 3) == "demand-forecast-train-20261120-3"
    assert job_sequence(prefix, "demand-forecast-train-20261120-12") == 12
    assert job_sequence(prefix, "demand-forecast-train-2026112-1") is None
    layout = S3Layout("bkt", "ml", "demand_forecast")
    assert layout.partition("predictions", "2026-11-20") == "s3://bkt/ml/demand_forecast/predictions/dt=2026-11-20/"


def test_the_champion_waits_for_earlier_days_under_way_that_have_not_decided():
    states = {
        "backfill__d1": {"register_model": "success", "keep_champion": "skipped"},   # decided: registered
        "backfill__d2": {"register_model": "skipped", "keep_champion": "running"},   # deciding
        "backfill__d3": {"register_model": None, "keep_champion": None},              # still training
        "backfill__d4": {"register_model": "upstream_failed", "keep_champion": "upstream_failed"},  # failed early
        "backfill__d5": {"register_model": None, "keep_champion": None},              # queued, never started
        "backfill__me": {"register_model": None, "keep_champion": None},
    }
    run_states = {"backfill__d1": "success", "backfill__d2": "running", "backfill__d3": "running",
                  "backfill__d4": "failed", "backfill__d5": "queued"}
    assert undecided_runs(states, run_states, "backfill__me") == ["backfill__d2", "backfill__d3"]
    assert undecided_runs({}, {}, "backfill__me") == []


def _settings():
    from batchml.config import PipelineSettings

    return PipelineSettings.load("demand_forecast")


def test_unknown_conf_keys_are_refused_before_anything_runs():
    """Why case 7."""
    from batchml.demand_forecast.plan import check_params

    with pytest.raises(PlanError, match=r"unknown dag_run.conf keys \['histroy_days'\]: this DAG takes "
                                        r"\['history_days', 'note'\]"):
        check_params({"history_days", "note"}, {"history_days": 548}, {"histroy_days": 500}, _settings())
    check_params({"history_days", "note"}, {"history_days": 548}, {"history_days": 500}, _settings())


def test_a_history_too_short_for_the_model_is_refused_and_the_param_bound_agrees():
    """Why case 5: 130 days used to fail in preprocess after four paid SageMaker jobs."""
    from batchml.demand_forecast.contract import min_history_days
    from batchml.demand_forecast.plan import check_params

    settings = _settings()
    assert min_history_days(settings) == 365 + 7 + 28 + 1
    with pytest.raises(PlanError, match="history_days=130 is too short: 365 training origins, the 7-day holdout "
                                        "and the lags need at least 401"):
        check_params({"history_days", "note"}, {"history_days": 130}, {"history_days": 130}, settings)
    check_params({"history_days", "note"}, {"history_days": 401}, None, settings)


def test_the_baseline_window_ends_the_day_before_d():
    w = windows(date(2026, 11, 20), history_days=548, active_lookback_days=28, horizon_days=7, baseline_days=28)
    assert w.baseline_start.isoformat() == "2026-10-23"


def test_the_operators_and_the_scripts_agree_on_the_no_retry_marker():
    from batchml.demand_forecast.contract import scripts
    from batchml.operators.sagemaker import NON_RETRYABLE

    assert scripts().NON_RETRYABLE == NON_RETRYABLE
