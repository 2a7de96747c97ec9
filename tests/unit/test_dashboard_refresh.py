"""dashboard_refresh's request builder: which data sets a run refreshes, and the partition each refresh carries."""

from __future__ import annotations

from batchml.dashboard_refresh.requests import event_of, refreshes
from batchml.dashboard_refresh.settings import RefreshSettings

SETTINGS = RefreshSettings.load("dashboard_refresh")
PREDICTIONS, ACCURACY = "demand_forecast.predictions", "demand_forecast.forecast_accuracy"


def _published(day: str):
    """The event demand_forecast's publish step emits (GlueCatalogUpsertPartitionOperator's extra)."""
    extra = {"table": "demand_forecast.predictions", "partition": f"dt='{day}'", "location": "s3://b/p/",
             "action": "created"}
    return event_of(PREDICTIONS, extra, "demand_forecast", f"scheduled__{day}T00:00:00+00:00")


def test_a_predictions_event_refreshes_every_data_set_that_reads_it_once_with_its_partition():
    planned, skipped = refreshes(SETTINGS, [_published("2026-11-20")], "asset_triggered__r1")
    assert skipped == []
    assert [p["data_set_id"] for p in planned] == ["demand-forecast-predictions", "demand-forecast-quality"]
    for p in planned:
        assert p["partitions"] == ["2026-11-20"] and p["assets"] == [PREDICTIONS]
        assert p["ingestion_id"].startswith(f"{p['data_set_id']}-20261120-")


def test_an_accuracy_event_refreshes_only_the_data_set_that_reads_accuracy():
    planned, _ = refreshes(SETTINGS, [event_of(ACCURACY, {"partition": "2026-11-21"}, None, None)], "r2")
    assert [(p["data_set_id"], p["partitions"]) for p in planned] == [("demand-forecast-quality", ["2026-11-21"])]


def test_several_events_make_one_refresh_per_data_set_naming_the_newest_partition():
    events = [_published("2026-11-19"), _published("2026-11-20"), event_of(ACCURACY, {"partition": "2026-11-20"},
                                                                          "forecast_monitoring", "m1")]
    planned, _ = refreshes(SETTINGS, events, "r3")
    quality = next(p for p in planned if p["data_set_id"] == "demand-forecast-quality")
    assert len(planned) == 2
    assert quality["partitions"] == ["2026-11-19", "2026-11-20"] and quality["assets"] == [ACCURACY, PREDICTIONS]
    assert "-20261120-" in quality["ingestion_id"]


def test_a_manual_run_refreshes_everything_and_old_partitions_are_skipped_with_the_reason():
    planned, _ = refreshes(SETTINGS, [], "manual__2026-11-20")
    assert len(planned) == len(SETTINGS.data_sets) and all("-manual-" in p["ingestion_id"] for p in planned)
    planned, skipped = refreshes(SETTINGS, [_published("2025-06-01")], "r4")
    assert planned == [] and skipped == ["demand_forecast.predictions 2025-06-01: before start_date 2026-01-01"]


def test_ingestion_ids_differ_per_run_and_fit_quicksight():
    import re

    a, _ = refreshes(SETTINGS, [_published("2026-11-20")], "r5")
    b, _ = refreshes(SETTINGS, [_published("2026-11-20")], "r6")
    assert a[0]["ingestion_id"] != b[0]["ingestion_id"]
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,120}", p["ingestion_id"]) for p in a)
