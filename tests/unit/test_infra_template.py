"""infra/demand-forecast.yaml: the policies' shape, the bucket's protections, and the parameter files.

cfn-lint (`make lint`) checks that the template is valid CloudFormation; these tests check what cfn-lint
cannot know: that the roles are least privilege by construction and that the names in the template are
the names the pipeline uses.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
import yaml

from batchml.naming import S3Layout, job_name, job_name_prefix

INFRA = Path(__file__).resolve().parents[2] / "infra"
TEMPLATE = yaml.safe_load((INFRA / "demand-forecast.yaml").read_text())
RESOURCES = TEMPLATE["Resources"]
PARAMS = TEMPLATE["Parameters"]

# Actions that have no resource type in IAM, so AWS accepts only Resource "*" for them.
NEEDS_STAR = {
    "ecr:GetAuthorizationToken", "cloudwatch:PutMetricData",
    "sagemaker:ListProcessingJobs", "sagemaker:ListTrainingJobs", "sagemaker:ListTransformJobs",
    "sagemaker:ListModelPackages",
    "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    # Network interfaces do not exist yet when SageMaker creates them; the statement is bound by ec2:Vpc.
    "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
}


def _as_list(value):
    return value if isinstance(value, list) else [value]


def statements(role: str, *, vpc: bool = True, raw_in_own_bucket: bool = True) -> list[dict]:
    """The role's inline policy statements, with statement-level `Fn::If` resolved for the given conditions."""
    conditions = {"HasVpc": vpc, "RawInOwnBucket": raw_in_own_bucket}
    out = []
    for policy in RESOURCES[role]["Properties"]["Policies"]:
        for stmt in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in stmt:
                cond, yes, no = stmt["Fn::If"]
                stmt = yes if conditions[cond] else no
                if stmt == {"Ref": "AWS::NoValue"}:
                    continue
            out.append(stmt)
    return out


def _subs(resource) -> list[str]:
    """The text of each ARN (Fn::Sub templates as written, GetAtt/Ref as `<Name.Attr>`)."""
    out = []
    for r in _as_list(resource):
        if isinstance(r, str):
            out.append(r)
        elif "Fn::Sub" in r:
            out.append(r["Fn::Sub"])
        elif "Fn::GetAtt" in r:
            out.append("${" + ".".join(r["Fn::GetAtt"]) + "}")
        elif "Ref" in r:
            out.append("${" + r["Ref"] + "}")
        elif "Fn::If" in r:
            out.extend(_subs([b for b in r["Fn::If"][1:] if b != {"Ref": "AWS::NoValue"}]))
        else:
            raise AssertionError(f"unexpected resource expression {r}")
    return out


ROLES = ["ExecutionRole", "AirflowRole"]


@pytest.mark.parametrize("role", ROLES)
def test_no_wildcard_action_and_star_resource_only_where_aws_requires_it(role):
    for stmt in statements(role):
        actions = _as_list(stmt["Action"])
        assert stmt["Effect"] == "Allow"
        assert "NotAction" not in stmt and "NotResource" not in stmt
        for action in actions:
            assert "*" not in action, f"{role} {stmt['Sid']}: wildcard action {action}"
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z]+", action), action
        if "*" in _as_list(stmt["Resource"]):
            extra = set(actions) - NEEDS_STAR
            assert not extra, f"{role} {stmt['Sid']}: Resource '*' for {extra}, which have resource types"


@pytest.mark.parametrize("role", ROLES)
def test_every_statement_is_named_and_every_action_appears_once_per_resource(role):
    sids = [s["Sid"] for s in statements(role)]
    assert len(sids) == len(set(sids))


def test_passrole_only_to_sagemaker_and_only_the_execution_role():
    passing = [s for r in ROLES for s in statements(r) if any(a.startswith("iam:") for a in _as_list(s["Action"]))]
    assert len(passing) == 1
    (stmt,) = passing
    assert stmt in statements("AirflowRole")
    assert _as_list(stmt["Action"]) == ["iam:PassRole"]
    assert stmt["Resource"] == {"Fn::GetAtt": ["ExecutionRole", "Arn"]}
    assert stmt["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_execution_role_is_assumed_by_sagemaker_of_this_account_only():
    (trust,) = RESOURCES["ExecutionRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_sagemaker_resources_of_the_airflow_role_are_the_pipelines_names():
    layout_names = [job_name(job_name_prefix("demand_forecast", step, date(2026, 11, 20)), 1)
                    for step in ("preprocess", "train", "evaluate", "predict")]
    assert PARAMS["JobNamePrefix"]["Default"] == "demand-forecast"
    assert all(n.startswith("demand-forecast-") for n in layout_names)
    for stmt in statements("AirflowRole"):
        if not any(a.startswith("sagemaker:") for a in _as_list(stmt["Action"])) or stmt["Resource"] == "*":
            continue
        for arn in _subs(stmt["Resource"]):
            assert re.search(r":(processing-job|training-job|transform-job|model)/\$\{JobNamePrefix\}-\*$", arn) or \
                re.search(r":model-package(-group)?/\$\{ModelPackageGroupName\}(/\*)?$", arn), arn


def _s3_arns(role):
    return [(s, arn) for s in statements(role) if any(a.startswith("s3:") for a in _as_list(s["Action"]))
            for arn in _subs(s["Resource"])]


@pytest.mark.parametrize("role", ROLES)
def test_s3_access_is_this_buckets_prefixes(role):
    allowed = (r"^\$\{Bucket\.Arn\}$", r"^\$\{Bucket\.Arn\}/\$\{Prefix\}/(demand_forecast|forecast_monitoring)/([a-z]+/)?\*$",
               r"^\$\{Bucket\.Arn\}/athena-results/\*$", r"^\$\{Bucket\.Arn\}/\$\{RawDataPrefix\}/\*$",
               r"^arn:\$\{AWS::Partition\}:s3:::\$\{RawDataBucket\}(/\$\{RawDataPrefix\}/\*)?$")
    for stmt, arn in _s3_arns(role):
        assert any(re.match(p, arn) for p in allowed), f"{role} {stmt['Sid']}: {arn}"
        if "s3:ListBucket" in _as_list(stmt["Action"]):
            assert "s3:prefix" in stmt["Condition"]["StringLike"], f"{role} {stmt['Sid']} lists the whole bucket"


def test_the_execution_role_writes_job_outputs_but_not_code_or_extracts():
    writes = [arn for s, arn in _s3_arns("ExecutionRole") if "s3:PutObject" in _as_list(s["Action"])]
    areas = {re.search(r"demand_forecast/([a-z]+)/", a).group(1) for a in writes}
    assert areas == {"features", "models", "evaluation", "predictions"}
    deletes = [arn for s, arn in _s3_arns("ExecutionRole") if "s3:DeleteObject" in _as_list(s["Action"])]
    assert not deletes


def test_kms_and_logs_are_this_stacks():
    for role in ROLES:
        for stmt in statements(role):
            actions = _as_list(stmt["Action"])
            if any(a.startswith("kms:") for a in actions):
                assert stmt["Resource"] == {"Fn::GetAtt": ["Key", "Arn"]}
            if any(a.startswith("logs:") for a in actions):
                for arn in _subs(stmt["Resource"]):
                    assert re.search(r":log-group:/aws/sagemaker/(Processing|Training|Transform)Jobs:\*$", arn), arn
            if any(a.startswith("secretsmanager:") for a in actions):
                assert stmt["Resource"] == {"Ref": "SlackSecret"}


def test_network_permissions_only_with_a_vpc():
    with_vpc = {s["Sid"] for s in statements("ExecutionRole", vpc=True)}
    without = {s["Sid"] for s in statements("ExecutionRole", vpc=False)}
    assert with_vpc - without == {"DescribeNetwork", "JobNetworkInterfaces"}
    (eni,) = [s for s in statements("ExecutionRole") if s["Sid"] == "JobNetworkInterfaces"]
    assert "ec2:Vpc" in eni["Condition"]["ArnEquals"]


def test_bucket_is_encrypted_versioned_private_and_tls_only():
    props = RESOURCES["Bucket"]["Properties"]
    (sse,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert sse["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms",
                                                    "KMSMasterKeyID": {"Fn::GetAtt": ["Key", "Arn"]}}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(props["PublicAccessBlockConfiguration"][k] is True for k in
               ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"))
    policy = RESOURCES["BucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "Bucket"}
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert _subs(deny["Resource"]) == ["${Bucket.Arn}", "${Bucket.Arn}/*"]


def test_lifecycle_expires_intermediates_and_old_versions_but_keeps_models_and_predictions():
    rules = RESOURCES["Bucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert all(r["Status"] == "Enabled" for r in rules)
    expiring = {_subs(r["Prefix"])[0] for r in rules if "ExpirationInDays" in r}
    assert expiring == {"${Prefix}/demand_forecast/extract/", "${Prefix}/demand_forecast/features/",
                        "${Prefix}/demand_forecast/evaluation/", "athena-results/"}
    # The registry and the Glue partition point at these; a lifecycle rule must never remove them.
    assert not any("models" in str(p) or "predictions" in str(p) for p in expiring)
    (noncurrent,) = [r for r in rules if "NoncurrentVersionExpiration" in r]
    assert "Prefix" not in noncurrent and noncurrent["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
    # The prefixes follow the pipeline's own layout.
    layout = S3Layout("b", "ml", "demand_forecast")
    for area in ("extract", "features", "evaluation"):
        assert layout.area(area) == "s3://b/" + f"${{Prefix}}/demand_forecast/{area}/".replace("${Prefix}", "ml")


def test_workgroup_enforces_location_encryption_and_a_scan_cutoff():
    wg = RESOURCES["WorkGroup"]["Properties"]["WorkGroupConfiguration"]
    assert wg["EnforceWorkGroupConfiguration"] is True
    assert wg["BytesScannedCutoffPerQuery"] == {"Ref": "BytesScannedCutoffPerQuery"}
    assert wg["ResultConfiguration"]["OutputLocation"] == {"Fn::Sub": "s3://${Bucket}/athena-results/"}
    assert wg["ResultConfiguration"]["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_KMS", "KmsKey": {"Fn::GetAtt": ["Key", "Arn"]}}


def test_key_policy_delegates_to_iam_and_rotates():
    key = RESOURCES["Key"]["Properties"]
    assert key["EnableKeyRotation"] is True
    (stmt,) = key["KeyPolicy"]["Statement"]
    assert stmt["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    assert RESOURCES["Key"]["DeletionPolicy"] == "Retain" and RESOURCES["Bucket"]["DeletionPolicy"] == "Retain"


def test_log_groups_have_retention_and_the_secret_uses_the_key():
    groups = [r for r in RESOURCES.values() if r["Type"] == "AWS::Logs::LogGroup"]
    assert {g["Properties"]["LogGroupName"] for g in groups} == {
        f"/aws/sagemaker/{k}Jobs" for k in ("Processing", "Training", "Transform")}
    assert all(g["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups)
    secret = RESOURCES["SlackSecret"]["Properties"]
    assert secret["KmsKeyId"] == {"Ref": "Key"}
    assert secret["Name"] == {"Fn::Sub": "${SecretsPrefix}/slack_oncall"}


def test_predictions_table_reads_what_batch_transform_writes():
    """The table's columns are the serving script's CSV output, in order, as headerless text."""
    import ast

    source = (INFRA.parent / "include" / "scripts" / "demand_forecast" / "inference.py").read_text()
    (columns,) = [ast.literal_eval(node.value) for node in ast.walk(ast.parse(source))
                  if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "OUTPUT_COLUMNS"]
    table = RESOURCES["PredictionsTable"]["Properties"]["TableInput"]
    sd = table["StorageDescriptor"]
    assert [c["Name"] for c in sd["Columns"]] == columns
    assert sd["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert sd["SerdeInfo"]["Parameters"]["field.delim"] == ","
    assert [k["Name"] for k in table["PartitionKeys"]] == ["dt"]


@pytest.mark.parametrize("env", ["sandbox", "dev", "prod"])
def test_parameter_files_set_every_required_parameter_with_valid_values(env):
    given = {p["ParameterKey"]: p["ParameterValue"] for p in json.loads((INFRA / "params" / f"{env}.json").read_text())}
    assert set(given) <= set(PARAMS), set(given) - set(PARAMS)
    assert {k for k, v in PARAMS.items() if "Default" not in v} <= set(given)
    assert given["Environment"] == env
    for key, value in given.items():
        spec = PARAMS[key]
        assert isinstance(value, str), f"{env}: {key} must be a string in CloudFormation's parameter format"
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), f"{env}: {key}={value!r}"
        if "AllowedValues" in spec:
            assert value in [str(v) for v in spec["AllowedValues"]], f"{env}: {key}={value!r}"
    if given.get("SubnetIds"):
        assert given.get("VpcId") and given.get("SecurityGroupIds")


def test_sandbox_parameters_name_the_sandbox_profile():
    from sandbox import profile

    given = {p["ParameterKey"]: p["ParameterValue"] for p in json.loads((INFRA / "params" / "sandbox.json").read_text())}
    value = {**{k: str(v.get("Default")) for k, v in PARAMS.items()}, **given}
    assert value["BucketName"] == profile.BUCKET and value["Prefix"] == profile.PREFIX
    assert value["AthenaWorkGroupName"] == profile.ATHENA_WORKGROUP
    assert value["ForecastDatabaseName"] == profile.FORECAST_DATABASE
    assert value["RawDatabaseName"] == profile.RAW_DATABASE
    assert value["ModelPackageGroupName"] == profile.MODEL_PACKAGE_GROUP
    assert value["CreateRawDatabase"] == "true"
