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
        if left:
            unused[stmt["Sid"]] = left
    (pipeline.logs / "least-privilege-unused.json").write_text(json.dumps(unused, indent=1))
    print("statements and actions a full run did not use:", json.dumps(unused, indent=1))
    assert "RunPipelineJobs" in used and "PassExecutionRoleToSageMakerOnly" in used
