"""Slack notifiers for on-call, attached to tasks as callbacks.

Why not the Slack provider's ``SlackNotifier`` / ``SlackWebhookNotifier`` alone: the message here is
built from the failure itself (the AWS reason behind the exception, try x of y, the run type, the log
link); failures are grouped into threads per run or per backfill and followed by a "recovered" reply
(see batchml.alerts); the transport follows the connection's type (bot token or incoming webhook); 429s
and connection errors are retried with slack_sdk's handlers honouring Retry-After; and a Slack outage is
logged without ever raising into Airflow. Sending still goes through the provider's hooks.

This module is imported while DAGs are parsed, so it holds only the notifiers; the rest loads when an
alert is actually sent.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from airflow.sdk import BaseNotifier

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)


class _PipelineSlackNotifier(BaseNotifier):
    """:param pipeline: the pipeline whose `<pipeline>_env` Variable names the channel and on-call handle.
    :param slack_conn_id: Airflow connection holding the bot token or the webhook."""

    template_fields = ()

    def __init__(self, *, pipeline: str, slack_conn_id: str):
        super().__init__()
        self.pipeline = pipeline
        self.slack_conn_id = slack_conn_id


class OnCallNotifier(_PipelineSlackNotifier):
    """``on_failure_callback`` that pages on-call once, after a task's last try (Airflow does not
    call failure callbacks for tries that will be retried)."""

    def notify(self, context: Context) -> None:
        from batchml.alerts import Alert, SlackChannel, page_failure, route

        try:
            where = route(self.pipeline, self.slack_conn_id)
            if where.problem:
                log.error("Alert routing: %s; fallback channel: %s", where.problem, where.channel or "none")
            alert = Alert.from_context(_with_aws_failure(context), where.oncall_handle, notice=where.notice)
            channel = SlackChannel(self.slack_conn_id, where.channel)
            outcome = page_failure(channel, alert)
            log.info("Slack alert for %s.%s %s: %s", alert.dag_id, alert.task_id, alert.partition, outcome)
        except Exception as e:  # the task already failed; a Slack problem must not change that or hide it
            log.error("Slack alert failed (the task's own state is unchanged): %s: %s", type(e).__name__, e)


# How long the scheduler's copy may spend looking up the AWS reason: it runs in the dag-processor, which kills a
# file's processing (parsing, callbacks, the page itself) after [dag_processor] dag_file_processor_timeout (50 s).
LOOKUP_SECONDS = 15


def _with_aws_failure(context: Context) -> Context:
    """The context, with the exception the try's AWS work ended with when Airflow passed none: the scheduler's
    copy of a failure (a lost worker, apache/airflow#72716) carries no exception, and the page would say "none
    reported" although SageMaker, Athena or QuickSight recorded why (the operators' ``failure_of_try``). The task
    is rendered first, on a copy (a mapped task: unmapped for this map index, by Airflow's own rendering), as
    the dag-processor hands over the parsed task. Bounded by ``LOOKUP_SECONDS``: an unreachable AWS endpoint must
    delay the page, not lose it."""
    import threading

    from airflow.sdk.definitions.mappedoperator import MappedOperator

    task = context.get("task")
    kind = task.operator_class if isinstance(task, MappedOperator) else type(task)
    if context.get("exception") is not None or not hasattr(kind, "failure_of_try"):
        return context
    found: list = []

    def look_up() -> None:
        import copy

        try:
            rendered = dict(context)
            if isinstance(task, MappedOperator):  # leaves the mapped task as it is; the unmapped one goes in the context
                task.render_template_fields(rendered)  # type: ignore[arg-type]
            else:
                rendered["task"] = copy.copy(task)
                rendered["task"].render_template_fields(rendered)  # type: ignore[arg-type]
            found.append(rendered["task"].failure_of_try(rendered))
        except Exception as e:  # the page goes out regardless, without the reason
            log.warning("Could not look up what ended the try's AWS work: %s: %s", type(e).__name__, e)

    worker = threading.Thread(target=look_up, name="aws-failure-lookup", daemon=True)
    worker.start()
    worker.join(LOOKUP_SECONDS)
    if worker.is_alive():
        log.warning("Gave up looking up what ended the try's AWS work after %s s; paging without it.", LOOKUP_SECONDS)
        return context
    return {**context, "exception": found[0]} if found and found[0] is not None else context  # type: ignore[return-value]


class RecoveryNotifier(_PipelineSlackNotifier):
    """``on_success_callback`` of the task that publishes a partition: if that partition had failed,
    say in the failure's thread that it has recovered. Does nothing otherwise."""

    def notify(self, context: Context) -> None:
        from batchml.alerts import SlackChannel, partition_of, post_recovered, route

        try:
            ti = context["ti"]
            partition = partition_of(context)
            channel = SlackChannel(self.slack_conn_id, route(self.pipeline, self.slack_conn_id).channel)
            outcome = post_recovered(channel, ti.dag_id, partition, ti.run_id, getattr(ti, "log_url", None))
            log.info("Recovery check for %s %s: %s", ti.dag_id, partition, outcome)
        except Exception as e:
            log.error("Slack recovery message failed: %s: %s", type(e).__name__, e)
