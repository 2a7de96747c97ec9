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

from pydantic import Field

from batchml import naming
from batchml.config import INCLUDE_DIR, GateSettings, PipelineSettings, QualitySettings, Strict
from batchml.environment import EnvironmentConfig, RunPlanBase
from batchml.naming import S3Layout

SCRIPTS_DIR = INCLUDE_DIR / "scripts" / "demand_forecast"


class PlanError(ValueError):
    """A run that cannot proceed as asked (no logical date, incomplete day, bad configuration)."""


def partition_day(logical_date: datetime | None, now: datetime, *, first_day: date | None = None,
                  history_days: int | None = None, pipeline: str = "demand_forecast") -> date:
    """D: the calendar day (UTC) of the run's logical date, which must be over and not before the
    pipeline's first partition (``start_date`` in the settings).

    The DAG itself has no ``start_date``: Airflow creates no task instance for a logical date before a
    task's start date, so a manual run or `airflow dags test` of an earlier day would succeed having done
    nothing. Without one, every run reaches this check, and an earlier day fails here and pages."""
    if logical_date is None:
        raise PlanError("this DAG processes the day of its logical date; trigger it with one (e.g. "
                        f"`airflow dags test {pipeline} 2026-11-20`, or the Logical date field in the UI)")
    day = naming.partition_of(logical_date)
    if day >= now.date():
        raise PlanError(f"partition {day} is not complete yet (it ends {day + timedelta(days=1)} 00:00 UTC); "
                        "pick an earlier logical date")
    if first_day is not None and day < first_day:
        needs = (f" (the raw sales must then reach back {history_days} days, to "
                 f"{day - timedelta(days=history_days - 1)})" if history_days else "")
        raise PlanError(
            f"partition {day} is before the pipeline's first partition {first_day} (`start_date` in "
            f"include/config/{pipeline}.yaml), so it is not processed. To backfill it, set start_date to "
            f"{day} or earlier{needs}, then run `airflow backfill create --dag-id {pipeline} "
            f"--from-date {day} --to-date {day}`")
    return day


class Windows(Strict):
    """The days each step reads or writes, all ending at or counted from D."""

    history_start: date = Field(description="First day of the training extract.")
    baseline_start: date = Field(description="First day of the 'recent history' D is judged against.")
    partition_date: date = Field(description="D.")
    active_start: date = Field(description="A series is forecast if it sold since this day.")
    first_forecast_day: date
    last_forecast_day: date
    holdout_origin: date = Field(description="The origin of the holdout week the gate scores on.")


def windows(day: date, *, history_days: int, active_lookback_days: int, horizon_days: int,
            baseline_days: int = 28) -> Windows:
    return Windows(
        history_start=day - timedelta(days=history_days - 1),
        baseline_start=day - timedelta(days=baseline_days),
        partition_date=day,
        active_start=day - timedelta(days=active_lookback_days - 1),
        first_forecast_day=day + timedelta(days=1),
        last_forecast_day=day + timedelta(days=horizon_days),
        holdout_origin=day - timedelta(days=horizon_days),
    )


class Paths(Strict):
    """The S3 prefixes of D, one per area (``naming.S3Layout``)."""

    extract_training: str
    extract_scoring: str
    profile: str
    features: str
    models: str
    evaluation: str
    predictions: str
    predictions_table: str


def paths(layout: S3Layout, day: date) -> Paths:
    return Paths(
        extract_training=layout.partition("extract", day) + "training/",
        extract_scoring=layout.partition("extract", day) + "scoring/",
        profile=layout.partition("extract", day) + "profile/",
        features=layout.partition("features", day),
        models=layout.partition("models", day),
        evaluation=layout.partition("evaluation", day),
        predictions=layout.partition("predictions", day),
        predictions_table=layout.area("predictions"),
    )


class Code(Strict):
    """The job scripts staged for this run (content-addressed)."""

    digest: str
    files: str = Field(description="Prefix of the scripts (processing jobs).")
    sourcedir: str = Field(description="sourcedir.tar.gz (training and serving, script mode).")


class RunModel(Strict):
    """What the jobs need of the model settings."""

    horizon_days: int
    training_origins_days: int
    hyperparameters: dict[str, bool | int | float | str]
    processing_instance_type: str
    training_instance_type: str
    transform_instance_type: str
    max_runtime_seconds: int


class Champion(Strict):
    """The model version D is compared against (``find_champion``)."""

    model_package_arn: str
    version: int | None = None
    partition_date: date | None = Field(None, description="The day it was trained for.")
    model_data_url: str | None = None


class RunPlan(RunPlanBase):
    """Everything a run needs to know, decided once by its first task. It travels through XCom as JSON
    (``model_dump(mode="json")``), and every reader turns it back into this model (``RunPlan.of``)."""

    params: dict[str, Any]
    image_uri: str
    code: Code
    paths: Paths
    windows: Windows
    model: RunModel
    gate: GateSettings
    quality: QualitySettings
    champion: Champion | None = None


def history_days(params: dict[str, Any], settings: PipelineSettings) -> int:
    """The run's ``history_days`` Param, or the settings' default."""
    return int(params.get("history_days") or settings.data.history_days)


def check_params(declared: set[str], params: dict[str, Any], conf: dict[str, Any] | None,
                 settings: PipelineSettings) -> None:
    """Refuse, before anything is paid for, a run that can never succeed: ``dag_run.conf`` keys that are not
    Params of the DAG (a typo would otherwise be carried silently), and a history shorter than the model
    needs (the training origins, the holdout and the lags; the Param's own minimum says the same)."""
    from batchml.demand_forecast.contract import min_history_days

    unknown = sorted(set(conf or {}) - declared)
    if unknown:
        raise PlanError(f"unknown dag_run.conf keys {unknown}: this DAG takes {sorted(declared)}; "
                        "nothing was run")
    needed = min_history_days(settings)
    history = params.get("history_days")
    if history is not None and int(history) < needed:
        model = settings.model
        raise PlanError(f"history_days={history} is too short: {model.training_origins_days} training origins, "
                        f"the {model.horizon_days}-day holdout and the lags need at least {needed}; "
                        "nothing was run")


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


def champion_of(packages: list[dict[str, Any]], day: date) -> Champion | None:
    """The champion as of D: the approved version trained for the latest partition before D. A
    backfilled day compares against the model that was current then, never a later one."""
    best = None
    for p in packages:
        key = naming.marked_partition(p.get("ModelPackageDescription", ""))
        if p.get("ModelApprovalStatus") == "Approved" and key and key < day.isoformat():
            if best is None or key > best[0]:
                best = (key, p)
    if best is None:
        return None
    return Champion(model_package_arn=best[1]["ModelPackageArn"], version=best[1].get("ModelPackageVersion"),
                    partition_date=best[0])


def build(*, settings: PipelineSettings, env: EnvironmentConfig, day: date, run_id: str, run_type: str,
          params: dict[str, Any], image_uri: str, code: Code | dict[str, str],
          champion: Champion | None) -> RunPlan:
    """The plan of one run (``to_xcom()`` is what travels through XCom)."""
    model = settings.model
    layout = S3Layout(env.bucket, env.prefix, settings.name)
    return RunPlan(
        pipeline=settings.name,
        partition_date=day,
        run_id=run_id,
        run_type=run_type,
        env=env,
        params=dict(params),
        image_uri=image_uri,
        code=Code.model_validate(code),
        paths=paths(layout, day),
        windows=windows(day, history_days=history_days(params, settings),
                        active_lookback_days=settings.data.active_lookback_days,
                        horizon_days=model.horizon_days,
                        baseline_days=settings.quality.plausibility.baseline_days),
        model=RunModel(horizon_days=model.horizon_days, training_origins_days=model.training_origins_days,
                       hyperparameters=model.hyperparameters,
                       processing_instance_type=model.processing_instance_type,
                       training_instance_type=model.training_instance_type,
                       transform_instance_type=model.transform_instance_type,
                       max_runtime_seconds=model.max_runtime_seconds),
        gate=settings.gate,
        quality=settings.quality,
        champion=champion,
    )
