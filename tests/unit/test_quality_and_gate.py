"""The data-quality gate and the model gate: pure decisions, every failing reason reported."""

from datetime import date, timedelta

import pytest

from batchml.config import PipelineSettings
from batchml.demand_forecast.plan import windows
from batchml.gate import decide, summary
from batchml.quality import failure_message, failures, judge

D = date(2026, 11, 20)
QUALITY = PipelineSettings.load("demand_forecast").quality
WINDOWS = windows(D, history_days=548, active_lookback_days=28, horizon_days=7)
assert (WINDOWS.history_start, WINDOWS.first_forecast_day) == (D - timedelta(days=547), D + timedelta(days=1))
COLUMNS = ("store_id", "item_id", "sales_date", "units_sold", "unit_price", "on_promotion", "is_holiday")

# The profile Athena computed for 2026-11-20 of the sandbox's seed (profile_extracts.sql), as the worker reads it.
GOOD = {
    "rows": 272621, "days": 547, "days_in_window": 547, "rows_outside_window": 0,
    "first_day_seen": date(2025, 5, 22), "last_day_seen": D,
    **{f"null_{c}": 0 for c in COLUMNS}, **{f"d_null_{c}": 0 for c in COLUMNS},
    "units_below_min": 0, "min_units_seen": 0, "min_units_day": date(2026, 6, 2),
    "price_outside": 0, "min_price_seen": 1.57, "max_price_seen": 24.37,
    "series": 500, "rows_on_d": 499, "total_on_d": 5263,
    "duplicate_keys": 0, "duplicate_rows": 0, "conflicting_keys": None, "duplicate_example": None,
    "baseline_days": 28, "baseline_median_total": 4478.0,
    "baseline_series": 500, "baseline_series_on_d": 499, "series_above": 0, "max_series_ratio": 3.75,
    "max_series_ratio_key": "S01/I018",
    "scoring_rows": 3500, "scoring_days": 7, "scoring_first_day": date(2026, 11, 21),
    "scoring_last_day": date(2026, 11, 27), "scoring_duplicates": 0, "scoring_series": 500,
}


def failed(**changes) -> dict[str, str]:
    return {c.name: c.describe() for c in failures(judge({**GOOD, **changes}, quality=QUALITY, windows=WINDOWS,
                                                          horizon_days=7))}


def test_a_normal_day_passes_every_check():
    checks = judge(GOOD, quality=QUALITY, windows=WINDOWS, horizon_days=7)
    assert failures(checks) == [] and len(checks) >= 20


def test_negative_units_fail_and_say_where_and_why():
    # Every units_sold of D is -50 (a broken upstream): the lowest value, its day, the bound and the reason.
    found = failed(units_below_min=499, min_units_seen=-50, min_units_day=D, total_on_d=-24950)
    assert found["units_sold_min"].startswith("units_sold_min: 499 rows below 0 (lowest -50 on 2026-11-20); "
                                              "bound units_sold >= 0 (units sold are counts")
    assert found["day_total_ratio"].startswith("day_total_ratio: total units on D -24950 = -5.572 x the median")
    assert "bound 0.25-4.0 x" in found["day_total_ratio"]


def test_inflated_units_fail_the_day_total_and_series_bounds():
    found = failed(total_on_d=499 * 10**12, series_above=499, max_series_ratio=2e11, max_series_ratio_key="S01/I001")
    assert set(found) == {"day_total_ratio", "series_units_ratio"}
    assert "= 1.114e+11 x the median daily total 4478" in found["day_total_ratio"]
    assert "499 series above 15 x their own median (highest 2.000e+11 x, S01/I001)" in found["series_units_ratio"]


def test_duplicate_and_conflicting_keys_fail():
    found = failed(duplicate_keys=40, duplicate_rows=40, conflicting_keys=20, duplicate_example="S01/I001/2026-11-20")
    assert set(found) == {"duplicate_keys"}
    assert ("40 (store, item, day) keys with more than one row (40 extra rows, 20 with conflicting values, "
            "e.g. S01/I001/2026-11-20); bound <= 0") in found["duplicate_keys"]


def test_price_range_and_missing_series_fail():
    found = failed(price_outside=499, max_price_seen=1850.0, baseline_series_on_d=300)
    assert set(found) == {"unit_price_range", "series_present_share"}
    assert "499 rows outside the range (lowest 1.57, highest 1850.0); bound 0.01 <= unit_price <= 1000" in \
        found["unit_price_range"]
    assert "300 of the 500 series sold in the days before have a row on D (0.600); bound >= 0.85" in \
        found["series_present_share"]


def test_a_renamed_column_reads_as_null_on_d_and_fails_the_required_and_null_checks():
    found = failed(d_null_units_sold=499, null_units_sold=499)
    assert set(found) == {"required_columns", "null_fraction:units_sold", "null_fraction_on_d:units_sold"}
    assert "no value at all on 2026-11-20 in ['units_sold']" in found["required_columns"]


def test_an_empty_day_fails_without_judging_its_plausibility():
    found = failed(rows_on_d=0, total_on_d=None, baseline_series_on_d=0, rows=272122, days_in_window=546)
    assert set(found) == {"partition_day_present"}


def test_scoring_grid_must_cover_each_series_and_day_exactly():
    found = failed(scoring_rows=3000, scoring_days=6, scoring_last_day=date(2026, 11, 26))
    assert set(found) == {"scoring_days", "scoring_complete"}


def test_the_page_says_data_problem_names_every_failed_check_and_fits_a_page():
    checks = judge({**GOOD, "units_below_min": 499, "min_units_seen": -50, "min_units_day": D, "total_on_d": -24950,
                    "duplicate_keys": 3, "duplicate_rows": 3, "conflicting_keys": 3}, quality=QUALITY,
                   windows=WINDOWS, horizon_days=7)
    message = failure_message(failures(checks), len(checks), D.isoformat())
    assert message.startswith("DATA problem, not a model problem: 3 of ")
    assert "units_sold_min" in message and "day_total_ratio" in message and "duplicate_keys" in message
    assert len(message) < 1500  # the page's error block keeps 1500 characters


def evaluation(challenger, baseline, champion=None):
    models = {"challenger": {"wape": challenger}, "baseline": {"wape": baseline}, "champion": None}
    if champion is not None:
        models["champion"] = {"wape": champion, "model_package_arn": "arn:champ"}
    return {"models": models}


GATE = dict(max_wape=0.45, min_improvement_over_baseline=0.05, champion_tolerance=0.02)


@pytest.mark.parametrize("ev, approved, use, failed", [
    (evaluation(0.30, 0.50), True, "challenger", []),
    (evaluation(0.30, 0.50, champion=0.29), True, "challenger", []),  # within tolerance
    (evaluation(0.30, 0.50, champion=0.25), False, "champion", ["champion"]),
    # The champion predicts only if it meets the same bar itself on today's holdout.
    (evaluation(0.50, 0.50, champion=0.40), False, "champion", ["absolute", "baseline", "champion"]),
    (evaluation(0.50, 0.50, champion=1.0), False, "none", ["absolute", "baseline", "champion_absolute",
                                                            "champion_baseline"]),
    (evaluation(0.50, 0.45, champion=0.44), False, "none", ["absolute", "baseline", "champion", "champion_baseline"]),
    (evaluation(0.50, 0.60), False, "none", ["absolute"]),
    (evaluation(0.40, 0.41), False, "none", ["baseline"]),  # not 5% better than baseline
    (evaluation(0.50, 0.40, champion=0.3), False, "champion", ["absolute", "baseline", "champion"]),
    (evaluation(0.50, 0.40, champion=0.39), False, "none", ["absolute", "baseline", "champion", "champion_baseline"]),
])
def test_gate(ev, approved, use, failed):
    decision = decide(ev, **GATE)
    assert (decision.approved, decision.use) == (approved, use)
    assert [c["name"] for c in decision.checks if not c["passed"]] == failed
    assert len(decision.reasons) == len(failed)


def test_a_champion_that_could_not_be_scored_does_not_predict():
    ev = evaluation(0.50, 0.60)
    ev["models"]["champion"] = {"wape": None, "model_package_arn": "arn:champ"}
    decision = decide(ev, **GATE)
    assert decision.use == "none" and decision.reasons[-1] == "the champion could not be scored on the holdout"


def test_summary_names_all_three_models():
    assert summary(evaluation(0.5, 0.6, champion=1.0)) == \
        "WAPE on the holdout: challenger 0.5000, champion 1.0000, baseline 0.6000"
