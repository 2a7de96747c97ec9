"""At most ``max_concurrent_jobs`` job processes of each job type at once, first come first served.

``--max-concurrent-jobs`` is an account quota per job type, as on AWS: by default Create is refused with
ResourceLimitExceeded beyond it (service.py), so a job never waits here. With ``--queue-excess-jobs``
Create accepts every job, and those beyond the limit stay InProgress (training: SecondaryStatus
Starting) until a slot of their type frees -- the sandbox's old behaviour, kept as an explicit option.
The peak (of all types together) is kept because the project's load tests quote it.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable


class Slots:
    def __init__(self, limit: Callable[[], int]):
        self._limit = limit
        self._cond = threading.Condition()
        self._queues: dict[str, deque[int]] = {}
        self._running_by: dict[str, int] = {}
        self._tickets = itertools.count()
        self.running = 0
        self.peak = 0

    def acquire(self, cancel: threading.Event, on_wait: Callable[[int, int], None] | None = None,
                kind: str = "job") -> int:
        """Block until this caller's turn and a free slot of ``kind``. Returns the jobs (of every type)
        running once this one has its slot (itself included), or 0 if ``cancel`` is set first."""
        ticket = next(self._tickets)
        with self._cond:
            queue = self._queues.setdefault(kind, deque())
            queue.append(ticket)
            try:
                while not (queue[0] == ticket and self._running_by.get(kind, 0) < max(1, self._limit())):
                    if cancel.is_set():
                        return 0
                    if on_wait is not None:
                        on_wait(queue.index(ticket), self._running_by.get(kind, 0))
                    self._cond.wait(0.1)
                if cancel.is_set():
                    return 0
                self._running_by[kind] = self._running_by.get(kind, 0) + 1
                self.running += 1
                self.peak = max(self.peak, self.running)
                return self.running
            finally:
                queue.remove(ticket)
                self._cond.notify_all()

    def release(self, kind: str = "job") -> None:
        with self._cond:
            self._running_by[kind] -= 1
            self.running -= 1
            self._cond.notify_all()

    def reset_peak(self) -> None:
        with self._cond:
            self.peak = self.running
