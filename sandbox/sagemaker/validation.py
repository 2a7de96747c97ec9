"""Request validation the way SageMaker's front end does it, driven by botocore's service model.

boto3 checks required members, types and minimums on the client, but not patterns, enums or
maximums; SageMaker checks all of them and answers with messages like
``1 validation error detected: Value 'a_b' at 'trainingJobName' failed to satisfy constraint:
Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``.
Patterns are Java regexes matched against the whole value; the few Python cannot compile are skipped.
The same model decides which request members Describe* echoes back (``echo``).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from sandbox.protocol import validation_error

try:  # the `regex` module understands the \p{L} classes some patterns use
    import regex as _re
except ImportError:  # pragma: no cover - regex is in the locked dependency set
    import re as _re  # type: ignore[no-redef]

_MAX_REPORTED = 10
__all__ = ["echo", "parse_timestamp", "validate_request", "validation_error"]


def validate_request(operation: str, params: dict[str, Any], service: str = "sagemaker") -> None:
    """Raise ValidationException listing every constraint ``params`` breaks, as SageMaker would."""
    message = problems_message(service, operation, params)
    if message:
        raise validation_error(message)


def problems_message(service: str, operation: str, params: dict[str, Any]) -> str | None:
    """"N validation errors detected: ..." for every constraint of ``service.operation``'s input shape that
    ``params`` breaks (the wording AWS's JSON services use), or None. Any botocore service works."""
    shape = _service_model(service).operation_model(operation).input_shape
    problems: list[str] = []
    if shape is not None:
        _walk(shape, params, "", problems)
    if not problems:
        return None
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(problems[:_MAX_REPORTED])


def _member_path(parent: str, name: str) -> str:
    camel = name[:1].lower() + name[1:]
    return f"{parent}.{camel}" if parent else camel


def _walk(shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        _walk_structure(shape, value, path, problems)
    elif kind == "list":
        _walk_list(shape, value, path, problems)
    elif kind == "map":
        _walk_map(shape, value, path, problems)
    elif kind == "string":
        _check_string(shape, value, path, problems)
    elif kind in ("integer", "long"):
        _check_number(shape, value, path, problems, integral=True)
    elif kind in ("float", "double"):
        _check_number(shape, value, path, problems, integral=False)
    elif kind == "boolean" and not isinstance(value, bool):
        problems.append(_fail(value, path, "Member must be a boolean"))
    elif kind == "timestamp" and parse_timestamp(value) is None:
        problems.append(_fail(value, path, "Member must be a timestamp"))


def _walk_structure(shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, dict):
        problems.append(_fail(value, path, "Member must be a structure"))
        return
    for name in shape.required_members:
        if value.get(name) is None:
            problems.append(
                f"Value null at '{_member_path(path, name)}' failed to satisfy constraint: "
                "Member must not be null"
            )
    for name, member_value in value.items():
        member = shape.members.get(name)
        if member is not None and member_value is not None:
            _walk(member, member_value, _member_path(path, name), problems)


def _walk_list(shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, list):
        problems.append(_fail(value, path, "Member must be a list"))
        return
    _check_length(shape, value, len(value), path, problems)
    for i, item in enumerate(value, start=1):
        if item is None:
            problems.append(
                f"Value null at '{path}.{i}.member' failed to satisfy constraint: Member must not be null"
            )
        else:
            _walk(shape.member, item, f"{path}.{i}.member", problems)


def _walk_map(shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, dict):
        problems.append(_fail(value, path, "Member must be a map"))
        return
    _check_length(shape, value, len(value), path, problems)
    for key, item in value.items():
        _walk(shape.key, key, f"{path}.key", problems)
        if item is None:
            problems.append(
                f"Value null at '{path}.{key}' failed to satisfy constraint: Member must not be null"
            )
        else:
            _walk(shape.value, item, f"{path}.{key}", problems)


def _check_string(shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, str):
        problems.append(_fail(value, path, "Member must be a string"))
        return
    enum = shape.enum
    if enum and value not in enum:
        problems.append(_fail(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]"))
        return
    _check_length(shape, value, len(value), path, problems)
    pattern = shape.metadata.get("pattern")
    compiled = _compiled(pattern) if pattern else None
    if compiled is not None and compiled.fullmatch(value) is None:
        problems.append(_fail(value, path, f"Member must satisfy regular expression pattern: {pattern}"))


def _check_number(shape, value: Any, path: str, problems: list[str], *, integral: bool) -> None:
    ok = isinstance(value, int) if integral else isinstance(value, (int, float))
    if not ok or isinstance(value, bool):
        problems.append(_fail(value, path, "Member must be a number"))
        return
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    if lo is not None and value < lo:
        problems.append(_fail(value, path, f"Member must have value greater than or equal to {lo}"))
    if hi is not None and value > hi:
        problems.append(_fail(value, path, f"Member must have value less than or equal to {hi}"))


def _check_length(shape, value: Any, length: int, path: str, problems: list[str]) -> None:
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    if lo is not None and length < lo:
        problems.append(_fail(value, path, f"Member must have length greater than or equal to {lo}"))
    if hi is not None and length > hi:
        problems.append(_fail(value, path, f"Member must have length less than or equal to {hi}"))


def _fail(value: Any, path: str, constraint: str) -> str:
    return f"Value {_java_repr(value)} at '{path}' failed to satisfy constraint: {constraint}"


def _java_repr(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "'{" + ", ".join(f"{k}={v}" for k, v in value.items()) + "}'"
    if isinstance(value, list):
        return "'[" + ", ".join(str(v) for v in value) + "]'"
    return str(value)


@functools.cache
def _service_model(service: str = "sagemaker"):
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@functools.cache
def _compiled(pattern: str):
    try:
        return _re.compile(pattern)
    except Exception:  # a Java-only construct: AWS checks it, the sandbox cannot
        return None


def parse_timestamp(value: Any) -> datetime | None:
    """A request timestamp (epoch seconds from boto3, or ISO 8601) as an aware datetime."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            try:
                return datetime.fromtimestamp(float(value), UTC)
            except ValueError:
                return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def echo(operation: str, request: dict[str, Any]) -> dict[str, Any]:
    """The members of ``request`` that ``operation``'s output declares, as Describe* echoes them, with
    what AWS fills in for members the request left out (defaults.py).

    Members the output shape does not know (Tags, request-only options) are dropped at every depth.
    """
    from sandbox.sagemaker.defaults import fill

    shape = _service_model().operation_model(operation).output_shape
    return fill(shape, _project(shape, request))


def _project(shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {
            k: _project(shape.members[k], v) for k, v in value.items() if k in shape.members and v is not None
        }
    if kind == "list" and isinstance(value, list):
        return [_project(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _project(shape.value, v) for k, v in value.items()}
    return value
