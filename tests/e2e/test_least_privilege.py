"""Least privilege, proven both ways on a recorded run, with IAM enforced by the sandbox (sandbox.iam).

- Sufficient: a full partition run succeeds while every call is authorised against the template's policies,
  Airflow's as a session of the Airflow role (the `aws_default` connection assumes it) and each job's as a
  session of the execution role. The sandbox records every (principal, action, resource) it authorised; none
  was denied, and each is allowed by a statement of that role's policy in infra/demand-forecast.yaml. (The
  rerun and failure paths run under the same enforcement in tests/e2e/test_demand_forecast_e2e.py.)
- Minimal: each role's statements that the run never used are listed with the reason they are needed.
- Negative: without one needed statement, the run fails with the named AccessDenied and pages once.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta

import pytest

from tests.e2e.conftest import LAST_DAY, alerts
from tests.unit.test_infra_policies import matching_statements, policy

pytestmark = pytest.mark.e2e

DAY = LAST_DAY - timedelta(days=8)  # no other e2e test uses it, and no model version exists before it
DENIED_DAY = LAST_DAY - timedelta(days=17)  # the negative test's; it fails before any job
AIRFLOW_SESSION = ":assumed-role/demand-forecast-airflow/"
JOB_SESSION = ":assumed-role/demand-forecast-sagemaker/"


def _unstage_code(pipeline) -> None:
    """A first run on a fresh deployment stages the job code (content-addressed, so a run after another
    test's would find it staged and never call PutObject): remove it, so the run takes that path."""
    s3 = pipeline.sandbox.boto3_client("s3")
    staged = s3.list_objects_v2(Bucket="demand-forecast-sandbox", Prefix="ml/demand_forecast/code/").get("Contents", [])
    if staged:
        s3.delete_objects(Bucket="demand-forecast-sandbox", Delete={"Objects": [{"Key": o["Key"]} for o in staged]})


@pytest.fixture(scope="module")
def recorded_run(pipeline):
    assert pipeline.sandbox.client.status()["iam"] == {"enforced": True}
    _unstage_code(pipeline)
    pipeline.sandbox.client.clear_access()
    code, log = pipeline.dags_test(DAY)
    assert code == 0, log[-3000:]
    return pipeline.sandbox.client.access(), _stack_refs(pipeline)


def _stack_refs(pipeline) -> dict[str, str]:
    """The deployed stack's ARNs, for resolving the template's policies as deployed."""
    (stack,) = pipeline.sandbox.boto3_client("cloudformation").describe_stacks(
        StackName="demand-forecast-sandbox")["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    return {"SlackSecret": outputs["SlackSecretArn"], "Key": outputs["KmsKeyArn"], "Key.Arn": outputs["KmsKeyArn"],
            "ExecutionRole.Arn": outputs["ExecutionRoleArn"]}


def _of(entries: list[dict], session: str) -> list[dict]:
    return [e for e in entries if session in e["principal"]]


@pytest.mark.parametrize(("role", "session", "at_least"), [("AirflowRole", AIRFLOW_SESSION, 30),
                                                           ("ExecutionRole", JOB_SESSION, 10)])
def test_every_call_of_a_partition_run_is_allowed_by_the_role_that_made_it(recorded_run, pipeline, role, session,
                                                                           at_least):
    entries, refs = recorded_run
    (pipeline.logs / "least-privilege-record.json").write_text(json.dumps(entries, indent=1))
    # Enforced: the run succeeded, and the sandbox refused nothing on the way (no retry hid a denial).
    assert not [e for e in entries if not e["allowed"]]
    mine = _of(entries, session)
    assert len(mine) > at_least, {e["principal"] for e in entries}
    # Each call is allowed by the role's policy in the template as written (not only as deployed).
    denied = [e for e in mine if not matching_statements(role, e["action"], e["resource"], refs, e["context"])]
    assert not denied, f"calls the {role}'s policy does not allow:\n" + "\n".join(
        f"{e['action']} {e['resource']} {e['context'] or ''}" for e in denied)


# Why each action a successful first run of a day does not use is in the policy anyway. A new unused
# action fails the test until it is removed from the template or given its reason here.
NOT_IN_A_FIRST_RUN = {
    "sagemaker:StopProcessingJob": "a killed or timed-out task stops its job (on_kill)",
    "sagemaker:StopTrainingJob": "a killed or timed-out task stops its job (on_kill)",
    "sagemaker:StopTransformJob": "a killed or timed-out task stops its job (on_kill)",
    "sagemaker:ListTags": "a retry reads the attempt tags of the job its earlier try started",
    "sagemaker:DescribeModel": "a retry of batch_predict finds the model its earlier try created",
    "sagemaker:DeleteModelPackage": "a rerun of a day replaces that day's model version",
    "athena:StopQueryExecution": "a killed or timed-out extract stops its query",
    "glue:GetPartition": "publishing a day again reads the existing partition (rerun)",
    "glue:UpdatePartition": "publishing a day again repoints its partition (rerun)",
    "glue:GetDatabase": "Athena's engine reads the database with the caller's credentials (the sandbox's Athena "
                        "reads the catalog in-process)",
    "glue:BatchGetPartition": "Athena's engine reads partitions with the caller's credentials (idem)",
    "s3:GetBucketLocation": "Athena checks the result bucket's region with the caller's credentials (idem)",
    "s3:DeleteObject": "a rerun clears the day's extract prefix first",
    "s3:AbortMultipartUpload": "Athena writes results and UNLOAD files in multipart uploads on AWS",
    "s3:ListMultipartUploadParts": "Athena writes results and UNLOAD files in multipart uploads on AWS",
    "kms:Decrypt": "S3 and Athena call KMS for SSE-KMS objects with the caller's credentials; the sandbox "
                   "does not encrypt",
    "kms:GenerateDataKey": "idem, for writes",
}
# Read through Athena on AWS; the sandbox's Athena reads S3 in-process, so these calls are not recorded.
NOT_RECORDED_STATEMENTS = {"ReadRawTablesThroughAthena": "the raw files, read by Athena's engine as the caller"}
# Statements of the Airflow role that another DAG uses, where that DAG's own tests prove them under IAM.
OTHER_DAGS_STATEMENTS = {"RefreshDashboardDataSets": "dashboard_refresh's SPICE ingestions "
                                                     "(tests/scheduler/test_dashboard_refresh.py)"}


def test_the_statements_a_run_does_not_use_are_the_ones_other_paths_need(recorded_run, pipeline):
    entries, refs = recorded_run
    used = defaultdict(set)
    for e in _of(entries, AIRFLOW_SESSION):
        for sid in matching_statements("AirflowRole", e["action"], e["resource"], refs, e["context"]):
            used[sid].add(e["action"])
    unused = {}
    for stmt in policy("AirflowRole", refs)["Statement"]:
        actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
        left = sorted(set(actions) - used[stmt["Sid"]])
        if left and stmt["Sid"] not in NOT_RECORDED_STATEMENTS and stmt["Sid"] not in OTHER_DAGS_STATEMENTS:
            unused[stmt["Sid"]] = left
    (pipeline.logs / "least-privilege-unused.json").write_text(json.dumps(unused, indent=1))
    unexplained = {sid: [a for a in actions if a not in NOT_IN_A_FIRST_RUN] for sid, actions in unused.items()}
    assert not any(unexplained.values()), f"in the Airflow role's policy, unused by a run and unexplained: {unexplained}"
    # The reasons name actions the policy has: a removed permission takes its reason with it.
    granted = {a for stmt in policy("AirflowRole", refs)["Statement"]
               for a in (stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]])}
    assert set(NOT_IN_A_FIRST_RUN) <= granted, set(NOT_IN_A_FIRST_RUN) - granted
    assert "iam:PassRole" in used["PassExecutionRoleToSageMakerOnly"]


# The execution role's actions that a successful run's jobs do not use, and why each is there.
NOT_IN_A_JOB_RUN = {
    "s3:AbortMultipartUpload": "SageMaker uploads large outputs (models, predictions) in multipart uploads",
    "kms:Decrypt": "SSE-KMS objects are decrypted with the job's credentials on AWS; the sandbox does not encrypt",
    "kms:GenerateDataKey": "idem, for the job's writes",
    "kms:CreateGrant": "SageMaker encrypts the job's volumes with the stack key (VolumeKmsKeyId) on AWS",
    "logs:DescribeLogStreams": "SageMaker's agent looks for the job's stream before creating it on AWS",
    "cloudwatch:PutMetricData": "SageMaker publishes the job's instance metrics on AWS",
    "ecr:GetAuthorizationToken": "SageMaker pulls the scikit-learn image with the role on AWS; the sandbox runs "
                                 "the scripts with the project's Python",
    "ecr:BatchGetImage": "idem",
    "ecr:GetDownloadUrlForLayer": "idem",
    "ecr:BatchCheckLayerAvailability": "idem",
}


def test_the_execution_roles_unused_actions_are_the_ones_aws_needs_beyond_the_sandbox(recorded_run, pipeline):
    entries, refs = recorded_run
    used = defaultdict(set)
    for e in _of(entries, JOB_SESSION):
        for sid in matching_statements("ExecutionRole", e["action"], e["resource"], refs, e["context"]):
            used[sid].add(e["action"])
    unused = {}
    for stmt in policy("ExecutionRole", refs)["Statement"]:
        actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
        left = sorted(set(actions) - used[stmt["Sid"]])
        if left:
            unused[stmt["Sid"]] = left
    (pipeline.logs / "least-privilege-unused-execution-role.json").write_text(json.dumps(unused, indent=1))
    unexplained = {sid: [a for a in actions if a not in NOT_IN_A_JOB_RUN] for sid, actions in unused.items()}
    assert not any(unexplained.values()), f"in the execution role's policy, unused by the jobs and unexplained: {unexplained}"
    granted = {a for stmt in policy("ExecutionRole", refs)["Statement"]
               for a in (stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]])}
    assert set(NOT_IN_A_JOB_RUN) <= granted, set(NOT_IN_A_JOB_RUN) - granted
    # The jobs read their inputs, wrote their outputs and logs as the role.
    assert {"s3:GetObject", "s3:PutObject", "s3:ListBucket", "logs:PutLogEvents"} <= set().union(*used.values())


REMOVED = "WriteCodeExtractsAndQueryResults"


def test_without_a_needed_statement_the_run_fails_with_the_named_access_denied_and_pages_once(pipeline):
    """The Airflow role loses the statement that lets it stage the job code: the first task that needs it
    fails with S3's AccessDenied naming the action and the object, and on-call gets one page saying so.
    Cheap: it fails in prepare_run, before any query or job."""
    iam = pipeline.sandbox.boto3_client("iam")
    role = "demand-forecast-airflow"
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    # The template's policy as deployed (moto's GetRolePolicy renders a CloudFormation-made policy as a
    # Python repr, so it is not read back from IAM), with the one statement left out.
    document = policy("AirflowRole", _stack_refs(pipeline))
    assert REMOVED in {s["Sid"] for s in document["Statement"]}
    reduced = {**document, "Statement": [s for s in document["Statement"] if s["Sid"] != REMOVED]}
    _unstage_code(pipeline)
    try:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(reduced))
        code, log = pipeline.dags_test(DENIED_DAY)
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))
    assert code != 0
    states = pipeline.task_states(log)
    assert states.pop("prepare_run") == "failed", states
    assert set(states.values()) == {"upstream_failed"}, states
    denied = ('is not authorized to perform: s3:PutObject on resource: "arn:aws:s3:::demand-forecast-sandbox/'
              'ml/demand_forecast/code/')
    [page] = alerts(pipeline, DENIED_DAY)
    (pipeline.logs / "least-privilege-negative-page.json").write_text(json.dumps(page, indent=1))
    assert "demand_forecast.prepare_run failed" in page["text"]
    assert f"AccessDenied: User: arn:aws:sts::123456789012{AIRFLOW_SESSION}" in page["text"], page["text"]
    assert denied in page["text"] and "try 4/4" in page["text"], page["text"]
    assert denied in json.dumps(page["blocks"]).replace('\\"', '"')
