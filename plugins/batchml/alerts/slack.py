"""Transport: posting, threading, reading history and editing through the Slack provider's hooks, with
slack_sdk's retry handlers (429 with Retry-After, connection errors). No decision about what to send."""

from __future__ import annotations

from datetime import datetime
from typing import Any


class SlackChannel:
    """Posts through the connection ``conn_id``: a ``slack`` connection (bot token: chat.postMessage,
    threads, history) or a ``slackwebhook`` one (incoming webhook: posting only)."""

    def __init__(self, conn_id: str, channel: str | None, *, max_retries: int = 3):
        from airflow.sdk import Connection

        self.conn_id, self.channel, self.max_retries = conn_id, channel, max_retries
        self.conn_type = Connection.get(conn_id).conn_type
        if self.conn_type not in ("slack", "slackwebhook"):
            raise ValueError(f"connection {conn_id!r} is of type {self.conn_type!r}; expected slack or slackwebhook")
        if self.conn_type == "slack" and not channel:
            raise ValueError("no Slack channel configured for a bot-token connection")
        self._client = None
        self._channel_id: str | None = None

    @property
    def threads(self) -> bool:
        return self.conn_type == "slack"

    def _retry_handlers(self):
        from slack_sdk.http_retry.builtin_handlers import (
            ConnectionErrorRetryHandler,
            RateLimitErrorRetryHandler,
        )

        # RateLimitErrorRetryHandler waits for the Retry-After Slack sends with a 429.
        return [RateLimitErrorRetryHandler(max_retry_count=self.max_retries),
                ConnectionErrorRetryHandler(max_retry_count=self.max_retries)]

    @property
    def client(self):
        if self._client is None:
            from airflow.providers.slack.hooks.slack import SlackHook

            self._client = SlackHook(slack_conn_id=self.conn_id, retry_handlers=self._retry_handlers()).client
        return self._client

    def post(self, text: str, blocks: list[dict[str, Any]], *, thread_ts: str | None = None,
             meta: dict[str, Any] | None = None) -> str | None:
        """Send; return the message ts (bot token only). Raises on failure: callers decide."""
        if not self.threads:
            from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

            response = SlackWebhookHook(slack_webhook_conn_id=self.conn_id,
                                        retry_handlers=self._retry_handlers()).send(text=text, blocks=blocks)
            if response.status_code != 200:
                raise RuntimeError(f"Slack webhook answered {response.status_code}: {response.body}")
            return None
        kwargs: dict[str, Any] = {"channel": self.channel_id() or self.channel, "text": text, "blocks": blocks}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if meta:
            kwargs["metadata"] = meta
        response = self.client.chat_postMessage(**kwargs)
        self._channel_id = response["channel"]
        return response["ts"]

    def channel_id(self) -> str | None:
        """The channel's id (history needs it); None if Slack does not know the channel yet."""
        if self._channel_id is None and self.channel:
            if not self.channel.startswith("#"):
                self._channel_id = self.channel
            else:
                from airflow.providers.slack.hooks.slack import SlackHook

                hook = SlackHook(slack_conn_id=self.conn_id, retry_handlers=self._retry_handlers())
                try:
                    self._channel_id = hook.get_channel_id(self.channel[1:])
                except LookupError:
                    return None
        return self._channel_id

    def history(self, since: datetime) -> list[dict[str, Any]]:
        """Top-level messages posted since ``since``, newest first, with their metadata."""
        return self._collect("conversations_history", oldest=f"{since.timestamp():.6f}")

    def replies(self, ts: str) -> list[dict[str, Any]]:
        return self._collect("conversations_replies", ts=ts)

    def _collect(self, method: str, **kwargs: Any) -> list[dict[str, Any]]:
        channel = self.channel_id()
        if channel is None:
            return []
        messages, cursor = [], None
        for _ in range(10):  # at most 10 pages of 200: the search windows are short
            page = getattr(self.client, method)(channel=channel, include_all_metadata=True, limit=200,
                                                **({"cursor": cursor} if cursor else {}), **kwargs)
            messages.extend(page.get("messages", []))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return messages

    def delete(self, ts: str) -> None:
        self.client.chat_delete(channel=self.channel_id(), ts=ts)

    def update(self, ts: str, text: str, blocks: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> None:
        kwargs: dict[str, Any] = {"channel": self.channel_id(), "ts": ts, "text": text, "blocks": blocks}
        if meta:
            kwargs["metadata"] = meta
        self.client.chat_update(**kwargs)
