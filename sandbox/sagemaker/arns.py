"""SageMaker ARNs as the real service builds them.

Case: jobs and Model Registry resources keep the name's case in their ARN (SageMaker stopped
lowercasing job ARNs in 2022; model package ARNs such as ``model-package/modelPackageGroupTurbine/1``
appear in real error messages). Model ARNs are lowercased, as endpoint ARNs are.
"""

from __future__ import annotations

import re

_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:([a-z0-9-]*):(\d{12}):([a-z-]+)/(.+)$")


def arn(region: str, account: str, resource_type: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:{resource_type}/{name}"


def model_arn(region: str, account: str, name: str) -> str:
    return arn(region, account, "model", name.lower())


def parse(value: str) -> tuple[str, str, str, str] | None:
    """(region, account, resource type, resource id) of a SageMaker ARN, or None if it is not one."""
    m = _ARN.match(value)
    return (m.group(1), m.group(2), m.group(3), m.group(4)) if m else None
