"""A seeded sandbox and an Airflow home pointed at it, shared by the end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests import fast_settings
from tests.conftest import REPO, SandboxHandle, airflow_home_from, start_sandbox, stop_sandbox

# The last seeded day is yesterday (UTC), as in production: a run for D needs D to be over.
LAST_DAY = datetime.now(UTC).date() - timedelta(days=1)


# What every run here is given unless a test overrides it: the fast settings (a cheaper model; see
# tests/fast_settings.py) and short retry delays. Tries, backoff and caps are asserted by the DAG policy tests;
# waiting out production delays (about 70 s over this file) would test nothing more.
TEST_ENV = {"BATCHML_RETRY_DELAY_SECONDS": "1", "BATCHML_MAX_RETRY_DELAY_SECONDS": "2"}


@dataclass
class Pipeline:
    sandbox: SandboxHandle
    airflow_home: Path
    logs: Path
    settings_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        from sandbox.profile import airflow_database

        return {**self.sandbox.env(), "AIRFLOW_HOME": str(self.airflow_home), **airflow_database(self.airflow_home),
                "BATCHML_CONFIG_DIR": str(self.settings_dir), **TEST_ENV, **extra}

    def settings(self) -> dict:
        """The settings the runs here use (a copy: edit it and write it elsewhere for one run)."""
        import yaml

        return yaml.safe_load((self.settings_dir / "demand_forecast.yaml").read_text())

    def airflow(self, *args: str, check: bool = True, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "airflow", *args], cwd=REPO, env=self.env(**extra_env),
                              capture_output=True, text=True, check=check)

    def dags_test(self, day: date, *, unset: tuple[str, ...] = (), **extra_env: str) -> tuple[int, str]:
        """`airflow dags test demand_forecast <day>`, without the variables named in `unset`; returns
        (exit code, log text)."""
        log = self.logs / f"dags-test-{day}-{len(list(self.logs.iterdir()))}.log"
        env = {k: v for k, v in self.env(**extra_env).items() if k not in unset}
        with log.open("w") as f:
            proc = subprocess.run([sys.executable, "-m", "airflow", "dags", "test", "demand_forecast", day.isoformat()],
                                  cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT, timeout=900)
        return proc.returncode, log.read_text()

    @contextmanager
    def faults(self) -> Iterator:
        """Yields the sandbox's control client; every fault injected inside the block is cleared when it ends,
        even when the run under it fails, so the next test starts from a healthy sandbox."""
        try:
            yield self.sandbox.client
        finally:
            self.sandbox.client.clear_faults()

    def inspect(self, day: date) -> dict:
        from tools.inspect_run import inspect_partition

        return inspect_partition(self.sandbox.endpoint, day.isoformat())

    def task_states(self, run_log: str) -> dict[str, str]:
        """Final state per task of the run `dags test` just made, read from the metadata DB in this process
        (read-only), instead of starting the Airflow CLI for each question."""
        import re

        run_id = re.search(r"DagRun Finished: .*? run_id=([^,]+),", run_log).group(1)
        return dict(self.query("SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
                               "demand_forecast", run_id))

    def query(self, sql: str, *params) -> list[tuple]:
        """Rows from the Airflow metadata DB (SQLite), opened read-only."""
        import sqlite3

        db = sqlite3.connect(f"file:{self.airflow_home / 'airflow.db'}?mode=ro", uri=True)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory, migrated_airflow_db) -> Pipeline:
    state = tmp_path_factory.mktemp("e2e-sandbox")
    proc, sandbox = start_sandbox(state)
    try:
        # A copy of the session's migrated DB: the seeding step's own `airflow db migrate` then has
        # nothing left to do.
        home = airflow_home_from(migrated_airflow_db, tmp_path_factory.mktemp("airflow-home"))
        logs = tmp_path_factory.mktemp("e2e-logs")
        p = Pipeline(sandbox, home, logs, fast_settings.write(tmp_path_factory.mktemp("fast-settings")))
        # The documented seeding step, which also migrates the Airflow DB and creates the pool.
        subprocess.run([sys.executable, "-m", "sandbox", "seed", "--port", sandbox.endpoint.rsplit(":", 1)[1],
                        "--end-date", LAST_DAY.isoformat()], cwd=REPO, env=p.env(), check=True, capture_output=True,
                       text=True)
        yield p
        violations = sandbox.client.stats()["shape_violations"]
        assert not violations, violations
    finally:
        stop_sandbox(proc)


def alerts(pipeline: Pipeline, day: date) -> list[dict]:
    return [m for m in pipeline.sandbox.client.slack_messages() if day.isoformat() in (m.get("text") or "")]


os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
