"""Every name a run leaves behind, derived from the pipeline name and the partition date alone.

An on-call engineer reading "demand_forecast / train / 2026-11-20" in Slack can go straight to
``s3://<bucket>/<prefix>/demand_forecast/models/dt=2026-11-20/`` and to the SageMaker training jobs
``demand-forecast-train-20261120-<n>`` without a lookup table. ``<n>`` counts the jobs ever started
for that step and day (1, 2, ...): SageMaker job names are unique forever, so a new attempt needs a new
name, and a counter says how many attempts there were.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

_MARKER = "partition="
_JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def partition_of(logical_date: datetime | str | None) -> date | None:
    """D, the partition a run processes: the calendar day, in UTC, of its logical date (a datetime, or the
    ISO text the REST API and the triggerer carry). None for a run without one."""
    if logical_date is None or logical_date == "":
        return None
    if isinstance(logical_date, str):
        logical_date = datetime.fromisoformat(logical_date.replace("Z", "+00:00"))
    return (logical_date.astimezone(UTC) if logical_date.tzinfo else logical_date).date()


def run_type_of(dag_run: Any) -> str:
    """"scheduled", "manual", "backfill", ...: a DagRun's run type as plain text (the SDK hands back an enum)."""
    run_type = getattr(dag_run, "run_type", None)
    return str(getattr(run_type, "value", run_type or "unknown"))


def partition_value(day: date | str) -> str:
    """The Glue partition value (and `dt=` path segment) for a day: YYYY-MM-DD."""
    return day if isinstance(day, str) else day.isoformat()


def registry_marker(day: date | str) -> str:
    """``partition=2026-11-20``: how a model package version records the day it was trained for (its
    description starts with it), so that exactly one version per day is kept and the champion of a day is
    the latest version of an earlier day."""
    return f"{_MARKER}{partition_value(day)}"


def marked_partition(description: str) -> str | None:
    """The day a model package description starts with (see registry_marker); None if it has no marker."""
    head = (description or "").split(" ", 1)[0]
    return head.removeprefix(_MARKER) if head.startswith(_MARKER) else None


def job_name_prefix(pipeline: str, step: str, day: date | str) -> str:
    """``demand-forecast-train-20261120``: SageMaker names allow no underscores."""
    compact = partition_value(day).replace("-", "")
    return f"{pipeline.replace('_', '-')}-{step.replace('_', '-')}-{compact}"


def job_name(prefix: str, sequence: int) -> str:
    name = f"{prefix}-{sequence}"
    if not _JOB_NAME.match(name):
        raise ValueError(f"{name!r} is not a valid SageMaker job name (letters, digits, '-', at most 63)")
    return name


def job_sequence(prefix: str, name: str) -> int | None:
    """The counter of a job name made by job_name(prefix, n); None for other names."""
    m = re.fullmatch(re.escape(prefix) + r"-(\d+)", name)
    return int(m.group(1)) if m else None


class S3Layout:
    """Where one pipeline keeps its files: ``s3://<bucket>/<prefix>/<pipeline>/<area>/dt=<day>/``."""

    def __init__(self, bucket: str, prefix: str, pipeline: str):
        self.bucket, self.prefix, self.pipeline = bucket, prefix, pipeline

    @property
    def root(self) -> str:
        parts = [p for p in (self.prefix.strip("/"), self.pipeline) if p]
        return f"s3://{self.bucket}/" + "/".join(parts) + "/"

    def area(self, area: str) -> str:
        return f"{self.root}{area}/"

    def partition(self, area: str, day: date | str) -> str:
        return f"{self.root}{area}/dt={partition_value(day)}/"

    def code(self, digest: str) -> str:
        return f"{self.root}code/{digest}/"
