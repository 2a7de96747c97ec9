"""The settings, the environment and the run plan are read through their models only.

Outside the modules that define them, no code indexes them with strings (``run["env"]["bucket"]``,
``settings["data"]["history_days"]``): a renamed or mistyped key would then fail only at run time, in one task.
The DAG file hands data over one way (XComArgs into request builders): no Jinja that pulls XCom.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

MODEL_MODULES = {"plugins/batchml/config.py", "plugins/batchml/environment.py",
                 "plugins/batchml/demand_forecast/plan.py"}
# Names the code gives the settings, the environment, the plan or parts of them.
CONTRACT_NAMES = {"run", "plan", "settings", "env", "environment", "document", "raw", "windows", "quality",
                  "bounds", "params"}


def _root(node: ast.AST) -> str | None:
    """The variable an access chain starts from: ``run`` for ``run["env"]["bucket"]`` or ``run.env["x"]``."""
    while isinstance(node, (ast.Subscript, ast.Attribute, ast.Call)):
        if isinstance(node, ast.Attribute) and node.attr == "raw":
            return "raw"
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def string_keyed_accesses(source: str) -> list[str]:
    """``line: code`` of every ``x["key"]`` or ``x.get("key")`` whose chain starts at a contract's name."""
    found: dict[int, str] = {}
    for node in ast.walk(ast.parse(source)):
        key = base = None
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            key, base = node.slice.value, node.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            key, base = node.args[0].value, node.func.value
        if key is not None and _root(base) in CONTRACT_NAMES and node.lineno not in found:
            found[node.lineno] = f"{node.lineno}: {ast.unparse(node)}"
    return [found[line] for line in sorted(found)]


def _production_files() -> list[Path]:
    return sorted([*(REPO / "plugins").rglob("*.py"), *(REPO / "dags").glob("*.py")])


def test_the_check_finds_what_it_is_meant_to_find():
    caught = string_keyed_accesses(
        'a = run["env"]["bucket"]\nb = settings.raw["data"]\nc = plan.env.get("kms_key_id")\n'
        'd = settings["quality"]["plausibility"]\nok = report["models"]["challenger"]\nok2 = run.env.bucket\n')
    assert [line.split(":")[0] for line in caught] == ["1", "2", "3", "4"]


def test_no_string_keyed_access_to_settings_environment_or_plan_outside_their_models():
    offenders = {}
    for path in _production_files():
        relative = path.relative_to(REPO).as_posix()
        if relative in MODEL_MODULES:
            continue
        found = string_keyed_accesses(path.read_text())
        if found:
            offenders[relative] = found
    assert offenders == {}


def test_the_models_cannot_be_indexed_by_string():
    from batchml.config import PipelineSettings
    from batchml.demand_forecast.plan import RunPlan
    from batchml.environment import EnvironmentConfig

    for model in (PipelineSettings, EnvironmentConfig, RunPlan):
        assert not hasattr(model, "__getitem__"), model


@pytest.mark.parametrize("forbidden", ["xcom_pull", "{{", "{{{{", "plan(", "apply_timeouts"])
def test_the_dag_file_hands_data_over_one_way(forbidden):
    text = (REPO / "dags" / "demand_forecast.py").read_text()
    code = text.split('"""', 2)[2]  # the docstring may mention anything
    assert forbidden not in code


def test_the_schemas_are_generated_from_the_models_and_say_what_each_key_is():
    from batchml.config import PipelineSettings, json_schema
    from batchml.environment import EnvironmentConfig

    settings, env = json_schema(PipelineSettings), json_schema(EnvironmentConfig)
    assert set(settings["properties"]) == set(PipelineSettings.model_fields) - {"source"}
    assert set(env["properties"]) == set(EnvironmentConfig.model_fields)
    assert settings["additionalProperties"] is False and env["additionalProperties"] is False
    assert env["properties"]["bucket"]["description"] and env["properties"]["poll_interval_seconds"]["maximum"] == 600
    # hand-written schemas are gone from the code
    for path in _production_files():
        assert '"additionalProperties": False' not in path.read_text(), path


def test_the_plan_survives_xcom_as_json():
    import json

    from batchml.demand_forecast.plan import RunPlan
    from tests.unit.sample_plan import sample_plan

    wire = json.loads(json.dumps(sample_plan()))
    plan = RunPlan.of(wire)
    assert plan.to_xcom() == wire
    assert plan.windows.history_start.isoformat() == wire["windows"]["history_start"]
    with pytest.raises(ValueError, match="bucket"):
        RunPlan.of({**wire, "env": {**wire["env"], "bucket": None}})
