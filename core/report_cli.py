"""`careloop report …`: render a registered report kind to a PDF file.

Each command only turns its options into the kind's params; `write_report` does the rest for every kind, so a
domain that registers `monthly_review` or `cycle_report` (core/reports.py) makes its command work with no
change here. A kind nobody has registered yet says so and exits non-zero.
"""

from __future__ import annotations

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
    from core.cli import write_report

    write_report(PATIENT_SUMMARY, {"patient_id": patient_id, "days": days}, lang=lang, output=output)


@report.command("monthly")
@click.option("--clinic", "clinic_code", required=True, help="Clinic code")
@click.option("--month", required=True, help="The month, as YYYY-MM")
@_common
def report_monthly(clinic_code: str, month: str, lang: str | None, output: Path) -> None:
    """A clinic's monthly quality review."""
    from core.cli import write_report

    write_report(MONTHLY_REVIEW, {"month": month}, clinic_code=clinic_code, lang=lang, output=output)


@report.command("cycle")
@click.option("--id", "cycle_id", type=int, required=True, help="PDCA cycle number")
@_common
def report_cycle(cycle_id: int, lang: str | None, output: Path) -> None:
    """One PDCA cycle: aim, plan, prediction, what was done, the measure's chart, the decision."""
    from core.cli import write_report

    write_report(CYCLE_REPORT, {"cycle_id": cycle_id}, lang=lang, output=output)


@report.command("kinds")
def report_kinds_command() -> None:
    """List the report kinds this installation can render."""
    from core.reports import report_kinds

    for spec in report_kinds():
        click.echo(f"{spec.kind:20} {spec.label}")
