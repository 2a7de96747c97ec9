"""SageMaker Python SDK v3's ModelTrainer (what `pip install sagemaker` gives today) against the sandbox:
SourceCode + Compute, train(wait=True). It sends ContainerEntrypoint /bin/bash with its own driver script
(sm_drivers/sm_train.sh) and the user's code as channels, so this checks that the sandbox runs that command
with the job's own /opt/ml and that the user's script really trained.

sagemaker-train pins its own ranges (mlflow, graphene, ...), so it runs in its own cached venv
(tests/conformance/requirements-sagemaker-v3.txt, built by clients.py on first use, about a minute).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conformance.clients import SAGEMAKER_V3, client_venv
from tests.sandbox.jobs.sm_support import JOBS, ROLE, untar

SCRIPT = Path(__file__).with_name("sagemaker_v3_calls.py")
BUCKET = "conformance-sdk-v3"


def _run(sandbox, *, validate_role: bool, role: str = ROLE) -> dict:
    env = {**sandbox.env(), "AWS_DEFAULT_REGION": "us-east-1",
           "SAGEMAKER_VALIDATE_ROLE": "true" if validate_role else "false"}
    proc = subprocess.run([str(client_venv(SAGEMAKER_V3) / "bin" / "python"), str(SCRIPT), BUCKET,
                           str(JOBS / "train_src"), role, f"s3://{BUCKET}/data/"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _train(sandbox, *, validate_role: bool, role: str = ROLE) -> dict:
    result = _run(sandbox, validate_role=validate_role, role=role)["train"]
    assert "ok" in result, result.get("trace") or result
    return result["ok"]


@pytest.fixture(scope="module")
def data(sandbox):
    s3 = sandbox.boto3_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="data/train.csv", Body=b"x1,x2,y\n1,2,5\n2,1,4\n3,3,9\n4,1,6\n")
    return s3


@pytest.fixture(scope="module")
def trained(sandbox, data) -> dict:
    """One run of every call, role validation off (SAGEMAKER_VALIDATE_ROLE=false, the SDK's documented switch)."""
    return _run(sandbox, validate_role=False)


def test_model_trainer_train_runs_the_users_script(trained, data):
    assert "ok" in trained["train"], trained["train"].get("trace") or trained["train"]
    job = trained["train"]["ok"]
    assert job["status"] == "Completed", job["failure"]
    assert job["entrypoint"] == ["/bin/bash"]
    bucket, key = job["model"].removeprefix("s3://").split("/", 1)
    files = untar(data.get_object(Bucket=bucket, Key=key)["Body"].read())
    contract = json.loads(files["contract.json"])
    assert contract["coef"] == pytest.approx([1.0, 2.0])  # y = x1 + 2 x2: the script trained on the channel
    assert contract["argv"] == ["--epochs", "2"]


def test_model_trainer_with_role_validation(sandbox, data):
    """ModelTrainer(role=...) calls iam:SimulatePrincipalPolicy (paginated), which the sandbox answers from the
    role's policies with the same evaluator that enforces them (sandbox/iam.py). The role is a real one here,
    so the job's own S3 and log calls are authorised against it too."""
    iam = sandbox.boto3_client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="conformance-sdk-v3-execution",
                           AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName="conformance-sdk-v3-execution", PolicyName="data", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
             "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]},
            {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:CreateLogGroup"],
             "Resource": "*"},
            # What sagemaker-core's resolver demands of any training role (it refused the role without them,
            # naming each, as it would on AWS): metrics, image pull and VPC networking.
            {"Effect": "Allow", "Resource": "*", "Action": [
                "cloudwatch:PutMetricData", "ecr:GetAuthorizationToken", "ec2:CreateNetworkInterface",
                "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"]}]}))
    verdicts = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["s3:GetObject", "iam:CreateUser"],
                                             ResourceArns=[f"arn:aws:s3:::{BUCKET}/data/train.csv"])
    assert {r["EvalActionName"]: r["EvalDecision"] for r in verdicts["EvaluationResults"]} == {
        "s3:GetObject": "allowed", "iam:CreateUser": "implicitDeny"}
    job = _train(sandbox, validate_role=True, role=role)
    assert job["status"] == "Completed", job["failure"]


def test_training_job_get_parses_the_description(trained):
    """sagemaker-core's TrainingJob.get (v3's attach) parses Describe into typed shapes."""
    got = trained["training_job_get"]
    assert "ok" in got, got.get("trace") or got
    assert got["ok"] == {"status": "Completed", "kms_key_id": "", "entrypoint": ["/bin/bash"], "volume": 30}


def test_processing_job_create_with_a_script_that_hard_codes_opt_ml(trained):
    got = trained["processing"]
    assert "ok" in got, got.get("trace") or got
    assert got["ok"] == {"status": "Completed", "rows": "4"}


def test_transform_job_create_from_the_trained_model(trained):
    got = trained["transform"]
    assert "ok" in got, got.get("trace") or got
    assert got["ok"]["status"] == "Completed" and got["ok"]["kms_key_id"] == ""
    assert json.loads("".join(got["ok"]["predictions"])) == pytest.approx([5.0, 9.0])
