"""What on-call reads: Block Kit messages built by pure functions from an ``Alert`` (no Slack, no Airflow calls),
and the Slack message metadata that lets the paging policy find them again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from batchml import naming

if TYPE_CHECKING:
    from airflow.sdk import Context

MAX_REASON = 1500
EVENT_TYPE = "batchml_alert"


@dataclass(frozen=True)
class Alert:
    """A task that failed for good, taken out of the Airflow context so it can be built and tested alone."""

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
    retries: int | None = None
    notice: str = ""

    @classmethod
    def from_context(cls, context: Context, oncall_handle: str = "", notice: str = "") -> Alert:
        ti, dag_run = context["ti"], context.get("dag_run")
        exception = context.get("exception")
        task = context.get("task") or getattr(ti, "task", None)
        return cls(
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            partition=partition_of(context),
            run_id=ti.run_id,
            run_type=naming.run_type_of(dag_run),
            try_number=int(ti.try_number or 0),
            max_tries=int(getattr(ti, "max_tries", 0) or 0),
            error=_one_line(f"{type(exception).__name__}: {exception}") if exception else "unknown error",
            aws_reason=aws_reason(exception),
            log_url=_safe(lambda: ti.log_url),
            oncall_handle=oncall_handle,
            retries=getattr(task, "retries", None),
            notice=notice,
        )

    @property
    def tries(self) -> str:
        """"4/4": tries since the task was last cleared, out of retries + 1. Airflow numbers tries across
        clears (a reprocessed day's task may be on its 6th), which says nothing about retries left."""
        from batchml.attempts import first_try

        if self.retries is None:
            return f"{self.try_number}/{self.max_tries + 1}"
        first = first_try(self.max_tries, self.retries)
        shown = f"{self.try_number - first + 1}/{self.retries + 1}"
        return shown if first == 1 else f"{shown}, try {self.try_number} overall"

    @property
    def group(self) -> str:
        return f"{self.dag_id}/backfill" if self.run_type == "backfill" else f"{self.dag_id}/run/{self.run_id}"


def partition_of(context: Context) -> str | None:
    """D of the failed task's run, as YYYY-MM-DD (``batchml.naming``)."""
    day = naming.partition_of(context.get("logical_date") or getattr(context.get("dag_run"), "logical_date", None))
    return naming.partition_value(day) if day else None


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


def failure_message(alert: Alert, *, mention: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, Block Kit blocks) for a task that failed after its last try."""
    where = f"{alert.dag_id}.{alert.task_id}"
    day = alert.partition or "no partition"
    tries = alert.tries
    text = f"{where} failed for {day} ({alert.run_type}, try {tries})"
    if alert.aws_reason:
        text += f": {alert.aws_reason}"
    elif alert.error != "unknown error":
        text += f": {alert.error[:300]}"
    fields = [("DAG", alert.dag_id), ("Task", alert.task_id), ("Partition", day), ("Run type", alert.run_type),
              ("Try", tries), ("Run", alert.run_id)]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f":rotating_light: {where} failed for {day}"[:150]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields]},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": f"*AWS reason*\n```{alert.aws_reason or 'none reported'}```"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Error*\n```{alert.error[:MAX_REASON]}```"}},
    ]
    if alert.notice:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Configuration problem*\n{alert.notice}"}})
    footer = [f"<{alert.log_url}|Task log>"] if alert.log_url else []
    if mention and alert.oncall_handle:
        footer.append(f"On call: {alert.oncall_handle}")
    if footer:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(footer)}]})
    return text, blocks


def backfill_header(alert: Alert) -> tuple[str, list[dict[str, Any]]]:
    text = f"Partitions of {alert.dag_id} are failing in a backfill; each one is a reply in this thread."
    mention = f" {alert.oncall_handle}" if alert.oncall_handle else ""
    return text, [
        {"type": "header", "text": {"type": "plain_text", "text": f":rotating_light: {alert.dag_id}: backfill failures"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": text + mention}},
    ]


def recovered_message(dag_id: str, partition: str, run_id: str, log_url: str | None) -> tuple[str, list[dict[str, Any]]]:
    text = f":white_check_mark: {dag_id} {partition} recovered: the partition is published (run {run_id})."
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if log_url:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{log_url}|Task log>"}]})
    return text, blocks


def deadline_message(dag_id: str, partition: str, run_id: str, deadline: str, state: str,
                     oncall_handle: str) -> tuple[str, list[dict[str, Any]]]:
    text = (f"{dag_id} {partition} is not published: the deadline {deadline} passed while the run was {state}"
            f" ({run_id}).")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f":alarm_clock: {dag_id}: {partition} is late"}},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": text + (f" {oncall_handle}" if oncall_handle else "")}},
    ]
    return text, blocks


def warning_message(title: str, details: dict[str, Any], log_url: str | None = None, *,
                    page_for: str | None = None) -> tuple[str, list[dict[str, Any]]]:
    """A heads-up that does not page: no on-call mention. With ``page_for`` (the on-call handle), the same
    message as a page: a page's icon and the mention (a metric breach that lasted, not a failed task)."""
    lines = "\n".join(f"*{k}*: {v}" for k, v in details.items())
    icon = ":rotating_light:" if page_for is not None else ":warning:"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{icon} {title}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": lines[:2900] or "-"}},
    ]
    footer = [f"<{log_url}|Task log>"] if log_url else []
    if page_for:
        footer.append(f"On call: {page_for}")
    if footer:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(footer)}]})
    return f"{title}: " + "; ".join(f"{k}: {v}" for k, v in details.items()), blocks


def metadata(kind: str, group: str, dag_id: str, partition: str | None, **extra: str) -> dict[str, Any]:
    payload = {"kind": kind, "group": group, "dag_id": dag_id, "partition": partition or "", **extra}
    return {"event_type": EVENT_TYPE, "event_payload": payload}


def _payload(message: dict[str, Any]) -> dict[str, Any]:
    meta = message.get("metadata") or {}
    return meta.get("event_payload") or {} if meta.get("event_type") == EVENT_TYPE else {}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _safe(fn):
    try:
        return fn()
    except Exception:
        return None
