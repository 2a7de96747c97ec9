"""The README's CLI backfill, run for real (`--dry-run`, so no scheduler is needed): exactly the requested days."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, date, datetime

from batchml.demand_forecast.plan import partition_day
from tests.conftest import REPO, airflow_home_from
from tools.demo import airflow_env


def test_cli_backfill_plans_one_run_per_requested_day(tmp_path, migrated_airflow_db):
    home = airflow_home_from(migrated_airflow_db, tmp_path / "airflow")  # as `airflow db migrate` leaves it
    env = airflow_env("http://127.0.0.1:9", home)  # parsing touches no endpoint

    def airflow(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "airflow", *args], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"airflow {' '.join(args)}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    airflow("dags", "reserialize")
    out = airflow("backfill", "create", "--dag-id", "demand_forecast", "--from-date", "2026-11-10",
                  "--to-date", "2026-11-12", "--dry-run")

    planned = [datetime.fromisoformat(d) for d in re.findall(r"^\| (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00) ", out, re.M)]
    assert [partition_day(d, datetime(2026, 11, 21, tzinfo=UTC)) for d in planned] == [
        date(2026, 11, 10), date(2026, 11, 11), date(2026, 11, 12)], out
