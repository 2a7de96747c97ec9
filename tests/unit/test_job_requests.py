"""Every request the pipeline sends to AWS is valid for botocore's model of that API."""

import json

import botocore.session
import pytest
from botocore.validate import ParamValidator

from batchml import job_requests
from batchml.demand_forecast import requests
from tests.unit.sample_plan import sample_plan

_session = botocore.session.get_session()


def assert_valid(service: str, operation: str, params: dict) -> None:
    shape = _session.get_service_model(service).operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()


FEATURES = {"job_name": "demand-forecast-preprocess-20261120-1", "status": "Completed",
            "outputs": {"train": "s3://b/ml/demand_forecast/features/dt=2026-11-20/j/train/",
                        "holdout": "s3://b/ml/demand_forecast/features/dt=2026-11-20/j/holdout/",
                        "scoring": "s3://b/ml/demand_forecast/features/dt=2026-11-20/j/scoring/"}}
MODEL = {"job_name": "demand-forecast-train-20261120-1", "status": "Completed",
         "model_data": "s3://b/ml/demand_forecast/models/dt=2026-11-20/demand-forecast-train-20261120-1/output/model.tar.gz"}
EVALUATION = {"job_name": "demand-forecast-evaluate-20261120-1", "status": "Completed",
              "outputs": {"evaluation": "s3://b/ml/demand_forecast/evaluation/dt=2026-11-20/e/"}}


@pytest.mark.parametrize("champion", [None, {"model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:"
                                             "model-package/demand-forecast/3", "model_data_url": "s3://b/m.tar.gz"}])
def test_processing_requests(champion):
    run = sample_plan()
    pre = requests.preprocessing(run, job_name="demand-forecast-preprocess-20261120-1")
    assert_valid("sagemaker", "CreateProcessingJob", pre)
    assert pre["ProcessingInputs"][1]["S3Input"]["S3Uri"] == run["paths"]["extract_training"]
    assert pre["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"].endswith(
        "/features/dt=2026-11-20/demand-forecast-preprocess-20261120-1/train/")
    ev = requests.evaluation(run, job_name="demand-forecast-evaluate-20261120-1", features=FEATURES, model=MODEL,
                             champion=champion)
    assert_valid("sagemaker", "CreateProcessingJob", ev)
    names = [i["InputName"] for i in ev["ProcessingInputs"]]
    assert ("champion" in names) == (champion is not None)


def test_training_request_is_script_mode():
    run = sample_plan()
    req = requests.training(run, job_name="demand-forecast-train-20261120-2", features=FEATURES)
    assert_valid("sagemaker", "CreateTrainingJob", req)
    hp = req["HyperParameters"]
    assert json.loads(hp["sagemaker_program"]) == "train.py"
    assert json.loads(hp["sagemaker_submit_directory"]) == run["code"]["sourcedir"]
    assert json.loads(hp["max_iter"]) == run["model"]["hyperparameters"]["max_iter"]
    assert all(isinstance(v, str) for v in hp.values())
    assert {m["Name"] for m in req["AlgorithmSpecification"]["MetricDefinitions"]} >= {"train_wape"}


def test_model_package_and_transform_requests():
    run = sample_plan()
    decision = {"metrics": {"challenger": 0.31, "baseline": 0.5, "champion": None}}
    pkg = requests.model_package(run, model=MODEL, evaluation=EVALUATION, decision=decision)
    assert_valid("sagemaker", "CreateModelPackage", pkg)
    assert pkg["CustomerMetadataProperties"]["partition_date"] == "2026-11-20"
    assert pkg["CustomerMetadataProperties"]["dag_run_id"] == run["run_id"]
    assert pkg["InferenceSpecification"]["SupportedContentTypes"] == ["application/jsonlines"]

    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/demand-forecast/4"
    both = requests.batch_prediction(run, job_name="demand-forecast-predict-20261120-1", features=FEATURES,
                                     registered={"model_package_arn": arn}, decision={"use": "challenger"})
    assert_valid("sagemaker", "CreateModel", both["Model"])
    assert_valid("sagemaker", "CreateTransformJob", both["Transform"])
    assert both["Model"]["Containers"] == [{"ModelPackageName": arn}]
    assert both["Transform"]["TransformOutput"]["S3OutputPath"].endswith(
        "/predictions/dt=2026-11-20/demand-forecast-predict-20261120-1/")
    kept = requests.batch_prediction(run, job_name="j-1", features=FEATURES, registered=None,
                                     decision={"use": "champion", "champion_arn": "arn:x"})
    assert kept["Model"]["Containers"] == [{"ModelPackageName": "arn:x"}]
    with pytest.raises(ValueError, match="no model package"):
        requests.batch_prediction(run, job_name="j-1", features=FEATURES, registered=None,
                                  decision={"use": "challenger"})


def test_glue_partition_input_inherits_the_table_format():
    table = {"StorageDescriptor": {"Columns": [{"Name": "a", "Type": "string"}], "Location": "s3://b/t/",
                                   "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
                                   "SerdeInfo": {"SerializationLibrary": "x", "Parameters": {"field.delim": ","}}}}
    part = job_requests.partition_input(table, ["2026-11-20"], "s3://b/t/dt=2026-11-20/job/")
    assert_valid("glue", "CreatePartition", {"DatabaseName": "d", "TableName": "t", "PartitionInput": part})
    assert part["StorageDescriptor"]["Location"] == "s3://b/t/dt=2026-11-20/job/"
    assert part["StorageDescriptor"]["SerdeInfo"]["Parameters"] == {"field.delim": ","}


SECURED = {"kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
           "vpc_subnet_ids": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
           "vpc_security_group_ids": ["sg-0123456789abcdef0"], "network_isolation": True}


def _secured_plan(**overrides):
    from batchml.environment import EnvironmentConfig
    from sandbox.profile import pipeline_environment

    # Through the Variable's schema, as prepare_run reads it.
    env = EnvironmentConfig.from_json(json.dumps({**pipeline_environment(), **SECURED, **overrides}), "test")
    run = sample_plan(champion={"model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1",
                                "model_data_url": "s3://b/m.tar.gz"})
    return {**run, "env": env.model_dump(mode="json")}


def _every_request(run):
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/demand-forecast/4"
    predict = requests.batch_prediction(run, job_name="demand-forecast-predict-20261120-1", features=FEATURES,
                                        registered={"model_package_arn": arn}, decision={"use": "challenger"})
    return {
        "preprocess": ("CreateProcessingJob", requests.preprocessing(run, job_name="demand-forecast-preprocess-20261120-1")),
        "train": ("CreateTrainingJob", requests.training(run, job_name="demand-forecast-train-20261120-1",
                                                         features=FEATURES)),
        "evaluate": ("CreateProcessingJob", requests.evaluation(run, job_name="demand-forecast-evaluate-20261120-1",
                                                                features=FEATURES, model=MODEL)),
        "model": ("CreateModel", predict["Model"]),
        "transform": ("CreateTransformJob", predict["Transform"]),
    }


def test_kms_key_vpc_and_network_isolation_reach_every_job_request():
    run = _secured_plan()
    key, vpc = SECURED["kms_key_id"], {"Subnets": SECURED["vpc_subnet_ids"],
                                       "SecurityGroupIds": SECURED["vpc_security_group_ids"]}
    reqs = _every_request(run)
    for operation, req in reqs.values():
        assert_valid("sagemaker", operation, req)
    for name in ("preprocess", "evaluate"):
        req = reqs[name][1]
        assert req["ProcessingOutputConfig"]["KmsKeyId"] == key
        assert req["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key
        assert req["NetworkConfig"] == {"EnableNetworkIsolation": True, "VpcConfig": vpc}
    train = reqs["train"][1]
    assert train["OutputDataConfig"]["KmsKeyId"] == key and train["ResourceConfig"]["VolumeKmsKeyId"] == key
    assert train["VpcConfig"] == vpc
    # Script mode downloads the source tarball from inside the container: never isolated.
    assert "EnableNetworkIsolation" not in train
    assert reqs["model"][1]["VpcConfig"] == vpc and "EnableNetworkIsolation" not in reqs["model"][1]
    transform = reqs["transform"][1]
    assert transform["TransformOutput"]["KmsKeyId"] == key
    assert transform["TransformResources"]["VolumeKmsKeyId"] == key


def test_without_those_settings_requests_carry_none_of_them():
    reqs = _every_request({**sample_plan(champion={"model_package_arn": "arn:x:1", "model_data_url": "s3://b/m"})})
    text = json.dumps([req for _, req in reqs.values()])
    for field in ("KmsKeyId", "VpcConfig", "NetworkConfig", "EnableNetworkIsolation"):
        assert field not in text, field


def test_isolation_alone_is_a_valid_network_config():
    run = _secured_plan(network_isolation=True)
    run["env"] = {**run["env"], "vpc_subnet_ids": None, "vpc_security_group_ids": None}
    pre = requests.preprocessing(run, job_name="demand-forecast-preprocess-20261120-1")
    assert_valid("sagemaker", "CreateProcessingJob", pre)
    assert pre["NetworkConfig"] == {"EnableNetworkIsolation": True}


@pytest.mark.parametrize("drop", ["vpc_subnet_ids", "vpc_security_group_ids"])
def test_a_vpc_needs_both_subnets_and_security_groups(drop):
    from batchml.config import ConfigError
    from batchml.environment import EnvironmentConfig
    from sandbox.profile import pipeline_environment

    doc = {**pipeline_environment(), **SECURED}
    del doc[drop]
    with pytest.raises(ConfigError, match="vpc_"):
        EnvironmentConfig.from_json(json.dumps(doc), "test")
    with pytest.raises(ValueError, match="both subnet ids and security group ids"):
        job_requests.vpc_config(doc.get("vpc_subnet_ids"), doc.get("vpc_security_group_ids"))


def test_bad_vpc_ids_are_named():
    from batchml.config import ConfigError
    from batchml.environment import EnvironmentConfig
    from sandbox.profile import pipeline_environment

    doc = {**pipeline_environment(), **SECURED, "vpc_subnet_ids": ["subnet-0123456789abcdef0", "vpc-123"]}
    with pytest.raises(ConfigError, match=r"vpc_subnet_ids\.1"):
        EnvironmentConfig.from_json(json.dumps(doc), "test")
