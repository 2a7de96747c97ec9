"""Training with AlgorithmSpecification.ContainerEntrypoint / ContainerArguments (what SDK v3's ModelTrainer
sends): the command runs with the job's /opt/ml, reads its channels and hyperparameters from the standard
files, and its model/ and failure file are handled as in script mode."""

from __future__ import annotations

import json
import sys

from tests.sandbox.jobs.sm_support import get, make_bucket, put, training_request, untar, wait

# Like SDK v3's drivers: everything from the /opt/ml contract, nothing from arguments.
TRAIN = """
import json, pathlib, sys
hp = json.loads(pathlib.Path("/opt/ml/input/config/hyperparameters.json").read_text())
rows = pathlib.Path("/opt/ml/input/data/train/train.csv").read_text().splitlines()
if hp.get("fail") == "yes":
    pathlib.Path("/opt/ml/output/failure").write_text("bad data: expected 3 columns")
    sys.exit(3)
pathlib.Path("/opt/ml/model/model.json").write_text(json.dumps({"rows": len(rows), "hp": hp,
                                                                "python": sys.executable}))
print(f"train_loss={1.0 / len(rows):.4f}", flush=True)
"""


def _request(aws, bucket: str, name: str, **hyperparameters) -> dict:
    code = put(aws, bucket, "v3/code/train.py", TRAIN)
    data = put(aws, bucket, "v3/data/train.csv", "1,2\n3,4\n")
    request = training_request(name, bucket, code, channels={"train": data, "code": code.rsplit("/", 1)[0]})
    request["HyperParameters"] = {k: str(v) for k, v in hyperparameters.items()}  # no sagemaker_program
    request["AlgorithmSpecification"].update(
        ContainerEntrypoint=["/bin/bash"],
        ContainerArguments=["-c", "cd /opt/ml/input/data/code && python train.py"],
        MetricDefinitions=[{"Name": "train:loss", "Regex": r"train_loss=([0-9.]+)"}],
    )
    return request


def test_container_entrypoint_runs_with_the_jobs_opt_ml(sandbox, aws, unique):
    bucket = make_bucket(aws, unique)
    sm = aws("sagemaker")
    sm.create_training_job(**_request(aws, bucket, unique, epochs=3))
    done = wait(sm, "training", unique, timeout=90)
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert done["AlgorithmSpecification"]["ContainerEntrypoint"] == ["/bin/bash"]
    model = json.loads(untar(get(aws, bucket, f"models/{unique}/output/model.tar.gz"))["model.json"])
    assert model["rows"] == 2 and model["hp"] == {"epochs": "3"}
    assert model["python"] == sys.executable  # `python` on the PATH is the sandbox's interpreter
    assert done["FinalMetricDataList"][0]["MetricName"] == "train:loss"
    assert done["FinalMetricDataList"][0]["Value"] == 0.5


def test_container_entrypoint_failure_file_is_the_failure_reason(sandbox, aws, unique):
    bucket = make_bucket(aws, unique)
    sm = aws("sagemaker")
    sm.create_training_job(**_request(aws, bucket, unique, fail="yes"))
    done = wait(sm, "training", unique, timeout=90)
    assert done["TrainingJobStatus"] == "Failed"
    assert "bad data: expected 3 columns" in done["FailureReason"]
