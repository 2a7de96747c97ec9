"""The settings of dashboard_refresh (``include/config/dashboard_refresh.yaml``), on the shared ``PipelineBase``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from batchml.config import IDENTIFIER, NAME, PipelineBase, Strict, number

DATA_SET_ID = r"^[A-Za-z0-9_-]{1,100}$"
ASSET_NAME = r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$"


class DataSetRefresh(Strict):
    id: str = Field(pattern=DATA_SET_ID, description="QuickSight data set id.")
    reads: list[str] = Field(min_length=1, description="Asset names (<database>.<table>) the data set reads; a new "
                                                       "event on any of them refreshes it.",
                             json_schema_extra={"items": {"pattern": ASSET_NAME}, "uniqueItems": True})


class RefreshAlerts(Strict):
    slack_conn_id: str = Field(pattern=NAME, description="Connection of type slack (bot token) or slackwebhook.")


class RefreshSettings(PipelineBase):
    """The validated settings file of dashboard_refresh."""

    environment: str = Field(pattern=IDENTIFIER, description="Whose <pipeline>_env Variable gives the AWS "
                                                             "connection, region and Slack channel.")
    data_sets: list[DataSetRefresh] = Field(min_length=1)
    ingestion_type: Literal["FULL_REFRESH", "INCREMENTAL_REFRESH"] = "FULL_REFRESH"
    max_wait_minutes: number("How long one ingestion may run before the try fails.", gt=0, le=1440)
    alerts: RefreshAlerts

    @property
    def environment_pipeline(self) -> str:
        return self.environment

    @property
    def assets(self) -> list[str]:
        """Every Asset some data set reads, in the order the file names them (the DAG's schedule)."""
        return list(dict.fromkeys(name for ds in self.data_sets for name in ds.reads))
