"""SageMaker Python SDK v3's ModelTrainer against the sandbox, run in its own venv (tests/conformance/clients.py),
as its docs show: SourceCode(source_dir, entry_script) + Compute, train(wait=True), then the finished job.
Prints one JSON line: {call: {"ok": ...} or {"error": ..., "trace": ...}}.

    python sagemaker_v3_calls.py <bucket> <source dir> <role arn> <training data uri>

ModelTrainer validates its role with iam:SimulatePrincipalPolicy unless SAGEMAKER_VALIDATE_ROLE=false; the
caller decides which.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from pathlib import Path

from recorded_calls import recorder  # beside this script, which runs in the client's own venv

bucket, source_dir, role, data_uri = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
# No telemetry call to AWS from an offline machine (the SDK's documented opt-out).
config = Path(tempfile.mkdtemp()) / "config.yaml"
config.write_text("SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n")
os.environ["SAGEMAKER_USER_CONFIG_OVERRIDE"] = str(config)

import boto3  # noqa: E402
from sagemaker.core.helper.session_helper import Session  # noqa: E402
from sagemaker.core.training.configs import Compute, InputData, SourceCode  # noqa: E402
from sagemaker.train import ModelTrainer  # noqa: E402

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
results: dict[str, dict] = {}
try:
    # An explicit default bucket: sagemaker-core's Session asks STS for the account on AWS's own host otherwise.
    session = Session(boto_session=boto3.Session(region_name="us-east-1"), default_bucket=bucket)
    trainer = ModelTrainer(training_image=IMAGE, role=role, sagemaker_session=session, base_job_name="v3-train",
                           source_code=SourceCode(source_dir=source_dir, entry_script="train.py"),
                           compute=Compute(instance_type="ml.m5.large", instance_count=1),
                           hyperparameters={"epochs": 2}, output_data_config=None)
    trainer.train(input_data_config=[InputData(channel_name="train", data_source=data_uri)], wait=True, logs=False)
    job = trainer._latest_training_job
    described = boto3.client("sagemaker").describe_training_job(TrainingJobName=job.training_job_name)
    results["train"] = {"ok": {
        "status": described["TrainingJobStatus"], "failure": described.get("FailureReason"),
        "entrypoint": described["AlgorithmSpecification"].get("ContainerEntrypoint"),
        "model": described["ModelArtifacts"]["S3ModelArtifacts"],
        "metrics": {m["MetricName"]: m["Value"] for m in described.get("FinalMetricDataList", [])},
    }}
    state = {"job": job.training_job_name}
except Exception as e:  # noqa: BLE001 - reported to the test
    results["train"] = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()[-4000:]}
    state = {}


call = recorder(results)


@call("training_job_get")
def _get():
    """sagemaker-core's resource classes parse Describe into typed shapes (the v3 'attach')."""
    from sagemaker.core.resources import TrainingJob

    job = TrainingJob.get(state["job"], session=session.boto_session)
    return {"status": job.training_job_status, "kms_key_id": job.output_data_config.kms_key_id,
            "entrypoint": job.algorithm_specification.container_entrypoint,
            "volume": job.resource_config.volume_size_in_gb}


@call("processing")
def _processing():
    """ProcessingJob.create with a script that hard-codes /opt/ml, as AWS's processing examples do."""
    from sagemaker.core.resources import ProcessingJob
    from sagemaker.core.shapes import (
        AppSpecification,
        ProcessingClusterConfig,
        ProcessingInput,
        ProcessingOutput,
        ProcessingOutputConfig,
        ProcessingResources,
        ProcessingS3Input,
        ProcessingS3Output,
    )

    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="v3/code/count.py", Body=(
        b"import pathlib\n"
        b"rows = pathlib.Path('/opt/ml/processing/input/data/train.csv').read_text().splitlines()\n"
        b"pathlib.Path('/opt/ml/processing/output/rows.txt').write_text(str(len(rows) - 1))\n"))

    def s3_in(name, uri, local):
        return ProcessingInput(input_name=name, s3_input=ProcessingS3Input(
            s3_uri=uri, local_path=local, s3_data_type="S3Prefix", s3_input_mode="File"))

    job = ProcessingJob.create(
        processing_job_name="v3-processing", role_arn=role, session=session.boto_session,
        processing_resources=ProcessingResources(cluster_config=ProcessingClusterConfig(
            instance_count=1, instance_type="ml.m5.large", volume_size_in_gb=5)),
        app_specification=AppSpecification(image_uri=IMAGE,
                                           container_entrypoint=["python3", "/opt/ml/processing/input/code/count.py"]),
        processing_inputs=[s3_in("code", f"s3://{bucket}/v3/code/", "/opt/ml/processing/input/code"),
                           s3_in("data", data_uri, "/opt/ml/processing/input/data")],
        processing_output_config=ProcessingOutputConfig(outputs=[ProcessingOutput(
            output_name="out", s3_output=ProcessingS3Output(
                s3_uri=f"s3://{bucket}/v3/processed", local_path="/opt/ml/processing/output",
                s3_upload_mode="EndOfJob"))]),
    )
    job.wait(poll=1, timeout=300)
    rows = s3.get_object(Bucket=bucket, Key="v3/processed/rows.txt")["Body"].read().decode()
    return {"status": ProcessingJob.get("v3-processing", session=session.boto_session).processing_job_status,
            "rows": rows}


@call("transform")
def _transform():
    """Model.create from the trained artifact with SKLearn serving code, then TransformJob.create/wait/get."""
    import io
    import tarfile

    from sagemaker.core.resources import Model, TransformJob
    from sagemaker.core.shapes import (
        ContainerDefinition,
        TransformDataSource,
        TransformInput,
        TransformOutput,
        TransformResources,
        TransformS3DataSource,
    )

    s3 = boto3.client("s3")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(Path(source_dir).parent / "serve_src" / "inference.py", arcname="inference.py")
    s3.put_object(Bucket=bucket, Key="v3/serve/sourcedir.tar.gz", Body=buffer.getvalue())
    s3.put_object(Bucket=bucket, Key="v3/batch/input.csv", Body=b"1,2\n3,3\n")
    artifact = results["train"]["ok"]["model"]
    Model.create(model_name="v3-model", execution_role_arn=role, session=session.boto_session,
                 primary_container=ContainerDefinition(image=IMAGE, model_data_url=artifact, environment={
                     "SAGEMAKER_PROGRAM": "inference.py",
                     "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/v3/serve/sourcedir.tar.gz"}))
    job = TransformJob.create(
        transform_job_name="v3-transform", model_name="v3-model", session=session.boto_session,
        transform_input=TransformInput(data_source=TransformDataSource(s3_data_source=TransformS3DataSource(
            s3_data_type="S3Prefix", s3_uri=f"s3://{bucket}/v3/batch/")), content_type="text/csv", split_type="Line"),
        transform_output=TransformOutput(s3_output_path=f"s3://{bucket}/v3/predictions", assemble_with="Line"),
        transform_resources=TransformResources(instance_type="ml.m5.large", instance_count=1),
        batch_strategy="MultiRecord",
    )
    job.wait(poll=1, timeout=300)
    got = TransformJob.get("v3-transform", session=session.boto_session)
    out = s3.get_object(Bucket=bucket, Key="v3/predictions/input.csv.out")["Body"].read().decode()
    return {"status": got.transform_job_status, "kms_key_id": got.transform_output.kms_key_id,
            "predictions": out.split()}


print()
print(json.dumps(results, default=str))
