"""Inference module with every handler overridden: each request is answered with one line
`records=<n> bytes=<size> sum=<sum of first column>`, so tests can see how records were packed.
A record containing `boom` makes predict_fn raise."""

import json


def model_fn(model_dir):
    with open(f"{model_dir}/params.json") as f:
        return json.load(f)


def input_fn(input_data, content_type):
    assert content_type == "text/csv", content_type
    return [line for line in input_data.splitlines() if line], len(input_data.encode())


def predict_fn(data, model):
    lines, size = data
    if any("boom" in line for line in lines):
        raise ValueError("cannot score a record containing boom")
    total = sum(float(line.split(",")[0]) for line in lines) * model["scale"]
    return {"records": len(lines), "bytes": size, "sum": total}


def output_fn(prediction, accept):
    body = f"records={prediction['records']} bytes={prediction['bytes']} sum={prediction['sum']:g}"
    return body, "text/plain"
