"""Describe* carries what AWS fills in for members a Create request left out (sandbox/sagemaker/defaults.py):
every table entry is a real member of a real shape with a value the model allows, and the defaults reach
clients over HTTP for training, processing and transform jobs and model packages."""

from __future__ import annotations

import botocore.session
import pytest

from sandbox.sagemaker.defaults import AWS_DEFAULTS
from sandbox.shapes import _walk
from tests.sandbox.jobs.sm_support import (
    IMAGE,
    ROLE,
    make_bucket,
    processing_request,
    put,
    s3_input,
    s3_output,
    training_request,
    transform_request,
    upload_script,
    upload_sourcedir,
)

MODEL = botocore.session.get_session().get_service_model("sagemaker")


def _shapes_by_name():
    found = {}

    def visit(shape):
        if shape.name in found:
            return
        found[shape.name] = shape
        if shape.type_name == "structure":
            for member in shape.members.values():
                visit(member)
        elif shape.type_name == "list":
            visit(shape.member)
        elif shape.type_name == "map":
            visit(shape.value)

    for name in MODEL.operation_names:
        if name.startswith("Describe"):
            output = MODEL.operation_model(name).output_shape
            if output is not None:
                visit(output)
    return found


@pytest.mark.parametrize("shape_name", sorted(AWS_DEFAULTS))
def test_every_default_is_a_member_with_a_value_the_model_allows(shape_name):
    shape = _shapes_by_name().get(shape_name)
    assert shape is not None and shape.type_name == "structure", f"{shape_name} is no Describe output structure"
    for member, value in AWS_DEFAULTS[shape_name].items():
        assert member in shape.members, f"{shape_name}.{member} is not in the model"
        problems: list[str] = []
        _walk(shape.members[member], value, f"{shape_name}.{member}", problems)
        assert not problems, problems


def test_training_describe_has_the_members_aws_fills_in(sandbox, aws, unique):
    """SDK v2's Estimator.attach indexes OutputDataConfig['KmsKeyId']: it must be there, empty."""
    bucket = make_bucket(aws, unique)
    code = upload_sourcedir(aws, bucket, "code/sourcedir.tar.gz", "train_src")
    data = put(aws, bucket, "data/train.csv", "1,2\n")
    request = training_request(unique, bucket, code, channels={"train": data})
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"].pop("S3DataDistributionType")
    aws("sagemaker").create_training_job(**request)
    out = aws("sagemaker").describe_training_job(TrainingJobName=unique)
    assert out["OutputDataConfig"] == {"S3OutputPath": f"s3://{bucket}/models", "KmsKeyId": "",
                                       "CompressionType": "GZIP"}
    assert out["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 0
    channel = out["InputDataConfig"][0]
    assert (channel["CompressionType"], channel["RecordWrapperType"]) == ("None", "None")
    assert channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "FullyReplicated"
    assert out["AlgorithmSpecification"]["EnableSageMakerMetricsTimeSeries"] is False
    assert (out["EnableNetworkIsolation"], out["EnableInterContainerTrafficEncryption"],
            out["EnableManagedSpotTraining"]) == (False, False, False)


def test_what_the_request_sets_wins_over_the_default(sandbox, aws, unique):
    bucket = make_bucket(aws, unique)
    code = upload_sourcedir(aws, bucket, "code/sourcedir.tar.gz", "train_src")
    request = training_request(unique, bucket, code, channels={"train": put(aws, bucket, "d.csv", "1\n")},
                               EnableNetworkIsolation=True)
    request["OutputDataConfig"]["KmsKeyId"] = "arn:aws:kms:us-east-1:123456789012:key/k"
    aws("sagemaker").create_training_job(**request)
    out = aws("sagemaker").describe_training_job(TrainingJobName=unique)
    assert out["OutputDataConfig"]["KmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/k"
    assert out["EnableNetworkIsolation"] is True


def test_processing_and_transform_describe_have_the_members_aws_fills_in(sandbox, aws, unique):
    bucket = make_bucket(aws, unique)
    script = upload_script(aws, bucket, "code/stamp.py", "stamp.py")
    sm = aws("sagemaker")
    data = s3_input("data", f"s3://{bucket}/in", "/opt/ml/processing/data")
    del data["S3Input"]["S3InputMode"]
    sm.create_processing_job(**processing_request(
        unique, bucket, script, ["/opt/ml/processing/output", "0"], inputs=[data],
        outputs=[s3_output("out", f"s3://{bucket}/out", "/opt/ml/processing/output")]))
    out = sm.describe_processing_job(ProcessingJobName=unique)
    s3_in = out["ProcessingInputs"][1]["S3Input"]
    assert (s3_in["S3InputMode"], s3_in["S3DataDistributionType"], s3_in["S3CompressionType"]) == (
        "File", "FullyReplicated", "None")
    assert out["ProcessingInputs"][1]["AppManaged"] is False
    assert out["ProcessingOutputConfig"]["Outputs"][0]["AppManaged"] is False

    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{bucket}/model.tar.gz"})
    request = transform_request(unique, unique, f"s3://{bucket}/in", f"s3://{bucket}/out", strategy=None)
    del request["TransformInput"]["SplitType"], request["TransformOutput"]["AssembleWith"]
    put(aws, bucket, "model.tar.gz", b"")
    sm.create_transform_job(**request)
    out = sm.describe_transform_job(TransformJobName=unique)
    assert out["TransformOutput"]["KmsKeyId"] == "" and out["TransformOutput"]["AssembleWith"] == "None"
    assert (out["TransformInput"]["SplitType"], out["TransformInput"]["CompressionType"]) == ("None", "None")
    assert out["DataProcessing"] == {"InputFilter": "$", "OutputFilter": "$", "JoinSource": "None"}
    assert out["MaxPayloadInMB"] == 6


def test_model_package_describe_has_the_members_aws_fills_in(sandbox, aws, unique):
    sm = aws("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName=unique)
    inference = {"Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://b/model.tar.gz"}],
                 "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}
    arn = sm.create_model_package(ModelPackageGroupName=unique, InferenceSpecification=inference)["ModelPackageArn"]
    out = sm.describe_model_package(ModelPackageName=arn)
    assert out["CertifyForMarketplace"] is False
