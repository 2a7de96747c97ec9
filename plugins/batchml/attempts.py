"""Which tries of a task instance belong together, and how AWS resources record the try that made them.

A retry must find what an earlier try launched. Airflow numbers tries across clears, and raises
``max_tries`` on each clear, so the first try of the current chain is ``max_tries - retries + 1``
(the formula Airflow itself uses for reschedules).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import Context

TAG_DAG, TAG_RUN, TAG_TASK, TAG_TRY = "airflow:dag_id", "airflow:run_id", "airflow:task_id", "airflow:try_number"


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
        # Same formula Airflow uses for the first try after a clear (max_tries grows on each clear).
        first = max(1, ti.max_tries - retries + 1) if ti.max_tries else 1
        return cls(ti.dag_id, ti.run_id, ti.task_id, ti.try_number, min(first, ti.try_number))

    def tags(self) -> list[dict[str, str]]:
        return [{"Key": TAG_DAG, "Value": self.dag_id}, {"Key": TAG_RUN, "Value": self.run_id},
                {"Key": TAG_TASK, "Value": self.task_id}, {"Key": TAG_TRY, "Value": str(self.try_number)}]

    def launched(self, tags: dict[str, str]) -> bool:
        """Whether a job with these tags was launched by this attempt chain."""
        try:
            job_try = int(tags.get(TAG_TRY, "0"))
        except ValueError:
            return False
        return (tags.get(TAG_DAG), tags.get(TAG_RUN), tags.get(TAG_TASK)) == (
            self.dag_id, self.run_id, self.task_id) and self.first_try <= job_try <= self.try_number
