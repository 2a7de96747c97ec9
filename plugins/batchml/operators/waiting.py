"""How the project's operators wait for AWS work: look once (short work is often done already), then
defer to a provider trigger, or poll if not deferrable; give up, and stop the work, after ``max_wait``."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from airflow.sdk.exceptions import AirflowException


class WaitsForAwsWork:
    """Mixin for operators with ``poll_interval``, ``max_wait`` and ``deferrable`` attributes."""

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
    ) -> dict[str, Any]:
        """``check`` describes the work; ``trigger(delay, max_attempts)`` builds the provider trigger whose
        event resumes the task in ``execute_complete``."""
        poll = float(self.poll_interval)
        current = check()
        if not running(current):
            return finish(current)
        if self.deferrable:
            attempts = max(1, math.ceil(self.max_wait.total_seconds() / poll))
            self.defer(trigger=trigger(poll, attempts), method_name="execute_complete",  # type: ignore[attr-defined]
                       timeout=self.max_wait + timedelta(minutes=5))
        deadline = time.monotonic() + self.max_wait.total_seconds()
        while running(current):
            if time.monotonic() > deadline:
                stop()
                raise AirflowException(f"{what} still running after {self.max_wait}; stopped it")
            time.sleep(poll)
            current = check()
        return finish(current)
