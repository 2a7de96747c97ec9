"""The two roles' policies, evaluated: every call a run makes is allowed, and near misses are not.

The calls are derived from the pipeline's own code (the run plan, the request builders, the naming), not
written out by hand, so a new input, output or job name that the policy does not cover fails here.
Action and resource matching is moto's IAM evaluator (`IAMPolicy`, wildcards as AWS expands them); the
Condition operators the template uses (StringEquals, StringLike, ArnEquals, Bool) are evaluated here,
because moto ignores all but StringEquals, by the evaluator the sandbox enforces them with (sandbox.iam).
This is not the recorded-run proof of issue 11 (tests/e2e/test_least_privilege.py): it proves the policies
against the requests the code builds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from moto.iam.access_control import IAMPolicy, PermissionResult

from batchml.demand_forecast import requests
from sandbox import profile
from sandbox.iam import condition_holds
from tests.unit.sample_plan import sample_plan
from tests.unit.test_job_requests import EVALUATION, FEATURES, MODEL

INFRA = Path(__file__).resolve().parents[2] / "infra"
TEMPLATE = yaml.safe_load((INFRA / "demand-forecast.yaml").read_text())
ACCOUNT, REGION = "123456789012", profile.REGION
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:airflow/connections/slack_oncall-AbCdEf"


def _parameters() -> dict[str, str]:
    given = {p["ParameterKey"]: p["ParameterValue"] for p in json.loads((INFRA / "params" / "sandbox.json").read_text())}
    values = {k: str(v.get("Default", "")) for k, v in TEMPLATE["Parameters"].items()}
    values.update(given)
    return values


PARAMS = _parameters()
REFS = {**PARAMS, "AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
        "Bucket": PARAMS["BucketName"], "Key": KEY_ARN, "WorkGroup": PARAMS["AthenaWorkGroupName"],
        "ForecastDatabase": PARAMS["ForecastDatabaseName"], "SlackSecret": SECRET_ARN}
ATTRS = {"Bucket.Arn": f"arn:aws:s3:::{PARAMS['BucketName']}", "Key.Arn": KEY_ARN,
         "ExecutionRole.Arn": f"arn:aws:iam::{ACCOUNT}:role/{PARAMS['ExecutionRoleName']}"}
CONDITIONS = {"HasVpc": False, "RawInOwnBucket": PARAMS["RawDataBucket"] == "", "OwnsRawDatabase": True,
              "MakesLogGroups": True, "TrustsAccount": True}
NO_VALUE = object()


def resolve(node, refs: dict[str, str]):
    """CloudFormation's intrinsics, for the sandbox's parameters (``refs``: Ref and GetAtt values)."""
    if isinstance(node, list):
        return [r for r in (resolve(n, refs) for n in node) if r is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if node == {"Ref": "AWS::NoValue"}:
        return NO_VALUE
    if "Ref" in node:
        return refs[node["Ref"]]
    if "Fn::GetAtt" in node:
        return refs[".".join(node["Fn::GetAtt"])]
    if "Fn::Sub" in node:
        return re.sub(r"\$\{([^}]+)\}", lambda m: refs[m.group(1)], node["Fn::Sub"])
    if "Fn::If" in node:
        cond, yes, no = node["Fn::If"]
        return resolve(yes if CONDITIONS[cond] else no, refs)
    return {k: r for k, r in ((k, resolve(v, refs)) for k, v in node.items()) if r is not NO_VALUE}


def policy(role: str, refs: dict[str, str] | None = None) -> dict:
    """The role's inline policy, resolved; ``refs`` overrides values (a deployed stack's real ARNs)."""
    (doc,) = [p["PolicyDocument"] for p in TEMPLATE["Resources"][role]["Properties"]["Policies"]]
    return resolve(doc, {**REFS, **ATTRS, **(refs or {})})


def _condition_holds(condition: dict, context: dict[str, str]) -> bool:
    """The sandbox's own evaluator (sandbox.iam), the one that enforces these policies on every call."""
    return condition_holds(condition, context)


def allowed(role: str, action: str, resource: str, refs: dict[str, str] | None = None, **context: str) -> bool:
    """Allowed by one statement at least (the template has no Deny in identity policies)."""
    return bool(matching_statements(role, action, resource, refs, context))


def matching_statements(role: str, action: str, resource: str, refs: dict[str, str] | None,
                        context: dict[str, str]) -> list[str]:
    """The Sids of the statements that allow the call."""
    sids = []
    for stmt in policy(role, refs)["Statement"]:
        bare = {k: v for k, v in stmt.items() if k != "Condition"}
        verdict = IAMPolicy(json.dumps({"Version": "2012-10-17", "Statement": [bare]})).is_action_permitted(
            action, resource)
        if verdict == PermissionResult.PERMITTED and _condition_holds(stmt.get("Condition", {}), context):
            sids.append(stmt["Sid"])
    return sids


def _sm_arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name.lower()}"


def _objects(uri: str) -> tuple[str, str]:
    """An object ARN under an s3:// URI prefix, and the ListBucket prefix for it."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return f"arn:aws:s3:::{bucket}/{key}part-00000", key


def _run_requests():
    run = sample_plan(champion={"model_package_arn": _sm_arn("model-package", "demand-forecast/3"),
                                "model_data_url": f"s3://{profile.BUCKET}/ml/demand_forecast/models/dt=2026-11-19/"
                                                  "demand-forecast-train-20261119-1/output/model.tar.gz"})
    features = {**FEATURES, "outputs": {k: f"{run['paths']['features']}demand-forecast-preprocess-20261120-1/{k}/"
                                        for k in ("train", "holdout", "scoring")}}
    model = {**MODEL, "model_data": f"{run['paths']['models']}demand-forecast-train-20261120-1/output/model.tar.gz"}
    evaluation = {**EVALUATION, "outputs": {"evaluation": f"{run['paths']['evaluation']}demand-forecast-evaluate-20261120-1/"}}
    predict = requests.batch_prediction(run, job_name="demand-forecast-predict-20261120-1", features=features,
                                        registered={"model_package_arn": _sm_arn("model-package", "demand-forecast/4")},
                                        decision={"use": "challenger"})
    return run, {
        "processing": [requests.preprocessing(run, job_name="demand-forecast-preprocess-20261120-1"),
                       requests.evaluation(run, job_name="demand-forecast-evaluate-20261120-1",
                                           features=features, model=model)],
        "training": [requests.training(run, job_name="demand-forecast-train-20261120-1", features=features)],
        "model": predict["Model"], "transform": predict["Transform"],
        "package": requests.model_package(run, model=model, evaluation=evaluation, decision={"metrics": {}}),
    }


RUN, REQUESTS = _run_requests()


# --- sufficient --------------------------------------------------------------------------------------------
def test_airflow_role_may_run_manage_and_pass_the_role_to_every_job_of_a_run():
    jobs = ([("processing-job", r["ProcessingJobName"], "Processing", r["RoleArn"]) for r in REQUESTS["processing"]]
            + [("training-job", r["TrainingJobName"], "Training", r["RoleArn"]) for r in REQUESTS["training"]]
            + [("transform-job", REQUESTS["transform"]["TransformJobName"], "Transform", None)])
    for kind, name, api, role in jobs:
        for verb in ("Create", "Describe", "Stop"):
            assert allowed("AirflowRole", f"sagemaker:{verb}{api}Job", _sm_arn(kind, name)), (verb, name)
        assert allowed("AirflowRole", "sagemaker:AddTags", _sm_arn(kind, name))
        assert allowed("AirflowRole", f"sagemaker:List{api}Jobs", "*")
        if role:
            assert allowed("AirflowRole", "iam:PassRole", role, **{"iam:PassedToService": "sagemaker.amazonaws.com"})
    model = REQUESTS["model"]
    assert allowed("AirflowRole", "sagemaker:CreateModel", _sm_arn("model", model["ModelName"]))
    assert allowed("AirflowRole", "iam:PassRole", model["ExecutionRoleArn"],
                   **{"iam:PassedToService": "sagemaker.amazonaws.com"})
    group = REQUESTS["package"]["ModelPackageGroupName"]
    for action in ("CreateModelPackage", "DescribeModelPackage", "DeleteModelPackage"):
        assert allowed("AirflowRole", f"sagemaker:{action}", _sm_arn("model-package", f"{group}/4"))
    assert allowed("AirflowRole", "sagemaker:ListModelPackages", "*")  # no resource type in IAM


def test_airflow_role_may_extract_publish_and_read_what_the_tasks_read():
    wg = f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/{RUN['env']['athena_workgroup']}"
    for action in ("StartQueryExecution", "GetQueryExecution", "GetQueryResults", "StopQueryExecution"):
        assert allowed("AirflowRole", f"athena:{action}", wg)
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    for table in ("sales", "calendar", "promotions"):
        assert allowed("AirflowRole", "glue:GetPartitions", f"{glue}:table/{RUN['env']['raw_database']}/{table}")
        obj, prefix = _objects(f"s3://{profile.BUCKET}/raw/{table}/")
        assert allowed("AirflowRole", "s3:GetObject", obj)
        assert allowed("AirflowRole", "s3:ListBucket", f"arn:aws:s3:::{profile.BUCKET}", **{"s3:prefix": prefix})
    assert allowed("AirflowRole", "glue:CreatePartition", f"{glue}:table/{RUN['env']['forecast_database']}/predictions")
    assert allowed("AirflowRole", "glue:UpdatePartition", f"{glue}:table/{RUN['env']['forecast_database']}/predictions")
    for uri in (RUN["code"]["files"], RUN["paths"]["extract_training"], RUN["paths"]["extract_scoring"],
                profile.ATHENA_RESULTS):
        obj, prefix = _objects(uri)
        for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
            assert allowed("AirflowRole", action, obj), (action, uri)
        assert allowed("AirflowRole", "s3:ListBucket", f"arn:aws:s3:::{profile.BUCKET}", **{"s3:prefix": prefix})
    eval_obj, _ = _objects(REQUESTS["package"]["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].rsplit("/", 1)[0] + "/")
    assert allowed("AirflowRole", "s3:GetObject", eval_obj)
    assert allowed("AirflowRole", "secretsmanager:GetSecretValue", SECRET_ARN)
    assert allowed("AirflowRole", "kms:GenerateDataKey", KEY_ARN)
    assert allowed("AirflowRole", "logs:GetLogEvents",
                   f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/TrainingJobs:log-stream:"
                   "demand-forecast-train-20261120-1/algo-1-1700000000")


def test_airflow_role_may_refresh_exactly_the_configured_dashboard_data_sets():
    """The ingestions dashboard_refresh starts (ids from its request builder) may be created, watched and cancelled;
    another data set's may not."""
    from batchml.dashboard_refresh.requests import Event, refreshes
    from batchml.dashboard_refresh.settings import RefreshSettings

    settings = RefreshSettings.load("dashboard_refresh")
    planned, _ = refreshes(settings, [Event("demand_forecast.predictions", "2026-11-20", "")], "manual__x")
    assert {p["data_set_id"] for p in planned} == {d.id for d in settings.data_sets}
    for p in planned:
        arn = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:dataset/{p['data_set_id']}/ingestion/{p['ingestion_id']}-2"
        for action in ("CreateIngestion", "DescribeIngestion", "CancelIngestion"):
            assert allowed("AirflowRole", f"quicksight:{action}", arn), (action, arn)
    other = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:dataset/finance-revenue/ingestion/x-1"
    assert not allowed("AirflowRole", "quicksight:CreateIngestion", other)
    assert not allowed("AirflowRole", "quicksight:DeleteDataSet",
                       f"arn:aws:quicksight:{REGION}:{ACCOUNT}:dataset/demand-forecast-predictions")


def _job_io(request: dict) -> tuple[list[str], list[str]]:
    if "ProcessingInputs" in request:
        return ([i["S3Input"]["S3Uri"] for i in request["ProcessingInputs"]],
                [o["S3Output"]["S3Uri"] for o in request["ProcessingOutputConfig"]["Outputs"]])
    if "InputDataConfig" in request:
        sourcedir = json.loads(request["HyperParameters"]["sagemaker_submit_directory"])
        return ([c["DataSource"]["S3DataSource"]["S3Uri"] for c in request["InputDataConfig"]] + [sourcedir],
                [request["OutputDataConfig"]["S3OutputPath"] + request["TrainingJobName"] + "/output/"])
    return ([request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]],
            [request["TransformOutput"]["S3OutputPath"]])


def test_execution_role_may_read_every_job_input_and_write_every_job_output():
    jobs = [*REQUESTS["processing"], *REQUESTS["training"], REQUESTS["transform"]]
    container = REQUESTS["package"]["InferenceSpecification"]["Containers"][0]
    serving_inputs = [container["ModelDataUrl"], container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"]]
    for request in jobs:
        inputs, outputs = _job_io(request)
        for uri in inputs:
            obj, prefix = _objects(uri if uri.endswith("/") else uri.rsplit("/", 1)[0] + "/")
            assert allowed("ExecutionRole", "s3:GetObject", obj), uri
            assert allowed("ExecutionRole", "s3:ListBucket", f"arn:aws:s3:::{profile.BUCKET}", **{"s3:prefix": prefix})
        for uri in outputs:
            obj, _ = _objects(uri)
            assert allowed("ExecutionRole", "s3:PutObject", obj), uri
    for uri in serving_inputs:
        assert allowed("ExecutionRole", "s3:GetObject", f"arn:aws:s3:::{uri.removeprefix('s3://')}"), uri
    for group in ("ProcessingJobs", "TrainingJobs", "TransformJobs"):
        stream = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/{group}:log-stream:job/algo-1"
        assert allowed("ExecutionRole", "logs:PutLogEvents", stream) and allowed("ExecutionRole", "logs:CreateLogStream", stream)
    assert allowed("ExecutionRole", "kms:Decrypt", KEY_ARN) and allowed("ExecutionRole", "kms:GenerateDataKey", KEY_ARN)
    assert allowed("ExecutionRole", "kms:CreateGrant", KEY_ARN, **{"kms:GrantIsForAWSResource": "true"})
    image_repo = f"arn:aws:ecr:{REGION}:{PARAMS['ImageRegistryAccount']}:repository/{PARAMS['ImageRepository']}"
    assert RUN["image_uri"].startswith(f"{PARAMS['ImageRegistryAccount']}.dkr.ecr.{REGION}.amazonaws.com/"
                                       f"{PARAMS['ImageRepository']}:")
    assert allowed("ExecutionRole", "ecr:BatchGetImage", image_repo)
    assert allowed("ExecutionRole", "cloudwatch:PutMetricData", "*", **{"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"})


# --- and not more --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("role", "action", "resource", "context"), [
    # Another team's jobs, models and registry.
    ("AirflowRole", "sagemaker:CreateTrainingJob", _sm_arn("training-job", "churn-train-20261120-1"), {}),
    ("AirflowRole", "sagemaker:StopProcessingJob", _sm_arn("processing-job", "demand-forecastx-1"), {}),
    ("AirflowRole", "sagemaker:DeleteModelPackage", _sm_arn("model-package", "churn/1"), {}),
    ("AirflowRole", "sagemaker:CreateEndpoint", _sm_arn("endpoint", "demand-forecast-predict-1"), {}),
    # PassRole: only this role, only to SageMaker.
    ("AirflowRole", "iam:PassRole", ATTRS["ExecutionRole.Arn"], {"iam:PassedToService": "glue.amazonaws.com"}),
    ("AirflowRole", "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin", {"iam:PassedToService": "sagemaker.amazonaws.com"}),
    # Airflow does not write what the jobs write, nor the raw data; it cannot list the bucket's root.
    ("AirflowRole", "s3:PutObject", _objects(RUN["paths"]["models"])[0], {}),
    ("AirflowRole", "s3:DeleteObject", _objects(RUN["paths"]["predictions"])[0], {}),
    ("AirflowRole", "s3:PutObject", f"arn:aws:s3:::{profile.BUCKET}/raw/sales/dt=2026-11-20/x.parquet", {}),
    ("AirflowRole", "s3:ListBucket", f"arn:aws:s3:::{profile.BUCKET}", {"s3:prefix": ""}),
    ("AirflowRole", "glue:CreatePartition", f"arn:aws:glue:{REGION}:{ACCOUNT}:table/retail/sales", {}),
    ("AirflowRole", "glue:DeleteTable", f"arn:aws:glue:{REGION}:{ACCOUNT}:table/demand_forecast/predictions", {}),
    ("AirflowRole", "athena:StartQueryExecution", f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/primary", {}),
    # A job cannot change the code it runs, read the raw data, delete outputs, or reach another bucket.
    ("ExecutionRole", "s3:PutObject", _objects(RUN["code"]["files"])[0], {}),
    ("ExecutionRole", "s3:GetObject", f"arn:aws:s3:::{profile.BUCKET}/raw/sales/dt=2026-11-20/x.parquet", {}),
    ("ExecutionRole", "s3:DeleteObject", _objects(RUN["paths"]["predictions"])[0], {}),
    ("ExecutionRole", "s3:GetObject", "arn:aws:s3:::another-bucket/ml/demand_forecast/models/x", {}),
    ("ExecutionRole", "s3:ListBucket", f"arn:aws:s3:::{profile.BUCKET}", {"s3:prefix": "raw/"}),
    ("ExecutionRole", "logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/x:log-stream:y", {}),
    ("ExecutionRole", "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "Billing"}),
    ("ExecutionRole", "kms:CreateGrant", KEY_ARN, {"kms:GrantIsForAWSResource": "false"}),
    ("ExecutionRole", "iam:PassRole", ATTRS["ExecutionRole.Arn"], {"iam:PassedToService": "sagemaker.amazonaws.com"}),
])
def test_near_misses_are_denied(role, action, resource, context):
    assert not allowed(role, action, resource, **context)


def test_the_evaluator_itself_denies_a_statement_whose_condition_fails():
    # Guard against a vacuous evaluator: the same call is allowed with the condition met and denied without it.
    uri = _objects(RUN["paths"]["extract_training"])[1]
    bucket = f"arn:aws:s3:::{profile.BUCKET}"
    assert allowed("AirflowRole", "s3:ListBucket", bucket, **{"s3:prefix": uri})
    assert not allowed("AirflowRole", "s3:ListBucket", bucket)
