"""Sandbox figures, on this machine: start-up, job submit latency, and Athena overhead over DuckDB.

Prints figures; asserts nothing (targets: start <= 3 s, job latency <= 1 s, Athena <= 1.5x DuckDB).

    python bench/sandbox_bench.py [--runs 5] [--skip-athena]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]


def _client(endpoint: str, service: str):
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="sandbox", aws_secret_access_key="sandbox")


def start_up(runs: int) -> None:
    """From `python -m sandbox serve` to the first answered AWS call (S3 ListBuckets, through moto)."""
    import boto3  # noqa: F401  (imported before the clock starts: the client's cost is not the server's)

    health, first_call = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            import json
            import urllib.request

            ready = Path(tmp) / "ready.json"
            started = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "sandbox", "serve", "--port", "0", "--state-dir", tmp,
                                     "--ready-file", str(ready)], cwd=REPO, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            while not ready.exists():
                time.sleep(0.005)
            endpoint = json.loads(ready.read_text())["endpoint"]
            urllib.request.urlopen(f"{endpoint}/_sandbox/health").read()
            health.append(time.perf_counter() - started)
            t = time.perf_counter()
            s3 = _client(endpoint, "s3")
            client_setup = time.perf_counter() - t  # the client's own cost, not the server's
            s3.list_buckets()
            first_call.append(time.perf_counter() - started - client_setup)
            proc.terminate()
            proc.wait(timeout=20)
    print(f"start-up, process start -> /_sandbox/health answered:  median {statistics.median(health):.2f} s "
          f"(min {min(health):.2f}, max {max(health):.2f}, n={runs})")
    print(f"start-up, process start -> first S3 call answered:     median {statistics.median(first_call):.2f} s "
          f"(min {min(first_call):.2f}, max {max(first_call):.2f}, n={runs})   target <= 3 s")


SCRIPT = b"print('job script started', flush=True)\n"


def job_latency(runs: int) -> None:
    """CreateProcessingJob returning -> Describe shows InProgress, and -> the script's first log line."""
    import json

    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / "ready.json"
        proc = subprocess.Popen([sys.executable, "-m", "sandbox", "serve", "--port", "0", "--state-dir", tmp,
                                 "--ready-file", str(ready)], cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            while not ready.exists():
                time.sleep(0.01)
            endpoint = json.loads(ready.read_text())["endpoint"]
            s3, sm, logs = (_client(endpoint, s) for s in ("s3", "sagemaker", "logs"))
            s3.create_bucket(Bucket="bench")
            s3.put_object(Bucket="bench", Key="code/job.py", Body=SCRIPT)
            in_progress, first_line, total = [], [], []
            for i in range(runs):
                name = f"bench-latency-{i}"
                t0 = time.perf_counter()
                sm.create_processing_job(
                    ProcessingJobName=name, RoleArn="arn:aws:iam::123456789012:role/bench",
                    AppSpecification={"ImageUri": "bench:latest",
                                      "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/job.py"]},
                    ProcessingInputs=[{"InputName": "code", "S3Input": {
                        "S3Uri": "s3://bench/code/", "LocalPath": "/opt/ml/processing/input/code",
                        "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
                    ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                           "VolumeSizeInGB": 1}})
                created = time.perf_counter()
                while sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] != "InProgress":
                    time.sleep(0.001)
                in_progress.append(time.perf_counter() - created)
                while True:
                    try:
                        streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/ProcessingJobs",
                                                            logStreamNamePrefix=f"{name}/").get("logStreams", [])
                    except logs.exceptions.ResourceNotFoundException:  # the group appears with the first job
                        streams = []
                    events = [e for s in streams for e in logs.get_log_events(
                        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=s["logStreamName"])["events"]]
                    if any("job script started" in e["message"] for e in events):
                        break
                    time.sleep(0.02)
                first_line.append(time.perf_counter() - created)
                while sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] == "InProgress":
                    time.sleep(0.02)
                total.append(time.perf_counter() - t0)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    med = statistics.median
    print(f"job latency, Create returned -> Describe InProgress:   median {med(in_progress) * 1000:.1f} ms "
          f"(max {max(in_progress) * 1000:.1f} ms, n={runs})   target <= 1 s")
    print(f"job latency, Create returned -> script's first log line: median {med(first_line):.2f} s "
          f"(max {max(first_line):.2f} s; includes the sandbox's 0.5 s stand-in for instance start-up)")
    print(f"job wall time, Create -> Completed (one-line script):    median {med(total):.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-athena", action="store_true")
    args = parser.parse_args()
    import os

    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
    start_up(args.runs)
    job_latency(args.runs)
    if not args.skip_athena:
        print("\nAthena over 1M Parquet rows vs DuckDB on the same files (bench/athena_overhead.py):")
        sys.argv = [sys.argv[0]]
        import athena_overhead

        athena_overhead.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
