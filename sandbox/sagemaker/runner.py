"""Drives each job from Create to its final status on its own thread.

Order of events, as on AWS: a short launch time plus any injected delay (the job is InProgress
and waiting), an injected failure (Failed without running anything), a wait for one of the
sandbox's job slots, the input download, the process, then the kind-specific finish (uploads,
artifacts, final status).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from typing import Protocol

from sandbox.context import SandboxContext
from sandbox.sagemaker import containers
from sandbox.sagemaker.jobs import TRAINING, Job
from sandbox.sagemaker.process import JobProcess, Launch, Outcome
from sandbox.sagemaker.s3io import JobFailure
from sandbox.sagemaker.scheduler import Slots

log = logging.getLogger("sandbox.sagemaker")

STOP_GRACE_SECONDS = 3.0
# Instances take minutes to start on AWS. Half a second keeps the sandbox fast while guaranteeing that
# a Describe right after Create sees the job InProgress, whatever the script does.
LAUNCH_SECONDS = 0.5
# Likewise a stopped job shows Stopping for at least this long before it is Stopped.
STOPPING_SECONDS = 0.3
INTERNAL_FAILURE = "InternalServerError: the sandbox could not run this job; see the sandbox server's log."


class Execution(Protocol):
    """The kind-specific part of running a job (processing.py, training.py, transform.py)."""

    def prepare(self) -> Launch:
        """Download inputs and write the container's files; the process to start."""

    def finish(self, outcome: Outcome) -> None:
        """Upload what the job produced and set its final status."""

    def stopped_before_start(self) -> None:
        """Set the final status of a job stopped before its process started."""


class Runner:
    def __init__(self, ctx: SandboxContext, executions: dict[str, Callable[[Job], Execution]]):
        self.ctx = ctx
        self.executions = executions
        self.slots = Slots(lambda: ctx.max_concurrent_jobs)
        self._threads: dict[str, tuple[threading.Thread, Job]] = {}
        self._lock = threading.Lock()

    def start(self, job: Job) -> None:
        thread = threading.Thread(target=self._run, args=(job,), name=f"job:{job.name}", daemon=True)
        with self._lock:
            self._threads[job.arn] = (thread, job)
        thread.start()

    @property
    def running(self) -> int:
        return self.slots.running

    def stop_all(self, timeout: float = STOP_GRACE_SECONDS + 3) -> None:
        """Stop every unfinished job and wait for their threads (server shutdown, reset)."""
        with self._lock:
            entries = list(self._threads.values())
        for _, job in entries:
            job.request_stop("shutdown")
        deadline = time.monotonic() + timeout
        for thread, _ in entries:
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- one job -------------------------------------------------------------------------------------
    def _run(self, job: Job) -> None:
        try:
            execution = self.executions[job.kind.key](job)
            self._lifecycle(job, execution)
        except JobFailure as e:
            job.finish("Failed", reason=str(e))
        except Exception:
            log.exception("job %s failed inside the sandbox", job.arn)
            job.finish("Failed", reason=INTERNAL_FAILURE)
        finally:
            with self._lock:
                self._threads.pop(job.arn, None)

    def _lifecycle(self, job: Job, execution: Execution) -> None:
        fault = job.fault
        delay = LAUNCH_SECONDS + (fault.delay_seconds if fault is not None else 0)
        if job.stop_event.wait(delay):
            return _stopped_before_start(job, execution)
        if fault is not None and fault.failure_reason:
            return job.finish("Failed", reason=fault.failure_reason)
        running = self.slots.acquire(
            job.stop_event, on_wait=lambda place, running: _waiting(job, place, running), kind=job.kind.key
        )
        if not running:
            return _stopped_before_start(job, execution)
        try:
            self._execute(job, execution, running)
        finally:
            self.slots.release(job.kind.key)

    def _execute(self, job: Job, execution: Execution, running: int) -> None:
        job.mark_started()
        max_runtime = (job.request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
        deadline = time.monotonic() + max_runtime if max_runtime else None
        job.secondary_status("Downloading", "Downloading input data")
        launch = execution.prepare()
        # Its share of the CPUs among the jobs running when it took its slot.
        for name, value in containers.thread_environment(
            self.ctx.cpus, running, _instance_type(job.request)
        ).items():
            launch.env.setdefault(name, value)
        if job.stop_event.is_set():
            launch.sink.close()
            return _stopped_before_start(job, execution)
        if containers.isolation()[0]:
            # bwrap would start and then fail to exec: refuse a missing command here, as a container does.
            if shutil.which(launch.cmd[0], path=launch.env.get("PATH")) is None:
                launch.sink.close()
                raise JobFailure(
                    f"ClientError: could not start the container command {launch.cmd[0]!r}: "
                    "No such file or directory"
                )
            launch.cmd = containers.isolate(launch.cmd, job.directory, self.ctx.state_dir / "jobs")
            launch.isolated = True
        process = JobProcess(launch)
        try:
            process.start()
        except OSError as e:
            launch.sink.close()
            raise JobFailure(
                f"ClientError: could not start the container command {launch.cmd[0]!r}: {e.strerror or e}"
            ) from None
        job.secondary_status("Training", "Training image download completed. Training in progress.")
        outcome = process.wait(
            job.stop_event, deadline, STOP_GRACE_SECONDS, on_deadline=lambda: job.request_stop("max_runtime")
        )
        launch.sink.close()
        if outcome.stopped_by:
            _let_stopping_show(job)
        execution.finish(outcome)


def _instance_type(request: dict) -> str | None:
    """The instance type a Create request asked for (training, processing or transform)."""
    resources = (
        request.get("ResourceConfig")
        or (request.get("ProcessingResources") or {}).get("ClusterConfig")
        or request.get("TransformResources")
        or {}
    )
    return resources.get("InstanceType")


def _stopped_before_start(job: Job, execution: Execution) -> None:
    _let_stopping_show(job)
    execution.stopped_before_start()


def _let_stopping_show(job: Job) -> None:
    if job.stop_requested_at is not None:
        time.sleep(max(0.0, job.stop_requested_at + STOPPING_SECONDS - time.monotonic()))


def _waiting(job: Job, place: int, running: int) -> None:
    if job.kind is TRAINING:
        job.status_message(
            f"Waiting for a sandbox job slot ({running} jobs running, {place} queued ahead of this one)"
        )
