"""Script-mode training job for the sandbox tests: a linear regression of y on x1, x2 (`train` channel).

Records what the SageMaker training contract handed it (argv, SM_* variables) in the model
directory, prints metric lines for MetricDefinitions, fails on `--fail yes`, and with
`--sleep N` writes a checkpoint model file and then sleeps (for Stop and MaxRuntime tests).
"""

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import joblib
from sklearn.linear_model import LinearRegression

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--learning-rate", type=float, default=0.1)
parser.add_argument("--label", default="y")
parser.add_argument("--fail", default="no")
parser.add_argument("--sleep", type=float, default=0)
parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
args = parser.parse_args()

if args.sleep:
    (Path(args.model_dir) / "checkpoint.txt").write_text("partial model")
    print("checkpoint written; sleeping", flush=True)
    time.sleep(args.sleep)

if args.fail == "yes":
    print("about to fail", flush=True)
    raise RuntimeError("training data is corrupt: expected 2 columns")

train_dir = Path(os.environ["SM_CHANNEL_TRAIN"])
xs, ys = [], []
for path in sorted(train_dir.rglob("*.csv")):
    with path.open() as f:
        for row in csv.DictReader(f):
            xs.append([float(row["x1"]), float(row["x2"])])
            ys.append(float(row[args.label]))
model = LinearRegression().fit(xs, ys)

for epoch in range(1, args.epochs + 1):
    print(f"epoch={epoch} train_loss={1.0 / epoch:.4f} rmse={0.5 / epoch:.4f}", flush=True)
print("progress to stderr", file=sys.stderr, flush=True)

model_dir = Path(args.model_dir)
joblib.dump(model, model_dir / "model.joblib")
contract = {
    "argv": sys.argv[1:],
    "env": {k: v for k, v in os.environ.items() if k.startswith(("SM_", "SAGEMAKER_", "TRAINING_JOB"))},
    "custom": os.environ.get("CUSTOM_SETTING"),
    "files": sorted(p.relative_to(train_dir).as_posix() for p in train_dir.rglob("*") if p.is_file()),
    "validation_files": sorted(os.listdir(os.environ["SM_CHANNEL_VALIDATION"]))
    if "SM_CHANNEL_VALIDATION" in os.environ
    else None,
    "coef": [round(float(c), 6) for c in model.coef_],
}
(model_dir / "contract.json").write_text(json.dumps(contract))
(Path(os.environ["SM_OUTPUT_DATA_DIR"]) / "report.txt").write_text(f"rows={len(xs)}\n")
