"""Runtime configuration read from CARELOOP_* environment variables (and an optional .env file)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("zh-CN", "en")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARELOOP_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./careloop.db"
    broker_url: str = ""
    secret_key: str = ""
    public_url: str = "http://127.0.0.1:8000"
    data_dir: Path = Path("./data")
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    # Only for tests and local stand-ins: where the Twilio REST API lives.
    twilio_api_base_url: str = ""
    default_language: str = "zh-CN"
    timezone: str = "Asia/Shanghai"
    # The embedded default runs job workers and the scheduler inside the web process.
    embedded_workers: int = 2
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    session_max_age_minutes: int = 12 * 60
    # A signed-in browser left alone this long must sign in again (HIPAA automatic logoff).
    session_idle_minutes: int = 30
    # Forms and API bodies; nothing the app accepts over HTTP (FHIR bundles included) needs more.
    max_body_bytes: int = 2_000_000
    # Twilio webhook requests a second from one caller address (per web process). Twilio calls from many
    # addresses; a flood from one is not Twilio. Generous because a clinic's whole panel texts one number.
    sms_webhook_rate_per_second: int = 50
    # How long a worker holds a job before another may take it over (the worker is presumed dead).
    job_lease_seconds: int = 300
    debug: bool = False
    # "json" writes one JSON object per log line (for a log shipper); "text" is for people.
    log_format: str = "text"
    # Bearer token for /metrics; when empty only loopback callers may read it.
    metrics_token: str = ""
    dev_sms_token: str = Field(default="development-sms-token")

    @field_validator("default_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"must be one of {', '.join(LANGUAGES)}")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def embedded_broker(self) -> bool:
        return not self.broker_url

    def resolved_secret_key(self) -> str:
        """The configured key, else one generated once and kept in the data folder across restarts."""
        if self.secret_key:
            return self.secret_key
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key_file = self.data_dir / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        self.secret_key = key_file.read_text().strip()
        return self.secret_key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
