"""Data-quality checks on an extract. Pure functions over a pandas DataFrame: every failed check is
reported, not just the first, because the person fixing the data wants the whole list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


def check_history(
    df: pd.DataFrame,
    *,
    first_day: date,
    last_day: date,
    min_rows: int,
    required_columns: list[str],
    max_null_fraction: dict[str, float],
    min_day_coverage: float,
    min_series: int,
    date_column: str = "sales_date",
    series_columns: tuple[str, ...] = ("store_id", "item_id"),
) -> list[Check]:
    """Row count, required columns, null fractions, and that the days cover the window ending at
    ``last_day`` with nothing outside it (a later day would leak the future into training)."""
    checks = [Check("row_count", len(df) >= min_rows, f"{len(df)} rows (minimum {min_rows})")]
    missing = [c for c in required_columns if c not in df.columns]
    checks.append(Check("required_columns", not missing,
                        f"missing {missing}" if missing else f"all {len(required_columns)} present"))
    for column, limit in sorted(max_null_fraction.items()):
        if column not in df.columns:
            continue
        fraction = float(df[column].isna().mean()) if len(df) else 1.0
        checks.append(Check(f"null_fraction:{column}", fraction <= limit, f"{fraction:.4f} null (maximum {limit})"))
    if date_column in df.columns and len(df):
        days = set(_as_dates(df[date_column]))
        expected = (last_day - first_day).days + 1
        inside = {d for d in days if first_day <= d <= last_day}
        outside = sorted(d for d in days if not first_day <= d <= last_day)
        coverage = len(inside) / expected
        checks.append(Check("date_coverage", coverage >= min_day_coverage,
                            f"{len(inside)} of {expected} days between {first_day} and {last_day} "
                            f"({coverage:.3f}, minimum {min_day_coverage})"))
        checks.append(Check("partition_day_present", last_day in days, f"rows for {last_day}: "
                            f"{'yes' if last_day in days else 'none'}"))
        checks.append(Check("no_days_outside_window", not outside,
                            f"{len(outside)} days outside the window, e.g. {[str(d) for d in outside[:3]]}"
                            if outside else "none"))
    if all(c in df.columns for c in series_columns):
        n = int(df[list(series_columns)].drop_duplicates().shape[0])
        checks.append(Check("series_count", n >= min_series, f"{n} series (minimum {min_series})"))
    return checks


def check_scoring(df: pd.DataFrame, *, first_day: date, horizon_days: int, min_series: int) -> list[Check]:
    """Every active series has one row for each day of the horizon, and nothing else."""
    expected_days = {first_day + timedelta(days=i) for i in range(horizon_days)}
    days = set(_as_dates(df["forecast_date"])) if "forecast_date" in df.columns and len(df) else set()
    series = df[["store_id", "item_id"]].drop_duplicates().shape[0] if len(df) else 0
    duplicates = int(df.duplicated(["store_id", "item_id", "forecast_date"]).sum()) if len(df) else 0
    return [
        Check("scoring_days", days == expected_days,
              f"forecast days {sorted(str(d) for d in days)[:3]}... expected {first_day} + {horizon_days} days"),
        Check("scoring_series", series >= min_series, f"{series} series (minimum {min_series})"),
        Check("scoring_complete", len(df) == series * horizon_days and duplicates == 0,
              f"{len(df)} rows for {series} series x {horizon_days} days, {duplicates} duplicates"),
    ]


def failures(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.passed]


def report(checks: list[Check]) -> dict[str, Any]:
    return {c.name: {"passed": c.passed, "detail": c.detail} for c in checks}


def _as_dates(series) -> list[date]:
    import pandas as pd

    return [d.date() if hasattr(d, "date") else d for d in pd.to_datetime(series).dropna().unique()]
