"""SELECT through the sandbox's Athena: real SQL over Glue tables in S3, with Athena's semantics."""

# The SQL under test interpolates the test's own bucket and database names, never user input.
# ruff: noqa: S608

from __future__ import annotations

import gzip
from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest
from botocore.exceptions import ClientError

from tests.sandbox.test_athena_support import Athena, json_lines, json_storage, text_storage


@pytest.fixture
def athena(aws, unique, sandbox) -> Athena:
    return Athena(aws, unique, sandbox)


@pytest.fixture
def sales(athena: Athena) -> Athena:
    """A Parquet table with one column of each common type."""
    athena.table("sales", [("id", "int"), ("amount", "double"), ("qty", "bigint"), ("name", "string"),
                           ("ok", "boolean"), ("day", "date"), ("ts", "timestamp"), ("price", "decimal(10,2)"),
                           ("tags", "array<string>"), ("attrs", "struct<color:string,size:int>")])
    athena.put_parquet("sales/part-0.parquet", pa.table({
        "id": pa.array([1, 2, 3], pa.int32()),
        "amount": [10.0, 0.1, None],
        "qty": pa.array([7, 8, 9], pa.int64()),
        "name": ["a", 'say "hi"', None],
        "ok": [True, False, None],
        "day": [date(2026, 1, 1), date(2026, 1, 2), None],
        "ts": [datetime(2026, 1, 1, 12, 30, 0, 123456), datetime(2026, 1, 2), None],
        "price": pa.array([Decimal("1.50"), Decimal("20.00"), None], pa.decimal128(10, 2)),
        "tags": [["x", "y"], [], None],
        "attrs": [{"color": "red", "size": 1}, {"color": None, "size": 2}, None],
    }))
    athena.put("sales/_SUCCESS", b"")  # Hive ignores files starting with _ or .
    athena.put("sales/.part-0.parquet.crc", b"not parquet")
    return athena


def test_select_returns_athena_rendering_names_and_types(sales: Athena):
    execution = sales.ok("SELECT * FROM sales ORDER BY id")
    rows, columns, _ = sales.results(execution["QueryExecutionId"])
    assert rows[0] == ["id", "amount", "qty", "name", "ok", "day", "ts", "price", "tags", "attrs"]
    assert rows[1] == ["1", "10.0", "7", "a", "true", "2026-01-01", "2026-01-01 12:30:00.123", "1.50",
                       "[x, y]", "{color=red, size=1}"]
    assert rows[2] == ["2", "0.1", "8", 'say "hi"', "false", "2026-01-02", "2026-01-02 00:00:00.000", "20.00",
                       "[]", "{color=null, size=2}"]
    assert rows[3] == ["3", None, "9", None, None, None, None, None, None, None]
    assert [c["Type"] for c in columns] == ["integer", "double", "bigint", "varchar", "boolean", "date",
                                            "timestamp", "decimal", "array", "row"]
    assert columns[7]["Precision"] == 10 and columns[7]["Scale"] == 2
    assert execution["StatementType"] == "DML" and execution["SubstatementType"] == "SELECT"
    assert execution["Statistics"]["DataScannedInBytes"] > 0


def test_count_if_over_no_rows_is_zero_as_in_trino(sales: Athena):
    # DuckDB answers NULL here; Trino (Athena) answers 0, in an aggregate and in a window alike.
    assert sales.query("SELECT count_if(qty > 100), count(*) FROM sales WHERE id > 99") == [["0", "0"]]
    rows = sales.query("SELECT id, count_if(qty > 100) OVER (PARTITION BY id) AS n FROM sales ORDER BY id")
    assert [r[1] for r in rows] == ["0", "0", "0"]


def test_null_has_no_varchar_value(sales: Athena):
    qid = sales.ok("SELECT name FROM sales WHERE id = 3")["QueryExecutionId"]
    data = sales.client.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"][1]["Data"]
    assert data == [{}]


def test_results_file_is_athena_csv_with_metadata(sales: Athena):
    execution = sales.ok("SELECT id, name FROM sales ORDER BY id")
    location = execution["ResultConfiguration"]["OutputLocation"]
    assert location == f"{sales.output}{execution['QueryExecutionId']}.csv"
    assert sales.get(location) == b'"id","name"\n"1","a"\n"2","say ""hi"""\n"3",\n'
    assert b'"ColumnInfo"' in sales.get(location + ".metadata")


def test_unnamed_columns_are_numbered_like_trino(sales: Athena):
    execution = sales.ok("SELECT id, count(*), id + 1 AS next, max(qty) FROM sales GROUP BY id ORDER BY id")
    rows, _, _ = sales.results(execution["QueryExecutionId"])
    assert rows[0] == ["id", "_col1", "next", "_col3"]


def test_glue_schema_wins_over_the_files(athena: Athena):
    """Columns come from Glue: a file's int32 is read as the declared bigint, a column missing from a
    file reads NULL, and the file's extra columns are invisible."""
    athena.table("t", [("a", "bigint"), ("b", "string"), ("missing", "double")])
    athena.put_parquet("t/f1.parquet", {"a": pa.array([1], pa.int32()), "b": ["x"], "extra": [5]})
    rows, columns, _ = athena.results(athena.ok("SELECT * FROM t")["QueryExecutionId"])
    assert rows == [["a", "b", "missing"], ["1", "x", None]]
    assert [c["Type"] for c in columns] == ["bigint", "varchar", "double"]


def test_timestamps_are_read_at_millisecond_precision(athena: Athena):
    athena.table("ts", [("t", "timestamp")])
    athena.put_parquet("ts/f.parquet", {"t": [datetime(2026, 1, 1, 0, 0, 0, 123500), datetime(2026, 1, 1, 0, 0, 0, 999900)]})
    assert athena.query("SELECT t, t = TIMESTAMP '2026-01-01 00:00:00.124' FROM ts ORDER BY t") == [
        ["2026-01-01 00:00:00.124", "true"], ["2026-01-01 00:00:01.000", "false"]]


def test_csv_table_lazy_simple_serde(athena: Athena):
    athena.table("csv", [("id", "int"), ("name", "string"), ("amount", "double")], storage=text_storage(","),
                 parameters={"skip.header.line.count": "1"})
    athena.put("csv/a.csv", b"id,name,amount\n1,apple,1.5\n2,,2\nbad,\\N,x\n")
    athena.put("csv/b.csv.gz", gzip.compress(b"id,name,amount\n3,cherry,3.25\n"))
    rows = athena.query("SELECT id, name, amount FROM csv ORDER BY id NULLS LAST")
    # LazySimpleSerDe: an empty string stays '', \N is NULL, an unparsable number is NULL
    assert rows == [["1", "apple", "1.5"], ["2", "", "2.0"], ["3", "cherry", "3.25"], [None, None, None]]


def test_csv_table_open_csv_serde(athena: Athena):
    storage = text_storage()
    storage["SerdeInfo"] = {"SerializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
                            "Parameters": {"separatorChar": ",", "quoteChar": '"'}}
    athena.table("ocsv", [("id", "string"), ("note", "string")], storage=storage)
    athena.put("ocsv/a.csv", b'"1","hello, world"\n"2",""\n')
    assert athena.query("SELECT id, note FROM ocsv ORDER BY id") == [["1", "hello, world"], ["2", ""]]


def test_json_table(athena: Athena):
    athena.table("js", [("id", "int"), ("name", "string"), ("tags", "array<string>")], storage=json_storage())
    athena.put("js/a.json", json_lines({"id": 1, "name": "a", "tags": ["x"]}, {"id": 2}))
    athena.put("js/b.json.gz", gzip.compress(json_lines({"id": 3, "name": "c", "tags": []})))
    assert athena.query("SELECT id, name, tags FROM js ORDER BY id") == [
        ["1", "a", "[x]"], ["2", None, None], ["3", "c", "[]"]]


def test_qualified_names_and_default_database(athena: Athena):
    athena.table("t", [("a", "int")])
    athena.put_parquet("t/f.parquet", {"a": pa.array([1, 2], pa.int32())})
    assert athena.scalar(f"SELECT count(*) FROM {athena.db}.t", database=None) == "2"
    assert athena.scalar(f'SELECT sum(a) FROM awsdatacatalog."{athena.db}"."t"') == "3"


# -- semantic traps: each compares with what Athena returns ----------------------------------------
def test_integer_division_truncates(athena: Athena):
    assert athena.query("SELECT 7/2, -7/2, 7.0/2, 7/2.0e0") == [["3", "-3", "3.5", "3.5"]]


def test_date_add_on_a_date_stays_a_date(athena: Athena):
    rows, columns, _ = athena.results(athena.ok(
        "SELECT date_add('day', 1, DATE '2026-01-31'), CAST(date_add('day', 1, DATE '2026-01-31') AS varchar), "
        "date_add('month', 1, DATE '2026-01-31'), DATE '2026-01-31' + INTERVAL '1' DAY, "
        "date_trunc('month', DATE '2026-03-15'), date_add('hour', 1, TIMESTAMP '2026-01-31 23:30:00')")
        ["QueryExecutionId"])
    assert rows[1] == ["2026-02-01", "2026-02-01", "2026-02-28", "2026-02-01", "2026-03-01", "2026-02-01 00:30:00"]
    assert [c["Type"] for c in columns] == ["date", "varchar", "date", "date", "date", "timestamp"]


def test_date_add_with_a_time_unit_on_a_date_fails(athena: Athena):
    status = athena.fails("SELECT date_add('hour', 1, DATE '2026-01-31')")
    assert status["StateChangeReason"].startswith("INVALID_FUNCTION_ARGUMENT:")


def test_format_is_java_format(athena: Athena):
    assert athena.query("SELECT format('%s-%d', 'a', 1), format('%.2f|%s', 3.14159e0, 42)") == [["a-1", "3.14|42"]]


def test_decimal_literals_are_doubles(athena: Athena):
    rows, columns, _ = athena.results(athena.ok("SELECT 0.1 + 0.2, 1.5, round(2.5)")["QueryExecutionId"])
    assert rows[1] == ["0.30000000000000004", "1.5", "3.0"]
    assert [c["Type"] for c in columns] == ["double", "double", "double"]


def test_doubles_render_like_java(athena: Athena):
    assert athena.query("SELECT 1e7, 1e-4, 1e0, 1234567.5e0, CAST(1 AS double) / 3") == [
        ["1.0E7", "1.0E-4", "1.0", "1234567.5", "0.3333333333333333"]]


def test_comparing_varchar_with_date_is_a_type_mismatch(athena: Athena):
    status = athena.fails("SELECT '2026-01-01' < DATE '2026-01-02'")
    assert status["StateChangeReason"] == "TYPE_MISMATCH: line 1:8: Cannot apply operator: varchar(10) < date"
    assert status["AthenaError"]["ErrorType"] == 1002
    assert athena.fails("SELECT 1 = '1'")["StateChangeReason"].startswith("TYPE_MISMATCH:")


def test_date_format_and_date_parse_patterns(athena: Athena):
    assert athena.query(
        "SELECT date_format(TIMESTAMP '2026-03-05 07:08:09', '%Y-%m-%d %H:%i:%s'), "
        "date_format(TIMESTAMP '2026-03-05 07:08:09', '%M %e, %Y'), "
        "date_parse('2026/03/05 07', '%Y/%m/%d %H'), "
        "date_format(date_add('day', -90, DATE '2026-11-20'), '%Y-%m-%d')") == [
        ["2026-03-05 07:08:09", "March 5, 2026", "2026-03-05 07:00:00.000", "2026-08-22"]]


def test_integer_division_by_zero_fails(athena: Athena):
    status = athena.fails("SELECT 1 / 0")
    assert status["StateChangeReason"] == "DIVISION_BY_ZERO: Division by zero"
    assert status["AthenaError"] == {"ErrorCategory": 2, "ErrorType": 1001, "Retryable": False,
                                     "ErrorMessage": "DIVISION_BY_ZERO: Division by zero"}


def test_integer_overflow_fails(athena: Athena):
    status = athena.fails("SELECT CAST(2147483647 AS integer) + CAST(1 AS integer)")
    assert status["StateChangeReason"].startswith("NUMERIC_VALUE_OUT_OF_RANGE:")


def test_string_concatenation_with_a_number_fails(athena: Athena):
    assert athena.fails("SELECT 'a' || 1")["StateChangeReason"].startswith("FUNCTION_NOT_FOUND:")


def test_date_diff_counts_whole_units(athena: Athena):
    # DuckDB's date_diff counts boundaries crossed (1 day here); Trino counts whole days (0).
    assert athena.query(
        "SELECT date_diff('day', TIMESTAMP '2026-01-01 23:00:00', TIMESTAMP '2026-01-02 01:00:00'), "
        "date_diff('month', DATE '2026-01-15', DATE '2026-02-14'), date_diff('month', DATE '2026-01-31', "
        "DATE '2026-02-28'), date_diff('day', DATE '2026-03-01', DATE '2026-01-01')") == [["0", "0", "1", "-59"]]


def test_casts_to_varchar_read_like_trino(athena: Athena):
    assert athena.query(
        "SELECT CAST(1e7 AS varchar), CAST(0.1e0 AS varchar), CAST(TIMESTAMP '2026-01-01 01:02:03.456' AS varchar), "
        "CAST(TIMESTAMP '2026-01-01 01:02:03' AS varchar), CAST(DATE '2026-01-01' AS varchar), "
        "format('%s', 1e-5)") == [
        ["1.0E7", "0.1", "2026-01-01 01:02:03.456", "2026-01-01 01:02:03", "2026-01-01", "1.0E-5"]]
    assert athena.fails("SELECT CAST(ARRAY[1] AS varchar)")["StateChangeReason"].startswith("TYPE_MISMATCH:")


def test_casts_to_integer_round_half_up_and_refuse_fractions(athena: Athena):
    assert athena.query("SELECT CAST(2.5e0 AS integer), CAST(-2.5e0 AS integer), CAST(0.5e0 AS bigint), "
                        "try_cast('1.5' AS integer), CAST(' 7' AS integer)") == [["3", "-3", "1", None, "7"]]
    status = athena.fails("SELECT CAST('1.5' AS integer)")
    assert status["StateChangeReason"] == "INVALID_CAST_ARGUMENT: Cannot cast '1.5' to INT"
    assert status["AthenaError"]["ErrorType"] == 1100


def test_regexp_extract_and_json_extract_scalar_return_null_like_trino(athena: Athena):
    assert athena.query(
        "SELECT regexp_extract('abc', '[0-9]+'), regexp_extract('a1b22', '[0-9]+'), "
        "json_extract_scalar('{\"a\":{\"b\":1}}', '$.a'), json_extract_scalar('{\"a\":{\"b\":1}}', '$.a.b'), "
        "json_extract_scalar('{\"a\":[1]}', '$.a')") == [[None, "1", None, "1", None]]


def test_decimal_division_and_average_stay_decimal(athena: Athena):
    rows, columns, _ = athena.results(athena.ok(
        "SELECT CAST(1 AS decimal(10,2)) / 3, CAST(10 AS decimal(10,2)) / CAST(4 AS decimal(5,1)), "
        "avg(v) FROM (VALUES CAST(1.5 AS decimal(10,2)), CAST(-2.255 AS decimal(10,2))) AS t(v)")
        ["QueryExecutionId"])
    assert rows[1] == ["0.33", "2.50", "-0.38"]
    assert [(c["Type"], c["Scale"]) for c in columns] == [("decimal", 2), ("decimal", 2), ("decimal", 2)]


def test_missing_table_bucket_fails_instead_of_reading_nothing(athena: Athena):
    athena.glue.create_table(DatabaseName=athena.db, TableInput={
        "Name": "orphan", "StorageDescriptor": {
            "Columns": [{"Name": "a", "Type": "int"}], "Location": "s3://no-such-bucket-for-orphan/x/",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}}})
    status = athena.fails("SELECT count(*) FROM orphan")
    assert "no-such-bucket-for-orphan" in status["StateChangeReason"]


def test_invalid_cast_fails(athena: Athena):
    status = athena.fails("SELECT CAST('abc' AS integer)")
    assert status["StateChangeReason"] == "INVALID_CAST_ARGUMENT: Cannot cast 'abc' to INT"
    assert athena.query("SELECT try_cast('abc' AS integer)") == [[None]]


# -- failures ------------------------------------------------------------------------------------
def test_syntax_error_is_refused_at_start(athena: Athena):
    with pytest.raises(ClientError) as e:
        athena.start("SELEC 1")
    err = e.value.response
    assert err["Error"]["Code"] == "InvalidRequestException"
    assert err["Error"]["Message"].startswith("line 1:1: mismatched input 'SELEC'. Expecting: 'ALTER',")
    assert err["AthenaErrorCode"] == "MALFORMED_QUERY"
    with pytest.raises(ClientError, match=r"line 1:\d+: mismatched input"):
        athena.start("SELECT a FROM t WHERE")
    with pytest.raises(ClientError, match="Only one sql statement is allowed"):
        athena.start("SELECT 1; SELECT 2")


def test_unknown_table_and_schema(athena: Athena):
    status = athena.fails("SELECT * FROM nope")
    assert status["StateChangeReason"] == f"TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.{athena.db}.nope' does not exist"
    assert status["AthenaError"]["ErrorCategory"] == 2 and status["AthenaError"]["ErrorType"] == 1301
    status = athena.fails("SELECT * FROM nodb.t")
    assert status["StateChangeReason"] == "SCHEMA_NOT_FOUND: line 1:15: Schema 'nodb' does not exist"


def test_unknown_column(sales: Athena):
    status = sales.fails("SELECT id,\n  nosuch FROM sales")
    assert status["StateChangeReason"] == ("COLUMN_NOT_FOUND: line 2:3: Column 'nosuch' cannot be resolved or "
                                           "requester is not authorized to access requested resources")
    assert status["AthenaError"]["ErrorType"] == 1006


def test_unknown_and_unsupported_functions(athena: Athena):
    status = athena.fails("SELECT no_such_fn(1)")
    assert status["StateChangeReason"] == "FUNCTION_NOT_FOUND: line 1:8: Function 'no_such_fn' not registered"
    assert status["AthenaError"]["ErrorType"] == 1303
    for sql in ("SELECT format_datetime(TIMESTAMP '2026-01-01 00:00:00', 'yyyy-MM-dd')",
                "SELECT xxhash64(to_utf8('a'))", "SELECT parse_datetime('2026', 'yyyy')"):
        status = athena.fails(sql)
        assert status["StateChangeReason"].startswith("NOT_SUPPORTED:"), status
        assert status["AthenaError"]["ErrorType"] == 1200


def test_duckdb_only_functions_are_not_functions_in_athena(athena: Athena):
    # DuckDB has strftime and list_sum; Athena does not, so they must not silently work here.
    assert athena.fails("SELECT strftime(current_date, '%Y')")["StateChangeReason"].startswith("FUNCTION_NOT_FOUND")
    assert athena.fails("SELECT list_sum(ARRAY[1])")["StateChangeReason"].startswith("FUNCTION_NOT_FOUND")


def test_unsupported_statements_fail_loudly(athena: Athena):
    status = athena.fails("DELETE FROM t WHERE a = 1")
    assert status["StateChangeReason"].startswith("NOT_SUPPORTED: the sandbox does not emulate DELETE")


# -- paging --------------------------------------------------------------------------------------
def test_results_page_with_header_on_first_page_only(athena: Athena):
    qid = athena.ok("SELECT n FROM UNNEST(sequence(1, 2500)) AS t(n) ORDER BY n")["QueryExecutionId"]
    rows, columns, pages = athena.results(qid, page_size=1000)
    assert len(pages) == 3
    assert [len(p["ResultSet"]["Rows"]) for p in pages] == [1000, 1000, 501]
    assert rows[0] == ["n"] and rows[1] == ["1"] and rows[-1] == ["2500"]
    assert rows.count(["n"]) == 1
    assert all(p["UpdateCount"] == 0 for p in pages)
    # Trino's sequence() is bigint-only
    assert columns == [{"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": "n", "Label": "n",
                        "Type": "bigint", "Precision": 19, "Scale": 0, "Nullable": "UNKNOWN",
                        "CaseSensitive": False}]


def test_paging_validates_max_results_and_token(athena: Athena):
    qid = athena.ok("SELECT 1")["QueryExecutionId"]
    with pytest.raises(ClientError, match="less than or equal to 1000"):
        athena.client.get_query_results(QueryExecutionId=qid, MaxResults=1001)
    with pytest.raises(ClientError, match="The nextPageToken is malformed: garbage"):
        athena.client.get_query_results(QueryExecutionId=qid, NextToken="garbage")


# -- ExecutionParameters -------------------------------------------------------------------------
def test_execution_parameters_bind_literals(sales: Athena):
    rows = sales.query("SELECT id, name FROM sales WHERE id >= ? AND name <> ? AND day = ? AND '?' = '?' "
                       "ORDER BY id", params=["1", "'b'", "DATE '2026-01-01'"])
    assert rows == [["1", "a"]]
    execution = sales.ok("SELECT ? AS v", params=["'x'"])
    assert execution["ExecutionParameters"] == ["'x'"]


def test_execution_parameters_cannot_inject(sales: Athena):
    # Athena binds a value that is not one expression as a string: no statement is smuggled in.
    assert sales.query("SELECT count(*) FROM sales WHERE name = ?", params=["1; DROP TABLE sales"]) == [["0"]]
    assert sales.query("SELECT ?", params=["x'); DROP TABLE sales; --"]) == [["x'); DROP TABLE sales; --"]]
    status = sales.fails("SELECT count(*) FROM sales WHERE id = ?", params=["1 OR 1=1"])
    assert status["StateChangeReason"].startswith("INVALID_PARAMETER_USAGE:")
    assert sales.scalar("SELECT count(*) FROM sales") == "3"  # the table is still there


def test_execution_parameter_count_must_match(sales: Athena):
    status = sales.fails("SELECT ? + ?", params=["1"])
    assert status["StateChangeReason"] == "INVALID_PARAMETER_USAGE: Incorrect number of parameters: expected 2 but found 1"
    assert status["AthenaError"]["ErrorType"] == 1100
    # values given to a statement without placeholders are ignored, as in Athena
    assert sales.scalar("SELECT 1", params=["5"]) == "1"
