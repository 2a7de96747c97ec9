"""forecast_monitoring without Airflow or AWS: the plan's windows, the requests against their SQL files, the
Airflow role's permissions for every call the requests imply, and the alert policy's verdicts."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from batchml.config import INCLUDE_DIR
from batchml.environment import EnvironmentConfig
from batchml.forecast_monitoring import plan, policy, requests
from batchml.forecast_monitoring.settings import MonitoringSettings
from batchml.sql import Identifier, SqlParameterError, bind
from sandbox.profile import pipeline_environment

A = date(2026, 11, 20)


def sample(champion=None, published=None) -> dict:
    settings = MonitoringSettings.load("forecast_monitoring")
    env = EnvironmentConfig.from_json(json.dumps(pipeline_environment()), "test")
    origins = plan.forecast_origins(A, settings.accuracy.horizon_days)
    return plan.build(settings=settings, env=env, day=A, run_id="scheduled__2026-11-20T00:00:00+00:00",
                      run_type="scheduled", champion=champion or plan.Champion(),
                      published=set(origins) if published is None else published).to_xcom()


def test_the_monitor_runs_where_the_forecast_pipeline_runs():
    settings = MonitoringSettings.load("forecast_monitoring")
    assert settings.environment_pipeline == "demand_forecast" and settings.name == "forecast_monitoring"


def test_windows_read_the_forecasts_made_for_a_and_never_overlap_the_reference():
    run = plan.MonitorPlan.of(sample(champion=plan.Champion(version=7, partition_date=A - timedelta(days=1))))
    w = run.windows
    assert (w.first_origin, w.last_origin) == (A - timedelta(days=7), A - timedelta(days=1))
    assert w.current_start == A - timedelta(days=6)
    # trained up to A-1, but the reference stops before the latest week
    assert w.reference_end == A - timedelta(days=7) and w.reference_start == A - timedelta(days=34)
    older = plan.MonitorPlan.of(sample(champion=plan.Champion(version=3, partition_date=A - timedelta(days=30))))
    assert older.windows.reference_end == A - timedelta(days=30)
    assert w.alert_start == A - timedelta(days=2 + 6)  # 3 days of streak, each with a 7-day window


def test_missing_forecast_partitions_are_listed_and_the_output_is_per_run():
    run = plan.MonitorPlan.of(sample(published={A - timedelta(days=1), A - timedelta(days=3)}))
    assert len(run.missing_forecast_partitions) == 5 and A - timedelta(days=3) not in run.missing_forecast_partitions
    assert run.paths.accuracy == ("s3://demand-forecast-sandbox/ml/forecast_monitoring/accuracy/dt=2026-11-20/"
                                  "run=scheduled__2026-11-20T00-00-00-00-00/")


@pytest.mark.parametrize("builder, sql, reads", [
    (requests.accuracy, "accuracy.sql", [("demand_forecast", "predictions"), ("retail", "sales")]),
    (requests.drift, "drift.sql", [("retail", "sales")]),
    (requests.alert_inputs, "alert_inputs.sql", [("demand_forecast", "forecast_accuracy"),
                                                 ("demand_forecast", "input_drift")]),
])
def test_each_request_binds_exactly_its_files_placeholders(builder, sql, reads):
    from batchml.operators.lineage import tables_read

    query = builder(sample())
    text = (INCLUDE_DIR / "sql" / "forecast_monitoring" / sql).read_text()
    statement, params = bind(text, query.parameters)  # raises on a missing or unused parameter
    assert tables_read(statement, query.database) == reads  # what OpenLineage reports as the task's inputs
    assert query.database == "demand_forecast" and query.workgroup == "demand_forecast"
    if "raw_database" in query.parameters:
        assert '"retail".sales' in statement
    assert all(p.startswith("'") or p.isdigit() for p in params)


def test_a_database_name_is_pasted_only_if_it_is_a_plain_identifier():
    assert bind("SELECT 1 FROM :db.sales WHERE dt = :d", {"db": Identifier("retail"), "d": "x"}) == (
        'SELECT 1 FROM "retail".sales WHERE dt = ?', ["'x'"])
    for bad in ('retail"; DROP TABLE x; --', "Retail", "a b", ""):
        with pytest.raises(SqlParameterError):
            Identifier(bad)


def test_partitions_point_at_the_query_output():
    run = sample()
    part = requests.accuracy_partition(run, accuracy={"output_prefix": "s3://b/ml/forecast_monitoring/accuracy/x/"})
    assert (part.database, part.table, part.values) == ("demand_forecast", "forecast_accuracy", ["2026-11-20"])
    assert requests.drift_partition(run, drift={"output_prefix": "s3://b/p/"}).table == "input_drift"


def test_the_airflow_role_may_make_every_call_of_a_run():
    from tests.unit.test_infra_policies import ACCOUNT, REGION, _objects, allowed

    run = plan.MonitorPlan.of(sample())
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    for table in ("forecast_accuracy", "input_drift"):
        for action in ("GetTable", "GetPartition", "GetPartitions", "CreatePartition", "UpdatePartition"):
            assert allowed("AirflowRole", f"glue:{action}", f"{glue}:table/demand_forecast/{table}"), (action, table)
    assert allowed("AirflowRole", "glue:GetPartitions", f"{glue}:table/demand_forecast/predictions")
    for uri in (run.paths.accuracy, run.paths.drift, run.paths.alert_inputs):
        obj, prefix = _objects(uri)
        for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
            assert allowed("AirflowRole", action, obj), (action, uri)
        assert allowed("AirflowRole", "s3:ListBucket", "arn:aws:s3:::demand-forecast-sandbox", **{"s3:prefix": prefix})
    # and nothing beyond: not the predictions' files, not another table
    assert not allowed("AirflowRole", "s3:PutObject", "arn:aws:s3:::demand-forecast-sandbox/ml/demand_forecast/"
                       "predictions/dt=2026-11-20/x")
    assert not allowed("AirflowRole", "glue:CreatePartition", f"{glue}:table/demand_forecast/other")


# --- the alert policy -------------------------------------------------------------------------------------
RULES = {"rolling_days": 7, "max_wape_h1": 0.3, "max_psi": 0.25, "page_after_days": 3}


def rows(wapes: dict[date, float], psis: dict[date, float] | None = None) -> list[dict]:
    out = [{"dt": str(d), "feature": "wape_h1", "abs_error": w * 100.0, "actual_units": 100.0, "psi": None}
           for d, w in wapes.items()]
    out += [{"dt": str(d), "feature": "units_sold", "abs_error": None, "actual_units": None, "psi": p}
            for d, p in (psis or {}).items()]
    return out


def days(n: int, end: date = A) -> list[date]:
    return [end - timedelta(days=k) for k in reversed(range(n))]


def test_rolling_wape_pools_errors_over_units_not_daily_wapes():
    data = rows({}) + [{"dt": str(A), "feature": "wape_h1", "abs_error": 50.0, "actual_units": 100.0, "psi": None},
                       {"dt": str(A - timedelta(days=1)), "feature": "wape_h1", "abs_error": 10.0,
                        "actual_units": 900.0, "psi": None}]
    m = policy.day_metrics(data, A, rolling_days=7, max_wape_h1=0.3, max_psi=0.25)
    assert m.rolling_wape_h1 == pytest.approx(60 / 1000) and m.breaches == []


def test_a_breach_warns_until_it_has_lasted_n_days_then_pages_once():
    history = dict.fromkeys(days(10, A - timedelta(days=3)), 0.1)
    kinds = []
    for k in range(5):  # the level shift starts at A-2: warn, A pages, A+1 and A+2 warn again
        day = A - timedelta(days=2) + timedelta(days=k)
        history[day] = 3.0
        kinds.append(policy.judge(rows(history), day, **RULES).kind)
    assert kinds == ["warning", "warning", "page", "warning", "warning"]
    verdict = policy.judge(rows(history), A, **RULES)
    title, details = policy.describe(verdict, pipeline="forecast_monitoring", page_after_days=3, partition_link="x")
    assert "over threshold for 3 consecutive days (2026-11-18 to 2026-11-20)" in title
    # pooled: (4 x 10 + 3 x 300) / 700 on A, rising as the shifted days fill the window
    assert details["rolling WAPE at horizon 1"] == "1.343 > threshold 0.3; trend 11-18 0.514 → 11-19 0.929 → 11-20 1.343"
    later = policy.judge(rows(history), A + timedelta(days=1), **RULES)
    assert "still over threshold, paged on 2026-11-20" in policy.describe(
        later, pipeline="forecast_monitoring", page_after_days=3, partition_link="x")[0]


def test_psi_alone_breaches_and_is_named():
    verdict = policy.judge(rows(dict.fromkeys(days(3), 0.1), {A: 0.4}), A, **RULES)
    assert verdict.kind == "warning" and [b.metric for b in verdict.breaches] == ["PSI of units_sold"]


def test_a_quiet_day_is_ok_and_a_day_without_metrics_breaks_the_streak():
    assert policy.judge(rows(dict.fromkeys(days(7), 0.1)), A, **RULES).kind == "ok"
    gap = {**dict.fromkeys(days(7, A - timedelta(days=3)), 1.5), A - timedelta(days=1): 1.5, A: 1.5}
    verdict = policy.judge(rows(gap), A, **RULES)  # A-2 has no accuracy partition
    assert verdict.kind == "warning" and verdict.missing_days == [A - timedelta(days=2)]
    assert "2026-11-18" in policy.describe(verdict, pipeline="p", page_after_days=3, partition_link="x")[1][
        "Days without metrics"]
