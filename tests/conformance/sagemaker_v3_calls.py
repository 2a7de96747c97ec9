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
except Exception as e:  # noqa: BLE001 - reported to the test
    results["train"] = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()[-4000:]}
print()
print(json.dumps(results, default=str))
