"""Processing jobs: download the inputs, run ContainerEntrypoint + ContainerArguments, upload the outputs.

The job directory stands in for ``/opt/ml``: inputs land in their (rewritten) LocalPath,
``config/processingjobconfig.json`` holds the request as AWS writes it (with the real ``/opt/ml``
paths), and every output LocalPath is uploaded to its S3Uri when the process exits 0.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sandbox.context import SandboxContext
from sandbox.sagemaker import containers
from sandbox.sagemaker.jobs import Job
from sandbox.sagemaker.process import Launch, LogSink, Outcome
from sandbox.sagemaker.s3io import (
    JobFailure,
    download,
    fresh_dir,
    list_inputs,
    no_objects_message,
    upload_tree,
)
from sandbox.sagemaker.unsupported import local_path_under, refuse_if, s3_uri, single_instance
from sandbox.sagemaker.validation import echo

LOCAL_ROOT = "/opt/ml/processing"


def check_request(params: dict[str, Any]) -> None:
    """Refuse what the sandbox cannot run (see the package docstring)."""
    app = params["AppSpecification"]
    refuse_if(
        not app.get("ContainerEntrypoint"),
        "container images' own entrypoints",
        "set AppSpecification.ContainerEntrypoint, e.g. ['python3', '/opt/ml/processing/input/code/run.py']",
    )
    single_instance(
        params["ProcessingResources"]["ClusterConfig"].get("InstanceCount"),
        "ProcessingResources.ClusterConfig.InstanceCount",
    )
    for i, item in enumerate(params.get("ProcessingInputs") or [], start=1):
        _check_input(item, f"ProcessingInputs.{i}")
    for i, item in enumerate((params.get("ProcessingOutputConfig") or {}).get("Outputs") or [], start=1):
        _check_output(item, f"ProcessingOutputConfig.Outputs.{i}")


def _check_input(item: dict[str, Any], where: str) -> None:
    refuse_if(
        item.get("DatasetDefinition"),
        f"{where}.DatasetDefinition (Athena/Redshift dataset inputs)",
        "run the query first and pass its S3 output as an S3Input",
    )
    refuse_if(item.get("AppManaged"), f"{where}.AppManaged=true")
    s3 = item.get("S3Input")
    refuse_if(not s3, f"{where} without S3Input")
    refuse_if(s3.get("S3InputMode") == "Pipe", f"{where}.S3Input.S3InputMode=Pipe", "use File")
    refuse_if(
        s3.get("S3DataType") == "ManifestFile", f"{where}.S3Input.S3DataType=ManifestFile", "use S3Prefix"
    )
    refuse_if(
        s3.get("S3CompressionType") == "Gzip", f"{where}.S3Input.S3CompressionType=Gzip (Pipe mode only)"
    )
    local_path_under(s3.get("LocalPath"), LOCAL_ROOT, f"{where}.S3Input.LocalPath")
    refuse_if(not s3.get("LocalPath"), f"{where}.S3Input without LocalPath")
    s3_uri(s3["S3Uri"], f"{where}.S3Input.S3Uri")


def _check_output(item: dict[str, Any], where: str) -> None:
    refuse_if(item.get("FeatureStoreOutput"), f"{where}.FeatureStoreOutput")
    refuse_if(item.get("AppManaged"), f"{where}.AppManaged=true")
    s3 = item.get("S3Output")
    refuse_if(not s3, f"{where} without S3Output")
    refuse_if(
        s3.get("S3UploadMode") == "Continuous", f"{where}.S3Output.S3UploadMode=Continuous", "use EndOfJob"
    )
    local_path_under(s3.get("LocalPath"), LOCAL_ROOT, f"{where}.S3Output.LocalPath")
    refuse_if(not s3.get("LocalPath"), f"{where}.S3Output without LocalPath")
    s3_uri(s3["S3Uri"], f"{where}.S3Output.S3Uri")


def describe(job: Job) -> dict[str, Any]:
    request = job.request_copy()
    with job.lock:
        out = {**echo("DescribeProcessingJob", request), **job.common_fields()}
        if job.exit_message:
            out["ExitMessage"] = job.exit_message
    return out


def summary(job: Job) -> dict[str, Any]:
    with job.lock:
        full = {**job.common_fields(), "ExitMessage": job.exit_message}
    keys = (
        "ProcessingJobName",
        "ProcessingJobArn",
        "CreationTime",
        "ProcessingEndTime",
        "LastModifiedTime",
        "ProcessingJobStatus",
        "FailureReason",
        "ExitMessage",
    )
    return {k: full[k] for k in keys if full.get(k) is not None}


class ProcessingExecution:
    def __init__(self, job: Job, ctx: SandboxContext):
        self.job, self.ctx = job, ctx
        self.base = job.directory
        self.launch: Launch | None = None

    def prepare(self) -> Launch:
        job, base = self.job, fresh_dir(self.job.directory)
        for item in job.request.get("ProcessingInputs") or []:
            self._download(item["S3Input"])
        for item in self._outputs():
            Path(containers.rewrite(item["S3Output"]["LocalPath"], base)).mkdir(parents=True, exist_ok=True)
        self._write_config(base)
        app = job.request["AppSpecification"]
        sink = LogSink(job.region, job.kind.log_group, _streams(job), job.account)
        sink.open("stdout")
        self.launch = Launch(
            cmd=containers.command(app["ContainerEntrypoint"] + (app.get("ContainerArguments") or []), base),
            cwd=str(base),
            env=containers.environment(
                self.ctx, job.region, containers.rewrite_all(job.request.get("Environment"), base)
            ),
            sink=sink,
        )
        return self.launch

    def _download(self, s3_input: dict[str, Any]) -> None:
        uri = s3_input["S3Uri"]
        if not list_inputs(self.ctx.s3, uri):
            raise JobFailure(
                "ClientError: " + no_objects_message(uri, self.job.region, self.job.request["RoleArn"])
            )
        download(self.ctx.s3, uri, Path(containers.rewrite(s3_input["LocalPath"], self.base)))

    def _outputs(self) -> list[dict[str, Any]]:
        return (self.job.request.get("ProcessingOutputConfig") or {}).get("Outputs") or []

    def _write_config(self, base: Path) -> None:
        config = base / "config"
        config.mkdir(parents=True, exist_ok=True)
        request = {**self.job.request_copy(), "ProcessingJobArn": self.job.arn}
        (config / "processingjobconfig.json").write_text(json.dumps(request, indent=2))
        cluster = self.job.request["ProcessingResources"]["ClusterConfig"]
        (config / "resourceconfig.json").write_text(json.dumps(_resource_config(cluster.get("InstanceType"))))

    def finish(self, outcome: Outcome) -> None:
        job = self.job
        if outcome.stopped_by == "max_runtime":
            limit = job.request["StoppingCondition"]["MaxRuntimeInSeconds"]
            job.exit_message = f"Processing job exceeded MaxRuntimeInSeconds ({limit} s) and was stopped."
            self.launch.sink.add("stdout", job.exit_message)
            self.launch.sink.close()
            return job.finish("Stopped")
        self._read_exit_message()
        if outcome.stopped_by:
            return job.finish("Stopped")
        if outcome.returncode != 0:
            return job.finish(
                "Failed", reason=failure_reason(outcome.returncode, list(self.launch.stderr_tail))
            )
        for item in self._outputs():
            s3_output = item["S3Output"]
            upload_tree(
                self.ctx.s3, Path(containers.rewrite(s3_output["LocalPath"], self.base)), s3_output["S3Uri"]
            )
        job.finish("Completed")

    def _read_exit_message(self) -> None:
        """``/opt/ml/output/message``: AWS returns its first 1 KB as ExitMessage, whatever the job's end."""
        message = self.base / "output" / "message"
        if message.is_file():
            with self.job.lock:
                self.job.exit_message = message.read_bytes()[:1024].decode("utf-8", errors="replace")

    def stopped_before_start(self) -> None:
        self.job.finish("Stopped")


def failure_reason(returncode: int, stderr_tail: list[str]) -> str:
    tail = "\n".join(stderr_tail[-20:]).strip() or "(nothing on stderr)"
    return (
        f"AlgorithmError: See job logs for more information. The process exited with code {returncode}; "
        f"last lines of stderr:\n{tail}"
    )


def _resource_config(instance_type: str | None) -> dict[str, Any]:
    group = {"instance_group_name": "homogeneousCluster", "instance_type": instance_type, "hosts": ["algo-1"]}
    return {
        "current_host": "algo-1",
        "current_instance_type": instance_type,
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1"],
        "instance_groups": [group],
        "network_interface_name": "eth0",
    }


def _streams(job: Job) -> dict[str, str]:
    stream = f"{job.name}/algo-1-{int(time.time())}"
    return {"stdout": stream, "stderr": stream}
