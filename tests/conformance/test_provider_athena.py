"""The Amazon provider's own AthenaOperator, AthenaTrigger and AthenaSensor against the sandbox, used
the way its system test does: sync, deferrable (the trigger's real async run, through aiobotocore),
and with failures injected (a query Athena fails, a throttled API call).

Contexts are built by hand (tests/conformance/operators.py): only what these operators read (``ti.xcom_push``
for the results link)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.providers.amazon.aws.sensors.athena import AthenaSensor
from airflow.providers.common.compat.sdk import AirflowException

from tests.conformance.operators import context, defer_and_resume
from tests.sandbox.test_athena_support import Athena


@pytest.fixture
def athena(aws, unique, sandbox, monkeypatch) -> Athena:
    for key, value in sandbox.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    athena = Athena(aws, unique, sandbox)
    athena.table("sales", [("id", "int"), ("amount", "double")])
    athena.put_parquet("sales/part-0.parquet", {"id": pa.array([1, 2, 3], pa.int32()), "amount": [1.5, 2.5, 4.0]})
    return athena


def operator(athena: Athena, query: str, **kw) -> AthenaOperator:
    return AthenaOperator(task_id="athena", query=query, database=athena.db, output_location=athena.output,
                          sleep_time=1, aws_conn_id=None, region_name="us-east-1", **kw)


def results(athena: Athena, qid: str) -> list:
    return athena.results(qid)[0][1:]


def test_sync_operator_runs_the_query(athena: Athena):
    qid = operator(athena, "SELECT count(*), sum(amount) FROM sales").execute(context())
    assert results(athena, qid) == [["3", "8.0"]]


def test_sync_operator_fails_with_athenas_reason(athena: Athena):
    with pytest.raises(AirflowException, match=r"Final state of Athena job is FAILED.*TYPE_MISMATCH: line 1:8: "
                                               r"Cannot apply operator: varchar\(1\) \+ integer"):
        operator(athena, "SELECT 'a' + 1").execute(context())


def test_sync_operator_survives_a_throttled_start(athena: Athena):
    fault = athena.sandbox.client.fail_calls("athena", "StartQueryExecution", "ThrottlingException", count=1)
    qid = operator(athena, "SELECT max(id) FROM sales").execute(context())
    assert results(athena, qid) == [["3"]]
    left = [f for f in athena.sandbox.client.faults() if f["id"] == fault["id"]]
    assert left == [] or left[0]["hits"] == 1, left  # the throttle was really answered, then retried


def test_deferrable_operator_resumes_from_the_trigger(athena: Athena):
    qid = defer_and_resume(operator(athena, "SELECT id FROM sales ORDER BY id", deferrable=True), context())
    assert results(athena, qid) == [["1"], ["2"], ["3"]]


def test_deferrable_operator_fails_when_the_query_fails(athena: Athena):
    with pytest.raises(AirflowException, match="Error while waiting for operation"):
        defer_and_resume(operator(athena, "SELECT nope FROM sales", deferrable=True), context())


def test_sensor_waits_for_success_and_fails_on_failure(athena: Athena):
    def sensor(qid: str) -> AthenaSensor:
        return AthenaSensor(task_id="wait", query_execution_id=qid, sleep_time=1, aws_conn_id=None,
                            region_name="us-east-1")

    assert sensor(athena.start("SELECT 1")).poke(context()) in (True, False)
    qid = athena.start("SELECT 1")
    athena.wait(qid)
    assert sensor(qid).poke(context()) is True
    failed = athena.start("SELECT 1 / 0")
    athena.wait(failed)
    with pytest.raises(AirflowException, match="Athena sensor failed"):
        sensor(failed).poke(context())
