"""Read back what a demand_forecast run left for one partition, through the AWS APIs only (S3, Glue,
Athena, SageMaker) as an analyst or on-call engineer would. Used by `make demo` and the end-to-end tests.

    python -m tools.inspect_run 2026-11-20 [--endpoint http://127.0.0.1:4566]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "plugins")]


def _clients(endpoint: str | None, region: str):
    import boto3

    kwargs = {"endpoint_url": endpoint} if endpoint else {}
    # Against the sandbox, its administrator key (sandbox.iam); against AWS, the usual credential chain.
    creds = {"aws_access_key_id": "sandbox", "aws_secret_access_key": "sandbox"} if endpoint else {}
    session = boto3.Session(region_name=region, **creds)
    return {name: session.client(name, **kwargs) for name in ("s3", "glue", "athena", "sagemaker")}


def athena_query(athena, sql: str, *, database: str, workgroup: str, params: list[str] | None = None,
                 timeout: float = 60) -> list[list[str | None]]:
    """Run a query and return its rows (header first), the way any Athena client would."""
    kwargs: dict[str, Any] = {"QueryString": sql, "QueryExecutionContext": {"Database": database}, "WorkGroup": workgroup}
    if params:
        kwargs["ExecutionParameters"] = params
    qid = athena.start_query_execution(**kwargs)["QueryExecutionId"]
    deadline = time.monotonic() + timeout
    while True:
        status = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
        if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"query {qid} still {status['State']}")
        time.sleep(0.1)
    if status["State"] != "SUCCEEDED":
        raise RuntimeError(f"query {qid} {status['State']}: {status.get('StateChangeReason')}")
    rows = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=qid):
        rows += [[d.get("VarCharValue") for d in r["Data"]] for r in page["ResultSet"]["Rows"]]
    return rows


def _parquet_rows(s3, uri: str) -> int:
    import pyarrow.parquet as pq

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    total = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            total += pq.ParquetFile(io.BytesIO(body)).metadata.num_rows
    return total


def _latest_object(s3, uri: str, name: str) -> str | None:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found += [o for o in page.get("Contents", []) if o["Key"].endswith("/" + name)]
    if not found:
        return None
    newest = max(found, key=lambda o: o["LastModified"])
    return f"s3://{bucket}/{newest['Key']}"


def inspect_partition(endpoint: str | None, day: str, env: dict[str, Any] | None = None) -> dict[str, Any]:
    from batchml.config import PipelineSettings
    from batchml.demand_forecast.plan import paths
    from batchml.gate import decide
    from batchml.naming import S3Layout, marked_partition
    from sandbox.profile import pipeline_environment

    env = env or pipeline_environment()
    c = _clients(endpoint, env["region"])
    settings = PipelineSettings.load("demand_forecast")
    p = paths(S3Layout(env["bucket"], env.get("prefix", ""), "demand_forecast"), day)
    report: dict[str, Any] = {"partition_date": day}

    report["extract"] = {"training_rows": _parquet_rows(c["s3"], p.extract_training),
                         "scoring_rows": _parquet_rows(c["s3"], p.extract_scoring)}
    evaluation_uri = _latest_object(c["s3"], p.evaluation, "evaluation.json")
    if evaluation_uri:
        bucket, _, key = evaluation_uri.removeprefix("s3://").partition("/")
        evaluation = json.loads(c["s3"].get_object(Bucket=bucket, Key=key)["Body"].read())
        report["evaluation"] = evaluation
        report["evaluation_uri"] = evaluation_uri
        report["plot_uri"] = evaluation_uri.rsplit("/", 1)[0] + "/" + evaluation.get("plot", "")
        decision = decide(evaluation, **settings.gate.model_dump())
        report["gate"] = ("challenger approved" if decision.approved else
                          f"challenger rejected, using {decision.use}: " + "; ".join(decision.reasons))
    versions = []
    for page in c["sagemaker"].get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=env["model_package_group"]):
        versions += [v for v in page["ModelPackageSummaryList"]
                     if marked_partition(v.get("ModelPackageDescription", "")) == day]
    report["model_versions_for_partition"] = len(versions)
    if versions:
        v = versions[0]
        report["model_package"] = {"arn": v["ModelPackageArn"], "version": v.get("ModelPackageVersion"),
                                   "status": v.get("ModelApprovalStatus")}
    try:
        part = c["glue"].get_partition(DatabaseName=env["forecast_database"], TableName="predictions",
                                       PartitionValues=[day])["Partition"]
        report["partition"] = {"table": f"{env['forecast_database']}.predictions",
                               "location": part["StorageDescriptor"]["Location"]}
        rows = athena_query(c["athena"], "SELECT count(*) AS n, count(DISTINCT store_id || '/' || item_id) AS series, "
                            "min(forecast_date) AS first_day, max(forecast_date) AS last_day "
                            "FROM predictions WHERE dt = ?", database=env["forecast_database"],
                            workgroup=env["athena_workgroup"], params=[f"'{day}'"])
        n, series, first, last = rows[1]
        report["prediction_rows"] = int(n)
        report["predictions"] = {"series": int(series), "first_day": first, "last_day": last}
    except c["glue"].exceptions.EntityNotFoundException:
        report["partition"] = None
        report["prediction_rows"] = 0
    if endpoint:
        from sandbox.client import SandboxClient

        report["slack"] = SandboxClient(endpoint).slack_messages()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("day")
    parser.add_argument("--endpoint", default="http://127.0.0.1:4566")
    args = parser.parse_args()
    print(json.dumps(inspect_partition(args.endpoint, args.day), indent=2, default=str))


if __name__ == "__main__":
    main()
