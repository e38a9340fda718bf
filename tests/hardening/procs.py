"""Real processes for the fault, concurrency and load tests: web servers and workers started the way
production starts them (`careloop serve --no-worker`, `dramatiq core.worker`, `careloop scheduler`), a
private redis-server the tests may stop and start, signed Twilio webhooks, and clean-up that kills every
process a test started, whatever happened."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
from twilio.request_validator import RequestValidator

from core.settings import REPO_ROOT
from tests.conftest import _services_missing
from tests.twilio_standin import TwilioStandIn

REDIS_URL = os.environ.get("CARELOOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PUBLIC_URL = "http://careloop.test"  # what webhooks are signed for, whichever process answers them
TWILIO_FROM = "+15005550006"
_sids = itertools.count(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def kill_hard(process: subprocess.Popen[bytes]) -> None:
    """kill -9 the process and everything it started (its own session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)


class RedisServer:
    """A redis-server of the test's own on a free port, so stopping it disturbs nobody else's Redis."""

    def __init__(self, workdir: Path) -> None:
        if shutil.which("redis-server") is None:
            _services_missing("redis-server", FileNotFoundError("redis-server is not installed"))
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        if not wait_for(self.answers, timeout=20):
            raise RuntimeError("the test's redis-server did not start")

    def answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            kill_hard(self.process)
            self.process = None


@dataclass
class Cluster:
    """The processes of one test, with the environment they share; `close()` kills them all."""

    database_url: str
    broker_url: str
    logs: Path
    standin: TwilioStandIn | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("CARELOOP_")}
        env.update({
            "CARELOOP_DATABASE_URL": self.database_url, "CARELOOP_BROKER_URL": self.broker_url,
            "CARELOOP_SECRET_KEY": "hardening-secret", "CARELOOP_PUBLIC_URL": PUBLIC_URL,
            "CARELOOP_DATA_DIR": str(self.logs), "CARELOOP_JOB_LEASE_SECONDS": "2",
            "CARELOOP_DEFAULT_LANGUAGE": "en", "PYTHONUNBUFFERED": "1",
        })
        if self.standin is not None:
            env.update({
                "CARELOOP_TWILIO_ACCOUNT_SID": self.standin.account_sid,
                "CARELOOP_TWILIO_AUTH_TOKEN": self.standin.auth_token, "CARELOOP_TWILIO_FROM": TWILIO_FROM,
                "CARELOOP_TWILIO_API_BASE_URL": self.standin.base_url,
            })
        env.update(self.extra_env)
        return env

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}-{len(self.processes)}.log").open("ab")
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        log.close()
        self.processes.append(process)
        return process

    def start_web(self, port: int | None = None, *, wait: bool = True) -> WebProcess:
        port = port or free_port()
        process = self._spawn("web", [sys.executable, "-m", "core.cli", "serve", "--no-worker", "--port", str(port)])
        web = WebProcess(process=process, base_url=f"http://127.0.0.1:{port}")
        try:
            started = not wait or wait_for(web.up, timeout=120)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; logs in {self.logs}:\n{self.log_tail()}") from exc
        if not started:
            raise RuntimeError(f"web process did not start; logs in {self.logs}:\n{self.log_tail()}")
        return web

    def start_worker(self, *, threads: int = 2) -> subprocess.Popen[bytes]:
        return self._spawn("worker", [sys.executable, "-m", "dramatiq", "core.worker", "--processes", "1",
                                      "--threads", str(threads)])

    def start_scheduler(self) -> subprocess.Popen[bytes]:
        return self._spawn("scheduler", [sys.executable, "-m", "core.cli", "scheduler"])

    def log_tail(self, chars: int = 3000) -> str:
        texts = [f"--- {p.name}\n{p.read_text(errors='replace')[-chars:]}" for p in sorted(self.logs.glob("*.log"))]
        return "\n".join(texts)

    def close(self) -> None:
        for process in self.processes:
            kill_hard(process)
        self.processes.clear()


@dataclass
class WebProcess:
    process: subprocess.Popen[bytes]
    base_url: str

    def up(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError("web process exited")
        try:
            return httpx.get(self.base_url + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


@contextlib.contextmanager
def cluster(database_url: str, broker_url: str, logs: Path, **kwargs: Any) -> Iterator[Cluster]:
    started = Cluster(database_url=database_url, broker_url=broker_url, logs=logs, **kwargs)
    try:
        yield started
    finally:
        started.close()


def webhook(body: str, *, from_: str, sid: str | None = None, auth_token: str) -> tuple[dict[str, str], dict[str, str]]:
    """The form and headers of a signed Twilio inbound-message webhook for PUBLIC_URL/sms/twilio."""
    params = {"MessageSid": sid or f"SM{os.getpid():08d}{next(_sids):024d}", "AccountSid": "AC" + "0" * 32,
              "From": from_, "To": TWILIO_FROM, "Body": body, "NumMedia": "0"}
    signature = RequestValidator(auth_token).compute_signature(PUBLIC_URL + "/sms/twilio", params)
    return params, {"X-Twilio-Signature": signature}


def require_redis(url: str) -> None:
    try:
        redis.Redis.from_url(url).ping()
    except Exception as exc:
        _services_missing("Redis", exc)


def flush_redis(url: str) -> None:
    require_redis(url)
    redis.Redis.from_url(url).flushdb()

