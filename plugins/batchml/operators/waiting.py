"""How the project's operators wait for AWS work: look once (short work is often done already), then
defer to a provider trigger, or wait in the worker with the same provider waiter the trigger uses; give up,
and stop the work, after ``max_wait``.

Sync and deferred waits share one definition of "done": the provider's waiter JSON (``waiters/sagemaker.json``'s
``<Type>JobComplete``, ``waiters/athena.json``'s ``query_complete``), through ``waiter_with_logging.wait`` in the
worker and the provider's trigger in the triggerer. No hand-written poll loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from airflow.sdk.exceptions import AirflowException


@dataclass(frozen=True)
class Waiter:
    """A provider waiter: its name in the hook's waiter JSON, the call's arguments, and the JMESPath of the
    status to log on each attempt."""

    name: str
    args: dict[str, Any]
    status: list[str] = field(default_factory=list)


class WaitsForAwsWork:
    """Mixin for AWS operators with ``poll_interval``, ``max_wait`` and ``deferrable`` attributes."""

    poll_interval: float | str
    max_wait: timedelta
    deferrable: bool

    def wait_for(
        self,
        *,
        what: str,
        check: Callable[[], dict[str, Any]],
        running: Callable[[dict[str, Any]], bool],
        finish: Callable[[dict[str, Any]], dict[str, Any]],
        stop: Callable[[], None],
        trigger: Callable[[float, int], Any],
        waiter: Waiter,
    ) -> dict[str, Any]:
        """``check`` describes the work; ``trigger(delay, max_attempts)`` builds the provider trigger whose
        event resumes the task in ``execute_complete``; ``waiter`` is the same definition of done for a wait
        in the worker. ``finish`` turns the final description into the result, or the failure."""
        poll = float(self.poll_interval)
        current = check()
        if not running(current):
            return finish(current)
        attempts = max(1, math.ceil(self.max_wait.total_seconds() / poll))
        if self.deferrable:
            self.defer(trigger=trigger(poll, attempts), method_name="execute_complete",  # type: ignore[attr-defined]
                       timeout=self.max_wait + timedelta(minutes=5))
        self.wait_until_done(what, waiter, poll, attempts, stop)
        return finish(check())

    def wait_until_done(self, what: str, waiter: Waiter, poll: float, attempts: int,
                        stop: Callable[[], None] | None = None) -> None:
        """Block until the waiter reaches a terminal state, success or failure (the caller describes the work
        again and decides). Out of attempts: ``stop`` the work and fail."""
        from airflow.providers.amazon.aws.exceptions import WaiterTerminalFailure
        from airflow.providers.amazon.aws.utils.waiter_with_logging import wait

        try:
            wait(waiter=self.hook.get_waiter(waiter.name), waiter_delay=poll,  # type: ignore[attr-defined]
                 waiter_max_attempts=attempts, args=waiter.args, failure_message=f"{what} ended",
                 status_message=f"{what} is", status_args=waiter.status)
        except WaiterTerminalFailure:
            return  # Failed or Stopped: the caller reads the reason from the description
        except AirflowException as e:
            if "max attempts reached" not in str(e):
                raise
            if stop is not None:
                stop()
            raise AirflowException(f"{what} still running after {self.max_wait}; stopped it") from None
