"""Pipeline configuration, in two layers, each one typed pydantic model.

- **Pipeline settings** (``include/config/<pipeline>.yaml``, ``PipelineSettings``): what the pipeline does,
  identical in every account. Read and validated when the DAG file is parsed, so a mistake is a DAG import
  error naming the field. Reading a file is the only thing this does at parse time: no network, no database.
- **Environment** (Airflow Variable ``<pipeline>_env``, JSON; ``batchml.environment.EnvironmentConfig``): where
  it runs — bucket, role ARN, Athena workgroup, Slack channel. Read and validated at run time by the first task,
  because Variables live in the metadata database or a secrets backend.

Each key is declared once, below: its type, default, bound and description. The JSON Schema of the file (and of
the Variable) is generated from the model (``json_schema``), never written beside it; ``python -m batchml.config
demand_forecast`` prints it for editors and reviewers. A document is checked against that schema first, so that
every problem is reported at once with its path (pydantic stops at the first problem of a union, and words its
messages for programmers), then turned into the model.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema

INCLUDE_DIR = Path(__file__).resolve().parents[2] / "include"

IDENTIFIER = "^[a-z_][a-z0-9_]{0,127}$"
NAME = "^[A-Za-z0-9_.-]+$"
INSTANCE_TYPE = r"^ml\.[a-z0-9]+\.[a-z0-9]+$"
M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """Configuration that cannot be used; the message lists every problem, each with its path."""


_JSON_BOUNDS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}


def number(description: str | None = None, **bounds: float) -> Any:
    """A number as written in the file: 15 stays 15 and 4.0 stays 4.0, because messages quote bounds as the
    settings wrote them. ``bounds`` are pydantic's (ge, gt, le, lt); the JSON Schema says them in its words."""
    schema: dict[str, Any] = {"type": "number", **{_JSON_BOUNDS[k]: v for k, v in bounds.items()}}
    if description:
        schema["description"] = description
    return Annotated[int | float, Field(**bounds), WithJsonSchema(schema)]


class Strict(BaseModel):
    """Unknown keys are errors (a typo must not be ignored) and a loaded value is never changed in place."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the settings file ------------------------------------------------------------------------------------
class DataSettings(Strict):
    history_days: int = Field(ge=60, le=1825, description="Sales days extracted for training, ending at D.")
    active_lookback_days: int = Field(ge=1, le=365, description="A series is forecast if it sold in the last N days.")
    sales_arrival_timeout_hours: float = Field(gt=0, le=48, description="How long to wait for D's raw sales.")
    sales_poke_seconds: float = Field(ge=1, le=3600, description="How often to look for D's raw sales.")


Reason = Annotated[str, Field(min_length=10, max_length=200, description="Why the bound is what it is (the page "
                                                                         "quotes it).")]


class UnitsSoldBound(Strict):
    min: int
    reason: Reason


class UnitPriceBound(Strict):
    min: number()
    max: number()
    reason: Reason


class DayTotalBound(Strict):
    min_ratio: number(ge=0)
    max_ratio: number(gt=1)
    reason: Reason


class SeriesUnitsBound(Strict):
    max_ratio: number(gt=1)
    floor_units: number(gt=0)
    reason: Reason


class SeriesPresentBound(Strict):
    min_share: number(ge=0, le=1)
    reason: Reason


class DuplicateKeysBound(Strict):
    max: int = Field(ge=0)
    reason: Reason


class Plausibility(Strict):
    """Is day D plausible, judged against D's own recent history (``profile_extracts.sql``)."""

    baseline_days: int = Field(ge=7, le=365, description="The days before D that 'recent history' means.")
    units_sold: UnitsSoldBound
    unit_price: UnitPriceBound
    day_total: DayTotalBound
    series_units: SeriesUnitsBound
    series_present: SeriesPresentBound
    duplicate_keys: DuplicateKeysBound


class QualitySettings(Strict):
    min_rows: int = Field(ge=1)
    required_columns: list[str] = Field(min_length=1)
    max_null_fraction: dict[str, number(ge=0, le=1)]
    min_day_coverage: number("Share of the window's days that must have data.", ge=0, le=1)
    min_series: int = Field(ge=1)
    plausibility: Plausibility


class ModelSettings(Strict):
    horizon_days: int = Field(ge=1, le=7, description="Days forecast after D.")
    training_origins_days: int = Field(ge=7, le=730, description="Forecast origins that form the training set.")
    framework: Literal["sklearn"]
    framework_version: str = Field(pattern=r"^\d+\.\d+-\d+$")
    processing_instance_type: str = Field(pattern=INSTANCE_TYPE)
    training_instance_type: str = Field(pattern=INSTANCE_TYPE)
    transform_instance_type: str = Field(pattern=INSTANCE_TYPE)
    max_runtime_minutes: int = Field(ge=1, le=1440, description="StoppingCondition of every SageMaker job.")
    champion_poke_seconds: number("How often find_champion looks for earlier days' decisions.", ge=1, le=3600)
    # bool first: pydantic would otherwise turn true into 1; int before float, so 300 stays 300 for train.py.
    hyperparameters: dict[str, bool | int | float | str]

    @property
    def max_runtime_seconds(self) -> int:
        return self.max_runtime_minutes * 60


class GateSettings(Strict):
    max_wape: float = Field(gt=0, description="Absolute bar: the highest WAPE a shipped model may have.")
    min_improvement_over_baseline: float = Field(ge=0, le=1, description="Relative: 0.05 = 5% below the baseline.")
    champion_tolerance: float = Field(ge=0, le=1, description="WAPE points the challenger may trail the champion.")


class RetrySettings(Strict):
    count: int = Field(ge=1, le=10)
    delay_seconds: float = Field(gt=0)
    backoff: float = Field(ge=1, description="Multiplier of the delay per retry.")
    max_delay_seconds: float = Field(gt=0)


class AlertSettings(Strict):
    slack_conn_id: str = Field(pattern=NAME, description="Connection of type slack (bot token) or slackwebhook.")
    publish_deadline_hours: float = Field(gt=0, le=72, description="Page if D is not published N hours after it.")


class PipelineBase(Strict):
    """What every pipeline's settings file has: its name, owner, first partition, retries and timeouts, and how
    it is loaded. A pipeline's own model adds its sections (``PipelineSettings`` for demand_forecast,
    ``batchml.forecast_monitoring.settings.MonitoringSettings``)."""

    pipeline: str = Field(pattern=IDENTIFIER, description="The pipeline name every other name derives from.")
    owner: str = Field(min_length=1)
    tags: list[str] = Field(min_length=1)
    start_date: date = Field(description="The first partition the pipeline processes.")
    max_active_runs: int = Field(16, ge=1, le=64)
    retries: RetrySettings
    timeouts_minutes: dict[str, Annotated[float, Field(gt=0)]] = Field(
        json_schema_extra={"required": ["default"]},
        description="execution_timeout per task id, in minutes; 'default' for the others.")
    source: str = Field("", exclude=True, description="Where the settings were read from (not a key of the file).")

    @classmethod
    def load(cls: type[S], pipeline: str, path: Path | None = None) -> S:
        import yaml

        # BATCHML_CONFIG_DIR lets a deployment (or a test) keep its settings files elsewhere.
        config_dir = Path(os.environ.get("BATCHML_CONFIG_DIR") or INCLUDE_DIR / "config")
        path = path or config_dir / f"{pipeline}.yaml"
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster, parse time counts
        try:
            document = yaml.load(path.read_text(), Loader=loader)  # noqa: S506 (a safe loader)
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"cannot read pipeline settings {path}: {e}") from None
        settings = parse(cls, document, str(path))
        if settings.pipeline != pipeline:
            raise ConfigError(f"{path}: pipeline is {settings.pipeline!r}, expected {pipeline!r}")
        problems = _pipeline_problems(settings)
        if problems:
            raise ConfigError(f"{path} is invalid:\n" + "\n".join(f"- {p}" for p in problems))
        return settings.model_copy(update={"source": str(path)})

    @property
    def name(self) -> str:
        return self.pipeline

    @property
    def environment_pipeline(self) -> str:
        """Whose ``<pipeline>_env`` Variable says where this pipeline runs and where its alerts go: its own,
        unless it watches another pipeline's outputs (``MonitoringSettings.monitors``)."""
        return self.pipeline

    @property
    def start(self) -> datetime:
        """``start_date`` as midnight UTC."""
        from datetime import UTC

        return datetime.combine(self.start_date, datetime.min.time(), UTC)

    def retry_args(self) -> dict[str, Any]:
        """Task retry arguments. BATCHML_RETRY_DELAY_SECONDS / BATCHML_MAX_RETRY_DELAY_SECONDS shorten
        the delays for the sandbox and tests (`airflow dags test` really sleeps through them)."""
        r = self.retries
        delay = float(os.environ.get("BATCHML_RETRY_DELAY_SECONDS", r.delay_seconds))
        max_delay = float(os.environ.get("BATCHML_MAX_RETRY_DELAY_SECONDS", r.max_delay_seconds))
        return {
            "retries": r.count,
            "retry_delay": timedelta(seconds=delay),
            "retry_exponential_backoff": float(r.backoff),
            "max_retry_delay": timedelta(seconds=max_delay),
        }

    def timeout(self, task_id: str) -> timedelta:
        minutes = self.timeouts_minutes
        return timedelta(minutes=minutes.get(task_id, minutes["default"]))


S = TypeVar("S", bound=PipelineBase)


class PipelineSettings(PipelineBase):
    """The validated settings file of the demand_forecast pipeline."""

    data: DataSettings
    quality: QualitySettings
    model: ModelSettings
    gate: GateSettings
    sagemaker_pool: str = Field(pattern=NAME, description="Pool every SageMaker job task takes a slot of.")
    alerts: AlertSettings


# --- validation, shared with the environment -------------------------------------------------------------
@cache
def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of a document of ``model`` (what the YAML file or the Variable may hold)."""
    schema = model.model_json_schema(mode="validation")
    schema["properties"].pop("source", None)  # not a key of the document
    return schema


@cache
def _validator(model: type[BaseModel]):
    import jsonschema

    return jsonschema.Draft202012Validator(json_schema(model), format_checker=jsonschema.FormatChecker())


def parse(model: type[M], document: Any, source: str) -> M:
    """``document`` as ``model``, or a ConfigError listing every problem with its path."""
    problems = sorted(_validator(model).iter_errors(document), key=lambda e: list(e.absolute_path))
    if problems:
        lines = [f"- {'.'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}" for e in problems]
        raise ConfigError(f"{source} is invalid:\n" + "\n".join(lines))
    try:
        return model.model_validate(document)
    except ValidationError as e:  # what the schema cannot say (e.g. a model validator)
        lines = [f"- {'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in e.errors()]
        raise ConfigError(f"{source} is invalid:\n" + "\n".join(lines)) from None


def _pipeline_problems(settings: PipelineBase) -> list[str]:
    """Names the schema cannot know: a pipeline package may check its settings against its job scripts and
    extracts with ``batchml.<pipeline>.contract.settings_problems`` (each problem ``path: message``)."""
    import importlib

    try:
        contract = importlib.import_module(f"batchml.{settings.pipeline}.contract")
    except ModuleNotFoundError:
        return []
    return contract.settings_problems(settings)


def unknown_task_ids(settings: PipelineBase, task_ids: set[str]) -> None:
    """``timeouts_minutes`` may only name tasks of the DAG (and ``default``): a misspelt task id would
    silently give that task the default timeout."""
    unknown = sorted(set(settings.timeouts_minutes) - task_ids - {"default"})
    if unknown:
        raise ConfigError(f"{settings.source} is invalid:\n" + "\n".join(
            f"- timeouts_minutes.{name}: no task {name!r} in {settings.name} (its tasks: {', '.join(sorted(task_ids))})"
            for name in unknown))


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(json_schema(PipelineSettings), indent=2))
    sys.exit(0)
