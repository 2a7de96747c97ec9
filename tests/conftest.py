"""Shared fixtures: the real sandbox server, started once per session on a free loopback port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sandbox.client import SandboxClient  # noqa: E402

REGION = "us-east-1"


@dataclass
class SandboxHandle:
    endpoint: str
    state_dir: Path
    client: SandboxClient
    log_path: Path

    def boto3_client(self, service: str, **kwargs):
        import boto3
        from botocore.config import Config

        kwargs.setdefault("config", Config(retries={"mode": "standard", "total_max_attempts": 4}))
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=kwargs.pop("region_name", REGION),
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",
            **kwargs,
        )

    def env(self) -> dict[str, str]:
        """os.environ plus what points boto3 and Airflow at this sandbox."""
        from sandbox.profile import environment

        return {**os.environ, **environment(self.endpoint)}

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text().splitlines()[-lines:])


def start_sandbox(state_dir: Path, *extra_args: str) -> tuple[subprocess.Popen, SandboxHandle]:
    state_dir.mkdir(parents=True, exist_ok=True)
    ready = state_dir / "ready.json"
    log_path = state_dir / "server.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--port", "0", "--state-dir", str(state_dir),
         "--validate-responses", "--ready-file", str(ready), *extra_args],
        cwd=REPO, stdout=log_path.open("w"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"sandbox did not start:\n{log_path.read_text()}")
        time.sleep(0.05)
    endpoint = json.loads(ready.read_text())["endpoint"]
    client = SandboxClient(endpoint)
    client.wait_until_up(10)
    return proc, SandboxHandle(endpoint, state_dir, client, log_path)


def stop_sandbox(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory) -> SandboxHandle:
    """The real sandbox server. Every response it produces is checked against botocore's models;
    the session fails if any response departed from them. Its job quota is 8 per type, not 4: the modules
    that share it leave jobs finishing in the background, and a refusal of one module's Create because of
    another's jobs would be flakiness, not a finding (the quota has its own tests, with their own servers)."""
    proc, handle = start_sandbox(tmp_path_factory.mktemp("sandbox"), "--max-concurrent-jobs", "8")
    yield handle
    violations = handle.client.stats()["shape_violations"]
    stop_sandbox(proc)
    assert not violations, "sandbox responses that botocore's model does not allow:\n" + "\n".join(violations)


@pytest.fixture(scope="session")
def migrated_airflow_db(tmp_path_factory) -> Path:
    """An Airflow metadata DB (SQLite) migrated once per test session, for tests to copy into their own
    AIRFLOW_HOME (`airflow_home_from`). Migrating costs about 30 s of CPU; copying the file costs nothing.
    Shared by all xdist workers: the first to get the lock migrates it."""
    import fcntl
    import shutil

    root = tmp_path_factory.getbasetemp().parent if os.environ.get("PYTEST_XDIST_WORKER") \
        else tmp_path_factory.getbasetemp()
    template = root / "airflow-db-template"
    template.mkdir(exist_ok=True)
    db = template / "airflow.db"
    with (template / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not db.exists():
            home = template / "home"
            env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
            env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
            subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], cwd=REPO, env=env, check=True,
                           capture_output=True, text=True)
            shutil.copy(home / "airflow.db", db.with_suffix(".tmp"))
            db.with_suffix(".tmp").rename(db)  # complete or absent, never half-written
    return db


def airflow_home_from(template_db: Path, home: Path) -> Path:
    """A new AIRFLOW_HOME whose metadata DB is a copy of the migrated template."""
    import shutil

    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(template_db, home / "airflow.db")
    return home


@pytest.fixture
def aws(sandbox):
    """boto3 client factory for the session sandbox: aws('s3'), aws('sagemaker'), ..."""
    return sandbox.boto3_client


@pytest.fixture
def unique(request) -> str:
    """A short name unique to this test, usable in bucket, job and table names."""
    import hashlib

    return "t" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:10]


# --- Running the suite side by side (pytest-xdist) -------------------------------------------------------
# tests/scheduler and tests/prod each share one whole Airflow stack (a session fixture) across their modules:
# each is one unit of work, on one worker, so the stack starts once. Every other module is its own unit; e2e
# modules each get the seeded sandbox of the worker they land on (session-scoped per worker) and use distinct days, so two e2e
# modules on two workers run side by side. The slow units start first, because the suite's wall time is set
# by the longest of them.
SHARED_DIRECTORIES = ("tests/scheduler", "tests/prod")
# Modules in those directories that start their own servers instead of the shared fixture.
OWN_SERVERS = ("tests/scheduler/test_make_airflow.py",)
SLOW_FIRST = ("tests/prod", "tests/scheduler", "tests/e2e")


def group_of(nodeid: str) -> str:
    """The unit of work a test belongs to: its shared directory, or else its module."""
    path = nodeid.split("::", 1)[0]
    for directory in SHARED_DIRECTORIES:
        if path.startswith(directory + "/") and path not in OWN_SERVERS:
            return directory
    return path


def pytest_collection_modifyitems(config, items):
    # Slow units first (stable otherwise): xdist hands out units in collection order.
    def rank(item) -> int:
        return next((i for i, d in enumerate(SLOW_FIRST) if item.nodeid.startswith(d + "/")), len(SLOW_FIRST))

    items.sort(key=rank)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Schedule by `group_of`. pytest-xdist's own `--dist loadgroup` reads `xdist_group` marks from
    `item._nodeid`, which pytest 9 no longer has, so its groups silently fall apart; loadscope with our
    own scope function keeps each long group on one worker."""
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return GroupScheduling(config, log)
