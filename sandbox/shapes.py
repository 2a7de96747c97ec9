"""Check the sandbox's own responses against botocore's service models.

botocore's parser silently drops members it does not know and accepts wrong types, so a response
that boto3 "parses" can still be one AWS would never send. This walks the raw JSON payload against
the operation's output shape: unknown members, missing required members, wrong types, enum values
outside the model, and string/list lengths outside the model's bounds are all reported.
"""

from __future__ import annotations

import functools
from typing import Any

# Errors every JSON-protocol AWS service can return whatever the operation's model lists.
COMMON_ERRORS = {
    "ValidationException",
    "ThrottlingException",
    "InternalFailure",
    "ServiceUnavailable",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "RequestExpired",
}


@functools.cache
def _service_model(service: str):
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def output_shape(service: str, operation: str):
    return _service_model(service).operation_model(operation).output_shape


def validate_output(service: str, operation: str, payload: Any) -> list[str]:
    """Every way ``payload`` departs from the output shape of ``service.operation``; empty if none."""
    shape = output_shape(service, operation)
    problems: list[str] = []
    if shape is None:
        if payload not in ({}, None):
            problems.append(f"{operation}: the model has no output, got {type(payload).__name__}")
        return problems
    _walk(shape, payload, operation, problems)
    return problems


def validate_error(service: str, operation: str, code: str) -> list[str]:
    """An error code the operation's model does not declare (and that is not a common error)."""
    model = _service_model(service).operation_model(operation)
    declared = {e.error_code or e.name for e in model.error_shapes} | {e.name for e in model.error_shapes}
    if code in declared or code in COMMON_ERRORS:
        return []
    return [f"{operation}: error code {code!r} is not declared (declared: {sorted(declared)})"]


def _walk(shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected object, got {type(value).__name__}")
            return
        members = shape.members
        for name in value:
            if name not in members:
                problems.append(f"{path}.{name}: not a member of {shape.name}")
        for name in shape.required_members:
            if name not in value:
                problems.append(f"{path}.{name}: required member missing")
        for name, member_value in value.items():
            if name in members and member_value is not None:
                _walk(members[name], member_value, f"{path}.{name}", problems)
    elif kind == "list":
        if not isinstance(value, list):
            problems.append(f"{path}: expected list, got {type(value).__name__}")
            return
        _check_length(shape, len(value), path, problems)
        for i, item in enumerate(value):
            _walk(shape.member, item, f"{path}[{i}]", problems)
    elif kind == "map":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected map, got {type(value).__name__}")
            return
        _check_length(shape, len(value), path, problems)
        for k, v in value.items():
            _walk(shape.key, k, f"{path}<key>", problems)
            _walk(shape.value, v, f"{path}[{k!r}]", problems)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(f"{path}: expected string, got {type(value).__name__}")
            return
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} is not one of {shape.enum}")
        _check_length(shape, len(value), path, problems)
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{path}: expected integer, got {type(value).__name__}")
        else:
            _check_range(shape, value, path, problems)
    elif kind in ("float", "double"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append(f"{path}: expected number, got {type(value).__name__}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: expected boolean, got {type(value).__name__}")
    elif kind == "timestamp":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append(f"{path}: expected epoch-seconds timestamp, got {type(value).__name__}")
    elif kind == "blob":
        if not isinstance(value, str):
            problems.append(f"{path}: expected base64 string, got {type(value).__name__}")


def _check_length(shape, length: int, path: str, problems: list[str]) -> None:
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    if lo is not None and length < lo:
        problems.append(f"{path}: length {length} is below the model's min {lo}")
    if hi is not None and length > hi:
        problems.append(f"{path}: length {length} is above the model's max {hi}")


def _check_range(shape, value: int, path: str, problems: list[str]) -> None:
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    if lo is not None and value < lo:
        problems.append(f"{path}: {value} is below the model's min {lo}")
    if hi is not None and value > hi:
        problems.append(f"{path}: {value} is above the model's max {hi}")
