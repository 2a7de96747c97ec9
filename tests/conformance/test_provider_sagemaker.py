"""The Amazon provider's own SageMakerProcessingOperator and SageMakerTrainingOperator against the sandbox,
used the way its `example_sagemaker` system test does: sync (the hook's own polling), deferrable (the
operator's trigger, through aiobotocore's waiters, really run), and with a failure injected. The project's
operators extend these (plugins/batchml/operators/sagemaker.py), so a change of the sandbox that broke the
provider's own path would otherwise go unnoticed.

Contexts are built by hand (tests/conformance/operators.py): only what these operators read."""

from __future__ import annotations

import pytest
from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerProcessingOperator,
    SageMakerTrainingOperator,
)
from airflow.providers.common.compat.sdk import AirflowException

from tests.conformance.operators import context, defer_and_resume
from tests.sandbox.jobs.sm_support import (
    get,
    keys,
    make_bucket,
    processing_request,
    put,
    s3_input,
    s3_output,
    training_request,
    upload_script,
    upload_sourcedir,
)

ARGS = ["--input", "/opt/ml/processing/input/data", "--output", "/opt/ml/processing/output",
        "--config", "/opt/ml/config/processingjobconfig.json"]
REASON = "AlgorithmError: injected: the instance ran out of memory"


@pytest.fixture
def bucket(aws, unique, sandbox, monkeypatch) -> str:
    for key, value in sandbox.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    name = make_bucket(aws, f"{unique}-provider")
    put(aws, name, "raw/day.csv", "id,value\n1,1.5\n2,4\n")
    put(aws, name, "data/train/part-0.csv", "x1,x2,y\n1,2,5\n2,1,4\n3,3,9\n4,1,6\n")
    return name


def processing(aws, bucket: str, name: str, **kw) -> SageMakerProcessingOperator:
    code = upload_script(aws, bucket, "code/process_csv.py", "process_csv.py")
    config = processing_request(name, bucket, code, ARGS,
                                inputs=[s3_input("data", f"s3://{bucket}/raw/", "/opt/ml/processing/input/data")],
                                outputs=[s3_output("result", f"s3://{bucket}/clean", "/opt/ml/processing/output")])
    return SageMakerProcessingOperator(task_id="process", config=config, check_interval=1, aws_conn_id=None,
                                       region_name="us-east-1", action_if_job_exists="fail", **kw)


def training(aws, bucket: str, name: str, **kw) -> SageMakerTrainingOperator:
    source = upload_sourcedir(aws, bucket, "code/sourcedir.tar.gz", "train_src")
    config = training_request(name, bucket, source, channels={"train": f"s3://{bucket}/data/train"})
    return SageMakerTrainingOperator(task_id="train", config=config, check_interval=1, aws_conn_id=None,
                                     region_name="us-east-1", print_log=False, **kw)


def test_sync_processing_runs_the_script_and_uploads_its_output(aws, bucket, unique):
    result = processing(aws, bucket, unique).execute(context())
    assert result["Processing"]["ProcessingJobStatus"] == "Completed"
    [out] = [k for k in keys(aws, bucket, "clean/") if k.endswith(".csv")]
    assert get(aws, bucket, out).decode().splitlines() == ["id,value", "1,3.0", "2,8.0"]


def test_sync_processing_fails_with_the_jobs_reason(aws, bucket, unique, sandbox):
    sandbox.client.fail_job(unique, REASON)
    with pytest.raises(AirflowException, match="injected: the instance ran out of memory"):
        processing(aws, bucket, unique).execute(context())


def test_deferrable_processing_resumes_from_the_trigger(aws, bucket, unique):
    result = defer_and_resume(processing(aws, bucket, unique, deferrable=True), context())
    assert result["Processing"]["ProcessingJobStatus"] == "Completed"


def test_deferrable_processing_fails_when_the_job_fails(aws, bucket, unique, sandbox):
    sandbox.client.fail_job(unique, REASON)
    with pytest.raises(AirflowException, match="Error while running job: .*injected: the instance ran out of memory"):
        defer_and_resume(processing(aws, bucket, unique, deferrable=True), context())


def test_sync_and_deferrable_training_produce_a_model(aws, bucket, unique):
    for name, kw in ((f"{unique}-sync", {}), (f"{unique}-deferred", {"deferrable": True})):
        op = training(aws, bucket, name, **kw)
        result = defer_and_resume(op, context()) if kw else op.execute(context())
        assert result["Training"]["TrainingJobStatus"] == "Completed", name
        model = result["Training"]["ModelArtifacts"]["S3ModelArtifacts"]
        assert model.startswith(f"s3://{bucket}/models/{name}/") and model.endswith("model.tar.gz")
        assert result["Training"]["OutputDataConfig"]["KmsKeyId"] == ""  # as AWS fills it in
