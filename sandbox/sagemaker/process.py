"""One job process: started in its own process group, its output streamed to CloudWatch Logs.

A container's processes all die with it, so the whole group is killed when the main process
exits, and Stop sends SIGTERM to the group, then SIGKILL after a grace period (SageMaker gives
120 s; the sandbox gives a few). Output lines are stamped when read and flushed to CloudWatch
every half second, so `get_log_events` follows a running job almost live.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox.aws import LogWriter

log = logging.getLogger("sandbox.sagemaker")

FLUSH_SECONDS = 0.5
STDERR_TAIL_LINES = 40


@dataclass
class Outcome:
    """How a job process ended: exit code, or stopped (by Stop, MaxRuntime or server shutdown)."""

    returncode: int | None
    stopped_by: str | None = None


class LogSink:
    """Buffers lines per CloudWatch stream and appends them to the streams every FLUSH_SECONDS."""

    def __init__(self, region: str, group: str, streams: dict[str, str], account: str):
        self.region, self.group, self.account = region, group, account
        self.streams = streams  # channel (stdout, stderr, datalog) -> stream name
        self._writers: dict[str, LogWriter] = {}
        self._pending: list[tuple[str, int, str]] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"logs:{group}", daemon=True)

    def open(self, *channels: str) -> None:
        """Create the named streams now (the others appear with their first line)."""
        for channel in channels:
            self._writer(self.streams[channel])
        self._thread.start()

    def add(self, channel: str, line: str, timestamp_ms: int | None = None) -> None:
        with self._lock:
            self._pending.append((self.streams[channel], timestamp_ms or int(time.time() * 1000), line))

    def close(self) -> None:
        self._closed.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self._flush()

    def _loop(self) -> None:
        while not self._closed.wait(FLUSH_SECONDS):
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        by_stream: dict[str, list[tuple[int, str]]] = {}
        for stream, ts, line in pending:
            by_stream.setdefault(stream, []).append((ts, line))
        for stream, events in by_stream.items():
            try:
                _write_grouped(self._writer(stream), events)
            except Exception:  # logs are best effort: never fail a job because of them
                log.exception("could not write to log stream %s", stream)

    def _writer(self, stream: str) -> LogWriter:
        if stream not in self._writers:
            self._writers[stream] = LogWriter(self.region, self.group, stream, self.account)
        return self._writers[stream]


def _write_grouped(writer: LogWriter, events: list[tuple[int, str]]) -> None:
    # LogWriter stamps a whole batch with one time; keep each line's own time.
    run: list[str] = []
    run_ts = events[0][0]
    for ts, line in events:
        if ts != run_ts and run:
            writer.write(run, run_ts)
            run = []
        run_ts = ts
        run.append(line)
    if run:
        writer.write(run, run_ts)


@dataclass
class Launch:
    """What to run for a job, and where its output goes."""

    cmd: list[str]
    cwd: str
    env: dict[str, str]
    sink: LogSink
    on_line: Callable[[str, str, int], None] | None = None
    extra_channel: str | None = None  # a third pipe (transform data-log), passed as fd SANDBOX_DATALOG_FD
    isolated: bool = False  # cmd runs under bwrap (containers.isolate), which dies at once on SIGTERM
    stderr_tail: deque = field(default_factory=lambda: deque(maxlen=STDERR_TAIL_LINES))


class JobProcess:
    def __init__(self, launch: Launch):
        self.launch = launch
        self.proc: subprocess.Popen | None = None
        self._readers: list[threading.Thread] = []

    def start(self) -> int:
        launch = self.launch
        env, pass_fds, extra_read = dict(launch.env), (), None
        if launch.extra_channel:
            extra_read, extra_write = os.pipe()
            env["SANDBOX_DATALOG_FD"] = str(extra_write)
            pass_fds = (extra_write,)
        self.proc = subprocess.Popen(
            launch.cmd,
            cwd=launch.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            pass_fds=pass_fds,
        )
        if extra_read is not None:
            os.close(pass_fds[0])
            self._read(os.fdopen(extra_read, "rb"), launch.extra_channel)
        self._read(self.proc.stdout, "stdout")
        self._read(self.proc.stderr, "stderr")
        return self.proc.pid

    def _read(self, pipe, channel: str) -> None:
        thread = threading.Thread(
            target=self._pump, args=(pipe, channel), daemon=True, name=f"pipe:{channel}"
        )
        thread.start()
        self._readers.append(thread)

    def _pump(self, pipe, channel: str) -> None:
        launch = self.launch
        with pipe:
            for raw in iter(pipe.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                ts = int(time.time() * 1000)
                launch.sink.add(channel, line, ts)
                if channel == "stderr":
                    launch.stderr_tail.append(line)
                if launch.on_line is not None:
                    launch.on_line(channel, line, ts)

    def wait(
        self,
        stop_event: threading.Event,
        deadline: float | None,
        grace: float,
        on_deadline: Callable[[], object] | None = None,
    ) -> Outcome:
        """Wait for the process; stop it when asked or when the deadline (monotonic) passes."""
        assert self.proc is not None
        stopped_by = None
        while True:
            try:
                self.proc.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                pass
            if stop_event.is_set():
                stopped_by = "stop"
            elif deadline is not None and time.monotonic() >= deadline:
                stopped_by = "max_runtime"
                if on_deadline is not None:
                    on_deadline()
            if stopped_by:
                self.terminate(grace)
                break
        self._teardown()
        return Outcome(self.proc.returncode, stopped_by)

    def terminate(self, grace: float) -> None:
        """SIGTERM the process group, then SIGKILL it if the main process outlives the grace period."""
        assert self.proc is not None
        _signal_group(self.proc.pid, signal.SIGTERM)
        if self.launch.isolated:
            # bwrap itself exits on SIGTERM while the job may still be shutting down: the grace period is
            # over when the whole process group is gone, not bwrap.
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                self.proc.poll()
                if not _group_alive(self.proc.pid):
                    return
                time.sleep(0.05)
            _signal_group(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal_group(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def _teardown(self) -> None:
        # The container is gone once its main process exits: so are its other processes.
        _signal_group(self.proc.pid, signal.SIGKILL)
        for reader in self._readers:
            reader.join(5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
