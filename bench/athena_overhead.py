"""How much slower the sandbox's Athena is than DuckDB on the same Parquet files.

Starts a sandbox server, writes a partitioned Parquet table (1M rows over daily files by default)
to its S3 and Glue, then times one aggregation three ways:

- plain DuckDB over the same files on local disk (a persistent connection, and a fresh one per query);
- the sandbox's Athena, cold (first run: files copied out of S3, the query planned);
- the sandbox's Athena, warm: submit -> poll GetQueryExecution without sleeping -> GetQueryResults.

It prints figures; it asserts nothing. Usage: ``python bench/athena_overhead.py [--rows N] [--days D]``.
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
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

QUERY = ("SELECT store_id, item_id, sum(sales) AS sales, avg(qty) AS qty, count(*) AS n FROM {table} "
         "WHERE dt BETWEEN '{first}' AND '{last}' GROUP BY store_id, item_id")  # 500 result rows
SMALL_QUERY = ("SELECT store_id, sum(sales) AS sales, avg(qty) AS qty, count(*) AS n FROM {table} "
               "WHERE dt BETWEEN '{first}' AND '{last}' GROUP BY store_id")  # 10 result rows


def make_data(rows: int, days: int, root: Path) -> list[tuple[str, Path]]:
    rng = np.random.default_rng(20261121)
    per_day = rows // days
    start = date(2026, 1, 1)
    files = []
    for d in range(days):
        day = (start + timedelta(days=d)).isoformat()
        table = pa.table({
            "store_id": pa.array(rng.integers(0, 10, per_day), pa.int32()),
            "item_id": pa.array(rng.integers(0, 50, per_day), pa.int32()),
            "sales": rng.random(per_day) * 100,
            "qty": pa.array(rng.integers(0, 20, per_day), pa.int64()),
        })
        path = root / f"dt={day}" / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        files.append((day, path))
    return files


def start_sandbox(state_dir: Path) -> tuple[subprocess.Popen, str]:
    ready = state_dir / "ready.json"
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "serve", "--port", "0", "--state-dir",
                             str(state_dir), "--ready-file", str(ready)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("sandbox did not start")
        time.sleep(0.05)
    return proc, json.loads(ready.read_text())["endpoint"]


def clients(endpoint: str):
    import boto3

    kw = {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "sandbox",
          "aws_secret_access_key": "sandbox"}
    return boto3.client("s3", **kw), boto3.client("glue", **kw), boto3.client("athena", **kw)


def publish(s3, glue, files: list[tuple[str, Path]]) -> None:
    s3.create_bucket(Bucket="bench")
    glue.create_database(DatabaseInput={"Name": "bench"})
    parquet = {"InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
               "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
               "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}}
    glue.create_table(DatabaseName="bench", TableInput={
        "Name": "sales", "TableType": "EXTERNAL_TABLE", "PartitionKeys": [{"Name": "dt", "Type": "string"}],
        "StorageDescriptor": {"Columns": [{"Name": "store_id", "Type": "int"}, {"Name": "item_id", "Type": "int"},
                                          {"Name": "sales", "Type": "double"}, {"Name": "qty", "Type": "bigint"}],
                              "Location": "s3://bench/sales/", **parquet}})
    for day, path in files:
        s3.put_object(Bucket="bench", Key=f"sales/dt={day}/part-0.parquet", Body=path.read_bytes())
    for i in range(0, len(files), 100):
        glue.batch_create_partition(DatabaseName="bench", TableName="sales", PartitionInputList=[
            {"Values": [day], "StorageDescriptor": {**parquet, "Location": f"s3://bench/sales/dt={day}/"}}
            for day, _ in files[i:i + 100]])


PHASES: dict[str, list[float]] = {"StartQueryExecution": [], "GetQueryExecution (all polls)": [],
                                  "GetQueryResults (all pages)": [], "engine (server side)": []}


def athena_once(athena, sql: str) -> tuple[float, int]:
    start = time.perf_counter()
    qid = athena.start_query_execution(QueryString=sql, QueryExecutionContext={"Database": "bench"},
                                       ResultConfiguration={"OutputLocation": "s3://bench/results/"})["QueryExecutionId"]
    started = time.perf_counter()
    while True:
        execution = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        status = execution["Status"]
        if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
    if status["State"] != "SUCCEEDED":
        raise RuntimeError(status.get("StateChangeReason"))
    polled = time.perf_counter()
    rows, token = 0, None
    while True:
        page = athena.get_query_results(QueryExecutionId=qid, **({"NextToken": token} if token else {}))
        rows += len(page["ResultSet"]["Rows"])
        token = page.get("NextToken")
        if not token:
            done = time.perf_counter()
            for name, ms in zip(PHASES, ((started - start) * 1000, (polled - started) * 1000, (done - polled) * 1000,
                                          execution["Statistics"]["EngineExecutionTimeInMillis"]), strict=True):
                PHASES[name].append(ms)
            return (done - start) * 1000, rows - 1


def duckdb_once(con, sql: str) -> tuple[float, int]:
    start = time.perf_counter()
    rows = con.execute(sql).fetchall()
    return (time.perf_counter() - start) * 1000, len(rows)


def duckdb_fresh(sql: str) -> tuple[float, int]:
    start = time.perf_counter()
    con = duckdb.connect()
    rows = con.execute(sql).fetchall()
    con.close()
    return (time.perf_counter() - start) * 1000, len(rows)


def summary(label: str, times: list[float]) -> float:
    median = statistics.median(times)
    print(f"  {label:<44} median {median:7.1f} ms   min {min(times):7.1f}   max {max(times):7.1f}   (n={len(times)})")
    return median


def measure(athena, con, plain_sql: str, athena_sql: str, repeat: int, cold_label: str) -> None:
    for phase in PHASES.values():
        phase.clear()
    cold_ms, cold_rows = athena_once(athena, athena_sql)
    # Interleaved, so that a load spike on the machine hits both sides alike.
    plain, fresh, warm = [], [], []
    for _ in range(repeat):
        plain.append(duckdb_once(con, plain_sql)[0])
        fresh.append(duckdb_fresh(plain_sql)[0])
        warm.append(athena_once(athena, athena_sql)[0])
    _, plain_rows = duckdb_once(con, plain_sql)
    assert cold_rows == plain_rows, (cold_rows, plain_rows)
    print(f"query ({plain_rows} result rows):\n  {athena_sql}")
    base = summary("DuckDB, persistent connection", plain)
    base_fresh = summary("DuckDB, new connection per query", fresh)
    print(f"  {'sandbox Athena, cold (' + cold_label + ')':<44} {cold_ms:7.1f} ms")
    sandbox_ms = summary("sandbox Athena, warm (submit->poll->results)", warm)
    print("  where the warm time goes (medians; StartQueryExecution waits for a quick query to end):")
    for name, values in PHASES.items():
        print(f"    {name:<42} {statistics.median(values[1:]):7.1f} ms")
    print(f"  ratio warm / DuckDB persistent:      {sandbox_ms / base:5.2f}x")
    print(f"  ratio warm / DuckDB new connection:  {sandbox_ms / base_fresh:5.2f}x")
    print(f"  ratio cold / DuckDB persistent:      {cold_ms / base:5.2f}x\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="athena-bench-") as tmp:
        tmp = Path(tmp)
        files = make_data(args.rows, args.days, tmp / "data")
        first, last = files[0][0], files[-1][0]
        file_list = "[" + ", ".join(f"'{p}'" for _, p in files) + "]"
        proc, endpoint = start_sandbox(tmp / "state")
        try:
            s3, glue, athena = clients(endpoint)
            publish(s3, glue, files)
            print(f"{args.rows:,} rows in {len(files)} daily Parquet files "
                  f"({sum(p.stat().st_size for _, p in files) / 1e6:.1f} MB)\n")
            con = duckdb.connect()
            for query, cold in ((SMALL_QUERY, "S3 copy + plan"), (QUERY, "plan only")):
                plain_sql = query.format(table=f"read_parquet({file_list})", first=first, last=last)
                plain_sql = plain_sql.replace(f"WHERE dt BETWEEN '{first}' AND '{last}' ", "")  # all files are in range
                duckdb_once(con, plain_sql)  # warm the OS page cache
                measure(athena, con, plain_sql, query.format(table="sales", first=first, last=last), args.repeat,
                        cold)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    sys.exit(main())
