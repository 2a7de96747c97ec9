"""TPC-H's 22 queries through the sandbox's Athena against the same SQL in DuckDB directly.

Generates TPC-H data with tpchgen-cli (the conformance suite's cached client venv), loads it into
a fresh sandbox's S3 and Glue, runs each query once to warm both sides (file cache, plan cache,
Parquet metadata), then runs the 22 queries ``--rounds`` times, alternating Athena and DuckDB query
by query so that machine noise hits both. Athena time is the client's wall time for
StartQueryExecution -> GetQueryExecution until final -> every GetQueryResults page (boto3, HTTP);
DuckDB time is execute + fetchall on one persistent connection over the local Parquet files.

It prints per-query medians and the total ratio; it asserts nothing.
Usage: ``python bench/athena_tpch.py [--scale 0.1] [--rounds 5] [--profile FILE.html]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.athena_overhead import clients, start_sandbox  # noqa: E402
from tests.conformance import tpch  # noqa: E402
from tests.conformance.clients import tpch_data  # noqa: E402


class ParseClock:
    """Client CPU spent by botocore turning response bodies into dicts (before-parse ->
    response-received): a cost the same client pays against AWS, reported apart."""

    def __init__(self, client) -> None:
        self.total = 0.0
        self._start = 0.0
        client.meta.events.register("before-parse.athena.*", self._before)
        client.meta.events.register("response-received.athena.*", self._after)

    def _before(self, **kwargs) -> None:
        self._start = time.perf_counter()

    def _after(self, **kwargs) -> None:
        self.total += time.perf_counter() - self._start


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc; 10 ms resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def athena_once(athena, sql: str) -> int:
    qid = athena.start_query_execution(QueryString=sql, QueryExecutionContext={"Database": "tpch"},
                                       ResultConfiguration={"OutputLocation": "s3://bench-tpch/results/"})["QueryExecutionId"]
    while True:
        status = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
        if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
    if status["State"] != "SUCCEEDED":
        raise RuntimeError(status.get("StateChangeReason"))
    rows, token = 0, None
    while True:
        page = athena.get_query_results(QueryExecutionId=qid, **({"NextToken": token} if token else {}))
        rows += len(page["ResultSet"]["Rows"])
        token = page.get("NextToken")
        if not token:
            return rows - 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", help="write a pyinstrument HTML profile of the client side here")
    args = parser.parse_args()
    data = tpch_data(args.scale)
    duck = tpch.duckdb_connection(data)
    with tempfile.TemporaryDirectory() as tmp:
        proc, endpoint = start_sandbox(Path(tmp))
        try:
            s3, glue, athena = clients(endpoint)
            tpch.load(data, s3, glue, "bench-tpch", "tpch")
            queries = sorted(tpch.QUERIES)
            for n in queries:  # warm-up: file copies, plans, Parquet metadata on both sides
                athena_once(athena, tpch.QUERIES[n])
                duck.execute(tpch.duckdb_sql(n)).fetchall()
            times: dict[int, dict[str, list[float]]] = {n: {"athena": [], "duckdb": [], "parse": []}
                                                        for n in queries}
            parse = ParseClock(athena)
            cpu0 = os.times()
            cpu = {"athena_client": 0.0, "duckdb": 0.0}
            server0 = process_cpu(proc.pid)
            profiler = None
            if args.profile:
                from pyinstrument import Profiler

                profiler = Profiler()
                profiler.start()
            for _ in range(args.rounds):
                for n in queries:
                    t, parsed, c = time.perf_counter(), parse.total, time.process_time()
                    athena_once(athena, tpch.QUERIES[n])
                    times[n]["athena"].append(time.perf_counter() - t)
                    times[n]["parse"].append(parse.total - parsed)
                    cpu["athena_client"] += time.process_time() - c
                    t, c = time.perf_counter(), time.process_time()
                    duck.execute(tpch.duckdb_sql(n)).fetchall()
                    times[n]["duckdb"].append(time.perf_counter() - t)
                    cpu["duckdb"] += time.process_time() - c
            if profiler is not None:
                profiler.stop()
                Path(args.profile).write_text(profiler.output_html())
            cpu1 = os.times()
            server_cpu = process_cpu(proc.pid) - server0
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    print(f"TPC-H scale factor {args.scale}, {args.rounds} rounds, medians in ms")
    print(f"{'query':>6} {'athena':>9} {'duckdb':>9} {'ratio':>6}")
    for n in queries:
        a, d = statistics.median(times[n]["athena"]), statistics.median(times[n]["duckdb"])
        print(f"{f'q{n:02d}':>6} {a * 1000:9.1f} {d * 1000:9.1f} {a / d:6.2f}")
    rounds_a = [sum(times[n]["athena"][r] for n in queries) for r in range(args.rounds)]
    rounds_d = [sum(times[n]["duckdb"][r] for n in queries) for r in range(args.rounds)]
    rounds_p = [sum(times[n]["parse"][r] for n in queries) for r in range(args.rounds)]
    ratios = [a / d for a, d in zip(rounds_a, rounds_d, strict=True)]
    served = [(a - p) / d for a, p, d in zip(rounds_a, rounds_p, rounds_d, strict=True)]
    print(f"total per round: athena {statistics.median(rounds_a):.3f} s, duckdb {statistics.median(rounds_d):.3f} s, "
          f"ratio median {statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f})")
    print(f"of which botocore parsing responses: {statistics.median(rounds_p):.3f} s per round; ratio without it "
          f"median {statistics.median(served):.2f} (min {min(served):.2f}, max {max(served):.2f})")
    athena_cpu = (cpu["athena_client"] + server_cpu) / args.rounds
    print(f"CPU per round (less sensitive to a busy machine than wall time): athena {athena_cpu:.3f} s "
          f"(client {cpu['athena_client'] / args.rounds:.3f} + sandbox server {server_cpu / args.rounds:.3f}), "
          f"duckdb {cpu['duckdb'] / args.rounds:.3f} s, ratio {athena_cpu / (cpu['duckdb'] / args.rounds):.2f}")
    print(f"client process CPU during the rounds: {cpu1.user - cpu0.user + cpu1.system - cpu0.system:.1f} s; "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
