"""The process behind one batch transform job: the serving container and the batch agent in one.

It loads the model once through the SKLearn serving contract (serving.py), then, for each input
object: decompresses it (CompressionType Gzip), splits it into records (SplitType Line), packs
the records into requests (BatchStrategy MultiRecord up to MaxPayloadInMB, or SingleRecord),
invokes the handlers and assembles the responses (AssembleWith Line adds a newline after each).
``<x>.out`` is written only once the whole object succeeded, so a failed job leaves the outputs of
the objects that did succeed, as AWS does. Agent messages go to the ``/data-log`` stream through
the pipe the sandbox passes as ``SANDBOX_DATALOG_FD``.

Run as ``python -c ... main(<job.json>)`` by transform.py; exit code 0 means every object succeeded.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import sys
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sandbox.sagemaker.serving import Handler

_STRATEGY_NAMES = {"MultiRecord": "MULTI_RECORD", "SingleRecord": "SINGLE_RECORD"}


class RequestTimeout(Exception):
    pass


class DataLog:
    def __init__(self) -> None:
        fd = os.environ.get("SANDBOX_DATALOG_FD")
        self.stream: TextIO | None = os.fdopen(int(fd), "w", buffering=1) if fd else None

    def write(self, message: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        line = f"{stamp}:[sagemaker logs]: {message}"
        if self.stream is not None:
            self.stream.write(line + "\n")
        else:
            print(line, file=sys.stderr)


def main(job_file: str) -> int:
    spec = json.loads(Path(job_file).read_text())
    datalog = DataLog()
    datalog.write(
        f"MaxConcurrentTransforms={spec['max_concurrent']}, MaxPayloadInMB={spec['max_payload_mb']}, "
        f"BatchStrategy={_STRATEGY_NAMES[spec['batch_strategy']]}"
    )
    try:
        handler = Handler(spec["module"], spec["code_dir"], spec["model_dir"])
    except Exception as e:
        return _fail(spec, datalog, f"the model failed to load: {type(e).__name__}: {e}", None)
    for item in spec["inputs"]:
        try:
            _transform_object(handler, spec, item)
        except Exception as e:
            return _fail(spec, datalog, f"{type(e).__name__}: {e}", item["uri"])
    return 0


def _transform_object(handler: Handler, spec: dict[str, Any], item: dict[str, Any]) -> None:
    data = Path(item["path"]).read_bytes()
    if spec["compression"] == "Gzip":
        data = gzip.decompress(data)
    responses = [_invoke(handler, spec, payload) for payload in _requests(data, spec)]
    if spec["assemble_with"] == "Line":
        body = b"".join(r + b"\n" for r in responses)
    else:
        body = b"".join(responses)
    target = Path(spec["output_dir"]) / (item["relative"] + ".out")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(body)
    partial.rename(target)


def _requests(data: bytes, spec: dict[str, Any]) -> Iterator[bytes]:
    limit = spec["max_payload_mb"] * 1024 * 1024
    if spec["split_type"] != "Line":
        if len(data) > limit:
            raise ValueError(
                f"the object is {len(data)} bytes, more than MaxPayloadInMB={spec['max_payload_mb']}; "
                "use SplitType Line or a larger MaxPayloadInMB"
            )
        yield data
        return
    records = [r for r in data.splitlines(keepends=True) if r.strip()]
    batch: list[bytes] = []
    size = 0
    for record in records:
        if len(record) > limit:
            raise ValueError(
                f"a record is {len(record)} bytes, more than MaxPayloadInMB={spec['max_payload_mb']}"
            )
        if batch and (spec["batch_strategy"] == "SingleRecord" or size + len(record) > limit):
            yield b"".join(batch)
            batch, size = [], 0
        batch.append(record)
        size += len(record)
    if batch:
        yield b"".join(batch)


def _invoke(handler: Handler, spec: dict[str, Any], payload: bytes) -> bytes:
    timeout = spec["invocation_timeout"]
    previous = signal.signal(signal.SIGALRM, _timed_out(timeout))
    signal.alarm(timeout)
    try:
        body, _ = handler.invoke(payload, spec["content_type"], spec["accept"])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return body


def _timed_out(timeout: int):
    def raise_timeout(signum, frame):
        raise RequestTimeout(f"the invocation did not answer within InvocationsTimeoutInSeconds={timeout}")

    return raise_timeout


def _fail(spec: dict[str, Any], datalog: DataLog, detail: str, uri: str | None) -> int:
    traceback.print_exc()
    where = f"{uri}: " if uri else ""
    datalog.write(f"{where}Bad HTTP status received from algorithm: 500. {detail}")
    reason = f"AlgorithmError: See job logs for more information. {where}{detail}"
    failure = Path(spec["failure_file"])
    failure.parent.mkdir(parents=True, exist_ok=True)
    failure.write_text(reason)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
