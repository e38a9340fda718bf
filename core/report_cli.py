"""`careloop report …`: render a registered report kind to a PDF file.

Each command only turns its options into the kind's params; `write_report` does the rest for every kind, so a
domain that registers `monthly_review` or `cycle_report` (core/reports.py) makes its command work with no
change here. A kind nobody has registered yet says so and exits non-zero.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Any

import click

from core.i18n import N_
from core.reports import CYCLE_REPORT, MONTHLY_REVIEW, PATIENT_SUMMARY

GENERATED_BY_CLI = N_("CareLoop (command line)")


def _common(command: Any) -> Any:
    command = click.option("-o", "--output", required=True,
                           type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
                           help="Where to write the PDF ('-' for standard output)")(command)
    return click.option("--lang", type=click.Choice(["zh-CN", "en"]), default=None,
                        help="Language of the report (default: the clinic's)")(command)


@click.group("report")
def report() -> None:
    """PDF reports: patient follow-up summary, monthly quality review, PDCA cycle report."""


@report.command("patient")
@click.option("--id", "patient_id", type=int, required=True, help="Patient number")
@click.option("--days", type=int, default=90, show_default=True, help="Period: the last N days (7–730)")
@_common
def report_patient(patient_id: int, days: int, lang: str | None, output: Path) -> None:
    """A patient's follow-up summary: readings, charts, alerts and callbacks over a period."""
    write_report(PATIENT_SUMMARY, {"patient_id": patient_id, "days": days}, lang=lang, output=output)


@report.command("monthly")
@click.option("--clinic", "clinic_code", required=True, help="Clinic code")
@click.option("--month", required=True, help="The month, as YYYY-MM")
@_common
def report_monthly(clinic_code: str, month: str, lang: str | None, output: Path) -> None:
    """A clinic's monthly quality review."""
    write_report(MONTHLY_REVIEW, {"month": month}, clinic_code=clinic_code, lang=lang, output=output)


@report.command("cycle")
@click.option("--id", "cycle_id", type=int, required=True, help="PDCA cycle number")
@_common
def report_cycle(cycle_id: int, lang: str | None, output: Path) -> None:
    """One PDCA cycle: aim, plan, prediction, what was done, the measure's chart, the decision."""
    write_report(CYCLE_REPORT, {"cycle_id": cycle_id}, lang=lang, output=output)


@report.command("kinds")
def report_kinds_command() -> None:
    """List the report kinds this installation can render."""
    from core.reports import report_kinds

    for spec in report_kinds():
        click.echo(f"{spec.kind:20} {spec.label}")


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
