"""`make airflow-prod` (tools/prod_stack.py) runs what docker-compose.yaml describes: its Airflow settings are
the compose file's x-airflow-common environment, and its processes are the compose services' commands. These
checks are static (no process starts); tests/prod runs the stack itself."""

from __future__ import annotations

import json

import yaml

from tests.conftest import REPO
from tools.prod_stack import (
    COMPONENTS,
    LOCAL_OVERRIDES,
    WORKER,
    ProdStack,
    compose_command,
    compose_environment,
)

COMPOSE = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
COMPOSE_HOSTS = ("@postgres/", "redis:6379", "sandbox:4566", "airflow-apiserver:8080", "localhost:8080")


def _stack(tmp_path) -> ProdStack:
    stack = ProdStack(tmp_path, api_port=18123, sandbox_port=14123)
    stack.endpoint = "http://127.0.0.1:14123"
    return stack


def test_settings_are_the_compose_environment_with_only_hosts_rewritten(tmp_path):
    stack = _stack(tmp_path)
    env, compose = stack.env(), compose_environment()
    pg, redis = stack.postgres.url, f"127.0.0.1:{stack.redis.port}"
    # Mapping the local addresses back to the compose hosts gives the compose value exactly: nothing but
    # the hosts differs, for every setting that is not a listed override.
    back = {pg: "postgres", redis: "redis:6379", stack.endpoint: "http://sandbox:4566",
            "127.0.0.1:18123": "airflow-apiserver:8080", "localhost:18123": "localhost:8080"}
    rewritten = 0
    for key, value in compose.items():
        if key in LOCAL_OVERRIDES:
            continue
        local = env[key]
        for address, host in back.items():
            local = local.replace(address, host)
        assert local == value, key
        rewritten += env[key] != value
        assert not any(h in env[key] for h in COMPOSE_HOSTS), (key, env[key])
    # The database, the broker, the result backend, the sandbox (endpoint, connection, secrets backend,
    # ...) and the execution API: the compose network's names really were replaced.
    assert rewritten >= 6
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"postgresql+psycopg2://airflow:airflow@{pg}/airflow"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == f"redis://:@{redis}/0"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]["endpoint_url"] == stack.endpoint


def test_overrides_are_few_and_name_compose_settings():
    compose = compose_environment()
    assert set(LOCAL_OVERRIDES) <= set(compose)
    assert set(LOCAL_OVERRIDES) == {"AIRFLOW_CONFIG", "AIRFLOW__CORE__AUTH_MANAGER"}


def test_the_processes_are_the_compose_services_and_their_commands():
    from airflow.cli.cli_parser import get_parser

    airflow_services = {n for n, s in COMPOSE["services"].items()
                        if s.get("image", "").startswith("${AIRFLOW_IMAGE_NAME") and n.startswith("airflow-")}
    # airflow-init is the one-shot migration, which the seed does here (airflow db migrate).
    assert set(COMPONENTS) | {WORKER, "airflow-init"} == airflow_services
    parser = get_parser()
    for service in (*COMPONENTS, WORKER):
        command = compose_command(service)
        if service == WORKER:  # the worker's name, so two on one host are told apart
            command = [*command, "--celery-hostname", "worker1@%h"]
        args = parser.parse_args(command)  # an unknown command or option exits 2
        assert callable(args.func), service
    assert compose_command(WORKER) == ["celery", "worker"]
