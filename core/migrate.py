"""Running Alembic migrations from the CLI, the server start-up and the tests."""

from __future__ import annotations

import importlib

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from core.settings import REPO_ROOT, Settings

DOMAINS = ("core", "clinic", "followup", "surveys", "feedback", "rca", "pdca")


def import_all_models() -> None:
    """Register every domain's tables on SQLModel.metadata (domains without tables yet are skipped)."""
    for domain in DOMAINS:
        try:
            importlib.import_module(f"{domain}.models")
        except ModuleNotFoundError as exc:
            if exc.name != f"{domain}.models":
                raise
    importlib.import_module("core.reports")  # the report archive's table lives beside its service


def alembic_config(settings: Settings) -> Config:
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def upgrade(settings: Settings, *, engine: Engine | None = None, revision: str = "heads") -> None:
    config = alembic_config(settings)
    if engine is not None:
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    else:
        command.upgrade(config, revision)


def make_revision(settings: Settings, message: str) -> None:
    command.revision(alembic_config(settings), message=message, autogenerate=True)
