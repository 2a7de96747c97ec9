"""Faults on demand, for the project's reliability tests.

Three kinds, all set through ``POST /_sandbox/faults`` (see README, "Injecting faults"):

- **AWS call faults**: the next N calls of an operation fail with a given AWS error code
  (``{"service": "sagemaker", "operation": "CreateTrainingJob", "error": "ThrottlingException", "count": 2}``),
  or answer late (``"delay_seconds": 20`` without ``error``: the call is answered normally after the delay, which
  holds the caller in that call, e.g. a task in its worker, for as long as a test needs to kill it there).
- **Job faults**: a SageMaker job whose name matches a glob fails with a chosen FailureReason
  and/or runs slowly (``{"job": "demand-forecast-train-20261120-*", "failure_reason": "...", "delay_seconds": 5}``).
- **Slack faults**: Slack answers 429 (with Retry-After) or 500 (``{"service": "slack", "status": 429}``).

``count`` is how many matching calls fail; ``null`` means every call until the fault is removed.
"""

from __future__ import annotations

import fnmatch
import itertools
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from sandbox.protocol import AwsError

_DEFAULT_STATUS = {
    "ThrottlingException": 400,
    "Throttling": 400,
    "ThrottledException": 400,
    "TooManyRequestsException": 429,
    "ProvisionedThroughputExceededException": 400,
    "RequestLimitExceeded": 400,
    "InternalFailure": 500,
    "InternalError": 500,
    "InternalServerException": 500,
    "InternalServerError": 500,
    "ServiceUnavailable": 503,
    "SlowDown": 503,
}
_DEFAULT_MESSAGE = {
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
    "InternalFailure": "The request processing has failed because of an unknown error, exception or failure.",
}
_ids = itertools.count(1)


class FaultSpecError(ValueError):
    """A fault request that cannot be understood; the message says which field is wrong."""


@dataclass
class CallFault:
    service: str
    operation: str = "*"
    error: str | None = "ThrottlingException"
    message: str | None = None
    status: int | None = None
    count: int | None = 1
    retry_after: int | None = None  # Slack 429 only
    delay_seconds: float = 0.0  # answer after this long; with error=None, answer normally
    id: int = field(default_factory=lambda: next(_ids))
    hits: int = 0

    def matches(self, service: str | None, operation: str | None) -> bool:
        if self.service != service:
            return False
        return self.operation == "*" or fnmatch.fnmatchcase(operation or "", self.operation)

    def to_error(self) -> AwsError | None:
        if self.error is None:
            return None
        status = self.status or _DEFAULT_STATUS.get(self.error, 400)
        default = "Rate exceeded" if "thrott" in self.error.lower() or status == 429 else (
            "We encountered an internal error. Please try again." if status >= 500 else "Injected by the sandbox")
        message = self.message or _DEFAULT_MESSAGE.get(self.error, default)
        return AwsError(self.error, message, status)


@dataclass
class JobFault:
    job: str  # glob over the job name
    failure_reason: str | None = None
    delay_seconds: float = 0.0
    count: int | None = 1
    id: int = field(default_factory=lambda: next(_ids))
    hits: int = 0


class FaultRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[CallFault] = []
        self._jobs: list[JobFault] = []

    def add(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Register a fault from its JSON spec and return it with its id."""
        if not isinstance(spec, dict):
            raise FaultSpecError("a fault is a JSON object")
        spec = dict(spec)
        count = spec.get("count", 1)
        if count is not None and (not isinstance(count, int) or count < 1):
            raise FaultSpecError("'count' must be a positive integer, or null for 'until removed'")
        if "job" in spec:
            allowed = {"job", "failure_reason", "delay_seconds", "count"}
            _reject_unknown(spec, allowed)
            if not spec.get("failure_reason") and not spec.get("delay_seconds"):
                raise FaultSpecError("a job fault needs 'failure_reason', 'delay_seconds' or both")
            fault = JobFault(**spec)
            with self._lock:
                self._jobs.append(fault)
            return {"kind": "job", **asdict(fault)}
        if "service" not in spec:
            raise FaultSpecError("a fault needs 'service' (an AWS service or 'slack') or 'job'")
        allowed = {"service", "operation", "error", "message", "status", "count", "retry_after", "delay_seconds"}
        _reject_unknown(spec, allowed)
        delay = spec.get("delay_seconds", 0)
        if not isinstance(delay, int | float) or delay < 0:
            raise FaultSpecError("'delay_seconds' must be a number of seconds, 0 or more")
        if delay and "error" not in spec and spec["service"] != "slack":
            spec["error"] = None  # a late answer, not a failure
        if spec["service"] == "slack":
            spec.setdefault("status", 429)
            spec.setdefault("error", "ratelimited" if spec["status"] == 429 else "internal_error")
        fault = CallFault(**spec)
        with self._lock:
            self._calls.append(fault)
        return {"kind": "call", **asdict(fault)}

    def take_call_fault(self, service: str | None, operation: str | None) -> CallFault | None:
        """The fault to apply to this call, if any; consumes one of its count."""
        with self._lock:
            for fault in self._calls:
                if fault.matches(service, operation):
                    fault.hits += 1
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count == 0:
                            self._calls.remove(fault)
                    return fault
        return None

    def take_job_fault(self, job_name: str) -> JobFault | None:
        with self._lock:
            for fault in self._jobs:
                if fnmatch.fnmatchcase(job_name, fault.job):
                    fault.hits += 1
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count == 0:
                            self._jobs.remove(fault)
                    return fault
        return None

    def remove(self, fault_id: int | None = None) -> int:
        with self._lock:
            before = len(self._calls) + len(self._jobs)
            if fault_id is None:
                self._calls.clear()
                self._jobs.clear()
            else:
                self._calls = [f for f in self._calls if f.id != fault_id]
                self._jobs = [f for f in self._jobs if f.id != fault_id]
            return before - len(self._calls) - len(self._jobs)

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"kind": "call", **asdict(f)} for f in self._calls] + [
                {"kind": "job", **asdict(f)} for f in self._jobs
            ]


def _reject_unknown(spec: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise FaultSpecError(f"unknown field(s) {unknown}; allowed: {sorted(allowed)}")
