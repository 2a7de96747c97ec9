"""The forecast_monitoring queries and partitions, as requests built from the run plan (see plan.py) and
upstream results: pure functions, as for demand_forecast."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from batchml import job_requests

if TYPE_CHECKING:
    from batchml.forecast_monitoring.plan import MonitorPlan

    PlanLike = MonitorPlan | dict[str, Any]

ACCURACY_TABLE, DRIFT_TABLE = "forecast_accuracy", "input_drift"


def _of(run: PlanLike) -> MonitorPlan:
    from batchml.forecast_monitoring.plan import MonitorPlan

    return MonitorPlan.of(run)


def _query(plan: MonitorPlan, output_prefix: str, parameters: dict[str, Any], *, raw: bool = True
           ) -> job_requests.UnloadQuery:
    """Queries run in the forecast database; a query that reads the raw sales names their database through
    ``:raw_database`` (``raw``)."""
    from batchml.sql import Identifier

    env = plan.env
    if raw:
        parameters = {"raw_database": Identifier(env.raw_database), **parameters}
    return job_requests.UnloadQuery(database=env.forecast_database, workgroup=env.athena_workgroup,
                                    output_prefix=output_prefix, parameters=parameters)


def sales_partition(run: PlanLike) -> job_requests.PartitionWait:
    """A's raw sales partition, which the run waits for (A is a date: the expression holds no outside text)."""
    plan = _of(run)
    return job_requests.PartitionWait(database=plan.env.raw_database, table="sales", expression=f"dt='{plan.day}'")


def accuracy(run: PlanLike) -> job_requests.UnloadQuery:
    """``accuracy.sql``: every forecast made for A joined with A's sales; WAPE, MAE and bias by scope."""
    plan = _of(run)
    w = plan.windows
    missing = ",".join(d.isoformat() for d in plan.missing_forecast_partitions)
    return _query(plan, plan.paths.accuracy, {
        "first_origin": w.first_origin, "last_origin": w.last_origin, "actuals_day": w.actuals_day,
        "missing_forecast_partitions": missing})


def drift(run: PlanLike) -> job_requests.UnloadQuery:
    """``drift.sql``: PSI of each input and the series shares, latest days against the reference window."""
    plan = _of(run)
    w = plan.windows
    version = plan.champion.version
    return _query(plan, plan.paths.drift, {
        "reference_start": w.reference_start, "reference_end": w.reference_end,
        "current_start": w.current_start, "actuals_day": w.actuals_day, "current_days": plan.current_days,
        "champion_version": "" if version is None else str(version)})


def alert_inputs(run: PlanLike) -> job_requests.UnloadQuery:
    """``alert_inputs.sql``: horizon-1 errors and PSIs of the days the alert policy looks at."""
    plan = _of(run)
    return _query(plan, plan.paths.alert_inputs, {
        "alert_start": plan.windows.alert_start, "actuals_day": plan.windows.actuals_day}, raw=False)


def _partition(plan: MonitorPlan, table: str, result: dict[str, Any]) -> job_requests.CatalogPartition:
    return job_requests.CatalogPartition(database=plan.env.forecast_database, table=table, values=[plan.day],
                                         location=result["output_prefix"])


def accuracy_partition(run: PlanLike, *, accuracy: dict[str, Any]) -> job_requests.CatalogPartition:
    """Partition ``dt=A`` of ``forecast_accuracy``, pointing at this run's accuracy rows."""
    return _partition(_of(run), ACCURACY_TABLE, accuracy)


def drift_partition(run: PlanLike, *, drift: dict[str, Any]) -> job_requests.CatalogPartition:
    """Partition ``dt=A`` of ``input_drift``, pointing at this run's drift rows."""
    return _partition(_of(run), DRIFT_TABLE, drift)
