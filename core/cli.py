"""The `careloop` command line: serve, workers, scheduler, database, clinics, users, tokens and demo data."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Any

import click
from sqlmodel import Session

from core.db import get_engine, unit_of_work
from core.errors import DomainError
from core.settings import get_settings


def _fail(exc: DomainError) -> None:
    details = "; ".join(f"{e.field}: {e.message % e.params if e.params else e.message}" for e in exc.field_errors)
    raise click.ClickException(f"{exc}{' — ' + details if details else ''}")


class _LazyGroup(click.Group):
    """Loads `careloop report` (which imports the report builders) only when it is asked for: a command such as
    `careloop import readings` should not pay for loading what it never runs."""

    lazy = {"report": ("core.report_cli", "report")}  # `careloop report patient|monthly|cycle`

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            import importlib

            module, name = self.lazy[cmd_name]
            self.add_command(getattr(importlib.import_module(module), name), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup)
def main() -> None:
    """CareLoop: chronic-disease follow-up and quality improvement for primary care."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (creates the database on first run)."""
    from core.migrate import upgrade

    settings = get_settings()
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings)
    click.echo("database is up to date")


@db.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Generate a migration from the difference between the models and the database."""
    from core.migrate import make_revision

    make_revision(get_settings(), message)


@main.group()
def clinic() -> None:
    """Clinics."""


@clinic.command("create")
@click.option("--code", required=True)
@click.option("--name", required=True)
@click.option("--timezone", default="Asia/Shanghai", show_default=True)
@click.option("--profile", type=click.Choice(["cn", "us"]), default="cn", show_default=True)
@click.option("--language", type=click.Choice(["zh-CN", "en"]), default="zh-CN", show_default=True)
def clinic_create(code: str, name: str, timezone: str, profile: str, language: str) -> None:
    from clinic.service import create_clinic

    try:
        with unit_of_work(get_engine(get_settings())) as session:
            created = create_clinic(session=session, code=code, name=name, timezone=timezone, profile=profile,
                                    language=language)
            _seed_rules(session, [created])
            click.echo(f"clinic {created.code} created (id {created.id})")
    except DomainError as exc:
        _fail(exc)


@main.group()
def user() -> None:
    """Staff accounts."""


@user.command("create")
@click.option("--clinic", "clinic_code", required=True)
@click.option("--username", required=True)
@click.option("--password", required=True)
@click.option("--role", type=click.Choice(["admin", "doctor", "nurse", "committee"]), required=True)
@click.option("--name", "display_name", default=None)
def user_create(clinic_code: str, username: str, password: str, role: str, display_name: str | None) -> None:
    from clinic.service import create_staff_user, get_clinic_by_code

    try:
        with unit_of_work(get_engine(get_settings())) as session:
            found = get_clinic_by_code(session=session, code=clinic_code)
            created = create_staff_user(session=session, clinic=found, username=username, password=password,
                                        role=role, display_name=display_name)
            click.echo(f"user {created.username} ({created.role.value}) created in {found.code}")
    except DomainError as exc:
        _fail(exc)


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--username", required=True)
@click.option("--name", default="", help="What the token is for")
def token_create(username: str, name: str) -> None:
    """Print a new bearer token for the user (shown once; only a digest is stored)."""
    from clinic.auth import create_api_token
    from clinic.service import get_staff_by_username

    with unit_of_work(get_engine(get_settings())) as session:
        staff = get_staff_by_username(session=session, username=username)
        if staff is None:
            raise click.ClickException(f"no staff user named {username!r}")
        click.echo(create_api_token(session=session, user=staff, name=name))


@main.command("demo")
@click.option("--patients", default=50, show_default=True, help="Patients in the Chinese demo clinic")
def demo(patients: int) -> None:
    """Seed demo clinics, staff, patients and 90 days of readings."""
    _seed_demo(patients)


def _seed_demo(patients: int) -> bool:
    from clinic.demo import demo_exists, seed_clinics

    with unit_of_work(get_engine(get_settings())) as session:
        if demo_exists(session=session):
            click.echo("demo data already present")
            return False
        clinics = seed_clinics(session=session, patients_per_clinic=patients)
        _seed_rules(session, [demo_clinic.clinic for demo_clinic in clinics])
        _seed_domain_demos(session, clinics)
    click.echo("demo data created. Sign in at /login with:")
    for demo_clinic in clinics:
        for login in demo_clinic.logins:
            click.echo(f"  {login.clinic:8} {login.role:10} {login.username:14} {login.password}")
    click.echo("patients sign in at /login/code with their phone, e.g. +8613700000001 "
               "(the code appears on the SMS log page)")
    return True


def _seed_rules(session: Session, clinics: list) -> None:  # type: ignore[type-arg]
    """A new clinic starts with its profile's default rules, so its first readings have nothing to seed."""
    from followup.rulebook import ensure_default_rules

    for clinic in clinics:
        ensure_default_rules(session=session, clinic=clinic)


def _seed_domain_demos(session: Session, clinics: list) -> None:  # type: ignore[type-arg]
    """Downstream domains add their demo data once they exist (readings, callbacks, surveys…)."""
    import importlib

    for domain in ("followup", "surveys", "feedback", "rca", "pdca"):
        try:
            module = importlib.import_module(f"{domain}.demo")
        except ModuleNotFoundError as exc:
            if exc.name != f"{domain}.demo":
                raise
            continue
        module.seed(session=session, clinics=clinics)


@main.group("import")
def import_group() -> None:
    """Bulk imports."""


@import_group.command("readings")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--clinic", "clinic_code", default=None, help="Clinic code (needed when there are several clinics)")
@click.option("--format", "fmt", type=click.Choice(["auto", "csv", "fhir"]), default="auto", show_default=True)
@click.option("--patient", "patient_id", type=int, default=None,
              help="Import every row into this patient (e.g. one patient's FHIR export)")
@click.option("--dry-run", is_flag=True, help="Check and count every row, store nothing")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the rejected rows to this CSV file")
def import_readings(file: Path, clinic_code: str | None, fmt: str, patient_id: int | None, dry_run: bool,
                    report_path: Path | None) -> None:
    """Import readings from a CSV file or a FHIR R4 Bundle; importing a file twice adds nothing."""
    from followup.importer.command import run_import_command

    run_import_command(file, clinic_code=clinic_code, fmt=fmt, patient_id=patient_id, dry_run=dry_run,
                       report_path=report_path)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--demo", "with_demo", is_flag=True, help="Seed demo data when the database has none")
@click.option("--no-worker", is_flag=True, help="Do not run job workers in this process (production)")
@click.option("--workers", "web_workers", default=1, show_default=True, help="Web processes")
def serve(host: str, port: int, with_demo: bool, no_worker: bool, web_workers: int) -> None:
    """Upgrade the database, then serve the web app (with in-process workers unless --no-worker)."""
    import uvicorn

    from core.migrate import upgrade

    settings = get_settings()
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings)
    if with_demo:
        _seed_demo(50)
    if no_worker:
        import os

        os.environ["CARELOOP_EMBEDDED_WORKERS"] = "0"
    click.echo(f"CareLoop on http://{host}:{port}")
    # careloop.access (core/observability.py) logs each request with its id; with JSON logs uvicorn's own
    # lines go through the same root handler instead of its text format.
    json_logs = settings.log_format == "json"
    uvicorn.run("core.asgi:app", host=host, port=port, workers=web_workers, proxy_headers=True,
                log_level="info", access_log=not json_logs, **({"log_config": None} if json_logs else {}))


@main.command("worker", context_settings={"ignore_unknown_options": True})
@click.option("--processes", default=2, show_default=True)
@click.option("--threads", default=4, show_default=True)
def worker(processes: int, threads: int) -> None:
    """Run dramatiq workers against CARELOOP_BROKER_URL."""
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    if not get_settings().broker_url:
        raise click.ClickException("set CARELOOP_BROKER_URL (redis:// or amqp://) to run separate workers")
    args = make_argument_parser().parse_args(
        ["core.worker", "--processes", str(processes), "--threads", str(threads)])
    sys.exit(dramatiq_main(args))


@main.command("scheduler")
def scheduler() -> None:
    """Run periodiq: sends each scheduled sweep to the broker on its minute."""
    import periodiq

    if not get_settings().broker_url:
        raise click.ClickException("set CARELOOP_BROKER_URL to run a separate scheduler")
    sys.exit(periodiq.main(periodiq.make_argument_parser().parse_args(["core.worker"])))


# Here rather than in core/report_cli.py: it looks clinics up in the clinic domain, which only this wiring
# module may import.
def write_report(kind: str, params: dict[str, Any], *, output: Path, lang: str | None = None,
                 clinic_code: str | None = None) -> None:
    """Render `kind` for the clinic named by `clinic_code` (or the one the params belong to) and write it."""
    from clinic.models import Clinic
    from clinic.service import get_clinic_by_code
    from core import i18n
    from core.audit import record_audit
    from core.db import get_engine, unit_of_work
    from core.errors import DomainError
    from core.models import AuditAction
    from core.report_cli import GENERATED_BY_CLI
    from core.reports import load_report_kinds, render_report, report_kinds
    from core.settings import get_settings

    load_report_kinds()
    registered = {spec.kind: spec for spec in report_kinds()}
    spec = registered.get(kind)
    if spec is None:
        known = ", ".join(sorted(registered)) or "none"
        raise click.ClickException(f"no report builder is registered for {kind!r} yet (registered: {known}); "
                                   f"a domain adds it with core.reports.register_report({kind!r}, builder)")
    settings = get_settings()
    try:
        with unit_of_work(get_engine(settings)) as session:
            if clinic_code:
                clinic = get_clinic_by_code(session=session, code=clinic_code)
            else:
                clinic_id = spec.clinic_of(session, params) if spec.clinic_of else None
                clinic = session.get(Clinic, clinic_id) if clinic_id is not None else None
                if clinic is None:
                    raise click.ClickException(f"nothing found for {kind} with {params}")
            language = lang or clinic.language
            rendered = render_report(session=session, kind=kind, clinic_id=clinic.id, params=params,
                                     language=language, generated_by=i18n.gettext(language, GENERATED_BY_CLI),
                                     default_tz=settings.timezone)
            record_audit(session=session, action=AuditAction.export, object_type=kind,
                         object_id=params.get("patient_id") or params.get("cycle_id") or rendered.period,
                         clinic_id=clinic.id, patient_id=rendered.patient_id, actor_kind="cli",
                         actor_name=getpass.getuser(), detail=f"{rendered.period} {language} "
                                                              f"sha256={rendered.pdf.sha256}")
    except DomainError as exc:
        details = "; ".join(f"{e.field}: {e.message % e.params if e.params else e.message}"
                            for e in exc.field_errors)
        raise click.ClickException(f"{exc}{' — ' + details if details else ''}") from exc
    if str(output) == "-":
        sys.stdout.buffer.write(rendered.pdf.content)
    else:
        output.write_bytes(rendered.pdf.content)
    click.echo(f"{output}: {rendered.title}, {rendered.pdf.pages} page(s), {rendered.pdf.size // 1024} KB, "
               f"sha256 {rendered.pdf.sha256}", err=True)



if __name__ == "__main__":
    main()
