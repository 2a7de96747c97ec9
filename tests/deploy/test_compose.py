"""docker-compose.yaml and the Dockerfile, checked statically: no Docker engine runs on this project's
machines, so every service, mount, command, port and environment variable they name is checked against
the repository and against Airflow itself."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.conftest import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (REPO / "Dockerfile").read_text()
AIRFLOW_SERVICES = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
                    "airflow-triggerer", "airflow-init"]


def env_of(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (SERVICES[service].get("environment") or {}).items()}


def test_the_official_services_and_the_sandbox_are_all_there():
    assert set(AIRFLOW_SERVICES + ["postgres", "redis", "sandbox", "sandbox-seed"]) <= set(SERVICES)
    for name in AIRFLOW_SERVICES + ["sandbox", "sandbox-seed"]:
        assert SERVICES[name]["build"] == "." and SERVICES[name]["image"].startswith("${AIRFLOW_IMAGE_NAME:-")


def test_image_extends_the_official_image_with_the_pinned_requirements():
    assert re.search(r"^FROM apache/airflow:3\.3\.2-python3\.11$", DOCKERFILE, re.M)
    pinned = dict(line.split("==") for line in (REPO / "requirements.txt").read_text().splitlines()
                  if "==" in line and not line.startswith("#"))
    assert pinned["apache-airflow"] == "3.3.2" and '"apache-airflow==3.3.2"' in DOCKERFILE
    for copied in re.findall(r"^COPY\s+(?:--\S+\s+)*(.+?)\s+\S+$", DOCKERFILE, re.M):
        for path in copied.split():
            assert (REPO / path).exists(), path
    assert "-c /opt/airflow/requirements/constraints.txt" in DOCKERFILE


def test_mounts_exist_and_land_where_the_code_looks():
    mounts = {}
    for volume in SERVICES["airflow-scheduler"]["volumes"]:
        host, container = volume.rsplit(":", 1)
        mounts[container] = host.replace("${AIRFLOW_PROJ_DIR:-.}/", "")
    for required in ("dags", "plugins", "include"):
        assert mounts[f"/opt/airflow/{required}"] == required and (REPO / required).is_dir()
    # batchml finds include/ two levels above its package, i.e. /opt/airflow/include in the image.
    from batchml.config import INCLUDE_DIR

    assert INCLUDE_DIR == REPO / "include" and (REPO / "plugins" / "batchml").is_dir()


def test_airflow_commands_are_real_airflow_commands():
    # Airflow's own CLI parser, in this process: what `airflow <command>` parses, without starting
    # one interpreter per command (each start costs seconds).
    from airflow.cli.cli_parser import get_parser

    parser = get_parser()
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                 "airflow-worker"):
        command = SERVICES[name]["command"].split()
        args = parser.parse_args(command)  # an unknown command or option exits 2 here, as the CLI would
        assert args.subcommand == command[-1] and callable(args.func), (name, args)
    # `celery worker` parses now that the celery provider is installed here (tools/prod_stack.py runs it).
    assert SERVICES["airflow-worker"]["command"] == "celery worker"
    assert SERVICES["airflow-init"]["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"


def test_sandbox_commands_parse_with_the_sandbox_cli():
    from sandbox.cli import main

    for name in ("sandbox", "sandbox-seed"):
        assert SERVICES[name]["entrypoint"] == ["python", "-m", "sandbox"]
        args = SERVICES[name]["command"]
        with pytest.raises(SystemExit) as done:
            main([args[0], "--help"])
        assert done.value.code == 0
    serve = SERVICES["sandbox"]["command"]
    assert serve[serve.index("--host") + 1] == "0.0.0.0"  # reachable from the other containers
    port = serve[serve.index("--port") + 1]
    assert SERVICES["sandbox"]["ports"] == [f"{port}:{port}"]
    assert f"localhost:{port}/_sandbox/health" in " ".join(SERVICES["sandbox"]["healthcheck"]["test"])
    seed = SERVICES["sandbox-seed"]["command"]
    assert seed[seed.index("--host") + 1] == "sandbox" and seed[seed.index("--port") + 1] == port


def test_every_airflow_setting_names_a_real_option():
    from airflow.configuration import conf

    described = conf.configuration_description  # every documented option, core and installed providers
    env = env_of("airflow-scheduler")
    provider_options = {("celery", "result_backend"), ("celery", "broker_url")}  # the celery provider's
    checked = 0
    for key in env:
        if not key.startswith("AIRFLOW__"):
            continue
        section, option = (part.lower() for part in key.removeprefix("AIRFLOW__").split("__", 1))
        assert (section, option) in provider_options or option in described.get(section, {}).get("options", {}), key
        checked += 1
    assert checked >= 10


def test_everything_points_at_the_sandbox_service_consistently():
    from batchml.environment import EnvironmentConfig

    env = env_of("airflow-worker")
    port = SERVICES["sandbox"]["command"][SERVICES["sandbox"]["command"].index("--port") + 1]
    endpoint = f"http://sandbox:{port}"
    assert env["AWS_ENDPOINT_URL"] == endpoint
    aws = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
    from sandbox import profile as sandbox_profile

    assert aws["conn_type"] == "aws" and aws["extra"]["endpoint_url"] == endpoint
    # Airflow's calls are made as the Airflow role, which the sandbox enforces (sandbox.iam).
    assert aws["extra"] == {"endpoint_url": endpoint, "region_name": "us-east-1",
                            **sandbox_profile.assume_airflow_role(endpoint)}
    # slack_oncall is in the sandbox's Secrets Manager, read through the provider's backend, as `sandbox env` sets it.
    assert "AIRFLOW_CONN_SLACK_ONCALL" not in env

    assert env["AIRFLOW__SECRETS__BACKEND"] == sandbox_profile.environment(endpoint)["AIRFLOW__SECRETS__BACKEND"]
    assert json.loads(env["AIRFLOW__SECRETS__BACKEND_KWARGS"]) == sandbox_profile.secrets_backend_kwargs(endpoint)
    config = EnvironmentConfig.from_json(env["AIRFLOW_VAR_DEMAND_FORECAST_ENV"], "compose")
    from sandbox import profile

    assert (config.bucket, config.sagemaker_role_arn, config.athena_workgroup) == (
        profile.BUCKET, profile.ROLE_ARN, profile.ATHENA_WORKGROUP)
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_ports_and_urls_agree():
    env = env_of("airflow-apiserver")
    assert SERVICES["airflow-apiserver"]["ports"] == ["8080:8080"]
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert env["AIRFLOW__API__BASE_URL"] == "http://localhost:8080"
    assert "localhost:8080/api/v2/version" in " ".join(SERVICES["airflow-apiserver"]["healthcheck"]["test"])
    assert "localhost:8974/health" in " ".join(SERVICES["airflow-scheduler"]["healthcheck"]["test"])
    assert env["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://:@redis:6379")
    assert "@postgres/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def test_depends_on_names_existing_services_and_has_no_cycles():
    graph = {name: set((svc.get("depends_on") or {}).keys()) for name, svc in SERVICES.items()}
    for name, deps in graph.items():
        assert deps <= set(SERVICES), (name, deps - set(SERVICES))

    def reaches(start, target, seen=()):
        return any(d == target or (d not in seen and reaches(d, target, (*seen, d))) for d in graph[start])

    assert not [name for name in graph if reaches(name, name)]
