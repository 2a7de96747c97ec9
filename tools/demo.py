"""`make demo`: run demand_forecast for one partition on the offline sandbox and say what happened.

Starts the sandbox, seeds it (`python -m sandbox seed`), prepares an Airflow home pointed at it
(`python -m sandbox env`), runs `airflow dags test demand_forecast <DATE>` printing one line per task as
it starts and ends, prints a summary (with the evaluation plot copied to .sandbox/), and stops the
sandbox. Exits non-zero if the run failed.

`make demo-loop` (``--monitor``) closes the loop: it forecasts the day before the last seeded one (D), then runs
`airflow dags test forecast_monitoring <D+1>`, whose sales are seeded: the realised accuracy of D's forecast for
D+1, the input drift, and what the alert policy said.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

from sandbox import profile  # noqa: E402
from sandbox.client import SandboxClient  # noqa: E402


def free_port(preferred: int) -> int:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox(state_dir: Path, port: int, *extra_args: str) -> tuple[subprocess.Popen, str]:
    state_dir.mkdir(parents=True, exist_ok=True)
    ready = state_dir / "ready.json"
    ready.unlink(missing_ok=True)
    log = (state_dir / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "serve", "--port", str(port), "--state-dir",
                             str(state_dir), "--ready-file", str(ready), *extra_args], cwd=REPO, stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the sandbox did not start; see {state_dir / 'server.log'}")
        time.sleep(0.05)
    endpoint = json.loads(ready.read_text())["endpoint"]
    SandboxClient(endpoint).wait_until_up(10)
    return proc, endpoint


def airflow_env(endpoint: str, airflow_home: Path) -> dict[str, str]:
    env = {**os.environ, **profile.environment(endpoint), "AIRFLOW_HOME": str(airflow_home),
           **profile.airflow_database(airflow_home)}
    env.pop("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", None)
    return env


class Progress:
    """One line per task as `airflow dags test` starts and ends it (task, state, seconds), read from the
    run's own log lines, so a newcomer sees the run move instead of minutes of silence."""

    _START = re.compile(r"\[DAG TEST\] starting task_id=(\S+)")
    _STATE = re.compile(r"new_state=(\w+)")
    _END = re.compile(r"\[DAG TEST\] end task task_id=(\S+)")

    def __init__(self, out=None, clock=time.monotonic):
        self.out = out or sys.stdout
        self.clock = clock
        self.task: str | None = None
        self.started = 0.0
        self.state = "?"
        self.lines: list[str] = []

    def feed(self, line: str) -> None:
        if m := self._START.search(line):
            self.task, self.started, self.state = m.group(1), self.clock(), "?"
            self._emit(f"  {'started':<16} {self.task}")
        elif (m := self._STATE.search(line)) and self.task:
            self.state = m.group(1)
        elif (m := self._END.search(line)) and self.task == m.group(1):
            self._emit(f"  {self.state:<16} {self.task:<28} {self.clock() - self.started:6.1f} s")
            self.task = None

    def _emit(self, text: str) -> None:
        self.lines.append(text)
        print(text, file=self.out, flush=True)


def run_dag(env: dict[str, str], day: str, log_path: Path, dag_id: str = "demand_forecast") -> tuple[int, float]:
    started = time.monotonic()
    progress = Progress()
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "airflow", "dags", "test", dag_id, day],
                                env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            log.write(line)
            progress.feed(line)
        code = proc.wait()
    return code, time.monotonic() - started


def fetch_plot(endpoint: str, report: dict, destination: Path) -> Path | None:
    """Copy the run's evaluation plot out of (sandbox) S3 to a local file the summary names."""
    uri = report.get("plot_uri")
    if not uri or uri.endswith("/"):
        return None
    import boto3

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=profile.REGION,
                      aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
    destination.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return destination


def summary(endpoint: str, day: str) -> dict:
    """What the run left in the sandbox, read back through the AWS APIs as an analyst would."""
    from tools.inspect_run import inspect_partition

    return inspect_partition(endpoint, day)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--date", default="", help="partition day YYYY-MM-DD (default: the last seeded day)")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--state-dir", default=str(REPO / ".sandbox"))
    parser.add_argument("--keep-running", action="store_true", help="leave the sandbox up afterwards")
    parser.add_argument("--monitor", action="store_true", help="then run forecast_monitoring for the day after "
                        "(default date: the day before the last seeded one, so the day after has its sales)")
    args = parser.parse_args(argv)
    last_seeded = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    day = args.date or (last_seeded if not args.monitor else
                        (datetime.fromisoformat(last_seeded) - timedelta(days=1)).date().isoformat())
    state_dir, airflow_home = Path(args.state_dir), REPO / ".airflow"
    timings: dict[str, float] = {}

    t = time.monotonic()
    proc, endpoint = start_sandbox(state_dir, free_port(args.port))
    timings["sandbox_start_s"] = time.monotonic() - t
    try:
        env = airflow_env(endpoint, airflow_home)
        t = time.monotonic()
        # Seeding also migrates the Airflow DB under AIRFLOW_HOME and creates the SageMaker pool.
        seeded = subprocess.run([sys.executable, "-m", "sandbox", "seed", "--port", endpoint.rsplit(":", 1)[1],
                                 "--end-date", last_seeded], cwd=REPO, env=env, capture_output=True, text=True)
        if seeded.returncode != 0:
            raise SystemExit(f"seeding failed:\n{seeded.stderr[-3000:]}")
        timings["seed_and_airflow_setup_s"] = time.monotonic() - t
        seed_info = json.loads(seeded.stdout)
        print(f"Seeded {seed_info['sales']['rows']:,} sales rows: {seed_info['sales']['series']} series, "
              f"{seed_info['sales']['first_day']} .. {seed_info['sales']['last_day']}")
        print(f"Running `airflow dags test demand_forecast {day}` against the sandbox at {endpoint} ...")
        log_path = state_dir / f"demo-{day}.log"
        code, seconds = run_dag(env, day, log_path)
        timings["dag_run_s"] = seconds
        report = summary(endpoint, day)
        report["timings_s"] = {k: round(v, 1) for k, v in timings.items()}
        report["airflow_log"] = str(log_path)
        plot = fetch_plot(endpoint, report, state_dir / f"demo-{day}-forecast_vs_actuals.png")
        report["plot_file"] = str(plot) if plot else None
        print_report(report, code)
        (state_dir / f"demo-{day}.json").write_text(json.dumps(report, indent=2, default=str))
        if code != 0:
            print(f"\nThe run FAILED (exit {code}); last lines of {log_path}:")
            print("\n".join(log_path.read_text().splitlines()[-40:]))
        if code == 0 and args.monitor:
            code = monitor(env, endpoint, state_dir, day)
        return code
    finally:
        if args.keep_running:
            print(f"\nThe sandbox keeps running at {endpoint} (pid {proc.pid}).")
        else:
            proc.terminate()
            proc.wait(timeout=30)


def monitor(env: dict[str, str], endpoint: str, state_dir: Path, forecast_day: str) -> int:
    """forecast_monitoring for the day after ``forecast_day``, and what it wrote, read back through Athena."""
    from tools.inspect_run import athena_query

    actuals = (datetime.fromisoformat(forecast_day) + timedelta(days=1)).date().isoformat()
    print(f"\nRunning `airflow dags test forecast_monitoring {actuals}` (the forecast of {forecast_day} meets "
          f"the sales of {actuals}) ...")
    log_path = state_dir / f"demo-monitoring-{actuals}.log"
    code, seconds = run_dag(env, actuals, log_path, "forecast_monitoring")
    import boto3

    athena = boto3.client("athena", endpoint_url=endpoint, region_name=profile.REGION,
                          aws_access_key_id="sandbox", aws_secret_access_key="sandbox")

    def query(sql: str) -> list[list[str | None]]:
        return athena_query(athena, sql, database=profile.FORECAST_DATABASE, workgroup=profile.ATHENA_WORKGROUP,
                            params=[f"'{actuals}'"])

    print("-" * 100)
    print(f"forecast_monitoring, actuals day {actuals}: {'SUCCESS' if code == 0 else 'FAILED'} ({seconds:.0f} s)")
    if code == 0:
        accuracy = query("SELECT scope, horizon_days, wape, mae, bias, forecast_rows, missing_forecast_partitions "
                         "FROM forecast_accuracy WHERE dt = ? AND scope <> 'store' ORDER BY scope, horizon_days")[1:]
        for scope, horizon, wape, mae, bias, rows, _ in accuracy:
            label = f"{scope} h{horizon}" if horizon else scope
            print(f"  {label:<12} " + (f"WAPE {float(wape):.4f}  MAE {float(mae):.3f}  bias {float(bias):+.4f}  "
                                       if wape is not None else "no actuals  ") + f"({rows} forecasts)")
        print(f"  forecast partitions missing (reported, not fatal): {(accuracy[0][6] if accuracy else '') or 'none'}")
        for feature, psi, value in query("SELECT feature, psi, value FROM input_drift WHERE dt = ? ORDER BY feature")[1:]:
            print(f"  drift {feature:<22} " + (f"PSI {float(psi):.4f}  " if psi else "") + f"value {float(value):.4f}")
        slack = [m for m in SandboxClient(endpoint).slack_messages() if actuals in (m.get("text") or "")]
        print(f"  Slack: {len(slack)} message(s)" + "".join(f"\n    {(m.get('text') or '')[:150]}" for m in slack))
    else:
        print("\n".join(log_path.read_text().splitlines()[-40:]))
    print("-" * 100)
    return code


def print_report(r: dict, code: int) -> None:
    width = shutil.get_terminal_size((100, 20)).columns
    line = "-" * min(width, 100)
    print(line)
    print(f"demand_forecast, partition {r['partition_date']}: {'SUCCESS' if code == 0 else 'FAILED'}")
    print(line)
    ex = r.get("extract", {})
    print(f"Rows extracted:       {ex.get('training_rows', '?'):,} training, {ex.get('scoring_rows', '?'):,} scoring")
    for name, m in (r.get("evaluation", {}).get("models") or {}).items():
        if m and m.get("wape") is not None:
            print(f"  {name:<12} WAPE {m['wape']:.4f}  MAE {m['mae']:.3f}  bias {m['bias']:+.4f}")
        else:
            print(f"  {name:<12} -")
    print(f"Gate decision:        {r.get('gate', '?')}")
    pkg = r.get("model_package") or {}
    print(f"Model package:        {pkg.get('arn', 'none')} ({pkg.get('status', '-')})")
    print(f"Prediction rows:      {r.get('prediction_rows', '?')} (Athena: SELECT count(*) ... WHERE dt='{r['partition_date']}')")
    part = r.get("partition") or {}
    print(f"Glue partition:       {part.get('table', '')} dt={r['partition_date']} -> {part.get('location', 'NOT REGISTERED')}")
    print(f"Evaluation plot:      {r.get('plot_file') or 'none (the run did not get to evaluate)'}"
          + (f"  (from {r['plot_uri']})" if r.get("plot_file") else ""))
    print(f"Slack messages:       {len(r.get('slack', []))}")
    for m in r.get("slack", []):
        print(f"  #{m.get('channel_name')}: {(m.get('text') or '')[:150]}")
    print(f"Timings (s):          {r['timings_s']}")
    print(line)


if __name__ == "__main__":
    sys.exit(main())
