"""Starting and stopping the servers a benchmark measures, with the same uvicorn settings for both."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

from core.settings import REPO_ROOT

STARTUP_SECONDS = 180  # a busy 2-core machine can take over a minute to import and start CareLoop


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(app: str, *, env: dict[str, str], ready_path: str, log: Path) -> Iterator[tuple[str, int]]:
    """Run `uvicorn app` in its own process; yields (base URL, pid)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--log-level", "warning", "--no-access-log"],
            cwd=REPO_ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{app} exited: {log.read_text()[-1500:]}")
                try:
                    httpx.get(base + ready_path, timeout=2)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{app} did not answer within {STARTUP_SECONDS} s") from None
                    time.sleep(0.3)
            yield base, process.pid
        finally:
            _stop(process)


@contextmanager
def background(args: list[str], *, env: dict[str, str], log: Path) -> Iterator[int]:
    """Run a command (e.g. `careloop worker`) for the length of the block; yields its pid."""
    with log.open("wb") as out:
        process = subprocess.Popen(args, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield process.pid
        finally:
            _stop(process, group=True)


def _stop(process: subprocess.Popen[bytes], *, group: bool = False) -> None:
    """Ask politely, then kill (a server whose requests hang on a lock never finishes a graceful shutdown);
    `group` reaches the children of a command started in its own session (dramatiq's worker processes)."""
    def send(sig: int) -> None:
        with suppress(ProcessLookupError):
            if group:
                os.killpg(process.pid, sig)
            else:
                process.send_signal(sig)

    send(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait(timeout=5)


def descendants(pid: int) -> list[int]:
    """The process and every process below it."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                pending += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's peak resident set size so far."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
