"""demand_forecast figures, on this machine. Prints; asserts nothing.

1. Parse time of each DAG file in a warm process (Airflow and the providers already imported, as in the
   dag-processor), against a DAG of the same number of EmptyOperator tasks parsed the same way in the
   same run: the floor Airflow itself sets. Target: <= 2x that floor.
2. One `make demo` partition: wall time of `airflow dags test`, split into the jobs' own compute
   (SageMaker job run times, Athena engine time), the sandbox's stand-in for instance start-up (a job
   waits 0.5 s between Create and its start, as AWS provisions instances for minutes: neither compute
   nor this package's doing, printed apart) and orchestration (everything else: Airflow, polling, the
   tasks that run in Airflow). Target: orchestration <= 30% of the run; `make demo` <= 3 min.

    python bench/pipeline_bench.py [--repeat 30] [--skip-run]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

REFERENCE_WITH_FEATURES = '''
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, CronDataIntervalTimetable, Param, chain
from datetime import datetime, timedelta, timezone
from batchml.notifiers import OnCallNotifier

with DAG(dag_id="empty_reference_features", schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
         start_date=datetime(2026, 1, 1, tzinfo=timezone.utc), catchup=False, tags=["bench"],
         default_args={"owner": "ml", "retries": 3, "retry_delay": timedelta(seconds=60),
                       "retry_exponential_backoff": 2.0, "max_retry_delay": timedelta(minutes=15),
                       "execution_timeout": timedelta(minutes=30),
                       "on_failure_callback": OnCallNotifier(pipeline="x", slack_conn_id="y")},
         params={"history_days": Param(548, type="integer", minimum=120, maximum=1095),
                 "note": Param("", type="string", maxLength=200)}):
    chain(*[EmptyOperator(task_id=f"task_{i}") for i in range({n})])
'''

REFERENCE = '''
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, CronDataIntervalTimetable, chain
from datetime import datetime, timezone

with DAG(dag_id="empty_reference", schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
         start_date=datetime(2026, 1, 1, tzinfo=timezone.utc), catchup=False, tags=["bench"]):
    chain(*[EmptyOperator(task_id=f"task_{i}") for i in range({n})])
'''


def parse_times(repeat: int) -> None:
    # Warm: what a dag-processor has loaded before it parses any file.
    import airflow.providers.amazon.aws.hooks.athena  # noqa: F401
    import airflow.providers.amazon.aws.hooks.glue_catalog  # noqa: F401
    import airflow.providers.amazon.aws.hooks.sagemaker  # noqa: F401
    import airflow.providers.amazon.aws.sensors.glue_catalog_partition  # noqa: F401
    import airflow.providers.slack.hooks.slack  # noqa: F401
    import airflow.providers.standard.operators.empty  # noqa: F401
    from airflow.dag_processing.dagbag import DagBag

    files = sorted((REPO / "dags").glob("*.py"))
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for path in files:
            bag = DagBag(dag_folder=str(path))
            assert not bag.import_errors, bag.import_errors
            n_tasks = sum(len(d.tasks) for d in bag.dags.values())
            reference = Path(tmp) / f"reference_{path.stem}.py"
            reference.write_text(REFERENCE.replace("{n}", str(n_tasks)))
            featured = Path(tmp) / f"reference_features_{path.stem}.py"
            featured.write_text(REFERENCE_WITH_FEATURES.replace("{n}", str(n_tasks)))
            own, floor, floor_features, imports, config = [], [], [], [], []
            for _ in range(repeat):  # interleaved, so machine noise hits all alike
                own.append(_parse_once(path))
                floor.append(_parse_once(reference))
                floor_features.append(_parse_once(featured))
                imports.append(_project_imports(path))
                config.append(_config_load(path.stem))
            results[path.name] = (n_tasks, *map(statistics.median, (own, floor, floor_features, imports, config)))
    print(f"DAG parse time, warm process (median of {repeat}; the project's modules re-imported each time, "
          "as in the dag-processor's per-file subprocess):")
    for name, (n, own, floor, featured, imports, config) in results.items():
        print(f"  {name:<24} {n} tasks  {own * 1000:7.1f} ms")
        print(f"    of which: importing the project's modules {imports * 1000:5.1f} ms, loading + validating its "
              f"config {config * 1000:5.1f} ms, building the DAG and Airflow's bagging "
              f"{(own - imports - config) * 1000:5.1f} ms")
        print(f"    EmptyOperator floor, {n} tasks            {floor * 1000:7.1f} ms   ratio {own / floor:4.2f}x  (target <= 2x)")
        print(f"    same, with the same default_args + Params {featured * 1000:7.1f} ms   ratio {own / featured:4.2f}x")
    print(f"  bytecode cache: {'off (PYTHONDONTWRITEBYTECODE is set)' if sys.dont_write_bytecode else 'on'}")


def _forget_project_modules() -> None:
    for name in [m for m in sys.modules if m == "batchml" or m.startswith("batchml.")]:
        del sys.modules[name]


def _project_imports(path: Path) -> float:
    """Time to import the project modules the DAG file names, fresh, as its parse does."""
    import ast
    import importlib

    tree = ast.parse(path.read_text())
    modules = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
               and n.module.split(".")[0] == "batchml"]
    _forget_project_modules()
    start = time.perf_counter()
    for module in modules:
        importlib.import_module(module)
    return time.perf_counter() - start


def _config_load(pipeline: str) -> float:
    from batchml.config import PipelineSettings

    start = time.perf_counter()
    PipelineSettings.load(pipeline)
    return time.perf_counter() - start


def _parse_once(path: Path) -> float:
    from airflow.dag_processing.dagbag import DagBag

    _forget_project_modules()
    start = time.perf_counter()
    bag = DagBag(dag_folder=str(path))
    elapsed = time.perf_counter() - start
    assert not bag.import_errors, bag.import_errors
    return elapsed


def demo_split() -> None:
    from tools.demo import airflow_env, run_dag, start_sandbox

    day = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp:
        tmp = Path(tmp)
        t_total = time.monotonic()
        proc, endpoint = start_sandbox(tmp / "sandbox", 0)
        try:
            env = airflow_env(endpoint, tmp / "airflow")
            t = time.monotonic()
            subprocess.run([sys.executable, "-m", "sandbox", "seed", "--port", endpoint.rsplit(":", 1)[1],
                            "--end-date", day], cwd=REPO, env=env, check=True, capture_output=True)
            seed_s = time.monotonic() - t
            code, wall = run_dag(env, day, tmp / "run.log")
            if code != 0:
                print((tmp / "run.log").read_text()[-3000:])
                raise SystemExit("the demo run failed")
            tasks = _task_durations(env)
            compute, provisioning = _compute(endpoint, day)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        total = time.monotonic() - t_total
    job_s, provisioning_s = sum(compute.values()), sum(provisioning.values())
    print(f"\nOne partition ({day}), `airflow dags test demand_forecast` wall time: {wall:.1f} s")
    print(f"  jobs' own compute: {job_s:.1f} s  ({job_s / wall:.0%})")
    for name, seconds in compute.items():
        print(f"    {name:<48} {seconds:6.1f} s")
    print(f"  sandbox instance start-up stand-in (Create -> job start, {len(provisioning)} jobs): {provisioning_s:.1f} s  "
          f"({provisioning_s / wall:.0%})")
    orchestration = wall - job_s - provisioning_s
    print(f"  orchestration:     {orchestration:.1f} s  ({orchestration / wall:.1%}; target <= 30%; "
          f"{(wall - job_s) / wall:.1%} if the start-up stand-in is counted as orchestration)")
    print("  per task (Airflow's start -> end, includes waiting on the job):")
    for task_id, seconds in tasks:
        print(f"    {task_id:<24} {seconds:6.1f} s")
    print(f"make demo equivalent (sandbox start + seed and Airflow setup {seed_s:.1f} s + run): "
          f"{total:.1f} s  (target <= 180 s)")


def _task_durations(env: dict[str, str]) -> list[tuple[str, float]]:
    code = (
        "import json\n"
        "from airflow.models import TaskInstance\n"
        "from airflow.utils.session import create_session\n"
        "with create_session() as s:\n"
        "    rows = [(t.task_id, t.start_date.isoformat(), t.end_date.isoformat()) for t in s.query(TaskInstance)\n"
        "            if t.start_date and t.end_date]\n"
        "print('ROWS=' + json.dumps(rows))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    rows = json.loads(out.split("ROWS=", 1)[1])
    return [(t, (datetime.fromisoformat(e) - datetime.fromisoformat(s)).total_seconds())
            for t, s, e in sorted(rows, key=lambda r: r[1])]


def _compute(endpoint: str, day: str) -> tuple[dict[str, float], dict[str, float]]:
    """Each job's own run time, and each SageMaker job's wait between Create and its start."""
    import boto3

    kw = {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    sm, athena = boto3.client("sagemaker", **kw), boto3.client("athena", **kw)
    compact = day.replace("-", "")
    out: dict[str, float] = {}
    provisioning: dict[str, float] = {}
    for kind, start, end in (("processing", "ProcessingStartTime", "ProcessingEndTime"),
                             ("training", "TrainingStartTime", "TrainingEndTime"),
                             ("transform", "TransformStartTime", "TransformEndTime")):
        summaries = getattr(sm, f"list_{kind}_jobs")(NameContains=compact)[f"{kind.capitalize()}JobSummaries"]
        for s in summaries:
            name = s[f"{kind.capitalize()}JobName"]
            d = getattr(sm, f"describe_{kind}_job")(**{f"{kind.capitalize()}JobName": name})
            out[f"SageMaker {kind} {name}"] = (d[end] - d[start]).total_seconds()
            provisioning[name] = (d[start] - d["CreationTime"]).total_seconds()
    ids = athena.list_query_executions(WorkGroup="demand_forecast").get("QueryExecutionIds", [])
    for q in athena.batch_get_query_execution(QueryExecutionIds=ids)["QueryExecutions"] if ids else []:
        if "UNLOAD" in q["Query"]:
            out[f"Athena {q['QueryExecutionId'][:8]} (UNLOAD)"] = q["Statistics"]["EngineExecutionTimeInMillis"] / 1000
    return out, provisioning


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--skip-run", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
    parse_times(args.repeat)
    if not args.skip_run:
        demo_split()
    return 0


if __name__ == "__main__":
    sys.exit(main())
