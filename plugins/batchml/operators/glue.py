"""Publish a day's output as a Glue Data Catalog partition: create it, or repoint it.

Why not the Amazon provider's ``GlueCatalogCreatePartitionOperator``: its ``if_exists="skip"`` never
updates an existing partition's location, so a rerun that wrote new files would stay invisible to
Athena; and ``partition_input`` is not templated. ``GlueCatalogHook.create_partition`` also turns every
error into a generic AirflowException, so "already exists" cannot be told apart from "access denied".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowException

from batchml.job_requests import partition_input

if TYPE_CHECKING:
    from airflow.sdk import Context


class GlueCatalogUpsertPartitionOperator(AwsBaseOperator[GlueCatalogHook]):
    """Make ``table(partition_values)`` point at ``location``.

    :param database_name: Glue database. (templated)
    :param table_name: Glue table. (templated)
    :param partition_values: one value per partition key, e.g. ``["2026-11-20"]``. (templated)
    :param location: S3 prefix holding the partition's files. (templated)
    :param if_exists: ``"update"`` (default) repoints an existing partition at ``location``;
        ``"skip"`` leaves it; ``"fail"`` raises.

    The partition inherits the table's columns and storage format. Each outlet asset gets an event whose
    ``extra`` holds the table, partition and location, and whose partition key is the partition value.
    Returns ``{"action": "created"|"updated"|"unchanged", "location", "previous_location"}``.
    """

    aws_hook_class = GlueCatalogHook
    template_fields: Sequence[str] = aws_template_fields("database_name", "table_name", "partition_values", "location")
    ui_color = "#D5F5E3"

    def __init__(
        self,
        *,
        database_name: str,
        table_name: str,
        partition_values: list[str],
        location: str,
        if_exists: Literal["update", "skip", "fail"] = "update",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if if_exists not in ("update", "skip", "fail"):
            raise ValueError(f"if_exists must be 'update', 'skip' or 'fail', got {if_exists!r}")
        self.database_name = database_name
        self.table_name = table_name
        self.partition_values = partition_values
        self.location = location
        self.if_exists = if_exists

    def execute(self, context: Context) -> dict[str, Any]:
        glue = self.hook.conn
        values = [str(v) for v in self.partition_values]
        table = glue.get_table(DatabaseName=self.database_name, Name=self.table_name)["Table"]
        keys = [k["Name"] for k in table.get("PartitionKeys", [])]
        if len(keys) != len(values):
            raise AirflowException(f"{self.database_name}.{self.table_name} is partitioned by {keys}; "
                                   f"got values {values}")
        wanted = partition_input(table, values, self.location)
        previous = None
        try:
            glue.create_partition(DatabaseName=self.database_name, TableName=self.table_name, PartitionInput=wanted)
            action = "created"
        except glue.exceptions.AlreadyExistsException:
            current = glue.get_partition(DatabaseName=self.database_name, TableName=self.table_name,
                                         PartitionValues=values)["Partition"]
            previous = current["StorageDescriptor"].get("Location")
            if self.if_exists == "fail":
                raise AirflowException(f"partition {values} of {self.table_name} exists at {previous}") from None
            if self.if_exists == "skip" or previous == self.location:
                action = "unchanged"
            else:
                glue.update_partition(DatabaseName=self.database_name, TableName=self.table_name,
                                      PartitionValueList=values, PartitionInput=wanted)
                action = "updated"
        where = ", ".join(f"{k}='{v}'" for k, v in zip(keys, values, strict=True))
        self.log.info("Partition (%s) of %s.%s %s: %s (was %s)", where, self.database_name, self.table_name,
                      action, self.location, previous)
        for asset in self.outlets or []:
            event = context["outlet_events"][asset]
            event.extra = {"table": f"{self.database_name}.{self.table_name}", "partition": where,
                           "location": self.location, "action": action}
            event.add_partitions("/".join(values))
        return {"action": action, "location": self.location, "previous_location": previous}
