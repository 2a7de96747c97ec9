"""Refusing what the sandbox cannot run, at Create time, instead of silently running something else.

The list of what is refused and why is in the package docstring (sandbox/sagemaker/__init__.py).
"""

from __future__ import annotations

from typing import Any

from sandbox.protocol import AwsError
from sandbox.sagemaker.validation import validation_error


def not_emulated(what: str, hint: str = "") -> AwsError:
    message = f"the sandbox does not emulate {what}"
    return validation_error(f"{message}; {hint}" if hint else message)


def refuse_if(condition: Any, what: str, hint: str = "") -> None:
    if condition:
        raise not_emulated(what, hint)


def single_instance(count: Any, field: str) -> None:
    refuse_if(
        count is not None and count > 1,
        f"{field}={count} (multi-instance jobs)",
        "jobs run as one local process; use InstanceCount 1",
    )


def local_path_under(path: str | None, root: str, field: str) -> None:
    if path is not None and not (path == root or path.startswith(root.rstrip("/") + "/")):
        raise validation_error(f"{field} '{path}' must be an absolute path under {root}")


def s3_uri(uri: str | None, field: str) -> None:
    refuse_if(
        uri is not None and uri.startswith("https://"),
        f"https:// S3 URLs ({field})",
        "use s3://bucket/prefix",
    )
