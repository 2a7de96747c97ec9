"""Paging policy: who gets paged, once, and where later failures and recoveries go.

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
a reply.

An incoming webhook (``slackwebhook`` connection) can only post: it cannot thread, edit or read history. It
**keeps its grouping state** in one Airflow Variable (the first failure of a group pages, later ones are counted,
"recovered" is a plain message), rather than becoming post-only, because a backfill of thirty bad days would
otherwise page thirty times. The state is kept safely in the sense that matters for paging: the Variable is
read, changed and written without a lock (the Task SDK offers no compare-and-set, and workers have no database
access), so two failures at the same moment can both page or lose a count or a "failed" mark, but a race can
only ever add a message, never suppress a page: a group is suppressed only once a page for it has been posted
and saved. What a race can lose is a "recovered" reply (the "failed" mark overwritten). A deployment that cannot
accept that uses a bot token, whose state lives in Slack itself.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from batchml.alerts.messages import (
    Alert,
    _payload,
    backfill_header,
    failure_message,
    metadata,
    recovered_message,
    warning_message,
)
from batchml.alerts.slack import SlackChannel

log = logging.getLogger(__name__)

BACKFILL_WINDOW = timedelta(hours=12)
SEARCH_WINDOW = timedelta(days=3)
WEBHOOK_STATE_VARIABLE = "batchml_alert_state"


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


def failure_key(alert: Alert) -> dict[str, str]:
    """What identifies one failed try: the same task instance and try, whichever process reports it."""
    return {"task_id": alert.task_id, "run_id": alert.run_id, "try_number": str(alert.try_number)}


def page_failure(channel: SlackChannel, alert: Alert) -> str:
    """Send the alert for a task that failed for good; returns what was done, for the log.

    Exactly one message per failed try. The worker runs the failure callback, and the scheduler may run the
    same callback again (through the dag-processor) when it sees the executor report a failure itself; that
    copy has no exception, and has the AWS reason only where the notifier could look it up. A copy already in
    the thread for the same task instance and try is kept, or updated in place when ours has the AWS reason and
    it does not; copies that raced each other converge on one."""
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
                 log_url: str | None = None, *, page: bool = False) -> bool:
    """Post a non-paging warning, or with ``page`` a page that mentions on-call (a metric breach that lasted:
    the task itself succeeded, so no failure callback would page); False (and a log line) if Slack could not
    be reached."""
    try:
        where = route(pipeline, slack_conn_id)
        text, blocks = warning_message(title, details, log_url, page_for=where.oncall_handle if page else None)
        SlackChannel(slack_conn_id, where.channel).post(text, blocks)
        return True
    except Exception as e:
        log.error("Slack %s failed: %s: %s", "page" if page else "warning", type(e).__name__, e)
        return False
