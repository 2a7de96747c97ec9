"""`make airflow-prod`: the production shape of docker-compose.yaml, without Docker.

    python tools/prod_stack.py [--port 8080] [--sandbox-port 4566] [--workers 2]

A private PostgreSQL cluster (initdb in the state directory, a free loopback port, no system service), a
private Redis, the sandbox, and Airflow's api-server, scheduler, dag-processor, triggerer and Celery workers
as separate processes, each started with the command its docker-compose.yaml service runs. Ctrl-C stops
everything it started.

The Airflow settings are docker-compose.yaml's `x-airflow-common` environment, read from the file: only
the host names of the compose network (postgres, redis, sandbox, airflow-apiserver) are rewritten to this
machine's loopback ports, and the few settings that name container paths or need a package the image has
and this venv has not are replaced (LOCAL_OVERRIDES says which and why; tests/deploy/test_prod_stack.py
checks that nothing else differs). So the compose configuration is what runs here, and cannot drift.
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

from tools.demo import free_port  # noqa: E402
from tools.stack import USER, Stack, _unused_port  # noqa: E402

COMPOSE = REPO / "docker-compose.yaml"
# The Airflow services of docker-compose.yaml this stack runs, one process each (workers: one per worker).
COMPONENTS = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
WORKER = "airflow-worker"

# Settings of x-airflow-common that cannot hold here as written, and why. Everything else is taken as is.
LOCAL_OVERRIDES = {
    # A path inside the image; no airflow.cfg is used here (every setting is in the environment).
    "AIRFLOW_CONFIG": None,
    # The image ships the FAB provider; this venv does not (the project's requirements do not need it).
    # Airflow's own simple auth manager serves the same UI and REST API.
    "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
}


def compose_environment() -> dict[str, str]:
    """docker-compose.yaml's x-airflow-common environment, as strings (as Docker passes them)."""
    compose = yaml.safe_load(COMPOSE.read_text())
    return {k: str(v) for k, v in compose["x-airflow-common"]["environment"].items()}


def compose_command(service: str) -> list[str]:
    """The `airflow ...` command a compose service runs (the image's entrypoint prefixes `airflow`)."""
    compose = yaml.safe_load(COMPOSE.read_text())
    return compose["services"][service]["command"].split()


def localise(env: dict[str, str], hosts: dict[str, str]) -> dict[str, str]:
    """The compose environment with each compose host:port replaced by its local address, and the
    LOCAL_OVERRIDES applied. `hosts` maps "postgres", "redis:6379", "sandbox:4566", "airflow-apiserver:8080"."""
    out = {}
    for key, value in env.items():
        if key in LOCAL_OVERRIDES:
            if LOCAL_OVERRIDES[key] is not None:
                out[key] = LOCAL_OVERRIDES[key]
            continue
        for compose_host, local in hosts.items():
            value = value.replace(f"@{compose_host}/", f"@{local}/").replace(f"@{compose_host}:", f"@{local}:") \
                if compose_host == "postgres" else value.replace(compose_host, local)
        out[key] = value
    return out


class Postgres:
    """A private PostgreSQL cluster: initdb in `data_dir`, on a free loopback port, user/password/database
    `airflow` as docker-compose.yaml's postgres service creates them.

    initdb and postgres refuse to run as root; as root (CI, this project's machines) the cluster runs as
    the `postgres` user the Debian package creates, in a directory that user owns (the state directory,
    made 0700 by pytest or the caller, is not reachable for it), linked from the state directory."""

    def __init__(self, state_dir: Path):
        self.link = Path(state_dir) / "postgres"
        self.port = _unused_port()
        self.bindir = self.find_bindir()
        self.as_root = os.geteuid() == 0
        self.data_dir: Path | None = None
        self.log = Path(state_dir) / "postgres.log"

    @staticmethod
    def find_bindir() -> Path:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
        if not found:
            raise RuntimeError("PostgreSQL is not installed: run `tools/system-deps prod` (Debian: postgresql-15)")
        return Path(found[-1]).parent

    def _run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        done = subprocess.run([*prefix, *cmd], capture_output=True, text=True)
        if check and done.returncode != 0:
            raise RuntimeError(f"`{' '.join(cmd)}` failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        return done

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def init(self) -> None:
        if self.as_root:
            self.data_dir = Path(tempfile.mkdtemp(prefix="airflow-prod-pg-"))
            pw = pwd.getpwnam("postgres")
            os.chown(self.data_dir, pw.pw_uid, pw.pw_gid)
            self.link.unlink(missing_ok=True)
            self.link.symlink_to(self.data_dir)
        else:
            self.data_dir = self.link
            self.data_dir.mkdir(parents=True, exist_ok=True)
        pwfile = self.data_dir / "pwfile"
        pwfile.write_text("airflow\n")
        if self.as_root:
            shutil.chown(pwfile, "postgres", "postgres")
        self._run(str(self.bindir / "initdb"), "-D", str(self.data_dir / "data"), "-U", "airflow",
                  f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")
        pwfile.unlink()

    def start(self) -> None:
        # Loopback TCP only; the socket directory is the cluster's own (not /var/run/postgresql).
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data_dir / "data"), "-l", str(self.data_dir / "log"),
                  "-w", "-t", "60", "-o", f"-p {self.port} -h 127.0.0.1 -k {self.data_dir}", "start")

    def create_database(self) -> None:
        env = {**os.environ, "PGPASSWORD": "airflow"}
        subprocess.run([str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "airflow",
                        "airflow"], env=env, check=True, capture_output=True)

    def stop(self, mode: str = "fast") -> None:
        if self.data_dir and (self.data_dir / "data" / "postmaster.pid").exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data_dir / "data"), "-m", mode, "-w", "stop",
                      check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        if self.data_dir and (self.data_dir / "log").exists():
            shutil.copy(self.data_dir / "log", self.log)
        if self.as_root and self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.link.unlink(missing_ok=True)


class Redis:
    """A private Redis on a free loopback port, no persistence (Celery's broker only holds queued tasks)."""

    def __init__(self, state_dir: Path):
        self.dir = Path(state_dir) / "redis"
        self.port = _unused_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        if not shutil.which("redis-server"):
            raise RuntimeError("redis-server is not installed: run `tools/system-deps prod` (Debian: redis-server)")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                                      "--appendonly", "no", "--dir", str(self.dir),
                                      "--logfile", str(self.dir / "redis.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        import socket

        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited; see {self.dir / 'redis.log'}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise TimeoutError("redis-server did not listen in 20 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class ProdStack(Stack):
    """Stack's API (REST calls, backfills, login), on the production shape instead of `airflow standalone`."""

    pause_for_backfill = False  # PostgreSQL: a backfill is created with the DAG as it is

    def __init__(self, root: Path, *, workers: int = 2, **kwargs):
        super().__init__(root, **kwargs)
        self.workers = workers
        self.postgres = Postgres(self.root)
        self.redis = Redis(self.root)
        self.procs: dict[str, subprocess.Popen] = {}
        # Each worker serves its task logs on a port of its own (two on one host would collide on one).
        self.worker_log_ports = [_unused_port() for _ in range(workers)]

    def env(self) -> dict[str, str]:
        hosts = {"postgres": self.postgres.url, "redis:6379": f"127.0.0.1:{self.redis.port}",
                 "http://sandbox:4566": self.endpoint, "airflow-apiserver:8080": f"127.0.0.1:{self.api_port}",
                 "localhost:8080": f"localhost:{self.api_port}"}
        return {
            **os.environ,
            **localise(compose_environment(), hosts),
            # What the image and compose's mounts provide: the home, the DAGs and plugins, `airflow` on PATH.
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), str(REPO / "plugins"),
                                                        os.environ.get("PYTHONPATH")])),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            # Loopback ports instead of the containers' fixed ones.
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.log_ports[1]),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(self.log_ports[0]),
            **self.extra_env,
        }

    def start(self, timeout: float = 240) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        self.postgres.init()
        self.postgres.start()
        self.postgres.create_database()
        self.redis.start()
        # The sandbox, its seed, and the Airflow DB's migration and pool (the seed runs `airflow db migrate`
        # and `python -m batchml.deploy` when AIRFLOW_HOME is set), as Stack does, then the components.
        from tools.demo import start_sandbox

        self.sandbox, self.endpoint = start_sandbox(self.root / "sandbox", self.sandbox_port, *self.sandbox_args)
        self._seed()
        if self.password:
            import json

            (self.airflow_home / "simple_auth_manager_passwords.json.generated").write_text(
                json.dumps({USER: self.password}))
        for service in COMPONENTS:
            self.start_component(service)
        for n in range(1, self.workers + 1):
            self.start_worker(n)
        self.airflow = self.procs["airflow-apiserver"]  # what Stack's health wait watches
        self._wait_healthy(timeout)
        self.wait_workers(timeout)
        if self.password is None:
            self.password = self.login()[1]
        import json

        record = self.root / "stack.json"
        record.write_text(json.dumps({"url": self.url, "user": USER, "password": self.password,
                                      "pause_for_backfill": False}))
        record.chmod(0o600)

    def _seed(self) -> None:
        from datetime import UTC, datetime, timedelta

        seed_end = self.seed_end or (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
        seeded = subprocess.run([sys.executable, "-m", "sandbox", "seed", "--port", self.endpoint.rsplit(":", 1)[1],
                                 "--end-date", seed_end], cwd=REPO, env=self.env(), capture_output=True, text=True)
        if seeded.returncode != 0:
            raise RuntimeError(f"seeding failed:\n{seeded.stderr[-3000:]}")

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        log = (self.root / f"{name}.log").open("a")
        # Each in a session of its own, as each runs in a container of its own: a kill -9 of one (the failure
        # tests) takes its children with it and nothing else.
        proc = subprocess.Popen([sys.executable, "-m", "airflow", *args], cwd=REPO, env=env or self.env(),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def start_component(self, service: str) -> subprocess.Popen:
        return self._spawn(service, compose_command(service))

    def start_worker(self, n: int) -> subprocess.Popen:
        env = {**self.env(), "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.worker_log_ports[n - 1])}
        return self._spawn(f"{WORKER}-{n}", [*compose_command(WORKER), "--celery-hostname", f"worker{n}@%h"], env)

    def wait_workers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for n in range(1, self.workers + 1):
            log = self.root / f"{WORKER}-{n}.log"
            while f"worker{n}@" not in (text := log.read_text(errors="replace")) or " ready." not in text:
                if self.procs[f"{WORKER}-{n}"].poll() is not None:
                    raise RuntimeError(f"celery worker {n} exited:\n{self.tail(f'{WORKER}-{n}')}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"celery worker {n} not ready in {timeout:.0f}s:\n{self.tail(f'{WORKER}-{n}')}")
                time.sleep(1)

    def kill(self, name: str) -> None:
        """kill -9 a component and everything it started (its process group), as a lost node would."""
        proc = self.procs[name]
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()

    def restart(self, name: str) -> subprocess.Popen:
        if name.startswith(WORKER):
            return self.start_worker(int(name.rsplit("-", 1)[1]))
        return self.start_component(name)

    def tail(self, name: str, lines: int = 60) -> str:
        path = self.root / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(f"--- {name}\n{self.tail(name, lines)}" for name in self.procs)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:  # whatever outlived its leader (task processes of a worker)
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
        if self.sandbox and self.sandbox.poll() is None:
            self.sandbox.terminate()
            self.sandbox.wait(timeout=30)
        self.redis.stop()
        self.postgres.stop()
        self.postgres.remove()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080, help="the UI and REST API (default 8080)")
    parser.add_argument("--sandbox-port", type=int, default=4566)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--state-dir", default=str(REPO / ".stack-prod"))
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    state = Path(args.state_dir)
    if state.exists():  # a fresh cluster each time, as `make airflow` starts a fresh SQLite home
        shutil.rmtree(state)
    stack = ProdStack(state, api_port=free_port(args.port), sandbox_port=free_port(args.sandbox_port),
                      workers=args.workers)
    print("Starting PostgreSQL, Redis, the sandbox and Airflow (api-server, scheduler, dag-processor, "
          f"triggerer, {args.workers} Celery workers); this takes a minute or two...", flush=True)
    try:
        stack.start()
        user, password = stack.login()
        print(f"""
Airflow UI:   {stack.url}    login: {user} / {password}
Sandbox:      {stack.endpoint}
PostgreSQL:   postgresql://airflow:airflow@{stack.postgres.url}/airflow   Redis: 127.0.0.1:{stack.redis.port}
Logs:         {stack.root}/<component>.log

Backfill from another shell:
  {sys.executable} tools/stack.py backfill --state-dir {stack.root} --from-date D1 --to-date D2
Ctrl-C stops everything.""", flush=True)
        while all(p.poll() is None for p in stack.procs.values()):
            time.sleep(1)
        dead = [n for n, p in stack.procs.items() if p.poll() is not None]
        print(f"{', '.join(dead)} exited:\n{stack.log_tail()}")
        return 1
    except KeyboardInterrupt:
        print("\nStopping everything...", flush=True)
        return 0
    finally:
        stack.stop()
        print("Stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
