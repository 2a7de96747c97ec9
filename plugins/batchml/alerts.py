"""What on-call reads in Slack, and how it gets there. Imported only when an alert is sent.

Rules, so that people keep alerts enabled:

- **One page per failed task after its last try**; retries are silent (Airflow calls failure callbacks
  only after the last try).
- **Grouped.** Failures of one DAG run share a thread: the first is the page, later ones reply to it.
  Backfill runs of a DAG that fail within ``BACKFILL_WINDOW`` share one thread whose parent is the page
  ("partitions of demand_forecast are failing in a backfill"); each failed partition is a reply. (A task
  does not know which backfill its run belongs to, so a time window stands for it.) Thirty failing days
  are one page and thirty replies.
- **Recovered.** When a day that failed later publishes, a reply says so in the failure's thread.
- **Not pages.** Warnings (a rejected model, the champion kept) never mention on-call.

With a bot token (``slack`` connection) Slack itself holds the state: every message carries Slack message
metadata (group, kind, DAG, partition), found again through ``conversations.history``/``replies``. Two
failures racing to open the same thread both post, then the later parent deletes itself and re-posts as
a reply. An incoming webhook (``slackwebhook`` connection) cannot thread or read history: the first
failure of a group pages, later ones in the same group are counted in an Airflow Variable and not
posted, and "recovered" is a plain message.

Messages are built by pure functions from an ``Alert``; sending goes through the Slack provider's hooks
with slack_sdk's retry handlers (429 with Retry-After, connection errors).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from batchml import naming

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)

MAX_REASON = 1500
EVENT_TYPE = "batchml_alert"
BACKFILL_WINDOW = timedelta(hours=12)
SEARCH_WINDOW = timedelta(days=3)
WEBHOOK_STATE_VARIABLE = "batchml_alert_state"


# --- what an alert says ----------------------------------------------------------------------------
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


def metadata(kind: str, group: str, dag_id: str, partition: str | None, **extra: str) -> dict[str, Any]:
    payload = {"kind": kind, "group": group, "dag_id": dag_id, "partition": partition or "", **extra}
    return {"event_type": EVENT_TYPE, "event_payload": payload}


# --- transport ----------------------------------------------------------------------------------------
class SlackChannel:
    """Posts through the connection ``conn_id``: a ``slack`` connection (bot token: chat.postMessage,
    threads, history) or a ``slackwebhook`` one (incoming webhook: posting only)."""

    def __init__(self, conn_id: str, channel: str | None, *, max_retries: int = 3):
        from airflow.sdk import Connection

        self.conn_id, self.channel, self.max_retries = conn_id, channel, max_retries
        self.conn_type = Connection.get(conn_id).conn_type
        if self.conn_type not in ("slack", "slackwebhook"):
            raise ValueError(f"connection {conn_id!r} is of type {self.conn_type!r}; expected slack or slackwebhook")
        if self.conn_type == "slack" and not channel:
            raise ValueError("no Slack channel configured for a bot-token connection")
        self._client = None
        self._channel_id: str | None = None

    @property
    def threads(self) -> bool:
        return self.conn_type == "slack"

    def _retry_handlers(self):
        from slack_sdk.http_retry.builtin_handlers import (
            ConnectionErrorRetryHandler,
            RateLimitErrorRetryHandler,
        )

        # RateLimitErrorRetryHandler waits for the Retry-After Slack sends with a 429.
        return [RateLimitErrorRetryHandler(max_retry_count=self.max_retries),
                ConnectionErrorRetryHandler(max_retry_count=self.max_retries)]

    @property
    def client(self):
        if self._client is None:
            from airflow.providers.slack.hooks.slack import SlackHook

            self._client = SlackHook(slack_conn_id=self.conn_id, retry_handlers=self._retry_handlers()).client
        return self._client

    def post(self, text: str, blocks: list[dict[str, Any]], *, thread_ts: str | None = None,
             meta: dict[str, Any] | None = None) -> str | None:
        """Send; return the message ts (bot token only). Raises on failure: callers decide."""
        if not self.threads:
            from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

            response = SlackWebhookHook(slack_webhook_conn_id=self.conn_id,
                                        retry_handlers=self._retry_handlers()).send(text=text, blocks=blocks)
            if response.status_code != 200:
                raise RuntimeError(f"Slack webhook answered {response.status_code}: {response.body}")
            return None
        kwargs: dict[str, Any] = {"channel": self.channel_id() or self.channel, "text": text, "blocks": blocks}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if meta:
            kwargs["metadata"] = meta
        response = self.client.chat_postMessage(**kwargs)
        self._channel_id = response["channel"]
        return response["ts"]

    def channel_id(self) -> str | None:
        """The channel's id (history needs it); None if Slack does not know the channel yet."""
        if self._channel_id is None and self.channel:
            if not self.channel.startswith("#"):
                self._channel_id = self.channel
            else:
                from airflow.providers.slack.hooks.slack import SlackHook

                hook = SlackHook(slack_conn_id=self.conn_id, retry_handlers=self._retry_handlers())
                try:
                    self._channel_id = hook.get_channel_id(self.channel[1:])
                except LookupError:
                    return None
        return self._channel_id

    def history(self, since: datetime) -> list[dict[str, Any]]:
        """Top-level messages posted since ``since``, newest first, with their metadata."""
        return self._collect("conversations_history", oldest=f"{since.timestamp():.6f}")

    def replies(self, ts: str) -> list[dict[str, Any]]:
        return self._collect("conversations_replies", ts=ts)

    def _collect(self, method: str, **kwargs: Any) -> list[dict[str, Any]]:
        channel = self.channel_id()
        if channel is None:
            return []
        messages, cursor = [], None
        for _ in range(10):  # at most 10 pages of 200: the search windows are short
            page = getattr(self.client, method)(channel=channel, include_all_metadata=True, limit=200,
                                                **({"cursor": cursor} if cursor else {}), **kwargs)
            messages.extend(page.get("messages", []))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return messages

    def delete(self, ts: str) -> None:
        self.client.chat_delete(channel=self.channel_id(), ts=ts)

    def update(self, ts: str, text: str, blocks: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> None:
        kwargs: dict[str, Any] = {"channel": self.channel_id(), "ts": ts, "text": text, "blocks": blocks}
        if meta:
            kwargs["metadata"] = meta
        self.client.chat_update(**kwargs)


def _payload(message: dict[str, Any]) -> dict[str, Any]:
    meta = message.get("metadata") or {}
    return meta.get("event_payload") or {} if meta.get("event_type") == EVENT_TYPE else {}


# --- threads (bot token) -------------------------------------------------------------------------------
class Threads:
    """Finds and opens alert threads, using the messages' Slack metadata as the only state."""

    def __init__(self, channel: SlackChannel, now: datetime | None = None):
        self.channel = channel
        self.now = now or datetime.now(UTC)

    def parent(self, group: str, window: timedelta) -> str | None:
        """ts of the thread for ``group`` opened within ``window``; the earliest if several raced."""
        found = [m["ts"] for m in self.channel.history(self.now - window) if _payload(m).get("group") == group
                 and not m.get("thread_ts")]
        return min(found, key=float) if found else None

    def open(self, group: str, window: timedelta, text: str, blocks: list[dict[str, Any]],
             meta: dict[str, Any]) -> tuple[str, bool]:
        """Post a thread parent; if another one for the group won a race, delete ours and return the
        winner's ts with False (the caller then posts its content as a reply)."""
        ts = self.channel.post(text, blocks, meta=meta)
        winner = self.parent(group, window) or ts
        if winner != ts:
            log.info("Another alert opened the %s thread first; moving ours into it.", group)
            self.channel.delete(ts)
            return winner, False
        return ts, True

    def open_failures(self, dag_id: str, partition: str) -> list[str]:
        """Threads holding a failure of this partition that no later 'recovered' reply answers."""
        threads = []
        for top in self.channel.history(self.now - SEARCH_WINDOW):
            payload = _payload(top)
            if payload.get("dag_id") != dag_id or top.get("thread_ts"):
                continue
            if payload.get("kind") == "failure" and payload.get("partition") != partition:
                continue  # a run thread of another day
            events = [(_payload(m), float(m["ts"])) for m in self.channel.replies(top["ts"])]
            failed = [ts for p, ts in events if p.get("kind") == "failure" and p.get("partition") == partition]
            recovered = [ts for p, ts in events if p.get("kind") == "recovered" and p.get("partition") == partition]
            if failed and max(failed) > max(recovered, default=0.0):
                threads.append(top["ts"])
        return threads


# --- what callbacks do -------------------------------------------------------------------------------------
def failure_key(alert: Alert) -> dict[str, str]:
    """What identifies one failed try: the same task instance and try, whichever process reports it."""
    return {"task_id": alert.task_id, "run_id": alert.run_id, "try_number": str(alert.try_number)}


def page_failure(channel: SlackChannel, alert: Alert) -> str:
    """Send the alert for a task that failed for good; returns what was done, for the log.

    Exactly one message per failed try. The worker runs the failure callback, and the scheduler may run the
    same callback again (through the dag-processor) when it sees the executor report a failure itself; that
    copy has no exception, so no AWS reason. A copy already in the thread for the same task instance and try
    is kept, or updated in place when ours has the AWS reason and it does not; copies that raced each other
    converge on one."""
    if not channel.threads:
        return _page_by_webhook(channel, alert)
    threads = Threads(channel)
    key = failure_key(alert)
    meta = metadata("failure", alert.group, alert.dag_id, alert.partition, **key,
                    aws_reason="yes" if alert.aws_reason else "")
    window = BACKFILL_WINDOW if alert.run_type == "backfill" else SEARCH_WINDOW
    parent = threads.parent(alert.group, window)
    if parent is not None and (done := _merge_into_copy(channel, threads, parent, key, alert, meta)):
        return done
    if alert.run_type == "backfill":
        if parent is None:
            header = backfill_header(alert)
            parent, _ = threads.open(alert.group, BACKFILL_WINDOW, *header,
                                     meta=metadata("group", alert.group, alert.dag_id, None))
            if done := _merge_into_copy(channel, threads, parent, key, alert, meta):
                return done
        ts = channel.post(*failure_message(alert, mention=False), thread_ts=parent, meta=meta)
        return _converge(channel, threads, parent, key, ts) or f"replied in the backfill thread {parent}"
    if parent is None:
        parent, opened = threads.open(alert.group, SEARCH_WINDOW, *failure_message(alert), meta=meta)
        if opened:
            return _converge(channel, threads, parent, key, parent) or f"paged: {parent}"
        if done := _merge_into_copy(channel, threads, parent, key, alert, meta):
            return done
    ts = channel.post(*failure_message(alert, mention=False), thread_ts=parent, meta=meta)
    return _converge(channel, threads, parent, key, ts) or f"replied in the run's thread {parent}"


def _copies(threads: Threads, parent: str, key: dict[str, str]) -> list[dict[str, Any]]:
    """Failure messages for this task instance and try in the thread (the parent included), oldest first."""
    found = [m for m in threads.channel.replies(parent)
             if _payload(m).get("kind") == "failure" and all(_payload(m).get(k) == v for k, v in key.items())]
    return sorted(found, key=lambda m: float(m["ts"]))


def _merge_into_copy(channel: SlackChannel, threads: Threads, parent: str, key: dict[str, str], alert: Alert,
                     meta: dict[str, Any]) -> str | None:
    """If this try was already reported, keep that message (updated with our AWS reason if it lacked one)
    and return what was done; None if it was not reported yet."""
    copies = _copies(threads, parent, key)
    if not copies:
        return None
    first = copies[0]
    if alert.aws_reason and not _payload(first).get("aws_reason"):
        is_page = not first.get("thread_ts") or first["ts"] == first.get("thread_ts")
        channel.update(first["ts"], *failure_message(alert, mention=is_page), meta=meta)
        return f"updated the earlier alert {first['ts']} for this try with the AWS reason"
    return f"not posted: this try was already alerted ({first['ts']})"


def _converge(channel: SlackChannel, threads: Threads, parent: str, key: dict[str, str], ours: str | None) -> str | None:
    """Two processes that looked before either posted both post: keep the oldest message, give it the
    content of the copy that has the AWS reason, and delete the others. None if ours is the only copy."""
    copies = _copies(threads, parent, key)
    if len(copies) < 2:
        return None
    keep = copies[0]
    best = next((m for m in copies if _payload(m).get("aws_reason")), keep)
    if best is not keep and not _payload(keep).get("aws_reason"):
        channel.update(keep["ts"], best.get("text") or "", best.get("blocks") or [], meta=best.get("metadata"))
    for m in copies[1:]:
        try:
            channel.delete(m["ts"])
        except Exception as e:  # the other process may have deleted it already
            log.info("Duplicate alert %s already gone: %s", m["ts"], e)
    return f"merged {len(copies)} copies of this try's alert into {keep['ts']}" + (
        "" if ours == keep["ts"] else " (ours was a duplicate)")


def post_recovered(channel: SlackChannel, dag_id: str, partition: str, run_id: str, log_url: str | None) -> str:
    text, blocks = recovered_message(dag_id, partition, run_id, log_url)
    if not channel.threads:
        state = _webhook_state()
        if state["failed"].pop(f"{dag_id}/{partition}", None) is None:
            return "nothing to recover"
        channel.post(text, blocks)
        _save_webhook_state(state)
        return "posted recovered"
    threads = Threads(channel).open_failures(dag_id, partition)
    for ts in threads:
        channel.post(text, blocks, thread_ts=ts,
                     meta=metadata("recovered", "", dag_id, partition, run_id=run_id))
    return f"recovered in {len(threads)} thread(s)" if threads else "nothing to recover"


def _page_by_webhook(channel: SlackChannel, alert: Alert) -> str:
    """Webhooks cannot thread: page once per group (per run, or per backfill window), count the rest."""
    state = _webhook_state()
    now = datetime.now(UTC)
    tried = "/".join((alert.dag_id, *failure_key(alert).values()))
    tries = state.setdefault("tries", {})
    if tried in tries:
        return "not posted: this try was already alerted"  # a webhook message cannot be edited
    tries[tried] = now.isoformat()
    group = state["groups"].get(alert.group)
    state["failed"][f"{alert.dag_id}/{alert.partition}"] = now.isoformat()
    window = BACKFILL_WINDOW if alert.run_type == "backfill" else SEARCH_WINDOW
    if group and now - datetime.fromisoformat(group["paged_at"]) < window:
        group["suppressed"] += 1
        _save_webhook_state(state)
        return f"not paged again: {alert.group} already paged ({group['suppressed']} more failures since)"
    text, blocks = failure_message(alert)
    if alert.run_type == "backfill":
        text = f"{text} (further failures of this backfill will not page again)"
        blocks.insert(1, {"type": "section", "text": {"type": "mrkdwn", "text": "_Further failures of this "
                          "backfill will not page again; see the Airflow UI._"}})
    channel.post(text, blocks)
    state["groups"][alert.group] = {"paged_at": now.isoformat(), "suppressed": 0}
    _save_webhook_state(state)
    return "paged by webhook"


def _webhook_state() -> dict[str, Any]:
    from airflow.sdk import Variable

    try:
        state = json.loads(Variable.get(WEBHOOK_STATE_VARIABLE, default=None) or "{}")
    except ValueError:
        state = {}
    cutoff = datetime.now(UTC) - SEARCH_WINDOW
    state.setdefault("groups", {})
    state.setdefault("failed", {})
    state.setdefault("tries", {})
    state["tries"] = {k: v for k, v in state["tries"].items() if datetime.fromisoformat(v) > cutoff}
    state["groups"] = {k: v for k, v in state["groups"].items() if datetime.fromisoformat(v["paged_at"]) > cutoff}
    state["failed"] = {k: v for k, v in state["failed"].items() if datetime.fromisoformat(v) > cutoff}
    return state


def _save_webhook_state(state: dict[str, Any]) -> None:
    from airflow.sdk import Variable

    Variable.set(WEBHOOK_STATE_VARIABLE, json.dumps(state), description="batchml: webhook alert grouping")


@dataclass(frozen=True)
class Route:
    """Where an alert goes. ``problem`` says why the connection's fallback was used instead of the Variable."""

    channel: str | None
    oncall_handle: str
    problem: str | None = None

    @property
    def notice(self) -> str:
        if not self.problem:
            return ""
        where = f"; this alert went to the fallback channel {self.channel}" if self.channel else ""
        return f"{self.problem[:300]}{where}. Fix the Variable (README, 'Configuration')."


def route(pipeline: str, slack_conn_id: str) -> Route:
    """Channel and on-call handle for the pipeline's alerts: the `<pipeline>_env` Variable's, or, when the
    Variable is missing, not JSON or names no channel, the Slack connection's ``fallback_channel`` and
    ``fallback_oncall_handle`` extras, so that a broken environment never silences a page. (An incoming
    webhook posts where it was created; it needs no channel.)"""
    from batchml.environment import AlertRouting

    routing = AlertRouting.load(pipeline)
    handle, problem = routing.oncall_handle, routing.problem
    if problem is None:
        return Route(routing.slack_channel, handle)
    try:
        from airflow.sdk import Connection

        extra = Connection.get(slack_conn_id).extra_dejson or {}
    except Exception:
        extra = {}
    return Route(extra.get("fallback_channel"), handle or extra.get("fallback_oncall_handle") or "", problem)


def send_warning(pipeline: str, slack_conn_id: str, title: str, details: dict[str, Any],
                 log_url: str | None = None) -> bool:
    """Post a non-paging warning; False (and a log line) if Slack could not be reached."""
    try:
        text, blocks = warning_message(title, details, log_url)
        SlackChannel(slack_conn_id, route(pipeline, slack_conn_id).channel).post(text, blocks)
        return True
    except Exception as e:
        log.error("Slack warning failed: %s: %s", type(e).__name__, e)
        return False


async def deadline_missed(*, pipeline: str, slack_conn_id: str, context: dict[str, Any] | None = None) -> str:
    """Deadline Alert callback (runs in the triggerer): the day's partition was not published in time.

    Only scheduled runs page: a backfill or a manual rerun of an old day misses a wall-clock deadline by
    construction, and paging for it would teach people to ignore the alert."""
    import asyncio

    dag_run = (context or {}).get("dag_run") or {}
    if dag_run.get("run_type") != "scheduled":
        return f"not paging: the run is {dag_run.get('run_type')}, only scheduled runs have a deadline"
    return await asyncio.to_thread(_deadline_page, pipeline, slack_conn_id, dag_run,
                                   str(((context or {}).get("deadline") or {}).get("deadline_time", "")))


def _deadline_page(pipeline: str, slack_conn_id: str, dag_run: dict[str, Any], deadline: str) -> str:
    """``dag_run`` is the REST API's DAGRunResponse as JSON (the scheduler sends that to the triggerer)."""
    try:
        day = naming.partition_of(dag_run.get("logical_date"))
        partition = naming.partition_value(day) if day else ""
        run_id = dag_run["dag_run_id"]
        where = route(pipeline, slack_conn_id)
        channel = SlackChannel(slack_conn_id, where.channel)
        text, blocks = deadline_message(dag_run["dag_id"], partition, run_id, deadline,
                                        str(dag_run.get("state")), where.oncall_handle)
        group = f"{dag_run['dag_id']}/run/{run_id}"
        meta = metadata("deadline", group, dag_run["dag_id"], partition, run_id=run_id)
        parent = Threads(channel).parent(group, SEARCH_WINDOW) if channel.threads else None
        channel.post(text, blocks, thread_ts=parent, meta=meta)
        return "paged: deadline missed"
    except Exception as e:  # the triggerer must not crash on a Slack outage
        log.error("Slack deadline alert failed: %s: %s", type(e).__name__, e)
        return f"alert failed: {e}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _safe(fn):
    try:
        return fn()
    except Exception:
        return None
