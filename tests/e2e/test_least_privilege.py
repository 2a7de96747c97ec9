"""Least privilege, from a recorded run: every AWS call a full partition run made is allowed by the Airflow
role's policy as the seed deployed it (sufficient), and the statements the run did not use are listed with
the reason they are needed (minimal).

The sandbox records calls (sandbox.access); it does not enforce IAM yet, so a missing permission shows up
here as a named (action, resource) pair, not as the run's AccessDenied. The execution role is not covered:
the sandbox's jobs move their data inside the sandbox, not through S3 calls of their own.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta

import pytest

from tests.e2e.conftest import LAST_DAY
from tests.unit.test_infra_policies import matching_statements, policy

pytestmark = pytest.mark.e2e

DAY = LAST_DAY - timedelta(days=8)  # no other e2e test uses it, and no model version exists before it


@pytest.fixture(scope="module")
def recorded_run(pipeline):
    # A first run on a fresh deployment stages the job code (content-addressed, so a run after another
    # test's would find it staged and never call PutObject): remove it, so the record shows that path.
    s3 = pipeline.sandbox.boto3_client("s3")
    staged = s3.list_objects_v2(Bucket="demand-forecast-sandbox", Prefix="ml/demand_forecast/code/").get("Contents", [])
    if staged:
        s3.delete_objects(Bucket="demand-forecast-sandbox", Delete={"Objects": [{"Key": o["Key"]} for o in staged]})
    pipeline.sandbox.client.clear_access()
    code, log = pipeline.dags_test(DAY)
    assert code == 0, log[-3000:]
    entries = pipeline.sandbox.client.access()
    (stack,) = pipeline.sandbox.boto3_client("cloudformation").describe_stacks(
        StackName="demand-forecast-sandbox")["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    refs = {"SlackSecret": outputs["SlackSecretArn"], "Key": outputs["KmsKeyArn"], "Key.Arn": outputs["KmsKeyArn"],
            "ExecutionRole.Arn": outputs["ExecutionRoleArn"]}
    return entries, refs


def test_every_call_of_a_partition_run_is_allowed_by_the_airflow_role(recorded_run, pipeline):
    entries, refs = recorded_run
    assert len(entries) > 30
    denied = [e for e in entries if not matching_statements("AirflowRole", e["action"], e["resource"], refs, e["context"])]
    (pipeline.logs / "least-privilege-record.json").write_text(json.dumps(entries, indent=1))
    assert not denied, "calls the Airflow role's policy does not allow:\n" + "\n".join(
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


def test_the_statements_a_run_does_not_use_are_the_ones_other_paths_need(recorded_run, pipeline):
    entries, refs = recorded_run
    used = defaultdict(set)
    for e in entries:
        for sid in matching_statements("AirflowRole", e["action"], e["resource"], refs, e["context"]):
            used[sid].add(e["action"])
    unused = {}
    for stmt in policy("AirflowRole", refs)["Statement"]:
        actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
        left = sorted(set(actions) - used[stmt["Sid"]])
        if left and stmt["Sid"] not in NOT_RECORDED_STATEMENTS:
            unused[stmt["Sid"]] = left
    (pipeline.logs / "least-privilege-unused.json").write_text(json.dumps(unused, indent=1))
    unexplained = {sid: [a for a in actions if a not in NOT_IN_A_FIRST_RUN] for sid, actions in unused.items()}
    assert not any(unexplained.values()), f"in the Airflow role's policy, unused by a run and unexplained: {unexplained}"
    # The reasons name actions the policy has: a removed permission takes its reason with it.
    granted = {a for stmt in policy("AirflowRole", refs)["Statement"]
               for a in (stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]])}
    assert set(NOT_IN_A_FIRST_RUN) <= granted, set(NOT_IN_A_FIRST_RUN) - granted
    assert "iam:PassRole" in used["PassExecutionRoleToSageMakerOnly"]
