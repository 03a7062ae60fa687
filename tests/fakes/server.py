"""Serve the real ASGI app with uvicorn on a loopback port, in a thread, for scenario tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import anyio.to_thread
import httpx
import uvicorn
from starlette.applications import Starlette


@contextmanager
def serve(asgi: Starlette) -> Iterator[str]:
    """Yield the base URL of `asgi` served over real HTTP on 127.0.0.1."""
    # IPPROTO_TCP named, so uvicorn sees a TCP socket and turns Nagle off (else keep-alive requests wait ~40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(asgi, log_level="warning", access_log=False, lifespan="on"))

    def run() -> None:
        async def main() -> None:
            anyio.to_thread.current_default_thread_limiter().total_tokens = 100
            await server.serve(sockets=[sock])

        anyio.run(main)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def wait_healthy(base: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{base} never became healthy")
        time.sleep(0.1)
