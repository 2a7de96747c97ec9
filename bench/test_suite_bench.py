"""How long the test suite takes, per directory and per tier, with what drives the cost: CPU seconds, Python
interpreter start-ups and model trainings.

    python bench/test_suite_bench.py [--targets fast,unit,...] [--tree PATH ...] [--repeat 2]

Each target runs pytest in a checkout (`--tree`, default this one; give two trees, e.g. a worktree of an
older commit and this one, to compare them side by side in one run: runs alternate between the trees).
Printed per run: wall seconds, CPU seconds of pytest and everything it started (user+sys, from
RUSAGE_CHILDREN, which a busy machine inflates far less than wall time), interpreter starts, and trainings
of the production model. Start-ups are counted by a temporary .pth file in the venv's site-packages that
appends each new interpreter's command line to a log, only when BATCHML_BENCH_STARTS is set. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import site
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FAST = ["tests/unit", "tests/dags", "tests/jobs", "tests/deploy", "tests/sandbox", "tests/integration"]
# target name -> (pytest paths, pytest-xdist workers; 0 = one process)
TARGETS = {
    **{d.removeprefix("tests/"): ([d], 0) for d in FAST},
    "e2e": (["tests/e2e"], 0),
    "scheduler": (["tests/scheduler"], 0),
    "fast": (FAST, 2),         # `make test-fast`
    "whole": (["tests"], 4),   # `make test`
}
PTH_NAME = "zz_batchml_bench_starts.pth"
# One line per interpreter. The guard on sys: a venv's site-packages can be reached twice (lib and lib64).
PTH_LINE = ("import os, sys; p = os.environ.get('BATCHML_BENCH_STARTS'); "
            "p and not hasattr(sys, '_bench_start_logged') and (setattr(sys, '_bench_start_logged', 1) or "
            "open(p, 'a').write(open('/proc/self/cmdline', 'rb').read().replace(b'\\0', b' ').decode("
            "errors='replace') + '\\t' + os.getcwd() + '\\n'))\n")


def run(tree: Path, target: str) -> dict:
    paths, workers = TARGETS[target]
    with tempfile.NamedTemporaryFile("r", suffix=".starts", delete=False) as log:
        starts_log = Path(log.name)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *paths]
    if workers:
        cmd[3:3] = ["-n", str(workers)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=tree, env={**os.environ, "BATCHML_BENCH_STARTS": str(starts_log)},
                          capture_output=True, text=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = starts_log.read_text(errors="replace").splitlines()
    starts_log.unlink()
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    return {
        "tree": str(tree), "target": target, "wall_s": round(wall, 1),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
        "interpreter_starts": len(lines),
        # The production model: the job's train.py, run by the training toolkit in the job's code directory.
        "trainings": sum(1 for line in lines if "train.py" in line.split("\t")[0]
                         and "demand-forecast-train" in line.split("\t")[-1]),
        "exit": done.returncode, "pytest": summary,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default="fast,whole", help=f"comma-separated, from {','.join(TARGETS)}")
    parser.add_argument("--tree", action="append", type=Path, help="checkout to run in (repeatable)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write every run here")
    args = parser.parse_args()
    trees = [t.resolve() for t in (args.tree or [REPO])]
    targets = args.targets.split(",")
    pth = Path(site.getsitepackages()[0]) / PTH_NAME
    pth.write_text(PTH_LINE)
    results = []
    try:
        for _ in range(args.repeat):
            for target in targets:
                for tree in trees:  # side by side: the trees alternate, so load drifts hit both alike
                    r = run(tree, target)
                    load = os.getloadavg()[0]
                    r["load_1m_after"] = round(load, 1)
                    results.append(r)
                    print(json.dumps(r), flush=True)
    finally:
        pth.unlink(missing_ok=True)
    print(f"\n{'target':<12} {'tree':<28} {'runs':>4} {'wall s (min-max)':>20} {'cpu s':>8} {'starts':>7} {'trainings':>9}")
    for target in targets:
        for tree in trees:
            rs = [r for r in results if r["target"] == target and r["tree"] == str(tree)]
            walls = [r["wall_s"] for r in rs]
            print(f"{target:<12} {str(tree)[-28:]:<28} {len(rs):>4} "
                  f"{statistics.median(walls):>9.1f} ({min(walls):.0f}-{max(walls):.0f}) "
                  f"{statistics.median(r['cpu_s'] for r in rs):>8.1f} {rs[0]['interpreter_starts']:>7} "
                  f"{rs[0]['trainings']:>9}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
