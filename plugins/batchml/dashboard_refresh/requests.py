"""Which QuickSight ingestions a dashboard_refresh run starts: a pure function of the settings and the Asset
events that triggered the run (tests call it without Airflow or AWS).

An event's partition is its ``extra["partition"]``: ``dt='2026-11-20'`` as the Glue publish step writes it
(``GlueCatalogUpsertPartitionOperator``), or a bare ``2026-11-20``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from batchml.dashboard_refresh.settings import RefreshSettings

_PARTITION = re.compile(r"^(?:dt=)?'?(\d{4}-\d{2}-\d{2})'?$")


@dataclass(frozen=True)
class Event:
    """What a refresh needs of one triggering Asset event."""

    asset: str
    partition: str | None
    source: str  # "<dag id>/<run id>", or "" for an event posted through the API


def event_of(asset: str, extra: dict[str, Any] | None, source_dag_id: str | None, source_run_id: str | None) -> Event:
    value = str((extra or {}).get("partition") or "")
    m = _PARTITION.match(value.strip())
    source = f"{source_dag_id}/{source_run_id}" if source_dag_id else ""
    return Event(asset, m.group(1) if m else None, source)


def refreshes(settings: RefreshSettings, events: list[Event], run_id: str) -> tuple[list[dict[str, Any]], list[str]]:
    """(one ``QuickSightRefreshOperator`` keyword set per data set to refresh, the events skipped and why).

    A data set is refreshed once per run however many of its Assets had events, and records the partitions
    those events carried. A run with no event at all (started by hand) refreshes every data set. Events of
    partitions before ``start_date`` are skipped. The ingestion id names the data set, the newest partition
    and the run (``<data set>-<yyyymmdd>-<run hash>``; the operator adds the try), so QuickSight's history says
    which partition each refresh carried."""
    skipped = [f"{e.asset} {e.partition}: before start_date {settings.start_date}" for e in events
               if e.partition and date.fromisoformat(e.partition) < settings.start_date]
    kept = [e for e in events if not (e.partition and date.fromisoformat(e.partition) < settings.start_date)]
    run = hashlib.sha256(run_id.encode()).hexdigest()[:8]
    out = []
    for ds in settings.data_sets:
        mine = [e for e in kept if e.asset in ds.reads]
        if events and not mine:
            continue
        partitions = sorted({e.partition for e in mine if e.partition})
        newest = partitions[-1].replace("-", "") if partitions else ("unknown" if mine else "manual")
        out.append({
            "data_set_id": ds.id,
            "ingestion_id": f"{ds.id}-{newest}-{run}",
            "ingestion_type": settings.ingestion_type,
            "partitions": partitions,
            "assets": sorted({e.asset for e in mine}),
        })
    return out, skipped
