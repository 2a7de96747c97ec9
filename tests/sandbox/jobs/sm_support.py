"""Helpers shared by the SageMaker sandbox tests: request builders, polling, S3 shortcuts."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

JOBS = Path(__file__).resolve().parent
ROLE = "arn:aws:iam::123456789012:role/sandbox-tests"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
TERMINAL = {"Completed", "Failed", "Stopped"}
POLL = 0.15


def make_bucket(aws, name: str) -> str:
    aws("s3").create_bucket(Bucket=name)
    return name


def put(aws, bucket: str, key: str, body: bytes | str) -> str:
    aws("s3").put_object(Bucket=bucket, Key=key, Body=body.encode() if isinstance(body, str) else body)
    return f"s3://{bucket}/{key}"


def get(aws, bucket: str, key: str) -> bytes:
    return aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def keys(aws, bucket: str, prefix: str) -> list[str]:
    pages = aws("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def upload_script(aws, bucket: str, key: str, script: str) -> str:
    return put(aws, bucket, key, (JOBS / script).read_bytes())


def upload_sourcedir(aws, bucket: str, key: str, source: str) -> str:
    """Pack tests/sandbox/jobs/<source>/ as the SageMaker SDK packs sourcedir.tar.gz."""
    return put(
        aws, bucket, key, tar_gz({p.name: p.read_bytes() for p in (JOBS / source).iterdir() if p.is_file()})
    )


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def untar(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def describe(sm, kind: str, name: str) -> dict[str, Any]:
    return getattr(sm, f"describe_{kind}_job")(**{f"{kind.capitalize()}JobName": name})


def status_of(description: dict[str, Any], kind: str) -> str:
    return description[f"{kind.capitalize()}JobStatus"]


def wait(sm, kind: str, name: str, timeout: float = 60, until: set[str] = TERMINAL) -> dict[str, Any]:
    """Poll Describe until the job reaches one of ``until``; the last description."""
    deadline = time.monotonic() + timeout
    while True:
        description = describe(sm, kind, name)
        if status_of(description, kind) in until:
            return description
        if time.monotonic() > deadline:
            raise AssertionError(f"{kind} job {name} still {status_of(description, kind)} after {timeout}s")
        time.sleep(POLL)


def wait_for(predicate, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(POLL)


def processing_request(
    name: str,
    bucket: str,
    script_uri: str,
    arguments: list[str],
    *,
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    environment: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    code_input = {
        "InputName": "code",
        "S3Input": {
            "S3Uri": script_uri,
            "LocalPath": "/opt/ml/processing/input/code",
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
        },
    }
    script = "/opt/ml/processing/input/code/" + script_uri.rsplit("/", 1)[-1]
    request: dict[str, Any] = {
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "AppSpecification": {
            "ImageUri": IMAGE,
            "ContainerEntrypoint": ["python3", script],
            "ContainerArguments": arguments,
        },
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}
        },
        "ProcessingInputs": [code_input, *(inputs or [])],
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    if outputs:
        request["ProcessingOutputConfig"] = {"Outputs": outputs}
    if environment:
        request["Environment"] = environment
    return {**request, **extra}


def s3_input(name: str, uri: str, local: str) -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {"S3Uri": uri, "LocalPath": local, "S3DataType": "S3Prefix", "S3InputMode": "File"},
    }


def s3_output(name: str, uri: str, local: str) -> dict[str, Any]:
    return {"OutputName": name, "S3Output": {"S3Uri": uri, "LocalPath": local, "S3UploadMode": "EndOfJob"}}


def training_request(
    name: str,
    bucket: str,
    sourcedir_uri: str,
    *,
    hyperparameters: dict[str, Any] | None = None,
    channels: dict[str, str] | None = None,
    metrics: list[dict[str, str]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A CreateTrainingJob request as the SageMaker SDK builds it for script mode (values JSON-encoded)."""
    hps = {
        "sagemaker_program": "train.py",
        "sagemaker_submit_directory": sourcedir_uri,
        "sagemaker_region": "us-east-1",
        "sagemaker_container_log_level": 20,
        **(hyperparameters or {}),
    }
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "RoleArn": ROLE,
        "AlgorithmSpecification": {
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": metrics or [],
        },
        "HyperParameters": {k: json.dumps(v) for k, v in hps.items()},
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": "text/csv",
            }
            for channel, uri in (channels or {}).items()
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/models"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    return {**request, **extra}


def transform_request(
    name: str,
    model: str,
    input_uri: str,
    output_uri: str,
    *,
    content_type: str = "text/csv",
    split: str = "Line",
    strategy: str | None = "MultiRecord",
    accept: str | None = None,
    assemble: str = "Line",
    **extra: Any,
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TransformJobName": name,
        "ModelName": model,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": content_type,
            "SplitType": split,
        },
        "TransformOutput": {"S3OutputPath": output_uri, "AssembleWith": assemble},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    if strategy:
        request["BatchStrategy"] = strategy
    if accept:
        request["TransformOutput"]["Accept"] = accept
    return {**request, **extra}


def log_messages(aws, group: str, job: str) -> list[str]:
    """Every message of the job's log streams, found the way the Amazon provider finds them."""
    logs = aws("logs")
    streams = logs.describe_log_streams(
        logGroupName=group, logStreamNamePrefix=job + "/", orderBy="LogStreamName"
    )["logStreams"]
    messages = []
    for stream in streams:
        events = logs.get_log_events(
            logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
        )["events"]
        messages.extend(e["message"] for e in events)
    return messages
