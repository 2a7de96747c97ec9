"""What every part of a running sandbox shares: where state lives, the fault registry, S3, counters."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sandbox.aws import S3Store
from sandbox.faults import FaultRegistry
from sandbox.protocol import RequestInfo


@dataclass
class SandboxContext:
    state_dir: Path
    endpoint_url: str
    default_region: str = "us-east-1"
    validate_responses: bool = False
    # SageMaker jobs of one type InProgress at once (an account quota: Create beyond it is refused with
    # ResourceLimitExceeded), unless queue_excess_jobs: then they wait InProgress for a slot.
    max_concurrent_jobs: int = 4
    queue_excess_jobs: bool = False
    # The CPUs the sandbox's jobs share (`--cpus`; default: this machine's). See containers.thread_environment.
    cpus: int = field(default_factory=lambda: os.cpu_count() or 1)
    faults: FaultRegistry = field(default_factory=FaultRegistry)
    s3: S3Store = field(default_factory=S3Store)
    shape_violations: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).resolve()
        self.state_dir.mkdir(parents=True, exist_ok=True)

    def record_violations(self, problems: list[str]) -> None:
        if problems:
            with self._lock:
                self.shape_violations.extend(problems)

    def job_environment(self, region: str) -> dict[str, str]:
        """What a job's process needs to reach 'AWS' from inside the sandbox."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "sandbox",
            "AWS_SECRET_ACCESS_KEY": "sandbox",
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
        }


class Service(Protocol):
    """A JSON-protocol AWS service implemented by the sandbox (SageMaker, Athena)."""

    #: botocore service name, e.g. "sagemaker"
    name: str
    #: operations this class answers; any other operation of the service goes to moto
    operations: frozenset[str]

    def handle(self, operation: str, params: dict[str, Any], request: RequestInfo) -> dict[str, Any]:
        """Answer one call; raise sandbox.protocol.AwsError for AWS-style errors."""

    def status(self) -> dict[str, Any]:
        """A JSON-able summary for `python -m sandbox status`."""

    def reset(self) -> None:
        """Forget everything (stop running work first)."""

    def shutdown(self) -> None:
        """Stop background work; called once when the server stops."""
