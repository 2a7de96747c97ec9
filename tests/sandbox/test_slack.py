"""The Slack stand-in, driven by real slack_sdk clients over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from slack_sdk import WebClient, WebhookClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler

from tests.conftest import REPO


@pytest.fixture
def web(sandbox) -> WebClient:
    return WebClient(token="xoxb-test-token", base_url=f"{sandbox.endpoint}/_sandbox/slack/api/")


def _mine(sandbox, unique):
    return [m for m in sandbox.client.slack_messages() if m["channel_name"] == unique]


def test_post_message_is_recorded_and_answered_like_slack(sandbox, web, unique):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*train* failed"}}]
    resp = web.chat_postMessage(channel=f"#{unique}", text="train failed", blocks=blocks)
    assert resp["ok"] and resp["ts"] and resp["channel"].startswith("C")
    assert resp["message"]["text"] == "train failed"
    [record] = _mine(sandbox, unique)
    assert record["blocks"] == blocks and record["via"] == "web_api"
    line = (sandbox.state_dir / "slack.jsonl").read_text().splitlines()[-1]
    assert json.loads(line)["ts"] == resp["ts"]
    assert "xoxb-test-token" not in (sandbox.state_dir / "slack.jsonl").read_text()


def test_threads_replies_and_updates(sandbox, web, unique):
    parent = web.chat_postMessage(channel=unique, text="backfill failing")
    web.chat_postMessage(channel=unique, text="day 1 failed", thread_ts=parent["ts"])
    web.chat_update(channel=parent["channel"], ts=parent["ts"], text="backfill failing (2 days)")
    replies = web.conversations_replies(channel=parent["channel"], ts=parent["ts"])["messages"]
    assert [m["text"] for m in replies] == ["backfill failing (2 days)", "day 1 failed"]
    history = web.conversations_history(channel=parent["channel"])["messages"]
    assert [m["text"] for m in history] == ["backfill failing (2 days)"]


def test_update_replaces_metadata_when_it_sends_some(sandbox, web, unique):
    meta = {"event_type": "batchml_alert", "event_payload": {"kind": "failure", "aws_reason": ""}}
    posted = web.chat_postMessage(channel=unique, text="train failed", metadata=meta)
    web.chat_update(channel=posted["channel"], ts=posted["ts"], text="train failed: OOM",
                    metadata={**meta, "event_payload": {"kind": "failure", "aws_reason": "yes"}})
    [message] = web.conversations_history(channel=posted["channel"], include_all_metadata=True)["messages"]
    assert message["text"] == "train failed: OOM" and message["metadata"]["event_payload"]["aws_reason"] == "yes"
    web.chat_update(channel=posted["channel"], ts=posted["ts"], text="no metadata sent: kept")
    [message] = web.conversations_history(channel=posted["channel"], include_all_metadata=True)["messages"]
    assert message["metadata"]["event_payload"]["aws_reason"] == "yes"


def test_auth_and_errors(sandbox, unique):
    assert WebClient(token="xoxb-1", base_url=f"{sandbox.endpoint}/_sandbox/slack/api/").auth_test()["ok"]
    bad = WebClient(token="not-a-token", base_url=f"{sandbox.endpoint}/_sandbox/slack/api/")
    with pytest.raises(SlackApiError, match="invalid_auth"):
        bad.chat_postMessage(channel=unique, text="x")
    good = WebClient(token="xoxb-1", base_url=f"{sandbox.endpoint}/_sandbox/slack/api/")
    with pytest.raises(SlackApiError, match="no_text"):
        good.chat_postMessage(channel=unique)
    with pytest.raises(SlackApiError, match="unknown_method"):
        good.api_call("chat.teleport")


def test_429_then_200_delivers_once_with_retry_handler(sandbox, unique):
    client = WebClient(token="xoxb-1", base_url=f"{sandbox.endpoint}/_sandbox/slack/api/",
                       retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
    sandbox.client.slack_fault(status=429, count=1, retry_after=1)
    assert client.chat_postMessage(channel=unique, text="once")["ok"]
    assert [m["text"] for m in _mine(sandbox, unique)] == ["once"]


def test_500_forever_surfaces_as_an_error(sandbox, unique):
    client = WebClient(token="xoxb-1", base_url=f"{sandbox.endpoint}/_sandbox/slack/api/",
                       retry_handlers=[ServerErrorRetryHandler(max_retry_count=1)])
    sandbox.client.slack_fault(status=500, count=None)
    try:
        with pytest.raises(SlackApiError):
            client.chat_postMessage(channel=unique, text="lost")
    finally:
        sandbox.client.clear_faults()
    assert _mine(sandbox, unique) == []


def test_incoming_webhook(sandbox, unique):
    url = f"{sandbox.endpoint}/_sandbox/slack/services/T0/B{unique}/secret"
    resp = WebhookClient(url).send(text="hello from a webhook", blocks=[{"type": "divider"}])
    assert resp.status_code == 200 and resp.body == "ok"
    assert any(m["text"] == "hello from a webhook" and m["via"] == "webhook"
               for m in sandbox.client.slack_messages())
    assert WebhookClient(url).send_dict({}).status_code == 400


def test_webhook_429_is_retried(sandbox, unique):
    url = f"{sandbox.endpoint}/_sandbox/slack/services/T0/B{unique}/secret"
    sandbox.client.slack_fault(status=429, count=1, retry_after=1)
    client = WebhookClient(url, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
    assert client.send(text=f"after 429 {unique}").status_code == 200
    assert sum(m["text"] == f"after 429 {unique}" for m in sandbox.client.slack_messages()) == 1


def test_cli_prints_messages_newest_last(sandbox, web, unique):
    web.chat_postMessage(channel=unique, text=f"first {unique}")
    web.chat_postMessage(channel=unique, blocks=[{"type": "header", "text": {"type": "plain_text",
                                                                             "text": f"second {unique}"}}])
    out = subprocess.run([sys.executable, "-m", "sandbox", "slack", "--state-dir", str(sandbox.state_dir)],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.index(f"first {unique}") < out.index(f"second {unique}")
