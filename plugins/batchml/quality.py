"""The data-quality gate's judgement: pure functions over the one-row profile that Athena computes
(``include/sql/demand_forecast/profile_extracts.sql``) and the ``quality`` settings.

The data is measured where it lives, in Athena; only the measurements (one row) reach the Airflow worker.
Every failed check is reported, not just the first, because the person fixing the data wants the whole list,
and each says what was observed, the bound and why the bound is what it is. A failure here is a problem in the
DATA (the upstream feed), never in the model: the message says so, so on-call starts in the right place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batchml.config import Plausibility, QualitySettings
    from batchml.demand_forecast.plan import Windows


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    observed: str
    bound: str
    reason: str = ""

    @property
    def detail(self) -> str:
        return f"{self.observed} (bound: {self.bound})"

    def describe(self) -> str:
        """The line a page carries: the check, the observed value, the bound and why."""
        return f"{self.name}: {self.observed}; bound {self.bound}" + (f" ({self.reason})" if self.reason else "")


def judge(profile: dict[str, Any], *, quality: QualitySettings, windows: Windows,
          horizon_days: int) -> list[Check]:
    """Every check of the gate, passed or not, from the profile row."""
    return [*_completeness(profile, quality, windows), *_plausibility(profile, quality.plausibility),
            *_scoring(profile, quality, windows, horizon_days)]


def _completeness(p: dict[str, Any], q: QualitySettings, w: Windows) -> list[Check]:
    first, last = w.history_start, w.partition_date
    rows, on_d = _int(p["rows"]), _int(p["rows_on_d"])
    expected_days = (last - first).days + 1
    coverage = _int(p["days_in_window"]) / expected_days
    checks = [
        Check("row_count", rows >= q.min_rows, f"{rows} rows", f">= {q.min_rows}"),
        Check("partition_day_present", on_d > 0, f"{on_d} rows for {last}", "> 0"),
        Check("date_coverage", coverage >= q.min_day_coverage,
              f"{_int(p['days_in_window'])} of {expected_days} days between {first} and {last} ({coverage:.3f})",
              f">= {q.min_day_coverage}"),
        Check("no_days_outside_window", _int(p["rows_outside_window"]) == 0,
              f"{_int(p['rows_outside_window'])} rows outside the window", "0"),
        Check("series_count", _int(p["series"]) >= q.min_series, f"{_int(p['series'])} series",
              f">= {q.min_series}"),
    ]
    if on_d:
        empty = [c for c in q.required_columns if _int(p[f"d_null_{c}"]) == on_d]
        checks.append(Check("required_columns", not empty,
                            f"no value at all on {last} in {empty}" if empty else f"all {len(q.required_columns)} "
                            f"have values on {last}", "every required column has values on D",
                            "a column renamed or dropped upstream reads as NULL" if empty else ""))
    for column, limit in sorted(q.max_null_fraction.items()):
        fraction = _int(p[f"null_{column}"]) / rows if rows else 1.0
        checks.append(Check(f"null_fraction:{column}", fraction <= limit, f"{fraction:.4f} null over the window",
                            f"<= {limit}"))
        if on_d:
            fraction_d = _int(p[f"d_null_{column}"]) / on_d
            checks.append(Check(f"null_fraction_on_d:{column}", fraction_d <= limit,
                                f"{fraction_d:.4f} null on {last}", f"<= {limit}"))
    return checks


def _plausibility(p: dict[str, Any], b: Plausibility) -> list[Check]:
    units, price, total = b.units_sold, b.unit_price, b.day_total
    series, present, dup = b.series_units, b.series_present, b.duplicate_keys
    checks = [
        Check("units_sold_min", _int(p["units_below_min"]) == 0,
              f"{_int(p['units_below_min'])} rows below {units.min} (lowest {p['min_units_seen']} "
              f"on {p['min_units_day']})", f"units_sold >= {units.min}", units.reason),
        Check("unit_price_range", _int(p["price_outside"]) == 0,
              f"{_int(p['price_outside'])} rows outside the range (lowest {p['min_price_seen']}, "
              f"highest {p['max_price_seen']})", f"{price.min} <= unit_price <= {price.max}", price.reason),
        Check("duplicate_keys", _int(p["duplicate_keys"]) <= dup.max,
              f"{_int(p['duplicate_keys'])} (store, item, day) keys with more than one row "
              f"({_int(p['duplicate_rows'])} extra rows, {_int(p['conflicting_keys'])} with conflicting values"
              + (f", e.g. {p['duplicate_example']})" if p.get("duplicate_example") else ")"),
              f"<= {dup.max}", dup.reason),
    ]
    if _int(p["rows_on_d"]):
        median = p.get("baseline_median_total")
        ratio = float(p["total_on_d"] or 0) / float(median) if median else None
        checks.append(Check(
            "day_total_ratio", ratio is not None and total.min_ratio <= ratio <= total.max_ratio,
            f"total units on D {_num(p['total_on_d'])} = {_num(ratio)} x the median daily total "
            f"{_num(median)} of the {_int(p['baseline_days'])} days before",
            f"{total.min_ratio}-{total.max_ratio} x", total.reason))
        checks.append(Check(
            "series_units_ratio", _int(p["series_above"]) == 0,
            f"{_int(p['series_above'])} series above {series.max_ratio} x their own median "
            f"(highest {_num(p['max_series_ratio'])} x, {p['max_series_ratio_key']})",
            f"<= {series.max_ratio} x the series' median of the days before (at least "
            f"{series.floor_units} units)", series.reason))
        compared = _int(p["baseline_series"])
        share = _int(p["baseline_series_on_d"]) / compared if compared else 0.0
        checks.append(Check(
            "series_present_share", share >= present.min_share,
            f"{_int(p['baseline_series_on_d'])} of the {compared} series sold in the days before have a row on D "
            f"({share:.3f})", f">= {present.min_share}", present.reason))
    return checks


def _scoring(p: dict[str, Any], q: QualitySettings, w: Windows, horizon_days: int) -> list[Check]:
    first = w.first_forecast_day
    last = first + timedelta(days=horizon_days - 1)
    rows, series, days = _int(p["scoring_rows"]), _int(p["scoring_series"]), _int(p["scoring_days"])
    seen = (_day(p["scoring_first_day"]), _day(p["scoring_last_day"]))
    duplicates = _int(p["scoring_duplicates"])
    return [
        Check("scoring_days", days == horizon_days and seen == (first, last),
              f"{days} forecast days, {seen[0]} to {seen[1]}", f"{horizon_days} days, {first} to {last}"),
        Check("scoring_series", series >= q.min_series, f"{series} series", f">= {q.min_series}"),
        Check("scoring_complete", rows == series * horizon_days and duplicates == 0,
              f"{rows} rows for {series} series x {horizon_days} days, {duplicates} duplicates",
              "one row per series and day"),
    ]


def failures(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.passed]


def failure_message(failed: list[Check], total: int, partition_date: str) -> str:
    """What the page says: a DATA problem, each failed check with what was seen, the bound and why."""
    return (f"DATA problem, not a model problem: {len(failed)} of {total} data-quality checks failed for "
            f"{partition_date}; nothing was trained or published. " + " | ".join(c.describe() for c in failed))


def report(checks: list[Check]) -> dict[str, Any]:
    return {c.name: {"passed": c.passed, "observed": c.observed, "bound": c.bound} for c in checks}


def _int(value: Any) -> int:
    return int(value or 0)


def _num(value: Any) -> str:
    if value is None:
        return "none"
    value = float(value)
    if abs(value) >= 1e9:
        return f"{value:.3e}"
    return str(int(value)) if value.is_integer() else f"{value:.4g}"


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
