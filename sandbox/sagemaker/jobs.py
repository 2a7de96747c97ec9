"""Job records and their status lifecycle, shared by processing, training and transform jobs.

Statuses follow the API: InProgress -> Completed | Failed, or InProgress -> Stopping -> Stopped.
Training jobs also carry SecondaryStatus and SecondaryStatusTransitions (Starting, Downloading,
Training, Uploading, then Completed | Failed | Stopped | MaxRuntimeExceeded). A record is mutated by
its runner thread and read by API threads, so every change happens under the record's lock.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sandbox.aws import epoch, now

TERMINAL = frozenset({"Completed", "Failed", "Stopped"})
MAX_REASON = 1024


@dataclass(frozen=True)
class JobKind:
    """The names one job type uses in the API, in ARNs, on disk and in CloudWatch Logs."""

    key: str  # processing | training | transform
    label: str  # as AWS words it in messages: "training job"
    arn_type: str  # training-job
    api: str  # TrainingJob: TrainingJobName, TrainingJobArn, TrainingJobStatus, ...
    start_field: str
    end_field: str
    log_group: str

    @property
    def name_field(self) -> str:
        return f"{self.api}Name"

    @property
    def arn_field(self) -> str:
        return f"{self.api}Arn"

    @property
    def status_field(self) -> str:
        return f"{self.api}Status"


PROCESSING = JobKind(
    "processing",
    "processing job",
    "processing-job",
    "ProcessingJob",
    "ProcessingStartTime",
    "ProcessingEndTime",
    "/aws/sagemaker/ProcessingJobs",
)
TRAINING = JobKind(
    "training",
    "training job",
    "training-job",
    "TrainingJob",
    "TrainingStartTime",
    "TrainingEndTime",
    "/aws/sagemaker/TrainingJobs",
)
TRANSFORM = JobKind(
    "transform",
    "transform job",
    "transform-job",
    "TransformJob",
    "TransformStartTime",
    "TransformEndTime",
    "/aws/sagemaker/TransformJobs",
)
KINDS = {k.key: k for k in (PROCESSING, TRAINING, TRANSFORM)}


@dataclass
class Job:
    kind: JobKind
    name: str
    arn: str
    region: str
    account: str
    request: dict[str, Any]
    directory: Path
    created: datetime = field(default_factory=now)
    status: str = "InProgress"
    secondary: str | None = None
    transitions: list[dict[str, Any]] = field(default_factory=list)
    last_modified: datetime | None = None
    started: datetime | None = None
    ended: datetime | None = None
    failure_reason: str | None = None
    exit_message: str | None = None
    model_artifacts: str | None = None
    metrics: dict[str, tuple[float, datetime]] = field(default_factory=dict)
    fault: Any = None
    extra: dict[str, Any] = field(default_factory=dict)  # kind-specific facts fixed at Create
    stop_cause: str | None = None  # user | max_runtime | shutdown
    stop_requested_at: float | None = None  # time.monotonic()
    stop_event: threading.Event = field(default_factory=threading.Event)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.last_modified = self.created
        if self.kind is TRAINING:
            self._enter_secondary("Starting", "Starting the training job", self.created)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    # -- transitions ---------------------------------------------------------------------------------
    def secondary_status(self, status: str, message: str) -> None:
        """Move a training job to a new SecondaryStatus (other kinds have none)."""
        with self.lock:
            if self.kind is TRAINING and not self.done and self.status != "Stopping":
                self._enter_secondary(status, message, now())

    def status_message(self, message: str) -> None:
        """Update the message of the current secondary status (e.g. while waiting for a slot)."""
        with self.lock:
            if self.transitions and self.transitions[-1]["StatusMessage"] != message:
                self.transitions[-1]["StatusMessage"] = message
                self.last_modified = now()

    def mark_started(self) -> None:
        with self.lock:
            self.started = self.started or now()
            self.last_modified = now()

    def request_stop(self, cause: str) -> bool:
        """Ask the runner to stop the job; False if it already finished or is stopping."""
        with self.lock:
            if self.done or self.status == "Stopping":
                return False
            self.status, self.stop_cause = "Stopping", cause
            self.stop_requested_at = time.monotonic()
            self.last_modified = now()
            if self.kind is TRAINING:
                self._enter_secondary("Stopping", "Stopping the training job", self.last_modified)
            self.stop_event.set()
            return True

    def finish(
        self,
        status: str,
        *,
        reason: str | None = None,
        secondary: str | None = None,
        message: str | None = None,
    ) -> None:
        with self.lock:
            if self.done:
                return
            when = now()
            self.status, self.ended, self.last_modified = status, when, when
            if reason:
                self.failure_reason = fit_reason(reason)
            if self.kind is TRAINING:
                self._enter_secondary(secondary or status, message or f"Training job {status.lower()}", when)
                self.transitions[-1]["EndTime"] = when

    def _enter_secondary(self, status: str, message: str, when: datetime) -> None:
        if self.transitions:
            self.transitions[-1].setdefault("EndTime", when)
        self.secondary = status
        self.transitions.append({"Status": status, "StartTime": when, "StatusMessage": message})
        self.last_modified = when

    # -- rendering -----------------------------------------------------------------------------------
    def common_fields(self) -> dict[str, Any]:
        """What every Describe*Job answer carries besides the echoed request."""
        out: dict[str, Any] = {
            self.kind.name_field: self.name,
            self.kind.arn_field: self.arn,
            self.kind.status_field: self.status,
            "CreationTime": epoch(self.created),
            "LastModifiedTime": epoch(self.last_modified),
        }
        if self.started:
            out[self.kind.start_field] = epoch(self.started)
        if self.ended:
            out[self.kind.end_field] = epoch(self.ended)
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        return out

    def rendered_transitions(self) -> list[dict[str, Any]]:
        out = []
        for t in self.transitions:
            item = {
                "Status": t["Status"],
                "StartTime": epoch(t["StartTime"]),
                "StatusMessage": t["StatusMessage"],
            }
            if "EndTime" in t:
                item["EndTime"] = epoch(t["EndTime"])
            out.append(item)
        return out

    def request_copy(self) -> dict[str, Any]:
        return copy.deepcopy(self.request)


def fit_reason(reason: str, limit: int = MAX_REASON) -> str:
    """FailureReason is at most 1 KB: keep the head (what failed) and the tail (the error itself)."""
    if len(reason) <= limit:
        return reason
    marker = "\n[...]\n"
    head = reason[: limit // 3]
    tail = reason[-(limit - len(head) - len(marker)) :]
    return head + marker + tail
