"""TPC-H's 22 queries (Trino's dialect, scale factor 0.01, data from tpchgen-cli) through the sandbox's
Athena: every value against DuckDB's own answer to the same query, every result type against the
type Trino's rules give (tests/conformance/tpch.py)."""

from __future__ import annotations

import time

import pytest

from tests.conformance import tpch
from tests.conformance.clients import tpch_data

SCALE = 0.01
DATABASE = "tpch"


@pytest.fixture(scope="module")
def tpch_athena(sandbox):
    data = tpch_data(SCALE)
    tpch.load(data, sandbox.boto3_client("s3"), sandbox.boto3_client("glue"), "conformance-tpch", DATABASE)
    return sandbox.boto3_client("athena"), tpch.duckdb_connection(data)


def run(athena, sql: str) -> tuple[list[list[str | None]], list[dict]]:
    qid = athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": DATABASE},
        ResultConfiguration={"OutputLocation": "s3://conformance-tpch/results/"})["QueryExecutionId"]
    while True:
        status = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
        if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.01)
    assert status["State"] == "SUCCEEDED", status.get("StateChangeReason")
    rows, columns, token = [], None, None
    while True:
        page = athena.get_query_results(QueryExecutionId=qid, **({"NextToken": token} if token else {}))
        columns = columns or page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
        rows += [[d.get("VarCharValue") for d in r["Data"]] for r in page["ResultSet"]["Rows"]]
        token = page.get("NextToken")
        if not token:
            return rows[1:], columns


def type_text(column: dict) -> str:
    if column["Type"] == "decimal":
        return f"decimal({column['Precision']},{column['Scale']})"
    return column["Type"]


@pytest.mark.parametrize("n", sorted(tpch.QUERIES))
def test_tpch_query(tpch_athena, n: int):
    athena, duck = tpch_athena
    rows, columns = run(athena, tpch.QUERIES[n])
    types = [type_text(c) for c in columns]
    assert types == tpch.TYPES[n], f"q{n:02d} result types"
    reference = duck.execute(tpch.duckdb_sql(n)).fetchall()
    assert len(rows) == len(reference), f"q{n:02d}: {len(rows)} rows, DuckDB {len(reference)}"
    for i, (got, want) in enumerate(zip(rows, reference, strict=True)):
        bad = [(j, g, w) for j, (g, w, t) in enumerate(zip(got, want, types, strict=True)) if not tpch.matches(g, w, t)]
        assert not bad, f"q{n:02d} row {i}: (column, Athena, DuckDB) {bad}"
