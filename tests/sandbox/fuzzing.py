"""Seeded request fuzzing for the sandbox's endpoint: random, malformed and out-of-order calls whose every
answer must be something botocore parses (a result or a ClientError), never an unparseable body.

Two generators:

- ``shape_params``: parameters for an operation drawn from botocore's input shape, then damaged (required
  members dropped, strings emptied, over-long or full of XML/JSON metacharacters, numbers negative or huge,
  enum values that are not in the enum). Sent through a real boto3 client with parameter validation off,
  so the damaged request reaches the server as botocore serialises it.
- ``raw_requests``: bodies that no SDK would send (not JSON, JSON that is not an object, binary, truncated
  XML, unknown targets and actions), signed with SigV4 and parsed with botocore's parser for the service's
  protocol.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

NASTY_STRINGS = ["", " ", "<x>&amp;</x>", '"}{', "\x00", "é✓", "a" * 3000, "../../etc/passwd", "s3://", "%s%n"]


def shape_params(shape, rng: random.Random, depth: int = 0) -> Any:
    """A value for ``shape``: usually well-typed, often damaged."""
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for name, member in shape.members.items():
            if member.type_name == "blob" and member.serialization.get("eventstream"):
                continue
            required = name in shape.required_members
            if required and rng.random() < 0.1:
                continue  # a required member missing
            if required or (depth < 3 and rng.random() < 0.3):
                out[name] = shape_params(member, rng, depth + 1)
        return out
    if kind == "list":
        if depth > 4:
            return []
        return [shape_params(shape.member, rng, depth + 1) for _ in range(rng.choice([0, 1, 1, 2]))]
    if kind == "map":
        if depth > 4:
            return {}
        return {rng.choice(["k", "", "a" * 200]): shape_params(shape.value, rng, depth + 1)
                for _ in range(rng.choice([0, 1, 2]))}
    if kind == "string":
        if shape.enum and rng.random() < 0.7:
            return rng.choice(shape.enum)
        return rng.choice([*NASTY_STRINGS, "name-1", "arn:aws:iam::123456789012:role/r", "s3://b/k"])
    if kind in ("integer", "long"):
        return rng.choice([0, 1, -1, 5, 2**31, 10**12])
    if kind in ("float", "double"):
        return rng.choice([0.0, -1.5, 1e300, 0.5])
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "timestamp":
        return rng.choice([0, 1_700_000_000, 4_000_000_000])
    if kind == "blob":
        return rng.choice([b"", b"\x00\xff", b"abc"])
    return None


@dataclass
class RawRequest:
    service: str
    operation: str | None
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


_JSON_TARGETS = {
    "sagemaker": ("SageMaker", "1.1"),
    "athena": ("AmazonAthena", "1.1"),
    "glue": ("AWSGlue", "1.1"),
    "logs": ("Logs_20140328", "1.1"),
}


def raw_requests(rng: random.Random, count: int) -> list[RawRequest]:
    """Requests no SDK would send, for each protocol the sandbox serves."""
    import botocore.session

    session = botocore.session.get_session()
    out: list[RawRequest] = []
    bodies = [b"", b"not json", b"[]", b"5", b'"x"', b"null", b"{", b"\xff\xfe\x00", b'{"a":' + b"[" * 50,
              json.dumps({"MaxResults": "many"}).encode()]
    for _ in range(count):
        choice = rng.random()
        if choice < 0.5:
            service = rng.choice(list(_JSON_TARGETS))
            prefix, version = _JSON_TARGETS[service]
            ops = session.get_service_model(service).operation_names
            operation = rng.choice([*rng.sample(ops, 3), "NoSuchOperation", ""])
            headers = {"X-Amz-Target": f"{prefix}.{operation}" if operation else prefix,
                       "Content-Type": f"application/x-amz-json-{version}"}
            out.append(RawRequest(service, operation or None, "POST", "/", headers, rng.choice(bodies)))
        elif choice < 0.75:
            service = rng.choice(["iam", "sts"])
            ops = session.get_service_model(service).operation_names
            action = rng.choice([*rng.sample(ops, 2), "NoSuchAction", ""])
            version = session.get_service_model(service).api_version
            body = rng.choice([f"Action={action}&Version={version}", f"Action={action}", "garbage=%%%",
                               f"Action={action}&Version={version}&RoleName=" + "x" * 500])
            out.append(RawRequest(service, action or None, "POST", "/",
                                  {"Content-Type": "application/x-www-form-urlencoded"}, body.encode()))
        else:
            method = rng.choice(["GET", "PUT", "POST", "DELETE", "HEAD"])
            path = rng.choice(["/", "/fuzz-bucket", "/fuzz-bucket/k", "/no-such-bucket/k", "/fuzz-bucket?uploads",
                               "/fuzz-bucket/k?uploadId=nope&partNumber=1", "/fuzz-bucket?delete",
                               "/fuzz-bucket?tagging", "/fuzz-bucket/k?acl"])
            body = rng.choice([b"", b"<Delete><Object><Key>k", b"<<<", b"\x00" * 10,
                               b"<CreateBucketConfiguration><LocationConstraint>mars</LocationConstraint>"
                               b"</CreateBucketConfiguration>"])
            out.append(RawRequest("s3", None, method, path, {}, body))
    return out
