"""What the moto-backed services hold, for `python -m sandbox status`."""

from __future__ import annotations

from typing import Any

from sandbox.context import SandboxContext
from sandbox.protocol import DEFAULT_ACCOUNT_ID


def inventory(ctx: SandboxContext) -> dict[str, Any]:
    from moto.glue.models import glue_backends
    from moto.iam.models import iam_backends

    s3 = {}
    for name, bucket in list(ctx.s3.backend.buckets.items()):
        keys = list(bucket.keys.items())
        s3[name] = {"objects": len(keys), "bytes": sum(getattr(k, "size", 0) for _, k in keys)}

    glue: dict[str, Any] = {}
    for region, backend in glue_backends[DEFAULT_ACCOUNT_ID].items():
        for db_name, db in list(backend.databases.items()):
            tables = {t: len(tbl.partitions) for t, tbl in list(db.tables.items())}
            glue[f"{region}/{db_name}"] = tables

    roles = sorted(r.name for r in iam_backends[DEFAULT_ACCOUNT_ID]["global"].roles.values())
    return {"s3": s3, "glue": glue, "iam_roles": roles}
