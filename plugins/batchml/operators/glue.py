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
from airflow.providers.amazon.aws.sensors.glue_catalog_partition import GlueCatalogPartitionSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowException

from batchml.job_requests import partition_input
from batchml.operators.planned import FromPlan

if TYPE_CHECKING:
    from airflow.sdk import Context


class GlueCatalogUpsertPartitionOperator(FromPlan, AwsBaseOperator[GlueCatalogHook]):
    """Make ``table(partition_values)`` point at ``location``.

    :param database_name: Glue database. (templated)
    :param table_name: Glue table. (templated)
    :param partition_values: one value per partition key, e.g. ``["2026-11-20"]``. (templated)
    :param location: S3 prefix holding the partition's files. (templated)
    :param if_exists: ``"update"`` (default) repoints an existing partition at ``location``;
        ``"skip"`` leaves it; ``"fail"`` raises.
    :param plan: the run plan (XComArg); with ``request``, replaces the four above and gives the connection
        and region.
    :param request: pure function ``(plan, **request_kwargs) -> batchml.job_requests.CatalogPartition``.
    :param request_kwargs: keyword arguments for ``request``; XComArgs in it resolve when the task runs.

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
        database_name: str | None = None,
        table_name: str | None = None,
        partition_values: list[str] | None = None,
        location: str | None = None,
        if_exists: Literal["update", "skip", "fail"] = "update",
        plan: Any = None,
        request: Any = None,
        request_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if (request is None) == (None in (database_name, table_name, partition_values, location)):
            raise ValueError("give either database_name, table_name, partition_values and location, "
                             "or a request builder")
        if if_exists not in ("update", "skip", "fail"):
            raise ValueError(f"if_exists must be 'update', 'skip' or 'fail', got {if_exists!r}")
        self.database_name = database_name
        self.table_name = table_name
        self.partition_values = partition_values
        self.location = location
        self.if_exists = if_exists
        self.init_plan(plan, request, request_kwargs)

    def execute(self, context: Context) -> dict[str, Any]:
        self.resolve_plan(context)
        if self.request is not None:
            partition = self.build()
            self.database_name, self.table_name = partition.database, partition.table
            self.partition_values, self.location = list(partition.values), partition.location
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

    def get_openlineage_facets_on_complete(self, task_instance):
        """The published table (named as Athena names it, so readers' lineage joins it) from the partition's
        files."""
        from airflow.providers.openlineage.extractors import OperatorLineage

        from batchml.operators import lineage

        return OperatorLineage(
            inputs=[lineage.s3_dataset(self.location)],
            outputs=[lineage.table_dataset(self.hook.conn_region_name, self.database_name, self.table_name)])


class GluePartitionSensor(FromPlan, GlueCatalogPartitionSensor):
    """The provider's ``GlueCatalogPartitionSensor``, told what to wait for by a request builder.

    Why a subclass: the database comes from the run plan (the environment), which only exists once the run
    has started; the provider's sensor takes it as a template string. Its waiting, deferral and trigger are
    the provider's, unchanged.

    :param plan: the run plan (XComArg): connection, region, and the first argument of ``request``.
    :param request: pure function ``(plan, **request_kwargs) -> batchml.job_requests.PartitionWait``.
    """

    def __init__(self, *, plan: Any, request: Any, request_kwargs: dict[str, Any] | None = None, **kwargs: Any):
        super().__init__(table_name="", expression="", **kwargs)
        self.init_plan(plan, request, request_kwargs)

    def _prepare(self, context: Context) -> None:
        self.resolve_plan(context)
        wait = self.build()
        self.database_name, self.table_name, self.expression = wait.database, wait.table, wait.expression

    def execute(self, context: Context) -> Any:
        self._prepare(context)
        return super().execute(context)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context):
        self._prepare(context)
        return super().resume_execution(next_method, next_kwargs, context)
