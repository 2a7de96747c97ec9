"""Shared helpers for the Athena tests (a client wrapper, data and Glue table builders), and unit
tests of the pure functions behind Athena's value rendering and parameter binding."""

from __future__ import annotations

import io
import json
import time
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sandbox.athena.params import mark_placeholders, parse_value
from sandbox.athena.results import ResultSet, java_double, java_float
from sandbox.athena.writer import hive_escape, hive_path

FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}


class Athena:
    """boto3 Athena, S3 and Glue clients for one test's database and bucket."""

    def __init__(self, aws, name: str, sandbox=None):
        self.client, self.s3, self.glue = aws("athena"), aws("s3"), aws("glue")
        self.db = self.bucket = name
        self.output = f"s3://{name}/athena-results/"
        self.sandbox = sandbox
        self.s3.create_bucket(Bucket=name)
        self.glue.create_database(DatabaseInput={"Name": name})

    # -- queries -----------------------------------------------------------------------------
    def start(self, sql: str, params: list[str] | None = None, database: str | None = "", **kw) -> str:
        request = {"QueryString": sql, "ResultConfiguration": {"OutputLocation": self.output}}
        db = self.db if database == "" else database
        if db:
            request["QueryExecutionContext"] = {"Database": db}
        if params is not None:
            request["ExecutionParameters"] = params
        request.update(kw)
        return self.client.start_query_execution(**request)["QueryExecutionId"]

    def wait(self, qid: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            execution = self.client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
            if execution["Status"]["State"] in FINAL:
                return execution
            assert time.monotonic() < deadline, f"query {qid} still {execution['Status']['State']}"
            time.sleep(0.02)

    def run(self, sql: str, **kw) -> dict:
        return self.wait(self.start(sql, **kw))

    def ok(self, sql: str, **kw) -> dict:
        execution = self.run(sql, **kw)
        status = execution["Status"]
        assert status["State"] == "SUCCEEDED", f"{sql!r} -> {status.get('StateChangeReason')}"
        return execution

    def fails(self, sql: str, **kw) -> dict:
        execution = self.run(sql, **kw)
        assert execution["Status"]["State"] == "FAILED", f"{sql!r} unexpectedly {execution['Status']['State']}"
        return execution["Status"]

    def results(self, qid: str, page_size: int = 1000) -> tuple[list[list[str | None]], list[dict], list[dict]]:
        """(all rows incl. header, ColumnInfo, raw pages), following NextToken."""
        rows, pages, token = [], [], None
        while True:
            kw = {"QueryExecutionId": qid, "MaxResults": page_size}
            if token:
                kw["NextToken"] = token
            resp = self.client.get_query_results(**kw)
            pages.append(resp)
            rows += [[d.get("VarCharValue") for d in r["Data"]] for r in resp["ResultSet"]["Rows"]]
            token = resp.get("NextToken")
            if not token:
                return rows, resp["ResultSet"]["ResultSetMetadata"]["ColumnInfo"], pages

    def query(self, sql: str, **kw) -> list[list[str | None]]:
        """Data rows (header row dropped) of a successful SELECT."""
        rows, _, _ = self.results(self.ok(sql, **kw)["QueryExecutionId"])
        return rows[1:]

    def scalar(self, sql: str, **kw) -> str | None:
        return self.query(sql, **kw)[0][0]

    # -- data --------------------------------------------------------------------------------
    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    def put_parquet(self, key: str, table: pa.Table | dict) -> None:
        if isinstance(table, dict):
            table = pa.table(table)
        buf = io.BytesIO()
        pq.write_table(table, buf)
        self.put(key, buf.getvalue())

    def get(self, uri: str) -> bytes:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def keys(self, prefix: str) -> list[str]:
        resp = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in resp.get("Contents", []))

    def table(self, name: str, columns: list[tuple[str, str]], prefix: str | None = None,
              partitions: list[tuple[str, str]] | None = None, storage: dict | None = None,
              parameters: dict | None = None) -> str:
        """Create a Glue table (Parquet unless ``storage`` says otherwise); returns its location."""
        location = f"s3://{self.bucket}/{prefix or name}/"
        sd = {"Columns": [{"Name": n, "Type": t} for n, t in columns], "Location": location,
              **(storage or PARQUET)}
        self.glue.create_table(DatabaseName=self.db, TableInput={
            "Name": name, "TableType": "EXTERNAL_TABLE", "StorageDescriptor": sd,
            "PartitionKeys": [{"Name": n, "Type": t} for n, t in partitions or []],
            "Parameters": parameters or {}})
        return location

    def partition(self, table: str, values: list[str], location: str) -> None:
        self.glue.create_partition(DatabaseName=self.db, TableName=table, PartitionInput={
            "Values": values, "StorageDescriptor": {**PARQUET, "Location": location}})

    def partition_values(self, table: str) -> list[list[str]]:
        parts = self.glue.get_partitions(DatabaseName=self.db, TableName=table)["Partitions"]
        return sorted(p["Values"] for p in parts)


def text_storage(delimiter: str = ",") -> dict:
    return {"InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                          "Parameters": {"field.delim": delimiter}}}


def json_storage() -> dict:
    return {"InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"}}


def json_lines(*records: dict) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


# -- unit tests of the pure functions ------------------------------------------------------------
@pytest.mark.parametrize(("value", "text"), [
    (1.0, "1.0"), (0.1, "0.1"), (1e7, "1.0E7"), (1e-4, "1.0E-4"), (123.456, "123.456"),
    (9999999.0, "9999999.0"), (0.001, "0.001"), (-2.5e-10, "-2.5E-10"), (1.2345e20, "1.2345E20"),
    (0.30000000000000004, "0.30000000000000004"), (-0.0, "-0.0"), (float("nan"), "NaN"),
    (float("inf"), "Infinity"), (100.0, "100.0"),
])
def test_doubles_render_like_java(value, text):
    assert java_double(value) == text


def test_reals_render_with_float_precision():
    assert java_float(0.10000000149011612) == "0.1"  # the float32 nearest to 0.1
    assert java_float(1.5e10) == "1.5E10"


def test_values_render_like_trino():
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    cur = con.execute("SELECT true, DATE '2026-01-02', TIMESTAMP '2026-01-02 03:04:05.678912', "
                      "[1, NULL], {'a': 1, 'b': 'x'}, MAP(['k'], [2.5::DOUBLE]), 1.50::DECIMAL(5,2), "
                      "'\\x01\\xff'::BLOB, [[1], [2, 3]], TIMESTAMPTZ '2026-01-02 03:04:05.6+00'")
    result = ResultSet.from_duckdb([f"c{i}" for i in range(10)], [d[1] for d in cur.description], cur.fetchall())
    assert result.rows[0] == ["true", "2026-01-02", "2026-01-02 03:04:05.678", "[1, null]", "{a=1, b=x}",
                              "{k=2.5}", "1.50", "01 ff", "[[1], [2, 3]]", "2026-01-02 03:04:05.600 UTC"]
    assert [c["Type"] for c in result.column_info()][:7] == [
        "boolean", "date", "timestamp", "array", "row", "map", "decimal"]
    assert result.column_info()[6]["Precision"] == 5 and result.column_info()[6]["Scale"] == 2


def test_result_csv_quotes_everything_but_null():
    result = ResultSet(["a", "b"], [], [["x\"y", None], ["", "1"]], header=True)
    assert result.csv_bytes() == b'"a","b"\n"x""y",\n"","1"\n'


@pytest.mark.parametrize(("value", "sql"), [
    ("'abc'", "'abc'"), ("42", "42"), ("-1.5", "-1.5"), ("DATE '2026-11-20'", "CAST('2026-11-20' AS DATE)"),
    ("NULL", "NULL"), ("true", "TRUE"),
    # Athena binds what does not parse as one expression, or mentions an identifier, as a string
    ("1; DROP TABLE x", "'1; DROP TABLE x'"), ("abc", "'abc'"), ("it's", "'it''s'"),
    ("x'); DROP TABLE t; --", "'x''); DROP TABLE t; --'"),
])
def test_parameter_values_are_literals(value, sql):
    assert parse_value(value).sql("athena") == sql


@pytest.mark.parametrize("value", ["1 OR 1=1", "now()", "1 + 1"])
def test_parameter_expressions_are_refused(value):
    from sandbox.athena.errors import QueryFailed

    with pytest.raises(QueryFailed, match="INVALID_PARAMETER_USAGE"):
        parse_value(value)


def test_placeholders_in_strings_and_comments_are_not_parameters():
    text, markers = mark_placeholders("SELECT '?', \"a?\", ? -- ?\nFROM t WHERE x = ?")
    assert len(markers) == 2
    assert text.count("?") == 3 and len(text) == len("SELECT '?', \"a?\", ? -- ?\nFROM t WHERE x = ?")


def test_hive_partition_paths_escape_like_hive():
    assert hive_escape("a/b:c") == "a%2Fb%3Ac"
    assert hive_path(["dt", "h"], ("2026-01-01", None)) == "dt=2026-01-01/h=__HIVE_DEFAULT_PARTITION__"


def unique_token() -> str:
    return uuid.uuid4().hex


__all__ = ["Athena", "json_lines", "json_storage", "text_storage", "unique_token"]


# -- translation, pruning and result memory --------------------------------------------------------
def _plan(sql: str):
    import sqlglot

    from sandbox.athena.translate import Planner

    return Planner(None, "db", sql).plan(sqlglot.parse_one(sql, read="athena"))


def test_translation_applies_athena_semantics():
    plan = _plan("SELECT 0.5, date_add('day', 1, DATE '2026-01-31'), format('%s/%d', 1.5e0, 2), 7 / 2, count(*) "
                 "FROM (VALUES 1) AS t(x)")
    assert plan.names == ["_col0", "_col1", "_col2", "_col3", "_col4"]
    assert "CAST(0.5 AS DOUBLE)" in plan.sql
    assert "CAST(CAST('2026-01-31' AS DATE) + INTERVAL 1 DAY AS DATE)" in plan.sql
    assert "PRINTF('%s/%d', ATHENA_DOUBLE_TEXT(1.5" in plan.sql  # Java's %s of a double
    assert "AS INT) AS _col3" in plan.sql


def test_translation_refuses_what_duckdb_would_answer_differently():
    from sandbox.athena.errors import QueryFailed

    for sql, name in [("SELECT typeof(1)", "NOT_SUPPORTED"), ("SELECT epoch_ms(1)", "FUNCTION_NOT_FOUND"),
                      ("SELECT format('%,d', 1000)", "NOT_SUPPORTED"), ("SELECT 'a' < 1", "TYPE_MISMATCH"),
                      ("SELECT date_add('day', 1, '2026-01-01')", "FUNCTION_NOT_FOUND")]:
        with pytest.raises(QueryFailed) as e:
            _plan(sql)
        assert e.value.name == name, sql


def test_pruning_sees_only_safe_conjuncts():
    import sqlglot
    from sqlglot import exp

    from sandbox.athena.pruning import conjuncts, eligible_sources, is_partition_conjunct

    tree = sqlglot.parse_one(
        "SELECT * FROM t JOIN u ON t.a = u.a LEFT JOIN v ON v.a = t.a WHERE t.dt = '1' AND (u.dt > '2' "
        "AND t.a > 1) AND v.dt = '3' AND t.dt = (SELECT max(dt) FROM w) AND rand() > t.dt", read="athena")
    select = tree.find(exp.Select)
    assert sorted(eligible_sources(select)) == ["t", "u"]  # v is null-extended by the LEFT JOIN
    found = [c.sql() for c in conjuncts(select.args["where"]) if is_partition_conjunct(c, "t", {"dt"})]
    assert found == ["t.dt = '1'"]


def test_result_memory_evicts_oldest_and_csv_reads_back():
    from types import SimpleNamespace

    from sandbox.athena.results import parse_csv
    from sandbox.athena.service import ResultMemory

    memory = ResultMemory(budget_cells=4)
    old = SimpleNamespace(id="a", result=ResultSet(["x"], [], [["1"], ["2"], ["3"]], header=True))
    new = SimpleNamespace(id="b", result=ResultSet(["x"], [], [["4"], ["5"]], header=True))
    memory.keep(old)
    memory.keep(new)
    assert old.result.evicted and old.result.rows == [] and not new.result.evicted
    original = ResultSet(["a", "b"], [], [['x"y\n,z', None], ["", "1"], [None, None]], header=True)
    assert parse_csv(original.csv_bytes().decode()) == original.all_rows()
