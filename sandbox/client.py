"""A small client for a running sandbox's control API (used by the CLI and by tests)."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

DEFAULT_HOST, DEFAULT_PORT, DEFAULT_STATE_DIR = "127.0.0.1", 4566, ".sandbox"


def endpoint_from_state(state_dir: str | Path = DEFAULT_STATE_DIR, port: int | None = None,
                        host: str = DEFAULT_HOST) -> str:
    """The endpoint of the sandbox: an explicit port wins, then the AWS_ENDPOINT_URL that
    `python -m sandbox env` exported, then the running server's record, then 4566."""
    if port is not None:
        return f"http://{host}:{port}"
    if os.environ.get("AWS_ENDPOINT_URL"):
        return os.environ["AWS_ENDPOINT_URL"].rstrip("/")
    server_file = Path(state_dir) / "server.json"
    if server_file.exists():
        try:
            return json.loads(server_file.read_text())["endpoint"]
        except (ValueError, KeyError):
            pass
    return f"http://{host}:{DEFAULT_PORT}"


class SandboxClient:
    def __init__(self, endpoint: str, timeout: float = 10.0):
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, route: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(
            f"{self.endpoint}/_sandbox/{route}", data=data, method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace")
            raise RuntimeError(f"sandbox control API {method} /_sandbox/{route}: {e.code} {detail}") from None

    def is_up(self) -> bool:
        try:
            return bool(self._call("GET", "health").get("ok"))
        except (OSError, RuntimeError):
            return False

    def wait_until_up(self, timeout: float = 30.0) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.is_up():
                return time.monotonic() - start
            time.sleep(0.05)
        raise TimeoutError(f"sandbox at {self.endpoint} did not answer within {timeout:.0f}s")

    def status(self) -> dict[str, Any]:
        return self._call("GET", "status")

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "stats")

    def reset(self) -> None:
        self._call("POST", "reset")

    # faults
    def add_fault(self, **spec: Any) -> dict[str, Any]:
        return self._call("POST", "faults", spec)

    def fail_calls(self, service: str, operation: str = "*", error: str = "ThrottlingException",
                   count: int | None = 1, **extra: Any) -> dict[str, Any]:
        return self.add_fault(service=service, operation=operation, error=error, count=count, **extra)

    def fail_job(self, job: str, failure_reason: str, count: int | None = 1) -> dict[str, Any]:
        return self.add_fault(job=job, failure_reason=failure_reason, count=count)

    def slow_job(self, job: str, delay_seconds: float, count: int | None = 1) -> dict[str, Any]:
        return self.add_fault(job=job, delay_seconds=delay_seconds, count=count)

    def slack_fault(self, status: int = 429, count: int | None = 1, retry_after: int | None = None,
                    operation: str = "*") -> dict[str, Any]:
        return self.add_fault(service="slack", status=status, count=count, retry_after=retry_after,
                              operation=operation)

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "faults")

    def clear_faults(self) -> int:
        return self._call("DELETE", "faults")["removed"]

    # slack
    def slack_messages(self) -> list[dict[str, Any]]:
        return self._call("GET", "slack/messages")

    def clear_slack(self) -> None:
        self._call("DELETE", "slack/messages")

    # the access record (sandbox.access)
    def access(self) -> list[dict[str, Any]]:
        return self._call("GET", "access")

    def clear_access(self) -> None:
        self._call("DELETE", "access")
