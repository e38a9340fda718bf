"""ASGI entry point for uvicorn: `core.asgi:app`, configured from the environment."""

from core.app import create_app
from core.settings import get_settings

_settings = get_settings()
app = create_app(_settings, start_workers=_settings.embedded_broker and _settings.embedded_workers > 0)
