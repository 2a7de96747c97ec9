"""The forecast_monitoring steps that run in Airflow itself: the plan, and the alert verdict.

The queries are Athena UNLOADs and the publishing Glue upserts, driven by the project's operators.
Imports of boto3 clients and pyarrow happen inside the tasks, never at parse time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from airflow.sdk import get_current_context
from airflow.sdk.exceptions import AirflowFailException

# airflow.sdk's task, but XComArg arguments resolve when the task runs, so `airflow tasks render` works
from batchml.decorators import task
from batchml.naming import run_type_of

PIPELINE = "forecast_monitoring"


def _settings():
    from batchml.forecast_monitoring.settings import MonitoringSettings

    return MonitoringSettings.load(PIPELINE)


@task(multiple_outputs=False)
def prepare_run() -> dict[str, Any]:
    """Validate the environment, pick A, find the champion that forecast A and the forecast partitions there are."""
    from batchml.config import ConfigError
    from batchml.demand_forecast.plan import PlanError, partition_day
    from batchml.environment import EnvironmentConfig
    from batchml.forecast_monitoring import plan

    context = get_current_context()
    settings = _settings()
    dag_run = context["dag_run"]
    try:
        env = EnvironmentConfig.load(settings.monitors)
        day = partition_day(context.get("logical_date"), datetime.now(UTC), first_day=settings.start_date,
                            pipeline=PIPELINE)
    except (ConfigError, PlanError) as e:
        raise AirflowFailException(str(e)) from None  # retrying cannot fix configuration
    origins = plan.forecast_origins(day, settings.accuracy.horizon_days)
    run = plan.build(settings=settings, env=env, day=day, run_id=dag_run.run_id, run_type=run_type_of(dag_run),
                     champion=_champion(env, day), published=_published(env, origins))
    if run.missing_forecast_partitions:
        # Reported in the accuracy rows and here, not fatal: the horizons that were published are still measured.
        print(f"No published forecast partition for {', '.join(map(str, run.missing_forecast_partitions))} "
              f"({len(run.missing_forecast_partitions)} of {len(origins)} horizons for {run.day} are not measured)")
    champion = run.champion
    print(f"Actuals day {run.day}; champion " + (f"version {champion.version} (trained for {champion.partition_date})"
                                                  if champion.partition_date else "none approved before it"))
    return run.to_xcom()


def _champion(env, day: date):
    """The version that made the forecasts for A: the latest approved for a day before A."""
    from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

    from batchml.demand_forecast.plan import champion_of
    from batchml.demand_forecast.tasks import _approved_packages
    from batchml.forecast_monitoring.plan import Champion

    conn = SageMakerHook(aws_conn_id=env.aws_conn_id, region_name=env.region).conn
    found = champion_of(_approved_packages(conn, env.model_package_group), day)
    return Champion(version=found.version, partition_date=found.partition_date) if found else Champion()


def _published(env, origins: list[date]) -> set[date]:
    """The predictions partitions among ``origins`` (Glue GetPartitions, one call)."""
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

    glue = GlueCatalogHook(aws_conn_id=env.aws_conn_id, region_name=env.region).conn
    expression = f"dt BETWEEN '{min(origins)}' AND '{max(origins)}'"  # dates: no outside text
    found: set[date] = set()
    for page in glue.get_paginator("get_partitions").paginate(
            DatabaseName=env.forecast_database, TableName="predictions", Expression=expression):
        found.update(date.fromisoformat(p["Values"][0]) for p in page["Partitions"])
    return found


@task(multiple_outputs=False)
def judge(run: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """Warn or page by the policy (batchml.forecast_monitoring.policy) on the published metrics of A and the days
    before it. A page that cannot be posted fails the task, so its retries post it (and its last try pages)."""
    from batchml.alerts import send_warning
    from batchml.forecast_monitoring import policy
    from batchml.forecast_monitoring.plan import MonitorPlan
    from batchml.operators.athena import read_unloaded

    plan = MonitorPlan.of(run)
    rules = plan.alerts
    rows = read_unloaded(inputs["output_prefix"], **plan.aws())  # a few dozen: the days the policy looks at
    verdict = policy.judge(rows, plan.partition_date, rolling_days=rules.rolling_days,
                           max_wape_h1=rules.max_wape_h1, max_psi=rules.max_psi,
                           page_after_days=rules.page_after_days)
    latest = verdict.streak[-1]
    print(f"{plan.day}: rolling WAPE h1 {latest.rolling_wape_h1}, PSI {latest.psi}: {verdict.kind}"
          + (f" ({len(verdict.streak)} breached days)" if verdict.kind != "ok" else ""))
    if verdict.kind != "ok":
        title, details = policy.describe(
            verdict, pipeline=PIPELINE, page_after_days=rules.page_after_days,
            partition_link=f"{plan.env.forecast_database}.forecast_accuracy / input_drift, dt='{plan.day}'")
        ti = get_current_context()["ti"]
        sent = send_warning(plan.monitors, _settings().alerts.slack_conn_id, title, details,
                            log_url=getattr(ti, "log_url", None), page=verdict.kind == "page")
        if not sent and verdict.kind == "page":
            raise RuntimeError(f"the page for {plan.day} could not be posted to Slack: {title}")
    return {"kind": verdict.kind, "streak_days": [str(m.day) for m in verdict.streak if m.breaches],
            "rolling_wape_h1": latest.rolling_wape_h1, "psi": latest.psi,
            "missing_days": [str(d) for d in verdict.missing_days]}
