"""What the job scripts and the Airflow side must agree on, in one place.

Standard library only: the scripts import it inside the container, and the DAG reads it while it is parsed
(``batchml.demand_forecast.contract`` loads this file by path), so a hyperparameter the script does not take,
or a history too short for the training origins, is a DAG import error instead of a job that fails later.

**How a script says "retrying cannot help".** A script that finds its inputs or arguments unusable (a
validation error, not a crash) writes one line starting with ``NonRetryableError:`` to the file SageMaker
reports back, then exits non-zero:

- a training job: ``/opt/ml/output/failure`` (``SM_OUTPUT_DIR``), which SageMaker returns as ``FailureReason``;
- a processing job: ``/opt/ml/output/message``, which SageMaker returns as ``ExitMessage``.

The job operators fail such a task at once (``AirflowFailException``: no retry, one page with the reason).
Any other failure (no marker: out of memory, a lost instance, S3 throttling) keeps its retries. A marker in a
file is used rather than an exit code because SageMaker's Describe APIs do not report the exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path

NON_RETRYABLE = "NonRetryableError:"

# The extracts' columns, in order (include/sql/demand_forecast/extract_*.sql; a unit test parses the SQL
# and checks it against these).
TRAINING_COLUMNS = ("store_id", "item_id", "sales_date", "units_sold", "unit_price", "on_promotion", "is_holiday")
SCORING_COLUMNS = ("store_id", "item_id", "forecast_date", "is_holiday", "on_promotion")

# Days of sales before the first training origin that the features need (mean_28 looks back 28 days).
LAG_DAYS = 28

# Every hyperparameter train.py accepts: its type, its valid range and its default. train.py builds its
# argument parser from this; the pipeline settings are validated against it.
HYPERPARAMETERS: dict[str, dict] = {
    "max_iter": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 300,
                 "help": "boosting iterations (training time is linear in it)"},
    "learning_rate": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.08,
                      "help": "shrinkage per iteration"},
    "max_leaf_nodes": {"type": "integer", "minimum": 2, "maximum": 4096, "default": 63,
                       "help": "leaves per tree"},
    "min_samples_leaf": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 40,
                         "help": "examples per leaf"},
    "l2_regularization": {"type": "number", "minimum": 0, "maximum": 1000, "default": 1.0,
                          "help": "L2 penalty on leaf values"},
}


def min_history_days(training_origins_days: int, horizon_days: int) -> int:
    """Days of history a run needs: the lags before the first origin, the origins, the holdout week, and D."""
    return LAG_DAYS + training_origins_days + horizon_days + 1


def hyperparameter_problems(values: dict) -> list[tuple[str, str]]:
    """(name, problem) for every value train.py would refuse; empty when all are accepted."""
    problems = []
    for name, value in values.items():
        spec = HYPERPARAMETERS.get(name)
        if spec is None:
            problems.append((name, f"train.py takes no hyperparameter {name!r} "
                                   f"(it takes {', '.join(sorted(HYPERPARAMETERS))})"))
            continue
        problem = _value_problem(value, spec)
        if problem:
            problems.append((name, problem))
    return problems


def _value_problem(value, spec: dict) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{value!r} is not a {spec['type']}"
    if spec["type"] == "integer" and not float(value).is_integer():
        return f"{value!r} is not an integer"
    if "minimum" in spec and value < spec["minimum"]:
        return f"{value!r} is below the minimum {spec['minimum']}"
    if "exclusiveMinimum" in spec and value <= spec["exclusiveMinimum"]:
        return f"{value!r} must be above {spec['exclusiveMinimum']}"
    if "maximum" in spec and value > spec["maximum"]:
        return f"{value!r} is above the maximum {spec['maximum']}"
    return None


def parse_hyperparameter(name: str, text: str):
    """A hyperparameter as SageMaker passes it (a string) in its declared type."""
    spec = HYPERPARAMETERS[name]
    return int(float(text)) if spec["type"] == "integer" and float(text).is_integer() else float(text)


def fail_permanently(message: str, message_file: str | Path) -> None:
    """Report an error that no retry can fix (see the module docstring) and exit non-zero."""
    line = f"{NON_RETRYABLE} {message}"
    try:
        path = Path(message_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(line[:1000])
    except OSError as e:  # the exit status still fails the job; only the "do not retry" hint is lost
        print(f"could not write {message_file}: {e}", file=sys.stderr)
    print(line, file=sys.stderr)
    raise SystemExit(1)
