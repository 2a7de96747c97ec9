"""Refresh a QuickSight SPICE data set: the provider's ``QuickSightCreateIngestionOperator``, extended.

Why extend and not use it as it is: three defects, each met in dashboard_refresh.

- **A retry refreshes twice, or fails.** The provider's operator calls CreateIngestion with the same
  ``ingestion_id`` on every try: QuickSight answers ``ResourceExistsException`` and the retry can never
  succeed; with a new id per try, a try that failed *after* starting its ingestion (a worker lost while it
  waited) leaves one running and starts a second. Here each try's id ends in its try number, and a try first
  looks at the newest ingestion an earlier try of the same clear started: running or completed, it waits for
  that one instead of starting another. "Newest that exists", not "the previous try's": a try that attached
  started none of its own, and Airflow 3.3 can fail a try that attached after it resumed (apache/airflow#72716:
  a deferred task resumed quickly is failed by its own stale defer-exit event), so try 3 must still find try 1's.
- **No partition.** Nothing says which data a refresh carried. Here the ingestion id carries the partition and
  the run (``batchml.dashboard_refresh.requests``), and the task's XCom records the partitions and Assets.
- **A failure says "error while running" with the raw trigger event.** Here it names the data set, the
  ingestion, the partitions and QuickSight's ``ErrorInfo`` (type and message), which is what the page quotes.

Waiting is the provider's: its waiter (``waiters/quicksight.json``) in sync mode, its
``QuickSightIngestionCompletedTrigger`` when deferred, so both share one definition of "done". ``on_kill``
cancels the ingestion. Its extra link opens the data set in QuickSight.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.quicksight import QuickSightCreateIngestionOperator
from airflow.providers.amazon.aws.triggers.quicksight import QuickSightIngestionCompletedTrigger
from airflow.sdk.exceptions import AirflowException
from botocore.exceptions import ClientError

from batchml.attempts import first_try
from batchml.operators.links import QuickSightDataSetLink

if TYPE_CHECKING:
    from airflow.sdk import Context

_ATTACHABLE = {"INITIALIZED", "QUEUED", "RUNNING", "COMPLETED"}
_ENDED = {"FAILED", "CANCELLED"}


class QuickSightIngestionFailed(AirflowException):
    """An ingestion ended FAILED or CANCELLED. ``aws_reason`` is QuickSight's ErrorInfo, as the page quotes it."""

    def __init__(self, message: str, reason: str):
        self.aws_reason = reason
        super().__init__(message)


class QuickSightRefreshOperator(QuickSightCreateIngestionOperator):
    """Start (or attach to) one SPICE ingestion of ``data_set_id`` and wait for it.

    :param data_set_id: the QuickSight data set. (templated)
    :param ingestion_id: the ingestion id without its try; ``-<try number>`` is appended. (templated)
    :param partitions: the partitions (YYYY-MM-DD) the refresh carries, recorded in XCom. (templated)
    :param assets: the Assets whose events asked for it, recorded in XCom. (templated)

    Every other parameter is the provider operator's. Returns ``{"data_set_id", "ingestion_id", "partitions",
    "assets", "status", "attached"}``.
    """

    template_fields: Sequence[str] = (*QuickSightCreateIngestionOperator.template_fields, "partitions", "assets")
    operator_extra_links = (QuickSightDataSetLink(),)

    def __init__(self, *, partitions: Sequence[str] = (), assets: Sequence[str] = (), **kwargs: Any):
        super().__init__(**kwargs)
        self.partitions = partitions
        self.assets = assets
        self._attached = False

    def execute(self, context: Context) -> dict[str, Any]:
        ti = context["ti"]
        base, try_number = self.ingestion_id, int(ti.try_number)
        self.ingestion_id = f"{base}-{try_number}"
        # Tries since the task was last cleared: a cleared run refreshes again, it does not attach.
        first = min(first_try(getattr(ti, "max_tries", 0), self.retries), try_number)
        earlier = self._earlier_ingestion(base, first, try_number)
        if earlier is not None:
            self.ingestion_id, self._attached = earlier, True
            self.log.info("Try %s attaches to ingestion %s of an earlier try (not finished or completed)",
                          try_number, earlier)
        else:
            self.log.info("Refreshing data set %s with ingestion %s (partitions %s)", self.data_set_id,
                          self.ingestion_id, ", ".join(self.partitions) or "none")
            self.hook.create_ingestion(data_set_id=self.data_set_id, ingestion_id=self.ingestion_id,
                                       ingestion_type=self.ingestion_type, wait_for_completion=False)
        if self.deferrable:
            self.defer(
                trigger=QuickSightIngestionCompletedTrigger(
                    data_set_id=self.data_set_id, ingestion_id=self.ingestion_id, aws_account_id=self.hook.account_id,
                    waiter_delay=int(self.waiter_delay), waiter_max_attempts=int(self.waiter_max_attempts),
                    aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify,
                    botocore_config=self.botocore_config),
                method_name="execute_complete",
                kwargs={"ingestion_id": self.ingestion_id, "attached": self._attached},
            )
        try:
            self.hook.wait_for_ingestion(data_set_id=self.data_set_id, ingestion_id=self.ingestion_id,
                                         waiter_delay=int(self.waiter_delay),
                                         waiter_max_attempts=int(self.waiter_max_attempts))
        except RuntimeError:
            raise self._failure() from None
        return self._result()

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None,
                         ingestion_id: str | None = None, attached: bool = False, **_: Any) -> dict[str, Any]:
        self.ingestion_id, self._attached = ingestion_id or self.ingestion_id, attached
        if not event or event.get("status") != "success":
            raise self._failure()
        return self._result()

    def on_kill(self) -> None:
        try:
            self.hook.conn.cancel_ingestion(AwsAccountId=self.hook.account_id, DataSetId=self.data_set_id,
                                            IngestionId=self.ingestion_id)
            self.log.info("Cancelled ingestion %s of %s", self.ingestion_id, self.data_set_id)
        except Exception as e:  # already over, or never started
            self.log.info("Ingestion %s not cancelled: %s", self.ingestion_id, e)

    # -- helpers -----------------------------------------------------------------------------------------
    def failure_of_try(self, context: Context) -> QuickSightIngestionFailed | None:
        """The failure of the newest ingestion of this try's chain, looked up, if it FAILED or was CANCELLED; for a
        page without an exception (``batchml.notifiers``; as ``IdempotentJob.failure_of_try``). Starts nothing.
        Sets ``ingestion_id`` in place: the notifier calls it on a rendered copy of the parsed task."""
        ti = context["ti"]
        try_number = int(ti.try_number)
        first = min(first_try(getattr(ti, "max_tries", 0), self.retries), try_number)
        newest = self._newest_ingestion(self.ingestion_id, first, try_number)
        if newest is None or newest[1] not in _ENDED:
            return None
        self.ingestion_id = newest[0]
        return self._failure()

    def _earlier_ingestion(self, base: str, first: int, try_number: int) -> str | None:
        """The newest ingestion tries ``first`` .. ``try_number - 1`` started, if it is still going or
        completed; else None (none started, or the newest one failed or was cancelled: start another)."""
        newest = self._newest_ingestion(base, first, try_number - 1)
        return newest[0] if newest is not None and newest[1] in _ATTACHABLE else None

    def _newest_ingestion(self, base: str, first: int, last: int) -> tuple[str, str] | None:
        """(id, status) of the newest ingestion tries ``first`` .. ``last`` started; None if they started none."""
        for k in range(last, first - 1, -1):
            earlier = f"{base}-{k}"
            try:
                found = self.hook.conn.describe_ingestion(AwsAccountId=self.hook.account_id,
                                                          DataSetId=self.data_set_id, IngestionId=earlier)
            except ClientError as e:
                # Only "no such ingestion" means try k started none (it attached, or failed before); any other
                # error fails this try, as guessing "none" could start a second refresh.
                if e.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise
                self.log.info("No ingestion %s: try %s started none", earlier, k)
                continue
            status = found["Ingestion"]["IngestionStatus"]
            self.log.info("Ingestion %s of try %s is %s", earlier, k, status)
            return earlier, status
        return None

    def _failure(self) -> QuickSightIngestionFailed:
        info = self.hook.get_error_info(None, self.data_set_id, self.ingestion_id) or {}
        status = self.hook.get_status(None, self.data_set_id, self.ingestion_id)
        reason = f"{info.get('Type', 'no ErrorInfo')}: {info.get('Message', '')}".rstrip(": ")
        return QuickSightIngestionFailed(
            f"QuickSight ingestion {self.ingestion_id} of data set {self.data_set_id} ended {status} "
            f"(partitions {', '.join(self.partitions) or 'none'}): {reason}", reason)

    def _result(self) -> dict[str, Any]:
        self.log.info("Data set %s refreshed by ingestion %s (partitions %s)", self.data_set_id, self.ingestion_id,
                      ", ".join(self.partitions) or "none")
        return {"data_set_id": self.data_set_id, "ingestion_id": self.ingestion_id,
                "partitions": list(self.partitions), "assets": list(self.assets), "status": "COMPLETED",
                "attached": self._attached}
