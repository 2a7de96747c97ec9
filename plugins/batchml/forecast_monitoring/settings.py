"""The settings of forecast_monitoring (``include/config/forecast_monitoring.yaml``), one typed model.

The common part (name, owner, first partition, retries, timeouts, loading) is ``batchml.config.PipelineBase``;
this adds what the monitor measures and when it alerts.
"""

from __future__ import annotations

from pydantic import Field

from batchml.config import IDENTIFIER, NAME, PipelineBase, Strict, number


class MonitoringData(Strict):
    sales_arrival_timeout_hours: float = Field(gt=0, le=48, description="How long to wait for day A's raw sales.")
    sales_poke_seconds: float = Field(ge=1, le=3600, description="How often to look for day A's raw sales.")


class AccuracySettings(Strict):
    horizon_days: int = Field(ge=1, le=7, description="Forecasts for A come from the partitions A-1 .. A-N.")


class DriftSettings(Strict):
    current_days: int = Field(ge=1, le=28, description="The latest days (ending at A) compared with the reference.")
    reference_days: int = Field(ge=7, le=365, description="The last days of the champion's training window that "
                                                          "the latest days are compared with.")


class MonitoringAlerts(Strict):
    slack_conn_id: str = Field(pattern=NAME, description="Connection of type slack (bot token) or slackwebhook.")
    rolling_days: int = Field(ge=1, le=28, description="Days pooled into the rolling WAPE at horizon 1.")
    max_wape_h1: number("A warning when the rolling WAPE at horizon 1 exceeds this.", gt=0)
    max_psi: number("A warning when the PSI of an input exceeds this (0.1 moderate, 0.25 large).", gt=0)
    page_after_days: int = Field(ge=1, le=28, description="Page when a breach lasts this many consecutive days.")


class MonitoringSettings(PipelineBase):
    """The validated settings file of forecast_monitoring."""

    monitors: str = Field(pattern=IDENTIFIER, description="The pipeline whose published forecasts are checked; "
                                                          "its `<pipeline>_env` Variable says where they are.")
    data: MonitoringData
    accuracy: AccuracySettings
    drift: DriftSettings
    alerts: MonitoringAlerts

    @property
    def environment_pipeline(self) -> str:
        # The monitor reads the forecast pipeline's tables, bucket and registry and alerts its on-call: one
        # Variable per deployment, not a second copy of it that could drift.
        return self.monitors
