"""What the sandbox was asked to do, as IAM authorises it: (principal, action, resource, condition keys).

``entries_for`` derives what IAM checks for a request: the action and the ARN it checks for that action
(for Glue, the catalog, database and table are all checked, so all three are entries), with the condition
keys the template's policies test (``s3:prefix``, ``iam:PassedToService``). The server authorises those
entries (sandbox.iam) and records them with the verdict; ``GET /_sandbox/access`` returns the record, which
the least-privilege tests compare with the template's policies. The principal is ``sandbox`` for the
administrator key, else the caller's ARN (an assumed-role session for the Airflow role and the jobs).

Calls the sandbox makes in-process for a job (its inputs, outputs and logs, as SageMaker's agents make them
with the execution role) are authorised and recorded too, as that job's execution-role session.
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import parse_qs, unquote

from sandbox.protocol import DEFAULT_ACCOUNT_ID, RequestInfo

# Calls that IAM does not authorise (sts:GetCallerIdentity is always allowed).
_UNCHECKED = {("sts", "GetCallerIdentity")}
_SAGEMAKER_NAMES = {"ProcessingJobName": "processing-job", "TrainingJobName": "training-job",
                    "TransformJobName": "transform-job", "ModelName": "model"}


class AccessRecord:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple, int] = {}
        self._query_workgroups: dict[str, str] = {}

    # -- recording ------------------------------------------------------------------------------------
    def entries_for(self, info: RequestInfo, environ: dict[str, Any]) -> list[tuple[str, str, dict]]:
        """What IAM checks for this request; empty for calls IAM does not authorise."""
        if not info.service or (info.service, info.operation) in _UNCHECKED:
            return []
        try:
            return self._entries_for(info, environ)
        except Exception as e:  # a request the table does not know is recorded as such, never dropped
            return [(f"{info.service}:{info.operation}", f"unknown ({type(e).__name__}: {e})", {})]

    def add(self, principal: str, entries: list[tuple[str, str, dict]], *, allowed: bool = True) -> None:
        with self._lock:
            for action, resource, context in entries:
                key = (principal, action, resource, tuple(sorted(context.items())), allowed)
                self._counts[key] = self._counts.get(key, 0) + 1

    def note_response(self, info: RequestInfo, body: bytes) -> None:
        """Athena authorises a query's later calls against its workgroup, which only the start call names."""
        if info.service == "athena" and info.operation == "StartQueryExecution":
            try:
                query_id = json.loads(body)["QueryExecutionId"]
            except (ValueError, KeyError, TypeError):
                return
            workgroup = _json(info).get("WorkGroup") or "primary"
            with self._lock:
                self._query_workgroups[query_id] = workgroup

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"principal": p, "action": a, "resource": r, "context": dict(c), "allowed": ok, "count": n}
                    for (p, a, r, c, ok), n in sorted(self._counts.items())]

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()

    # -- what IAM checks ---------------------------------------------------------------------------------
    def _entries_for(self, info: RequestInfo, environ: dict[str, Any]) -> list[tuple[str, str, dict]]:
        if info.service == "s3":
            return _s3(info, environ)
        region, account = info.region, DEFAULT_ACCOUNT_ID
        action = f"{info.service}:{info.operation}"
        params = _json(info) if environ.get("HTTP_X_AMZ_TARGET") else {}
        arn = f"arn:aws:{info.service}:{region}:{account}"
        if info.service == "sagemaker":
            resources = _sagemaker(info.operation or "", params, arn)
            entries = [(action, r, {}) for r in resources]
            if (info.operation or "").startswith("Create") and params.get("Tags"):
                # Tags on create are authorised as sagemaker:AddTags on the new resource too.
                entries += [("sagemaker:AddTags", r, {}) for r in resources]
            for key in ("RoleArn", "ExecutionRoleArn"):  # passing a role is iam:PassRole on it
                if params.get(key):
                    entries.append(("iam:PassRole", params[key], {"iam:PassedToService": "sagemaker.amazonaws.com"}))
            return entries
        if info.service == "athena":
            ids = params.get("QueryExecutionIds") or ([params["QueryExecutionId"]] if "QueryExecutionId" in params else [])
            with self._lock:
                groups = {self._query_workgroups.get(q, "unknown") for q in ids} if ids else {
                    params.get("WorkGroup") or params.get("Name") or "primary"}
            return [(action, f"{arn}:workgroup/{g}", {}) for g in sorted(groups)]
        if info.service == "glue":
            db = params.get("DatabaseName") or (params.get("Name") if "Database" in (info.operation or "") else None)
            table = params.get("TableName") or (params.get("Name") if "Table" in (info.operation or "") else None)
            out = [f"{arn}:catalog"]
            if db:
                out.append(f"{arn}:database/{db}")
            if db and table:
                out.append(f"{arn}:table/{db}/{table}")
            return [(action, r, {}) for r in out]
        if info.service == "logs":
            group, stream = params.get("logGroupName"), params.get("logStreamName")
            if not group:
                return [(action, "*", {})]
            return [(action, f"{arn}:log-group:{group}:" + (f"log-stream:{stream}" if stream else "*"), {})]
        if info.service == "quicksight" and info.uri.get("DataSetId"):
            # IAM's resource types: dataset/<id> and dataset/<id>/ingestion/<id> (not the API's data-set/...)
            resource = f"arn:aws:quicksight:{region}:{account}:dataset/{info.uri['DataSetId']}"
            if info.uri.get("IngestionId"):
                resource += f"/ingestion/{info.uri['IngestionId']}"
            return [(action, resource, {})]
        if info.service == "secretsmanager":
            return [(action, _secret_arn(params.get("SecretId", ""), region, account), {})]
        if info.service in ("sts", "iam"):
            form = {k: v[0] for k, v in parse_qs((info.body or b"").decode("utf-8", "replace")).items()}
            arn = form.get("RoleArn") or form.get("PolicySourceArn")
            if not arn and form.get("RoleName"):
                arn = f"arn:aws:iam::{account}:role/{form['RoleName']}"
            return [(action, arn or "*", {})]
        return [(action, "*", {})]


def _json(info: RequestInfo) -> dict[str, Any]:
    try:
        body = json.loads(info.body or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _sagemaker(operation: str, params: dict[str, Any], arn: str) -> list[str]:
    if operation.startswith("List") and operation != "ListTags":
        return ["*"]  # SageMaker's List* calls have no resource type
    if params.get("ResourceArn"):
        return [params["ResourceArn"]]
    for key, kind in _SAGEMAKER_NAMES.items():
        if params.get(key):
            return [f"{arn}:{kind}/{params[key].lower()}"]
    if params.get("ModelPackageName"):
        name = params["ModelPackageName"]
        return [name if name.startswith("arn:") else f"{arn}:model-package/{name.lower()}"]
    if params.get("ModelPackageGroupName"):
        group = params["ModelPackageGroupName"].rsplit("/", 1)[-1].lower()
        if operation == "CreateModelPackage":  # the new version's ARN: model-package/<group>/<version>
            return [f"{arn}:model-package/{group}/*"]
        return [f"{arn}:model-package-group/{group}"]
    return ["*"]


def _secret_arn(secret_id: str, region: str, account: str) -> str:
    if secret_id.startswith("arn:"):
        return secret_id
    from moto.secretsmanager.models import secretsmanager_backends

    secret = secretsmanager_backends[account][region].secrets.get(secret_id)
    # A name that is not a secret: IAM checks the ARN the name would have (with AWS's random suffix).
    return secret.arn if secret is not None else f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_id}-??????"


def _s3(info: RequestInfo, environ: dict[str, Any]) -> list[tuple[str, str, dict]]:
    method = environ.get("REQUEST_METHOD", "GET")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    bucket, _, key = unquote(environ.get("PATH_INFO", "/")).lstrip("/").partition("/")
    if not bucket:
        return [("s3:ListAllMyBuckets", "*", {})]
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if key:
        obj = f"{bucket_arn}/{key}"
        if method in ("GET", "HEAD"):
            return [("s3:GetObject", obj, {})]
        if method == "DELETE":
            return [("s3:AbortMultipartUpload" if "uploadId" in query else "s3:DeleteObject", obj, {})]
        out = [("s3:PutObject", obj, {})]
        source = environ.get("HTTP_X_AMZ_COPY_SOURCE")
        if source:
            out.append(("s3:GetObject", "arn:aws:s3:::" + unquote(source).lstrip("/").split("?", 1)[0], {}))
        return out
    if method == "POST" and "delete" in query:
        # DeleteObjects is authorised per key as s3:DeleteObject; the keys are in the (buffered) body.
        import io
        import xml.etree.ElementTree as ET

        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        keys = [el.text for el in ET.fromstring(body).iter() if el.tag.endswith("Key")]
        return [("s3:DeleteObject", f"{bucket_arn}/{k}", {}) for k in keys]
    if method in ("GET", "HEAD") and not (set(query) - {"list-type", "prefix", "delimiter", "max-keys",
                                                        "continuation-token", "start-after", "encoding-type",
                                                        "fetch-owner", "marker"}):
        return [("s3:ListBucket", bucket_arn, {"s3:prefix": query.get("prefix", [""])[0]})]
    if "location" in query:
        return [("s3:GetBucketLocation", bucket_arn, {})]
    return [(f"s3:{info.operation or method}", bucket_arn, {})]
