"""Slack alerts for on-call: a page when a task has failed for good.

Why not the Slack provider's ``SlackNotifier`` / ``SlackWebhookNotifier`` alone: the message here is
built from the failure itself (the AWS reason behind the exception, try x of y, the run type, the log
link), the transport follows the connection's type (bot token or incoming webhook), 429s and connection
errors are retried with slack_sdk's handlers honouring Retry-After, and a Slack outage is logged
without ever raising into Airflow. Sending still goes through the provider's hooks (batchml.alerts).

This module is imported while DAGs are parsed, so it holds only the notifier; the rest loads when an
alert is actually sent.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from airflow.sdk import BaseNotifier

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)


class OnCallNotifier(BaseNotifier):
    """``on_failure_callback`` that pages on-call once, after a task's last try (Airflow does not
    call failure callbacks for tries that will be retried).

    :param pipeline: the pipeline whose `<pipeline>_env` Variable names the channel and on-call handle.
    :param slack_conn_id: Airflow connection holding the bot token or the webhook.
    """

    template_fields = ()

    def __init__(self, *, pipeline: str, slack_conn_id: str):
        super().__init__()
        self.pipeline = pipeline
        self.slack_conn_id = slack_conn_id

    def notify(self, context: Context) -> None:
        from batchml.alerts import Alert, SlackChannel, environment_value, failure_message

        try:
            alert = Alert.from_context(context, environment_value(self.pipeline, "oncall_handle") or "")
            text, blocks = failure_message(alert)
            SlackChannel(self.slack_conn_id, environment_value(self.pipeline, "slack_channel")).post(text, blocks)
            log.info("Paged on-call in Slack: %s", text[:200])
        except Exception as e:  # the task already failed; a Slack problem must not change that or hide it
            log.error("Slack alert failed (the task's own state is unchanged): %s: %s", type(e).__name__, e)
