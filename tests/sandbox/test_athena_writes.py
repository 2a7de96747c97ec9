"""Statements that write: UNLOAD, CREATE TABLE AS, INSERT INTO, and Hive DDL on the Glue catalog."""

# The SQL under test interpolates the test's own bucket and database names, never user input.
# ruff: noqa: S608

from __future__ import annotations

import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.sandbox.test_athena_support import Athena


@pytest.fixture
def athena(aws, unique, sandbox) -> Athena:
    athena = Athena(aws, unique, sandbox)
    athena.table("sales", [("store_id", "int"), ("amount", "double"), ("name", "string")],
                 partitions=[("dt", "string")])
    for day, amounts in (("2026-11-19", [1.5, 2.5]), ("2026-11-20", [10.0, 20.0])):
        athena.put_parquet(f"sales/dt={day}/f.parquet", {"store_id": pa.array([1, 2], pa.int32()),
                                                        "amount": amounts, "name": ["a", None]})
        athena.partition("sales", [day], f"s3://{athena.bucket}/sales/dt={day}/")
    return athena


def read_parquet(athena: Athena, uri: str) -> pa.Table:
    return pq.read_table(io.BytesIO(athena.get(uri)))


def test_unload_parquet_with_execution_parameters(athena: Athena):
    execution = athena.ok(f"UNLOAD (SELECT store_id, amount * 2 AS doubled FROM sales WHERE dt = ? ORDER BY 1) "
                          f"TO 's3://{athena.bucket}/extract/run1/' WITH (format = 'PARQUET', compression = 'SNAPPY')",
                          params=["'2026-11-20'"])
    qid = execution["QueryExecutionId"]
    assert execution["StatementType"] == "DML" and execution["SubstatementType"] == "UNLOAD"
    assert execution["ResultConfiguration"]["OutputLocation"] == f"{athena.output}{qid}"
    manifest = execution["Statistics"]["DataManifestLocation"]
    assert manifest == f"{athena.output}{qid}-manifest.csv"
    files = athena.get(manifest).decode().split()
    assert files and all(f.startswith(f"s3://{athena.bucket}/extract/run1/") for f in files)
    table = pa.concat_tables([read_parquet(athena, f) for f in files])
    assert table.column_names == ["store_id", "doubled"]
    assert sorted(table.to_pylist(), key=lambda r: r["store_id"]) == [
        {"store_id": 1, "doubled": 20.0}, {"store_id": 2, "doubled": 40.0}]
    resp = athena.client.get_query_results(QueryExecutionId=qid)
    assert resp["UpdateCount"] == 2 and resp["ResultSet"]["Rows"] == []
    assert athena.keys(f"athena-results/{qid}") == [f"athena-results/{qid}-manifest.csv", f"athena-results/{qid}.metadata"]


def test_unload_to_a_non_empty_prefix_fails(athena: Athena):
    athena.put("extract/run2/existing.txt", b"x")
    status = athena.fails(f"UNLOAD (SELECT 1 AS one) TO 's3://{athena.bucket}/extract/run2/' WITH (format = 'PARQUET')")
    assert status["StateChangeReason"].startswith(
        f"HIVE_PATH_ALREADY_EXISTS: Target directory for UNLOAD already exists: s3://{athena.bucket}/extract/run2/")
    assert athena.keys("extract/run2/") == ["extract/run2/existing.txt"]
    # a sibling prefix that merely starts the same way does not count
    athena.ok(f"UNLOAD (SELECT 1 AS one) TO 's3://{athena.bucket}/extract/run' WITH (format = 'PARQUET')")


def test_unload_partitioned_by(athena: Athena):
    execution = athena.ok(f"UNLOAD (SELECT store_id, amount, dt FROM sales) TO 's3://{athena.bucket}/byday/' "
                          "WITH (format = 'PARQUET', partitioned_by = ARRAY['dt'])")
    keys = athena.keys("byday/")
    assert {k.split("/")[1] for k in keys} == {"dt=2026-11-19", "dt=2026-11-20"}
    table = read_parquet(athena, f"s3://{athena.bucket}/{keys[0]}")
    assert table.column_names == ["store_id", "amount"]  # the partition column lives in the path
    assert athena.client.get_query_results(QueryExecutionId=execution["QueryExecutionId"])["UpdateCount"] == 4


def test_unload_textfile_and_json(athena: Athena):
    athena.ok(f"UNLOAD (SELECT store_id, amount, name FROM sales WHERE dt = '2026-11-19' ORDER BY store_id) "
              f"TO 's3://{athena.bucket}/txt/' WITH (format = 'TEXTFILE', field_delimiter = ',')")
    [key] = athena.keys("txt/")
    assert key.endswith(".gz")
    assert gzip.decompress(athena.get(f"s3://{athena.bucket}/{key}")) == b"1,1.5,a\n2,2.5,\\N\n"
    athena.ok(f"UNLOAD (SELECT store_id, name FROM sales WHERE dt = '2026-11-19' ORDER BY store_id) "
              f"TO 's3://{athena.bucket}/json/' WITH (format = 'JSON')")
    [key] = athena.keys("json/")
    lines = gzip.decompress(athena.get(f"s3://{athena.bucket}/{key}")).decode().splitlines()
    assert [json.loads(x) for x in lines] == [{"store_id": 1, "name": "a"}, {"store_id": 2, "name": None}]


def test_ctas_writes_data_and_registers_table_and_partitions(athena: Athena):
    execution = athena.ok(
        f"CREATE TABLE {athena.db}.daily_totals WITH (external_location = 's3://{athena.bucket}/totals/', "
        "format = 'PARQUET', partitioned_by = ARRAY['dt']) AS "
        "SELECT store_id, sum(amount) AS total, count(*) AS n, dt FROM sales GROUP BY store_id, dt")
    qid = execution["QueryExecutionId"]
    assert execution["StatementType"] == "DDL" and execution["SubstatementType"] == "CREATE_TABLE_AS_SELECT"
    assert execution["ResultConfiguration"]["OutputLocation"] == f"{athena.output}tables/{qid}"
    assert athena.client.get_query_results(QueryExecutionId=qid)["UpdateCount"] == 4
    table = athena.glue.get_table(DatabaseName=athena.db, Name="daily_totals")["Table"]
    sd = table["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == [("store_id", "int"), ("total", "double"), ("n", "bigint")]
    assert [(c["Name"], c["Type"]) for c in table["PartitionKeys"]] == [("dt", "string")]
    assert sd["Location"] == f"s3://{athena.bucket}/totals/"
    assert "Parquet" in sd["SerdeInfo"]["SerializationLibrary"]
    assert athena.partition_values("daily_totals") == [["2026-11-19"], ["2026-11-20"]]
    assert athena.query("SELECT dt, sum(total) FROM daily_totals GROUP BY dt ORDER BY dt") == [
        ["2026-11-19", "4.0"], ["2026-11-20", "30.0"]]


def test_ctas_defaults_to_the_result_location_and_refuses_existing_tables(athena: Athena):
    execution = athena.ok("CREATE TABLE copy AS SELECT store_id, name FROM sales WHERE dt = '2026-11-19'")
    qid = execution["QueryExecutionId"]
    location = athena.glue.get_table(DatabaseName=athena.db, Name="copy")["Table"]["StorageDescriptor"]["Location"]
    assert location == f"{athena.output}tables/{qid}/"
    assert athena.query("SELECT count(*) FROM copy") == [["2"]]
    status = athena.fails("CREATE TABLE copy AS SELECT 1 AS a")
    assert status["StateChangeReason"] == f"TABLE_ALREADY_EXISTS: line 1:1: Table 'awsdatacatalog.{athena.db}.copy' already exists"
    athena.ok("CREATE TABLE IF NOT EXISTS copy AS SELECT 1 AS a")


def test_ctas_into_a_non_empty_location_fails(athena: Athena):
    athena.put("occupied/f.txt", b"x")
    status = athena.fails(f"CREATE TABLE t2 WITH (external_location = 's3://{athena.bucket}/occupied/') AS SELECT 1 AS a")
    assert status["StateChangeReason"].startswith(f"HIVE_PATH_ALREADY_EXISTS: Target directory for table '{athena.db}.t2'")
    with pytest.raises(athena.glue.exceptions.EntityNotFoundException):
        athena.glue.get_table(DatabaseName=athena.db, Name="t2")


def test_insert_into_a_partitioned_table(athena: Athena):
    execution = athena.ok("INSERT INTO sales SELECT 3, 99.5, 'new', '2026-11-21'")
    assert execution["SubstatementType"] == "INSERT"
    assert athena.client.get_query_results(QueryExecutionId=execution["QueryExecutionId"])["UpdateCount"] == 1
    assert ["2026-11-21"] in athena.partition_values("sales")
    assert athena.query("SELECT store_id, amount, name FROM sales WHERE dt = '2026-11-21'") == [["3", "99.5", "new"]]


def test_create_external_table_and_query_it(athena: Athena):
    athena.put("ext/a.csv", b"h1|h2\n1|x\n2|y\n")
    execution = athena.ok(
        "CREATE EXTERNAL TABLE IF NOT EXISTS ext (id int, label string) ROW FORMAT DELIMITED "
        f"FIELDS TERMINATED BY '|' STORED AS TEXTFILE LOCATION 's3://{athena.bucket}/ext/' "
        "TBLPROPERTIES ('skip.header.line.count'='1')")
    assert execution["SubstatementType"] == "CREATE_TABLE"
    assert athena.query("SELECT id, label FROM ext ORDER BY id") == [["1", "x"], ["2", "y"]]
    athena.ok(f"CREATE EXTERNAL TABLE pq (v bigint) PARTITIONED BY (dt string) STORED AS PARQUET "
              f"LOCATION 's3://{athena.bucket}/pq/'")
    table = athena.glue.get_table(DatabaseName=athena.db, Name="pq")["Table"]
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert "Parquet" in table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]


def test_create_table_without_location_is_refused_like_athena(athena: Athena):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="No location was specified for table"):
        athena.start("CREATE TABLE nowhere (a int)")


def test_drop_table_create_database_and_show(athena: Athena):
    athena.ok("CREATE TABLE gone AS SELECT 1 AS a")
    rows, columns, _ = athena.results(athena.ok("SHOW TABLES")["QueryExecutionId"])
    assert ["gone"] in rows and columns[0]["Name"] == "tab_name"
    athena.ok("DROP TABLE gone")
    assert athena.fails("SELECT * FROM gone")["StateChangeReason"].startswith("TABLE_NOT_FOUND")
    athena.ok("DROP TABLE IF EXISTS gone")
    assert athena.fails("DROP TABLE gone")["StateChangeReason"].startswith("FAILED: SemanticException")
    athena.ok(f"CREATE DATABASE {athena.db}_extra")
    athena.ok(f"CREATE DATABASE IF NOT EXISTS {athena.db}_extra")
    assert athena.fails(f"CREATE DATABASE {athena.db}_extra")["StateChangeReason"].endswith("already exists")
    rows, _, _ = athena.results(athena.ok(f"SHOW DATABASES LIKE '{athena.db}*'")["QueryExecutionId"])
    assert rows == [[athena.db], [f"{athena.db}_extra"]]
    athena.ok(f"DROP DATABASE {athena.db}_extra")
