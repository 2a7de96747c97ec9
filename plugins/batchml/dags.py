"""Small helpers that keep DAG files to the chain of steps: task defaults from the pipeline settings,
and templates that read the run plan (the first task's XCom) at run time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from batchml.config import PipelineSettings
from batchml.notifiers import OnCallNotifier, RecoveryNotifier

PLAN_TASK = "prepare_run"


def plan(*keys: str) -> str:
    """A template for a value of the run plan, e.g. ``plan("env", "raw_database")``."""
    path = "".join(f"[{k!r}]" for k in keys)
    return "{{ ti.xcom_pull(task_ids='" + PLAN_TASK + "')" + path + " }}"


def default_args(settings: PipelineSettings) -> dict[str, Any]:
    """Every task: an owner, retries with exponential backoff capped by max_retry_delay, a timeout,
    and a page to on-call when the last try fails."""
    return {
        "owner": settings["owner"],
        **settings.retry_args(),
        "execution_timeout": settings.timeout("default"),
        "on_failure_callback": OnCallNotifier(pipeline=settings.name,
                                              slack_conn_id=settings["alerts"]["slack_conn_id"]),
    }


def recovery_callback(settings: PipelineSettings) -> RecoveryNotifier:
    """For the task that publishes a partition: a 'recovered' reply if that partition had failed."""
    return RecoveryNotifier(pipeline=settings.name, slack_conn_id=settings["alerts"]["slack_conn_id"])


def publish_deadline(settings: PipelineSettings):
    """Page if a scheduled run has not finished ``publish_deadline_hours`` after its day ended
    (an Airflow 3 Deadline Alert; the callback runs in the triggerer).

    BATCHML_DEADLINE_ALERTS=off leaves it out: Airflow 3.3.2's `airflow dags test` crashes when a run of a
    DAG with a deadline succeeds (DagRun.update_state passes the SDK's alert objects to
    DeadlineAlertModel.get_by_id, which expects the stored alerts' ids). The scheduler is not affected."""
    import os

    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

    if os.environ.get("BATCHML_DEADLINE_ALERTS", "on").lower() in ("off", "0", "false"):
        return None

    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=timedelta(days=1, hours=settings["alerts"]["publish_deadline_hours"]),
        callback=AsyncCallback("batchml.deadlines.partition_not_published",
                               kwargs={"pipeline": settings.name, "slack_conn_id": settings["alerts"]["slack_conn_id"]}),
    )


def aws_args() -> dict[str, Any]:
    """Connection and region of the environment, for any AWS operator or sensor."""
    return {"aws_conn_id": plan("env", "aws_conn_id"), "region_name": plan("region")}


def job_args(settings: PipelineSettings, *, sagemaker: bool = False) -> dict[str, Any]:
    """AWS job operators: deferrable waits polled at the environment's interval; SageMaker jobs also
    take a slot of the pool sized to the account's quota."""
    args: dict[str, Any] = {**aws_args(), "poll_interval": plan("poll_interval_seconds"), "deferrable": True}
    if sagemaker:
        args["pool"] = settings["sagemaker_pool"]
        args["max_wait"] = timedelta(minutes=settings["model"]["max_runtime_minutes"] + 30)
    return args


def apply_timeouts(dag, settings: PipelineSettings) -> None:
    """execution_timeout per task from the settings (time spent deferred is bounded by max_wait). A key of
    ``timeouts_minutes`` that is not a task id of ``dag`` is an import error naming it."""
    from batchml.config import unknown_task_ids

    unknown_task_ids(settings, set(dag.task_ids))
    for task in dag.tasks:
        task.execution_timeout = settings.timeout(task.task_id)
