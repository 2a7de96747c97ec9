"""
### forecast_monitoring

Closes the loop of `demand_forecast`: once a day's sales are in, how good were the forecasts made for that day,
have the inputs drifted from what the champion was trained on, and does on-call need to know.

**Which day a run processes.** The actuals day **A** of its logical date (UTC), once A is over and A's raw
sales partition exists (`wait_for_sales`, deferrable). Same timetable and backfill rules as `demand_forecast`:
`airflow backfill create --dag-id forecast_monitoring --from-date A1 --to-date A2 --max-active-runs 1`
processes exactly those days, in order (a day's alert reads the days before it).

**What it writes.** `demand_forecast.forecast_accuracy` (WAPE, MAE, bias overall, by horizon and by store, for
the forecasts made for A in partitions A-1..A-7; missing partitions are listed, not fatal) and
`demand_forecast.input_drift` (PSI of units, price and promotion, and the shares of active, new and vanished
series, against the end of the champion's training window): one Glue partition `dt=A` each, repointed on rerun.
Files: `s3://<bucket>/<prefix>/forecast_monitoring/{accuracy,drift,alert_inputs}/dt=A/run=<run id>/`.

**Alerts.** `judge`: a warning when the 7-day rolling WAPE at horizon 1 or a PSI is over its threshold, a page
when that has lasted `page_after_days` consecutive days (`include/config/forecast_monitoring.yaml`).
Failed tasks page as in `demand_forecast`. Where: the `demand_forecast_env` Variable (`monitors`).
"""

from __future__ import annotations

from airflow.sdk import DAG, Asset, CronDataIntervalTimetable

from batchml.config import INCLUDE_DIR
from batchml.dags import check_timeouts, default_args
from batchml.forecast_monitoring import requests
from batchml.forecast_monitoring.settings import MonitoringSettings
from batchml.forecast_monitoring.tasks import judge, prepare_run
from batchml.operators.athena import AthenaUnloadOperator
from batchml.operators.glue import GlueCatalogUpsertPartitionOperator, GluePartitionSensor

settings = MonitoringSettings.load("forecast_monitoring")
timeout = settings.timeout
ACCURACY = Asset(name="demand_forecast.forecast_accuracy")
DRIFT = Asset(name="demand_forecast.input_drift")

with DAG(
    dag_id="forecast_monitoring",
    # A timetable and a sensor, not an Asset schedule: the raw sales are loaded outside Airflow (no Asset event
    # is ever emitted for them), and runs keyed by a logical date are what `backfill create` processes day by
    # day. The sensor defers, so the wait for the data holds no worker slot.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    catchup=False,  # no start_date, as demand_forecast: prepare_run refuses days before the settings' start_date
    max_active_runs=settings.max_active_runs,
    default_args=default_args(settings),
    template_searchpath=[str(INCLUDE_DIR / "sql")],
    doc_md=__doc__,
    tags=settings.tags,
) as dag:
    run = prepare_run.override(execution_timeout=timeout("prepare_run"))()
    sales_ready = GluePartitionSensor(
        task_id="wait_for_sales", plan=run, request=requests.sales_partition, deferrable=True,
        poke_interval=settings.data.sales_poke_seconds, timeout=settings.data.sales_arrival_timeout_hours * 3600,
        execution_timeout=timeout("wait_for_sales"))
    accuracy = AthenaUnloadOperator(
        task_id="measure_accuracy", sql="forecast_monitoring/accuracy.sql", plan=run, request=requests.accuracy,
        deferrable=True, execution_timeout=timeout("measure_accuracy"))
    drift = AthenaUnloadOperator(
        task_id="measure_drift", sql="forecast_monitoring/drift.sql", plan=run, request=requests.drift,
        deferrable=True, execution_timeout=timeout("measure_drift"))
    accuracy_published = GlueCatalogUpsertPartitionOperator(
        task_id="publish_accuracy", plan=run, request=requests.accuracy_partition,
        request_kwargs={"accuracy": accuracy.output}, outlets=[ACCURACY],
        execution_timeout=timeout("publish_accuracy"))
    drift_published = GlueCatalogUpsertPartitionOperator(
        task_id="publish_drift", plan=run, request=requests.drift_partition,
        request_kwargs={"drift": drift.output}, outlets=[DRIFT], execution_timeout=timeout("publish_drift"))
    inputs = AthenaUnloadOperator(
        task_id="read_alert_inputs", sql="forecast_monitoring/alert_inputs.sql", plan=run,
        request=requests.alert_inputs, deferrable=True, execution_timeout=timeout("read_alert_inputs"))
    judge.override(execution_timeout=timeout("judge"))(run, inputs.output)

    run >> sales_ready >> [accuracy, drift]
    [accuracy_published, drift_published] >> inputs
    check_timeouts(dag, settings)

if __name__ == "__main__":
    dag.test()
