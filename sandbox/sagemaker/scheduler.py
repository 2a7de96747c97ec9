"""At most ``max_concurrent_jobs`` job processes at once, first come first served.

Jobs beyond the limit stay InProgress (training: SecondaryStatus Starting) until a slot frees,
as jobs wait for instances on AWS. The peak is kept because the project's load tests quote it.
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
        self._queue: deque[int] = deque()
        self._tickets = itertools.count()
        self.running = 0
        self.peak = 0

    def acquire(self, cancel: threading.Event, on_wait: Callable[[int, int], None] | None = None) -> int:
        """Block until this caller's turn and a free slot. Returns the jobs running once this one has its
        slot (itself included), or 0 if ``cancel`` is set first."""
        ticket = next(self._tickets)
        with self._cond:
            self._queue.append(ticket)
            try:
                while not (self._queue[0] == ticket and self.running < max(1, self._limit())):
                    if cancel.is_set():
                        return 0
                    if on_wait is not None:
                        on_wait(self._queue.index(ticket), self.running)
                    self._cond.wait(0.1)
                if cancel.is_set():
                    return 0
                self.running += 1
                self.peak = max(self.peak, self.running)
                return self.running
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            self.running -= 1
            self._cond.notify_all()

    def reset_peak(self) -> None:
        with self._cond:
            self.peak = self.running
