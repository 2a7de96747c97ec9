"""Processing job for the sandbox tests: doubles the `value` column of every CSV under --input.

Writes one CSV per input file (same relative path) under --output, plus summary.json with what the
container contract gave it (environment, the job config file), so tests can check both.
"""

import argparse
import csv
import json
import os
import sys
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--input", required=True)
parser.add_argument("--output", required=True)
parser.add_argument("--config", required=True)
args = parser.parse_args()

rows = 0
for path in sorted(Path(args.input).rglob("*.csv")):
    target = Path(args.output) / path.relative_to(args.input)
    target.parent.mkdir(parents=True, exist_ok=True)
    with path.open() as f, target.open("w", newline="") as out:
        reader = csv.DictReader(f)
        writer = csv.DictWriter(out, fieldnames=["id", "value"])
        writer.writeheader()
        for row in reader:
            writer.writerow({"id": row["id"], "value": float(row["value"]) * 2})
            rows += 1
    print(f"processed {path.name}", flush=True)

config = json.loads(Path(args.config).read_text())
summary = {
    "rows": rows,
    "greeting": os.environ.get("GREETING"),
    "data_dir": os.environ.get("DATA_DIR"),
    "job_name_in_config": config["ProcessingJobName"],
    "config_local_path": config["ProcessingInputs"][0]["S3Input"]["LocalPath"],
    "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
    "python": sys.executable,
}
(Path(args.output) / "summary.json").write_text(json.dumps(summary))
print("a warning on stderr", file=sys.stderr)
