"""The SageMaker Python SDK v2 against the sandbox, as its docs show: SKLearn fit, SKLearn.attach and
Estimator.attach (which index Describe members AWS always returns, e.g. OutputDataConfig.KmsKeyId), an
SKLearnProcessor run, and a batch transform from an SKLearnModel with Transformer.attach.

SDK v2 pins its own numpy/pandas/protobuf ranges, so it runs in its own cached venv
(tests/conformance/requirements-sagemaker-v2.txt, built by clients.py on first use, about 4 minutes and
kept in .cache/), one process for all the calls (sagemaker_v2_calls.py); each test checks one call.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conformance.clients import SAGEMAKER_V2, client_venv
from tests.sandbox.jobs.sm_support import JOBS, ROLE

SCRIPT = Path(__file__).with_name("sagemaker_v2_calls.py")
BUCKET = "conformance-sdk-v2"


@pytest.fixture(scope="module")
def calls(sandbox) -> dict:
    sandbox.boto3_client("s3").create_bucket(Bucket=BUCKET)
    env = {**sandbox.env(), "AWS_DEFAULT_REGION": "us-east-1", "SAGEMAKER_SUPPRESS_V2_WARNING": "1"}
    proc = subprocess.run([str(client_venv(SAGEMAKER_V2) / "bin" / "python"), str(SCRIPT), BUCKET, str(JOBS), ROLE],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ok(calls: dict, name: str):
    assert "ok" in calls[name], calls[name].get("trace") or calls[name]
    return calls[name]["ok"]


def test_fit(calls):
    fit = ok(calls, "fit")
    assert fit["status"] == "Completed"
    assert fit["model_data"] == f"s3://{BUCKET}/v2/models/{fit['job']}/output/model.tar.gz"


def test_sklearn_attach(calls):
    attached = ok(calls, "sklearn_attach")
    assert attached["entry_point"] == "train.py" and attached["framework_version"] == "1.2-1"
    assert attached["output_kms_key"] == "" and attached["output_path"] == f"s3://{BUCKET}/v2/models"
    assert attached["hyperparameters"] == {"epochs": "2"}
    assert attached["model_data"] == ok(calls, "fit")["model_data"]


def test_estimator_attach(calls):
    attached = ok(calls, "estimator_attach")
    assert attached["image_uri"].endswith("/sagemaker-scikit-learn:1.2-1-cpu-py3")
    assert (attached["output_kms_key"], attached["max_run"], attached["volume_size"]) == ("", 86400, 30)


def test_processing(calls):
    assert ok(calls, "processing") == {"status": "Completed", "outputs": ["v2/processed/rows.txt"]}


def test_transform_and_transformer_attach(calls):
    result = ok(calls, "transform")
    # y = x1 + 2 x2 fitted on exact data; the two input lines go as one MultiRecord payload.
    assert json.loads("".join(result["predictions"])) == pytest.approx([5.0, 9.0])
    assert (result["attached_output_path"], result["attached_kms"], result["attached_assemble_with"]) == (
        f"s3://{BUCKET}/v2/predictions", "", "None")
