"""The data-quality gate and the model gate: pure decisions, every failing reason reported."""

from datetime import date, timedelta

import pandas as pd
import pytest

from batchml.gate import decide
from batchml.quality import check_history, check_scoring, failures

D = date(2026, 11, 20)
START = D - timedelta(days=29)


def history(days=30, series=60, drop_last=False, extra_day=None):
    rows = []
    for i in range(days):
        day = START + timedelta(days=i)
        if drop_last and day == D:
            continue
        for s in range(series):
            rows.append({"store_id": f"S{s % 6}", "item_id": f"I{s}", "sales_date": day, "units_sold": 3,
                         "unit_price": 1.5, "on_promotion": False, "is_holiday": False})
    if extra_day:
        rows.append({**rows[-1], "sales_date": extra_day})
    return pd.DataFrame(rows)


KW = dict(first_day=START, last_day=D, min_rows=100, max_null_fraction={"units_sold": 0.0, "unit_price": 0.01},
          required_columns=["store_id", "item_id", "sales_date", "units_sold", "unit_price"],
          min_day_coverage=0.99, min_series=50)


def test_clean_extract_passes():
    assert failures(check_history(history(), **KW)) == []


def test_every_violation_is_reported_together():
    df = history(drop_last=True, extra_day=D + timedelta(days=1)).drop(columns=["unit_price"])
    df.loc[:10, "units_sold"] = None
    failed = {c.name for c in failures(check_history(df, **KW))}
    assert failed == {"required_columns", "null_fraction:units_sold", "date_coverage",
                      "partition_day_present", "no_days_outside_window"}


def test_too_few_rows_or_series():
    failed = {c.name for c in failures(check_history(history(days=30, series=3), **KW))}
    assert failed == {"row_count", "series_count"}


def test_scoring_must_cover_each_series_and_day_exactly():
    first = D + timedelta(days=1)
    good = pd.DataFrame([{"store_id": "S", "item_id": f"I{s}", "forecast_date": first + timedelta(days=k),
                          "is_holiday": False, "on_promotion": False} for s in range(60) for k in range(7)])
    assert failures(check_scoring(good, first_day=first, horizon_days=7, min_series=50)) == []
    short = good[good.forecast_date != first + timedelta(days=6)]
    assert {c.name for c in failures(check_scoring(short, first_day=first, horizon_days=7, min_series=50))} == {
        "scoring_days", "scoring_complete"}


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
    (evaluation(0.50, 0.60), False, "none", ["absolute"]),
    (evaluation(0.40, 0.41), False, "none", ["baseline"]),  # not 5% better than baseline
    (evaluation(0.50, 0.40, champion=0.3), False, "champion", ["absolute", "baseline", "champion"]),
])
def test_gate(ev, approved, use, failed):
    decision = decide(ev, **GATE)
    assert (decision.approved, decision.use) == (approved, use)
    assert [c["name"] for c in decision.checks if not c["passed"]] == failed
    assert len(decision.reasons) == len(failed)
