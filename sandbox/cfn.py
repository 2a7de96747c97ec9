"""The CloudFormation resource types that infra/demand-forecast.yaml uses and moto 5.2 does not create.

moto's CloudFormation skips an unknown type silently (the stack still reaches CREATE_COMPLETE and the
resource does not exist), so ``python -m sandbox seed`` would "deploy" a stack without its workgroup or
tables. Each class below teaches moto one type by creating the real object where the sandbox keeps it:

- ``AWS::Glue::Database``, ``AWS::Glue::Table``: moto's Glue backend;
- ``AWS::SecretsManager::Secret``: moto's Secrets Manager backend;
- ``AWS::Athena::WorkGroup``, ``AWS::SageMaker::ModelPackageGroup``: the sandbox's own Athena and
  SageMaker services (moto's are not the ones that answer the pipeline), through the same ``handle``
  an API call goes through;
- ``AWS::S3::BucketPolicy``: recorded (``bucket_policies``), not attached. moto enforces a bucket
  policy's Deny statements with their Conditions ignored, so the template's TLS-only statement
  (Deny s3:* unless aws:SecureTransport) would deny every call; the sandbox also serves plain HTTP.

moto finds these through ``CloudFormationModel.__subclasses__()``, so each class subclasses it directly,
and this module must be imported in the server process before the first stack call (its model maps are
cached): ``install`` does both. moto derives a model's service name from the module path, so this
module must stay inside a package (``sandbox.cfn``).
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel

from sandbox.protocol import RequestInfo

_SERVICES: dict[str, Any] = {}
#: bucket name -> policy document of AWS::S3::BucketPolicy resources (see the module docstring)
bucket_policies: dict[str, dict[str, Any]] = {}


def install(services: dict[str, Any]) -> None:
    """Give the Athena and SageMaker types the sandbox's services, and make moto see every type."""
    import sys

    _SERVICES.clear()
    _SERVICES.update(services)
    # moto's CloudFormation imports every moto backend (seconds): it is left to the first stack call,
    # which then builds its type maps with the classes below. Only maps built earlier need clearing.
    parsing = sys.modules.get("moto.cloudformation.parsing")
    if parsing is not None:
        for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
            cached.cache_clear()


def _call(service: str, operation: str, params: dict[str, Any], region: str) -> dict[str, Any]:
    svc = _SERVICES.get(service)
    if svc is None:
        raise RuntimeError(f"sandbox.cfn: no {service} service installed (sandbox.cfn.install not called)")
    return svc.handle(operation, params, RequestInfo(service=service, operation=operation, region=region))


def _glue(account_id: str, region: str):
    from moto.glue.models import glue_backends

    return glue_backends[account_id][region]


class _Resource:
    """What a created resource must offer moto: its physical id (what Ref returns). A mixin, so that
    only the concrete types below are direct subclasses of CloudFormationModel."""

    def __init__(self, physical_resource_id: str, **attrs: Any):
        self.physical_resource_id = physical_resource_id
        self.attrs = attrs

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    def is_created(self) -> bool:
        return True

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        cls.delete_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)


class GlueDatabase(_Resource, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Glue::Database"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        db_input = dict(cloudformation_json["Properties"]["DatabaseInput"])
        _glue(account_id, region_name).create_database(db_input["Name"], db_input)
        return cls(db_input["Name"])

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        _glue(account_id, region_name).delete_database(cloudformation_json["Properties"]["DatabaseInput"]["Name"])


class GlueTable(_Resource, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Glue::Table"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        table_input = dict(props["TableInput"])
        _glue(account_id, region_name).create_table(props["DatabaseName"], table_input["Name"], table_input)
        return cls(table_input["Name"])

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        props = cloudformation_json["Properties"]
        _glue(account_id, region_name).delete_table(props["DatabaseName"], props["TableInput"]["Name"])


class SecretsManagerSecret(_Resource, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.secretsmanager.models import secretsmanager_backends

        props = cloudformation_json["Properties"]
        backend = secretsmanager_backends[account_id][region_name]
        created = backend.create_secret(
            name=resource_name, secret_string=props.get("SecretString"), secret_binary=None,
            description=props.get("Description"), tags=props.get("Tags"), kms_key_id=props.get("KmsKeyId"),
            client_request_token=None, replica_regions=[], force_overwrite=False,
        )
        return cls(json.loads(created)["ARN"], name=resource_name)  # Ref of a secret is its ARN

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        from moto.secretsmanager.models import secretsmanager_backends

        secretsmanager_backends[account_id][region_name].delete_secret(
            resource_name, recovery_window_in_days=None, force_delete_without_recovery=True)


class AthenaWorkGroup(_Resource, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Athena::WorkGroup"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        config = json.loads(json.dumps(props.get("WorkGroupConfiguration") or {}))
        if "BytesScannedCutoffPerQuery" in config:  # a Number parameter arrives as a string
            config["BytesScannedCutoffPerQuery"] = int(config["BytesScannedCutoffPerQuery"])
        params: dict[str, Any] = {"Name": resource_name, "Configuration": config}
        if props.get("Description"):
            params["Description"] = props["Description"]
        if props.get("Tags"):
            params["Tags"] = props["Tags"]
        _call("athena", "CreateWorkGroup", params, region_name)
        return cls(resource_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        _call("athena", "DeleteWorkGroup", {"WorkGroup": resource_name, "RecursiveDeleteOption": True}, region_name)


class SageMakerModelPackageGroup(_Resource, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SageMaker::ModelPackageGroup"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "ModelPackageGroupName"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        params = {"ModelPackageGroupName": resource_name}
        for key in ("ModelPackageGroupDescription", "Tags"):
            if props.get(key):
                params[key] = props[key]
        arn = _call("sagemaker", "CreateModelPackageGroup", params, region_name)["ModelPackageGroupArn"]
        return cls(arn, name=resource_name)  # Ref of a model package group is its ARN

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        _call("sagemaker", "DeleteModelPackageGroup", {"ModelPackageGroupName": resource_name}, region_name)


class S3BucketPolicy(_Resource, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        bucket_policies[props["Bucket"]] = props["PolicyDocument"]
        return cls(props["Bucket"])

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        bucket_policies.pop(cloudformation_json["Properties"]["Bucket"], None)
