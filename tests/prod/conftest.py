"""The production shape (tools/prod_stack.py: PostgreSQL, Redis, CeleryExecutor with two workers, each Airflow
component a process of its own) and the sandbox, started once for the tier, with the DAG unpaused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import pytest

# The scheduler tier's helpers work on any Stack: its backfill wait, and its backfill runs by partition day.
from tests.scheduler.conftest import runs as backfill_runs  # noqa: F401
from tests.scheduler.conftest import serve, stack_arguments, wait_backfill, wait_for  # noqa: F401
from tools.prod_stack import ProdStack

# Sales end the day before yesterday: the run the scheduler makes for yesterday waits for sales (deferred in
# the triggerer) and never reaches SageMaker, so every SageMaker job here belongs to a day a test backfilled.
SEED_END = datetime.now(UTC).date() - timedelta(days=2)
# How long a task may go without a heartbeat before the scheduler counts it lost (Airflow's default: 300 s).
# Short here so that a killed worker's task is retried within the test; the README says what to use in production.
HEARTBEAT_TIMEOUT = 30


@pytest.fixture(scope="session")
def prod(tmp_path_factory) -> ProdStack:
    arguments = stack_arguments(tmp_path_factory, SEED_END,
                                AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT=str(HEARTBEAT_TIMEOUT))
    yield from serve(ProdStack(tmp_path_factory.mktemp("prod"), **arguments), "prod-stack.log", 400)


def create_backfill(stack: ProdStack, first: date, last: date, reprocess: str = "none",
                    max_active_runs: int = 3) -> dict:
    """Through the REST API, with the DAG unpaused (ProdStack.pause_for_backfill is False: on PostgreSQL the
    scheduler and the api-server do not race for SQLite's lock)."""
    return stack.create_backfill(first, last, reprocess=reprocess, max_active_runs=max_active_runs)


def task_instances(stack: ProdStack, run_id: str) -> dict[str, dict]:
    tis = stack.api("GET", f"/dags/demand_forecast/dagRuns/{quote(run_id, safe='')}/taskInstances")
    return {t["task_id"]: t for t in tis["task_instances"]}


def sagemaker_jobs(stack: ProdStack, day: date) -> dict[str, list[str]]:
    """The SageMaker jobs of one partition day by step (preprocess, train, evaluate, predict), from the job
    names (batchml.naming: demand-forecast-<step>-<yyyymmdd>-<n>)."""
    import boto3

    sm = boto3.client("sagemaker", endpoint_url=stack.endpoint, region_name="us-east-1",
                      aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
    names = [j["ProcessingJobName"] for j in sm.list_processing_jobs(MaxResults=100)["ProcessingJobSummaries"]]
    names += [j["TrainingJobName"] for j in sm.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]]
    names += [j["TransformJobName"] for j in sm.list_transform_jobs(MaxResults=100)["TransformJobSummaries"]]
    by_step: dict[str, list[str]] = {}
    for name in names:
        prefix, _, _ = name.rpartition("-")
        step, _, compact = prefix.removeprefix("demand-forecast-").rpartition("-")
        if compact == f"{day:%Y%m%d}":
            by_step.setdefault(step, []).append(name)
    return by_step


def messages(stack: ProdStack) -> list[dict]:
    """Slack messages that mention on-call, leaving out the deadline page of the scheduled run that waits
    for sales (it pages after 08:00 UTC by design; tests/scheduler checks that)."""
    from sandbox.client import SandboxClient

    return [m for m in SandboxClient(stack.endpoint).slack_messages()
            if (m.get("metadata") or {}).get("event_payload", {}).get("kind") != "deadline"]
