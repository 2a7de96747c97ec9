"""Where a pipeline runs: the ``<pipeline>_env`` Airflow Variable (JSON), read and validated at run time.

``EnvironmentConfig`` declares each key once (type, default, bound, description); its JSON Schema is generated
from it (``python -m batchml.environment`` prints it). ``read_variable`` is the one place the Variable is read:
the first task validates it strictly (``EnvironmentConfig.load``), the alerts read it leniently
(``batchml.alerts``: a page must go out when the Variable is what broke), and ``batchml.deploy`` sizes the pool
from it.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from batchml.config import IDENTIFIER, NAME, ConfigError, Strict, json_schema, parse

REGION = r"^[a-z]{2}(-gov)?-[a-z]+-\d$"
BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
Subnets = Annotated[list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]],
                    Field(min_length=1, max_length=16, json_schema_extra={"uniqueItems": True})]
SecurityGroups = Annotated[list[Annotated[str, Field(pattern=r"^sg-[0-9a-f]{8,17}$")]],
                           Field(min_length=1, max_length=5, json_schema_extra={"uniqueItems": True})]


def variable_name(pipeline: str) -> str:
    return f"{pipeline}_env"


def read_variable(pipeline: str, *, metadata_db: bool = False) -> str | None:
    """The Variable's text (AIRFLOW_VAR_<PIPELINE>_ENV and secrets backends work too), None if it is not set.

    In a task (the default) through the Task SDK. ``metadata_db=True`` is for a command-line tool beside the
    scheduler (``batchml.deploy``): there the SDK sees only secrets backends, not the metadata database."""
    if metadata_db:
        from airflow.models.variable import Variable as StoredVariable

        return StoredVariable.get(variable_name(pipeline), default_var=None)
    from airflow.sdk import Variable

    return Variable.get(variable_name(pipeline), default=None)


class EnvironmentConfig(Strict):
    """Where a pipeline runs. See README, 'Configuration'."""

    region: str = Field(pattern=REGION, description="AWS region of every resource.")
    bucket: str = Field(pattern=BUCKET, description="S3 bucket of every artefact.")
    prefix: str = Field("", pattern=r"^([A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*)?$", description="Key prefix in the bucket.")
    sagemaker_role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$",
                                    description="Role SageMaker jobs run as (a full ARN: a name makes the provider "
                                                "call IAM).")
    athena_workgroup: str = Field(pattern=r"^[A-Za-z0-9._-]{1,128}$")
    athena_output_location: Annotated[str, Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[\w./=-]*$")] \
        | SkipJsonSchema[None] = Field(None, description="Query results; the workgroup's location if unset.")
    raw_database: str = Field(pattern=IDENTIFIER, description="Glue database of the raw sales.")
    forecast_database: str = Field(pattern=IDENTIFIER, description="Glue database the predictions are published in.")
    model_package_group: str = Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    slack_channel: str = Field(pattern=r"^(#[a-z0-9_-]{1,80}|[CG][A-Z0-9]{6,})$")
    oncall_handle: str = Field("", max_length=80, description="Mentioned in pages, never in warnings.")
    aws_conn_id: str = Field("aws_default", pattern=NAME)
    poll_interval_seconds: float = Field(30.0, ge=0.2, le=600, description="Between status checks of AWS work.")
    sagemaker_job_quota: int = Field(4, ge=1, le=1000, description="Size of the SageMaker pool (the account's "
                                                                   "concurrent-job quota).")
    kms_key_id: Annotated[str, Field(min_length=1)] | SkipJsonSchema[None] = Field(
        None, description="Encrypts job outputs and volumes.")
    vpc_subnet_ids: Subnets | SkipJsonSchema[None] = None
    vpc_security_group_ids: SecurityGroups | SkipJsonSchema[None] = None
    network_isolation: bool = Field(False, description="Run processing jobs without network access.")

    # A VpcConfig needs both; SageMaker rejects one without the other only when the job starts.
    model_config = {**Strict.model_config, "json_schema_extra": {"dependentRequired": {
        "vpc_subnet_ids": ["vpc_security_group_ids"], "vpc_security_group_ids": ["vpc_subnet_ids"]}}}

    @model_validator(mode="after")
    def _vpc_needs_both(self) -> EnvironmentConfig:
        if bool(self.vpc_subnet_ids) != bool(self.vpc_security_group_ids):
            raise ValueError("vpc_subnet_ids and vpc_security_group_ids go together")
        return self

    @classmethod
    def from_json(cls, text: str | None, source: str) -> EnvironmentConfig:
        if not text:
            raise ConfigError(f"{source} is not set: see README, 'Configuration', for its keys")
        try:
            document = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{source} is not valid JSON: {e}") from None
        return parse(cls, document, source)

    @classmethod
    def load(cls, pipeline: str, *, metadata_db: bool = False) -> EnvironmentConfig:
        """Read and validate the `<pipeline>_env` Variable (see read_variable)."""
        return cls.from_json(read_variable(pipeline, metadata_db=metadata_db),
                             f"Airflow Variable {variable_name(pipeline)!r}")


class RunPlanBase(Strict):
    """What every pipeline's run plan starts with (``RunPlan`` of demand_forecast, ``MonitorPlan`` of
    forecast_monitoring): the pipeline, the partition day, the run and the environment. A plan travels through
    XCom as JSON (``to_xcom``), and every reader turns it back into its model (``of``)."""

    pipeline: str
    partition_date: date
    run_id: str
    run_type: str
    env: EnvironmentConfig

    @classmethod
    def of(cls: type[P], value: P | dict[str, Any]) -> P:
        """The plan from its XCom value (JSON), validated; a plan passes through."""
        return value if isinstance(value, cls) else cls.model_validate(value)

    def to_xcom(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def region(self) -> str:
        return self.env.region

    @property
    def day(self) -> str:
        """The partition day as YYYY-MM-DD: the partition value, the `dt=` segment, the date in every message."""
        from batchml import naming

        return naming.partition_value(self.partition_date)

    def aws(self) -> dict[str, Any]:
        """Connection and region for a hook."""
        return {"aws_conn_id": self.env.aws_conn_id, "region_name": self.env.region}


P = TypeVar("P", bound=RunPlanBase)


class AlertRouting(BaseModel):
    """The part of the Variable alerts need, read leniently: a page must go out even when the rest of the
    Variable is what broke. ``problem`` says what is wrong for alerting (None if nothing)."""

    model_config = ConfigDict(frozen=True)

    slack_channel: str | None = None
    oncall_handle: str = ""
    problem: str | None = None

    @classmethod
    def load(cls, pipeline: str) -> AlertRouting:
        name = variable_name(pipeline)
        try:
            text = read_variable(pipeline)
        except Exception as e:
            return cls(problem=f"the Airflow Variable {name!r} could not be read ({type(e).__name__})")
        if not text:
            return cls(problem=f"the Airflow Variable {name!r} is not set")
        try:
            document = json.loads(text)
        except ValueError as e:
            return cls(problem=f"the Airflow Variable {name!r} is not valid JSON ({e})")
        if not isinstance(document, dict):
            return cls(problem=f"the Airflow Variable {name!r} is not a JSON object")
        fields = EnvironmentConfig.model_fields
        handle = document.get("oncall_handle")
        handle = handle if isinstance(handle, str) else fields["oncall_handle"].default
        channel = document.get("slack_channel")
        if not isinstance(channel, str) or not channel.strip():
            return cls(oncall_handle=handle, problem=f"the Airflow Variable {name!r} has no slack_channel")
        return cls(slack_channel=channel, oncall_handle=handle)


def schema() -> dict[str, Any]:
    return json_schema(EnvironmentConfig)


if __name__ == "__main__":
    print(json.dumps(schema(), indent=2))
