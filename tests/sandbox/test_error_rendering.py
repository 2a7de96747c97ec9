"""No unmapped exception reaches a client (issue 9): every answer of the sandbox's endpoint is one botocore
parses -- a result or a ClientError in the protocol of the service called -- whatever the request.

Operations moto lacks are InternalFailure with HTTP 501 (not retried) naming the operation; a crash in a
handler is the validation error AWS would send when the request breaks the model, else InternalFailure
naming the bug. A seeded fuzz sends a few hundred damaged, malformed and out-of-order requests and checks
that each answer parses. The module runs its own server, which it leaves in whatever state the fuzz made.
"""

from __future__ import annotations

import json
import random
import threading
import time

import botocore
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.conftest import REGION, start_sandbox, stop_sandbox
from tests.sandbox.fuzzing import raw_requests, shape_params

NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})
FUZZ_SERVICES = ("sagemaker", "athena", "glue", "logs", "s3", "iam", "sts", "cloudwatch")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc, handle = start_sandbox(tmp_path_factory.mktemp("errors"))
    yield handle
    stop_sandbox(proc)


def _client(server, service, **config):
    return server.boto3_client(service, config=NO_RETRY.merge(Config(**config)) if config else NO_RETRY)


@pytest.mark.parametrize(
    ("service", "call"),
    [
        ("iam", lambda c: c.get_organizations_access_report(JobId="0" * 36)),  # query/XML
        ("sts", lambda c: c.decode_authorization_message(EncodedMessage="x")),  # query/XML
        ("athena", lambda c: c.list_executors(SessionId="s-1")),  # JSON
        ("logs", lambda c: c.stop_query(queryId="q-1")),  # JSON
        ("cloudwatch", lambda c: c.describe_anomaly_detectors()),  # JSON 1.0 (the model also lists CBOR)
        ("quicksight", lambda c: c.delete_dashboard(AwsAccountId="123456789012", DashboardId="d")),  # rest-json
    ],
)
def test_an_operation_moto_lacks_is_a_parseable_internal_failure(server, service, call):
    with pytest.raises(ClientError) as err:
        call(_client(server, service))
    error, meta = err.value.response["Error"], err.value.response["ResponseMetadata"]
    assert error["Code"] == "InternalFailure"
    assert "the sandbox does not implement" in error["Message"]
    assert err.value.operation_name in error["Message"], "the message names the missing operation"
    assert meta["HTTPStatusCode"] == 501 and meta["RetryAttempts"] == 0


def test_an_operation_aws_does_not_have_is_refused_as_aws_would(server):
    iam = _signed(server, "iam", "POST", "/", {"Content-Type": "application/x-www-form-urlencoded"},
                  b"Action=NoSuchAction&Version=2010-05-08")
    assert iam[0] == 400 and _parse("iam", *iam)["Error"]["Code"] == "InvalidAction"
    athena = _signed(server, "athena", "POST", "/", {"X-Amz-Target": "AmazonAthena.NoSuchOperation",
                                                     "Content-Type": "application/x-amz-json-1.1"}, b"{}")
    assert athena[0] == 400 and _parse("athena", *athena)["Error"]["Code"] == "UnknownOperationException"


def test_a_crash_on_a_request_that_breaks_the_model_is_the_validation_error(server):
    """moto's sts:AssumeRole crashes (TypeError) without RoleSessionName; AWS's front end refuses it."""
    raw = _signed(server, "sts", "POST", "/", {"Content-Type": "application/x-www-form-urlencoded"},
                  b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::123456789012:role/r")
    error = _parse("sts", *raw)["Error"]
    assert raw[0] == 400 and error["Code"] == "ValidationError"
    assert "Value null at 'roleSessionName'" in error["Message"]


def test_control_characters_are_refused_before_moto_echoes_them_into_xml(server):
    iam = _client(server, "iam", parameter_validation=False)
    with pytest.raises(ClientError) as err:
        iam.get_role(RoleName="a\x00b")
    assert err.value.response["Error"]["Code"] == "ValidationError"


def test_a_sandbox_bug_is_an_internal_failure_that_names_it(tmp_path):
    """A handler that raises: the client gets InternalFailure naming the exception, in the service's own
    protocol, and the next call is answered (the app is served over HTTP in-process, with one broken
    operation, because the real services have no known bug to trigger)."""
    from werkzeug.serving import make_server

    from sandbox.context import SandboxContext
    from sandbox.server import SandboxApp

    class Broken:
        name = "athena"
        operations = frozenset({"ListWorkGroups"})

        def handle(self, operation, params, request):
            raise KeyError("work_groups")

        def status(self):
            return {}

        def reset(self):
            pass

        def shutdown(self):
            pass

    ctx = SandboxContext(state_dir=tmp_path, endpoint_url="http://127.0.0.1:0")
    httpd = make_server("127.0.0.1", 0, SandboxApp(ctx, [Broken()]), threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        import boto3

        athena = boto3.client("athena", endpoint_url=f"http://127.0.0.1:{httpd.server_address[1]}",
                              region_name=REGION, aws_access_key_id="sandbox",  # the administrator: IAM is on
                              aws_secret_access_key="sandbox", config=NO_RETRY)
        with pytest.raises(ClientError) as err:
            athena.list_work_groups()
        error = err.value.response["Error"]
        assert error["Code"] == "InternalFailure"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert "sandbox bug while answering athena:ListWorkGroups: KeyError: 'work_groups'" in error["Message"]
        assert athena.list_named_queries()["NamedQueryIds"] == []  # moto still answers the rest
    finally:
        httpd.shutdown()
        thread.join(5)


def test_cbor_error_bodies_parse():
    """No service the sandbox serves speaks CBOR to botocore 1.43 (CloudWatch prefers JSON), but the
    renderer covers it for one that does: botocore's own CBOR parser reads the error."""
    from botocore.parsers import create_parser

    from sandbox.protocol import _cbor

    body = _cbor({"__type": "ThrottlingException", "message": "é" * 30, "n": 1})
    parsed = create_parser("smithy-rpc-v2-cbor").parse(
        {"status_code": 400, "headers": {"smithy-protocol": "rpc-v2-cbor"}, "body": body}, None
    )
    assert parsed["Error"] == {"Code": "ThrottlingException", "Message": "é" * 30}


def test_fuzzed_requests_always_get_a_parseable_answer(server):
    """240 requests from a fixed seed: damaged SDK calls to random operations of eight services, plus raw
    bodies no SDK sends. Each answer is a result or a parsed error with a code; a 5xx is always an
    InternalFailure whose message says what is missing or what broke."""
    rng = random.Random(20261206)
    config = Config(retries={"mode": "standard", "total_max_attempts": 1}, parameter_validation=False)
    clients = {s: server.boto3_client(s, config=config) for s in FUZZ_SERVICES}
    clients["s3"].create_bucket(Bucket="fuzz-bucket")
    unparsed, outcomes, started = [], {"ok": 0, "error": 0, "not sent": 0, "5xx": 0}, time.monotonic()
    for _ in range(160):
        service = rng.choice(FUZZ_SERVICES)
        client = clients[service]
        model = client.meta.service_model
        operation = rng.choice(model.operation_names)
        op_model = model.operation_model(operation)
        if op_model.has_event_stream_input or op_model.has_event_stream_output:
            continue
        params = shape_params(op_model.input_shape, rng) if op_model.input_shape else {}
        sent: list[int] = []

        def mark(sent=sent, **_):
            sent.append(1)

        client.meta.events.register("before-send", mark)
        try:
            getattr(client, botocore.xform_name(operation))(**params)
            outcomes["ok"] += 1
        except ClientError as e:
            _check_error(e.response, f"{service}:{operation}", unparsed, outcomes)
        except Exception as e:  # noqa: BLE001 - anything but a ClientError, once sent, is the bug looked for
            if sent:
                unparsed.append(f"{service}:{operation}: {type(e).__name__}: {str(e)[:300]}")
            else:
                outcomes["not sent"] += 1  # botocore could not serialise the damaged parameters
        finally:
            client.meta.events.unregister("before-send", mark)
    for raw in raw_requests(rng, 80):
        status, headers, body = _signed(server, raw.service, raw.method, raw.path, raw.headers, raw.body)
        what = f"raw {raw.service}:{raw.operation} {raw.method} {raw.path} {raw.body[:40]!r}"
        if status < 300:
            outcomes["ok"] += 1
            continue
        try:
            parsed = _parse(raw.service, status, headers, body)
        except Exception as e:  # noqa: BLE001
            unparsed.append(f"{what}: {type(e).__name__}: {str(e)[:300]}")
            continue
        _check_error(parsed, what, unparsed, outcomes)
    elapsed = time.monotonic() - started
    assert not unparsed, "answers botocore cannot parse:\n" + "\n".join(unparsed)
    assert outcomes["error"] > 100 and outcomes["ok"] > 20, outcomes  # the fuzz reached the handlers
    print(f"fuzz: {outcomes} in {elapsed:.1f} s")


def test_out_of_order_calls_are_refused_with_aws_errors(server):
    """Describe/Stop/Delete before Create, results of a query never started, a package in a group that
    does not exist: each is the specific client error, never a 5xx."""
    sm, athena = _client(server, "sagemaker"), _client(server, "athena")
    calls = [
        (lambda: sm.describe_training_job(TrainingJobName="never-created"), "ValidationException"),
        (lambda: sm.stop_processing_job(ProcessingJobName="never-created"), "ValidationException"),
        (lambda: sm.stop_transform_job(TransformJobName="never-created"), "ValidationException"),
        (lambda: sm.delete_model_package(ModelPackageName="no-group/1"), "ValidationException"),
        (lambda: sm.delete_model(ModelName="never-created"), "ValidationException"),
        (lambda: sm.create_model_package(ModelPackageGroupName="no-such-group",
                                         InferenceSpecification=_inference()), "ValidationException"),
        (lambda: athena.get_query_results(QueryExecutionId="00000000-0000-0000-0000-000000000000"),
         "InvalidRequestException"),
        (lambda: athena.stop_query_execution(QueryExecutionId="00000000-0000-0000-0000-000000000000"),
         "InvalidRequestException"),
    ]
    for call, code in calls:
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == code, (err.value.operation_name, err.value.response["Error"])
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500


def _inference():
    return {"Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}


def _check_error(parsed: dict, what: str, unparsed: list[str], outcomes: dict[str, int]) -> None:
    error = parsed.get("Error") or {}
    status = (parsed.get("ResponseMetadata") or {}).get("HTTPStatusCode", 0)
    if not error.get("Code"):
        unparsed.append(f"{what}: an error without a code: {parsed}")
    elif status >= 500:
        outcomes["5xx"] += 1
        if error["Code"] != "InternalFailure" or not (
            "the sandbox does not implement" in error.get("Message", "")
            or "sandbox bug while answering" in error.get("Message", "")
        ):
            unparsed.append(f"{what}: a {status} that does not say what broke: {error}")
    outcomes["error"] += 1


def _signed(server, service: str, method: str, path: str, headers: dict, body: bytes):
    """Send a SigV4-signed request exactly as given; (status, headers, body)."""
    import urllib.error
    import urllib.request

    signing = {"cloudwatch": "monitoring"}.get(service, service)
    request = AWSRequest(method=method, url=server.endpoint + path, data=body, headers=dict(headers))
    SigV4Auth(Credentials("sandbox", "sandbox"), signing, REGION).add_auth(request)
    prepared = request.prepare()
    req = urllib.request.Request(prepared.url, data=body or None, method=method, headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def _parse(service: str, status: int, headers: dict, body: bytes) -> dict:
    """botocore's parser for the service's protocol, as a client would run it (raises if it cannot)."""
    from botocore.parsers import create_parser

    from sandbox.protocol import service_protocol

    parsed = create_parser(service_protocol(service)).parse(
        {"status_code": status, "headers": {k.lower(): v for k, v in headers.items()}, "body": body}, None
    )
    parsed.setdefault("ResponseMetadata", {})["HTTPStatusCode"] = status
    return parsed


def test_fuzz_inputs_are_deterministic():
    """The fuzz is reproducible: the same seed gives the same requests."""
    a, b = raw_requests(random.Random(1), 20), raw_requests(random.Random(1), 20)
    assert [json.dumps([r.service, r.method, r.path, r.body.decode("latin-1")]) for r in a] == [
        json.dumps([r.service, r.method, r.path, r.body.decode("latin-1")]) for r in b
    ]


def test_s3_sub_resource_requests_are_named_as_s3_names_them():
    """Fault matching and error messages name S3 operations by the model's names, sub-resources included."""
    import botocore.session

    from sandbox.protocol import _S3_SUBRESOURCES, s3_operation

    names = set(botocore.session.get_session().get_service_model("s3").operation_names)
    object_level = {"acl", "tagging", "legal-hold", "retention", "attributes"}
    bucket_level = set(_S3_SUBRESOURCES) - {"legal-hold", "retention", "attributes"}
    produced = {s3_operation({"REQUEST_METHOD": verb, "PATH_INFO": path}, {sub: [""]})
                for verb in ("GET", "PUT") for sub, path in
                [*((s, "/b") for s in bucket_level), *((s, "/b/k") for s in object_level)]}
    produced -= {"PutObjectAttributes"}  # no such operation: never sent
    assert produced <= names, sorted(produced - names)
    assert s3_operation({"REQUEST_METHOD": "PUT", "PATH_INFO": "/b"}, {"encryption": [""]}) == "PutBucketEncryption"
