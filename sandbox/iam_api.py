"""``iam:SimulatePrincipalPolicy``, which moto lacks (it answers HTTP 500 and botocore cannot parse it).

The SageMaker SDK v3 calls it to validate an execution role (``ModelTrainer``) and to pick a staging bucket.
It is answered from the principal's identity policies (inline, attached, and for a user its groups') with
the evaluator that authorises every call (sandbox.iam), in IAM's query protocol.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from sandbox import iam
from sandbox.protocol import AwsError, error_response, request_id

_NS = "https://iam.amazonaws.com/doc/2010-05-08/"


def _members(form: dict[str, list[str]], name: str) -> list[str]:
    out, i = [], 1
    while f"{name}.member.{i}" in form:
        out.append(form[f"{name}.member.{i}"][0])
        i += 1
    return out


def _context(form: dict[str, list[str]]) -> dict[str, str]:
    out, i = {}, 1
    while f"ContextEntries.member.{i}.ContextKeyName" in form:
        values = _members(form, f"ContextEntries.member.{i}.ContextKeyValues")
        if values:
            out[form[f"ContextEntries.member.{i}.ContextKeyName"][0]] = values[0]
        i += 1
    return out


def simulate(principal_arn: str, actions: list[str], resources: list[str],
             context: dict[str, str]) -> list[dict[str, Any]]:
    policies = iam.policies_of(principal_arn)
    results = []
    for action in actions:
        for resource in resources or ["*"]:
            decision = iam.evaluate(policies, action, resource, context)
            verdict = "allowed" if decision.allowed else "explicitDeny" if decision.explicit_deny else "implicitDeny"
            results.append({"EvalActionName": action, "EvalResourceName": resource, "EvalDecision": verdict,
                            "MatchedStatements": decision.matched})
    return results


def simulate_principal_policy(authorizer: iam.Authorizer, body: bytes) -> tuple[int, list, bytes]:
    form = parse_qs((body or b"").decode("utf-8", "replace"))
    source = (form.get("PolicySourceArn") or [""])[0]
    actions = _members(form, "ActionNames")
    if not source or not actions:
        return error_response("iam", AwsError("ValidationError", "PolicySourceArn and ActionNames are required"))
    try:
        results = simulate(source, actions, _members(form, "ResourceArns"), _context(form))
    except AwsError as e:
        return error_response("iam", e)
    members = "".join(
        "<member>"
        f"<EvalActionName>{_xml(r['EvalActionName'])}</EvalActionName>"
        f"<EvalResourceName>{_xml(r['EvalResourceName'])}</EvalResourceName>"
        f"<EvalDecision>{r['EvalDecision']}</EvalDecision>"
        "<MatchedStatements>" + "".join(
            f"<member><SourcePolicyId>{_xml(m)}</SourcePolicyId><SourcePolicyType>IAM Policy</SourcePolicyType>"
            "</member>" for m in r["MatchedStatements"]) + "</MatchedStatements>"
        "<MissingContextValues/>"
        "</member>" for r in results)
    rid = request_id()
    xml = (f'<SimulatePrincipalPolicyResponse xmlns="{_NS}"><SimulatePrincipalPolicyResult>'
           f"<IsTruncated>false</IsTruncated><EvaluationResults>{members}</EvaluationResults>"
           f"</SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata>"
           "</SimulatePrincipalPolicyResponse>").encode()
    return 200, [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)], xml


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
