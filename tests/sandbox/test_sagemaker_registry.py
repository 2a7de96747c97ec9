"""Models and the Model Registry: versions, approval, metadata, idempotency, listing, deletion, tags."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.jobs.sm_support import IMAGE, ROLE

ACCOUNT = "123456789012"


def spec(model_url: str) -> dict:
    return {
        "Containers": [
            {"Image": IMAGE, "ModelDataUrl": model_url, "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}}
        ],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }


def error_of(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]


def register(sm, group: str, n: int, **kwargs) -> str:
    return sm.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification=spec(f"s3://b/m{n}.tar.gz"),
        ModelPackageDescription=f"model {n}",
        **kwargs,
    )["ModelPackageArn"]


def test_versions_approval_and_metadata(aws, unique):
    sm = aws("sagemaker")
    group_arn = sm.create_model_package_group(
        ModelPackageGroupName=unique,
        ModelPackageGroupDescription="demand",
        Tags=[{"Key": "owner", "Value": "ml"}],
    )["ModelPackageGroupArn"]
    assert group_arn == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package-group/{unique}"
    assert error_of(sm.create_model_package_group, ModelPackageGroupName=unique) == {
        "Code": "ValidationException",
        "Message": f"Model Package Group already exists: {group_arn}",
    }

    first = register(
        sm,
        unique,
        1,
        CustomerMetadataProperties={"rmse": "1.5", "data": "2026-11-19"},
        ModelMetrics={
            "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": "s3://b/eval.json"}}
        },
        MetadataProperties={"GeneratedBy": "training-job-1"},
    )
    second = register(sm, unique, 2)
    assert [first, second] == [
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/{unique}/{n}" for n in (1, 2)
    ]

    described = sm.describe_model_package(ModelPackageName=first)
    assert described["ModelPackageName"] == unique
    assert (described["ModelPackageGroupName"], described["ModelPackageVersion"]) == (unique, 1)
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["ModelPackageStatus"] == "Completed"
    assert described["InferenceSpecification"] == spec("s3://b/m1.tar.gz")
    assert described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == "s3://b/eval.json"
    assert described["MetadataProperties"] == {"GeneratedBy": "training-job-1"}
    assert "LastModifiedTime" not in described

    # approval keeps the metadata (moto wipes it); new keys merge in, listed keys go
    sm.update_model_package(
        ModelPackageArn=first, ModelApprovalStatus="Approved", ApprovalDescription="beats the baseline"
    )
    sm.update_model_package(
        ModelPackageArn=first,
        CustomerMetadataProperties={"approved_by": "oncall"},
        CustomerMetadataPropertiesToRemove=["data"],
    )
    updated = sm.describe_model_package(ModelPackageName=first)
    assert updated["ModelApprovalStatus"] == "Approved"
    assert updated["ApprovalDescription"] == "beats the baseline"
    assert updated["CustomerMetadataProperties"] == {"rmse": "1.5", "approved_by": "oncall"}
    assert updated["LastModifiedTime"] >= updated["CreationTime"]
    assert sm.list_tags(ResourceArn=group_arn)["Tags"] == [{"Key": "owner", "Value": "ml"}]


def test_client_token_makes_registration_idempotent(aws, unique):
    sm = aws("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName=unique)
    first = register(sm, unique, 1, ClientToken="run-2026-11-20")
    again = register(sm, unique, 1, ClientToken="run-2026-11-20")
    assert again == first
    error = error_of(
        sm.create_model_package,
        ModelPackageGroupName=unique,
        ClientToken="run-2026-11-20",
        InferenceSpecification=spec("s3://b/other.tar.gz"),
    )
    assert error["Code"] == "ValidationException"
    assert "already used with different parameters" in error["Message"]
    assert register(sm, unique, 1) == first.rsplit("/", 1)[0] + "/2"  # without a token: a new version


def test_list_model_packages_filters_sorts_and_pages(aws, unique):
    sm = aws("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName=unique)
    arns = [register(sm, unique, n) for n in range(1, 5)]
    sm.update_model_package(ModelPackageArn=arns[1], ModelApprovalStatus="Approved")
    sm.update_model_package(ModelPackageArn=arns[3], ModelApprovalStatus="Approved")
    sm.update_model_package(ModelPackageArn=arns[2], ModelApprovalStatus="Rejected")

    approved = sm.list_model_packages(
        ModelPackageGroupName=unique,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
    )["ModelPackageSummaryList"]
    assert [p["ModelPackageArn"] for p in approved] == [arns[3], arns[1]]
    assert approved[0]["ModelPackageVersion"] == 4
    assert approved[0]["ModelPackageDescription"] == "model 4"
    assert "ModelPackageName" not in approved[0]  # versions are summarised by group and number

    page = sm.list_model_packages(ModelPackageGroupName=unique, MaxResults=3)
    assert [p["ModelPackageVersion"] for p in page["ModelPackageSummaryList"]] == [1, 2, 3]
    rest = sm.list_model_packages(ModelPackageGroupName=unique, MaxResults=3, NextToken=page["NextToken"])
    assert [p["ModelPackageVersion"] for p in rest["ModelPackageSummaryList"]] == [4]
    assert "NextToken" not in rest
    # a token is only good for the filters it was issued for
    assert (
        error_of(
            sm.list_model_packages,
            ModelPackageGroupName=unique,
            ModelApprovalStatus="Approved",
            NextToken=page["NextToken"],
        )["Code"]
        == "ValidationException"
    )
    # without a group filter the documented default is unversioned packages only
    sm.create_model_package(ModelPackageName=f"{unique}-solo", InferenceSpecification=spec("s3://b/s.tar.gz"))
    unversioned = sm.list_model_packages(NameContains=unique)["ModelPackageSummaryList"]
    assert [p["ModelPackageName"] for p in unversioned] == [f"{unique}-solo"]
    both = sm.list_model_packages(
        NameContains=unique, ModelPackageType="Both", SortBy="Name", SortOrder="Descending"
    )["ModelPackageSummaryList"]
    assert len(both) == 5 and "ModelPackageName" in both[0]
    solo = sm.describe_model_package(ModelPackageName=f"{unique}-solo")
    assert "ModelPackageGroupName" not in solo and "ModelApprovalStatus" not in solo


def test_groups_list_and_delete(aws, unique):
    sm = aws("sagemaker")
    for suffix in ("b", "a", "c"):
        sm.create_model_package_group(ModelPackageGroupName=f"{unique}-{suffix}")
    listed = sm.list_model_package_groups(NameContains=unique.upper(), SortBy="Name")
    assert [g["ModelPackageGroupName"] for g in listed["ModelPackageGroupSummaryList"]] == [
        f"{unique}-a",
        f"{unique}-b",
        f"{unique}-c",
    ]
    assert all(g["ModelPackageGroupStatus"] == "Completed" for g in listed["ModelPackageGroupSummaryList"])

    version = register(sm, f"{unique}-a", 1)
    assert (
        error_of(sm.delete_model_package_group, ModelPackageGroupName=f"{unique}-a")["Code"]
        == "ConflictException"
    )
    sm.delete_model_package(ModelPackageName=version)
    assert error_of(sm.describe_model_package, ModelPackageName=version) == {
        "Code": "ValidationException",
        "Message": f"ModelPackage {version} does not exist.",
    }
    sm.delete_model_package_group(ModelPackageGroupName=f"{unique}-a")
    group_arn = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package-group/{unique}-a"
    assert error_of(sm.describe_model_package_group, ModelPackageGroupName=f"{unique}-a") == {
        "Code": "ValidationException",
        "Message": f"ModelPackageGroup {group_arn} does not exist.",
    }
    # version numbers are not reused after a delete
    sm.delete_model_package(ModelPackageName=register(sm, f"{unique}-b", 1))
    assert register(sm, f"{unique}-b", 2).endswith(f"/{unique}-b/2")


def test_models_create_describe_list_delete(aws, unique):
    sm = aws("sagemaker")
    container = {
        "Image": IMAGE,
        "ModelDataUrl": "s3://b/model.tar.gz",
        "Environment": {"SAGEMAKER_PROGRAM": "x.py"},
    }
    arns = [
        sm.create_model(
            ModelName=f"{unique}-{n}",
            ExecutionRoleArn=ROLE,
            PrimaryContainer=container,
            Tags=[{"Key": "n", "Value": str(n)}],
        )["ModelArn"]
        for n in (1, 2)
    ]
    assert arns[0] == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/{unique}-1"
    assert error_of(
        sm.create_model, ModelName=f"{unique}-1", ExecutionRoleArn=ROLE, PrimaryContainer=container
    ) == {"Code": "ValidationException", "Message": f'Cannot create already existing model "{arns[0]}".'}

    described = sm.describe_model(ModelName=f"{unique}-1")
    assert described["PrimaryContainer"] == container
    assert (described["ExecutionRoleArn"], described["EnableNetworkIsolation"]) == (ROLE, False)
    assert "Tags" not in described
    listed = sm.list_models(NameContains=unique)["Models"]
    assert [m["ModelName"] for m in listed] == [f"{unique}-2", f"{unique}-1"]  # newest first by default

    sm.add_tags(ResourceArn=arns[1], Tags=[{"Key": "stage", "Value": "prod"}, {"Key": "n", "Value": "two"}])
    sm.delete_tags(ResourceArn=arns[1], TagKeys=["stage"])
    assert sm.list_tags(ResourceArn=arns[1])["Tags"] == [{"Key": "n", "Value": "two"}]

    sm.delete_model(ModelName=f"{unique}-1")
    assert error_of(sm.describe_model, ModelName=f"{unique}-1") == {
        "Code": "ValidationException",
        "Message": f'Could not find model "{arns[0]}".',
    }
    assert error_of(sm.delete_model, ModelName=f"{unique}-1")["Code"] == "ValidationException"
    missing_package = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/{unique}-nope/1"
    assert (
        error_of(
            sm.create_model,
            ModelName=f"{unique}-3",
            ExecutionRoleArn=ROLE,
            Containers=[{"ModelPackageName": missing_package}],
        )["Message"]
        == f"ModelPackage {missing_package} does not exist."
    )


def test_resources_moto_still_holds_see_sandbox_models_and_keep_their_tags(aws, unique):
    sm = aws("sagemaker")
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    config = sm.create_endpoint_config(
        EndpointConfigName=unique,
        Tags=[{"Key": "a", "Value": "1"}],
        ProductionVariants=[
            {
                "VariantName": "v",
                "ModelName": unique,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )["EndpointConfigArn"]
    sm.add_tags(ResourceArn=config, Tags=[{"Key": "b", "Value": "2"}])
    sm.delete_tags(ResourceArn=config, TagKeys=["a"])
    assert sm.list_tags(ResourceArn=config)["Tags"] == [{"Key": "b", "Value": "2"}]
    missing = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/{unique}-nope"
    assert error_of(sm.list_tags, ResourceArn=missing) == {
        "Code": "ValidationException",
        "Message": "Resource does not exist",
    }
