"""System test: deploy infra/demand-forecast.yaml, run demand_forecast for yesterday, check the partition, tear down.

In the style of the Amazon provider's system tests: configuration is read at run time by a setup task (no AWS
call at parse time), and `chain()` marks SETUP, BODY and TEARDOWN. Not run by `make test`; see README.md here.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.providers.amazon.aws.operators.cloud_formation import (
    CloudFormationCreateStackOperator,
    CloudFormationDeleteStackOperator,
)
from airflow.providers.amazon.aws.sensors.cloud_formation import (
    CloudFormationCreateStackSensor,
    CloudFormationDeleteStackSensor,
)
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, TriggerRule, chain, task

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "example_demand_forecast"
ENV_ID = os.environ.get("SYSTEM_TESTS_ENV_ID", "local")
if not re.fullmatch(r"[a-z0-9]{1,12}", ENV_ID):  # it names buckets, roles and Glue databases
    raise ValueError(f"SYSTEM_TESTS_ENV_ID must be 1-12 lower-case letters or digits, not {ENV_ID!r}")
# The raw tables are the team's own (README, "Deploying"); the test reads them where they are.
RAW_DATABASE = os.environ.get("SYSTEM_TESTS_RAW_DATABASE", "retail")
RAW_BUCKET = os.environ.get("SYSTEM_TESTS_RAW_BUCKET", "")
RAW_PREFIX = os.environ.get("SYSTEM_TESTS_RAW_PREFIX", "raw")
FORECAST_DATABASE = f"demand_forecast_systest_{ENV_ID}"
STACK = f"demand-forecast-systest-{ENV_ID}"
YESTERDAY = "{{ macros.ds_add(ds, -1) }}"


@task(multiple_outputs=False)
def stack_parameters() -> dict:
    """The create_stack request: the repo's template with the dev parameters, renamed for this test run."""
    params = {p["ParameterKey"]: p["ParameterValue"]
              for p in json.loads((REPO / "infra" / "params" / "dev.json").read_text())}
    params.update({
        "BucketName": f"demand-forecast-systest-{ENV_ID}",
        "ExecutionRoleName": f"demand-forecast-sagemaker-systest-{ENV_ID}",
        "AirflowRoleName": f"demand-forecast-airflow-systest-{ENV_ID}",
        "ForecastDatabaseName": FORECAST_DATABASE,
        "RawDatabaseName": RAW_DATABASE,
        "RawDataBucket": RAW_BUCKET,
        "RawDataPrefix": RAW_PREFIX,
        "CreateRawDatabase": "false",
        "AthenaWorkGroupName": f"demand_forecast_systest_{ENV_ID}",
        "ModelPackageGroupName": f"demand-forecast-systest-{ENV_ID}",
        "SecretsPrefix": f"airflow/systest-{ENV_ID}/connections",
        "CreateSageMakerLogGroups": "false",
    })
    return {
        "TemplateBody": (REPO / "infra" / "demand-forecast.yaml").read_text(),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
    }


@task(multiple_outputs=False)
def configure_pipeline(stack_name: str) -> dict:
    """The demand_forecast_env Variable from the stack's outputs."""
    import boto3
    from airflow.sdk import Variable

    cfn = boto3.client("cloudformation")
    (stack,) = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    env = {
        "region": boto3.session.Session().region_name,
        "bucket": out["BucketName"],
        "prefix": params["Prefix"],
        "sagemaker_role_arn": out["ExecutionRoleArn"],
        "athena_workgroup": out["AthenaWorkGroup"],
        "athena_output_location": out["AthenaOutputLocation"],
        "raw_database": params["RawDatabaseName"],
        "forecast_database": out["ForecastDatabase"],
        "model_package_group": out["ModelPackageGroup"],
        "kms_key_id": out["KmsKeyArn"],
        "network_isolation": True,
        "slack_channel": os.environ.get("SYSTEM_TESTS_SLACK_CHANNEL", "#demand-forecast-systest"),
    }
    Variable.set("demand_forecast_env", json.dumps(env))
    return env


@task
def assert_partition_rows(query_result: str | None) -> None:
    import boto3

    rows = boto3.client("athena").get_query_results(QueryExecutionId=query_result)["ResultSet"]["Rows"]
    count = int(rows[1]["Data"][0]["VarCharValue"])
    if count == 0:
        raise AssertionError("the published partition is empty")


with DAG(
    dag_id=DAG_ID,
    schedule="@once",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["system-test", "demand_forecast"],
    default_args={"retries": 0, "execution_timeout": timedelta(hours=2)},
    doc_md=__doc__,
) as dag:
    parameters = stack_parameters()
    create_stack = CloudFormationCreateStackOperator(
        task_id="create_stack", stack_name=STACK, cloudformation_parameters=parameters)
    wait_for_stack = CloudFormationCreateStackSensor(task_id="wait_for_stack", stack_name=STACK)
    configured = configure_pipeline(STACK)

    run_demand_forecast = TriggerDagRunOperator(
        task_id="run_demand_forecast", trigger_dag_id="demand_forecast", logical_date=YESTERDAY,
        wait_for_completion=True, poke_interval=60, failed_states=["failed"], reset_dag_run=True)
    count_partition_rows = AthenaOperator(
        task_id="count_partition_rows",
        # ENV_ID is validated above and YESTERDAY is Airflow's own date macro: no outside input in the SQL.
        query=f"SELECT count(*) FROM {FORECAST_DATABASE}.predictions WHERE dt = '{YESTERDAY}'",  # noqa: S608
        database=FORECAST_DATABASE,
        workgroup=f"demand_forecast_systest_{ENV_ID}")
    checked = assert_partition_rows(count_partition_rows.output)

    delete_stack = CloudFormationDeleteStackOperator(
        task_id="delete_stack", stack_name=STACK, trigger_rule=TriggerRule.ALL_DONE)
    stack_gone = CloudFormationDeleteStackSensor(
        task_id="wait_for_stack_deletion", stack_name=STACK, trigger_rule=TriggerRule.ALL_DONE)

    chain(
        # TEST SETUP
        parameters, create_stack, wait_for_stack, configured,
        # TEST BODY
        run_demand_forecast, count_partition_rows, checked,
        # TEST TEARDOWN
        delete_stack, stack_gone,
    )


if __name__ == "__main__":
    dag.test()
