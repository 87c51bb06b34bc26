"""Start and stop the sandbox's emulators: in a thread (tests) or as a child process (demo, UI)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn

from sandbox.emulators.app import create_app
from sandbox.emulators.common import Limits

DEFAULT_PORT = 8790


def sandbox_port() -> int:
    return int(os.environ.get("CDP_SANDBOX_PORT", DEFAULT_PORT))


def serve(world_dir: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
    """Serve in the foreground (`cdp sandbox serve`)."""
    uvicorn.run(create_app(world_dir), host=host, port=port or sandbox_port(), log_level="warning")


@contextlib.contextmanager
def sandbox_in_thread(world_dir: Path, limits: Limits | None = None) -> Iterator[str]:
    """Serve on a free loopback port in a background thread; yields the base URL."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(world_dir, limits), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def sandbox_process(world_dir: Path, port: int | None = None) -> Iterator[str]:
    """Run `cdp sandbox serve` as a child process for the length of the block; yields the base URL."""
    port = port or sandbox_port()
    base = f"http://127.0.0.1:{port}"
    if _healthy(base):
        raise RuntimeError(
            f"Something already answers on {base}. Stop it (another `cdp sandbox serve`?) or set CDP_SANDBOX_PORT."
        )
    proc = subprocess.Popen(
        [sys.executable, "-m", "cdp.cli", "sandbox", "serve", "--port", str(port)],
        env={**os.environ, "CDP_HOME": str(Path(world_dir).parent.parent)},
    )
    try:
        _wait_healthy(base, proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/_sandbox/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_healthy(base: str, proc: subprocess.Popen | None = None, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _healthy(base):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"The sandbox exited with code {proc.returncode} before it answered on {base}.")
        time.sleep(0.1)
    raise RuntimeError(f"The sandbox did not answer on {base} within {seconds:.0f} s.")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
