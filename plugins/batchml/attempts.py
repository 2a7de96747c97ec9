"""Which tries of a task instance belong together, and how AWS resources record the try that made them.

A retry must find what an earlier try launched. Airflow numbers tries across clears, and raises
``max_tries`` on each clear, so the first try of the current chain is ``max_tries - retries + 1``
(the formula Airflow itself uses for reschedules).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import Context

TAG_DAG, TAG_RUN, TAG_TASK, TAG_TRY = "airflow:dag_id", "airflow:run_id", "airflow:task_id", "airflow:try_number"
# The same identity as a SQL comment, for work that cannot be tagged (an Athena query).
_COMMENT = re.compile(r"^-- airflow: dag_id=(\S+) run_id=(\S+) task_id=(\S+) try_number=(\d+)$", re.M)


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

    @classmethod
    def of(cls, context: Context, retries: int) -> Attempt:
        ti = context["ti"]
        return cls(ti.dag_id, ti.run_id, ti.task_id, ti.try_number, min(first_try(ti.max_tries, retries), ti.try_number))

    def tags(self) -> list[dict[str, str]]:
        return [{"Key": TAG_DAG, "Value": self.dag_id}, {"Key": TAG_RUN, "Value": self.run_id},
                {"Key": TAG_TASK, "Value": self.task_id}, {"Key": TAG_TRY, "Value": str(self.try_number)}]

    def comment(self) -> str:
        """The identity as one SQL comment line (see ``launched_query``)."""
        return (f"-- airflow: dag_id={self.dag_id} run_id={self.run_id} task_id={self.task_id} "
                f"try_number={self.try_number}")

    def launched_query(self, sql: str) -> bool:
        """Whether a query whose text carries ``comment()`` was started by this attempt chain."""
        m = _COMMENT.search(sql or "")
        return bool(m) and self.launched({TAG_DAG: m[1], TAG_RUN: m[2], TAG_TASK: m[3], TAG_TRY: m[4]})

    def launched(self, tags: dict[str, str]) -> bool:
        """Whether a job with these tags was launched by this attempt chain."""
        try:
            job_try = int(tags.get(TAG_TRY, "0"))
        except ValueError:
            return False
        return (tags.get(TAG_DAG), tags.get(TAG_RUN), tags.get(TAG_TASK)) == (
            self.dag_id, self.run_id, self.task_id) and self.first_try <= job_try <= self.try_number
