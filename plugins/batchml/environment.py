"""Where a pipeline runs: the `<pipeline>_env` Airflow Variable (JSON), read and validated at run time.

Keys are documented in ENVIRONMENT_SCHEMA and the README ("Configuration").
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from batchml.config import IDENTIFIER, ConfigError, validate

ENVIRONMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["region", "bucket", "sagemaker_role_arn", "athena_workgroup", "raw_database",
                 "forecast_database", "model_package_group", "slack_channel"],
    "properties": {
        "region": {"type": "string", "pattern": r"^[a-z]{2}(-gov)?-[a-z]+-\d$"},
        "bucket": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"},
        "prefix": {"type": "string", "pattern": r"^([A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*)?$"},
        "sagemaker_role_arn": {"type": "string", "pattern": r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$"},
        "athena_workgroup": {"type": "string", "pattern": r"^[A-Za-z0-9._-]{1,128}$"},
        "athena_output_location": {"type": "string", "pattern": r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[\w./=-]*$"},
        "raw_database": {"type": "string", "pattern": IDENTIFIER},
        "forecast_database": {"type": "string", "pattern": IDENTIFIER},
        "model_package_group": {"type": "string", "pattern": r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"},
        "slack_channel": {"type": "string", "pattern": r"^(#[a-z0-9_-]{1,80}|[CG][A-Z0-9]{6,})$"},
        "oncall_handle": {"type": "string", "maxLength": 80},
        "aws_conn_id": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"},
        "poll_interval_seconds": {"type": "number", "minimum": 0.2, "maximum": 600},
        "sagemaker_job_quota": {"type": "integer", "minimum": 1, "maximum": 1000},
        "kms_key_id": {"type": "string", "minLength": 1},
        "vpc_subnet_ids": {"type": "array", "minItems": 1, "maxItems": 16, "uniqueItems": True,
                           "items": {"type": "string", "pattern": r"^subnet-[0-9a-f]{8,17}$"}},
        "vpc_security_group_ids": {"type": "array", "minItems": 1, "maxItems": 5, "uniqueItems": True,
                                   "items": {"type": "string", "pattern": r"^sg-[0-9a-f]{8,17}$"}},
        "network_isolation": {"type": "boolean"},
    },
    # A VpcConfig needs both; SageMaker rejects one without the other only when the job starts.
    "dependentRequired": {"vpc_subnet_ids": ["vpc_security_group_ids"],
                          "vpc_security_group_ids": ["vpc_subnet_ids"]},
}


@dataclass(frozen=True)
class EnvironmentConfig:
    """Where a pipeline runs. Keys are documented in ENVIRONMENT_SCHEMA and the README."""

    region: str
    bucket: str
    sagemaker_role_arn: str
    athena_workgroup: str
    raw_database: str
    forecast_database: str
    model_package_group: str
    slack_channel: str
    prefix: str = ""
    athena_output_location: str | None = None
    oncall_handle: str = ""
    aws_conn_id: str = "aws_default"
    poll_interval_seconds: float = 30.0
    sagemaker_job_quota: int = 4
    kms_key_id: str | None = None
    vpc_subnet_ids: list[str] | None = None
    vpc_security_group_ids: list[str] | None = None
    network_isolation: bool = False

    @classmethod
    def from_json(cls, text: str | None, source: str) -> EnvironmentConfig:
        if not text:
            raise ConfigError(f"{source} is not set: see README, 'Configuration', for its keys")
        try:
            document = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{source} is not valid JSON: {e}") from None
        validate(document, ENVIRONMENT_SCHEMA, source)
        return cls(**document)

    @classmethod
    def load(cls, pipeline: str) -> EnvironmentConfig:
        """Read the `<pipeline>_env` Variable (environment variable AIRFLOW_VAR_<PIPELINE>_ENV works too)."""
        from airflow.sdk import Variable

        name = f"{pipeline}_env"
        return cls.from_json(Variable.get(name, default=None), f"Airflow Variable {name!r}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
