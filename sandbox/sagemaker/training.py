"""Training jobs in script mode, run by the official ``sagemaker-training`` toolkit.

The sandbox lays out the job directory as SageMaker lays out ``/opt/ml`` (``input/config/*.json``,
``input/data/<channel>/``, ``model/``, ``output/``), then starts one toolkit process with
``SAGEMAKER_BASE_DIR`` pointing at it. The toolkit itself fetches ``sagemaker_submit_directory``
(through boto3, from the sandbox's S3), builds the CLI arguments and ``SM_*`` variables, runs the
script and writes ``output/failure``. Afterwards ``model/`` becomes
``<S3OutputPath>/<job>/output/model.tar.gz`` and ``output/data/`` becomes ``output.tar.gz``;
MetricDefinitions are matched against every log line as it is read.

With ``AlgorithmSpecification.ContainerEntrypoint`` (what SDK v3's ModelTrainer always sends: ``/bin/bash -c
... /opt/ml/input/data/sm_drivers/sm_train.sh``) the given command runs instead of the toolkit, with the
same ``/opt/ml`` layout, as the image's entrypoint would be replaced on AWS; ``python``/``python3`` on its
PATH are the sandbox's interpreter. Such commands name /opt/ml paths inside their own files, so they need
the job's private /opt/ml (bwrap, containers.py) and are refused where the sandbox can only relocate.
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.aws import epoch, parse_s3_uri
from sandbox.context import SandboxContext
from sandbox.sagemaker import containers
from sandbox.sagemaker.jobs import Job
from sandbox.sagemaker.process import Launch, LogSink, Outcome
from sandbox.sagemaker.s3io import download, fresh_dir, list_inputs, no_objects_message, put, tar_gz
from sandbox.sagemaker.unsupported import refuse_if, s3_uri, single_instance
from sandbox.sagemaker.validation import echo, validation_error

_BOOTSTRAP = (
    f"import sys; sys.path.insert(0, {containers.SANDBOX_ROOT!r}); "
    "from sagemaker_training.cli.train import main; main()"
)
_UNSUPPORTED_TOP_LEVEL = {
    "CheckpointConfig": "checkpoint sync (CheckpointConfig)",
    "TensorBoardOutputConfig": "TensorBoard output upload (TensorBoardOutputConfig)",
    "DebugRuleConfigurations": "Debugger rules (DebugRuleConfigurations)",
    "ProfilerRuleConfigurations": "Profiler rules (ProfilerRuleConfigurations)",
    "ServerlessJobConfig": "serverless training (ServerlessJobConfig)",
    "MlflowConfig": "MLflow tracking (MlflowConfig)",
    "ModelPackageConfig": "registering the output model (ModelPackageConfig)",
}


# -- Create ------------------------------------------------------------------------------------------
def check_request(params: dict[str, Any], ctx: SandboxContext, region: str) -> None:
    """Refuse what the sandbox cannot run (see the package docstring), and inputs that do not exist."""
    for key, what in _UNSUPPORTED_TOP_LEVEL.items():
        refuse_if(params.get(key), what)
    algorithm = params.get("AlgorithmSpecification")
    refuse_if(not algorithm, "training without AlgorithmSpecification")
    _check_algorithm(algorithm)
    if algorithm.get("ContainerEntrypoint"):
        available, why = containers.isolation()
        refuse_if(not available, "training ContainerEntrypoint without a private /opt/ml", why)
    else:
        _check_script_mode(params.get("HyperParameters") or {})
    resources = params.get("ResourceConfig") or {}
    refuse_if(not resources, "training without ResourceConfig")
    refuse_if(resources.get("InstanceGroups"), "heterogeneous clusters (ResourceConfig.InstanceGroups)")
    single_instance(resources.get("InstanceCount"), "ResourceConfig.InstanceCount")
    s3_uri(params["OutputDataConfig"]["S3OutputPath"], "OutputDataConfig.S3OutputPath")
    refuse_if(
        params["OutputDataConfig"].get("CompressionType") == "NONE",
        "uncompressed model output (OutputDataConfig.CompressionType=NONE)",
    )
    for i, channel in enumerate(params.get("InputDataConfig") or [], start=1):
        _check_channel(channel, f"InputDataConfig.{i}", algorithm["TrainingInputMode"])
        uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
        if not list_inputs(ctx.s3, uri):
            raise validation_error(no_objects_message(uri, region, params.get("RoleArn")))


def _check_algorithm(algorithm: dict[str, Any]) -> None:
    refuse_if(
        algorithm.get("AlgorithmName"),
        "algorithm resources and built-in algorithms (AlgorithmName)",
        "use a TrainingImage with script mode",
    )
    refuse_if(
        algorithm.get("ContainerArguments") and not algorithm.get("ContainerEntrypoint"),
        "training ContainerArguments for the image's own entrypoint (no ContainerEntrypoint)",
        "give ContainerEntrypoint too, or use script mode hyperparameters",
    )
    refuse_if(
        algorithm["TrainingInputMode"] != "File",
        f"TrainingInputMode={algorithm['TrainingInputMode']}",
        "use File",
    )
    for i, metric in enumerate(algorithm.get("MetricDefinitions") or [], start=1):
        try:
            re.compile(metric["Regex"])
        except re.error as e:
            raise validation_error(
                f"MetricDefinitions.{i}.Regex '{metric['Regex']}' is not a valid regular expression: {e}"
            ) from None


def _check_script_mode(hyperparameters: dict[str, str]) -> None:
    for key in ("sagemaker_program", "sagemaker_submit_directory"):
        refuse_if(
            key not in hyperparameters,
            f"training images' own code (no '{key}' hyperparameter)",
            "the sandbox runs script mode only: set sagemaker_program and sagemaker_submit_directory "
            "(JSON-encoded, as the SageMaker SDK does)",
        )


def _check_channel(channel: dict[str, Any], where: str, input_mode: str) -> None:
    source = channel["DataSource"]
    refuse_if(source.get("FileSystemDataSource"), f"{where}.DataSource.FileSystemDataSource (EFS/FSx)")
    s3 = source.get("S3DataSource")
    refuse_if(not s3, f"{where} without DataSource.S3DataSource")
    refuse_if(
        s3["S3DataType"] != "S3Prefix",
        f"{where}.DataSource.S3DataSource.S3DataType={s3['S3DataType']}",
        "use S3Prefix",
    )
    refuse_if(s3.get("AttributeNames"), f"{where}.DataSource.S3DataSource.AttributeNames")
    s3_uri(s3["S3Uri"], f"{where}.DataSource.S3DataSource.S3Uri")
    refuse_if(channel.get("InputMode", input_mode) != "File", f"{where}.InputMode={channel.get('InputMode')}")
    refuse_if(channel.get("CompressionType") == "Gzip", f"{where}.CompressionType=Gzip (Pipe mode only)")
    refuse_if(channel.get("RecordWrapperType") == "RecordIO", f"{where}.RecordWrapperType=RecordIO")
    refuse_if(channel.get("ShuffleConfig"), f"{where}.ShuffleConfig (Pipe mode only)")


# -- Describe ----------------------------------------------------------------------------------------
def describe(job: Job) -> dict[str, Any]:
    request = job.request_copy()
    with job.lock:
        out = {**echo("DescribeTrainingJob", request), **job.common_fields()}
        out["SecondaryStatus"] = job.secondary
        out["SecondaryStatusTransitions"] = job.rendered_transitions()
        out["ModelArtifacts"] = {"S3ModelArtifacts": job.model_artifacts or model_artifacts_uri(job)}
        if job.metrics:
            out["FinalMetricDataList"] = [
                {"MetricName": name, "Value": value, "Timestamp": epoch(ts)}
                for name, (value, ts) in job.metrics.items()
            ]
        if job.started and job.ended:
            seconds = max(1, math.ceil((job.ended - job.started).total_seconds()))
            out["TrainingTimeInSeconds"] = out["BillableTimeInSeconds"] = seconds
    return out


def summary(job: Job) -> dict[str, Any]:
    with job.lock:
        full = {**job.common_fields(), "SecondaryStatus": job.secondary}
    keys = (
        "TrainingJobName",
        "TrainingJobArn",
        "CreationTime",
        "TrainingEndTime",
        "LastModifiedTime",
        "TrainingJobStatus",
        "SecondaryStatus",
    )
    return {k: full[k] for k in keys if k in full}


def model_artifacts_uri(job: Job) -> str:
    return f"{_job_output_prefix(job)}/model.tar.gz"


def _job_output_prefix(job: Job) -> str:
    return f"{job.request['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{job.name}/output"


# -- Execution ---------------------------------------------------------------------------------------
class TrainingExecution:
    def __init__(self, job: Job, ctx: SandboxContext):
        self.job, self.ctx = job, ctx
        self.base = job.directory
        self.launch: Launch | None = None
        self.metric_patterns = [
            (m["Name"], re.compile(m["Regex"]))
            for m in job.request["AlgorithmSpecification"].get("MetricDefinitions") or []
        ]

    def prepare(self) -> Launch:
        job, base = self.job, fresh_dir(self.job.directory)
        for sub in ("input/config", "input/data", "model", "output/data", "code"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        channels = job.request.get("InputDataConfig") or []
        self._write_config(base / "input" / "config", channels)
        for channel in channels:
            download(
                self.ctx.s3,
                channel["DataSource"]["S3DataSource"]["S3Uri"],
                base / "input" / "data" / channel["ChannelName"],
            )
        stream = f"{job.name}/algo-1-{int(time.time())}"
        sink = LogSink(job.region, job.kind.log_group, {"stdout": stream, "stderr": stream}, job.account)
        sink.open("stdout")
        algorithm = job.request["AlgorithmSpecification"]
        entrypoint = algorithm.get("ContainerEntrypoint")
        cmd = (
            containers.command(entrypoint + (algorithm.get("ContainerArguments") or []), base)
            if entrypoint
            else [sys.executable, "-c", _BOOTSTRAP]
        )
        self.launch = Launch(
            cmd=cmd,
            cwd=str(base),
            env=self._environment(entrypoint=bool(entrypoint)),
            sink=sink,
            on_line=self._scan_metrics,
        )
        return self.launch

    def _write_config(self, config: Path, channels: list[dict[str, Any]]) -> None:
        hyperparameters = containers.rewrite_all(self.job.request.get("HyperParameters"), self.base)
        (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
        (config / "inputdataconfig.json").write_text(
            json.dumps({c["ChannelName"]: _channel_config(c) for c in channels})
        )
        instance_type = self.job.request["ResourceConfig"].get("InstanceType")
        group = {
            "instance_group_name": "homogeneousCluster",
            "instance_type": instance_type,
            "hosts": ["algo-1"],
        }
        (config / "resourceconfig.json").write_text(
            json.dumps(
                {
                    "current_host": "algo-1",
                    "current_instance_type": instance_type,
                    "current_group_name": "homogeneousCluster",
                    "hosts": ["algo-1"],
                    "instance_groups": [group],
                    "network_interface_name": "eth0",
                }
            )
        )

    def _environment(self, entrypoint: bool = False) -> dict[str, str]:
        job = self.job
        extra: dict[str, str] = {}
        if entrypoint:  # the image's python is the sandbox's: first on PATH for the command's own scripts
            extra["PATH"] = f"{Path(sys.executable).parent}:{containers.environment(self.ctx, job.region).get('PATH', '')}"
        return containers.environment(
            self.ctx,
            job.region,
            extra,
            {
                "SAGEMAKER_BASE_DIR": str(self.base),
                "SAGEMAKER_TRAINING_MODULE": "sandbox.sagemaker.train_entry:main",
                "TRAINING_JOB_NAME": job.name,
                "TRAINING_JOB_ARN": job.arn,
                # The toolkit waits until every host name resolves; "algo-1" never does off SageMaker.
                "SM_STUDIO_LOCAL_MODE": "true",
            },
            containers.rewrite_all(job.request.get("Environment"), self.base),
        )

    def _scan_metrics(self, channel: str, line: str, timestamp_ms: int) -> None:
        for name, pattern in self.metric_patterns:
            match = pattern.search(line)
            if match is None:
                continue
            try:
                value = float(match.group(1) if pattern.groups else match.group(0))
            except (ValueError, IndexError):
                continue
            with self.job.lock:
                self.job.metrics[name] = (value, datetime.fromtimestamp(timestamp_ms / 1000, UTC))

    def finish(self, outcome: Outcome) -> None:
        job = self.job
        if outcome.stopped_by == "max_runtime":
            self._upload_model_if_any()
            return job.finish(
                "Stopped",
                secondary="MaxRuntimeExceeded",
                message="Training job runtime exceeded MaxRuntimeInSeconds provided",
            )
        if outcome.stopped_by:
            if job.stop_cause == "user":
                self._upload_model_if_any()
            return job.finish("Stopped")
        if outcome.returncode != 0:
            return job.finish("Failed", reason=self._failure_reason(outcome.returncode))
        job.secondary_status("Uploading", "Uploading generated training model")
        self._upload(self.base / "model", "model.tar.gz")
        job.model_artifacts = model_artifacts_uri(job)
        if any((self.base / "output" / "data").iterdir()):
            self._upload(self.base / "output" / "data", "output.tar.gz")
        job.finish("Completed")

    def stopped_before_start(self) -> None:
        self.job.finish("Stopped")

    def _upload_model_if_any(self) -> None:
        model = self.base / "model"
        if model.is_dir() and any(model.iterdir()):
            self._upload(model, "model.tar.gz")
            self.job.model_artifacts = model_artifacts_uri(self.job)

    def _upload(self, source: Path, name: str) -> None:
        bucket, key = parse_s3_uri(f"{_job_output_prefix(self.job)}/{name}")
        put(self.ctx.s3, bucket, key, tar_gz(source))

    def _failure_reason(self, returncode: int) -> str:
        failure = self.base / "output" / "failure"
        if failure.is_file() and failure.read_text().strip():
            return f"AlgorithmError: {failure.read_text().strip()}, exit code: {returncode}"
        tail = "\n".join(list(self.launch.stderr_tail)[-20:]).strip() or "(nothing on stderr)"
        return (
            f"AlgorithmError: the training process exited with code {returncode}; "
            f"last lines of stderr:\n{tail}"
        )


def _channel_config(channel: dict[str, Any]) -> dict[str, Any]:
    s3 = channel["DataSource"]["S3DataSource"]
    config = {
        "TrainingInputMode": "File",
        "S3DistributionType": s3.get("S3DataDistributionType", "FullyReplicated"),
        "RecordWrapperType": channel.get("RecordWrapperType", "None"),
    }
    if channel.get("ContentType"):
        config["ContentType"] = channel["ContentType"]
    return config
