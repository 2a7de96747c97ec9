"""Trino's numeric types through the sandbox's Athena (numeric.py): values and ColumnInfo."""

from __future__ import annotations

import pytest

from tests.sandbox.test_athena_support import Athena


@pytest.fixture
def athena(aws, unique, sandbox) -> Athena:
    return Athena(aws, unique, sandbox)


def typed(athena: Athena, sql: str) -> list[tuple[str | None, str, int, int]]:
    rows, columns, _ = athena.results(athena.ok(sql)["QueryExecutionId"])
    return [(v, c["Type"], c["Precision"], c["Scale"]) for v, c in zip(rows[1], columns, strict=True)]


def test_decimal_arithmetic_types(athena: Athena):
    d = "CAST(2.5 AS decimal(15,2))"
    assert typed(athena, f"SELECT {d} * {d}, {d} + CAST(1 AS decimal(10,4)), {d} - 1, {d} * 1, "
                         f"1 - CAST(0.05 AS decimal(15,2))") == [
        ("6.2500", "decimal", 30, 4), ("3.5000", "decimal", 18, 4), ("1.50", "decimal", 16, 2),
        ("2.50", "decimal", 25, 2), ("0.95", "decimal", 16, 2)]


def test_decimal_division_is_exact_and_rounds_half_up(athena: Athena):
    assert typed(athena, "SELECT CAST(2 AS decimal(10,2)) / CAST(3 AS decimal(10,2)), "
                         "CAST(-1 AS decimal(10,2)) / 8, "
                         "CAST('12345678901234567890.1234' AS decimal(38,4)) / CAST(3 AS decimal(38,4))") == [
        ("0.67", "decimal", 12, 2), ("-0.13", "decimal", 10, 2),
        ("4115226300411522630.0411", "decimal", 38, 4)]


def test_aggregates_follow_trino(athena: Athena):
    assert typed(athena, "SELECT sum(v), avg(v), sum(i), avg(i), sum(v) / sum(v * 2) "
                         "FROM (VALUES (CAST(1.01 AS decimal(15,2)), 1), (CAST(2.02 AS decimal(15,2)), 2), "
                         "(CAST(0.02 AS decimal(15,2)), 4)) AS t(v, i)") == [
        ("3.05", "decimal", 38, 2), ("1.02", "decimal", 15, 2), ("7", "bigint", 19, 0),
        ("2.3333333333333335", "double", 17, 0), ("0.50", "decimal", 38, 2)]


def test_avg_of_decimals_over_a_window_and_of_no_rows(athena: Athena):
    assert athena.query("SELECT avg(v) OVER (ORDER BY i) FROM (VALUES (CAST(1 AS decimal(5,1)), 1), "
                        "(CAST(2 AS decimal(5,1)), 2)) AS t(v, i) ORDER BY i") == [["1.0"], ["1.5"]]
    assert athena.query("SELECT avg(v) FROM (VALUES CAST(1 AS decimal(5,1))) AS t(v) WHERE v > 5") == [[None]]


def test_mixed_with_double_is_double(athena: Athena):
    assert typed(athena, "SELECT CAST(1 AS decimal(15,2)) * 1.0, 100.00 * CAST(1 AS decimal(15,2)) / 3, "
                         "avg(CAST(0.05 AS decimal(15,2)) * 1.0)") == [
        ("1.0", "double", 17, 0), ("33.333333333333336", "double", 17, 0), ("0.05", "double", 17, 0)]


def test_double_division_by_zero_is_infinity_or_nan(athena: Athena):
    assert athena.query("SELECT 1e0 / 0, -1e0 / 0, 0e0 / 0e0, CAST(7 AS double) / 2") == [
        ["Infinity", "-Infinity", "NaN", "3.5"]]


@pytest.mark.parametrize("sql", ["SELECT CAST(1 AS decimal(10,2)) / 0", "SELECT 7 / 0", "SELECT 7 % 0"])
def test_exact_division_by_zero_fails(athena: Athena, sql: str):
    status = athena.fails(sql)
    assert status["StateChangeReason"] == "DIVISION_BY_ZERO: Division by zero"


def test_varchar_plus_number_is_a_type_mismatch(athena: Athena):
    status = athena.fails("SELECT 'a' + 1")
    assert status["StateChangeReason"] == "TYPE_MISMATCH: line 1:8: Cannot apply operator: varchar(1) + integer"
    assert status["AthenaError"]["ErrorType"] == 1002


def test_bitwise_and_is_bigint(athena: Athena):
    assert typed(athena, "SELECT bitwise_and(12, 10)") == [("8", "bigint", 19, 0)]


def test_integer_arithmetic_keeps_integer_types(athena: Athena):
    assert typed(athena, "SELECT 7 / 2, CAST(7 AS bigint) * 2, -CAST(3 AS smallint)") == [
        ("3", "integer", 10, 0), ("14", "bigint", 19, 0), ("-3", "smallint", 5, 0)]


def test_case_and_coalesce_take_the_common_supertype(athena: Athena):
    # sum(CASE ... decimal(31,4) ... ELSE 0 END) must keep scale 4 (TPC-H q14 lost it once).
    assert typed(athena, "SELECT sum(CASE WHEN i > 1 THEN v * (1 - v) ELSE 0 END), coalesce(v, 1), "
                         "CASE WHEN i > 1 THEN 1 ELSE 2.5e0 END FROM (VALUES (CAST(0.25 AS decimal(15,2)), 2)) "
                         "AS t(v, i) GROUP BY v, i") == [
        ("0.1875", "decimal", 38, 4), ("0.25", "decimal", 15, 2), ("1.0", "double", 17, 0)]


def test_rounding_decimals_has_trinos_types(athena: Athena):
    d = "CAST(-1.245 AS decimal(6,3))"
    assert typed(athena, f"SELECT round({d}), round({d}, 2), floor({d}), ceiling({d}), truncate({d}), "
                         f"truncate({d}, 1), round(2.5e0)") == [
        ("-1", "decimal", 4, 0), ("-1.250", "decimal", 7, 3), ("-2", "decimal", 4, 0), ("-1", "decimal", 4, 0),
        ("-1", "decimal", 3, 0), ("-1.200", "decimal", 6, 3), ("3.0", "double", 17, 0)]


def test_avg_of_decimals_with_distinct_and_filter(athena: Athena):
    assert athena.query("SELECT avg(DISTINCT v), avg(v) FILTER (WHERE v > 1), 5e0 % 0 FROM (VALUES "
                        "CAST(1 AS decimal(5,2)), CAST(1 AS decimal(5,2)), CAST(2.5 AS decimal(5,2))) AS t(v)") == [
        ["1.75", "2.50", "NaN"]]


def test_date_parts_and_date_diff_are_bigint_in_arithmetic(athena: Athena):
    assert typed(athena, "SELECT year(DATE '2026-01-01') - 1, date_diff('day', DATE '2026-01-01', "
                         "DATE '2026-02-01') / 7, length('abc') * 2") == [
        ("2025", "bigint", 19, 0), ("4", "bigint", 19, 0), ("6", "bigint", 19, 0)]


def test_sum_of_integers_beyond_bigint_is_out_of_range(athena: Athena):
    status = athena.fails("SELECT sum(x) FROM (VALUES 9223372036854775807, 1) AS t(x)")
    assert status["StateChangeReason"].startswith("NUMERIC_VALUE_OUT_OF_RANGE:")
