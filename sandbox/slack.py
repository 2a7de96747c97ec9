"""A Slack workspace that records: the Web API methods alerting uses, and incoming webhooks.

slack_sdk clients make real HTTP calls here. Point a Web API client at
``<endpoint>/_sandbox/slack/api/`` (the Slack connection's ``base_url`` extra) and a webhook client at
``<endpoint>/_sandbox/slack/services/T.../B.../...``. Every accepted message is appended to
``<state-dir>/slack.jsonl``; ``python -m sandbox slack`` prints them.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from sandbox.faults import FaultRegistry

Response = tuple[int, list[tuple[str, str]], bytes]

TEAM_ID, BOT_USER_ID, BOT_ID = "T0SANDBOX", "U0SANDBOXBOT", "B0SANDBOX"


def _json(payload: dict[str, Any], status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    body = json.dumps(payload).encode()
    return status, [("Content-Type", "application/json; charset=utf-8"), *(headers or [])], body


def _text(text: str, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    return status, [("Content-Type", "text/plain; charset=utf-8"), *(headers or [])], text.encode()


def channel_id(name: str) -> str:
    """A stable Slack-looking channel id for a channel name (ids pass through)."""
    name = name.lstrip("#")
    if name[:1] in ("C", "G", "D") and name.isupper() and name.isalnum():
        return name
    return "C" + hashlib.sha1(name.encode()).hexdigest()[:10].upper()


class SlackService:
    def __init__(self, state_dir: Path, faults: FaultRegistry):
        self.path = Path(state_dir) / "slack.jsonl"
        self.faults = faults
        self._lock = threading.Lock()
        self._last_ts = 0.0
        self._messages: list[dict[str, Any]] = self._load()
        self._channels: dict[str, str] = {}  # id -> name
        for m in self._messages:
            self._channels.setdefault(m["channel"], m.get("channel_name", m["channel"]))

    # -- storage ------------------------------------------------------------------------------------
    def _load(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            if line.strip():
                out.append(json.loads(line))
        return out

    def _next_ts(self) -> str:
        # Slack message timestamps are unique per channel and increase; they double as message ids.
        ts = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = ts
        return f"{ts:.6f}"

    def _append(self, record: dict[str, Any]) -> None:
        self._messages.append(record)
        with self.path.open("a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")

    def messages(self) -> list[dict[str, Any]]:
        """Messages as they stand now (edited and deleted ones resolved), oldest first."""
        with self._lock:
            return [dict(m) for m in self._latest()]

    def log(self) -> list[dict[str, Any]]:
        """Everything received, including edits and deletions, in order."""
        with self._lock:
            return [dict(m) for m in self._messages]

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self.path.write_text("")

    # -- faults --------------------------------------------------------------------------------------
    def _fault(self, method: str) -> Response | None:
        fault = self.faults.take_call_fault("slack", method)
        if fault is None:
            return None
        headers = [("Retry-After", str(fault.retry_after or 1))] if fault.status == 429 else []
        if method == "webhook":
            return _text(fault.error, fault.status or 500, headers)
        return _json({"ok": False, "error": fault.error}, fault.status or 500, headers)

    # -- Web API -------------------------------------------------------------------------------------
    def handle_api(self, method: str, environ: dict[str, Any], body: bytes) -> Response:
        if (fault := self._fault(method)) is not None:
            return fault
        args = _parse_args(environ, body)
        token = _bearer(environ) or args.pop("token", None)
        if method == "api.test":
            return _json({"ok": True, "args": args})
        if not token:
            return _json({"ok": False, "error": "not_authed"})
        if not str(token).startswith(("xoxb-", "xoxp-", "xoxe-")):
            return _json({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return _json({"ok": False, "error": "unknown_method"})
        with self._lock:
            return _json(handler(args))

    def _api_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://sandbox.slack.com/",
            "team": "Sandbox",
            "user": "sandbox-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _api_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        text, blocks = args.get("text"), _maybe_json(args.get("blocks"))
        if not text and not blocks and not args.get("attachments"):
            return {"ok": False, "error": "no_text"}
        if blocks is not None and not isinstance(blocks, list):
            return {"ok": False, "error": "invalid_blocks"}
        metadata = _maybe_json(args.get("metadata"))
        if metadata is not None and not (isinstance(metadata, dict) and metadata.get("event_type")
                                         and isinstance(metadata.get("event_payload", {}), dict)):
            return {"ok": False, "error": "invalid_metadata_format"}
        cid = channel_id(str(channel))
        thread_ts = args.get("thread_ts")
        if thread_ts and not any(m["ts"] == thread_ts and m["channel"] == cid for m in self._messages):
            # Slack accepts an unknown thread_ts and posts to the channel; keep that, but say so.
            thread_ts = str(thread_ts)
        self._channels.setdefault(cid, str(channel).lstrip("#"))
        ts = self._next_ts()
        record = {
            "via": "web_api",
            "channel": cid,
            "channel_name": self._channels[cid],
            "ts": ts,
            "thread_ts": thread_ts,
            "text": text,
            "blocks": blocks,
            "metadata": metadata,
            "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        self._append(record)
        message = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": ts, "text": text or ""}
        if blocks:
            message["blocks"] = blocks
        if thread_ts:
            message["thread_ts"] = thread_ts
        return {"ok": True, "channel": cid, "ts": ts, "message": message}

    def _api_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        cid, ts = channel_id(str(args.get("channel", ""))), args.get("ts")
        metadata = _maybe_json(args.get("metadata"))
        if metadata is not None and not (isinstance(metadata, dict) and metadata.get("event_type")):
            return {"ok": False, "error": "invalid_metadata_format"}
        for m in self._messages:
            if m["channel"] == cid and m["ts"] == ts:
                if "text" in args:
                    m["text"] = args["text"]
                if "blocks" in args:
                    m["blocks"] = _maybe_json(args["blocks"])
                if metadata is not None:  # Slack replaces a message's metadata when chat.update sends some
                    m["metadata"] = metadata
                m["edited_at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
                self._append({**m, "via": "web_api:update"})
                return {"ok": True, "channel": cid, "ts": ts, "text": m.get("text") or ""}
        return {"ok": False, "error": "message_not_found"}

    def _api_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages newest first, like Slack: ``oldest``/``latest`` bounds, ``limit`` and a cursor."""
        cid = channel_id(str(args.get("channel", "")))
        if cid not in self._channels:
            return {"ok": False, "error": "channel_not_found"}
        oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or "inf")
        top = [m for m in reversed(self._latest()) if m["channel"] == cid and not m.get("thread_ts")
               and oldest <= float(m["ts"]) <= latest]
        return self._page(top, args)

    def _api_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        cid, ts = channel_id(str(args.get("channel", ""))), args.get("ts")
        thread = [m for m in self._latest() if m["channel"] == cid and (m["ts"] == ts or m.get("thread_ts") == ts)]
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        return self._page(thread, args)

    def _page(self, messages: list[dict[str, Any]], args: dict[str, Any]) -> dict[str, Any]:
        limit = max(1, min(int(args.get("limit") or 100), 1000))
        start = int(args.get("cursor") or 0)
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        page = [_as_message(m, with_metadata) for m in messages[start:start + limit]]
        more = start + limit < len(messages)
        return {"ok": True, "messages": page, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _api_chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        cid, ts = channel_id(str(args.get("channel", ""))), args.get("ts")
        for m in self._latest():
            if m["channel"] == cid and m["ts"] == ts and not m.get("deleted"):
                self._append({**m, "via": "web_api:delete", "deleted": True})
                return {"ok": True, "channel": cid, "ts": ts}
        return {"ok": False, "error": "message_not_found"}

    def _api_conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        channels = [{"id": cid, "name": name, "is_channel": True} for cid, name in sorted(self._channels.items())]
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}

    def _latest(self) -> list[dict[str, Any]]:
        return current(self._messages)

    # -- incoming webhooks ----------------------------------------------------------------------------
    def handle_webhook(self, hook_path: str, body: bytes) -> Response:
        if (fault := self._fault("webhook")) is not None:
            return fault
        parts = [p for p in hook_path.split("/") if p]
        if len(parts) != 3 or not parts[0].startswith("T") or not parts[1].startswith("B"):
            return _text("no_service", 404)
        try:
            payload = json.loads(body or b"{}")
        except json.JSONDecodeError:
            return _text("invalid_payload", 400)
        if not isinstance(payload, dict):
            return _text("invalid_payload", 400)
        if not payload.get("text") and not payload.get("blocks") and not payload.get("attachments"):
            return _text("no_text", 400)
        with self._lock:
            cid = channel_id(f"webhook-{parts[0]}-{parts[1]}")
            self._channels.setdefault(cid, f"webhook-{parts[1]}")
            self._append(
                {
                    "via": "webhook",
                    "channel": cid,
                    "channel_name": self._channels[cid],
                    "ts": self._next_ts(),
                    "thread_ts": payload.get("thread_ts"),
                    "text": payload.get("text"),
                    "blocks": payload.get("blocks"),
                    "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                }
            )
        return _text("ok")


def current(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as they stand now, oldest first: an update replaces the message it edits, a delete
    removes it."""
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for m in records:
        by_key[(m["channel"], m["ts"])] = m
    return sorted((m for m in by_key.values() if not m.get("deleted")), key=lambda m: float(m["ts"]))


def _as_message(m: dict[str, Any], with_metadata: bool = False) -> dict[str, Any]:
    out = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": m["ts"], "text": m.get("text") or ""}
    if m.get("blocks"):
        out["blocks"] = m["blocks"]
    if m.get("thread_ts"):
        out["thread_ts"] = m["thread_ts"]
    if with_metadata and m.get("metadata"):
        out["metadata"] = m["metadata"]
    return out


def _bearer(environ: dict[str, Any]) -> str | None:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


def _parse_args(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    args: dict[str, Any] = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    ctype = environ.get("CONTENT_TYPE", "")
    if body:
        if "json" in ctype:
            try:
                data = json.loads(body)
            except json.JSONDecodeError:
                data = {}
            if isinstance(data, dict):
                args.update(data)
        else:
            args.update({k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()})
    return args


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def render_blocks(blocks: list[dict[str, Any]] | None) -> list[str]:
    """Block Kit as plain lines, for the terminal."""
    lines: list[str] = []
    for block in blocks or []:
        kind = block.get("type")
        if kind in ("header", "section"):
            text = block.get("text") or {}
            if text.get("text"):
                lines.append(text["text"])
            for f in block.get("fields") or []:
                lines.append(f.get("text", ""))
        elif kind == "context":
            lines.append(" ".join(e.get("text", "") for e in block.get("elements", []) if isinstance(e, dict)))
        elif kind == "actions":
            for e in block.get("elements", []):
                label = (e.get("text") or {}).get("text", "")
                lines.append(f"[{label}] {e.get('url', '')}".rstrip())
        elif kind == "divider":
            lines.append("---")
    return lines
