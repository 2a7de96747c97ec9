"""
### demand_forecast

Daily demand forecast per store and item: Athena extract, data-quality gate, SageMaker preprocess,
train and evaluate, a model gate, registration, Batch Transform, and a Glue partition that dashboards
query as `demand_forecast.predictions`.

**Which day a run processes.** A run processes exactly one partition, the day **D** of its logical
date (UTC), and only once D is over. The timetable is `CronDataIntervalTimetable("0 0 * * *", UTC)`:

| how the run starts | logical date | D |
| --- | --- | --- |
| scheduled, at 2026-11-21 00:00 UTC | 2026-11-20 00:00 | 2026-11-20 |
| manual: `airflow dags test demand_forecast 2026-11-20`, or the UI with logical date 2026-11-20 | 2026-11-20 | 2026-11-20 |
| backfill `--from-date 2026-11-01 --to-date 2026-11-03` | 11-01, 11-02, 11-03 00:00 | each of those days |

A manual run for today (the UI's default logical date) stops at `prepare_run`: today is not complete.
So does a run for a day before `start_date` in the settings, saying how to backfill it.

**Where things go.** `s3://<bucket>/<prefix>/demand_forecast/{extract,features,models,evaluation,predictions}/dt=D/`,
SageMaker jobs `demand-forecast-<step>-<yyyymmdd>-<n>`, model versions described `partition=D`.
Configuration: `include/config/demand_forecast.yaml` (what) and the `demand_forecast_env` Variable (where).
"""

from __future__ import annotations

from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, Param

from batchml.config import INCLUDE_DIR, PipelineSettings
from batchml.dags import check_timeouts, default_args, job_wait, publish_deadline, recovery_callback
from batchml.demand_forecast import requests
from batchml.demand_forecast.contract import min_history_days
from batchml.demand_forecast.tasks import check_data_quality, find_champion, gate, keep_champion, prepare_run
from batchml.operators.athena import AthenaUnloadOperator
from batchml.operators.glue import GlueCatalogUpsertPartitionOperator, GluePartitionSensor
from batchml.operators.sagemaker import (
    SageMakerProcessingJobOperator,
    SageMakerRegisterModelPackageOperator,
    SageMakerTrainingJobOperator,
    SageMakerTransformJobOperator,
)

settings = PipelineSettings.load("demand_forecast")
timeout, pool = settings.timeout, settings.sagemaker_pool
PREDICTIONS = Asset(name="demand_forecast.predictions")

with DAG(
    dag_id="demand_forecast",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    # No start_date: runs before the settings' start_date then reach prepare_run, which refuses them and
    # pages (with one, Airflow would create them with no task at all, and they would "succeed").
    catchup=False,
    max_active_runs=settings.max_active_runs,
    default_args=default_args(settings),
    deadline=publish_deadline(settings),
    params={
        "history_days": Param(settings.data.history_days, type="integer", minimum=min_history_days(settings),
                              maximum=1095, description="Days of sales history to extract, ending at the partition "
                              "day; at least the training origins + holdout + lags of the settings need."),
        # Optional: null, so the UI's trigger and backfill forms do not demand one.
        "note": Param(None, type=["null", "string"], maxLength=200, description="Why this run was started (optional)."),
    },
    template_searchpath=[str(INCLUDE_DIR / "sql")],
    doc_md=__doc__,
    tags=settings.tags,
) as dag:
    run = prepare_run.override(execution_timeout=timeout("prepare_run"))()
    sales_ready = GluePartitionSensor(
        task_id="wait_for_sales", plan=run, request=requests.sales_partition, deferrable=True,
        poke_interval=settings.data.sales_poke_seconds, timeout=settings.data.sales_arrival_timeout_hours * 3600,
        execution_timeout=timeout("wait_for_sales"))
    history = AthenaUnloadOperator(
        task_id="extract_training", sql="demand_forecast/extract_training.sql", plan=run,
        request=requests.extract_training, deferrable=True, execution_timeout=timeout("extract_training"))
    scoring = AthenaUnloadOperator(
        task_id="extract_scoring", sql="demand_forecast/extract_scoring.sql", plan=run,
        request=requests.extract_scoring, deferrable=True, execution_timeout=timeout("extract_scoring"))
    profile = AthenaUnloadOperator(
        task_id="profile_extracts", sql="demand_forecast/profile_extracts.sql", plan=run,
        request=requests.profile_extracts, deferrable=True, execution_timeout=timeout("profile_extracts"))
    quality = check_data_quality.override(execution_timeout=timeout("check_data_quality"))(run, profile.output)
    features = SageMakerProcessingJobOperator(
        task_id="preprocess", step="preprocess", plan=run, request=requests.preprocessing,
        deferrable=True, pool=pool, max_wait=job_wait(settings), execution_timeout=timeout("preprocess"))
    model = SageMakerTrainingJobOperator(
        task_id="train", step="train", plan=run, request=requests.training,
        request_kwargs={"features": features.output},
        deferrable=True, pool=pool, max_wait=job_wait(settings), execution_timeout=timeout("train"))
    champion = find_champion.override(poke_interval=settings.model.champion_poke_seconds,
                                      execution_timeout=timeout("find_champion"))(run)
    evaluation = SageMakerProcessingJobOperator(
        task_id="evaluate", step="evaluate", plan=run, request=requests.evaluation,
        request_kwargs={"features": features.output, "model": model.output, "champion": champion},
        deferrable=True, pool=pool, max_wait=job_wait(settings), execution_timeout=timeout("evaluate"))
    decision = gate.override(execution_timeout=timeout("gate"))(run, evaluation.output)
    registered = SageMakerRegisterModelPackageOperator(
        task_id="register_model", plan=run, request=requests.model_package,
        request_kwargs={"model": model.output, "evaluation": evaluation.output, "decision": decision["decision"]},
        execution_timeout=timeout("register_model"))
    kept = keep_champion.override(execution_timeout=timeout("keep_champion"))(run, decision["decision"])
    predictions = SageMakerTransformJobOperator(
        task_id="batch_predict", step="predict", plan=run, request=requests.batch_prediction,
        request_kwargs={"features": features.output, "registered": registered.output,
                        "decision": decision["decision"]},
        trigger_rule="none_failed_min_one_success",
        deferrable=True, pool=pool, max_wait=job_wait(settings), execution_timeout=timeout("batch_predict"))
    published = GlueCatalogUpsertPartitionOperator(
        task_id="publish_predictions", plan=run, request=requests.published_partition,
        request_kwargs={"predictions": predictions.output}, outlets=[PREDICTIONS],
        on_success_callback=recovery_callback(settings), execution_timeout=timeout("publish_predictions"))

    run >> sales_ready >> [history, scoring, profile] >> quality >> features
    model >> champion  # chosen after training, when earlier days in flight have had time to decide theirs
    decision >> [registered, kept] >> predictions >> published
    check_timeouts(dag, settings)

if __name__ == "__main__":
    dag.test()
