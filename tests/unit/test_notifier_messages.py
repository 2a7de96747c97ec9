"""What on-call reads: the alert content, built without Airflow or Slack."""

from botocore.exceptions import ClientError

from batchml.alerts import Alert, aws_reason, failure_message, warning_message
from batchml.operators.athena import AthenaQueryFailed
from batchml.operators.sagemaker import SageMakerJobFailed


def test_reason_comes_from_the_aws_service():
    sm = SageMakerJobFailed("training", "demand-forecast-train-20261120-1", "Failed", "AlgorithmError: ExitCode 1")
    assert aws_reason(sm) == "AlgorithmError: ExitCode 1"
    athena = AthenaQueryFailed("q-1", "FAILED", "TABLE_NOT_FOUND: line 1:15: Table 'x' does not exist")
    assert aws_reason(athena).startswith("TABLE_NOT_FOUND")
    client = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "CreateTrainingJob")
    try:
        try:
            raise client
        except ClientError as e:
            raise RuntimeError("wrapped") from e
    except RuntimeError as wrapped:
        assert aws_reason(wrapped) == "ThrottlingException: Rate exceeded"
    assert aws_reason(ValueError("plain")) is None


def test_failure_message_names_everything_on_call_needs():
    alert = Alert(dag_id="demand_forecast", task_id="train", partition="2026-11-20", run_id="backfill__x",
                  run_type="backfill", try_number=4, max_tries=3, error="SageMakerJobFailed: ...",
                  aws_reason="AlgorithmError: boom", log_url="http://localhost:8080/log", oncall_handle="@ml-oncall")
    text, blocks = failure_message(alert)
    assert "demand_forecast.train failed for 2026-11-20 (backfill, try 4/4): AlgorithmError: boom" == text
    flat = str(blocks)
    for needle in ("Partition", "2026-11-20", "backfill", "4/4", "AlgorithmError: boom",
                   "<http://localhost:8080/log|Task log>", "@ml-oncall"):
        assert needle in flat


def test_tries_count_from_the_last_clear():
    def alert(try_number, max_tries, retries):
        return Alert(dag_id="d", task_id="t", partition="2026-11-20", run_id="r", run_type="backfill",
                     try_number=try_number, max_tries=max_tries, error="e", aws_reason=None, log_url=None,
                     retries=retries)

    assert alert(4, 3, 3).tries == "4/4"
    # Reprocessed twice (tries 1 and 2 succeeded): the second clear raised max_tries to 2 + 3 = 5, so
    # this chain's tries are 3..6, and its last one is Airflow's try 6.
    assert alert(6, 5, 3).tries == "4/4, try 6 overall"
    assert alert(4, 5, 3).tries == "2/4, try 4 overall"
    assert alert(2, 1, None).tries == "2/2"


def test_warning_does_not_mention_on_call():
    text, blocks = warning_message("new model rejected", {"Champion": "arn:1"})
    assert "on call" not in str(blocks).lower() and "arn:1" in text
