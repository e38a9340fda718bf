"""The application factory: the one place (with core/worker.py) that wires every domain together."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import dramatiq
from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.stores.base import Store
from litestar.stores.file import FileStore
from litestar.stores.redis import RedisStore
from litestar.template.config import TemplateConfig

from core import jobs
from core.db import SQLITE_WRITE_LOCK_FIRST, get_engine
from core.headers import security_headers
from core.messaging import set_gateway
from core.observability import RequestIdMiddleware, configure_logging
from core.observability import before_send as observability_before_send
from core.scheduler import InProcessScheduler
from core.settings import Settings, get_settings
from core.sms_gateways import gateway_from_settings
from core.templating import N_, TEMPLATE_DIR, NavItem, configure_environment
from core.web import (
    EXCEPTION_HANDLERS,
    AuthMiddleware,
    RotatingSessionConfig,
    prepare_request_state,
    provide_db_session,
    provide_settings,
)

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"


def route_handlers() -> list[Any]:
    import clinic.routes
    import core.observability
    import core.reports_routes
    import core.routes
    import feedback.routes
    import followup.routes
    import pdca.routes
    import rca.routes
    import surveys.routes

    return [*core.routes.HANDLERS, *clinic.routes.HANDLERS, *followup.routes.HANDLERS, *surveys.routes.HANDLERS,
            *feedback.routes.HANDLERS, *rca.routes.HANDLERS, *pdca.routes.HANDLERS, *core.reports_routes.HANDLERS,
            *core.observability.HANDLERS]


def nav_items() -> list[NavItem]:
    clinical = frozenset({"admin", "doctor", "nurse"})
    staff = clinical | {"committee"}
    committee = frozenset({"admin", "committee"})
    return [
        NavItem("/callbacks", N_("Callbacks"), clinical),
        NavItem("/patients", N_("Patients"), staff),
        NavItem("/followups/overdue", N_("Overdue follow-ups"), clinical),
        NavItem("/followups/indicators", N_("Indicators"), frozenset({"admin", "doctor", "committee"})),
        NavItem("/feedback", N_("Feedback"), staff),  # others see the items they own or that are about them
        NavItem("/rca", N_("Root-cause analyses"), staff),  # the committee edits; clinicians read
        NavItem("/pdca", N_("Improvement"), committee | {"doctor"}),
        NavItem("/reports", N_("Reports"), committee),
        NavItem("/surveys", N_("Surveys"), staff),  # doctors: their own results; nurses: invite
        NavItem("/admin/rules", N_("Rules"), frozenset({"admin"})),
        NavItem("/dev/sms", N_("SMS log"), staff),
        NavItem("/admin/staff", N_("Staff"), frozenset({"admin"})),
        NavItem("/admin/audit", N_("Audit log"), frozenset({"admin"})),
    ]


def import_tasks() -> None:
    """Importing tasks modules declares their actors, schedules and event subscriptions."""
    import clinic.tasks  # noqa: F401
    import core.report_jobs  # noqa: F401 - the report renderer's actor
    import feedback.tasks  # noqa: F401
    import followup.tasks  # noqa: F401
    import pdca.tasks  # noqa: F401
    import rca.tasks  # noqa: F401
    import surveys.tasks  # noqa: F401


def _session_store(settings: Settings) -> Store:
    if settings.broker_url.startswith(("redis://", "rediss://")):
        return RedisStore.with_client(url=settings.broker_url, namespace="careloop-sessions")
    return FileStore(settings.data_dir / "sessions", create_directories=True)


def create_app(settings: Settings | None = None, *, broker: dramatiq.Broker | None = None,
               start_workers: bool | None = None) -> Litestar:
    settings = settings or get_settings()
    secret = settings.resolved_secret_key()
    configure_logging(settings)
    import_tasks()
    broker = jobs.configure(settings, broker)
    from clinic.auth import load_principal, principal_for_token

    run_embedded = settings.embedded_broker if start_workers is None else start_workers
    embedded: dict[str, Any] = {}

    def start_embedded(app: Litestar) -> None:
        if not run_embedded:
            return
        worker = dramatiq.Worker(broker, worker_threads=settings.embedded_workers)
        worker.start()
        scheduler = InProcessScheduler(broker)
        scheduler.start()
        embedded.update(worker=worker, scheduler=scheduler)

    def stop_embedded(app: Litestar) -> None:
        if "scheduler" in embedded:
            embedded.pop("scheduler").stop()
        if "worker" in embedded:
            embedded.pop("worker").stop()

    secure_cookies = settings.public_url.startswith("https://")
    session_config = RotatingSessionConfig(
        store="sessions", max_age=settings.session_max_age_minutes * 60, httponly=True, samesite="lax",
        secure=secure_cookies, key="careloop_session",
    )
    csrf_config = CSRFConfig(
        secret=secret, cookie_secure=secure_cookies, cookie_name="careloop_csrf",
        exclude=["/api/", "/sms/", "/healthz"],
    )
    gateway = gateway_from_settings(
        account_sid=settings.twilio_account_sid, auth_token=settings.twilio_auth_token,
        from_number=settings.twilio_from, api_base_url=settings.twilio_api_base_url or None,
        development_auth_token=settings.dev_sms_token,
    )
    set_gateway(gateway)
    state = State({
        "settings": settings,
        "principal_loader": load_principal,
        "token_loader": lambda *, session, token: principal_for_token(session=session, token=token),
        "sms_gateway": gateway,
        "broker": broker,
        # Only where jobs write to the same SQLite file at the same time (core.web.provide_db_session).
        "sqlite_write_lock_first": settings.is_sqlite and run_embedded,
    })
    # Jobs too (core.db.unit_of_work): a job that reads and then writes must not lose to a request's commit.
    get_engine(settings).update_execution_options(**{SQLITE_WRITE_LOCK_FIRST: settings.is_sqlite and run_embedded})
    return Litestar(
        route_handlers=[
            *route_handlers(),
            create_static_files_router(path="/static", directories=[STATIC_DIR], name="static"),
        ],
        state=state,
        dependencies={"db": Provide(provide_db_session), "settings": Provide(provide_settings, sync_to_thread=False)},
        middleware=[RequestIdMiddleware, session_config.middleware, AuthMiddleware],
        csrf_config=csrf_config,
        stores={"sessions": _session_store(settings)},
        template_config=TemplateConfig(
            directory=TEMPLATE_DIR, engine=JinjaTemplateEngine,
            engine_callback=lambda engine: configure_environment(engine.engine, nav_items=nav_items()),
        ),
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=prepare_request_state,
        before_send=[observability_before_send, security_headers],
        on_startup=[start_embedded],
        on_shutdown=[stop_embedded],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="CareLoop API", version="1", path="/schema",
            components=Components(security_schemes={
                "BearerToken": SecurityScheme(type="http", scheme="bearer", description="careloop token create"),
            }),
            security=[{"BearerToken": []}],
        ),
        # The root logger is core.observability's (request ids, JSON lines); Litestar's own lines go there too.
        logging_config=LoggingConfig(configure_root_logger=False, loggers={
            "litestar": {"level": "INFO", "handlers": [], "propagate": True}}),
        debug=settings.debug,
    )
