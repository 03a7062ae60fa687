"""What bench/ack.py runs against: FakeSlack in a child process, server subprocesses, the database."""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import httpx
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

from storage.models import OutboxMessage, Review
from tests.fakes.slack_api import FakeSlack

# --- the fake Slack Web API, in its own process so its work never stalls the client's clock ------


def _serve_fake(conn: Connection) -> None:
    """Child process: run FakeSlack and answer "summary" until told to "stop" (or the parent goes)."""
    fake = FakeSlack().start()
    conn.send((fake.base_url, fake.hook_url))
    try:
        while conn.poll(3600):
            if conn.recv() == "stop":
                break
            calls = list(fake.calls)  # a snapshot; the server threads only ever append
            hooks = [str(c.params.get("text", "")) for c in calls if c.method.startswith("response_url:")]
            opened = [c.params["view"] for c in calls if c.method == "views.open"]
            conn.send(
                {
                    "methods": Counter(c.method for c in calls),
                    "failures": [h for h in hooks if "went wrong" in h],
                    "already_decided": sum("already" in h.lower() for h in hooks),
                    "invalid": list(fake.invalid),
                    "last_view": opened[-1] if opened else None,
                }
            )
    finally:
        fake.stop()


class FakeSlackProcess:
    """FakeSlack on a loopback port, served by a child process."""

    def __enter__(self) -> FakeSlackProcess:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve_fake, args=(child,), daemon=True, name="fake-slack")
        self._proc.start()
        if not self._conn.poll(30):
            self.__exit__()
            raise RuntimeError("the fake Slack API did not start")
        self.base_url, self.hook_url = self._conn.recv()
        return self

    def summary(self) -> dict[str, Any]:
        self._conn.send("summary")
        if not self._conn.poll(30):
            raise RuntimeError("the fake Slack API stopped answering")
        return cast(dict[str, Any], self._conn.recv())

    def __exit__(self, *_: object) -> None:
        with contextlib.suppress(OSError):
            self._conn.send("stop")
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)


# --- servers under test ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


@dataclass
class Server:
    base: str
    pid: int

    def cpu_seconds(self) -> float:
        """User plus system CPU the server process has used (Linux; NaN elsewhere)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return math.nan
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def serve(name: str, argv: list[str], env: dict[str, str], port: int, workdir: Path) -> Iterator[Server]:
    """Start a server subprocess, wait for its /healthz, and always stop it."""
    log_path = workdir / f"{name}.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail(log_path)}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} never became healthy:\n{tail(log_path)}")
                time.sleep(0.1)
            yield Server(base, proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def hubspoke_cli(env: dict[str, str], workdir: Path, *args: str) -> None:
    done = subprocess.run([hubspoke_exe(), *args], env=env, cwd=workdir, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"hubspoke {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def hubspoke_exe() -> str:
    beside = Path(sys.executable).parent / "hubspoke"
    found = str(beside) if beside.exists() else shutil.which("hubspoke")
    if not found:
        raise SystemExit("hubspoke is not installed: activate the project's venv (. .venv/bin/activate)")
    return found


@contextlib.contextmanager
def bench_database(url: str | None, workdir: Path) -> Iterator[str]:
    """A temporary SQLite file by default; on PostgreSQL a fresh schema, dropped afterwards."""
    if url is None:
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    if make_url(url).get_backend_name() != "postgresql":
        yield url
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield (
                make_url(url)
                .update_query_dict({"options": f"-csearch_path={schema}"})
                .render_as_string(hide_password=False)
            )
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


class Db:
    """What the benchmark checks in Hubspoke's database between phases."""

    def __init__(self, url: str) -> None:
        # A plain engine: storage.db's SQLite engine begins IMMEDIATE, which would take the bot's write lock.
        self.engine: Engine = create_engine(url)

    def _scalar(self, query: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def pending_reviews(self) -> list[int]:
        with self.engine.connect() as conn:
            query = select(Review.use_case_id).where(Review.decision.is_(None)).order_by(Review.use_case_id)
            return list(conn.execute(query).scalars())

    def decided(self) -> int:
        return int(self._scalar(select(func.count()).select_from(Review).where(Review.decision.is_not(None))))

    def outbox_pending(self) -> int:
        undelivered = (OutboxMessage.delivered_at.is_(None), OutboxMessage.failed_at.is_(None))
        return int(self._scalar(select(func.count()).select_from(OutboxMessage).where(*undelivered)))

    def outbox_failed(self) -> int:
        failed = OutboxMessage.failed_at.is_not(None)
        return int(self._scalar(select(func.count()).select_from(OutboxMessage).where(failed)))

    def wait_quiet(self, decided: int | None = None, timeout: float = 180) -> None:
        """Wait until the listeners' work after ack is done and the outbox is delivered."""
        deadline = time.monotonic() + timeout
        while (decided is not None and self.decided() < decided) or self.outbox_pending():
            if time.monotonic() > deadline:
                raise RuntimeError(f"Hubspoke did not settle: {self.decided()} decided, {self.outbox_pending()} unsent")
            time.sleep(0.2)
