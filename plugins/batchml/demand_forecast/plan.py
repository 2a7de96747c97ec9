"""The run plan: everything a demand_forecast run needs to know, decided once by its first task.

A run processes exactly one partition: the day D of its logical date (UTC). The plan derives every
path, window and name from the pipeline name and D, so that all later tasks agree and a person can
find any artefact from the partition date alone.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from batchml.config import INCLUDE_DIR, PipelineSettings
from batchml.environment import EnvironmentConfig
from batchml.naming import S3Layout

SCRIPTS_DIR = INCLUDE_DIR / "scripts" / "demand_forecast"


class PlanError(ValueError):
    """A run that cannot proceed as asked (no logical date, incomplete day, bad configuration)."""


def partition_day(logical_date: datetime | None, now: datetime, *, first_day: date | None = None,
                  history_days: int | None = None) -> date:
    """D: the calendar day (UTC) of the run's logical date, which must be over and not before the
    pipeline's first partition (``start_date`` in the settings).

    The DAG itself has no ``start_date``: Airflow creates no task instance for a logical date before a
    task's start date, so a manual run or `airflow dags test` of an earlier day would succeed having done
    nothing. Without one, every run reaches this check, and an earlier day fails here and pages."""
    if logical_date is None:
        raise PlanError("this DAG processes the day of its logical date; trigger it with one (e.g. "
                        "`airflow dags test demand_forecast 2026-11-20`, or the Logical date field in the UI)")
    day = logical_date.astimezone(tz=now.tzinfo).date() if logical_date.tzinfo else logical_date.date()
    if day >= now.date():
        raise PlanError(f"partition {day} is not complete yet (it ends {day + timedelta(days=1)} 00:00 UTC); "
                        "pick an earlier logical date")
    if first_day is not None and day < first_day:
        needs = (f" (the raw sales must then reach back {history_days} days, to "
                 f"{day - timedelta(days=history_days - 1)})" if history_days else "")
        raise PlanError(
            f"partition {day} is before the pipeline's first partition {first_day} (`start_date` in "
            f"include/config/demand_forecast.yaml), so it is not processed. To backfill it, set start_date to "
            f"{day} or earlier{needs}, then run `airflow backfill create --dag-id demand_forecast "
            f"--from-date {day} --to-date {day}`")
    return day


def windows(day: date, *, history_days: int, active_lookback_days: int, horizon_days: int) -> dict[str, str]:
    return {
        "history_start": (day - timedelta(days=history_days - 1)).isoformat(),
        "partition_date": day.isoformat(),
        "active_start": (day - timedelta(days=active_lookback_days - 1)).isoformat(),
        "first_forecast_day": (day + timedelta(days=1)).isoformat(),
        "last_forecast_day": (day + timedelta(days=horizon_days)).isoformat(),
        "holdout_origin": (day - timedelta(days=horizon_days)).isoformat(),
    }


def paths(layout: S3Layout, day: date) -> dict[str, str]:
    return {
        "extract_training": layout.partition("extract", day) + "training/",
        "extract_scoring": layout.partition("extract", day) + "scoring/",
        "features": layout.partition("features", day),
        "models": layout.partition("models", day),
        "evaluation": layout.partition("evaluation", day),
        "predictions": layout.partition("predictions", day),
        "predictions_table": layout.area("predictions"),
    }


def code_bundle(directory: Path = SCRIPTS_DIR) -> tuple[bytes, dict[str, bytes], str]:
    """The job scripts as a reproducible sourcedir.tar.gz (sorted, fixed mtimes), the files themselves
    (processing jobs take a prefix), and a digest that changes only when a script does."""
    files = {p.name: p.read_bytes() for p in sorted(directory.glob("*.py"))}
    digest = hashlib.sha256(b"".join(name.encode() + b"\0" + body for name, body in files.items())).hexdigest()[:12]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(body), 0, 0o644
            tar.addfile(info, io.BytesIO(body))
    return buf.getvalue(), files, digest


DECISION_TASKS = ("register_model", "keep_champion")
FINISHED = {"success", "skipped", "failed", "upstream_failed", "removed"}


def undecided_runs(task_states: dict[str, dict[str, str | None]], run_states: dict[str, str],
                   own_run_id: str) -> list[str]:
    """Runs of earlier days that are under way and have not yet decided their model (registered it, kept
    the champion, or failed): the champion for D is not known until they have.

    ``task_states`` is {run_id: {task_id: state}} for the decision tasks, ``run_states`` {run_id: run state}.
    A run that is queued but not started is not waited for: the scheduler starts a backfill's runs in date
    order, so an earlier day still queued behind a later one means a backfill run backwards, and waiting for
    it could wait for ever. Such a day is logged by the caller (D is then compared against an older model)."""
    return sorted(run_id for run_id, states in task_states.items()
                  if run_id != own_run_id and run_states.get(run_id) == "running"
                  and any(states.get(t) not in FINISHED for t in DECISION_TASKS))


def champion_of(packages: list[dict[str, Any]], day: date) -> dict[str, Any] | None:
    """The champion as of D: the approved version trained for the latest partition before D. A
    backfilled day compares against the model that was current then, never a later one."""
    best = None
    for p in packages:
        key = _partition_of(p.get("ModelPackageDescription", ""))
        if p.get("ModelApprovalStatus") == "Approved" and key and key < day.isoformat():
            if best is None or key > best[0]:
                best = (key, p)
    if best is None:
        return None
    return {"model_package_arn": best[1]["ModelPackageArn"], "version": best[1].get("ModelPackageVersion"),
            "partition_date": best[0]}


def _partition_of(description: str) -> str | None:
    head = description.split(" ", 1)[0]
    return head.removeprefix("partition=") if head.startswith("partition=") else None


def build(*, settings: PipelineSettings, env: EnvironmentConfig, day: date, run_id: str, run_type: str,
          params: dict[str, Any], image_uri: str, code: dict[str, str],
          champion: dict[str, Any] | None) -> dict[str, Any]:
    """The plan as a JSON-able dict (it travels through XCom)."""
    model = settings["model"]
    layout = S3Layout(env.bucket, env.prefix, settings.name)
    return {
        "pipeline": settings.name,
        "partition_date": day.isoformat(),
        "run_id": run_id,
        "run_type": run_type,
        "region": env.region,
        "poll_interval_seconds": env.poll_interval_seconds,
        "env": env.as_dict(),
        "params": dict(params),
        "image_uri": image_uri,
        "code": code,
        "paths": paths(layout, day),
        "windows": windows(day, history_days=int(params.get("history_days") or settings["data"]["history_days"]),
                           active_lookback_days=settings["data"]["active_lookback_days"],
                           horizon_days=model["horizon_days"]),
        "model": {
            "horizon_days": model["horizon_days"],
            "training_origins_days": model["training_origins_days"],
            "hyperparameters": model["hyperparameters"],
            "processing_instance_type": model["processing_instance_type"],
            "training_instance_type": model["training_instance_type"],
            "transform_instance_type": model["transform_instance_type"],
            "max_runtime_seconds": model["max_runtime_minutes"] * 60,
        },
        "gate": dict(settings["gate"]),
        "quality": dict(settings["quality"]),
        "champion": champion,
    }
