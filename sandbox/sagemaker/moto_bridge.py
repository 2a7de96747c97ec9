"""Where the sandbox's SageMaker meets moto's, for the SageMaker resources moto still holds.

moto keeps answering the operations the sandbox does not implement (endpoints, endpoint configs,
experiments, Search, ...). Two of them look at resources the sandbox now owns: endpoint configs
need their models to exist, and tag operations reach any resource. So models are mirrored into
moto's backend, and tag operations on ARNs the sandbox does not own are passed to moto.
"""

from __future__ import annotations

import logging
from typing import Any

from sandbox.protocol import AwsError
from sandbox.sagemaker.validation import validation_error

log = logging.getLogger("sandbox.sagemaker")


def _backend(account: str, region: str):
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[account][region]


def mirror_model_created(account: str, region: str, params: dict[str, Any]) -> None:
    try:
        _backend(account, region).create_model(
            model_name=params["ModelName"],
            execution_role_arn=params.get("ExecutionRoleArn"),
            primary_container=params.get("PrimaryContainer"),
            vpc_config=params.get("VpcConfig"),
            containers=params.get("Containers"),
            tags=params.get("Tags"),
        )
    except Exception:  # moto's side is a convenience for moto's own operations: never fail the call
        log.exception("could not mirror model %s into moto", params["ModelName"])


def mirror_model_deleted(account: str, region: str, name: str) -> None:
    try:
        _backend(account, region).delete_model(name)
    except Exception:
        log.debug("model %s was not mirrored in moto", name)


def moto_tags(operation: str, region: str, account: str, params: dict[str, Any]) -> dict[str, Any]:
    """AddTags/ListTags/DeleteTags on a resource moto holds."""
    from moto.core.exceptions import JsonRESTError

    backend = _backend(account, region)
    arn = params["ResourceArn"]
    try:
        if operation == "AddTags":
            backend.add_tags(arn, params["Tags"])
            return {"Tags": params["Tags"]}
        if operation == "DeleteTags":
            backend.delete_tags(arn, params["TagKeys"])
            return {}
        tags, token = backend.list_tags(
            arn=arn, MaxResults=params.get("MaxResults"), NextToken=params.get("NextToken")
        )
    except JsonRESTError as e:
        raise AwsError(e.error_type, e.message) from None
    except (KeyError, ValueError, AttributeError):
        raise validation_error("Resource does not exist") from None
    out: dict[str, Any] = {"Tags": tags}
    if token:
        out["NextToken"] = token
    return out
