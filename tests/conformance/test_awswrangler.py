"""awswrangler against the sandbox: ``s3.to_parquet`` into a partitioned Glue table, then
``athena.read_sql_query`` by each approach (plain, CTAS, UNLOAD), ``wait_query`` and a failing query.

awswrangler pins its own boto3/pandas/pyarrow ranges, so it runs in the conformance venv
(tests/conformance/clients.py), one process for all the calls (wrangler_calls.py); each test here
checks one call's outcome.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conformance.clients import client_venv

SCRIPT = Path(__file__).with_name("wrangler_calls.py")


@pytest.fixture(scope="module")
def calls(sandbox) -> dict:
    s3 = sandbox.boto3_client("s3")
    s3.create_bucket(Bucket="conformance-wrangler")
    env = {**sandbox.env(), "AWS_DEFAULT_REGION": "us-east-1"}
    # awswrangler's Athena calls default to the "primary" workgroup, whose output location is
    # configured here as an account would have it.
    athena = sandbox.boto3_client("athena")
    athena.update_work_group(WorkGroup="primary", ConfigurationUpdates={
        "ResultConfigurationUpdates": {"OutputLocation": "s3://conformance-wrangler/athena-results/"}})
    proc = subprocess.run([str(client_venv() / "bin" / "python"), str(SCRIPT), "conformance-wrangler", "wrangler"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ok(calls: dict, name: str):
    assert "ok" in calls[name], calls[name].get("trace") or calls[name]
    return calls[name]["ok"]


ROWS = [[1, 1.5, "1.10", "a", "2026-01-01", "2.20"], [2, 2.5, "2.05", "b", "2026-01-01", "4.10"],
        [3, 3.0, "0.01", "c,d", "2026-01-02", "0.02"], [4, None, None, None, "2026-01-02", None]]


def test_to_parquet_creates_a_partitioned_glue_table(calls: dict):
    result = ok(calls, "to_parquet")
    assert result["partitions"] == ["2026-01-01", "2026-01-02"]
    assert result["columns"] == {"id": "bigint", "amount": "double", "price": "decimal(10,2)", "name": "string",
                                 "dt": "string"}


@pytest.mark.parametrize("approach", ["plain", "ctas", "unload"])
def test_read_sql_query(calls: dict, approach: str):
    result = ok(calls, approach)
    assert result["rows"] == ROWS
    assert result["dtypes"]["id"] == "Int64" and result["dtypes"]["amount"] == "float64"


def test_read_sql_query_with_parameters_prunes_partitions(calls: dict):
    assert ok(calls, "partition_filter")["rows"] == [[2, "0.01"]]


def test_wait_query(calls: dict):
    assert ok(calls, "wait_query") == {"state": "SUCCEEDED", "rows": [[2]]}


def test_failing_query_raises_query_failed_with_reason(calls: dict):
    result = ok(calls, "failing")
    assert result["raised"] == "QueryFailed"
    assert "TYPE_MISMATCH: line 1:8: Cannot apply operator: varchar(1) + integer" in result["message"]


def test_ctas_approach_drops_its_temporary_table(calls: dict):
    assert ok(calls, "tables") == ["sales"]
