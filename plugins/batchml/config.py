"""Pipeline configuration, in two layers.

- **Pipeline settings** (``include/config/<pipeline>.yaml``): what the pipeline does, identical in every
  account. Read and validated when the DAG file is parsed, so a mistake is a DAG import error naming
  the field. Reading a file is the only thing this does at parse time: no network, no database.
- **Environment** (Airflow Variable ``<pipeline>_env``, JSON): where it runs — bucket, role ARN,
  Athena workgroup, Slack channel. Read and validated at run time by the first task, because
  Variables live in the metadata database or a secrets backend (see ``batchml.environment``).

Both are validated with JSON Schema (jsonschema is already loaded by Airflow), reporting every problem
at once rather than the first.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

INCLUDE_DIR = Path(__file__).resolve().parents[2] / "include"

IDENTIFIER = "^[a-z_][a-z0-9_]{0,127}$"


def _bound(properties: dict[str, Any]) -> dict[str, Any]:
    """A plausibility bound: its values, and the reason for them (the page quotes it)."""
    return {"type": "object", "additionalProperties": False, "required": [*properties, "reason"],
            "properties": {**properties, "reason": {"type": "string", "minLength": 10, "maxLength": 200}}}


_SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["pipeline", "owner", "tags", "start_date", "data", "quality", "model", "gate", "retries",
                 "timeouts_minutes", "sagemaker_pool", "alerts"],
    "properties": {
        "pipeline": {"type": "string", "pattern": IDENTIFIER},
        "owner": {"type": "string", "minLength": 1},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "start_date": {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        "max_active_runs": {"type": "integer", "minimum": 1, "maximum": 64},
        "data": {
            "type": "object", "additionalProperties": False,
            "required": ["history_days", "active_lookback_days", "sales_arrival_timeout_hours",
                         "sales_poke_seconds"],
            "properties": {
                "history_days": {"type": "integer", "minimum": 60, "maximum": 1825},
                "active_lookback_days": {"type": "integer", "minimum": 1, "maximum": 365},
                "sales_arrival_timeout_hours": {"type": "number", "exclusiveMinimum": 0, "maximum": 48},
                "sales_poke_seconds": {"type": "number", "minimum": 1, "maximum": 3600},
            },
        },
        "quality": {
            "type": "object", "additionalProperties": False,
            "required": ["min_rows", "required_columns", "max_null_fraction", "min_day_coverage", "min_series",
                         "plausibility"],
            "properties": {
                "min_rows": {"type": "integer", "minimum": 1},
                "required_columns": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "max_null_fraction": {"type": "object",
                                      "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1}},
                "min_day_coverage": {"type": "number", "minimum": 0, "maximum": 1},
                "min_series": {"type": "integer", "minimum": 1},
                "plausibility": {
                    "type": "object", "additionalProperties": False,
                    "required": ["baseline_days", "units_sold", "unit_price", "day_total", "series_units",
                                 "series_present", "duplicate_keys"],
                    "properties": {
                        "baseline_days": {"type": "integer", "minimum": 7, "maximum": 365},
                        "units_sold": _bound({"min": {"type": "integer"}}),
                        "unit_price": _bound({"min": {"type": "number"}, "max": {"type": "number"}}),
                        "day_total": _bound({"min_ratio": {"type": "number", "minimum": 0},
                                             "max_ratio": {"type": "number", "exclusiveMinimum": 1}}),
                        "series_units": _bound({"max_ratio": {"type": "number", "exclusiveMinimum": 1},
                                                "floor_units": {"type": "number", "exclusiveMinimum": 0}}),
                        "series_present": _bound({"min_share": {"type": "number", "minimum": 0, "maximum": 1}}),
                        "duplicate_keys": _bound({"max": {"type": "integer", "minimum": 0}}),
                    },
                },
            },
        },
        "model": {
            "type": "object", "additionalProperties": False,
            "required": ["horizon_days", "training_origins_days", "framework", "framework_version",
                         "processing_instance_type", "training_instance_type", "transform_instance_type",
                         "max_runtime_minutes", "hyperparameters", "champion_poke_seconds"],
            "properties": {
                "horizon_days": {"type": "integer", "minimum": 1, "maximum": 7},
                "champion_poke_seconds": {"type": "number", "minimum": 1, "maximum": 3600},
                "training_origins_days": {"type": "integer", "minimum": 7, "maximum": 730},
                "framework": {"const": "sklearn"},
                "framework_version": {"type": "string", "pattern": r"^\d+\.\d+-\d+$"},
                "processing_instance_type": {"type": "string", "pattern": r"^ml\.[a-z0-9]+\.[a-z0-9]+$"},
                "training_instance_type": {"type": "string", "pattern": r"^ml\.[a-z0-9]+\.[a-z0-9]+$"},
                "transform_instance_type": {"type": "string", "pattern": r"^ml\.[a-z0-9]+\.[a-z0-9]+$"},
                "max_runtime_minutes": {"type": "integer", "minimum": 1, "maximum": 1440},
                "hyperparameters": {"type": "object",
                                    "additionalProperties": {"type": ["number", "string", "boolean"]}},
            },
        },
        "gate": {
            "type": "object", "additionalProperties": False,
            "required": ["max_wape", "min_improvement_over_baseline", "champion_tolerance"],
            "properties": {
                "max_wape": {"type": "number", "exclusiveMinimum": 0},
                "min_improvement_over_baseline": {"type": "number", "minimum": 0, "maximum": 1},
                "champion_tolerance": {"type": "number", "minimum": 0, "maximum": 1},
            },
        },
        "retries": {
            "type": "object", "additionalProperties": False,
            "required": ["count", "delay_seconds", "backoff", "max_delay_seconds"],
            "properties": {
                "count": {"type": "integer", "minimum": 1, "maximum": 10},
                "delay_seconds": {"type": "number", "exclusiveMinimum": 0},
                "backoff": {"type": "number", "minimum": 1},
                "max_delay_seconds": {"type": "number", "exclusiveMinimum": 0},
            },
        },
        "timeouts_minutes": {"type": "object", "required": ["default"],
                             "additionalProperties": {"type": "number", "exclusiveMinimum": 0}},
        "sagemaker_pool": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"},
        "alerts": {
            "type": "object", "additionalProperties": False,
            "required": ["slack_conn_id", "publish_deadline_hours"],
            "properties": {
                "slack_conn_id": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"},
                "publish_deadline_hours": {"type": "number", "exclusiveMinimum": 0, "maximum": 72},
            },
        },
    },
}


class ConfigError(ValueError):
    """Configuration that cannot be used; the message lists every problem, each with its path."""


def validate(document: Any, schema: dict[str, Any], source: str) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    problems = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if problems:
        lines = [f"- {'.'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}" for e in problems]
        raise ConfigError(f"{source} is invalid:\n" + "\n".join(lines))


def _pipeline_problems(pipeline: str, document: dict[str, Any]) -> list[str]:
    """Names the schema cannot know: a pipeline package may check its settings against its job scripts and
    extracts with ``batchml.<pipeline>.contract.settings_problems`` (each problem ``path: message``)."""
    import importlib

    try:
        contract = importlib.import_module(f"batchml.{pipeline}.contract")
    except ModuleNotFoundError:
        return []
    return contract.settings_problems(document)


def unknown_task_ids(settings: PipelineSettings, task_ids: set[str]) -> None:
    """``timeouts_minutes`` may only name tasks of the DAG (and ``default``): a misspelt task id would
    silently give that task the default timeout."""
    unknown = sorted(set(settings["timeouts_minutes"]) - task_ids - {"default"})
    if unknown:
        raise ConfigError(f"{settings.source} is invalid:\n" + "\n".join(
            f"- timeouts_minutes.{name}: no task {name!r} in {settings.name} (its tasks: {', '.join(sorted(task_ids))})"
            for name in unknown))


class PipelineSettings:
    """The validated settings file. A plain class: it is built while the DAG is parsed, where every
    millisecond is paid on each parse (a dataclass definition alone costs about one)."""

    def __init__(self, raw: dict[str, Any], source: str):
        self.raw, self.source = raw, source

    @classmethod
    def load(cls, pipeline: str, path: Path | None = None) -> PipelineSettings:
        import yaml

        # BATCHML_CONFIG_DIR lets a deployment (or a test) keep its settings files elsewhere.
        config_dir = Path(os.environ.get("BATCHML_CONFIG_DIR") or INCLUDE_DIR / "config")
        path = path or config_dir / f"{pipeline}.yaml"
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster, parse time counts
        try:
            document = yaml.load(path.read_text(), Loader=loader)  # noqa: S506 (a safe loader)
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"cannot read pipeline settings {path}: {e}") from None
        validate(document, _SETTINGS_SCHEMA, str(path))
        if document["pipeline"] != pipeline:
            raise ConfigError(f"{path}: pipeline is {document['pipeline']!r}, expected {pipeline!r}")
        problems = _pipeline_problems(pipeline, document)
        if problems:
            raise ConfigError(f"{path} is invalid:\n" + "\n".join(f"- {p}" for p in problems))
        return cls(document, str(path))

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    @property
    def name(self) -> str:
        return self.raw["pipeline"]

    @property
    def start_date(self):
        from datetime import UTC, datetime

        return datetime.fromisoformat(self.raw["start_date"]).replace(tzinfo=UTC)

    def retry_args(self) -> dict[str, Any]:
        """Task retry arguments. BATCHML_RETRY_DELAY_SECONDS / BATCHML_MAX_RETRY_DELAY_SECONDS shorten
        the delays for the sandbox and tests (`airflow dags test` really sleeps through them)."""
        r = self.raw["retries"]
        delay = float(os.environ.get("BATCHML_RETRY_DELAY_SECONDS", r["delay_seconds"]))
        max_delay = float(os.environ.get("BATCHML_MAX_RETRY_DELAY_SECONDS", r["max_delay_seconds"]))
        return {
            "retries": r["count"],
            "retry_delay": timedelta(seconds=delay),
            "retry_exponential_backoff": float(r["backoff"]),
            "max_retry_delay": timedelta(seconds=max_delay),
        }

    def timeout(self, task_id: str) -> timedelta:
        minutes = self.raw["timeouts_minutes"]
        return timedelta(minutes=minutes.get(task_id, minutes["default"]))
