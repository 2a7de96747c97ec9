"""When a degrading forecast or drifting inputs reach on-call: the policy, as pure functions of the metrics.

- A day **breaches** when the rolling WAPE at horizon 1 (the absolute errors of the last ``rolling_days``
  days pooled, over their actual units: a quiet day does not weigh as much as a busy one) exceeds
  ``max_wape_h1``, or when any input's PSI exceeds ``max_psi``.
- A breached day A is a **warning** (no on-call mention). When the breach has lasted ``page_after_days``
  consecutive days, ending at A, it is a **page**; the days after that, as long as it lasts, are warnings again
  that say since when it is paged, so one degradation pages once and not every day.
- Each message names the metric, the threshold, the trend (the value on each day of the streak) and the days.
- A day whose metrics are missing (no accuracy partition: the run for it failed or has not run) breaks a streak
  and is named in the message: it is never counted as a breach it did not show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any


@dataclass(frozen=True)
class Breach:
    metric: str  # "rolling WAPE at horizon 1" or "PSI of <feature>"
    value: float
    threshold: float


@dataclass(frozen=True)
class DayMetrics:
    day: date
    rolling_wape_h1: float | None
    psi: dict[str, float]
    breaches: list[Breach]


@dataclass(frozen=True)
class Verdict:
    """What to send for day A: ``kind`` is "ok", "warning" or "page"."""

    kind: str
    day: date
    streak: list[DayMetrics]
    missing_days: list[date] = field(default_factory=list)

    @property
    def breaches(self) -> list[Breach]:
        return self.streak[-1].breaches if self.streak else []


def day_metrics(rows: list[dict[str, Any]], day: date, *, rolling_days: int, max_wape_h1: float,
                max_psi: float) -> DayMetrics:
    """Metrics of ``day`` from the alert-input rows: ``{"dt", "feature", "abs_error", "actual_units", "psi"}``
    (feature ``wape_h1`` carries the horizon-1 errors of a day; the others a PSI)."""
    first = day - timedelta(days=rolling_days - 1)
    pooled = [r for r in rows if r["feature"] == "wape_h1" and first <= _day(r) <= day]
    actual = sum(r["actual_units"] or 0.0 for r in pooled)
    wape = sum(r["abs_error"] or 0.0 for r in pooled) / actual if pooled and actual > 0 else None
    psi = {r["feature"]: float(r["psi"]) for r in rows
           if r["feature"] != "wape_h1" and _day(r) == day and r["psi"] is not None}
    breaches = []
    if wape is not None and wape > max_wape_h1:
        breaches.append(Breach("rolling WAPE at horizon 1", wape, max_wape_h1))
    breaches += [Breach(f"PSI of {name}", value, max_psi) for name, value in sorted(psi.items()) if value > max_psi]
    return DayMetrics(day, wape, psi, breaches)


def judge(rows: list[dict[str, Any]], day: date, *, rolling_days: int, max_wape_h1: float, max_psi: float,
          page_after_days: int) -> Verdict:
    """The verdict for ``day``: the streak of breached days ending at it, and whether that is a page."""
    present = {_day(r) for r in rows if r["feature"] == "wape_h1"}
    streak: list[DayMetrics] = []
    missing: list[date] = []
    d = day
    while True:
        if d not in present and d != day:
            missing.append(d)
            break
        metrics = day_metrics(rows, d, rolling_days=rolling_days, max_wape_h1=max_wape_h1, max_psi=max_psi)
        if not metrics.breaches:
            break
        streak.insert(0, metrics)
        if len(streak) > page_after_days:
            break  # longer than a page needs: it was paged already
        d -= timedelta(days=1)
    if not streak:
        return Verdict("ok", day, [day_metrics(rows, day, rolling_days=rolling_days, max_wape_h1=max_wape_h1,
                                               max_psi=max_psi)], missing)
    kind = "page" if len(streak) == page_after_days else "warning"
    return Verdict(kind, day, streak, missing)


def describe(verdict: Verdict, *, pipeline: str, page_after_days: int, partition_link: str) -> tuple[str, dict[str, str]]:
    """(title, details) of the Slack message: metric, threshold, trend and days."""
    days = [m.day for m in verdict.streak]
    span = f"{days[0]} to {days[-1]}" if len(days) > 1 else str(days[0])
    names = ", ".join(b.metric for b in verdict.breaches)
    if verdict.kind == "page":
        title = f"{pipeline} {verdict.day}: {names} over threshold for {len(days)} consecutive days ({span})"
    elif len(days) > page_after_days:
        title = (f"{pipeline} {verdict.day}: {names} still over threshold, paged on "
                 f"{days[page_after_days - 1]} ({len(days) - 1}+ days since {days[0]})")
    else:
        title = (f"{pipeline} {verdict.day}: {names} over threshold "
                 f"(day {len(days)} of {page_after_days} before a page)")
    details: dict[str, str] = {}
    for b in verdict.breaches:
        trend = " → ".join(f"{m.day:%m-%d} {_value_of(m, b.metric):.3f}" for m in verdict.streak)
        details[b.metric] = f"{b.value:.3f} > threshold {b.threshold:g}; trend {trend}"
    details["Days"] = span
    if verdict.missing_days:
        details["Days without metrics"] = ", ".join(str(d) for d in verdict.missing_days) + \
            " (no accuracy partition: the streak cannot be followed past them)"
    details["Partition"] = partition_link
    return title, details


def _value_of(metrics: DayMetrics, metric: str) -> float:
    if metric.startswith("PSI of "):
        return metrics.psi.get(metric.removeprefix("PSI of "), float("nan"))
    return metrics.rolling_wape_h1 if metrics.rolling_wape_h1 is not None else float("nan")


def _day(row: dict[str, Any]) -> date:
    value = row["dt"]
    return value if isinstance(value, date) else date.fromisoformat(str(value))
