"""The project's SageMaker operator against a sandbox whose job quota is full: AWS refuses the Create with
ResourceLimitExceeded. The operator does not retry it itself (neither does botocore, nor the provider's
operators): the task fails with AWS's message and Airflow's task retries (3, with backoff, in the shipped
settings) launch the job once a slot is free. The DAG's pool, sized to the quota, keeps this from happening
for the pipeline's own jobs (tests/scheduler checks that with a quota equal to the pool)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.conftest import start_sandbox, stop_sandbox
from tests.integration.test_operators import SCRIPT, context, processing_op
from tests.sandbox.jobs.sm_support import processing_request, wait


@pytest.fixture
def full_quota(tmp_path, monkeypatch):
    proc, sandbox = start_sandbox(tmp_path, "--max-concurrent-jobs", "1")
    for key, value in sandbox.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    try:
        s3, sm = sandbox.boto3_client("s3"), sandbox.boto3_client("sagemaker")
        s3.create_bucket(Bucket="quota")
        s3.put_object(Bucket="quota", Key="code/job.py", Body=SCRIPT)
        # Another pipeline's job holds the account's only processing slot.
        sm.create_processing_job(**processing_request("other-pipeline-job", "quota", "s3://quota/code/job.py",
                                                      ["--out", "/opt/ml/processing/output/x", "--sleep", "60"]))
        yield sandbox
    finally:
        stop_sandbox(proc)


def test_a_full_quota_fails_the_try_and_a_later_try_launches(full_quota):
    prefix = "quota-pre-20261120"
    with pytest.raises(ClientError) as err:
        processing_op("pre", prefix, "quota").execute(context("pre", 1))
    assert err.value.response["Error"]["Code"] == "ResourceLimitExceeded"
    assert err.value.response["ResponseMetadata"]["RetryAttempts"] == 0  # not a throttle: botocore does not retry
    sm = full_quota.boto3_client("sagemaker")
    assert sm.list_processing_jobs(NameContains=prefix)["ProcessingJobSummaries"] == []
    sm.stop_processing_job(ProcessingJobName="other-pipeline-job")
    wait(sm, "processing", "other-pipeline-job", timeout=30)
    result = processing_op("pre", prefix, "quota").execute(context("pre", 2))
    assert result["job_name"] == f"{prefix}-1" and result["status"] == "Completed"
