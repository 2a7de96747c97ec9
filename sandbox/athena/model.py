"""Query executions and workgroups as Athena's API describes them."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sandbox.athena.engine import Run
from sandbox.athena.errors import QueryFailed
from sandbox.athena.parsing import Statement
from sandbox.athena.results import ResultSet

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"
FINAL = (SUCCEEDED, FAILED, CANCELLED)
ENGINE_VERSION = {"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"}
CANCELLED_REASON = "Query cancelled by user"


def _ms(seconds: float) -> int:
    return max(0, int(round(seconds * 1000)))


@dataclass
class QueryExecution:
    id: str
    query: str
    statement: Statement
    workgroup: str
    context: dict[str, str]
    output_base: str | None  # the result location, no trailing slash
    result_file: str | None  # ResultConfiguration.OutputLocation
    manifest_file: str | None
    run: Run
    token: str | None
    params: list[str] | None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    executed: float | None = None  # the engine was done; writing the result files followed
    finished: float | None = None
    state: str = QUEUED
    error: QueryFailed | None = None
    reason: str | None = None
    result: ResultSet | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    # -- transitions -------------------------------------------------------------------------
    def start(self) -> bool:
        with self.lock:
            if self.state != QUEUED:
                return False
            self.state, self.started = RUNNING, time.time()
            return True

    def finish(self, state: str, result: ResultSet | None = None, error: QueryFailed | None = None,
               reason: str | None = None) -> bool:
        """Move to a final state; False when the query had already ended (e.g. it was stopped)."""
        with self.lock:
            if self.state in FINAL:
                return False
            self.state, self.finished = state, time.time()
            self.result, self.error = result, error
            self.reason = error.reason if error is not None else reason
        self.done.set()
        return True

    def stop(self) -> None:
        if self.finish(CANCELLED, reason=CANCELLED_REASON):
            self.run.cancel()

    # -- API shape ---------------------------------------------------------------------------
    def to_api(self) -> dict[str, Any]:
        with self.lock:
            out: dict[str, Any] = {
                "QueryExecutionId": self.id,
                "Query": self.query,
                "StatementType": self.statement.statement_type,
                "ResultConfiguration": {"OutputLocation": self.result_file} if self.result_file else {},
                "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
                "QueryExecutionContext": dict(self.context),
                "Status": self._status(),
                "Statistics": self._statistics(),
                "WorkGroup": self.workgroup,
                "EngineVersion": dict(ENGINE_VERSION),
            }
            if self.statement.substatement_type:
                out["SubstatementType"] = self.statement.substatement_type
            if self.params is not None:
                out["ExecutionParameters"] = list(self.params)
            return out

    def _status(self) -> dict[str, Any]:
        status: dict[str, Any] = {"State": self.state, "SubmissionDateTime": round(self.submitted, 3)}
        if self.finished is not None:
            status["CompletionDateTime"] = round(self.finished, 3)
        if self.reason:
            status["StateChangeReason"] = self.reason
        if self.error is not None and self.state == FAILED:
            status["AthenaError"] = self.error.athena_error()
        return status

    def _statistics(self) -> dict[str, Any]:
        now = time.time()
        started = self.started or (self.finished if self.state in FINAL else None) or now
        end = self.finished or now
        executed = self.executed or end
        planned = self.run.planned or started
        stats = {
            "EngineExecutionTimeInMillis": _ms(executed - started) if self.started else 0,
            "DataScannedInBytes": self.run.scanned_bytes,
            "TotalExecutionTimeInMillis": _ms(end - self.submitted),
            "QueryQueueTimeInMillis": _ms(started - self.submitted),
            "ServicePreProcessingTimeInMillis": 0,
            "QueryPlanningTimeInMillis": _ms(planned - started) if self.started else 0,
            "ServiceProcessingTimeInMillis": _ms(end - executed) if self.executed else 0,
            "ResultReuseInformation": {"ReusedPreviousResult": False},
        }
        if self.manifest_file and self.state == SUCCEEDED:
            stats["DataManifestLocation"] = self.manifest_file
        return stats


@dataclass
class WorkGroup:
    name: str
    configuration: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    created: float = field(default_factory=time.time)
    state: str = "ENABLED"

    @property
    def output_location(self) -> str | None:
        return (self.configuration.get("ResultConfiguration") or {}).get("OutputLocation")

    @property
    def enforced(self) -> bool:
        return bool(self.configuration.get("EnforceWorkGroupConfiguration", False))

    def to_api(self) -> dict[str, Any]:
        config = {
            "ResultConfiguration": dict(self.configuration.get("ResultConfiguration") or {}),
            "EnforceWorkGroupConfiguration": self.enforced,
            "PublishCloudWatchMetricsEnabled": bool(self.configuration.get("PublishCloudWatchMetricsEnabled", False)),
            "RequesterPaysEnabled": bool(self.configuration.get("RequesterPaysEnabled", False)),
            "EngineVersion": dict(ENGINE_VERSION),
            "EnableMinimumEncryptionConfiguration": False,
        }
        if "BytesScannedCutoffPerQuery" in self.configuration:
            config["BytesScannedCutoffPerQuery"] = self.configuration["BytesScannedCutoffPerQuery"]
        out: dict[str, Any] = {"Name": self.name, "State": self.state, "Configuration": config,
                               "CreationTime": round(self.created, 3)}
        if self.description:  # Athena leaves the key out when there is no description (measured)
            out["Description"] = self.description
        return out

    def summary(self) -> dict[str, Any]:
        return {"Name": self.name, "State": self.state, "Description": self.description,
                "CreationTime": round(self.created, 3), "EngineVersion": dict(ENGINE_VERSION)}
