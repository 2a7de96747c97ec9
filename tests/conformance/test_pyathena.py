"""PyAthena, used as its documentation shows, against the sandbox's Athena: the default, dict and
pandas cursors (and the arrow cursor's endpoint limit), pyformat and qmark parameters, DDL, a failing query, and cursor metadata.

PyAthena is part of the project's own lock (the Amazon provider depends on it), so it runs in the
project's venv, pointed at the sandbox by ``AWS_ENDPOINT_URL`` like any boto3-based client.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest

from tests.sandbox.test_athena_support import Athena


@pytest.fixture
def athena(aws, unique, sandbox, monkeypatch) -> Athena:
    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(key, sandbox.env()[key])
    athena = Athena(aws, unique, sandbox)
    athena.table("sales", [("id", "int"), ("amount", "double"), ("price", "decimal(10,2)"), ("name", "string"),
                           ("day", "date")])
    athena.put_parquet("sales/part-0.parquet", {
        "id": pa.array([1, 2, 3], pa.int32()), "amount": [1.5, 2.25, None],
        "price": pa.array([Decimal("1.10"), Decimal("2.05"), None], pa.decimal128(10, 2)),
        "name": ["a", "b,c", None], "day": [date(2026, 1, 1), date(2026, 1, 2), None]})
    return athena


def connect(athena: Athena, **kw):
    from pyathena import connect as pyathena_connect

    return pyathena_connect(s3_staging_dir=athena.output, region_name="us-east-1", schema_name=athena.db,
                            poll_interval=0.05, **kw)


def test_default_cursor_rows_types_and_pyformat_parameters(athena: Athena):
    cursor = connect(athena).cursor()
    cursor.execute("SELECT id, amount, price, name, day, price * 2 AS twice FROM sales WHERE id <= %(max_id)d "
                   "ORDER BY id", {"max_id": 2})
    assert cursor.fetchall() == [(1, 1.5, Decimal("1.10"), "a", date(2026, 1, 1), Decimal("2.20")),
                                 (2, 2.25, Decimal("2.05"), "b,c", date(2026, 1, 2), Decimal("4.10"))]
    assert [(d[0], d[1]) for d in cursor.description] == [
        ("id", "integer"), ("amount", "double"), ("price", "decimal"), ("name", "varchar"), ("day", "date"),
        ("twice", "decimal")]
    assert cursor.rownumber == 2 and cursor.state == "SUCCEEDED" and cursor.data_scanned_in_bytes > 0


def test_qmark_parameters_are_execution_parameters(athena: Athena):
    cursor = connect(athena).cursor()
    cursor.execute("SELECT name FROM sales WHERE id = ? AND name = ?", ["2", "'b,c'"], paramstyle="qmark")
    assert cursor.fetchall() == [("b,c",)]
    execution = athena.client.get_query_execution(QueryExecutionId=cursor.query_id)["QueryExecution"]
    assert execution["ExecutionParameters"] == ["2", "'b,c'"]


def test_dict_cursor(athena: Athena):
    from pyathena.cursor import DictCursor

    cursor = connect(athena).cursor(DictCursor)
    cursor.execute("SELECT id, name FROM sales ORDER BY id")
    assert cursor.fetchall() == [{"id": 1, "name": "a"}, {"id": 2, "name": "b,c"}, {"id": 3, "name": None}]


def test_pandas_cursor_reads_the_result_file(athena: Athena):
    from pyathena.pandas.cursor import PandasCursor

    cursor = connect(athena).cursor(PandasCursor)
    df = cursor.execute("SELECT id, amount, price, name, day, sum(price) OVER () AS total FROM sales "
                        "ORDER BY id").as_pandas()
    assert list(df["id"]) == [1, 2, 3]
    assert df["amount"].tolist()[:2] == [1.5, 2.25]
    assert df["price"].tolist()[:2] == [Decimal("1.10"), Decimal("2.05")]
    assert df["name"].tolist()[:2] == ["a", "b,c"]
    assert str(df["day"].dtype).startswith("datetime64")
    assert df["total"].tolist() == [Decimal("3.15")] * 3


def test_arrow_cursor_cannot_reach_a_custom_endpoint(athena: Athena):
    """A client limit, not the sandbox's: PyAthena's ArrowCursor reads the result file with pyarrow's
    own S3FileSystem, built from region and credentials only (no endpoint_url; pyarrow ignores
    AWS_ENDPOINT_URL), so it always goes to s3.<region>.amazonaws.com. The query itself succeeds.
    This test fails, and the README's list should change, once PyAthena passes the endpoint on."""
    from pyathena.arrow.cursor import ArrowCursor
    from pyathena.error import OperationalError

    cursor = connect(athena).cursor(ArrowCursor)
    with pytest.raises(OperationalError, match=r"s3\.us-east-1\.amazonaws\.com"):
        cursor.execute("SELECT id, name FROM sales ORDER BY id")
    assert athena.client.get_query_execution(QueryExecutionId=cursor.query_id)["QueryExecution"]["Status"][
        "State"] == "SUCCEEDED"


def test_ddl_and_show(athena: Athena):
    cursor = connect(athena).cursor()
    cursor.execute(f"CREATE EXTERNAL TABLE other (x int) STORED AS PARQUET LOCATION 's3://{athena.bucket}/other/'")
    cursor.execute("SHOW TABLES")
    assert sorted(r[0] for r in cursor.fetchall()) == ["other", "sales"]


def test_failed_query_raises_with_athena_reason(athena: Athena):
    from pyathena.error import OperationalError

    cursor = connect(athena).cursor()
    with pytest.raises(OperationalError, match="TYPE_MISMATCH: line 1:8: Cannot apply operator: varchar\\(1\\) \\+ integer"):
        cursor.execute("SELECT 'a' + 1")
    with pytest.raises(OperationalError, match="COLUMN_NOT_FOUND"):
        cursor.execute("SELECT nope FROM sales")
