"""SageMaker, Athena and Glue requests, built by small pure functions.

Each function returns the exact boto3 request dict for one API call, so tests can check it against
botocore's model without AWS, and a person can read what a job was asked to do. Paths inside the
container follow SageMaker's conventions (``/opt/ml/processing/input/<name>``, channels, model dir).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

PROCESSING_BASE = "/opt/ml/processing"
PROCESSING_INPUT = f"{PROCESSING_BASE}/input"
PROCESSING_OUTPUT = f"{PROCESSING_BASE}/output"
CODE_DIR = f"{PROCESSING_INPUT}/code"


def _stopping(max_runtime_seconds: int) -> dict[str, int]:
    return {"MaxRuntimeInSeconds": int(max_runtime_seconds)}


def vpc_config(subnet_ids: list[str] | None, security_group_ids: list[str] | None) -> dict[str, list[str]] | None:
    """SageMaker's VpcConfig, or None to run the job outside a VPC (both lists empty)."""
    if not subnet_ids and not security_group_ids:
        return None
    if not subnet_ids or not security_group_ids:
        raise ValueError("a VpcConfig needs both subnet ids and security group ids")
    return {"Subnets": list(subnet_ids), "SecurityGroupIds": list(security_group_ids)}


def processing_job(
    *,
    job_name: str,
    role_arn: str,
    image_uri: str,
    instance_type: str,
    code_uri: str,
    script: str,
    inputs: dict[str, str],
    outputs: dict[str, str],
    arguments: list[str] | None = None,
    environment: dict[str, str] | None = None,
    max_runtime_seconds: int = 3600,
    volume_size_gb: int = 30,
    kms_key_id: str | None = None,
    vpc: dict[str, list[str]] | None = None,
    network_isolation: bool = False,
) -> dict[str, Any]:
    """CreateProcessingJob: run ``<code_uri>/<script>`` with each input under
    /opt/ml/processing/input/<name>/ and upload /opt/ml/processing/output/<name>/ to its S3 URI.

    ``kms_key_id`` encrypts the outputs and the job's volume; ``vpc`` (see vpc_config) and
    ``network_isolation`` become its NetworkConfig. A processing job can run isolated: SageMaker itself
    downloads the inputs (the code included) and uploads the outputs."""
    processing_inputs = [
        {
            "InputName": "code",
            "S3Input": {"S3Uri": code_uri, "LocalPath": CODE_DIR, "S3DataType": "S3Prefix",
                        "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"},
        }
    ]
    for name, uri in inputs.items():
        processing_inputs.append({
            "InputName": name,
            "S3Input": {"S3Uri": uri, "LocalPath": f"{PROCESSING_INPUT}/{name}", "S3DataType": "S3Prefix",
                        "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"},
        })
    output_config: dict[str, Any] = {
        "Outputs": [
            {"OutputName": name,
             "S3Output": {"S3Uri": uri, "LocalPath": f"{PROCESSING_OUTPUT}/{name}", "S3UploadMode": "EndOfJob"}}
            for name, uri in outputs.items()
        ]
    }
    if kms_key_id:
        output_config["KmsKeyId"] = kms_key_id
    request: dict[str, Any] = {
        "ProcessingJobName": job_name,
        "RoleArn": role_arn,
        "AppSpecification": {
            "ImageUri": image_uri,
            "ContainerEntrypoint": ["python3", f"{CODE_DIR}/{script}"],
            "ContainerArguments": list(arguments or []),
        },
        "ProcessingInputs": processing_inputs,
        "ProcessingOutputConfig": output_config,
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": instance_type, "VolumeSizeInGB": volume_size_gb}
        },
        "StoppingCondition": _stopping(max_runtime_seconds),
        "Environment": dict(environment or {}),
    }
    if kms_key_id:
        request["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] = kms_key_id
    network: dict[str, Any] = {}
    if network_isolation:
        network["EnableNetworkIsolation"] = True
    if vpc:
        network["VpcConfig"] = dict(vpc)
    if network:
        request["NetworkConfig"] = network
    if not request["AppSpecification"]["ContainerArguments"]:
        del request["AppSpecification"]["ContainerArguments"]
    return request


def script_mode_hyperparameters(
    hyperparameters: dict[str, Any], *, entry_point: str, sourcedir_uri: str, region: str
) -> dict[str, str]:
    """Hyperparameters as the SageMaker SDK sends them in script mode: every value JSON-encoded,
    plus the sagemaker_* keys that tell the framework container which script to run."""
    out = {str(k): json.dumps(v) for k, v in sorted(hyperparameters.items())}
    out.update({
        "sagemaker_program": json.dumps(entry_point),
        "sagemaker_submit_directory": json.dumps(sourcedir_uri),
        "sagemaker_container_log_level": "20",
        "sagemaker_region": json.dumps(region),
    })
    return out


def training_job(
    *,
    job_name: str,
    role_arn: str,
    image_uri: str,
    instance_type: str,
    sourcedir_uri: str,
    entry_point: str,
    region: str,
    channels: dict[str, str],
    output_path: str,
    hyperparameters: dict[str, Any],
    metric_definitions: list[dict[str, str]],
    max_runtime_seconds: int = 7200,
    environment: dict[str, str] | None = None,
    volume_size_gb: int = 30,
    kms_key_id: str | None = None,
    vpc: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """CreateTrainingJob in script mode: the framework image runs ``entry_point`` from the source
    tarball; ``model.tar.gz`` lands at ``<output_path><job_name>/output/``.

    No network isolation: in script mode the container itself downloads ``sagemaker_submit_directory``
    from S3, which an isolated container cannot do."""
    output_config: dict[str, Any] = {"S3OutputPath": output_path}
    resources: dict[str, Any] = {"InstanceCount": 1, "InstanceType": instance_type, "VolumeSizeInGB": volume_size_gb}
    if kms_key_id:
        output_config["KmsKeyId"] = kms_key_id
        resources["VolumeKmsKeyId"] = kms_key_id
    request: dict[str, Any] = {
        "TrainingJobName": job_name,
        "RoleArn": role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": image_uri,
            "TrainingInputMode": "File",
            "MetricDefinitions": list(metric_definitions),
            "EnableSageMakerMetricsTimeSeries": True,
        },
        "HyperParameters": script_mode_hyperparameters(
            hyperparameters, entry_point=entry_point, sourcedir_uri=sourcedir_uri, region=region
        ),
        "InputDataConfig": [
            {
                "ChannelName": name,
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri,
                                                "S3DataDistributionType": "FullyReplicated"}},
                "InputMode": "File",
            }
            for name, uri in channels.items()
        ],
        "OutputDataConfig": output_config,
        "ResourceConfig": resources,
        "StoppingCondition": _stopping(max_runtime_seconds),
        "Environment": dict(environment or {}),
    }
    if vpc:
        request["VpcConfig"] = dict(vpc)
    return request


def model_from_package(*, model_name: str, role_arn: str, model_package_arn: str,
                       vpc: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """CreateModel that serves a registered model package version. A Batch Transform job runs in the
    model's VpcConfig. No network isolation: the serving container downloads its inference code
    (SAGEMAKER_SUBMIT_DIRECTORY) from S3 when it starts."""
    request: dict[str, Any] = {
        "ModelName": model_name,
        "ExecutionRoleArn": role_arn,
        "Containers": [{"ModelPackageName": model_package_arn}],
    }
    if vpc:
        request["VpcConfig"] = dict(vpc)
    return request


def transform_job(
    *,
    job_name: str,
    model_name: str,
    input_uri: str,
    output_uri: str,
    instance_type: str,
    content_type: str,
    accept: str,
    split_type: str = "Line",
    batch_strategy: str = "MultiRecord",
    max_payload_mb: int = 6,
    max_runtime_seconds: int = 3600,
    environment: dict[str, str] | None = None,
    kms_key_id: str | None = None,
) -> dict[str, Any]:
    """CreateTransformJob: each input object ``x`` becomes ``<output_uri>x.out``, lines in, lines out."""
    output: dict[str, Any] = {"S3OutputPath": output_uri, "Accept": accept, "AssembleWith": "Line"}
    resources: dict[str, Any] = {"InstanceCount": 1, "InstanceType": instance_type}
    if kms_key_id:
        output["KmsKeyId"] = kms_key_id
        resources["VolumeKmsKeyId"] = kms_key_id
    request: dict[str, Any] = {
        "TransformJobName": job_name,
        "ModelName": model_name,
        "BatchStrategy": batch_strategy,
        "MaxPayloadInMB": max_payload_mb,
        "ModelClientConfig": {"InvocationsTimeoutInSeconds": min(3600, max_runtime_seconds),
                              "InvocationsMaxRetries": 1},
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": content_type,
            "SplitType": split_type,
            "CompressionType": "None",
        },
        "TransformOutput": output,
        "TransformResources": resources,
    }
    if environment:
        request["Environment"] = dict(environment)
    return request


def model_package(
    *,
    group_name: str,
    description: str,
    image_uri: str,
    model_data_url: str,
    program: str,
    sourcedir_uri: str,
    region: str,
    content_types: list[str],
    response_types: list[str],
    metrics_uri: str,
    metadata: dict[str, str],
    approval_status: str = "Approved",
    client_token: str | None = None,
    instance_types: list[str] | None = None,
) -> dict[str, Any]:
    """CreateModelPackage: a versioned, approved model with its serving container, its evaluation
    report as ModelQuality statistics, and the run that made it as customer metadata."""
    request: dict[str, Any] = {
        "ModelPackageGroupName": group_name,
        "ModelPackageDescription": description,
        "ModelApprovalStatus": approval_status,
        "InferenceSpecification": {
            "Containers": [{
                "Image": image_uri,
                "ModelDataUrl": model_data_url,
                "Environment": {
                    "SAGEMAKER_PROGRAM": program,
                    "SAGEMAKER_SUBMIT_DIRECTORY": sourcedir_uri,
                    "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                    "SAGEMAKER_REGION": region,
                },
            }],
            "SupportedContentTypes": list(content_types),
            "SupportedResponseMIMETypes": list(response_types),
            "SupportedTransformInstanceTypes": list(instance_types or ["ml.m5.large"]),
        },
        "ModelMetrics": {"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": metrics_uri}}},
        "CustomerMetadataProperties": {k: str(v)[:256] for k, v in metadata.items()},
    }
    if client_token:
        request["ClientToken"] = client_token
    return request


def partition_input(table: dict[str, Any], values: list[str], location: str) -> dict[str, Any]:
    """Glue PartitionInput for ``values`` at ``location``, inheriting the table's storage format."""
    sd = table["StorageDescriptor"]
    keep = ("Columns", "InputFormat", "OutputFormat", "SerdeInfo", "Compressed", "Parameters",
            "StoredAsSubDirectories")
    storage = {k: sd[k] for k in keep if k in sd}
    storage["Location"] = location
    return {"Values": list(values), "StorageDescriptor": storage}


@dataclass(frozen=True)
class UnloadQuery:
    """What ``AthenaUnloadOperator`` runs besides its SQL file: the values of the file's ``:name`` placeholders
    (sent as ExecutionParameters, never pasted into the SQL), where it runs and where the result goes."""

    database: str
    workgroup: str
    output_prefix: str
    parameters: dict[str, Any] = field(default_factory=dict)
    result_location: str | None = None


@dataclass(frozen=True)
class CatalogPartition:
    """A Glue partition: ``database.table`` partition ``values`` with its files under ``location``."""

    database: str
    table: str
    values: list[str]
    location: str


@dataclass(frozen=True)
class PartitionWait:
    """What ``GlueCatalogPartitionSensor`` waits for: a partition matching ``expression``."""

    database: str
    table: str
    expression: str
