"""`make lint` for infra/: cfn-lint on the template, alone and with each environment's parameter file.

Why a script and not one cfn-lint line: the parameter files are in the format `aws cloudformation deploy
--parameter-overrides file://...` and `create-stack --parameters file://...` take, where a
CommaDelimitedList is one comma-separated string; cfn-lint 1.x types such a value as a list and
rejects the string (E2900). The check below hands cfn-lint a copy with those values split, so that
both tools see the same values.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

INFRA = Path(__file__).resolve().parent.parent / "infra"
TEMPLATE = INFRA / "demand-forecast.yaml"


def cfn_lint_copy(params_file: Path, template: dict) -> list[dict]:
    lists = {k for k, v in template["Parameters"].items() if v["Type"] == "CommaDelimitedList"}
    out = []
    for p in json.loads(params_file.read_text()):
        value = p["ParameterValue"]
        if p["ParameterKey"] in lists:
            value = [v for v in value.split(",") if v]
        out.append({"ParameterKey": p["ParameterKey"], "ParameterValue": value})
    return out


def main() -> int:
    exe = Path(sys.executable).with_name("cfn-lint")
    template = yaml.safe_load(TEMPLATE.read_text())
    failed = 0
    runs = [("template", [])]
    with tempfile.TemporaryDirectory() as tmp:
        for params in sorted((INFRA / "params").glob("*.json")):
            copy = Path(tmp) / params.name
            copy.write_text(json.dumps(cfn_lint_copy(params, template)))
            runs.append((f"params/{params.name}", ["--parameter-files", str(copy)]))
        for label, extra in runs:
            done = subprocess.run([str(exe), str(TEMPLATE), *extra], capture_output=True, text=True)
            status = "ok" if done.returncode == 0 else f"FAILED (rc {done.returncode})"
            print(f"cfn-lint {TEMPLATE.name} [{label}]: {status}")
            if done.returncode:
                failed += 1
                print(done.stdout + done.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
