"""The Deadline Alert callback. A module of its own because Airflow imports the callback's module while
parsing the DAG (to check the path), and the alert code should not be loaded then."""

from __future__ import annotations

from typing import Any


async def partition_not_published(*, pipeline: str, slack_conn_id: str, context: dict[str, Any] | None = None) -> str:
    """Runs in the triggerer when a run has not finished by its deadline; see batchml.alerts.deadline_missed."""
    from batchml.alerts import deadline_missed

    return await deadline_missed(pipeline=pipeline, slack_conn_id=slack_conn_id, context=context)
