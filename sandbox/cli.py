"""``python -m sandbox {serve,env,status,seed,slack,fault,reset}``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from sandbox.client import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_STATE_DIR, SandboxClient, endpoint_from_state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the sandbox in the foreground (Ctrl-C stops it)")
    p.add_argument("--host", default=DEFAULT_HOST)
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    p.add_argument("--state-dir", default=DEFAULT_STATE_DIR)
    p.add_argument("--max-concurrent-jobs", type=int, default=4,
                   help="account quota: SageMaker jobs of each type (processing, training, transform) "
                        "in progress at once; Create beyond it is refused with ResourceLimitExceeded (default 4)")
    p.add_argument("--queue-excess-jobs", action="store_true",
                   help="accept jobs beyond --max-concurrent-jobs and let them wait InProgress instead "
                        "(not what AWS does)")
    p.add_argument("--cpus", type=int, default=None,
                   help="CPUs the jobs share; each job's thread pools get its fair share (default: all)")
    p.add_argument("--validate-responses", action="store_true",
                   help="check every response the sandbox produces against botocore's model")
    p.add_argument("--verbose", action="store_true", help="log every request")
    p.add_argument("--no-iam", dest="iam", action="store_false",
                   help="allow every call (IAM policies are enforced by default; for experimenting)")
    p.add_argument("--ready-file", help=argparse.SUPPRESS)

    p = sub.add_parser("env", help="print the export lines that point boto3 and Airflow at the sandbox")
    _where(p)

    p = sub.add_parser("status", help="say whether the sandbox runs and what it holds")
    _where(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("seed", help="create the demo data and every resource the pipeline expects")
    _where(p)
    p.add_argument("--end-date", help="last day of sales data (default: yesterday, UTC)")
    p.add_argument("--days", type=int, default=730, help="days of history (default 730)")
    p.add_argument("--stores", type=int, default=10)
    p.add_argument("--items", type=int, default=50)
    p.add_argument("--seed", type=int, default=20261121, help="random seed (default fixed)")

    p = sub.add_parser("slack", help="print the Slack messages the sandbox received, newest last")
    p.add_argument("--state-dir", default=DEFAULT_STATE_DIR)
    p.add_argument("--json", action="store_true")
    p.add_argument("--last", type=int, help="only the last N messages")
    p.add_argument("--all", action="store_true", help="every record, including edits and deletions")

    p = sub.add_parser("fault", help="inject or clear faults (see README)")
    _where(p)
    fsub = p.add_subparsers(dest="fault_command", required=True)
    f = fsub.add_parser("aws", help="make the next N calls of an operation fail")
    f.add_argument("service", help="botocore service name: sagemaker, athena, s3, glue, logs, sts, iam")
    f.add_argument("operation", help="operation name, e.g. CreateTrainingJob, PutObject; * for any")
    f.add_argument("--error", default="ThrottlingException")
    f.add_argument("--count", type=int, default=1, help="0 means until cleared")
    f = fsub.add_parser("job", help="make SageMaker jobs matching a name glob fail or run slowly")
    f.add_argument("job", help="job name or glob, e.g. 'demand-forecast-train-20261120-*'")
    f.add_argument("--failure-reason")
    f.add_argument("--delay-seconds", type=float, default=0.0)
    f.add_argument("--count", type=int, default=1, help="0 means until cleared")
    f = fsub.add_parser("slack", help="make Slack answer 429 or 500")
    f.add_argument("--status", type=int, default=429)
    f.add_argument("--retry-after", type=int, default=1)
    f.add_argument("--count", type=int, default=1, help="0 means until cleared")
    fsub.add_parser("list")
    fsub.add_parser("clear")

    p = sub.add_parser("reset", help="forget all state in the running sandbox")
    _where(p)

    args = parser.parse_args(argv)
    return {
        "serve": _serve, "env": _env, "status": _status, "seed": _seed, "slack": _slack,
        "fault": _fault, "reset": _reset,
    }[args.command](args)


def _where(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=DEFAULT_HOST)
    p.add_argument("--port", type=int, help="default: the running sandbox's port, else 4566")
    p.add_argument("--state-dir", default=DEFAULT_STATE_DIR)


def _endpoint(args: argparse.Namespace) -> str:
    return endpoint_from_state(args.state_dir, args.port, args.host)


def _serve(args: argparse.Namespace) -> int:
    from sandbox.server import serve

    serve(args.host, args.port, args.state_dir, validate_responses=args.validate_responses,
          max_concurrent_jobs=args.max_concurrent_jobs, queue_excess_jobs=args.queue_excess_jobs,
          cpus=args.cpus, verbose=args.verbose,
          ready_file=args.ready_file, iam_enforced=args.iam)
    return 0


def _env(args: argparse.Namespace) -> int:
    from sandbox.profile import environment, shell_exports

    print(shell_exports(environment(_endpoint(args))))
    return 0


def _status(args: argparse.Namespace) -> int:
    client = SandboxClient(_endpoint(args))
    if not client.is_up():
        print(f"sandbox: not running at {client.endpoint}")
        return 1
    status = client.status()
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(f"sandbox: running at {status['endpoint']} (pid {status['pid']}, up {status['uptime_s']}s)")
    print(f"  state dir: {status['state_dir']}")
    enforced = (status.get("iam") or {}).get("enforced")
    print("  IAM: " + ("enforced (the callers' policies decide every call)" if enforced
                       else "NOT enforced (started with --no-iam): every call is allowed"))
    for bucket, info in status["s3"].items():
        print(f"  s3://{bucket}: {info['objects']} objects, {info['bytes'] / 1e6:.1f} MB")
    for db, tables in status["glue"].items():
        print(f"  glue database {db}: {len(tables)} tables")
        for table, parts in tables.items():
            print(f"    {table}: {parts} partitions")
    for name in ("sagemaker", "athena"):
        for key, value in (status.get(name) or {}).items():
            print(f"  {name} {key}: {value}")
    print(f"  slack: {status['slack']['messages']} messages")
    for fault in status["faults"]:
        print(f"  fault #{fault['id']}: {_describe_fault(fault)}")
    return 0


def _seed(args: argparse.Namespace) -> int:
    from sandbox.seed import seed

    summary = seed(_endpoint(args), end_date=args.end_date, days=args.days, stores=args.stores,
                   items=args.items, random_seed=args.seed)
    print(json.dumps(summary, indent=2))
    return 0


def _slack(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sandbox.slack import current, render_blocks

    path = Path(args.state_dir) / "slack.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    if not args.all:
        records = current(records)
    if args.last:
        records = records[-args.last:]
    if args.json:
        print(json.dumps(records, indent=2))
        return 0
    if not records:
        print(f"no Slack messages in {path}")
    for r in records:
        when = datetime.fromtimestamp(float(r["ts"])).strftime("%Y-%m-%d %H:%M:%S")
        where = f"#{r.get('channel_name') or r['channel']}"
        thread = f" (reply in thread {r['thread_ts']})" if r.get("thread_ts") else ""
        edit = " (edited)" if r.get("via", "").endswith(":update") else ""
        print(f"[{when}] {where}{thread}{edit} ts={r['ts']} via {r['via']}")
        lines = render_blocks(r.get("blocks")) or [r.get("text") or ""]
        for line in lines:
            for part in str(line).splitlines():
                print(f"    {part}")
    return 0


def _fault(args: argparse.Namespace) -> int:
    client = SandboxClient(_endpoint(args))
    count = None if getattr(args, "count", 1) == 0 else getattr(args, "count", 1)
    cmd = args.fault_command
    if cmd == "aws":
        out: Any = client.fail_calls(args.service, args.operation, args.error, count)
    elif cmd == "job":
        out = client.add_fault(job=args.job, failure_reason=args.failure_reason,
                               delay_seconds=args.delay_seconds, count=count)
    elif cmd == "slack":
        out = client.slack_fault(status=args.status, count=count, retry_after=args.retry_after)
    elif cmd == "list":
        for fault in client.faults():
            print(f"#{fault['id']}: {_describe_fault(fault)}")
        return 0
    else:
        print(f"removed {client.clear_faults()} fault(s)")
        return 0
    print(f"#{out['id']}: {_describe_fault(out)}")
    return 0


def _describe_fault(f: dict[str, Any]) -> str:
    left = "until cleared" if f.get("count") is None else f"{f['count']} left"
    if f["kind"] == "job":
        what = []
        if f.get("failure_reason"):
            what.append(f"fail with {f['failure_reason']!r}")
        if f.get("delay_seconds"):
            what.append(f"start {f['delay_seconds']}s late")
        return f"jobs matching {f['job']!r}: {' and '.join(what)} ({left})"
    if f["service"] == "slack":
        return f"Slack answers {f['status']} ({left})"
    late = f" after {f['delay_seconds']}s" if f.get("delay_seconds") else ""
    if f.get("error") is None:
        return f"{f['service']}.{f['operation']} answers{late} ({left})"
    return f"{f['service']}.{f['operation']} fails with {f['error']}{late} ({left})"


def _reset(args: argparse.Namespace) -> int:
    SandboxClient(_endpoint(args)).reset()
    print("sandbox state cleared")
    return 0


if __name__ == "__main__":
    sys.exit(main())
