"""`python -m sandbox seed` deploys infra/demand-forecast.yaml through moto's CloudFormation: every resource of
the template exists afterwards, created by the stack and nowhere else, with the template's settings."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from sandbox import profile
from sandbox.seed import PARAMETERS, STACK_NAME, TEMPLATE
from tests.conftest import REPO, start_sandbox, stop_sandbox


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    proc, handle = start_sandbox(tmp_path_factory.mktemp("seed-stack"))
    try:
        port = handle.endpoint.rsplit(":", 1)[1]
        cmd = [sys.executable, "-m", "sandbox", "seed", "--port", port, "--days", "20", "--stores", "2",
               "--items", "3", "--end-date", "2026-11-20"]
        first = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
        assert first.returncode == 0, first.stderr[-3000:]
        again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
        assert again.returncode == 0, again.stderr[-3000:]
        yield handle, first.stdout, again.stdout
    finally:
        violations = handle.client.stats()["shape_violations"]
        stop_sandbox(proc)
    assert not violations


def test_every_template_resource_is_created_by_the_stack(seeded):
    handle, _, _ = seeded
    cfn = handle.boto3_client("cloudformation")
    (stack,) = cfn.describe_stacks(StackName=STACK_NAME)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    template = yaml.safe_load(TEMPLATE.read_text())
    params = {p["ParameterKey"]: p["ParameterValue"] for p in json.loads(PARAMETERS.read_text())}
    # The sandbox has no VPC and owns its raw database: every other resource is unconditional, or on.
    expected = {name: r["Type"] for name, r in template["Resources"].items()
                if r.get("Condition") != "HasVpc" and (r.get("Condition") != "OwnsRawDatabase"
                                                       or params["CreateRawDatabase"] == "true")}
    listed = {r["LogicalResourceId"]: r["ResourceType"]
              for r in cfn.list_stack_resources(StackName=STACK_NAME)["StackResourceSummaries"]}
    assert listed == expected


def test_the_resources_have_the_templates_settings(seeded):
    handle, _, _ = seeded
    athena = handle.boto3_client("athena")
    wg = athena.get_work_group(WorkGroup=profile.ATHENA_WORKGROUP)["WorkGroup"]["Configuration"]
    assert wg["EnforceWorkGroupConfiguration"] is True
    assert wg["ResultConfiguration"]["OutputLocation"] == profile.ATHENA_RESULTS
    assert wg["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    assert wg["BytesScannedCutoffPerQuery"] == 10737418240

    glue = handle.boto3_client("glue")
    assert {d["Name"] for d in glue.get_databases()["DatabaseList"]} >= {profile.RAW_DATABASE,
                                                                        profile.FORECAST_DATABASE}
    table = glue.get_table(DatabaseName=profile.FORECAST_DATABASE, Name="predictions")["Table"]
    assert table["StorageDescriptor"]["Location"] == f"s3://{profile.BUCKET}/{profile.PREFIX}/demand_forecast/predictions/"
    assert [k["Name"] for k in table["PartitionKeys"]] == ["dt"]

    sm = handle.boto3_client("sagemaker")
    group = sm.describe_model_package_group(ModelPackageGroupName=profile.MODEL_PACKAGE_GROUP)
    assert group["ModelPackageGroupStatus"] == "Completed"

    iam = handle.boto3_client("iam")
    role = iam.get_role(RoleName=profile.ROLE_NAME)["Role"]
    assert role["Arn"] == profile.ROLE_ARN
    assert iam.list_role_policies(RoleName=profile.ROLE_NAME)["PolicyNames"] == ["demand-forecast-jobs"]
    assert iam.get_role(RoleName="demand-forecast-airflow")["Role"]["AssumeRolePolicyDocument"]

    s3 = handle.boto3_client("s3")
    enc = s3.get_bucket_encryption(Bucket=profile.BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert enc["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"

    logs = handle.boto3_client("logs")
    groups = {g["logGroupName"]: g.get("retentionInDays")
              for g in logs.describe_log_groups(logGroupNamePrefix="/aws/sagemaker/")["logGroups"]}
    assert groups == {f"/aws/sagemaker/{k}Jobs": 7 for k in ("Processing", "Training", "Transform")}

    secret = handle.boto3_client("secretsmanager").get_secret_value(SecretId="airflow/connections/slack_oncall")
    assert json.loads(secret["SecretString"])["conn_type"] == "slack"


def test_the_raw_data_lands_in_the_stacks_bucket_and_a_reseed_keeps_the_stack(seeded):
    handle, first, again = seeded
    assert json.loads(first)["stack"]["resources"] == json.loads(again)["stack"]["resources"]
    cfn = handle.boto3_client("cloudformation")
    assert len(cfn.describe_stacks()["Stacks"]) == 1
    athena_rows = handle.boto3_client("glue").get_partitions(DatabaseName=profile.RAW_DATABASE, TableName="sales")
    assert len(athena_rows["Partitions"]) == 20


def test_the_slack_connection_comes_from_secrets_manager_through_the_providers_backend(seeded):
    """The sandbox's Airflow reads `slack_oncall` the way production does: SecretsManagerBackend, configured
    from the same environment `python -m sandbox env` prints, against the secret the stack created."""
    import os

    from airflow.providers.amazon.aws.secrets.secrets_manager import SecretsManagerBackend

    handle, _, _ = seeded
    env = profile.environment(handle.endpoint)
    assert env["AIRFLOW__SECRETS__BACKEND"].endswith(".SecretsManagerBackend")
    assert "AIRFLOW_CONN_SLACK_ONCALL" not in env  # the token is nowhere in Airflow's configuration
    kwargs = json.loads(env["AIRFLOW__SECRETS__BACKEND_KWARGS"])
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(AWS_ACCESS_KEY_ID="sandbox", AWS_SECRET_ACCESS_KEY="sandbox")
    try:
        backend = SecretsManagerBackend(**kwargs)
        handle.client.clear_access()
        conn = backend.get_connection("slack_oncall")
        missing = backend.get_connection("aws_default")  # not a secret: Airflow falls through to the next backend
        variable = backend.get_variable("demand_forecast_env")  # variables_prefix is off: no lookup at all
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    assert conn.conn_type == "slack" and conn.password == profile.SLACK_TOKEN
    assert conn.extra_dejson["base_url"] == f"{handle.endpoint}/_sandbox/slack/api/"
    assert missing is None and variable is None
    # Only slack_oncall is looked up in Secrets Manager: the Airflow role may read that secret and no other.
    lookups = [e["resource"] for e in handle.client.access() if e["action"] == "secretsmanager:GetSecretValue"]
    assert lookups and all(":secret:airflow/connections/slack_oncall-" in r for r in lookups), lookups
