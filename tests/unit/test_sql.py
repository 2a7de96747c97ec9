"""Named parameters become Athena ExecutionParameters; nothing from outside is pasted into SQL."""

from datetime import date, datetime

import pytest

from batchml.sql import SqlParameterError, bind, literal, placeholders, unload


def test_bind_replaces_named_placeholders_in_order():
    sql, params = bind("SELECT * FROM t WHERE dt BETWEEN :start AND :end AND n > :n",
                       {"start": date(2026, 1, 1), "end": "2026-01-31", "n": 3})
    assert sql == "SELECT * FROM t WHERE dt BETWEEN ? AND ? AND n > ?"
    assert params == ["'2026-01-01'", "'2026-01-31'", "3"]


def test_placeholders_inside_strings_and_comments_are_not_parameters():
    sql = "SELECT ':nope' AS a, x FROM t -- :comment\nWHERE a = :real /* :block */"
    assert [name for name, _, _ in placeholders(sql)] == ["real"]
    bound, params = bind(sql, {"real": 1})
    assert "':nope'" in bound and "-- :comment" in bound and params == ["1"]


def test_repeated_placeholder_is_bound_each_time():
    sql, params = bind("SELECT :d AS a, :d AS b", {"d": "x"})
    assert sql == "SELECT ? AS a, ? AS b" and params == ["'x'", "'x'"]


@pytest.mark.parametrize("values, message", [
    ({}, "missing: \\['d'\\]"),
    ({"d": 1, "extra": 2}, "not used: \\['extra'\\]"),
])
def test_missing_or_unused_parameters_are_errors(values, message):
    with pytest.raises(SqlParameterError, match=message):
        bind("SELECT :d", values)


@pytest.mark.parametrize("value, expected", [
    ("O'Brien", "'O''Brien'"),
    ("x'; DROP TABLE sales; --", "'x''; DROP TABLE sales; --'"),
    (True, "true"), (7, "7"), (2.5, "2.5"),
    (datetime(2026, 1, 2, 3, 4, 5), "TIMESTAMP '2026-01-02 03:04:05.000'"),
])
def test_literals_quote_everything_that_is_text(value, expected):
    assert literal(value) == expected


@pytest.mark.parametrize("value", [float("nan"), [1], {"a": 1}, None])
def test_values_without_a_literal_are_refused(value):
    with pytest.raises(SqlParameterError):
        literal(value)


def test_unload_wraps_the_select():
    statement = unload("SELECT 1 AS a;", "s3://bucket-name/ml/extract/dt=2026-11-20/training/")
    assert statement.startswith("UNLOAD (\nSELECT 1 AS a\n)\nTO 's3://bucket-name/ml/extract/dt=2026-11-20/training/'")
    assert "format = 'PARQUET'" in statement


@pytest.mark.parametrize("target", ["s3://b/x", "s3://bucket/x'/", "https://bucket/x/", "s3://bucket/a b/"])
def test_unload_refuses_targets_that_are_not_plain_s3_prefixes(target):
    with pytest.raises(ValueError):
        unload("SELECT 1", target)


def _render(name: str) -> str:
    """A .sql file as Airflow renders it (Jinja, the DAG's template_searchpath)."""
    import jinja2

    from batchml.config import INCLUDE_DIR

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(INCLUDE_DIR / "sql"))).get_template(name).render()


def test_extract_columns_are_the_ones_the_settings_are_checked_against():
    import sqlglot

    from batchml.demand_forecast.contract import scripts

    for name, columns in (("extract_training", scripts().TRAINING_COLUMNS), ("extract_scoring", scripts().SCORING_COLUMNS)):
        select, _ = bind(_render(f"demand_forecast/{name}.sql"), {p: "x" for p, _, _ in placeholders(
            _render(f"demand_forecast/{name}.sql"))})
        assert tuple(sqlglot.parse_one(select, read="athena").named_selects) == columns, name


def test_profile_query_binds_the_parameters_the_dag_passes_and_measures_every_column():
    from batchml.demand_forecast.contract import scripts
    from batchml.demand_forecast.requests import profile_parameters
    from tests.unit.sample_plan import sample_plan

    text = _render("demand_forecast/profile_extracts.sql")
    params = profile_parameters(sample_plan())
    select, bound = bind(text, params)  # raises if the DAG passes one too many or too few
    assert "FROM sales AS s" in select and "CROSS JOIN calendar AS c" in select  # both extracts, included
    assert params["min_units"] == 0 and params["series_max_ratio"] == 15.0
    assert "'2026-11-20'" in bound and "2026-11-20" not in select  # values travel as ExecutionParameters
    for column in scripts().TRAINING_COLUMNS:
        assert f"AS null_{column}" in select and f"AS d_null_{column}" in select
