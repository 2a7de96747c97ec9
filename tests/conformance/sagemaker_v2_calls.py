"""SageMaker Python SDK v2 against the sandbox, run in its own venv (tests/conformance/clients.py), as its docs
show: SKLearn fit, SKLearn.attach and Estimator.attach of the finished job, an SKLearnProcessor run, and a
batch transform from the estimator with Transformer.attach. Prints one JSON line: {call: {"ok": ...} or
{"error": ..., "trace": ...}}, so each test checks one call.

    python sagemaker_v2_calls.py <bucket> <jobs dir> <role arn>
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from recorded_calls import recorder  # beside this script, which runs in the client's own venv

bucket, jobs_dir, role = sys.argv[1], Path(sys.argv[2]).resolve(), sys.argv[3]
# No telemetry call to AWS from an offline machine (the SDK's documented opt-out).
config = Path(tempfile.mkdtemp()) / "config.yaml"
config.write_text("SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n")
os.environ["SAGEMAKER_USER_CONFIG_OVERRIDE"] = str(config)

import boto3  # noqa: E402
import sagemaker  # noqa: E402
from sagemaker.estimator import Estimator  # noqa: E402
from sagemaker.processing import ProcessingInput, ProcessingOutput  # noqa: E402
from sagemaker.sklearn import SKLearn, SKLearnModel, SKLearnProcessor  # noqa: E402
from sagemaker.transformer import Transformer  # noqa: E402

session = sagemaker.Session(boto_session=boto3.Session(region_name="us-east-1"), default_bucket=bucket)
results: dict[str, dict] = {}
state: dict[str, object] = {}
INSTANCE = "ml.m5.large"
FRAMEWORK = "1.2-1"


call = recorder(results, trace_chars=3000)


s3 = boto3.client("s3")
s3.put_object(Bucket=bucket, Key="v2/train/train.csv", Body=b"x1,x2,y\n1,2,5\n2,1,4\n3,3,9\n4,1,6\n")
s3.put_object(Bucket=bucket, Key="v2/batch/input.csv", Body=b"1,2\n3,3\n")


@call("fit")
def _fit():
    estimator = SKLearn(entry_point="train.py", source_dir=str(jobs_dir / "train_src"), role=role,
                        instance_count=1, instance_type=INSTANCE, framework_version=FRAMEWORK,
                        hyperparameters={"epochs": 2}, sagemaker_session=session,
                        output_path=f"s3://{bucket}/v2/models")
    estimator.fit({"train": f"s3://{bucket}/v2/train/"}, wait=True, logs=False)
    state["estimator"] = estimator
    job = estimator.latest_training_job.describe()
    return {"job": estimator.latest_training_job.name, "status": job["TrainingJobStatus"],
            "model_data": estimator.model_data}


@call("sklearn_attach")
def _sklearn_attach():
    attached = SKLearn.attach(state["estimator"].latest_training_job.name, sagemaker_session=session)
    return {"entry_point": attached.entry_point, "framework_version": attached.framework_version,
            "output_kms_key": attached.output_kms_key, "output_path": attached.output_path,
            "model_data": attached.model_data, "instance_type": attached.instance_type,
            "hyperparameters": {k: v for k, v in attached.hyperparameters().items() if not k.startswith("sagemaker_")}}


@call("estimator_attach")
def _estimator_attach():
    attached = Estimator.attach(state["estimator"].latest_training_job.name, sagemaker_session=session)
    return {"image_uri": attached.image_uri, "output_kms_key": attached.output_kms_key,
            "max_run": attached.max_run, "volume_size": attached.volume_size, "model_data": attached.model_data}


@call("processing")
def _processing():
    processor = SKLearnProcessor(framework_version=FRAMEWORK, role=role, instance_type=INSTANCE, instance_count=1,
                                 sagemaker_session=session)
    script = Path(tempfile.mkdtemp()) / "count_rows.py"
    script.write_text("import sys, pathlib\n"
                      "rows = sum(len(p.read_text().splitlines()) - 1 for p in pathlib.Path(sys.argv[1]).glob('*.csv'))\n"
                      "pathlib.Path(sys.argv[2], 'rows.txt').write_text(str(rows))\n")
    processor.run(code=str(script),
                  inputs=[ProcessingInput(source=f"s3://{bucket}/v2/train/", destination="/opt/ml/processing/input")],
                  outputs=[ProcessingOutput(source="/opt/ml/processing/output",
                                            destination=f"s3://{bucket}/v2/processed")],
                  arguments=["/opt/ml/processing/input", "/opt/ml/processing/output"], wait=True, logs=False)
    job = processor.latest_job.describe()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="v2/processed/").get("Contents", [])]
    return {"status": job["ProcessingJobStatus"], "outputs": keys}


@call("transform")
def _transform():
    model = SKLearnModel(model_data=state["estimator"].model_data, role=role, entry_point="inference.py",
                         source_dir=str(jobs_dir / "serve_src"), framework_version=FRAMEWORK,
                         sagemaker_session=session)
    transformer = model.transformer(instance_count=1, instance_type=INSTANCE,
                                    output_path=f"s3://{bucket}/v2/predictions")
    transformer.transform(f"s3://{bucket}/v2/batch/", content_type="text/csv", split_type="Line",
                          wait=True, logs=False)
    name = transformer.latest_transform_job.name
    out = s3.get_object(Bucket=bucket, Key="v2/predictions/input.csv.out")["Body"].read().decode()
    attached = Transformer.attach(name, sagemaker_session=session)
    return {"predictions": out.split(), "attached_output_path": attached.output_path,
            "attached_kms": attached.output_kms_key, "attached_assemble_with": attached.assemble_with}


print()  # the SDK prints progress dots without a newline
print(json.dumps(results, default=str))
