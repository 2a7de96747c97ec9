"""The sandbox's stand-in deployment: the values a real account would hold in Airflow Variables and
connections, pointed at the local endpoint. ``python -m sandbox env`` prints them; ``seed`` creates
the resources they name.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from sandbox.protocol import DEFAULT_ACCOUNT_ID

REPO_ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
BUCKET = "demand-forecast-sandbox"
PREFIX = "ml"
ROLE_NAME = "demand-forecast-sagemaker"
ROLE_ARN = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/{ROLE_NAME}"
# The role Airflow's AWS calls are made as: the `aws_default` connection assumes it (its `role_arn` extra), as
# the deploy runbook configures it on AWS; the sandbox enforces its policy from infra/ (sandbox.iam).
AIRFLOW_ROLE_ARN = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/demand-forecast-airflow"
ATHENA_WORKGROUP = "demand_forecast"
ATHENA_RESULTS = f"s3://{BUCKET}/athena-results/"
RAW_DATABASE = "retail"
FORECAST_DATABASE = "demand_forecast"
MODEL_PACKAGE_GROUP = "demand-forecast"
SLACK_CHANNEL = "#demand-forecast-oncall"
SLACK_FALLBACK_CHANNEL = "#ml-platform-oncall"
ONCALL_HANDLE = "@ml-oncall"
# The sandbox runs at most this many jobs at once (serve --max-concurrent-jobs), like an account quota.
SAGEMAKER_JOB_QUOTA = 4
# Not a secret: the sandbox accepts any token of Slack's shape.
SLACK_TOKEN = "xoxb-sandbox-0000"
SLACK_WEBHOOK_PATH = "T0SANDBOX/B0SANDBOX/sandbox0webhook"


def pipeline_environment() -> dict:
    """The `demand_forecast_env` Airflow Variable for the sandbox (see batchml.config.EnvironmentConfig)."""
    return {
        "region": REGION,
        "bucket": BUCKET,
        "prefix": PREFIX,
        "sagemaker_role_arn": ROLE_ARN,
        "athena_workgroup": ATHENA_WORKGROUP,
        "athena_output_location": ATHENA_RESULTS,
        "raw_database": RAW_DATABASE,
        "forecast_database": FORECAST_DATABASE,
        "model_package_group": MODEL_PACKAGE_GROUP,
        "slack_channel": SLACK_CHANNEL,
        "oncall_handle": ONCALL_HANDLE,
        # Short polls: sandbox jobs take seconds, not minutes.
        "poll_interval_seconds": 0.5,
        "sagemaker_job_quota": SAGEMAKER_JOB_QUOTA,
    }


def airflow_database(airflow_home: Path) -> dict[str, str]:
    """The metadata DB setting for an Airflow home on SQLite, with a 60 s busy timeout instead of SQLite's
    5 s: a real scheduler, its API server and a CLI command write at once, and on a busy machine a writer
    that waits more than 5 s fails with "database is locked" (seen: `airflow backfill create` beside a
    running stack, and task state updates during a backfill, at load 15 on 2 cores)."""
    return {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{Path(airflow_home).resolve()}/airflow.db?timeout=60"}


# Where the Amazon provider's SecretsManagerBackend looks for connections: infra/params/sandbox.json
# keeps the template's default SecretsPrefix, so the Slack secret is <this>/slack_oncall.
SECRETS_CONNECTIONS_PREFIX = "airflow/connections"


def slack_connection(endpoint: str) -> dict:
    """The `slack_oncall` connection as its Secrets Manager secret holds it (the seed writes it there, as
    the deploy runbook's put-secret-value does on AWS)."""
    return {
        "conn_type": "slack",
        "password": SLACK_TOKEN,
        # Where alerts go when the demand_forecast_env Variable is broken (batchml.alerts.route).
        "extra": {"base_url": f"{endpoint}/_sandbox/slack/api/", "fallback_channel": SLACK_FALLBACK_CHANNEL,
                  "fallback_oncall_handle": ONCALL_HANDLE},
    }


def secrets_backend_kwargs(endpoint: str) -> dict:
    """Only the `slack_oncall` connection: Variables, config and the other connections stay in Airflow. The
    provider's backend does not catch AccessDeniedException, and the Airflow role may read this one secret
    only, so a lookup of any other id in Secrets Manager would fail that lookup instead of falling through."""
    return {"connections_prefix": SECRETS_CONNECTIONS_PREFIX, "connections_lookup_pattern": "^slack_oncall$",
            "variables_prefix": None, "config_prefix": None, "endpoint_url": endpoint, "region_name": REGION,
            **assume_airflow_role(endpoint)}


def assume_airflow_role(endpoint: str) -> dict:
    """Connection extras that make the Amazon provider assume the Airflow role (the provider never sends
    its assume-role STS call to the global `endpoint_url`: the STS endpoint is given per service)."""
    return {"role_arn": AIRFLOW_ROLE_ARN, "service_config": {"sts": {"endpoint_url": endpoint}}}


def environment(endpoint: str) -> dict[str, str]:
    """Every variable a shell or Airflow needs to run this repo's DAGs against the sandbox."""
    airflow_home = REPO_ROOT / ".airflow"
    aws_conn = {"conn_type": "aws", "extra": {"endpoint_url": endpoint, "region_name": REGION,
                                              **assume_airflow_role(endpoint)}}
    webhook_conn = {
        "conn_type": "slackwebhook",
        "host": f"{endpoint}/_sandbox/slack/services",
        "password": SLACK_WEBHOOK_PATH,
    }
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AIRFLOW_HOME": str(airflow_home),
        **airflow_database(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "0",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__API__BASE_URL": "http://localhost:8080",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws_conn),
        # The Slack token is not in Airflow: `slack_oncall` comes from the sandbox's Secrets Manager through
        # the provider's SecretsManagerBackend, the production path (README, "Deploying", step 4).
        "AIRFLOW__SECRETS__BACKEND": "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend",
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(secrets_backend_kwargs(endpoint)),
        "AIRFLOW_CONN_SLACK_ONCALL_WEBHOOK": json.dumps(webhook_conn),
        "AIRFLOW_VAR_DEMAND_FORECAST_ENV": json.dumps(pipeline_environment()),
        # `airflow dags test` really sleeps through retry delays: keep them short on the sandbox.
        "BATCHML_RETRY_DELAY_SECONDS": "2",
        # `airflow dags test` of a DAG with a Deadline Alert crashes in Airflow 3.3.2 (see batchml.dags).
        "BATCHML_DEADLINE_ALERTS": "off",
        "BATCHML_MAX_RETRY_DELAY_SECONDS": "10",
    }


def shell_exports(env: dict[str, str]) -> str:
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items())
