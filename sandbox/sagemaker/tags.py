"""Tags of the resources the sandbox creates (jobs, models, package groups, packages).

Describe* never returns tags; ListTags does, including those given at Create. Tags on SageMaker
resources that moto holds (endpoints, experiments, ...) go to moto (moto_bridge.py).
"""

from __future__ import annotations

import base64
import threading
from typing import Any

from sandbox.sagemaker.validation import validation_error

MAX_TAGS = 50


class TagStore:
    def __init__(self) -> None:
        self._tags: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def set(self, arn: str, tags: list[dict[str, str]]) -> None:
        with self._lock:
            self._tags[arn] = {}
        self.add(arn, tags)

    def add(self, arn: str, tags: list[dict[str, str]]) -> None:
        with self._lock:
            current = self._tags.setdefault(arn, {})
            merged = {**current, **{t["Key"]: t.get("Value", "") for t in tags}}
            if len(merged) > MAX_TAGS:
                raise validation_error(
                    f"A resource can have at most {MAX_TAGS} tags; this request would give "
                    f"{arn} {len(merged)}."
                )
            current.update(merged)

    def remove(self, arn: str, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._tags.get(arn, {}).pop(key, None)

    def drop(self, arn: str) -> None:
        with self._lock:
            self._tags.pop(arn, None)

    def page(self, arn: str, max_results: int | None, next_token: str | None) -> dict[str, Any]:
        with self._lock:
            items = [{"Key": k, "Value": v} for k, v in self._tags.get(arn, {}).items()]
        start = _offset(next_token)
        limit = max_results or MAX_TAGS
        out: dict[str, Any] = {"Tags": items[start : start + limit]}
        if start + limit < len(items):
            out["NextToken"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
        return out


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError:
        raise validation_error("Invalid pagination token") from None
