"""The run plan of forecast_monitoring: what one run for the actuals day A needs to know, decided by its first
task and validated back into this model by every reader.

A run processes the day A of its logical date (UTC), once A is over: the forecasts made for A (partitions
A-1 .. A-h of the predictions table, h = ``accuracy.horizon_days``) against the sales of A, and the inputs of the
latest ``drift.current_days`` days (ending at A) against the end of the champion's training window.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from pydantic import Field

from batchml.config import Strict
from batchml.environment import EnvironmentConfig, RunPlanBase
from batchml.forecast_monitoring.settings import MonitoringAlerts, MonitoringSettings
from batchml.naming import S3Layout


class Windows(Strict):
    """The days each query reads, all counted from A."""

    actuals_day: date = Field(description="A: the day whose sales are compared with the forecasts made for it.")
    first_origin: date = Field(description="A - horizon: the oldest predictions partition with a forecast for A.")
    last_origin: date = Field(description="A - 1: the newest one.")
    current_start: date = Field(description="First day of the latest inputs (drift).")
    reference_start: date
    reference_end: date = Field(description="End of the champion's training window, or the day before "
                                            "current_start if that is earlier (the two never overlap).")
    alert_start: date = Field(description="First day the alert policy reads: the rolling window of the first "
                                          "day that could belong to a breach long enough to page.")


class Champion(Strict):
    """The model version that produced the forecasts for A (approved for the latest day before A)."""

    version: int | None = None
    partition_date: date | None = Field(None, description="The day it was trained for: its training window ends there.")


class Paths(Strict):
    """Where this run's query results go: a prefix per run under ``dt=A/``, so a rerun writes beside the
    previous result and the Glue partition is repointed only once the new one is complete."""

    accuracy: str
    drift: str
    alert_inputs: str


class MonitorPlan(RunPlanBase):
    """What one run for A needs to know (A is ``partition_date``)."""

    monitors: str
    windows: Windows
    champion: Champion
    horizon_days: int
    current_days: int
    missing_forecast_partitions: list[date] = Field(description="Days A-h with no published predictions partition.")
    paths: Paths
    alerts: MonitoringAlerts


def windows(day: date, settings: MonitoringSettings, champion: Champion) -> Windows:
    current_start = day - timedelta(days=settings.drift.current_days - 1)
    trained_until = champion.partition_date or current_start - timedelta(days=1)
    reference_end = min(trained_until, current_start - timedelta(days=1))
    alerts = settings.alerts
    return Windows(
        actuals_day=day,
        first_origin=day - timedelta(days=settings.accuracy.horizon_days),
        last_origin=day - timedelta(days=1),
        current_start=current_start,
        reference_start=reference_end - timedelta(days=settings.drift.reference_days - 1),
        reference_end=reference_end,
        alert_start=day - timedelta(days=alerts.page_after_days - 1 + alerts.rolling_days - 1),
    )


def forecast_origins(day: date, horizon_days: int) -> list[date]:
    """The predictions partitions that hold a forecast for ``day``: A-1 (horizon 1) .. A-h."""
    return [day - timedelta(days=h) for h in range(1, horizon_days + 1)]


def run_segment(run_id: str) -> str:
    """``run=<run id>`` as an S3 path segment (the characters UNLOAD targets allow)."""
    return "run=" + re.sub(r"[^A-Za-z0-9_.-]+", "-", run_id).strip("-")


def build(*, settings: MonitoringSettings, env: EnvironmentConfig, day: date, run_id: str, run_type: str,
          champion: Champion, published: set[date]) -> MonitorPlan:
    """The plan of one run. ``published``: the predictions partitions found among the origins of A."""
    layout = S3Layout(env.bucket, env.prefix, settings.name)
    segment = run_segment(run_id) + "/"
    origins = forecast_origins(day, settings.accuracy.horizon_days)
    return MonitorPlan(
        pipeline=settings.name, monitors=settings.monitors, partition_date=day, run_id=run_id, run_type=run_type,
        env=env, windows=windows(day, settings, champion), champion=champion,
        horizon_days=settings.accuracy.horizon_days, current_days=settings.drift.current_days,
        missing_forecast_partitions=sorted(d for d in origins if d not in published),
        paths=Paths(accuracy=layout.partition("accuracy", day) + segment,
                    drift=layout.partition("drift", day) + segment,
                    alert_inputs=layout.partition("alert_inputs", day) + segment),
        alerts=settings.alerts,
    )
