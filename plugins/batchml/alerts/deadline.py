"""The Deadline Alert callback: runs in the triggerer when a scheduled run has not published its partition
in time. Beside the policy it follows (a page in the run's thread) and the message it sends."""

from __future__ import annotations

import logging
from typing import Any

from batchml import naming
from batchml.alerts.messages import deadline_message, metadata
from batchml.alerts.policy import SEARCH_WINDOW, Threads, route
from batchml.alerts.slack import SlackChannel

log = logging.getLogger(__name__)


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
