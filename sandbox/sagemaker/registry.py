"""Models, model package groups and model packages (the Model Registry), for one account and region.

Versioned packages live in a group and are numbered 1, 2, ... (numbers of deleted versions are not
reused); unversioned packages have their own name. UpdateModelPackage merges
CustomerMetadataProperties into the existing ones and removes CustomerMetadataPropertiesToRemove,
where moto replaces the whole map. A ClientToken makes CreateModelPackage idempotent: the same token
with the same request returns the first package instead of registering another version.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.aws import epoch, now
from sandbox.protocol import AwsError
from sandbox.sagemaker import arns
from sandbox.sagemaker.listing import Listable, list_page
from sandbox.sagemaker.unsupported import not_emulated
from sandbox.sagemaker.validation import echo, validation_error

# Request members that are not stored as-is on the package.
_PACKAGE_CONTROL = {"ModelPackageName", "ModelPackageGroupName", "ModelApprovalStatus", "ClientToken", "Tags"}


@dataclass
class Model:
    name: str
    arn: str
    request: dict[str, Any]
    created: datetime = field(default_factory=now)


@dataclass
class PackageGroup:
    name: str
    arn: str
    description: str | None
    created: datetime = field(default_factory=now)
    last_version: int = 0


@dataclass
class Package:
    arn: str
    name: str
    fields: dict[str, Any]
    group: str | None = None
    version: int | None = None
    approval: str | None = None
    approval_description: str | None = None
    created: datetime = field(default_factory=now)
    modified: datetime | None = None

    @property
    def versioned(self) -> bool:
        return self.group is not None


class Registry:
    def __init__(self, region: str, account: str):
        self.region, self.account = region, account
        self.models: dict[str, Model] = {}
        self.groups: dict[str, PackageGroup] = {}
        self.packages: dict[str, Package] = {}  # by ARN
        self._tokens: dict[str, tuple[str, str]] = {}  # ClientToken -> (package ARN, request fingerprint)
        self.lock = threading.RLock()

    # -- models --------------------------------------------------------------------------------------
    def create_model(self, params: dict[str, Any]) -> Model:
        name = params["ModelName"]
        arn = arns.model_arn(self.region, self.account, name)
        if bool(params.get("PrimaryContainer")) == bool(params.get("Containers")):
            raise validation_error("Exactly one of PrimaryContainer or Containers must be specified.")
        for container in _containers(params):
            if container.get("ModelPackageName"):
                self.package(container["ModelPackageName"])
        with self.lock:
            if name in self.models:
                raise validation_error(f'Cannot create already existing model "{arn}".')
            model = Model(name, arn, {k: v for k, v in params.items() if k != "Tags"})
            self.models[name] = model
        return model

    def model(self, name: str) -> Model:
        model = self.models.get(name)
        if model is None:
            raise validation_error(
                f'Could not find model "{arns.model_arn(self.region, self.account, name)}".'
            )
        return model

    def describe_model(self, name: str) -> dict[str, Any]:
        model = self.model(name)
        request = {"EnableNetworkIsolation": False, **model.request}
        return {**echo("DescribeModel", request), "ModelArn": model.arn, "CreationTime": epoch(model.created)}

    def delete_model(self, name: str) -> None:
        with self.lock:
            self.model(name)
            del self.models[name]

    def list_models(self, params: dict[str, Any]) -> dict[str, Any]:
        how = Listable(name=lambda m: m.name, created=lambda m: m.created)
        with self.lock:
            models = list(self.models.values())
        page, token = list_page(models, params, how, default_order="Descending")
        out: dict[str, Any] = {
            "Models": [
                {"ModelName": m.name, "ModelArn": m.arn, "CreationTime": epoch(m.created)} for m in page
            ]
        }
        return _with_token(out, token)

    def serving_container(self, model_name: str) -> dict[str, Any]:
        """Image, ModelDataUrl and Environment of the model's one container, resolving ModelPackageName."""
        model = self.model(model_name)
        containers = _containers(model.request)
        if len(containers) != 1:
            raise not_emulated("inference pipelines (models with several containers)")
        container = dict(containers[0])
        if container.get("ModelPackageName"):
            package = self.package(container["ModelPackageName"])
            spec = package.fields.get("InferenceSpecification") or {}
            base = dict((spec.get("Containers") or [{}])[0])
            base["Environment"] = {**(base.get("Environment") or {}), **(container.get("Environment") or {})}
            container = base
        return container

    # -- groups --------------------------------------------------------------------------------------
    def create_group(self, params: dict[str, Any]) -> PackageGroup:
        name = params["ModelPackageGroupName"]
        arn = arns.arn(self.region, self.account, "model-package-group", name)
        with self.lock:
            if name in self.groups:
                raise validation_error(f"Model Package Group already exists: {arn}")
            group = PackageGroup(name, arn, params.get("ModelPackageGroupDescription"))
            self.groups[name] = group
        return group

    def group(self, name_or_arn: str) -> PackageGroup:
        name = self._name_from_arn(name_or_arn, "model-package-group")
        group = self.groups.get(name)
        if group is None:
            arn = arns.arn(self.region, self.account, "model-package-group", name)
            raise validation_error(f"ModelPackageGroup {arn} does not exist.")
        return group

    def describe_group(self, name_or_arn: str) -> dict[str, Any]:
        group = self.group(name_or_arn)
        out = {
            "ModelPackageGroupName": group.name,
            "ModelPackageGroupArn": group.arn,
            "CreationTime": epoch(group.created),
            "CreatedBy": self._user(),
            "ModelPackageGroupStatus": "Completed",
        }
        if group.description:
            out["ModelPackageGroupDescription"] = group.description
        return out

    def delete_group(self, name_or_arn: str) -> None:
        with self.lock:
            group = self.group(name_or_arn)
            if any(p.group == group.name for p in self.packages.values()):
                raise AwsError(
                    "ConflictException",
                    f"Model Package Group {group.arn} cannot be deleted because "
                    "it contains model packages; delete them first.",
                )
            del self.groups[group.name]

    def list_groups(self, params: dict[str, Any]) -> dict[str, Any]:
        how = Listable(name=lambda g: g.name, created=lambda g: g.created)
        with self.lock:
            groups = list(self.groups.values())
        page, token = list_page(groups, params, how, default_order="Ascending")
        items = []
        for g in page:
            item = {
                "ModelPackageGroupName": g.name,
                "ModelPackageGroupArn": g.arn,
                "CreationTime": epoch(g.created),
                "ModelPackageGroupStatus": "Completed",
            }
            if g.description:
                item["ModelPackageGroupDescription"] = g.description
            items.append(item)
        return _with_token({"ModelPackageGroupSummaryList": items}, token)

    # -- packages ------------------------------------------------------------------------------------
    def create_package(self, params: dict[str, Any]) -> tuple[Package, bool]:
        """The package, and whether it is new (False when a ClientToken matched an earlier call)."""
        with self.lock:
            existing = self._by_client_token(params)
            if existing is not None:
                return existing, False
            package = self._new_package(params)
            self.packages[package.arn] = package
            if params.get("ClientToken"):
                self._tokens[params["ClientToken"]] = (package.arn, _fingerprint(params))
        return package, True

    def _new_package(self, params: dict[str, Any]) -> Package:
        name, group_ref = params.get("ModelPackageName"), params.get("ModelPackageGroupName")
        if name and group_ref:
            raise validation_error(
                "Both ModelPackageName and ModelPackageGroupName are provided in the input. "
                "Cannot determine which one to use."
            )
        if not name and not group_ref:
            raise validation_error("Missing ARN.")
        _check_inference_specification(params.get("InferenceSpecification"))
        fields = {k: v for k, v in params.items() if k not in _PACKAGE_CONTROL}
        if group_ref:
            group = self.group(group_ref)
            group.last_version += 1
            arn = arns.arn(self.region, self.account, "model-package", f"{group.name}/{group.last_version}")
            return Package(
                arn,
                group.name,
                fields,
                group.name,
                group.last_version,
                params.get("ModelApprovalStatus") or "PendingManualApproval",
            )
        if params.get("ModelApprovalStatus"):
            raise validation_error(
                "ModelApprovalStatus applies to versioned model packages only (use ModelPackageGroupName)."
            )
        arn = arns.arn(self.region, self.account, "model-package", name)
        if arn in self.packages:
            raise AwsError("ConflictException", f"Model Package {arn} already exists.")
        return Package(arn, name, fields)

    def _by_client_token(self, params: dict[str, Any]) -> Package | None:
        token = params.get("ClientToken")
        if not token or token not in self._tokens:
            return None
        arn, fingerprint = self._tokens[token]
        if fingerprint != _fingerprint(params):
            raise validation_error(f"ClientToken {token} was already used with different parameters.")
        return self.packages.get(arn)

    def package(self, name_or_arn: str) -> Package:
        ident = self._name_from_arn(name_or_arn, "model-package")
        arn = arns.arn(self.region, self.account, "model-package", ident)
        package = self.packages.get(arn)
        if package is None:
            raise validation_error(f"ModelPackage {arn} does not exist.")
        return package

    def describe_package(self, name_or_arn: str) -> dict[str, Any]:
        p = self.package(name_or_arn)
        with self.lock:
            out = {
                **echo("DescribeModelPackage", p.fields),
                "ModelPackageName": p.name,
                "ModelPackageArn": p.arn,
                "CreationTime": epoch(p.created),
                "ModelPackageStatus": "Completed",
                "ModelPackageStatusDetails": {"ValidationStatuses": []},
                "CreatedBy": self._user(),
            }
            if p.versioned:
                out.update(
                    ModelPackageGroupName=p.group,
                    ModelPackageVersion=p.version,
                    ModelApprovalStatus=p.approval,
                )
            if p.approval_description:
                out["ApprovalDescription"] = p.approval_description
            if p.modified:
                out.update(LastModifiedTime=epoch(p.modified), LastModifiedBy=self._user())
        return out

    def update_package(self, params: dict[str, Any]) -> Package:
        with self.lock:
            p = self.package(params["ModelPackageArn"])
            if params.get("ModelApprovalStatus"):
                if not p.versioned:
                    raise validation_error("ModelApprovalStatus applies to versioned model packages only.")
                p.approval = params["ModelApprovalStatus"]
            if "ApprovalDescription" in params:
                p.approval_description = params["ApprovalDescription"]
            _merge_metadata(p.fields, params)
            for key in (
                "InferenceSpecification",
                "SourceUri",
                "ModelCard",
                "ModelLifeCycle",
                "ModelPackageRegistrationType",
            ):
                if key in params:
                    p.fields[key] = params[key]
            if params.get("AdditionalInferenceSpecificationsToAdd"):
                p.fields.setdefault("AdditionalInferenceSpecifications", []).extend(
                    params["AdditionalInferenceSpecificationsToAdd"]
                )
            p.modified = now()
        return p

    def delete_package(self, name_or_arn: str) -> None:
        with self.lock:
            package = self.package(name_or_arn)
            del self.packages[package.arn]

    def list_packages(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            selected = self._package_filter(params)
        how = Listable(name=lambda p: p.name, created=lambda p: p.created, ident=lambda p: p.arn)
        page, token = list_page(selected, params, how, default_order="Ascending")
        return _with_token({"ModelPackageSummaryList": [_package_summary(p) for p in page]}, token)

    def _package_filter(self, params: dict[str, Any]) -> list[Package]:
        group = (
            self.group(params["ModelPackageGroupName"]).name if params.get("ModelPackageGroupName") else None
        )
        # Unversioned is the documented default, but a group filter only ever matches versions.
        kind = params.get("ModelPackageType") or ("Both" if group else "Unversioned")
        selected = []
        for p in self.packages.values():
            if group is not None and p.group != group:
                continue
            if kind != "Both" and (kind == "Versioned") != p.versioned:
                continue
            if params.get("ModelApprovalStatus") and p.approval != params["ModelApprovalStatus"]:
                continue
            selected.append(p)
        return selected

    # -- helpers -------------------------------------------------------------------------------------
    def _name_from_arn(self, value: str, resource_type: str) -> str:
        parsed = arns.parse(value)
        if parsed is None:
            return value
        region, _, kind, ident = parsed
        if region != self.region:
            raise validation_error(f"ARN should be scoped to correct region: {self.region}")
        if kind != resource_type:
            raise validation_error(f"{value} is not a {resource_type} ARN.")
        return ident

    def _user(self) -> dict[str, Any]:
        return {"IamIdentity": {"Arn": f"arn:aws:iam::{self.account}:root", "PrincipalId": self.account}}

    def owns(self, arn: str) -> bool:
        with self.lock:
            return (
                arn in self.packages
                or any(g.arn == arn for g in self.groups.values())
                or any(m.arn == arn for m in self.models.values())
            )

    def status(self) -> dict[str, int]:
        with self.lock:
            return {
                "models": len(self.models),
                "model_package_groups": len(self.groups),
                "model_packages": len(self.packages),
            }


def _containers(request: dict[str, Any]) -> list[dict[str, Any]]:
    return request.get("Containers") or (
        [request["PrimaryContainer"]] if request.get("PrimaryContainer") else []
    )


def _check_inference_specification(spec: dict[str, Any] | None) -> None:
    for i, container in enumerate((spec or {}).get("Containers") or [], start=1):
        if not container.get("Image"):
            raise validation_error(
                f"1 validation error detected: Value null at 'inferenceSpecification.containers."
                f"{i}.member.image' failed to satisfy constraint: Member must not be null"
            )


def _merge_metadata(fields: dict[str, Any], params: dict[str, Any]) -> None:
    metadata = dict(fields.get("CustomerMetadataProperties") or {})
    metadata.update(params.get("CustomerMetadataProperties") or {})
    for key in params.get("CustomerMetadataPropertiesToRemove") or []:
        metadata.pop(key, None)
    if metadata:
        fields["CustomerMetadataProperties"] = metadata
    else:
        fields.pop("CustomerMetadataProperties", None)


def _package_summary(p: Package) -> dict[str, Any]:
    # Like AWS, versions are summarised by group and number; only unversioned packages show a name.
    item: dict[str, Any] = {
        "ModelPackageArn": p.arn,
        "CreationTime": epoch(p.created),
        "ModelPackageStatus": "Completed",
    }
    if p.versioned:
        item.update(
            ModelPackageGroupName=p.group, ModelPackageVersion=p.version, ModelApprovalStatus=p.approval
        )
    else:
        item["ModelPackageName"] = p.name
    if p.fields.get("ModelPackageDescription"):
        item["ModelPackageDescription"] = p.fields["ModelPackageDescription"]
    return item


def _fingerprint(params: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def _with_token(out: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token:
        out["NextToken"] = token
    return out
