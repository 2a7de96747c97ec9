"""demand_forecast on the production shape (PostgreSQL, Redis, CeleryExecutor with two workers, each component a
process of its own), and the deployment's own failures: a worker and the triggerer killed with SIGKILL mid-run.

Each test backfills one day of its own (in date order: a day's champion is the previous day's model) through
the REST API with the DAG unpaused, and asserts the SageMaker jobs per (partition, step), the Glue partition,
the model versions, the Slack messages and the final states. They share one stack and run in order.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from tests.prod.conftest import (
    SEED_END,
    backfill_runs,
    create_backfill,
    messages,
    sagemaker_jobs,
    task_instances,
    wait_backfill,
)
from tests.scheduler.conftest import ARTIFACTS, wait_for
from tools.inspect_run import inspect_partition

pytestmark = pytest.mark.prod
DAYS = [SEED_END - timedelta(days=k) for k in (4, 3, 2)]
STEPS = {"preprocess", "train", "evaluate", "predict"}
METRICS: dict = {}


def _save_metrics() -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "prod-metrics.json").write_text(json.dumps(METRICS, indent=2))


def _published_once(prod, day) -> dict:
    """The day's run succeeded, with one SageMaker job per step, one model version and one Glue partition."""
    run = backfill_runs(prod)[day.isoformat()]
    assert run["state"] == "success", (run["state"], {t: i["state"] for t, i in task_instances(prod, run["dag_run_id"]).items()})
    jobs = sagemaker_jobs(prod, day)
    assert {step: len(names) for step, names in jobs.items()} == dict.fromkeys(STEPS, 1), jobs
    report = inspect_partition(prod.endpoint, day.isoformat())
    assert report["model_versions_for_partition"] == 1
    assert report["partition"]["location"].endswith(f"/demand-forecast-predict-{day:%Y%m%d}-1/")
    import boto3

    glue = boto3.client("glue", endpoint_url=prod.endpoint, region_name="us-east-1",
                        aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
    values = [p["Values"][0] for p in glue.get_partitions(DatabaseName="demand_forecast",
                                                          TableName="predictions")["Partitions"]]
    assert values.count(day.isoformat()) == 1
    return run


def _task_log(prod, run_id: str, task_id: str, attempt: int) -> str:
    path = prod.airflow_home / "logs" / "dag_id=demand_forecast" / f"run_id={run_id}" / f"task_id={task_id}" / \
        f"attempt={attempt}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def test_a_day_end_to_end_on_postgres_and_celery(prod):
    started = time.monotonic()
    created = create_backfill(prod, DAYS[0], DAYS[0])
    wait_backfill(prod, created["id"])
    METRICS["one_day_seconds"] = round(time.monotonic() - started, 1)
    _save_metrics()
    run = _published_once(prod, DAYS[0])
    # The tasks really ran on the Celery workers (their logs say which), not in the scheduler.
    worked = [n for n in (1, 2) if f"run_id={run['dag_run_id']}/" in prod.tail("airflow-worker-" + str(n), 100000)]
    assert worked, "no Celery worker ran a task of the run"
    assert messages(prod) == []


def test_worker_killed_while_its_task_waits_on_training_retries_and_reattaches(prod):
    """kill -9 of the worker (and its task processes) while `train` is in the worker with its training job
    running: the scheduler finds the task's heartbeat gone, the retry finds the job by its tags and attaches
    to it, the day publishes once, and nobody is paged (retries are silent; the task recovered)."""
    day = DAYS[1]
    created, run_id, worker = _train_held_in_a_worker(prod, day, job_seconds=90)
    assert task_instances(prod, run_id)["train"]["state"] == "running"  # in the worker, not deferred
    prod.kill(f"airflow-worker-{worker}")
    killed_at = time.monotonic()
    prod.restart(f"airflow-worker-{worker}")  # as compose's `restart: always` would
    wait_for(lambda: task_instances(prod, run_id)["train"]["try_number"] >= 2, 300, what="train's retry")
    METRICS["worker_kill_to_retry_seconds"] = round(time.monotonic() - killed_at, 1)
    wait_backfill(prod, created["id"])
    _save_metrics()
    run = _published_once(prod, day)
    train = task_instances(prod, run["dag_run_id"])["train"]
    assert train["try_number"] == 2, train
    retry_log = _task_log(prod, run_id, "train", 2)
    assert f"Attaching to training job demand-forecast-train-{day:%Y%m%d}-1" in retry_log, retry_log[-3000:]
    assert messages(prod) == []


def _train_held_in_a_worker(prod, day, job_seconds: float) -> tuple[dict, str, int]:
    """Backfill `day` and return (the backfill, its run id, the worker) once the first try of `train` has
    started its training job and is still in that worker. The job runs `job_seconds` (long enough for a later
    try to find it running), and the task's first look at it is answered 60 s late, which holds the task in
    its worker instead of deferring."""
    from sandbox.client import SandboxClient

    sandbox = SandboxClient(prod.endpoint)
    sandbox.slow_job(f"demand-forecast-train-{day:%Y%m%d}-*", job_seconds)
    sandbox.add_fault(service="sagemaker", operation="DescribeTrainingJob", delay_seconds=60, count=1)
    created = create_backfill(prod, day, day)
    run_id = wait_for(lambda: (r := backfill_runs(prod).get(day.isoformat())) and r["dag_run_id"], 120,
                      interval=1, what="the backfill run")

    def holding() -> int | None:
        if not sagemaker_jobs(prod, day).get("train"):
            return None
        return next((n for n in (1, 2) if f"run_id={run_id}/task_id=train/attempt=1.log"
                     in prod.tail(f"airflow-worker-{n}", 100000)), None)

    return created, run_id, wait_for(holding, 600, interval=0.5, what="train's job to start from a worker")


def test_triggerer_killed_while_jobs_are_deferred_resumes_the_waits(prod):
    """kill -9 of the triggerer while `train` is deferred on its job; restarted, it picks the trigger up
    again: the task resumes without a retry, and no job is duplicated or left running."""
    from sandbox.client import SandboxClient

    day = DAYS[2]
    SandboxClient(prod.endpoint).slow_job(f"demand-forecast-train-{day:%Y%m%d}-*", 60)
    created = create_backfill(prod, day, day)
    run_id = wait_for(lambda: (r := backfill_runs(prod).get(day.isoformat())) and r["dag_run_id"], 120,
                      interval=1, what="the backfill run")
    wait_for(lambda: task_instances(prod, run_id)["train"]["state"] == "deferred", 600, interval=1,
             what="train to defer")
    prod.kill("airflow-triggerer")
    time.sleep(10)  # the job goes on without anyone watching it
    prod.restart("airflow-triggerer")
    wait_backfill(prod, created["id"])
    run = _published_once(prod, day)
    train = task_instances(prod, run["dag_run_id"])["train"]
    assert train["try_number"] == 1, train  # resumed, not retried
    assert messages(prod) == []
    running = [j for j in sagemaker_jobs(prod, day).get("train", [])]
    assert len(running) == 1


def _peak_jobs(prod) -> int:
    from sandbox.client import SandboxClient

    return SandboxClient(prod.endpoint).status()["sagemaker"]["peak_concurrent_jobs"]


BACKFILL_DAYS = [SEED_END - timedelta(days=k) for k in (9, 8, 7, 6, 5)]


def test_scheduler_killed_mid_backfill_restarts_and_finishes_it_once(prod):
    """kill -9 of the scheduler in the middle of a 5-day backfill, then a new one (compose's `restart: always`):
    it adopts the Celery tasks the dead one queued, and the backfill completes with one partition, one model
    version and one job per step for each day."""
    from sandbox.client import SandboxClient

    sandbox = SandboxClient(prod.endpoint)
    created = create_backfill(prod, BACKFILL_DAYS[0], BACKFILL_DAYS[-1], max_active_runs=3)
    # Mid-backfill: the first day's training job has started (runs of later days are under way beside it).
    wait_for(lambda: sagemaker_jobs(prod, BACKFILL_DAYS[0]).get("train"), 900, interval=2,
             what="the backfill's first training job")
    prod.kill("airflow-scheduler")
    time.sleep(5)
    prod.restart("airflow-scheduler")
    wait_backfill(prod, created["id"], timeout=1800)
    for day in BACKFILL_DAYS:
        _published_once(prod, day)
    # The pool (sagemaker_job_quota) bounded the jobs across the restart; the sandbox refuses any beyond it.
    assert _peak_jobs(prod) <= sandbox.status()["sagemaker"]["max_concurrent_jobs"]
    assert messages(prod) == []


def test_postgres_restarted_mid_run_the_components_reconnect(prod):
    """A PostgreSQL restart (pg_ctl restart, fast mode: every connection is cut) while a day runs. Which
    components survive it is recorded; any that exited is started again, as compose's `restart: always` does,
    and the run finishes."""
    from sandbox.client import SandboxClient

    day = SEED_END - timedelta(days=1)
    SandboxClient(prod.endpoint).slow_job(f"demand-forecast-train-{day:%Y%m%d}-*", 30)
    created = create_backfill(prod, day, day)
    run_id = wait_for(lambda: (r := backfill_runs(prod).get(day.isoformat())) and r["dag_run_id"], 120,
                      interval=1, what="the backfill run")
    wait_for(lambda: task_instances(prod, run_id)["train"]["state"] in ("running", "deferred"), 600, interval=1,
             what="train to start")
    prod.postgres.restart()
    time.sleep(20)
    exited = sorted(name for name, proc in prod.procs.items() if proc.poll() is not None)
    METRICS["components_exited_on_postgres_restart"] = exited
    _save_metrics()
    for name in exited:
        prod.restart(name)
    wait_backfill(prod, created["id"])
    _published_once(prod, day)
    assert messages(prod) == []


def test_reprocessing_completed_days_with_the_dag_unpaused(prod):
    """A `completed` reprocessing backfill created while the DAG is unpaused (the SQLite stack must pause it:
    README): on PostgreSQL the api-server and the scheduler take row locks, and the backfill is created at once."""
    days = DAYS
    before = {d: inspect_partition(prod.endpoint, d.isoformat()) for d in days}
    assert prod.api("GET", "/dags/demand_forecast")["is_paused"] is False
    created = create_backfill(prod, days[0], days[-1], reprocess="completed")
    wait_backfill(prod, created["id"])
    by_day = backfill_runs(prod)
    for day in days:
        assert by_day[day.isoformat()]["state"] == "success"
        after = inspect_partition(prod.endpoint, day.isoformat())
        assert after["model_versions_for_partition"] == 1
        assert after["model_package"]["arn"] != before[day]["model_package"]["arn"]  # retrained and replaced
        assert after["partition"]["location"].endswith(f"demand-forecast-predict-{day:%Y%m%d}-2/")
        assert {s: len(n) for s, n in sagemaker_jobs(prod, day).items()} == dict.fromkeys(STEPS, 2)
    assert messages(prod) == []
