"""What on-call reads in Slack, and how it gets there. Imported only when an alert is sent.

Messages are built from the failure itself (the AWS reason behind the exception, try x of y, the run
type, the log link) by pure functions; SlackChannel sends through the Slack provider's hooks.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)

MAX_REASON = 1500


@dataclass(frozen=True)
class Alert:
    """What an alert says, taken out of the Airflow context so it can be built and tested on its own."""

    dag_id: str
    task_id: str
    partition: str | None
    run_id: str
    run_type: str
    try_number: int
    max_tries: int
    error: str
    aws_reason: str | None
    log_url: str | None
    oncall_handle: str = ""

    @classmethod
    def from_context(cls, context: Context, oncall_handle: str = "") -> Alert:
        ti, dag_run = context["ti"], context.get("dag_run")
        exception = context.get("exception")
        logical_date = context.get("logical_date") or getattr(dag_run, "logical_date", None)
        return cls(
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            partition=logical_date.strftime("%Y-%m-%d") if logical_date else None,
            run_id=ti.run_id,
            run_type=str(getattr(getattr(dag_run, "run_type", None), "value", getattr(dag_run, "run_type", "unknown"))),
            try_number=int(ti.try_number or 0),
            max_tries=int(getattr(ti, "max_tries", 0) or 0),
            error=_one_line(f"{type(exception).__name__}: {exception}") if exception else "unknown error",
            aws_reason=aws_reason(exception),
            log_url=_safe(lambda: ti.log_url),
            oncall_handle=oncall_handle,
        )


def aws_reason(exception: BaseException | None) -> str | None:
    """The AWS service's own words: SageMaker FailureReason, Athena StateChangeReason, or a ClientError."""
    seen = 0
    while exception is not None and seen < 5:
        reason = getattr(exception, "aws_reason", None)
        if reason:
            return str(reason)[:MAX_REASON]
        response = getattr(exception, "response", None)
        if isinstance(response, dict) and "Error" in response:
            err = response["Error"]
            return f"{err.get('Code')}: {err.get('Message')}"[:MAX_REASON]
        exception = exception.__cause__ or exception.__context__
        seen += 1
    return None


def failure_message(alert: Alert) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, Block Kit blocks) for a task that failed after its last try."""
    where = f"{alert.dag_id}.{alert.task_id}"
    day = alert.partition or "no partition"
    text = f"{where} failed for {day} ({alert.run_type}, try {alert.try_number}/{alert.max_tries + 1})"
    if alert.aws_reason:
        text += f": {alert.aws_reason}"
    fields = [
        ("DAG", alert.dag_id), ("Task", alert.task_id), ("Partition", day), ("Run type", alert.run_type),
        ("Try", f"{alert.try_number}/{alert.max_tries + 1}"), ("Run", alert.run_id),
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f":rotating_light: {where} failed for {day}"[:150]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields]},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": f"*AWS reason*\n```{alert.aws_reason or 'none reported'}```"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Error*\n```{alert.error[:MAX_REASON]}```"}},
    ]
    context = []
    if alert.log_url:
        context.append(f"<{alert.log_url}|Task log>")
    if alert.oncall_handle:
        context.append(f"On call: {alert.oncall_handle}")
    if context:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]})
    return text, blocks


def warning_message(title: str, details: dict[str, Any], log_url: str | None = None) -> tuple[str, list[dict[str, Any]]]:
    """A heads-up that does not page: no on-call mention."""
    lines = "\n".join(f"*{k}*: {v}" for k, v in details.items())
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f":warning: {title}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": lines[:2900] or "-"}},
    ]
    if log_url:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{log_url}|Task log>"}]})
    return f"{title}: " + "; ".join(f"{k}: {v}" for k, v in details.items()), blocks


class SlackChannel:
    """Posts to Slack through the connection ``conn_id``: a ``slack`` connection (bot token,
    chat.postMessage, threads possible) or a ``slackwebhook`` one (incoming webhook)."""

    def __init__(self, conn_id: str, channel: str | None, *, max_retries: int = 3):
        self.conn_id, self.channel, self.max_retries = conn_id, channel, max_retries

    def _retry_handlers(self):
        from slack_sdk.http_retry.builtin_handlers import (
            ConnectionErrorRetryHandler,
            RateLimitErrorRetryHandler,
        )

        # RateLimitErrorRetryHandler sleeps for the Retry-After Slack sends with a 429.
        return [RateLimitErrorRetryHandler(max_retry_count=self.max_retries),
                ConnectionErrorRetryHandler(max_retry_count=self.max_retries)]

    def post(self, text: str, blocks: list[dict[str, Any]], thread_ts: str | None = None) -> str | None:
        """Send; return the message ts (bot token only). Raises on failure: callers decide."""
        from airflow.sdk import Connection

        conn_type = Connection.get(self.conn_id).conn_type
        if conn_type == "slackwebhook":
            from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

            response = SlackWebhookHook(slack_webhook_conn_id=self.conn_id,
                                        retry_handlers=self._retry_handlers()).send(text=text, blocks=blocks)
            if response.status_code != 200:
                raise RuntimeError(f"Slack webhook answered {response.status_code}: {response.body}")
            return None
        if conn_type != "slack":
            raise ValueError(f"connection {self.conn_id!r} is of type {conn_type!r}; expected slack or slackwebhook")
        from airflow.providers.slack.hooks.slack import SlackHook

        if not self.channel:
            raise ValueError("no Slack channel configured for a bot-token connection")
        client = SlackHook(slack_conn_id=self.conn_id, retry_handlers=self._retry_handlers()).client
        kwargs: dict[str, Any] = {"channel": self.channel, "text": text, "blocks": blocks}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        return client.chat_postMessage(**kwargs)["ts"]


def environment_value(pipeline: str, key: str) -> str | None:
    """One value of the `<pipeline>_env` Variable, read leniently: alerts must still go out when the
    rest of the configuration is what broke."""
    from airflow.sdk import Variable

    try:
        return json.loads(Variable.get(f"{pipeline}_env", default=None) or "{}").get(key)
    except Exception:
        return None


def send_warning(pipeline: str, slack_conn_id: str, title: str, details: dict[str, Any],
                 log_url: str | None = None) -> bool:
    """Post a non-paging warning; False (and a log line) if Slack could not be reached."""
    try:
        text, blocks = warning_message(title, details, log_url)
        SlackChannel(slack_conn_id, environment_value(pipeline, "slack_channel")).post(text, blocks)
        return True
    except Exception as e:
        log.error("Slack warning failed: %s: %s", type(e).__name__, e)
        return False


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _safe(fn):
    try:
        return fn()
    except Exception:
        return None
