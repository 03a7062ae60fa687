"""A real embeddings endpoint for benchmarks: all-MiniLM-L6-v2 behind an OpenAI-compatible server on loopback.

    from bench.embeddings import ensure_env, serve

    with serve(ensure_env()) as base_url:  # "http://127.0.0.1:PORT/v1"
        client = OpenAI(base_url=base_url, api_key="unused")

The server runs in an environment of its own (bench/.venv-embeddings, from requirements.txt beside this file),
so torch and sentence-transformers never enter the project's .venv. Only this module is imported from the
project's venv; it needs nothing beyond the standard library.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parents[1]
REQUIREMENTS = PACKAGE / "requirements.txt"
SERVER = PACKAGE / "server.py"
ENV_DIR = REPO / "bench/.venv-embeddings"
STAMP = ".requirements.sha256"

__all__ = ["ENV_DIR", "ensure_env", "serve"]


def requirements_hash() -> str:
    """The sha256 of requirements.txt, which the environment's stamp file must match."""
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def _run(command: list[str]) -> None:
    """Run a build step; on failure raise with the end of its output."""
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n" + "\n".join(output[-30:]))


def ensure_env(path: Path = ENV_DIR) -> Path:
    """The bench environment's python, building the environment first if it is missing or its requirements changed.

    A build makes the venv anew (`python3 -m venv --clear`), pip-installs requirements.txt and then writes the
    stamp file with the requirements' hash; a build that fails leaves no stamp, so the next call builds again.
    """
    python = path / "bin" / "python"
    stamp = path / STAMP
    digest = requirements_hash()
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return python
    base = shutil.which("python3") or sys.executable
    print(f"building {path} from {REQUIREMENTS.name} (about a minute)", file=sys.stderr, flush=True)
    started = time.perf_counter()
    stamp.unlink(missing_ok=True)
    _run([base, "-m", "venv", "--clear", str(path)])
    _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(REQUIREMENTS)])
    stamp.write_text(digest + "\n")
    print(f"built {path} in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return python


def _answers(url: str) -> bool:
    """Whether GET url answers 200 (straight to loopback, whatever proxy the environment names)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _tail(log: Path, lines: int = 30) -> str:
    """The last lines of the server's log."""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def serve(env_python: Path, timeout: float = 120.0) -> Iterator[str]:
    """Run server.py with env_python; yield its base URL ("http://127.0.0.1:PORT/v1") once it answers.

    The server is terminated when the block exits. Its stderr goes to a log whose end is shown if it fails to start.
    """
    with tempfile.TemporaryDirectory(prefix="bench-embeddings-") as tmp:
        ready, log = Path(tmp) / "port", Path(tmp) / "server.log"
        with log.open("wb") as log_file:
            command = [str(env_python), str(SERVER), "--port", "0", "--ready-file", str(ready)]
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_file)
            try:
                deadline = time.monotonic() + timeout
                while True:
                    if process.poll() is not None:
                        raise RuntimeError(f"embeddings server exited {process.returncode}:\n{_tail(log)}")
                    if ready.exists():
                        base_url = f"http://127.0.0.1:{int(ready.read_text())}/v1"
                        if _answers(base_url + "/models"):
                            break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"embeddings server not answering after {timeout:.0f} s:\n{_tail(log)}")
                    time.sleep(0.1)
                yield base_url
            finally:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
