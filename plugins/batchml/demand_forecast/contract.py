"""The job scripts' contract (``include/scripts/demand_forecast/contract.py``) seen from Airflow, and the
checks of the pipeline settings against it.

The scripts' file is the one source of what ``train.py`` accepts, of the extracts' columns and of the history a
run needs. It is loaded here by path, because the scripts are not a package the plugins can import, and it
imports only the standard library, so loading it while the DAG is parsed costs well under a millisecond.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING

from batchml.config import INCLUDE_DIR

if TYPE_CHECKING:
    from batchml.config import PipelineSettings

SCRIPT = INCLUDE_DIR / "scripts" / "demand_forecast" / "contract.py"


@cache
def scripts() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demand_forecast_script_contract", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def min_history_days(settings: PipelineSettings) -> int:
    model = settings.model
    return scripts().min_history_days(model.training_origins_days, model.horizon_days)


def settings_problems(settings: PipelineSettings) -> list[str]:
    """``path: problem`` for every name in the settings that the scripts or the extracts do not have, and
    for a default history too short for the model (called by ``PipelineSettings.load``)."""
    c = scripts()
    problems = [f"model.hyperparameters.{name}: {problem}"
                for name, problem in c.hyperparameter_problems(dict(settings.model.hyperparameters))]
    quality = settings.quality
    columns = ", ".join(c.TRAINING_COLUMNS)
    for i, column in enumerate(quality.required_columns):
        if column not in c.TRAINING_COLUMNS:
            problems.append(f"quality.required_columns.{i}: {column!r} is not a column of the training extract "
                            f"({columns})")
    for column in quality.max_null_fraction:
        if column not in c.TRAINING_COLUMNS:
            problems.append(f"quality.max_null_fraction.{column}: not a column of the training extract ({columns})")
    needed = min_history_days(settings)
    if settings.data.history_days < needed:
        problems.append(f"data.history_days: {settings.data.history_days} is too short: "
                        f"{_history_needs(settings)} need {needed}")
    return problems


def _history_needs(settings: PipelineSettings) -> str:
    model = settings.model
    return (f"{model.training_origins_days} training origins, the {model.horizon_days}-day holdout, "
            f"{scripts().LAG_DAYS} days of lags and D")
