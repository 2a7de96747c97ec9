"""IAM enforced in the sandbox, as AWS enforces it (issue 11).

Who calls:
- the access key ``sandbox`` is the account's administrator (the seed, the tests' inspections, the tools);
- temporary credentials from ``sts:AssumeRole`` (moto's STS) are a role session: the Airflow connection
  assumes the Airflow role (``role_arn`` extra, the production path), and every SageMaker job runs as a
  session of its execution role, in its process (credentials in its environment) and in what the sandbox
  does for it in-process (downloading inputs, uploading outputs, writing logs; see ``acting_as``);
- an IAM user's access key is that user, with its own, its groups' and attached policies.

What is allowed: each call is authorised as the (action, resource, condition keys) that ``sandbox.access``
derives for it, against the principal's identity policies. moto's own enforcement is not used for the
verdict: it checks every service but S3 against resource ``"*"`` and ignores every Condition operator but
StringEquals, so the template's resource-scoped statements would never match. moto's pieces are used for
what they do right: looking up keys and sessions (``create_access_key``, ``collect_policies``) and matching
actions and resources with AWS's wildcards (``IAMPolicyStatement``). The Condition operators the template
uses are evaluated here (``condition_holds``); an explicit Deny wins, as on AWS. Not modelled: resource
policies (bucket and key policies), permission boundaries, SCPs, session policies, signature checking.

A denied call fails in the service's own protocol, with AWS's message naming the principal, the action
and the resource: ``AccessDenied`` (S3, IAM, STS, CloudFormation; HTTP 403) or ``AccessDeniedException``
(the JSON services; HTTP 400).
"""

from __future__ import annotations

import fnmatch
import json
import threading
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sandbox.protocol import DEFAULT_ACCOUNT_ID, AwsError, service_protocol

ADMIN_ACCESS_KEY = "sandbox"
PARTITION = "aws"
ROOT_ARN = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:root"
# Calls IAM does not authorise.
UNCHECKED_ACTIONS = {"sts:GetCallerIdentity"}


@dataclass
class Principal:
    arn: str
    #: policy documents (dicts); None for the administrator, who is allowed everything
    policies: list[dict[str, Any]] | None
    credentials: dict[str, str] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        return self.policies is None

    @property
    def label(self) -> str:
        """What the access record calls it: the access key for the administrator, else the ARN."""
        return ADMIN_ACCESS_KEY if self.is_admin else self.arn


ADMIN = Principal(ROOT_ARN, None)


@dataclass
class Decision:
    allowed: bool
    explicit_deny: bool = False
    matched: list[str] = field(default_factory=list)  # "<policy>:<Sid or index>" of the deciding statements


# -- policies and conditions --------------------------------------------------------------------------------
def condition_holds(condition: dict[str, Any] | None, context: dict[str, str]) -> bool:
    """A statement's Condition block against the request's condition keys (a missing key fails the
    positive operators, as on AWS). Operators not listed raise: an unknown one must not pass silently."""
    for operator, tests in (condition or {}).items():
        base, if_exists = operator.removesuffix("IfExists"), operator.endswith("IfExists")
        for key, expected in tests.items():
            expected = [str(e).lower() if base == "Bool" else str(e)
                        for e in (expected if isinstance(expected, list) else [expected])]
            actual = context.get(key)
            if actual is None:
                if if_exists or base in ("StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"):
                    continue
                return False
            if base in ("StringEquals", "ArnEquals"):
                ok = actual in expected
            elif base == "Bool":
                ok = str(actual).lower() in expected
            elif base == "StringEqualsIgnoreCase":
                ok = actual.lower() in [e.lower() for e in expected]
            elif base in ("StringLike", "ArnLike"):
                ok = any(fnmatch.fnmatchcase(actual, e) for e in expected)
            elif base in ("StringNotEquals", "ArnNotEquals"):
                ok = actual not in expected
            elif base in ("StringNotLike", "ArnNotLike"):
                ok = not any(fnmatch.fnmatchcase(actual, e) for e in expected)
            else:
                raise ValueError(f"IAM condition operator {operator} is not evaluated by the sandbox")
            if not ok:
                return False
    return True


def statement_matches(statement: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> bool:
    """Action and resource by moto's matcher (AWS's wildcards), then the Condition here."""
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    bare = {k: v for k, v in statement.items() if k != "Condition"}
    verdict = IAMPolicyStatement({**bare, "Effect": "Allow"}).is_action_permitted(action, resource)
    return verdict == PermissionResult.PERMITTED and condition_holds(statement.get("Condition"), context)


def evaluate(policies: list[dict[str, Any]], action: str, resource: str, context: dict[str, str]) -> Decision:
    allows, denies = [], []
    for policy in policies:
        statements = policy.get("Statement") or []
        for i, stmt in enumerate(statements if isinstance(statements, list) else [statements]):
            # moto's CloudFormation leaves an `Fn::If` that chose AWS::NoValue as a null statement.
            if isinstance(stmt, dict) and statement_matches(stmt, action, resource, context):
                ref = f"{policy.get('_name', 'policy')}:{stmt.get('Sid') or i}"
                (denies if stmt.get("Effect") == "Deny" else allows).append(ref)
    if denies:
        return Decision(False, True, denies)
    return Decision(bool(allows), False, allows)


def _document(doc: Any, name: str) -> dict[str, Any]:
    if hasattr(doc, "versions"):  # a managed policy: its default version
        doc = next(v.document for v in doc.versions if v.is_default)
    out = json.loads(doc) if isinstance(doc, str) else dict(doc)
    out["_name"] = name
    return out


def _iam():
    from moto.iam.models import iam_backends

    return iam_backends[DEFAULT_ACCOUNT_ID][PARTITION]


def role_policies(role_name: str) -> list[dict[str, Any]]:
    """The role's inline and attached policies, as documents (AWS::IAM::Role ``Policies`` are inline)."""
    backend = _iam()
    docs = [_document(backend.get_role_policy(role_name, n)[1], n) for n in backend.list_role_policies(role_name)]
    attached, _ = backend.list_attached_role_policies(role_name)
    return docs + [_document(p, p.name) for p in attached]


def user_policies(user_name: str) -> list[dict[str, Any]]:
    backend = _iam()
    docs = [_document(backend.get_user_policy(user_name, n), n) for n in backend.list_user_policies(user_name)]
    attached, _ = backend.list_attached_user_policies(user_name)
    docs += [_document(p, p.name) for p in attached]
    for group in backend.get_groups_for_user(user_name):
        docs += [_document(backend.get_group_policy(group.name, n), n) for n in backend.list_group_policies(group.name)]
        docs += [_document(p, p.name) for p in backend.list_attached_group_policies(group.name)[0]]
    return docs


def policies_of(arn: str) -> list[dict[str, Any]]:
    """Identity policies of a role or user ARN (what SimulatePrincipalPolicy's PolicySourceArn names)."""
    kind, _, name = arn.split(":", 5)[-1].partition("/")
    name = name.rsplit("/", 1)[-1]
    from moto.iam.exceptions import NotFoundException

    try:
        if kind == "role":
            return role_policies(name)
        if kind == "user":
            return user_policies(name)
    except NotFoundException:
        pass
    raise AwsError("NoSuchEntity", f"The principal {arn} cannot be found.", 404)


def denial(service: str | None, principal: Principal, action: str, resource: str, decision: Decision) -> AwsError:
    why = ("with an explicit deny in an identity-based policy" if decision.explicit_deny
           else f"because no identity-based policy allows the {action} action")
    shown = f'"{resource}"' if service == "s3" else resource
    message = f"User: {principal.arn} is not authorized to perform: {action} on resource: {shown} {why}"
    if service_protocol(service) in ("rest-xml", "query", "ec2"):
        return AwsError("AccessDenied", message, 403)
    return AwsError("AccessDeniedException", message, 400)


# -- who is calling -----------------------------------------------------------------------------------------
class Authorizer:
    """Resolves callers and decides; ``enabled`` False (``serve --no-iam``) allows every call."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def principal(self, access_key: str | None, token: str | None, service: str | None) -> Principal:
        if access_key is None or access_key == ADMIN_ACCESS_KEY:
            return ADMIN
        from moto.iam.access_control import AssumedRoleAccessKey, CreateAccessKeyFailure, create_access_key

        try:
            key = create_access_key(DEFAULT_ACCOUNT_ID, PARTITION, access_key,
                                    {"X-Amz-Security-Token": token} if token else {})
        except CreateAccessKeyFailure as e:
            code = "InvalidAccessKeyId" if service == "s3" else "InvalidClientTokenId"
            what = "security token included in the request is invalid" if e.reason == "InvalidToken" else \
                "AWS Access Key Id you provided does not exist in our records"
            raise AwsError(code, f"The {what}.", 403) from None
        if isinstance(key, AssumedRoleAccessKey):
            policies = role_policies(key._owner_role_name)
        else:
            policies = user_policies(key._owner_user_name)
        return Principal(key.arn, policies)

    def decide(self, principal: Principal, action: str, resource: str, context: dict[str, str]) -> Decision:
        if not self.enabled or principal.is_admin or action in UNCHECKED_ACTIONS:
            return Decision(True)
        return evaluate(principal.policies or [], action, resource, context)

    def trusted(self, principal: Principal, role_arn: str) -> bool:
        """``sts:AssumeRole`` also needs the role's trust policy to name the caller (or its account, whose
        identity policies then decide). A service principal (the execution role's ``sagemaker.amazonaws.com``)
        is never an HTTP caller: only the sandbox's SageMaker assumes such a role (``assume_role``)."""
        if not self.enabled:
            return True
        from moto.iam.exceptions import NotFoundException

        try:
            trust = _iam().get_role_by_arn(role_arn).assume_role_policy_document
        except NotFoundException:
            return False
        trust = json.loads(trust) if isinstance(trust, str) else trust
        statements = trust.get("Statement") or []
        callers = {principal.arn, ROOT_ARN, "*"}
        for stmt in statements if isinstance(statements, list) else [statements]:
            if not isinstance(stmt, dict) or stmt.get("Effect") != "Allow":
                continue
            actions = stmt.get("Action") or []
            if "sts:AssumeRole" not in (actions if isinstance(actions, list) else [actions]):
                continue
            named = stmt.get("Principal") or {}
            named = {"AWS": named} if isinstance(named, str) else named
            aws = named.get("AWS") or []
            if callers & set(aws if isinstance(aws, list) else [aws]):
                return True
        return False

    def check(self, service: str | None, principal: Principal, entries: list[tuple[str, str, dict]]) -> None:
        """Raise the service's AccessDenied for the first entry the principal may not do."""
        for action, resource, context in entries:
            decision = self.decide(principal, action, resource, context)
            if not decision.allowed:
                raise denial(service, principal, action, resource, decision)


# -- sessions for jobs, and calls the sandbox makes in-process on a principal's behalf -----------------------
def assume_role(role_arn: str, session_name: str, region: str, duration: int = 3600) -> Principal:
    """A session of ``role_arn`` in moto's STS (as SageMaker assumes a job's execution role): its
    temporary credentials work over HTTP too. Raises AccessDenied if the role does not exist."""
    from moto.iam.exceptions import NotFoundException
    from moto.sts.models import sts_backends

    try:
        role = _iam().get_role_by_arn(role_arn)
    except NotFoundException:
        raise AwsError("AccessDenied", f"SageMaker could not assume the role {role_arn}: it does not exist",
                       403) from None
    session = sts_backends[DEFAULT_ACCOUNT_ID][PARTITION].assume_role(
        region_name=region, role_session_name=session_name[:64], role_arn=role_arn, policy="",
        duration=duration, external_id="")
    arn = f"arn:aws:sts::{DEFAULT_ACCOUNT_ID}:assumed-role/{role.name}/{session.session_name}"
    return Principal(arn, role_policies(role.name), {
        "AWS_ACCESS_KEY_ID": session.access_key_id, "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
        "AWS_SESSION_TOKEN": session.session_token})


_local = threading.local()
#: the server's authorizer and access record, for checks made in-process (set by the server)
_installed: dict[str, Any] = {}


def install(authorizer: Authorizer, record: Any) -> None:
    _installed.update(authorizer=authorizer, record=record)


def current() -> Principal | None:
    return getattr(_local, "principal", None)


@contextmanager
def acting_as(principal: Principal | None) -> Generator[None, None, None]:
    """In-process calls on this thread are authorised as ``principal`` (None: the sandbox itself)."""
    before = current()
    _local.principal = principal
    try:
        yield
    finally:
        _local.principal = before


def check_in_process(service: str, action: str, resource: str, context: dict[str, str] | None = None) -> None:
    """Authorise and record an in-process call as the thread's principal; the sandbox's own calls pass."""
    principal = current()
    if principal is None or not _installed:
        return
    entry = (action, resource, context or {})
    record = _installed["record"]
    authorizer: Authorizer = _installed["authorizer"]
    decision = authorizer.decide(principal, *entry)
    record.add(principal.label, [entry], allowed=decision.allowed)
    if not decision.allowed:
        raise denial(service, principal, action, resource, decision)
