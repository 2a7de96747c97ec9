"""
### dashboard_refresh

Refreshes the QuickSight SPICE data sets that read the forecast pipeline's tables as soon as a table has a new
partition: no fixed schedule, no buffer hour. The run starts on a new event of any Asset a data set reads
(`demand_forecast.predictions`, published by demand_forecast's `publish_predictions`;
`demand_forecast.forecast_accuracy`, by forecast_monitoring).

**Which day a run processes.** The partitions its triggering Asset events carry (each in `extra["partition"]`),
not its logical date: an Asset-triggered run has no day of its own. Partitions before the settings' `start_date`
are skipped; a run started by hand (no event) refreshes every data set and records no partition.

**What a run does.** `plan_refresh` reads the triggering events; `refresh` then starts one SPICE ingestion per data set that reads one of those Assets (once, however many events),
and waits for it, deferred. The ingestion id names the data set, the newest partition and the run
(`demand-forecast-predictions-20261120-<run>-<try>`), and the task's XCom records the partitions and Assets.
A run started by hand refreshes every data set. Settings: `include/config/dashboard_refresh.yaml`; where it runs
and whom it pages: the `demand_forecast_env` Variable.

**Failures.** Each data set's refresh retries on its own (a retry attaches to the previous try's ingestion if that
one is still running or completed) and pages on-call once, after its last try, with QuickSight's error.
"""

from __future__ import annotations

from airflow.sdk import DAG, Asset, AssetAny

from batchml.dags import check_timeouts, default_args
from batchml.dashboard_refresh.settings import RefreshSettings
from batchml.dashboard_refresh.tasks import plan_refresh
from batchml.operators.quicksight import QuickSightRefreshOperator

settings = RefreshSettings.load("dashboard_refresh")
timeout = settings.timeout

with DAG(
    dag_id="dashboard_refresh",
    # Any new event of an Asset some data set reads: the run refreshes the data sets that read it.
    schedule=AssetAny(*(Asset(name=name) for name in settings.assets)),
    catchup=False,
    max_active_runs=settings.max_active_runs,
    default_args=default_args(settings),
    doc_md=__doc__,
    tags=settings.tags,
) as dag:
    planned = plan_refresh.override(execution_timeout=timeout("plan_refresh"))()
    QuickSightRefreshOperator.partial(
        task_id="refresh", deferrable=True, wait_for_completion=True,
        execution_timeout=timeout("refresh"),
    ).expand_kwargs(planned)
    check_timeouts(dag, settings)

if __name__ == "__main__":
    dag.test()
