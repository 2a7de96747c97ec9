"""Small helpers that keep DAG files to the chain of steps: task defaults and callbacks from the pipeline
settings, and the check that the settings' per-task timeouts reached the tasks they name."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from batchml.config import ConfigError, PipelineBase, PipelineSettings, unknown_task_ids
from batchml.notifiers import OnCallNotifier, RecoveryNotifier


def default_args(settings: PipelineBase) -> dict[str, Any]:
    """Every task: an owner, retries with exponential backoff capped by max_retry_delay, the default
    timeout, and a page to on-call when the last try fails."""
    return {
        "owner": settings.owner,
        **settings.retry_args(),
        "execution_timeout": settings.timeout("default"),
        "on_failure_callback": OnCallNotifier(pipeline=settings.environment_pipeline, slack_conn_id=settings.alerts.slack_conn_id),
    }


def recovery_callback(settings: PipelineBase) -> RecoveryNotifier:
    """For the task that publishes a partition: a 'recovered' reply if that partition had failed."""
    return RecoveryNotifier(pipeline=settings.environment_pipeline, slack_conn_id=settings.alerts.slack_conn_id)


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
        interval=timedelta(days=1, hours=settings.alerts.publish_deadline_hours),
        callback=AsyncCallback("batchml.deadlines.partition_not_published",
                               kwargs={"pipeline": settings.name, "slack_conn_id": settings.alerts.slack_conn_id}),
    )


def job_wait(settings: PipelineSettings) -> timedelta:
    """How long a SageMaker task waits for its job before stopping it: the job's own limit and a margin."""
    return timedelta(minutes=settings.model.max_runtime_minutes + 30)


def check_timeouts(dag, settings: PipelineBase) -> None:
    """Each task takes its timeout where the DAG file defines it (``execution_timeout=settings.timeout(id)``).
    A key of ``timeouts_minutes`` that names no task, or a task that does not take the timeout named for it,
    is an import error naming it: the settings would otherwise be silently ignored."""
    unknown_task_ids(settings, set(dag.task_ids))
    ignored = [t.task_id for t in dag.tasks if t.execution_timeout != settings.timeout(t.task_id)]
    if ignored:
        raise ConfigError(f"{settings.source}: timeouts_minutes names {', '.join(sorted(ignored))} but the DAG file "
                          "does not pass execution_timeout=settings.timeout(<task id>) to them")
