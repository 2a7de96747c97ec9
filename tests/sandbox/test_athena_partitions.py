"""Partitioned tables: only registered partitions are visible, each read from its own location,
typed per PartitionKeys, and pruned by the WHERE clause; the partition DDL Athena supports."""

# The SQL under test interpolates the test's own bucket and database names, never user input.
# ruff: noqa: S608

from __future__ import annotations

import pyarrow as pa
import pytest

from tests.sandbox.test_athena_support import Athena


@pytest.fixture
def athena(aws, unique, sandbox) -> Athena:
    return Athena(aws, unique, sandbox)


DAYS = ["2026-01-01", "2026-01-02", "2026-01-03", "2026-02-01", "2026-03-31"]


@pytest.fixture
def daily(athena: Athena) -> Athena:
    """``predictions`` partitioned by ``dt string``: five registered days plus one unregistered."""
    athena.table("predictions", [("store_id", "int"), ("yhat", "double")], partitions=[("dt", "string")])
    for i, day in enumerate(DAYS + ["2026-04-01"]):
        athena.put_parquet(f"predictions/dt={day}/part-0.parquet",
                           {"store_id": pa.array([1, 2], pa.int32()), "yhat": [float(i), float(i) + 0.5]})
        if day != "2026-04-01":  # written, but not yet published to Glue
            athena.partition("predictions", [day], f"s3://{athena.bucket}/predictions/dt={day}/")
    return athena


def scanned(execution: dict) -> int:
    return execution["Statistics"]["DataScannedInBytes"]


def test_only_registered_partitions_are_visible(daily: Athena):
    rows = daily.query("SELECT dt, count(*) FROM predictions GROUP BY dt ORDER BY dt")
    assert rows == [[d, "2"] for d in DAYS]
    assert daily.query("SELECT count(*) FROM predictions WHERE dt = '2026-04-01'") == [["0"]]


def test_partition_column_keeps_its_declared_type(daily: Athena):
    execution = daily.ok("SELECT dt FROM predictions WHERE dt = '2026-01-02' LIMIT 1")
    rows, columns, _ = daily.results(execution["QueryExecutionId"])
    assert rows == [["dt"], ["2026-01-02"]]
    assert columns[0]["Type"] == "varchar"  # not DuckDB's hive auto-cast to DATE
    # and because it is a varchar, comparing it with a DATE is Athena's TYPE_MISMATCH
    status = daily.fails("SELECT count(*) FROM predictions WHERE dt >= DATE '2026-01-01'")
    assert status["StateChangeReason"].startswith("TYPE_MISMATCH:")


def test_each_partition_is_read_from_its_registered_location(athena: Athena):
    athena.table("events", [("n", "int")], partitions=[("dt", "string"), ("hour", "int")])
    athena.put_parquet("elsewhere/x/f.parquet", {"n": pa.array([1, 2, 3], pa.int32())})
    athena.put_parquet("events/dt=2026-01-01/hour=5/f.parquet", {"n": pa.array([9], pa.int32())})
    athena.partition("events", ["2026-01-01", "5"], f"s3://{athena.bucket}/elsewhere/x/")
    rows, columns, _ = athena.results(athena.ok(
        "SELECT dt, hour, sum(n) FROM events GROUP BY dt, hour")["QueryExecutionId"])
    assert rows[1:] == [["2026-01-01", "5", "6"]]
    assert [c["Type"] for c in columns] == ["varchar", "integer", "bigint"]


def test_pruning_reads_only_the_partitions_the_query_needs(daily: Athena):
    full = daily.ok("SELECT count(*) FROM predictions")
    one = daily.ok("SELECT count(*) FROM predictions WHERE dt = ?", params=["'2026-01-02'"])
    assert 0 < scanned(one) and scanned(one) * 5 == pytest.approx(scanned(full), rel=0.05)
    for where, days in [
        ("dt BETWEEN '2026-01-01' AND '2026-01-31'", 3),
        ("dt IN ('2026-02-01', '2026-03-31', '2030-01-01')", 2),
        ("dt >= date_format(date_add('day', -90, date '2026-04-20'), '%Y-%m-%d')", 2),
        ("substr(dt, 1, 7) = '2026-01' AND store_id = 1", 3),
        ("dt > '2026-01-01' OR store_id = 1", 5),  # not analysable per partition: no pruning, still correct
    ]:
        execution = daily.ok(f"SELECT count(*) FROM predictions WHERE {where}")
        assert scanned(execution) == pytest.approx(scanned(full) * days / 5, rel=0.05), where
    assert daily.query("SELECT count(*) FROM predictions WHERE dt > '2026-01-01' OR store_id = 1") == [["9"]]


def test_pruning_avoids_fetching_other_partitions(athena: Athena, sandbox):
    athena.table("big", [("v", "int")], partitions=[("dt", "string")])
    for day in ("2030-01-01", "2030-01-02"):
        athena.put_parquet(f"big/dt={day}/f.parquet", {"v": pa.array(range(100), pa.int32())})
        athena.partition("big", [day], f"s3://{athena.bucket}/big/dt={day}/")
    before = sandbox.client.status()["athena"]["s3_objects_fetched"]
    assert athena.scalar("SELECT sum(v) FROM big WHERE dt = '2030-01-01'") == "4950"
    after_one = sandbox.client.status()["athena"]["s3_objects_fetched"]
    assert after_one - before == 1  # the other day's file was never copied out of S3
    assert athena.scalar("SELECT sum(v) FROM big WHERE dt = '2030-01-01'") == "4950"
    assert sandbox.client.status()["athena"]["s3_objects_fetched"] == after_one  # warm cache


def test_rewritten_object_is_fetched_again(athena: Athena):
    athena.table("t", [("v", "int")])
    athena.put_parquet("t/f.parquet", {"v": pa.array([1], pa.int32())})
    assert athena.scalar("SELECT sum(v) FROM t") == "1"
    athena.put_parquet("t/f.parquet", {"v": pa.array([41], pa.int32())})
    assert athena.scalar("SELECT sum(v) FROM t") == "41"


def test_pruning_is_correct_across_joins_and_outer_joins(daily: Athena):
    rows = daily.query(
        "SELECT a.dt, b.dt FROM predictions a LEFT JOIN predictions b "
        "ON a.store_id = b.store_id AND b.dt = '2026-01-01' "
        "WHERE a.dt = '2026-01-02' AND (b.dt IS NULL OR b.dt = '2026-01-01') ORDER BY 1")
    assert rows == [["2026-01-02", "2026-01-01"], ["2026-01-02", "2026-01-01"]]


def test_alter_table_add_partition(daily: Athena):
    execution = daily.ok("ALTER TABLE predictions ADD PARTITION (dt = '2026-04-01')")
    assert execution["StatementType"] == "DDL"
    assert execution["SubstatementType"] == "ALTER_TABLE_ADD_PARTITION"
    assert execution["ResultConfiguration"]["OutputLocation"].endswith(".txt")
    assert ["2026-04-01"] in daily.partition_values("predictions")
    assert daily.query("SELECT count(*) FROM predictions WHERE dt = '2026-04-01'") == [["2"]]
    part = daily.glue.get_partition(DatabaseName=daily.db, TableName="predictions", PartitionValues=["2026-04-01"])
    assert part["Partition"]["StorageDescriptor"]["Location"] == f"s3://{daily.bucket}/predictions/dt=2026-04-01/"


def test_add_existing_partition_fails_unless_if_not_exists(daily: Athena):
    status = daily.fails("ALTER TABLE predictions ADD PARTITION (dt = '2026-01-01')")
    assert status["StateChangeReason"] == (
        "FAILED: Execution Error, return code 1 from org.apache.hadoop.hive.ql.exec.DDLTask. "
        "AlreadyExistsException(message:Partition already exists.)")
    daily.ok(f"ALTER TABLE {daily.db}.predictions ADD IF NOT EXISTS PARTITION (dt = '2026-01-01') "
             f"PARTITION (dt='2026-05-01') LOCATION 's3://{daily.bucket}/custom/may/'")
    values = daily.partition_values("predictions")
    assert values.count(["2026-01-01"]) == 1 and ["2026-05-01"] in values
    part = daily.glue.get_partition(DatabaseName=daily.db, TableName="predictions", PartitionValues=["2026-05-01"])
    assert part["Partition"]["StorageDescriptor"]["Location"] == f"s3://{daily.bucket}/custom/may/"


def test_msck_repair_adds_missing_partitions(daily: Athena):
    daily.put_parquet("predictions/dt=2026-04-02/_tmp/ignored.parquet", {"store_id": pa.array([1], pa.int32())})
    daily.put_parquet("predictions/not-a-partition/f.parquet", {"store_id": pa.array([1], pa.int32())})
    execution = daily.ok("MSCK REPAIR TABLE predictions")
    assert execution["SubstatementType"] == "MSCK_REPAIR"
    rows, columns, _ = daily.results(execution["QueryExecutionId"])
    assert rows == [["Partitions not in metastore:\tpredictions:dt=2026-04-01"],
                    ["Repair: Added partition to metastore predictions:dt=2026-04-01"]]
    assert columns == []
    assert daily.get(execution["ResultConfiguration"]["OutputLocation"]).decode() == "\n".join(r[0] for r in rows)
    assert ["2026-04-01"] in daily.partition_values("predictions")
    assert ["2026-04-02"] not in daily.partition_values("predictions")
    rows, _, _ = daily.results(daily.ok("MSCK REPAIR TABLE predictions")["QueryExecutionId"])
    assert rows == []  # nothing left to add


def test_show_partitions_and_drop_partition(daily: Athena):
    execution = daily.ok("SHOW PARTITIONS predictions")
    rows, columns, _ = daily.results(execution["QueryExecutionId"])
    assert rows == [[f"dt={d}"] for d in DAYS]  # UTILITY results have no header row
    assert execution["StatementType"] == "UTILITY" and columns[0]["Name"] == "partition"
    daily.ok("ALTER TABLE predictions DROP PARTITION (dt = '2026-01-01')")
    assert ["2026-01-01"] not in daily.partition_values("predictions")
    assert daily.fails("ALTER TABLE predictions DROP PARTITION (dt = '1999-01-01')")["StateChangeReason"].startswith(
        "FAILED: SemanticException [Error 10006]: Partition not found")
    daily.ok("ALTER TABLE predictions DROP IF EXISTS PARTITION (dt = '1999-01-01')")
