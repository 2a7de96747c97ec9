"""IAM enforced by the sandbox (sandbox.iam): a role session may do what its policies allow and nothing else,
refused as AWS refuses it; jobs run as their execution role; SimulatePrincipalPolicy; `serve --no-iam`."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import REGION, start_sandbox, stop_sandbox
from tests.sandbox.jobs.sm_support import make_bucket, processing_request, put, s3_output, wait

ACCOUNT = "123456789012"
TRUST_ACCOUNT = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}


def make_role(aws, name: str, statements: list[dict]) -> str:
    iam = aws("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName=f"{name}-policy",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    return arn


def session_clients(endpoint: str, role_arn: str):
    """A client factory for a session of the role, assumed by the administrator as the tests' callers are."""
    sts = boto3.client("sts", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="sandbox",
                       aws_secret_access_key="sandbox")
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="iam-test")["Credentials"]
    return lambda service: boto3.client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])


@pytest.fixture
def scoped(aws, sandbox, unique):
    bucket = make_bucket(aws, f"{unique}-iam")
    put(aws, bucket, "ok/a.csv", "1")
    put(aws, bucket, "other/a.csv", "1")
    aws("glue").create_database(DatabaseInput={"Name": f"{unique}_ok"})
    aws("glue").create_database(DatabaseInput={"Name": f"{unique}_other"})
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    role = make_role(aws, f"{unique}-reader", [
        {"Sid": "ReadOk", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/ok/*"},
        {"Sid": "ListOk", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
         "Condition": {"StringLike": {"s3:prefix": "ok/*"}}},
        {"Sid": "OneDatabase", "Effect": "Allow", "Action": "glue:GetDatabase",
         "Resource": [f"{glue}:catalog", f"{glue}:database/{unique}_ok"]},
        {"Sid": "NotThatOne", "Effect": "Deny", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/ok/secret*"},
    ])
    return bucket, role, session_clients(sandbox.endpoint, role)


def _refused(call) -> dict:
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response


def test_a_role_session_may_do_what_its_policy_allows_and_nothing_else(scoped, unique, sandbox):
    bucket, role, client = scoped
    s3, glue = client("s3"), client("glue")
    assert s3.get_object(Bucket=bucket, Key="ok/a.csv")["Body"].read() == b"1"
    assert s3.list_objects_v2(Bucket=bucket, Prefix="ok/")["KeyCount"] == 1
    assert glue.get_database(Name=f"{unique}_ok")["Database"]["Name"] == f"{unique}_ok"
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{unique}-reader/iam-test"

    # S3 (REST-XML): AccessDenied, 403, naming the principal, the action and the resource, as AWS does.
    denied = _refused(lambda: s3.get_object(Bucket=bucket, Key="other/a.csv"))
    assert denied["Error"]["Code"] == "AccessDenied" and denied["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert denied["Error"]["Message"] == (
        f'User: {session} is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::{bucket}/other/a.csv"'
        " because no identity-based policy allows the s3:GetObject action")
    # The list statement's Condition is evaluated: another prefix is refused.
    assert _refused(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="other/"))["Error"]["Code"] == "AccessDenied"
    # An explicit Deny wins over the Allow.
    put(sandbox.boto3_client, bucket, "ok/secret.csv", "s")
    assert "with an explicit deny" in _refused(lambda: s3.get_object(Bucket=bucket, Key="ok/secret.csv"))["Error"]["Message"]

    # JSON services: the service's own AccessDeniedException, with the resource IAM checks.
    denied = _refused(lambda: glue.get_database(Name=f"{unique}_other"))
    assert denied["Error"]["Code"] == "AccessDeniedException"
    assert f"glue:GetDatabase on resource: arn:aws:glue:{REGION}:{ACCOUNT}:database/{unique}_other" in denied["Error"]["Message"]
    denied = _refused(lambda: client("sagemaker").list_training_jobs())
    assert denied["Error"]["Code"] == "AccessDeniedException"
    assert "sagemaker:ListTrainingJobs on resource: *" in denied["Error"]["Message"]

    # The record has both verdicts, under the session's ARN.
    record = [e for e in sandbox.client.access() if e["principal"] == session]
    assert {(e["action"], e["resource"], e["allowed"]) for e in record} >= {
        ("s3:GetObject", f"arn:aws:s3:::{bucket}/ok/a.csv", True),
        ("s3:GetObject", f"arn:aws:s3:::{bucket}/other/a.csv", False),
        ("sagemaker:ListTrainingJobs", "*", False)}


def test_keys_the_sandbox_did_not_issue_are_refused(sandbox):
    def client(service):
        return boto3.client(service, endpoint_url=sandbox.endpoint, region_name=REGION,
                            aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x")

    assert _refused(lambda: client("s3").list_buckets())["Error"]["Code"] == "InvalidAccessKeyId"
    assert _refused(lambda: client("glue").get_databases())["Error"]["Code"] == "InvalidClientTokenId"


def test_a_role_is_assumed_only_by_whom_its_trust_policy_names(aws, unique, sandbox):
    trusts_sagemaker = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    arn = aws("iam").create_role(RoleName=f"{unique}-jobs-only",
                                 AssumeRolePolicyDocument=json.dumps(trusts_sagemaker))["Role"]["Arn"]
    for role in (arn, f"arn:aws:iam::{ACCOUNT}:role/{unique}-missing"):
        denied = _refused(lambda role=role: aws("sts").assume_role(RoleArn=role, RoleSessionName="nope"))
        assert denied["Error"]["Code"] == "AccessDenied"
        assert f"sts:AssumeRole on resource: {role}" in denied["Error"]["Message"]


def test_simulate_principal_policy_answers_from_the_roles_policies(scoped, aws):
    bucket, role, _ = scoped
    results = aws("iam").simulate_principal_policy(
        PolicySourceArn=role, ActionNames=["s3:GetObject", "s3:PutObject"],
        ResourceArns=[f"arn:aws:s3:::{bucket}/ok/b.csv", f"arn:aws:s3:::{bucket}/ok/secret.csv"])["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalResourceName"].rsplit("/", 1)[-1], r["EvalDecision"]) for r in results] == [
        ("s3:GetObject", "b.csv", "allowed"), ("s3:GetObject", "secret.csv", "explicitDeny"),
        ("s3:PutObject", "b.csv", "implicitDeny"), ("s3:PutObject", "secret.csv", "implicitDeny")]
    # With the condition key the statement tests.
    (listing,) = aws("iam").simulate_principal_policy(
        PolicySourceArn=role, ActionNames=["s3:ListBucket"], ResourceArns=[f"arn:aws:s3:::{bucket}"],
        ContextEntries=[{"ContextKeyName": "s3:prefix", "ContextKeyValues": ["ok/x"], "ContextKeyType": "string"}],
    )["EvaluationResults"]
    assert listing["EvalDecision"] == "allowed"
    assert _refused(lambda: aws("iam").simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:role/no-such-role", ActionNames=["s3:GetObject"]))["Error"]["Code"] \
        == "NoSuchEntity"


WHO_AM_I = """import json, os, sys
import boto3
os.makedirs(sys.argv[1], exist_ok=True)
arn = boto3.client("sts").get_caller_identity()["Arn"]
open(os.path.join(sys.argv[1], "who.json"), "w").write(json.dumps({"arn": arn}))
"""


def test_a_job_runs_as_its_execution_role(aws, unique):
    bucket = make_bucket(aws, f"{unique}-job")
    code = put(aws, bucket, "code/who.py", WHO_AM_I)
    role = make_role(aws, f"{unique}-exec", [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/code/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/out/*"},
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"},
    ])
    sm = aws("sagemaker")

    def run(name: str, output: str) -> dict:
        request = processing_request(name, bucket, code, ["/opt/ml/processing/output"],
                                     outputs=[s3_output("out", f"s3://{bucket}/{output}", "/opt/ml/processing/output")])
        sm.create_processing_job(**{**request, "RoleArn": role})
        return wait(sm, "processing", name)

    done = run(f"{unique}-ok", "out")
    assert done["ProcessingJobStatus"] == "Completed", done.get("FailureReason")
    who = json.loads(aws("s3").get_object(Bucket=bucket, Key="out/who.json")["Body"].read())
    # The script's own calls are made with the role session's temporary credentials.
    assert who["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{unique}-exec/SageMaker-{unique}-ok"

    failed = run(f"{unique}-denied", "elsewhere")
    assert failed["ProcessingJobStatus"] == "Failed"
    assert failed["FailureReason"].startswith("ClientError: ")
    assert (f'not authorized to perform: s3:PutObject on resource: "arn:aws:s3:::{bucket}/elsewhere/who.json"'
            in failed["FailureReason"]), failed["FailureReason"]


def test_no_iam_allows_everything_and_status_says_so(tmp_path, sandbox):
    proc, loose = start_sandbox(tmp_path / "no-iam", "--no-iam")
    try:
        assert loose.client.status()["iam"] == {"enforced": False}
        role = make_role(loose.boto3_client, "no-policy", [{"Effect": "Deny", "Action": "*", "Resource": "*"}])
        client = session_clients(loose.endpoint, role)
        assert client("s3").list_buckets()["Buckets"] == []
    finally:
        stop_sandbox(proc)
    assert sandbox.client.status()["iam"] == {"enforced": True}


def test_the_sagemaker_sdk_checks_a_role_through_the_sandbox(aws, unique):
    """sagemaker-core validates execution roles with SimulatePrincipalPolicy (paginated, no ResourceArns):
    against moto it failed with a ResponseParserError; here it gets IAM's verdicts."""
    from sagemaker.core.helper.iam_role_resolver import _simulate_denied_actions

    role = make_role(aws, f"{unique}-sdk", [
        {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"], "Resource": "*"},
        {"Effect": "Allow", "Action": "logs:CreateLogStream", "Resource": "arn:aws:logs:*:*:log-group:/aws/sagemaker/*"},
    ])
    denied, unverifiable = _simulate_denied_actions(
        aws("iam"), role, ["ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", "logs:CreateLogStream"])
    # Without ResourceArns IAM simulates resource "*", which the scoped statement does not match (as on AWS).
    assert (denied, unverifiable) == (["logs:CreateLogStream"], [])
