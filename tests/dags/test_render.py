"""`airflow tasks render demand_forecast <task> <date>`, through Airflow's own CLI code, for every task.

Operators take the plan and upstream results as XComArgs that resolve when the task runs, and so do the
TaskFlow tasks (batchml.decorators): rendering needs no XCom, which Airflow 3.3.2's CLI cannot pull
(`XComArg.resolve` needs the task supervisor: "cannot import name 'SUPERVISOR_COMMS'", apache/airflow#59093),
and shows what the task's templates hold, an upstream argument as the XComArg it is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO, airflow_home_from

SCRIPT = """
import contextlib, io, json, sys
from airflow.cli import cli_parser
from airflow.dag_processing.dagbag import DagBag

dag_id = sys.argv[2]
tasks = DagBag(dag_folder=sys.argv[1]).dags[dag_id].task_ids
parser = cli_parser.get_parser()
results = {}
for task_id in tasks:
    args = parser.parse_args(["tasks", "render", dag_id, task_id, "2026-11-20"])
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            args.func(args)
        results[task_id] = {"ok": True, "output": out.getvalue()}
    except Exception as e:
        results[task_id] = {"ok": False, "output": f"{type(e).__name__}: {e}"}
print("RESULTS=" + json.dumps(results))
"""


def _render_all(tmp_path, migrated_airflow_db, dag_id: str) -> dict[str, dict]:
    home = airflow_home_from(migrated_airflow_db, tmp_path / "home")
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"), "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins")}
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(REPO / "dags"), dag_id], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert "RESULTS=" in done.stdout, done.stderr[-3000:]
    return json.loads(done.stdout.split("RESULTS=", 1)[1])


def _check(results: dict[str, dict]) -> None:
    for task_id, result in results.items():
        assert result["ok"], (task_id, result["output"][-2000:])
        assert "# property: " in result["output"], task_id


def test_every_task_renders(tmp_path, migrated_airflow_db):
    results = _render_all(tmp_path, migrated_airflow_db, "demand_forecast")
    assert len(results) == 15
    _check(results)
    # A TaskFlow task's upstream arguments show as the XComArgs they are, resolved only when the task runs.
    for task_id, upstream in {"check_data_quality": ("prepare_run", "profile_extracts"),
                              "find_champion": ("prepare_run",), "gate": ("prepare_run", "evaluate"),
                              "keep_champion": ("prepare_run", "gate")}.items():
        shown = results[task_id]["output"].split("# property: op_args", 1)[1]
        assert all("XComArg(<Task(" in shown and f"): {u}>" in shown for u in upstream), (task_id, shown[:800])
    # What the templates hold is shown: the Athena task's SQL file, read through the template search path.
    assert "-- demand_forecast:" in results["extract_training"]["output"]


def test_every_forecast_monitoring_task_renders(tmp_path, migrated_airflow_db):
    results = _render_all(tmp_path, migrated_airflow_db, "forecast_monitoring")
    assert len(results) == 8
    _check(results)
    assert "): prepare_run>" in results["judge"]["output"], results["judge"]["output"][:800]
    for task_id in ("measure_accuracy", "measure_drift", "read_alert_inputs"):
        assert "-- forecast_monitoring:" in results[task_id]["output"], task_id
