"""Features for the daily demand forecast, shared by preprocess.py, train.py, evaluate.py and
inference.py so that training and serving can never compute them differently.

The model is direct multi-horizon: one row per (series, forecast origin o, horizon h), predicting units
sold on day t = o + h from what was known at the end of day o, plus what is known in advance about t
(weekday, holiday, planned promotion). Sales are held as a dense series x day matrix in which a missing
row is NaN, not zero: a gap in the feed is not a day without sales.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

KEYS = ["store_id", "item_id"]
FEATURES = [
    "horizon_days", "day_of_week", "is_holiday", "on_promotion", "doy_sin", "doy_cos",
    "lag_same_weekday", "mean_same_weekday_4w", "mean_7", "mean_28", "last_year_ratio", "promo_share_28",
    "store_id", "item_id",
]
CATEGORICAL = ["store_id", "item_id"]
MAX_HORIZON = 7  # lag_same_weekday needs t - 7 <= o


@dataclass
class Panel:
    """Sales history as matrices indexed [series, day]; day 0 is the first day of the window."""

    series: pd.DataFrame  # store_id, item_id in row order
    days: pd.DatetimeIndex
    units: np.ndarray  # float, NaN where no row
    promo: np.ndarray  # bool, planned or actual promotion
    holiday: np.ndarray  # bool per day

    @classmethod
    def from_history(cls, history: pd.DataFrame) -> Panel:
        h = history.copy()
        h["sales_date"] = pd.to_datetime(h["sales_date"])
        days = pd.date_range(h["sales_date"].min(), h["sales_date"].max(), freq="D")
        series = h[KEYS].drop_duplicates().sort_values(KEYS).reset_index(drop=True)
        s_index = pd.MultiIndex.from_frame(series)
        rows = s_index.get_indexer(pd.MultiIndex.from_frame(h[KEYS]))
        cols = ((h["sales_date"] - days[0]).dt.days).to_numpy()
        units = np.full((len(series), len(days)), np.nan)
        units[rows, cols] = h["units_sold"].astype(float).to_numpy()
        promo = np.zeros((len(series), len(days)), dtype=bool)
        promo[rows, cols] = h["on_promotion"].fillna(False).astype(bool).to_numpy()
        holiday = np.zeros(len(days), dtype=bool)
        flagged = h.loc[h["is_holiday"].fillna(False).astype(bool), "sales_date"]
        holiday[((flagged - days[0]).dt.days).unique()] = True
        return cls(series, days, units, promo, holiday)

    @property
    def last_day(self) -> pd.Timestamp:
        return self.days[-1]

    def index_of(self, day) -> int:
        return int((pd.Timestamp(day) - self.days[0]).days)

    def _window_mean(self, start: int, stop: int) -> np.ndarray:
        """nanmean over days [start, stop) per series; NaN where the window leaves the panel or is empty."""
        if start < 0 or stop > len(self.days) or stop <= start:
            return np.full(len(self.series), np.nan)
        block = self.units[:, start:stop]
        counts = np.sum(~np.isnan(block), axis=1)
        sums = np.nansum(block, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)

    def _at(self, day: int) -> np.ndarray:
        if 0 <= day < len(self.days):
            return self.units[:, day]
        return np.full(len(self.series), np.nan)

    def rows(self, origin: int, horizon: int, calendar: pd.DataFrame | None = None) -> pd.DataFrame:
        """Feature rows for every series at one origin and horizon. Target-day facts come from the
        panel, or from ``calendar`` (store_id, item_id, forecast_date, is_holiday, on_promotion) when
        the target day lies beyond it (scoring)."""
        if not 1 <= horizon <= MAX_HORIZON:
            raise ValueError(f"horizon must be 1..{MAX_HORIZON}, got {horizon}")
        t = origin + horizon
        target_day = self.days[0] + pd.Timedelta(days=t)
        out = self.series.copy()
        out["forecast_date"] = target_day.date()
        out["horizon_days"] = horizon
        out["day_of_week"] = target_day.isoweekday()
        doy = target_day.dayofyear
        out["doy_sin"] = np.sin(2 * np.pi * doy / 365.25)
        out["doy_cos"] = np.cos(2 * np.pi * doy / 365.25)
        if t < len(self.days):
            out["is_holiday"] = bool(self.holiday[t])
            out["on_promotion"] = self.promo[:, t]
        else:
            if calendar is None:
                raise ValueError(f"{target_day.date()} is past the history: the scoring calendar is needed")
            known = calendar[pd.to_datetime(calendar["forecast_date"]) == target_day]
            merged = out[KEYS].merge(known[[*KEYS, "is_holiday", "on_promotion"]], on=KEYS, how="left")
            out["is_holiday"] = merged["is_holiday"].fillna(False).astype(bool).to_numpy()
            out["on_promotion"] = merged["on_promotion"].fillna(False).astype(bool).to_numpy()
        weekly = np.stack([self._at(t - 7 * k) for k in range(1, 5)])
        out["lag_same_weekday"] = weekly[0]
        with np.errstate(invalid="ignore"):
            counts = np.sum(~np.isnan(weekly), axis=0)
            out["mean_same_weekday_4w"] = np.where(counts > 0, np.nansum(weekly, axis=0) / np.maximum(counts, 1), np.nan)
        out["mean_7"] = self._window_mean(origin - 6, origin + 1)
        mean_28 = self._window_mean(origin - 27, origin + 1)
        out["mean_28"] = mean_28
        last_year_then = self._window_mean(t - 364 - 3, t - 364 + 4)
        last_year_base = self._window_mean(origin - 364 - 27, origin - 364 + 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["last_year_ratio"] = np.where(last_year_base > 0, last_year_then / last_year_base, np.nan)
        out["promo_share_28"] = self.promo[:, max(0, origin - 27):origin + 1].mean(axis=1)
        out["actual"] = self._at(t)
        out["seasonal_naive"] = self._at(t - 7)
        return out

    def examples(self, origins: range, horizons: range) -> pd.DataFrame:
        frames = [self.rows(o, h) for o in origins for h in horizons]
        return pd.concat(frames, ignore_index=True)


def design_matrix(frame: pd.DataFrame, categories: dict[str, list[str]],
                  features: list[str] | None = None) -> pd.DataFrame:
    """The model's input: its features in order, categoricals as codes of the categories seen in
    training (an unseen store or item becomes NaN, which the model treats as missing)."""
    features = features or FEATURES
    X = frame[features].copy()
    for column in [c for c in CATEGORICAL if c in features]:
        lookup = {value: code for code, value in enumerate(categories[column])}
        X[column] = frame[column].map(lookup).astype(float)
    for column in [c for c in ("is_holiday", "on_promotion") if c in features]:
        X[column] = X[column].astype(float)
    return X.astype(float)


def wape(actual: np.ndarray, predicted: np.ndarray) -> float:
    total = float(np.sum(np.abs(actual)))
    return float(np.sum(np.abs(actual - predicted)) / total) if total > 0 else float("nan")


def metrics(actual, predicted) -> dict[str, float]:
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    keep = ~(np.isnan(actual) | np.isnan(predicted))
    a, p = actual[keep], predicted[keep]
    total = float(np.sum(a))
    return {
        "wape": wape(a, p),
        "mae": float(np.mean(np.abs(a - p))) if len(a) else float("nan"),
        "bias": float((np.sum(p) - total) / total) if total > 0 else float("nan"),
        "rows": int(len(a)),
    }
