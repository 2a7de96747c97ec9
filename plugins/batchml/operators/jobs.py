"""One idempotent job base for the SageMaker and Athena operators.

Why not each operator on its own, as the provider does: a retry must find what an earlier try of the same
attempt chain started, and a killed or timed-out task must stop what it started. That logic is the same for a
SageMaker job and an Athena query, so it lives here once, and each kind of work implements a small interface:

- ``earlier_work(attempt, context)``: the newest work this attempt chain started, described, or None;
- ``work_id(described)`` and ``state(described)``: ``"done"``, ``"running"``, ``"stopping"`` or ``"ended"``;
- ``launch(attempt, context)``: start new work tagged with the attempt, return its id;
- ``wait(work_id)``: wait, in the worker or deferred (``WaitsForAwsWork``), and finish;
- ``result(described)``: what downstream tasks get; ``stop(work_id)``: stop it if it still runs;
- ``launched_work(attempt, context)``: the newest work this attempt chain started, described, looking only;
- ``failure(described)``: the exception for work that ended without success, carrying AWS's reason.

The sequence: find the earlier try's work; take its result if it is done, attach to it if it runs (after it
has finished stopping, if a kill was stopping it), launch new work otherwise; wait; finish. A deferral that
times out and a kill stop the work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from airflow.sdk.exceptions import AirflowException

from batchml.operators.planned import FromPlan
from batchml.operators.waiting import WaitsForAwsWork

if TYPE_CHECKING:
    from airflow.sdk import Context

    from batchml.attempts import Attempt

State = Literal["done", "running", "stopping", "ended"]


class IdempotentJob(FromPlan, WaitsForAwsWork):
    """Mixin (before the provider's ``AwsBaseOperator``) for operators that start one piece of AWS work."""

    kind: str = "job"
    action_if_job_exists: Literal["attach", "fail"] = "attach"
    _work_id: str | None = None

    # -- the interface ---------------------------------------------------------------------------------
    def prepare(self, context: Context) -> None:
        """Resolve the inputs (the plan, upstream results); called before execute and resume."""
        self.resolve_plan(context)

    def earlier_work(self, attempt: Attempt, context: Context) -> dict[str, Any] | None:
        raise NotImplementedError

    def work_id(self, described: dict[str, Any]) -> str:
        raise NotImplementedError

    def state(self, described: dict[str, Any]) -> State:
        raise NotImplementedError

    def launch(self, attempt: Attempt, context: Context) -> str:
        raise NotImplementedError

    def wait(self, work_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def wait_stopped(self, work_id: str) -> dict[str, Any]:
        """Work an earlier try was stopping, once it has stopped; described."""
        raise NotImplementedError

    def result(self, described: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def stop(self, work_id: str) -> None:
        raise NotImplementedError

    def launched_work(self, attempt: Attempt, context: Context) -> dict[str, Any] | None:
        """The newest work this attempt chain started, described; unlike ``earlier_work`` it adopts and stops
        nothing."""
        raise NotImplementedError

    def failure(self, described: dict[str, Any]) -> AirflowException:
        raise NotImplementedError

    # -- for a page without an exception -----------------------------------------------------------------
    def failure_of_try(self, context: Context) -> AirflowException | None:
        """The exception this try would have raised for its work, looked up in AWS; for the failure callback when
        Airflow failed the try itself and the context has no exception to read AWS's reason from.

        That happens when the scheduler runs the failure callback through the dag-processor: a worker lost, or
        Airflow 3.3's stale executor event failing a deferred try that resumed within seconds
        (apache/airflow#72716), which kills the worker before it reads the job's end. On-call would otherwise be
        paged with "none reported". The newest work of the attempt chain is described, nothing is started,
        adopted or stopped; None if there is none or it did not end unsuccessfully. Resolves the inputs in place,
        as ``execute`` does: the notifier calls it on a rendered copy of the parsed task (``batchml.notifiers``)."""
        from batchml.attempts import Attempt

        self.prepare(context)
        described = self.launched_work(Attempt.of(context, self.retries or 0), context)  # type: ignore[attr-defined]
        if described is None or self.state(described) != "ended":
            return None
        return self.failure(described)

    # -- the sequence ----------------------------------------------------------------------------------
    def execute(self, context: Context) -> dict[str, Any]:
        from batchml.attempts import Attempt

        self.prepare(context)
        attempt = Attempt.of(context, self.retries or 0)  # type: ignore[attr-defined]
        earlier = self.earlier_work(attempt, context)
        if earlier is not None:
            work, state = self.work_id(earlier), self.state(earlier)
            if self.action_if_job_exists == "fail":
                raise AirflowException(f"{work} was launched by an earlier try ({state}) "
                                       "and action_if_job_exists='fail'")
            if state == "done":
                self._work_id = work  # the task's links point at the work whose result it returns
                self.log.info("Reusing %s %s: an earlier try started it and it completed.", self.kind, work)  # type: ignore[attr-defined]
                return self.result(earlier)
            if state == "stopping":  # an earlier try was killed and stopped it: let it finish stopping
                earlier = self.wait_stopped(work)
                state = self.state(earlier)
            if state == "running":
                self.log.info("Attaching to %s %s, started by an earlier try and still running.", self.kind, work)  # type: ignore[attr-defined]
                self._work_id = work
                return self.wait(work)
            self.log.info("The earlier try's %s %s ended without success; starting a new one.", self.kind, work)  # type: ignore[attr-defined]
        work = self.launch(attempt, context)
        self._work_id = work
        return self.wait(work)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context):
        self.prepare(context)
        if next_method == "__fail__":  # the deferral timed out or the trigger crashed: don't orphan the work
            from batchml.attempts import Attempt

            earlier = self.earlier_work(Attempt.of(context, self.retries or 0), context)  # type: ignore[attr-defined]
            if earlier is not None and self.state(earlier) == "running":
                self.stop(self.work_id(earlier))
        return super().resume_execution(next_method, next_kwargs, context)  # type: ignore[misc]

    def on_kill(self) -> None:
        if self._work_id:
            self.stop(self._work_id)
