"""The pipeline settings that orchestration tests (e2e, scheduler, production stack) run with.

They are the shipped `include/config/demand_forecast.yaml` with one change: a cheaper model. Training time is
linear in `max_iter`, and those tests check orchestration (retries, reruns, backfills, alerts, publishing),
not model quality. The shipped hyperparameters stay covered by the config and job-script tests, and one e2e
run keeps them (`test_shipped_settings_*`). Point `BATCHML_CONFIG_DIR` at `write(tmp_dir)`.
"""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "include" / "config" / "demand_forecast.yaml"
FAST_MAX_ITER = 60


def write(directory: Path) -> Path:
    """Write the fast settings into `directory` and return it (the value for BATCHML_CONFIG_DIR)."""
    settings = yaml.safe_load(SHIPPED.read_text())
    settings["model"]["hyperparameters"]["max_iter"] = FAST_MAX_ITER
    directory.mkdir(parents=True, exist_ok=True)
    (directory / SHIPPED.name).write_text(yaml.safe_dump(settings, sort_keys=False))
    return directory
