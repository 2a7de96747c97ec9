"""Which tries of a task instance belong together, and how AWS resources record the try that made them.

A retry must find what an earlier try launched. Airflow numbers tries across clears, and raises
``max_tries`` on each clear, so the first try of the current chain is ``max_tries - retries + 1``
(the formula Airflow itself uses for reschedules).

A run_id alone does not name one run. When a run is deleted and made again with the same run_id (Airflow
3.3.2's cleanup after a failed reprocessing-backfill request deletes the runs it was clearing, and the
retried request creates them anew; a user can do the same by hand), the new run's first try has the same
(run_id, try 1) as the old one's and would adopt the old run's completed job instead of running again. The
run's ``start_date`` tells the two apart: it is set when the run starts, kept across task retries, a
scheduler restart and a deferral, and set anew when the run is cleared or made again. Jobs carry it as a
tag (``airflow:run_start``); a job without that tag (launched before the tag existed) is judged as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import Context

TAG_DAG, TAG_RUN, TAG_TASK, TAG_TRY = "airflow:dag_id", "airflow:run_id", "airflow:task_id", "airflow:try_number"
TAG_RUN_START = "airflow:run_start"
# The same identity as a SQL comment, for work that cannot be tagged (an Athena query).
_COMMENT = re.compile(
    r"^-- airflow: dag_id=(\S+) run_id=(\S+) task_id=(\S+) try_number=(\d+)(?: run_start=(\S+))?$", re.M)


def first_try(max_tries: int, retries: int | None) -> int:
    """The first try of the current attempt chain. Airflow numbers tries across clears and raises
    ``max_tries`` by ``retries + 1`` on each clear, so the chain began at ``max_tries - retries + 1``
    (the formula Airflow itself uses for reschedules)."""
    if not max_tries or retries is None:
        return 1
    return max(1, max_tries - retries + 1)


@dataclass(frozen=True)
class Attempt:
    """Which tries of a task instance belong together: those since the task was last cleared."""

    dag_id: str
    run_id: str
    task_id: str
    try_number: int
    first_try: int
    # The run's start_date (ISO): tells this run from an earlier one with the same run_id. None when the
    # context has none; then only the run_id and the tries are compared.
    run_start: str | None = None

    @classmethod
    def of(cls, context: Context, retries: int) -> Attempt:
        ti = context["ti"]
        started = getattr(context.get("dag_run"), "start_date", None)
        return cls(ti.dag_id, ti.run_id, ti.task_id, ti.try_number, min(first_try(ti.max_tries, retries), ti.try_number),
                   started.isoformat() if started is not None else None)

    def tags(self) -> list[dict[str, str]]:
        tags = [{"Key": TAG_DAG, "Value": self.dag_id}, {"Key": TAG_RUN, "Value": self.run_id},
                {"Key": TAG_TASK, "Value": self.task_id}, {"Key": TAG_TRY, "Value": str(self.try_number)}]
        return tags + ([{"Key": TAG_RUN_START, "Value": self.run_start}] if self.run_start else [])

    def comment(self) -> str:
        """The identity as one SQL comment line (see ``launched_query``)."""
        return (f"-- airflow: dag_id={self.dag_id} run_id={self.run_id} task_id={self.task_id} "
                f"try_number={self.try_number}" + (f" run_start={self.run_start}" if self.run_start else ""))

    def launched_query(self, sql: str) -> bool:
        """Whether a query whose text carries ``comment()`` was started by this attempt chain."""
        m = _COMMENT.search(sql or "")
        return bool(m) and self.launched({TAG_DAG: m[1], TAG_RUN: m[2], TAG_TASK: m[3], TAG_TRY: m[4],
                                          **({TAG_RUN_START: m[5]} if m[5] else {})})

    def launched(self, tags: dict[str, str]) -> bool:
        """Whether a job with these tags was launched by this attempt chain."""
        try:
            job_try = int(tags.get(TAG_TRY, "0"))
        except ValueError:
            return False
        same_run = (tags.get(TAG_DAG), tags.get(TAG_RUN), tags.get(TAG_TASK)) == (self.dag_id, self.run_id, self.task_id)
        # A job of an earlier run with the same run_id (deleted and made again) is not this run's.
        same_start = TAG_RUN_START not in tags or self.run_start is None or tags[TAG_RUN_START] == self.run_start
        return same_run and same_start and self.first_try <= job_try <= self.try_number
