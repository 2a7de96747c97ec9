"""A 7-day backfill on the production shape (tools/prod_stack.py: PostgreSQL, Redis, two Celery workers), on this
machine. Prints; asserts nothing (tests/prod asserts the outcomes).

Figures:
1. wall time of the 7-day backfill against one partition's backfill on the same stack: the ratio that matters
   (7 would mean no overlap at all; max_active_runs and the SageMaker pool bound how far below 7 it gets);
2. the peak number of SageMaker jobs running at once, against the pool (`sagemaker_jobs`, sized from
   `sagemaker_job_quota`), which the sandbox enforces as the account's quota;
3. the scheduler's own overhead per task: queued-to-running latency (a task instance's `queued_when` to its
   `start_date`: the Celery round trip through Redis to a worker, and the worker starting the task), over the
   task instances queued once (not resumed from a deferral, whose first queueing the API does not keep).

    python bench/prod_backfill_bench.py [--days 7] [--pool 2] [--max-active-runs 3] [--shipped-model]

The model runs at the tests' fast settings (tests/fast_settings.py) unless --shipped-model: this measures
orchestration, not training.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

from sandbox.client import SandboxClient  # noqa: E402
from sandbox.profile import pipeline_environment  # noqa: E402
from tools.prod_stack import ProdStack  # noqa: E402
from tools.stack import _unused_port  # noqa: E402


def backfill(stack: ProdStack, first, last, max_active_runs: int) -> tuple[float, int]:
    started = time.monotonic()
    created = stack.api("POST", "/backfills", {
        "dag_id": "demand_forecast", "from_date": f"{first}T00:00:00Z", "to_date": f"{last}T00:00:00Z",
        "reprocess_behavior": "none", "max_active_runs": max_active_runs, "run_backwards": False,
        "dag_run_conf": {}})
    while not stack.api("GET", f"/backfills/{created['id']}").get("completed_at"):
        time.sleep(3)
    return time.monotonic() - started, created["id"]


def latencies(stack: ProdStack, days) -> list[float]:
    """Seconds from queued to running, for the task instances of the given days' runs that were queued once:
    a task resumed from a deferral is queued again after its first start (queued_when > start_date), and
    the API keeps no time for its first queueing, so those are left out rather than counted wrong."""
    runs = stack.api("GET", "/dags/demand_forecast/dagRuns?limit=100&run_type=backfill")["dag_runs"]
    wanted = {d.isoformat() for d in days}
    out = []
    for run in runs:
        if run["logical_date"][:10] not in wanted:
            continue
        tis = stack.api("GET", f"/dags/demand_forecast/dagRuns/{quote(run['dag_run_id'], safe='')}/taskInstances")
        for ti in tis["task_instances"]:
            if ti.get("queued_when") and ti.get("start_date"):
                queued = datetime.fromisoformat(ti["queued_when"])
                started = datetime.fromisoformat(ti["start_date"])
                if started >= queued:
                    out.append((started - queued).total_seconds())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--pool", type=int, default=2, help="sagemaker_job_quota: the pool and the sandbox's quota")
    parser.add_argument("--max-active-runs", type=int, default=3)
    parser.add_argument("--shipped-model", action="store_true")
    args = parser.parse_args(argv)

    seed_end = datetime.now(UTC).date() - timedelta(days=2)
    one = seed_end - timedelta(days=args.days + 1)
    days = [seed_end - timedelta(days=k) for k in range(args.days - 1, -1, -1)]
    with tempfile.TemporaryDirectory(prefix="prod-bench-") as tmp:
        env = {"AIRFLOW_VAR_DEMAND_FORECAST_ENV": json.dumps({**pipeline_environment(),
                                                              "sagemaker_job_quota": args.pool})}
        if not args.shipped_model:
            from tests import fast_settings

            env["BATCHML_CONFIG_DIR"] = str(fast_settings.write(Path(tmp) / "settings"))
        stack = ProdStack(Path(tmp) / "stack", api_port=_unused_port(), sandbox_port=_unused_port(),
                          seed_end=seed_end.isoformat(), password=secrets.token_urlsafe(12), env=env,
                          sandbox_args=("--max-concurrent-jobs", str(args.pool)))
        try:
            t0 = time.monotonic()
            stack.start()
            startup = time.monotonic() - t0
            stack.api("PATCH", "/dags/demand_forecast", {"is_paused": False})
            one_wall, _ = backfill(stack, one, one, args.max_active_runs)
            many_wall, _ = backfill(stack, days[0], days[-1], args.max_active_runs)
            status = SandboxClient(stack.endpoint).status()["sagemaker"]
            lat = sorted(latencies(stack, days))
            states = {r["logical_date"][:10]: r["state"] for r in stack.api(
                "GET", "/dags/demand_forecast/dagRuns?limit=100&run_type=backfill")["dag_runs"]}
        finally:
            stack.stop()
    figures = {
        "stack_startup_seconds": round(startup, 1),
        "one_partition_seconds": round(one_wall, 1),
        f"backfill_{args.days}_days_seconds": round(many_wall, 1),
        "ratio_to_one_partition": round(many_wall / one_wall, 2),
        "max_active_runs": args.max_active_runs,
        "peak_concurrent_sagemaker_jobs": status["peak_concurrent_jobs"],
        "sagemaker_pool_slots": args.pool,
        "queued_to_running_seconds": {"tasks": len(lat), "median": round(statistics.median(lat), 2),
                                      "p95": round(lat[int(0.95 * (len(lat) - 1))], 2), "max": round(lat[-1], 2)},
        "run_states": states,
        "model": "shipped" if args.shipped_model else "fast (tests/fast_settings.py)",
    }
    print(json.dumps(figures, indent=2))
    (REPO / "test-artifacts").mkdir(exist_ok=True)
    (REPO / "test-artifacts" / "prod-bench.json").write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
