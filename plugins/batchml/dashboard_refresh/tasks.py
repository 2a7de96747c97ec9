"""The dashboard_refresh step that runs in Airflow itself: which data sets to refresh, from the triggering events."""

from __future__ import annotations

import math
from typing import Any

from airflow.sdk import get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

PIPELINE = "dashboard_refresh"


@task
def plan_refresh() -> list[dict[str, Any]]:
    """One keyword set per data set to refresh (``QuickSightRefreshOperator.partial(...).expand_kwargs``),
    from the Asset events that triggered the run; the environment Variable gives the connection and region."""
    from batchml.config import ConfigError
    from batchml.dashboard_refresh.requests import event_of, refreshes
    from batchml.dashboard_refresh.settings import RefreshSettings
    from batchml.environment import EnvironmentConfig

    context = get_current_context()
    settings = RefreshSettings.load(PIPELINE)
    try:
        env = EnvironmentConfig.load(settings.environment)
    except ConfigError as e:  # a retry cannot fix a bad Variable
        raise AirflowFailException(str(e)) from None
    events = [event_of(e.asset.name, e.extra, e.source_dag_id, e.source_run_id)
              for found in context["triggering_asset_events"].values() for e in found]
    for e in events:
        print(f"event: {e.asset} partition {e.partition or 'unknown'} from {e.source or 'the API'}")
    planned, skipped = refreshes(settings, events, context["run_id"])
    for line in skipped:
        print(f"skipped: {line}")
    wait = settings.max_wait_minutes * 60
    delay = max(1, math.ceil(env.poll_interval_seconds))
    return [{**p, "aws_conn_id": env.aws_conn_id, "region_name": env.region,
             "waiter_delay": delay, "waiter_max_attempts": max(1, math.ceil(wait / delay))} for p in planned]
