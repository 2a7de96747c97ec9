"""QuickSight SPICE ingestions with a lifecycle: ``CreateIngestion``, ``DescribeIngestion``, ``ListIngestions``
and ``CancelIngestion``, on the data sets of moto's QuickSight backend.

moto 5 implements ``CreateDataSet`` and ``CreateIngestion``, but its ingestion is stored nowhere and always
``INITIALIZED``; it has no ``DescribeIngestion`` (500), no ``ListIngestions`` (404) and never checks the data
set. The provider's ``QuickSightCreateIngestionOperator`` then waits forever. So the sandbox answers these four
operations itself, keeping moto's models: the data sets are moto's (``quicksight_backends[...].data_sets``, made
with boto3's ``create_data_set`` as on AWS) and an ingestion is moto's ``QuicksightIngestion`` with a state.

Lifecycle, as a client sees it through DescribeIngestion: ``INITIALIZED`` in the CreateIngestion answer, then
``RUNNING`` for ``run_seconds`` (plus a job fault's ``delay_seconds``), then ``COMPLETED``, or ``FAILED`` with
``ErrorInfo``: ``DATA_SET_DELETED`` when the data set does not exist (the ingestion is created, as the request
itself is valid, and fails when it would read the data set), or a job fault's ``failure_reason`` (a fault whose
``job`` glob matches ``<DataSetId>/<IngestionId>``; "TYPE: message" picks an IngestionErrorType). A second
CreateIngestion with an id the data set already has is ``ResourceExistsException``, as on AWS.
Call faults (throttling, ...) apply to these operations like to any other: the server identifies rest-json
operations from botocore's routes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sandbox.context import SandboxContext
from sandbox.protocol import AwsError, RequestInfo, request_id


def _error_types() -> frozenset[str]:
    import botocore.session

    return frozenset(botocore.session.get_session().get_service_model("quicksight")
                     .shape_for("IngestionErrorType").enum)


@dataclass
class Ingestion:
    data_set_id: str
    ingestion_id: str
    arn: str
    ingestion_type: str
    created: float
    run_seconds: float
    error: tuple[str, str] | None = None  # (IngestionErrorType, message): FAILED at the end of the run
    cancelled_at: float | None = None
    row_count: int | None = None

    def status(self, now: float) -> str:
        if self.cancelled_at is not None:
            return "CANCELLED"
        if now - self.created < self.run_seconds:
            return "RUNNING"
        return "FAILED" if self.error else "COMPLETED"

    def to_json(self, now: float) -> dict[str, Any]:
        status = self.status(now)
        out: dict[str, Any] = {
            "Arn": self.arn, "IngestionId": self.ingestion_id, "IngestionStatus": status,
            "CreatedTime": self.created, "RequestSource": "MANUAL", "RequestType": self.ingestion_type,
        }
        if status in ("COMPLETED", "FAILED", "CANCELLED"):
            end = self.cancelled_at or self.created + self.run_seconds
            out["IngestionTimeInSeconds"] = max(0, round(end - self.created))
        if status == "FAILED":
            out["ErrorInfo"] = {"Type": self.error[0], "Message": self.error[1]}
        return out


@dataclass
class _Region:
    ingestions: dict[tuple[str, str], Ingestion] = field(default_factory=dict)


class QuickSightService:
    name = "quicksight"
    operations: frozenset[str] = frozenset({"CreateIngestion", "DescribeIngestion", "ListIngestions",
                                            "CancelIngestion"})
    #: how long an ingestion stays RUNNING before it ends
    run_seconds = 1.0

    def __init__(self, ctx: SandboxContext):
        self.ctx = ctx
        self._lock = threading.Lock()
        self._regions: dict[tuple[str, str], _Region] = {}

    def handle(self, operation: str, params: dict[str, Any], request: RequestInfo) -> dict[str, Any]:
        params = {**params, **request.uri}
        if params.get("AwsAccountId") != request.account_id:
            raise AwsError("AccessDeniedException", f"the account {params.get('AwsAccountId')} is not the caller's "
                           f"account {request.account_id}", 401)
        with self._lock:
            region = self._regions.setdefault((request.account_id, request.region), _Region())
            result = getattr(self, f"_op_{operation}")(params, region, request)
        return {**result, "RequestId": request_id()}

    # -- operations ----------------------------------------------------------------------------------------
    def _op_CreateIngestion(self, params: dict, region: _Region, request: RequestInfo) -> dict:
        ds, ing = params["DataSetId"], params["IngestionId"]
        if (ds, ing) in region.ingestions:
            raise AwsError("ResourceExistsException", f"Ingestion {ing} already exists for data set {ds}.", 409)
        kind = params.get("IngestionType") or "FULL_REFRESH"
        arn = f"arn:aws:quicksight:{request.region}:{request.account_id}:dataset/{ds}/ingestion/{ing}"
        run, error = self.run_seconds, None
        if not self._data_set_exists(request, ds):
            error = ("DATA_SET_DELETED", f"The data set {ds} does not exist in account {request.account_id}, "
                                         f"{request.region}.")
        fault = self.ctx.faults.take_job_fault(f"{ds}/{ing}")
        if fault is not None:
            run += fault.delay_seconds or 0.0
            if fault.failure_reason:
                error = _error_info(fault.failure_reason)
        region.ingestions[(ds, ing)] = Ingestion(ds, ing, arn, kind, time.time(), run, error)
        return {"Arn": arn, "IngestionId": ing, "IngestionStatus": "INITIALIZED", "Status": 201}

    def _op_DescribeIngestion(self, params: dict, region: _Region, request: RequestInfo) -> dict:
        return {"Ingestion": self._ingestion(region, params).to_json(time.time()), "Status": 200}

    def _op_ListIngestions(self, params: dict, region: _Region, request: RequestInfo) -> dict:
        ds = params["DataSetId"]
        if not self._data_set_exists(request, ds) and not any(k[0] == ds for k in region.ingestions):
            raise AwsError("ResourceNotFoundException", f"Data set {ds} was not found.", 404)
        now = time.time()
        items = sorted((i for (d, _), i in region.ingestions.items() if d == ds), key=lambda i: -i.created)
        start = int((request.query.get("next-token") or ["0"])[0] or 0)
        size = int((request.query.get("max-results") or ["100"])[0])
        if not 1 <= size <= 100:
            raise AwsError("InvalidParameterValueException", "max-results must be between 1 and 100.")
        page = items[start:start + size]
        out: dict[str, Any] = {"Ingestions": [i.to_json(now) for i in page], "Status": 200}
        if start + size < len(items):
            out["NextToken"] = str(start + size)
        return out

    def _op_CancelIngestion(self, params: dict, region: _Region, request: RequestInfo) -> dict:
        ing = self._ingestion(region, params)
        now = time.time()
        if ing.status(now) != "RUNNING":
            raise AwsError("ResourceNotFoundException", f"Ingestion {ing.ingestion_id} is not running "
                           f"({ing.status(now)}).", 404)
        ing.cancelled_at = now
        return {"Arn": ing.arn, "IngestionId": ing.ingestion_id, "Status": 202}

    # -- helpers -------------------------------------------------------------------------------------------
    @staticmethod
    def _ingestion(region: _Region, params: dict) -> Ingestion:
        ing = region.ingestions.get((params["DataSetId"], params["IngestionId"]))
        if ing is None:
            raise AwsError("ResourceNotFoundException", f"Ingestion {params['IngestionId']} of data set "
                           f"{params['DataSetId']} was not found.", 404)
        return ing

    @staticmethod
    def _data_set_exists(request: RequestInfo, data_set_id: str) -> bool:
        from moto.quicksight.models import quicksight_backends

        return data_set_id in quicksight_backends[request.account_id][request.region].data_sets

    def status(self) -> dict[str, Any]:
        now = time.time()
        with self._lock:
            ingestions = [i for r in self._regions.values() for i in r.ingestions.values()]
        by_status: dict[str, int] = {}
        for i in ingestions:
            by_status[i.status(now)] = by_status.get(i.status(now), 0) + 1
        return {"ingestions": by_status}

    def reset(self) -> None:
        with self._lock:
            self._regions.clear()

    def shutdown(self) -> None:
        pass


def _error_info(reason: str) -> tuple[str, str]:
    kind, sep, message = reason.partition(":")
    if sep and kind.strip() in _error_types():
        return kind.strip(), message.strip()
    return "INTERNAL_SERVICE_ERROR", reason
