"""What SageMaker's Describe* responses carry for members the Create request left out.

AWS answers Describe with the request as it stored it, and the values it filled in: ``KmsKeyId: ""``
for an unencrypted output, ``CompressionType: "None"`` for a channel, a 24-hour MaxRuntimeInSeconds,
and so on. Clients index some of them directly (SDK v2 ``Estimator.attach`` reads
``OutputDataConfig["KmsKeyId"]``), so leaving them out breaks code that works on AWS.

The table is keyed by botocore *shape* name, not by operation: a default belongs to a structure, and
applies wherever the output shape contains that structure (a ``TransformOutput`` inside a
DescribeTransformJob and inside a model package's validation profile alike). ``fill`` walks the
operation's output shape over the response and, in every structure present, adds the members the table
gives that the response lacks; a default that is itself a structure is created when its parent is
present. Only defaults seen in AWS's responses or its API reference ("Default: ...") are listed;
``tests/sandbox/test_describe_defaults.py`` checks every entry against the model (member exists, value
type and enum match).
"""

from __future__ import annotations

import copy
from typing import Any

# shape name -> {member: the value AWS reports when the request did not set it}
AWS_DEFAULTS: dict[str, dict[str, Any]] = {
    # DescribeTrainingJob
    "DescribeTrainingJobResponse": {
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},  # API reference: default 1 day
        "EnableNetworkIsolation": False,
        "EnableInterContainerTrafficEncryption": False,
        "EnableManagedSpotTraining": False,
    },
    "AlgorithmSpecification": {"EnableSageMakerMetricsTimeSeries": False},
    "OutputDataConfig": {"KmsKeyId": "", "CompressionType": "GZIP"},
    "ResourceConfig": {"KeepAlivePeriodInSeconds": 0},
    "Channel": {"CompressionType": "None", "RecordWrapperType": "None"},
    "S3DataSource": {"S3DataDistributionType": "FullyReplicated"},
    # DescribeProcessingJob
    "ProcessingInput": {"AppManaged": False},
    "ProcessingOutput": {"AppManaged": False},
    "ProcessingS3Input": {
        "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated",
        "S3CompressionType": "None",
    },
    # DescribeTransformJob
    "DescribeTransformJobResponse": {
        "MaxPayloadInMB": 6,  # API reference: default 6 MB
        "DataProcessing": {"InputFilter": "$", "OutputFilter": "$", "JoinSource": "None"},
    },
    "TransformInput": {"CompressionType": "None", "SplitType": "None"},
    "TransformOutput": {"AssembleWith": "None", "KmsKeyId": ""},
    # DescribeModelPackage
    "DescribeModelPackageOutput": {"CertifyForMarketplace": False},
}


def fill(shape, value: Any) -> Any:
    """``value`` (a response for ``shape``) with AWS's defaults added wherever it leaves them out."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for member, default in AWS_DEFAULTS.get(shape.name, {}).items():
            if value.get(member) is None:
                value[member] = copy.deepcopy(default)
        for member, item in value.items():
            if member in shape.members and item is not None:
                value[member] = fill(shape.members[member], item)
        return value
    if kind == "list" and isinstance(value, list):
        return [fill(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {k: fill(shape.value, v) for k, v in value.items()}
    return value


def with_defaults(operation: str, response: dict[str, Any]) -> dict[str, Any]:
    """The response of ``operation`` (a SageMaker Describe*) with AWS's defaults filled in."""
    from sandbox.sagemaker.validation import _service_model

    return fill(_service_model().operation_model(operation).output_shape, response)
