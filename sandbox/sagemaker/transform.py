"""Batch transform jobs with the SageMaker scikit-learn serving contract.

At Create the model is resolved to one container (through the Model Registry when it names a
ModelPackageName). At run time its ModelDataUrl is extracted into ``model/``, the inference code
is taken from SAGEMAKER_SUBMIT_DIRECTORY (an s3:// sourcedir.tar.gz, or a directory such as
``/opt/ml/model/code``), every object under the input prefix is downloaded, and
transform_worker.py does the rest in its own process. Each input object ``x`` becomes
``<S3OutputPath>/<x relative to the input prefix>.out``.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from sandbox.context import SandboxContext
from sandbox.sagemaker import containers
from sandbox.sagemaker.jobs import Job
from sandbox.sagemaker.process import Launch, LogSink, Outcome
from sandbox.sagemaker.registry import Registry
from sandbox.sagemaker.s3io import (
    JobFailure,
    download,
    extract_tar_gz,
    fresh_dir,
    get_object,
    list_inputs,
    no_objects_message,
    upload_tree,
)
from sandbox.sagemaker.unsupported import refuse_if, s3_uri, single_instance
from sandbox.sagemaker.validation import echo, validation_error

DEFAULT_MAX_PAYLOAD_MB = 6
DEFAULT_INVOCATION_TIMEOUT = 600
_BOOTSTRAP = (
    f"import sys; sys.path.insert(0, {containers.SANDBOX_ROOT!r}); "
    "from sandbox.sagemaker.transform_worker import main; sys.exit(main(sys.argv[1]))"
)


# -- Create ------------------------------------------------------------------------------------------
def check_request(params: dict[str, Any], registry: Registry) -> dict[str, Any]:
    """Refuse what the sandbox cannot run; the model's serving container, resolved now as AWS does."""
    single_instance(params["TransformResources"].get("InstanceCount"), "TransformResources.InstanceCount")
    source = params["TransformInput"]["DataSource"]["S3DataSource"]
    refuse_if(
        source["S3DataType"] != "S3Prefix",
        f"TransformInput S3DataType={source['S3DataType']}",
        "use S3Prefix",
    )
    s3_uri(source["S3Uri"], "TransformInput.DataSource.S3DataSource.S3Uri")
    s3_uri(params["TransformOutput"]["S3OutputPath"], "TransformOutput.S3OutputPath")
    split = params["TransformInput"].get("SplitType", "None")
    refuse_if(split not in ("None", "Line"), f"SplitType={split}", "use None or Line")
    refuse_if(params.get("DataCaptureConfig"), "DataCaptureConfig")
    _check_data_processing(params.get("DataProcessing") or {})
    payload = params.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB)
    refuse_if(payload == 0, "MaxPayloadInMB=0 (HTTP chunked encoding)")
    if payload * params.get("MaxConcurrentTransforms", 1) > 100:
        raise validation_error("MaxConcurrentTransforms * MaxPayloadInMB must not exceed 100 MB.")
    container = registry.serving_container(params["ModelName"])
    refuse_if(container.get("Mode") == "MultiModel", "multi-model containers (Mode=MultiModel)")
    refuse_if(
        container.get("ModelDataSource"),
        "ModelDataSource (uncompressed model data)",
        "use ModelDataUrl with a model.tar.gz",
    )
    s3_uri(container.get("ModelDataUrl"), "the model's ModelDataUrl")
    return container


def _check_data_processing(processing: dict[str, Any]) -> None:
    refuse_if(processing.get("InputFilter") not in (None, "$"), "DataProcessing.InputFilter")
    refuse_if(processing.get("OutputFilter") not in (None, "$"), "DataProcessing.OutputFilter")
    refuse_if(processing.get("JoinSource") not in (None, "None"), "DataProcessing.JoinSource=Input")


# -- Describe ----------------------------------------------------------------------------------------
def describe(job: Job) -> dict[str, Any]:
    request = job.request_copy()
    with job.lock:
        out = {**echo("DescribeTransformJob", request), **job.common_fields()}
    del out["LastModifiedTime"]  # DescribeTransformJob has none, unlike its summary
    return out


def summary(job: Job) -> dict[str, Any]:
    with job.lock:
        full = job.common_fields()
    keys = (
        "TransformJobName",
        "TransformJobArn",
        "CreationTime",
        "TransformEndTime",
        "LastModifiedTime",
        "TransformJobStatus",
        "FailureReason",
    )
    return {k: full[k] for k in keys if k in full}


# -- Execution ---------------------------------------------------------------------------------------
class TransformExecution:
    def __init__(self, job: Job, ctx: SandboxContext):
        self.job, self.ctx = job, ctx
        self.base = job.directory
        self.launch: Launch | None = None

    def prepare(self) -> Launch:
        job, base = self.job, fresh_dir(self.job.directory)
        container = job.extra["container"]
        if container.get("ModelDataUrl"):
            extract_tar_gz(get_object(self.ctx.s3, container["ModelDataUrl"]), base / "model")
        (base / "model").mkdir(exist_ok=True)
        env = {**(container.get("Environment") or {}), **(job.request.get("Environment") or {})}
        code_dir = self._code_dir(env.get("SAGEMAKER_SUBMIT_DIRECTORY"))
        inputs = self._download_inputs()
        spec_file = base / "job.json"
        spec_file.write_text(json.dumps(self._spec(env, code_dir, inputs), indent=1))
        self.launch = Launch(
            cmd=[sys.executable, "-c", _BOOTSTRAP, str(spec_file)],
            cwd=str(base),
            env=containers.environment(
                self.ctx, job.region, self._batch_environment(), containers.rewrite_all(env, base)
            ),
            sink=self._sink(),
            extra_channel="datalog",
        )
        return self.launch

    def _code_dir(self, submit_directory: str | None) -> Path:
        base = self.base
        if submit_directory and submit_directory.startswith("s3://"):
            extract_tar_gz(get_object(self.ctx.s3, submit_directory), base / "code")
            return base / "code"
        if submit_directory:
            return Path(containers.rewrite(submit_directory, base))
        return base / "model" / "code" if (base / "model" / "code").is_dir() else base / "code"

    def _download_inputs(self) -> list[dict[str, str]]:
        uri = self.job.request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
        found = list_inputs(self.ctx.s3, uri)
        if not found:
            raise JobFailure("ClientError: " + no_objects_message(uri, self.job.region, None))
        download(self.ctx.s3, uri, self.base / "input")
        bucket = uri[len("s3://") :].split("/", 1)[0]
        return [
            {"uri": f"s3://{bucket}/{key}", "relative": relative, "path": str(self.base / "input" / relative)}
            for key, relative in found
        ]

    def _spec(self, env: dict[str, str], code_dir: Path, inputs: list[dict[str, str]]) -> dict[str, Any]:
        request = self.job.request
        program = env.get("SAGEMAKER_PROGRAM") or ""
        transform_input, output = request["TransformInput"], request["TransformOutput"]
        return {
            "module": program[:-3] if program.endswith(".py") else program,
            "code_dir": str(code_dir),
            "model_dir": str(self.base / "model"),
            "inputs": inputs,
            "output_dir": str(self.base / "output"),
            "failure_file": str(self.base / "failure"),
            "content_type": transform_input.get("ContentType"),
            "compression": transform_input.get("CompressionType", "None"),
            "split_type": transform_input.get("SplitType", "None"),
            "batch_strategy": _batch_strategy(request),
            "max_payload_mb": request.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB),
            "max_concurrent": request.get("MaxConcurrentTransforms", 1),
            "accept": output.get("Accept"),
            "assemble_with": output.get("AssembleWith", "None"),
            "invocation_timeout": (request.get("ModelClientConfig") or {}).get(
                "InvocationsTimeoutInSeconds", DEFAULT_INVOCATION_TIMEOUT
            ),
        }

    def _batch_environment(self) -> dict[str, str]:
        request = self.job.request
        strategy = "MULTI_RECORD" if _batch_strategy(request) == "MultiRecord" else "SINGLE_RECORD"
        return {
            "SAGEMAKER_BATCH": "true",
            "SAGEMAKER_BATCH_STRATEGY": strategy,
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(request.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB)),
            "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": str(request.get("MaxConcurrentTransforms", 1)),
        }

    def _sink(self) -> LogSink:
        job = self.job
        stream = f"{job.name}/i-{secrets.token_hex(9)[:17]}-{int(time.time())}"
        sink = LogSink(
            job.region,
            job.kind.log_group,
            {"stdout": stream, "stderr": stream, "datalog": f"{stream}/data-log"},
            job.account,
        )
        sink.open("stdout", "datalog")
        return sink

    def finish(self, outcome: Outcome) -> None:
        job = self.job
        if outcome.stopped_by:
            return job.finish("Stopped")  # AWS keeps no output of a stopped transform job
        output = self.base / "output"
        output.mkdir(exist_ok=True)
        for partial in output.rglob("*.partial"):
            partial.unlink()
        upload_tree(self.ctx.s3, output, job.request["TransformOutput"]["S3OutputPath"])
        if outcome.returncode == 0:
            return job.finish("Completed")
        failure = self.base / "failure"
        if failure.is_file():
            return job.finish("Failed", reason=failure.read_text())
        tail = "\n".join(list(self.launch.stderr_tail)[-20:]) or "(nothing on stderr)"
        job.finish(
            "Failed",
            reason=f"AlgorithmError: See job logs for more information. The transform process "
            f"exited with code {outcome.returncode}; last lines of stderr:\n{tail}",
        )

    def stopped_before_start(self) -> None:
        self.job.finish("Stopped")


def _batch_strategy(request: dict[str, Any]) -> str:
    # Unset, SageMaker packs as many records as fit (MultiRecord).
    return request.get("BatchStrategy") or "MultiRecord"
