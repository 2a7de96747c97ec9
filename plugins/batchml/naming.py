"""Every name a run leaves behind, derived from the pipeline name and the partition date alone.

An on-call engineer reading "demand_forecast / train / 2026-11-20" in Slack can go straight to
``s3://<bucket>/<prefix>/demand_forecast/models/dt=2026-11-20/`` and to the SageMaker training jobs
``demand-forecast-train-20261120-<n>`` without a lookup table. ``<n>`` counts the jobs ever started
for that step and day (1, 2, ...): SageMaker job names are unique forever, so a new attempt needs a new
name, and a counter says how many attempts there were.
"""

from __future__ import annotations

import re
from datetime import date

_JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def partition_value(day: date | str) -> str:
    """The Glue partition value (and `dt=` path segment) for a day: YYYY-MM-DD."""
    return day if isinstance(day, str) else day.isoformat()


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
