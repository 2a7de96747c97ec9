"""The SageMaker scikit-learn serving contract, as its container and the inference toolkit implement it.

The user module (``SAGEMAKER_PROGRAM``, found in ``SAGEMAKER_SUBMIT_DIRECTORY``) must define
``model_fn(model_dir)``; ``input_fn``, ``predict_fn`` and ``output_fn`` default to the container's:
text/csv and application/json bodies are decoded to numpy float32 arrays (CSV with
``np.genfromtxt``, so a single CSV line becomes a 1-D array, exactly as in the container),
application/x-npy with ``np.load``; predictions are encoded in the Accept type, which defaults to
``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`` (application/json). A module may define ``transform_fn``
instead, but not together with the other three.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

JSON, CSV, NPY, ANY = "application/json", "text/csv", "application/x-npy", "*/*"
UTF8_TYPES = (JSON, CSV)


class UnsupportedFormatError(Exception):
    def __init__(self, content_type: str | None):
        super().__init__(f"Content type {content_type} is not supported by this framework.")


def decode(obj: Any, content_type: str | None):
    import numpy as np

    if content_type == JSON:
        return np.array(json.loads(obj))
    if content_type == CSV:
        return np.genfromtxt(io.StringIO(obj), delimiter=",")
    if content_type == NPY:
        return np.load(io.BytesIO(obj), allow_pickle=True)
    raise UnsupportedFormatError(content_type)


def encode(array_like: Any, content_type: str):
    import numpy as np

    if content_type == JSON:
        return json.dumps(array_like, default=lambda a: a.tolist() if hasattr(a, "tolist") else str(a))
    if content_type == CSV:
        stream = io.StringIO()
        np.savetxt(stream, array_like, delimiter=",", fmt="%s")
        return stream.getvalue()
    if content_type == NPY:
        buffer = io.BytesIO()
        np.save(buffer, array_like)
        return buffer.getvalue()
    raise UnsupportedFormatError(content_type)


def default_model_fn(model_dir: str):
    raise NotImplementedError(
        "Please provide a model_fn implementation. "
        "See documentation for model_fn at https://github.com/aws/sagemaker-python-sdk"
    )


def default_input_fn(input_data: Any, content_type: str | None):
    import numpy as np

    array = decode(input_data, content_type)
    return array.astype(np.float32) if content_type in UTF8_TYPES else array


def default_predict_fn(input_data: Any, model: Any):
    return model.predict(input_data)


def default_output_fn(prediction: Any, accept: str):
    return encode(prediction, accept)


class Handler:
    """The user module's handlers with the container's defaults filled in, and the loaded model."""

    def __init__(self, module_name: str, code_dir: str, model_dir: str):
        self.import_error: str | None = None
        module = self._import(module_name, code_dir)
        self.model_fn: Callable = getattr(module, "model_fn", default_model_fn)
        transform_fn = getattr(module, "transform_fn", None)
        input_fn = getattr(module, "input_fn", None)
        predict_fn = getattr(module, "predict_fn", None)
        output_fn = getattr(module, "output_fn", None)
        if transform_fn and (input_fn or predict_fn or output_fn):
            raise ValueError(
                "Cannot use transform_fn implementation in conjunction with input_fn, predict_fn, "
                "and/or output_fn implementation"
            )
        self.transform_fn: Callable = transform_fn or self._default_transform_fn
        self.input_fn = input_fn or default_input_fn
        self.predict_fn = predict_fn or default_predict_fn
        self.output_fn = output_fn or default_output_fn
        self.model = self._load_model(model_dir)

    def _import(self, module_name: str, code_dir: str):
        if code_dir not in sys.path:
            sys.path.insert(0, code_dir)
        try:
            return importlib.import_module(module_name)
        except Exception:
            # The container falls back to its defaults here, and then fails for lack of model_fn.
            self.import_error = traceback.format_exc(limit=3).strip()
            print(
                f"Error importing the inference module {module_name!r}:\n{self.import_error}", file=sys.stderr
            )
            return None

    def _load_model(self, model_dir: str):
        try:
            return self.model_fn(model_dir)
        except NotImplementedError as e:
            if self.import_error:
                raise NotImplementedError(
                    f"{e} (the module failed to import: {self.import_error.splitlines()[-1]})"
                ) from None
            raise

    def _default_transform_fn(self, model: Any, input_data: Any, content_type: str | None, accept: str):
        data = self.input_fn(input_data, content_type)
        prediction = self.predict_fn(data, model)
        return self.output_fn(prediction, accept)

    def invoke(self, payload: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
        """One request, as the model server handles it: the response body and its content type."""
        if not accept or accept == ANY:
            accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", JSON)
        data: Any = payload.decode("utf-8") if content_type in UTF8_TYPES else payload
        result = self.transform_fn(self.model, data, content_type, accept)
        body, response_type = result if isinstance(result, tuple) else (result, accept)
        return _as_bytes(body), response_type


def _as_bytes(body: Any) -> bytes:
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    raise TypeError(f"the response must be bytes or str, got {type(body).__name__}")
