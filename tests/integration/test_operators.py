"""The project's operators against the real sandbox: what a retry, a rerun, a clear and a kill do.

Contexts are built by hand (a try number, max_tries, the run) so each situation Airflow can put a task
in is reproduced exactly; the AWS side is the real sandbox server.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from batchml import job_requests
from batchml.operators.athena import AthenaQueryFailed, AthenaUnloadOperator
from batchml.operators.glue import GlueCatalogUpsertPartitionOperator
from batchml.operators.sagemaker import (
    SageMakerJobFailed,
    SageMakerJobFailedForGood,
    SageMakerProcessingJobOperator,
    SageMakerRegisterModelPackageOperator,
)

ROLE = "arn:aws:iam::123456789012:role/test-role"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
SCRIPT = b"""import argparse, pathlib, time
p = argparse.ArgumentParser(); p.add_argument('--out'); p.add_argument('--sleep', type=float, default=0)
a = p.parse_args(); time.sleep(a.sleep)
pathlib.Path(a.out).mkdir(parents=True, exist_ok=True); (pathlib.Path(a.out) / 'done.txt').write_text('ok')
print('wrote done.txt')
"""


@dataclass
class TI:
    dag_id: str
    run_id: str
    task_id: str
    try_number: int
    max_tries: int
    map_index: int = -1
    # What Airflow's execution API answers for other task instances ({run_id: {task_id: state}}).
    task_states: dict | None = None

    def get_task_states(self, dag_id: str, task_ids: list[str], run_ids: list[str]) -> dict:
        assert dag_id == self.dag_id
        return {r: {t: s for t, s in (self.task_states or {}).get(r, {}).items() if t in task_ids}
                for r in run_ids if r in (self.task_states or {})}


# When the test's DAG run started: one value, as Airflow keeps it across the run's tries.
RUN_STARTED = datetime.now(UTC) - timedelta(hours=1)


def context(task_id: str, try_number: int, *, max_tries: int = 3, run_id: str = "manual__it",
            run_started: datetime = RUN_STARTED, task_states: dict | None = None) -> dict:
    return {"ti": TI("it_dag", run_id, task_id, try_number, max_tries, task_states=task_states),
            "dag_run": SimpleNamespace(start_date=run_started)}


def processing_op(task_id: str, prefix: str, bucket: str, sleep: float = 0, **kwargs) -> SageMakerProcessingJobOperator:
    def request(job_name: str) -> dict:
        return job_requests.processing_job(
            job_name=job_name, role_arn=ROLE, image_uri=IMAGE, instance_type="ml.m5.large",
            code_uri=f"s3://{bucket}/code/", script="job.py", inputs={},
            outputs={"out": f"s3://{bucket}/out/{job_name}/"},
            arguments=["--out", "/opt/ml/processing/output/out", "--sleep", str(sleep)])

    return SageMakerProcessingJobOperator(task_id=task_id, job_name_prefix=prefix, request=request, retries=3,
                                          aws_conn_id=None, region_name="us-east-1", poll_interval=0.2,
                                          deferrable=False, **kwargs)


def jobs(sandbox, prefix: str) -> list[dict]:
    summaries = sandbox.boto3_client("sagemaker").list_processing_jobs(NameContains=prefix)["ProcessingJobSummaries"]
    return sorted(summaries, key=lambda s: s["ProcessingJobName"])


def test_retry_attaches_to_the_running_job_of_the_earlier_try(aws_env, bucket, unique):
    prefix = f"{unique}-pre-20261120"
    first = processing_op("pre", prefix, bucket, sleep=2)
    from batchml.attempts import Attempt

    # Try 1 launched its job, then its worker died while the job ran.
    name = first._launch(Attempt.of(context("pre", 1), 3))
    retry = processing_op("pre", prefix, bucket, sleep=2)
    result = retry.execute(context("pre", 2))
    assert result["job_name"] == name == f"{prefix}-1" and result["status"] == "Completed"
    assert [j["ProcessingJobName"] for j in jobs(aws_env, prefix)] == [f"{prefix}-1"]
    # A later try of the same chain takes the completed job's result without launching anything.
    again = processing_op("pre", prefix, bucket).execute(context("pre", 3))
    assert again["job_name"] == name and len(jobs(aws_env, prefix)) == 1
    assert again["outputs"]["out"] == f"s3://{bucket}/out/{name}/"


def test_a_run_made_again_with_the_same_run_id_does_not_adopt_the_old_runs_job(aws_env, bucket, unique):
    """Airflow 3.3.2's cleanup after a failed reprocessing-backfill request deletes the runs it was clearing;
    the retried request makes them again, with the same run_ids. The new run's first try must run its own
    job, not take the completed job of the deleted run's first try (its start_date tells them apart)."""
    prefix = f"{unique}-pre-20261120"
    old = processing_op("pre", prefix, bucket).execute(context("pre", 1))
    remade = datetime.now(UTC)
    new = processing_op("pre", prefix, bucket).execute(context("pre", 1, run_started=remade))
    assert (old["job_name"], new["job_name"]) == (f"{prefix}-1", f"{prefix}-2")
    # The new run's retry attaches to its own job, as before.
    again = processing_op("pre", prefix, bucket).execute(context("pre", 2, run_started=remade))
    assert again["job_name"] == f"{prefix}-2" and len(jobs(aws_env, prefix)) == 2


def test_retry_after_a_failed_job_launches_the_next_one(aws_env, bucket, unique):
    prefix = f"{unique}-pre-20261120"
    aws_env.client.fail_job(f"{prefix}-1", "AlgorithmError: first attempt breaks", count=1)
    with pytest.raises(SageMakerJobFailed, match="first attempt breaks") as err:
        processing_op("pre", prefix, bucket).execute(context("pre", 1))
    assert err.value.aws_reason == "AlgorithmError: first attempt breaks"
    result = processing_op("pre", prefix, bucket).execute(context("pre", 2))
    assert result["job_name"] == f"{prefix}-2"
    assert [j["ProcessingJobStatus"] for j in jobs(aws_env, prefix)] == ["Failed", "Completed"]


REFUSING_SCRIPT = b"""import pathlib, sys
# /opt/ml/output/message, as a processing script reports an error no retry can fix (contract.py).
message = pathlib.Path(sys.argv[1])
message.parent.mkdir(parents=True, exist_ok=True)
message.write_text('NonRetryableError: history of 130 days is too short')
sys.exit(1)
"""


def test_a_job_that_says_no_retry_can_help_fails_the_task_without_retrying(aws_env, bucket, unique):
    from airflow.sdk.exceptions import AirflowFailException

    aws_env.boto3_client("s3").put_object(Bucket=bucket, Key="refuse/job.py", Body=REFUSING_SCRIPT)
    prefix = f"{unique}-pre-20261120"

    def request(job_name: str) -> dict:
        return job_requests.processing_job(
            job_name=job_name, role_arn=ROLE, image_uri=IMAGE, instance_type="ml.m5.large",
            code_uri=f"s3://{bucket}/refuse/", script="job.py", inputs={}, outputs={},
            arguments=["/opt/ml/output/message"])

    op = SageMakerProcessingJobOperator(task_id="pre", job_name_prefix=prefix, request=request, retries=3,
                                        aws_conn_id=None, region_name="us-east-1", poll_interval=0.2, deferrable=False)
    with pytest.raises(SageMakerJobFailedForGood) as err:
        op.execute(context("pre", 1))
    assert isinstance(err.value, AirflowFailException)  # Airflow fails the task without using its retries
    assert "ExitMessage: NonRetryableError: history of 130 days is too short" in err.value.aws_reason
    [job] = jobs(aws_env, prefix)
    assert job["ExitMessage"] == "NonRetryableError: history of 130 days is too short"


def test_a_failure_without_the_marker_keeps_its_retries(aws_env, bucket, unique):
    from airflow.sdk.exceptions import AirflowFailException

    prefix = f"{unique}-pre-20261120"
    aws_env.client.fail_job(f"{prefix}-1", "AlgorithmError: out of memory", count=1)
    with pytest.raises(SageMakerJobFailed) as err:
        processing_op("pre", prefix, bucket).execute(context("pre", 1))
    assert not isinstance(err.value, AirflowFailException)


def test_a_cleared_task_or_another_run_starts_fresh(aws_env, bucket, unique):
    prefix = f"{unique}-pre-20261120"
    processing_op("pre", prefix, bucket).execute(context("pre", 1))
    # Cleared after succeeding: Airflow raised max_tries, so tries 2.. are a new attempt chain.
    cleared = processing_op("pre", prefix, bucket).execute(context("pre", 2, max_tries=4))
    assert cleared["job_name"] == f"{prefix}-2"
    other_run = processing_op("pre", prefix, bucket).execute(context("pre", 1, run_id="scheduled__other"))
    assert other_run["job_name"] == f"{prefix}-3"


def test_an_orphan_of_a_dead_run_with_the_same_request_is_adopted(aws_env, bucket, unique):
    from batchml.attempts import Attempt

    prefix = f"{unique}-pre-20261120"
    # A run that was killed (kill -9 under `airflow dags test`, then marked failed) left its job running.
    orphan = processing_op("pre", prefix, bucket, sleep=3)._launch(Attempt.of(context("pre", 1, run_id="dead"), 3))
    result = processing_op("pre", prefix, bucket, sleep=3).execute(
        context("pre", 1, run_id="backfill__new", task_states={"dead": {"pre": "failed"}}))
    assert result["job_name"] == orphan and result["status"] == "Completed"
    assert [j["ProcessingJobName"] for j in jobs(aws_env, prefix)] == [orphan]  # adopted: no second job


def test_an_orphan_whose_request_differs_is_stopped_and_replaced(aws_env, bucket, unique):
    from batchml.attempts import Attempt

    prefix = f"{unique}-pre-20261120"
    # The dead run's job ran other code (here: other arguments), e.g. before a fix was deployed.
    processing_op("pre", prefix, bucket, sleep=30)._launch(Attempt.of(context("pre", 1, run_id="dead"), 3))
    result = processing_op("pre", prefix, bucket).execute(
        context("pre", 1, run_id="backfill__new", task_states={"dead": {"pre": "failed"}}))
    assert result["job_name"] == f"{prefix}-2"
    assert _wait_status(aws_env, f"{prefix}-1", "Stopped") == "Stopped"  # never left running beside the new one


def test_a_job_whose_task_is_still_alive_is_left_to_it(aws_env, bucket, unique):
    from batchml.attempts import Attempt

    prefix = f"{unique}-pre-20261120"
    other = processing_op("pre", prefix, bucket, sleep=4)._launch(Attempt.of(context("pre", 1, run_id="live"), 3))
    result = processing_op("pre", prefix, bucket).execute(
        context("pre", 1, run_id="backfill__new", task_states={"live": {"pre": "deferred"}}))
    assert result["job_name"] == f"{prefix}-2"
    statuses = {j["ProcessingJobName"]: j["ProcessingJobStatus"] for j in jobs(aws_env, prefix)}
    assert statuses[other] in ("InProgress", "Completed")  # not stopped: its own task still waits on it


def test_action_if_job_exists_fail(aws_env, bucket, unique):
    prefix = f"{unique}-pre-20261120"
    processing_op("pre", prefix, bucket).execute(context("pre", 1))
    with pytest.raises(Exception, match="action_if_job_exists='fail'"):
        processing_op("pre", prefix, bucket, action_if_job_exists="fail").execute(context("pre", 2))


def _wait_status(sandbox, prefix: str, wanted: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = jobs(sandbox, prefix)[0]["ProcessingJobStatus"]
        if status == wanted:
            return status
        time.sleep(0.1)
    return status


def test_a_killed_task_stops_its_job(aws_env, bucket, unique):
    from batchml.attempts import Attempt

    prefix = f"{unique}-pre-20261120"
    op = processing_op("pre", prefix, bucket, sleep=60)
    op._launch(Attempt.of(context("pre", 1), 3))
    op.on_kill()
    assert _wait_status(aws_env, prefix, "Stopped") == "Stopped"


def test_a_deferral_timeout_stops_the_job(aws_env, bucket, unique):
    from airflow.sdk.bases.operator import TriggerFailureReason
    from airflow.sdk.exceptions import TaskDeferralTimeout

    from batchml.attempts import Attempt

    prefix = f"{unique}-pre-20261120"
    op = processing_op("pre", prefix, bucket, sleep=60)
    op._launch(Attempt.of(context("pre", 1), 3))
    resumed = processing_op("pre", prefix, bucket)  # a fresh instance, as after a deferral
    with pytest.raises(TaskDeferralTimeout):
        resumed.resume_execution("__fail__", {"error": TriggerFailureReason.TRIGGER_TIMEOUT}, context("pre", 1))
    assert _wait_status(aws_env, prefix, "Stopped") == "Stopped"


def test_register_model_is_once_per_partition(aws_env, unique):
    sm = aws_env.boto3_client("sagemaker")
    group = f"{unique}-models"
    sm.create_model_package_group(ModelPackageGroupName=group)

    def request(model_data: str) -> dict:
        return job_requests.model_package(
            group_name="ignored", description="test", image_uri=IMAGE, model_data_url=model_data,
            program="inference.py", sourcedir_uri="s3://b/code.tar.gz", region="us-east-1",
            content_types=["application/jsonlines"], response_types=["text/csv"], metrics_uri="s3://b/e.json",
            metadata={"partition_date": "2026-11-20"})

    def op(model_data: str, **kw):
        return SageMakerRegisterModelPackageOperator(
            task_id="register", package_group_name=group, partition_key="2026-11-20", request=request,
            request_kwargs={"model_data": model_data}, aws_conn_id=None, region_name="us-east-1", **kw)

    first = op("s3://b/run1/model.tar.gz").execute(context("register", 1))
    retry = op("s3://b/run1/model.tar.gz").execute(context("register", 2))
    assert first["action"] == "created" and retry["action"] == "reused"
    assert retry["model_package_arn"] == first["model_package_arn"]
    rerun = op("s3://b/run2/model.tar.gz").execute(context("register", 1, run_id="manual__rerun"))
    assert rerun["action"] == "created" and rerun["replaced"] == [first["model_package_arn"]]
    kept = op("s3://b/run3/model.tar.gz", if_exists="keep").execute(context("register", 1, run_id="manual__3"))
    assert kept["action"] == "kept" and kept["model_package_arn"] == rerun["model_package_arn"]
    versions = sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    assert [v["ModelPackageArn"] for v in versions] == [rerun["model_package_arn"]]
    assert versions[0]["ModelPackageDescription"].startswith("partition=2026-11-20 ")


@pytest.fixture
def table(aws_env, unique):
    glue = aws_env.boto3_client("glue")
    glue.create_database(DatabaseInput={"Name": unique})
    glue.create_table(DatabaseName=unique, TableInput={
        "Name": "predictions", "PartitionKeys": [{"Name": "dt", "Type": "string"}],
        "StorageDescriptor": {"Columns": [{"Name": "n", "Type": "bigint"}], "Location": f"s3://{unique}/p/",
                              "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
                              "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                                            "Parameters": {"field.delim": ","}}}})
    return unique


def test_publish_creates_then_repoints_the_partition(aws_env, table):
    from airflow.sdk import Asset

    def publish(location: str, **kw):
        return GlueCatalogUpsertPartitionOperator(
            task_id="publish", database_name=table, table_name="predictions", partition_values=["2026-11-20"],
            location=location, aws_conn_id=None, region_name="us-east-1", **kw)

    asset = Asset(name=f"{table}.predictions")
    events = {asset: SimpleNamespace(extra=None, partitions=[])}
    events[asset].add_partitions = events[asset].partitions.append
    ctx = {**context("publish", 1), "outlet_events": events}
    op = publish(f"s3://{table}/p/dt=2026-11-20/job-1/", outlets=[asset])
    assert op.execute(ctx)["action"] == "created"
    assert events[asset].extra["location"].endswith("job-1/") and events[asset].partitions == ["2026-11-20"]
    assert publish(f"s3://{table}/p/dt=2026-11-20/job-1/").execute(context("publish", 2))["action"] == "unchanged"
    moved = publish(f"s3://{table}/p/dt=2026-11-20/job-2/").execute(context("publish", 1, run_id="manual__b"))
    assert moved["action"] == "updated" and moved["previous_location"].endswith("job-1/")
    glue = aws_env.boto3_client("glue")
    parts = glue.get_partitions(DatabaseName=table, TableName="predictions")["Partitions"]
    assert [p["StorageDescriptor"]["Location"] for p in parts] == [f"s3://{table}/p/dt=2026-11-20/job-2/"]
    assert parts[0]["StorageDescriptor"]["SerdeInfo"]["Parameters"] == {"field.delim": ","}
    with pytest.raises(Exception, match="exists at"):
        publish(f"s3://{table}/p/x/", if_exists="fail").execute(context("publish", 1, run_id="manual__c"))


@pytest.fixture
def sales(aws_env, unique):
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    s3, glue, athena = (aws_env.boto3_client(n) for n in ("s3", "glue", "athena"))
    s3.create_bucket(Bucket=unique)
    glue.create_database(DatabaseInput={"Name": unique})
    glue.create_table(DatabaseName=unique, TableInput={
        "Name": "sales", "PartitionKeys": [{"Name": "dt", "Type": "string"}],
        "StorageDescriptor": {
            "Columns": [{"Name": "store_id", "Type": "string"}, {"Name": "units", "Type": "bigint"}],
            "Location": f"s3://{unique}/sales/",
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}}})
    for day in ("2026-11-19", "2026-11-20", "2026-11-21"):
        buf = io.BytesIO()
        pq.write_table(pa.table({"store_id": ["S1", "S2"], "units": [1, 2]}), buf)
        s3.put_object(Bucket=unique, Key=f"sales/dt={day}/part.parquet", Body=buf.getvalue())
        glue.create_partition(DatabaseName=unique, TableName="sales", PartitionInput={
            "Values": [day], "StorageDescriptor": {"Location": f"s3://{unique}/sales/dt={day}/"}})
    athena.create_work_group(Name=unique, Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{unique}/athena/"}})
    return unique


def unload_op(db: str, sql: str, parameters: dict, **kw) -> AthenaUnloadOperator:
    return AthenaUnloadOperator(task_id="extract", sql=sql, parameters=parameters, database=db,
                                output_prefix=f"s3://{db}/extract/dt=2026-11-20/", workgroup=db, retries=3,
                                aws_conn_id=None, region_name="us-east-1", poll_interval=0.2, deferrable=False, **kw)


def _extract_keys(aws_env, db):
    return [o["Key"] for o in aws_env.boto3_client("s3").list_objects_v2(
        Bucket=db, Prefix="extract/").get("Contents", [])]


def test_unload_binds_parameters_and_replaces_the_previous_extract(aws_env, sales):
    sql = "SELECT store_id, units, dt FROM sales WHERE dt BETWEEN :start AND :end"
    aws_env.boto3_client("s3").put_object(Bucket=sales, Key="extract/dt=2026-11-20/stale-file", Body=b"old")
    result = unload_op(sales, sql, {"start": "2026-11-19", "end": "2026-11-20"}).execute(context("extract", 1))
    assert result["rows"] == 4
    assert "extract/dt=2026-11-20/stale-file" not in _extract_keys(aws_env, sales)
    query = aws_env.boto3_client("athena").get_query_execution(QueryExecutionId=result["query_execution_id"])
    assert query["QueryExecution"]["ExecutionParameters"] == ["'2026-11-19'", "'2026-11-20'"]
    # A retry of the same chain reuses the succeeded query instead of unloading again.
    again = unload_op(sales, sql, {"start": "2026-11-19", "end": "2026-11-20"}).execute(context("extract", 2))
    assert again["query_execution_id"] == result["query_execution_id"]


def test_unload_input_cannot_inject_sql(aws_env, sales):
    sql = "SELECT store_id, units FROM sales WHERE dt = :day"
    result = unload_op(sales, sql, {"day": "2026-11-20' OR '1'='1"}).execute(context("extract", 1))
    assert result["rows"] == 0  # the whole value was compared as one string


def test_unload_failure_carries_athenas_reason(aws_env, sales):
    with pytest.raises(AthenaQueryFailed) as err:
        unload_op(sales, "SELECT missing_column FROM sales WHERE dt = :day", {"day": "2026-11-20"}).execute(
            context("extract", 1))
    assert "COLUMN_NOT_FOUND" in err.value.aws_reason
    # What the scheduler's copy of this failure finds, on a freshly parsed operator (no exception in its context).
    looked_up = unload_op(sales, "SELECT missing_column FROM sales WHERE dt = :day", {"day": "2026-11-20"}
                          ).failure_of_try(context("extract", 1))
    assert isinstance(looked_up, AthenaQueryFailed) and looked_up.aws_reason == err.value.aws_reason
    # Another run's try started no query: nothing to report, and nothing is started by looking.
    assert unload_op(sales, "SELECT 1", {}).failure_of_try(context("extract", 1, run_id="manual__other")) is None
    assert len(aws_env.boto3_client("athena").list_query_executions(WorkGroup=sales)["QueryExecutionIds"]) == 1


def test_a_sync_wait_past_max_wait_stops_the_job_and_fails(aws_env, bucket, unique):
    """The worker waits with the provider's waiter (the trigger's definition of done); out of attempts, the job
    is stopped, not left running and billing."""
    from airflow.sdk.exceptions import AirflowException

    prefix = f"{unique}-slow-20261120"
    op = processing_op("slow", prefix, bucket, sleep=30, max_wait=timedelta(seconds=2))
    with pytest.raises(AirflowException, match="still running after 0:00:02; stopped it"):
        op.execute(context("slow", 1))
    sm = aws_env.boto3_client("sagemaker")
    status = sm.describe_processing_job(ProcessingJobName=f"{prefix}-1")["ProcessingJobStatus"]
    assert status in ("Stopping", "Stopped")
