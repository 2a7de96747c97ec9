"""A real Airflow (scheduler, dag-processor, triggerer, api-server) and the sandbox, on loopback ports."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from sandbox.profile import pipeline_environment
from tests import fast_settings
from tests.conftest import REPO
from tests.e2e.conftest import TEST_ENV
from tools.stack import Stack, _unused_port

ARTIFACTS = REPO / "test-artifacts"
# Sales data ends the day before yesterday. Unpausing the DAG makes the scheduler create the run for
# yesterday, which then waits (deferred) for yesterday's sales, as production would before they land.
SEED_END = datetime.now(UTC).date() - timedelta(days=2)
DAYS = [SEED_END - timedelta(days=k) for k in (2, 1, 0)]
POOL_SLOTS = 2  # smaller than the backfill's parallelism, so the pool visibly bounds it


def stack_arguments(tmp_path_factory, seed_end: date, **env: str) -> dict:
    """What a test stack (tools/stack.py's Stack, or ProdStack) is built with: ports the OS picks, the fast
    settings, the pipeline's environment Variable with the pool's quota, and the sandbox's job quota."""
    variable = {**pipeline_environment(), "sagemaker_job_quota": POOL_SLOTS}
    # The fast settings (a cheaper model) and short retry delays, as in tests/e2e: these tests check
    # scheduling, backfills, pools and alerts, not the model.
    settings = fast_settings.write(tmp_path_factory.mktemp("fast-settings"))
    # Ports the OS picks: a fixed preferred port is taken by whichever of two stacks starting at once (another
    # checkout's tests) binds first, and the other's health check then reads the wrong api-server.
    return {"api_port": _unused_port(), "sandbox_port": _unused_port(), "seed_end": seed_end.isoformat(),
            "password": secrets.token_urlsafe(12),
            "env": {"AIRFLOW_VAR_DEMAND_FORECAST_ENV": json.dumps(variable), "BATCHML_CONFIG_DIR": str(settings),
                    **TEST_ENV, **env},
            # The sandbox's job quota is the pool's size, as the deploy sizes the pool from the account's
            # quota: a task the pool let through too many would meet a real ResourceLimitExceeded.
            "sandbox_args": ("--max-concurrent-jobs", str(POOL_SLOTS))}


def serve(stack, log_name: str, lines: int):
    """Start a test stack with demand_forecast unpaused, yield it, stop it and keep its log's tail."""
    try:
        stack.start()
        stack.api("PATCH", "/dags/demand_forecast", {"is_paused": False})
        yield stack
    finally:
        stack.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / log_name).write_text(stack.log_tail(lines))


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    yield from serve(Stack(tmp_path_factory.mktemp("stack"), **stack_arguments(tmp_path_factory, SEED_END)),
                     "scheduler-airflow.log", 4000)


def wait_for(predicate, timeout: float, interval: float = 3, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def backfill(stack: Stack, first: date, last: date, reprocess: str = "none", max_active_runs: int = 3,
             dag_id: str = "demand_forecast") -> dict:
    """The stack's own backfill (`tools/stack.py backfill`), which pauses the DAG meanwhile."""
    return stack.create_backfill(first, last, reprocess=reprocess, max_active_runs=max_active_runs, dag_id=dag_id)


def wait_backfill(stack: Stack, backfill_id: int, timeout: float = 1500) -> dict:
    return wait_for(lambda: (b := stack.api("GET", f"/backfills/{backfill_id}")) and b.get("completed_at") and b,
                    timeout, what=f"backfill {backfill_id} to complete")


def runs(stack: Stack, dag_id: str = "demand_forecast") -> dict[str, dict]:
    """The DAG's runs by partition day (logical date), backfill runs only."""
    found = stack.api("GET", f"/dags/{dag_id}/dagRuns?limit=100&run_type=backfill")["dag_runs"]
    return {r["logical_date"][:10]: r for r in found}


def task_states(stack: Stack, run_id: str) -> dict[str, str]:
    from urllib.parse import quote

    tis = stack.api("GET", f"/dags/demand_forecast/dagRuns/{quote(run_id, safe='')}/taskInstances")["task_instances"]
    return {t["task_id"]: t["state"] for t in tis}


def delete_slack_messages(stack: Stack, messages: list[dict]) -> None:
    """Delete messages through Slack's own chat.delete, as the bot that posted them."""
    from slack_sdk import WebClient

    from sandbox import profile

    slack = WebClient(token=profile.SLACK_TOKEN, base_url=f"{stack.endpoint}/_sandbox/slack/api/")
    for m in messages:
        slack.chat_delete(channel=m["channel"], ts=m["ts"])


def send_schedulers_callback(stack: Stack, run_id: str, task_id: str, dag_id: str = "demand_forecast",
                             map_index: int = -1) -> None:
    """What the scheduler does when the executor reports a failure the task instance did not record
    (SchedulerJobRunner._process_executor_events): a TaskCallbackRequest for the same task instance and try,
    through the executor's callback sink, which the dag-processor then runs. The context it builds has no
    exception, as when Airflow fails a try itself."""
    import subprocess
    import sys

    code = f"""
from airflow.api_fastapi.execution_api.datamodels.taskinstance import DagRun as DRDataModel, TIRunContext
from airflow.callbacks.callback_requests import TaskCallbackRequest
from airflow.callbacks.database_callback_sink import DatabaseCallbackSink
from airflow.models.taskinstance import TaskInstance
from airflow.utils.session import create_session
from airflow.utils.state import TaskInstanceState

with create_session() as session:
    ti = session.query(TaskInstance).filter_by(dag_id={dag_id!r}, run_id={run_id!r}, task_id={task_id!r},
                                               map_index={map_index!r}).one()
    request = TaskCallbackRequest(
        filepath=ti.dag_model.relative_fileloc or "", bundle_name=ti.dag_version.bundle_name,
        bundle_version=ti.dag_run.bundle_version, ti=ti, task_callback_type=TaskInstanceState.FAILED,
        msg="Executor reported that the task instance finished with state failed (test)",
        context_from_server=TIRunContext(dag_run=DRDataModel.model_validate(ti.dag_run, from_attributes=True),
                                         max_tries=ti.max_tries, variables=[], connections=[], xcom_keys_to_clear=[]))
    DatabaseCallbackSink().send(request, session=session)
"""
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env=stack.env(), check=True, capture_output=True,
                   text=True, timeout=120)


os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


# --- the browser (headless Chromium), for the UI tests -----------------------------------------------------
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def page(stack):
    from playwright.sync_api import sync_playwright

    assert shutil.which("chromium") or os.path.exists(CHROMIUM), (
        "the UI test needs Debian's Chromium: apt-get install chromium (.ci/run does)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{stack.url}/", wait_until="networkidle")
        # The UI asks for a login first. The SPA redirects only after its first API call answers 401, which on a
        # busy machine can come after "networkidle" (a CI run saw the page still at "/"), so wait for the redirect.
        page.wait_for_url(re.compile(r"/auth/login"), timeout=30_000)
        user, password = stack.login()
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", password)
        page.click("button:has-text('Sign in')")
        page.wait_for_url(re.compile(rf"^{re.escape(stack.url)}/(?!auth)"), timeout=30_000)
        yield page
        browser.close()
