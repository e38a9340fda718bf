"""The measure catalogue: every platform metric a project can chart, with the definition shown to users.

Indicators are owned by the domain whose data they read (callbacks and control by followup, scores by
surveys, complaints by feedback); this module declares them for the committee and adapts each domain's
SQL function to one call shape (pdca.metrics.adapters).  An entry whose owning module is not installed
is listed as unavailable rather than failing.
"""

from __future__ import annotations

from core.i18n import N_
from pdca.enums import Direction, Frequency
from pdca.metrics import adapters
from pdca.metrics.base import MetricDef, Option
from pdca.metrics.readings import reading_adherence

PERCENT = N_("%")
MONTHLY = (Frequency.month,)


def _complaint_categories() -> tuple[tuple[str, str], ...]:
    try:
        from feedback.enums import LABELS, Category
    except ModuleNotFoundError:  # pragma: no cover - feedback is part of the product
        return ()
    return tuple((c.value, LABELS.get(c.value, c.value)) for c in Category)


def catalogue() -> dict[str, MetricDef]:
    """Every catalogue entry by code, in the order the committee sees them."""
    category = Option("category", N_("Complaint category"), (("", N_("All categories")), *_complaint_categories()))
    template = Option("template", N_("Survey"), (("service", N_("Service survey (monthly sample)")),
                                                 ("post_callback", N_("After-callback survey"))))
    entries = [
        MetricDef(
            code="callbacks_closed_on_time", title=N_("Callbacks closed on time"), chart="p", unit=PERCENT,
            multiply=100, direction=Direction.increase,
            numerator=N_("Callbacks due in the period that were closed by their due time"),
            denominator=N_("Callbacks due in the period whose due time has passed (still open counts as late)"),
            compute=adapters.followup("callbacks_closed_on_time"), source="followup.metrics",
        ),
        MetricDef(
            code="time_to_first_attempt", title=N_("Time to first call attempt"), chart="i", unit=N_("hours"),
            direction=Direction.decrease,
            numerator=N_("Median hours from a callback opening to its first call attempt, for callbacks opened in "
                         "the period that had an attempt"),
            denominator=N_("None: one value per period"),
            compute=adapters.followup("time_to_first_attempt"), source="followup.metrics",
        ),
        MetricDef(
            code="callbacks_reached", title=N_("Patients reached on callbacks"), chart="p", unit=PERCENT,
            multiply=100, direction=Direction.increase,
            numerator=N_("Callbacks closed in the period with the patient reached"),
            denominator=N_("Callbacks closed in the period"),
            compute=adapters.followup("callbacks_reached"), source="followup.metrics",
        ),
        MetricDef(
            code="reading_adherence", title=N_("Reading adherence"), chart="p", unit=PERCENT, multiply=100,
            direction=Direction.increase, frequency=Frequency.week,
            numerator=N_("Active patients who sent at least one home reading in the period"),
            denominator=N_("Active patients in a programme (hypertension or diabetes) registered before the period "
                           "ended; patients since deactivated are left out of past periods too"),
            compute=reading_adherence, source="pdca.metrics.readings",
        ),
        MetricDef(
            code="bp_controlled", title=N_("Blood pressure controlled"), chart="p", unit=PERCENT, multiply=100,
            direction=Direction.increase,
            numerator=N_("Patients whose latest blood pressure in the last 3 months of the period was below 140/90"),
            denominator=N_("Active patients with hypertension registered before those 3 months and not lost to "
                           "follow-up (no reading or reached call in 12 months); no reading counts as not controlled"),
            compute=adapters.followup("bp_controlled"), source="followup.metrics",
        ),
        MetricDef(
            code="glucose_controlled", title=N_("Glucose controlled"), chart="p", unit=PERCENT, multiply=100,
            direction=Direction.increase,
            numerator=N_("Patients whose latest fasting glucose in the last 3 months of the period was below "
                         "7.0 mmol/L (126 mg/dL)"),
            denominator=N_("Active patients with diabetes registered before those 3 months and not lost to "
                           "follow-up; no reading counts as not controlled"),
            compute=adapters.followup("glucose_controlled"), source="followup.metrics",
        ),
        MetricDef(
            code="satisfaction_top_box", title=N_("Satisfaction (top box)"), chart="p", unit=PERCENT,
            multiply=100, direction=Direction.increase, options=(template,),
            numerator=N_("Scored answers in the most favourable category, in responses submitted in the period"),
            denominator=N_("Scored answers in responses submitted in the period (unadjusted)"),
            compute=adapters.surveys("top_box"), source="surveys.results",
        ),
        MetricDef(
            code="nps", title=N_("Net Promoter Score"), chart="i", unit=N_("NPS points"),
            direction=Direction.increase, options=(template,),
            numerator=N_("Per cent of 0–10 answers scoring 9–10 minus per cent scoring 0–6, in responses submitted "
                         "in the period"),
            denominator=N_("None: one value per period"),
            compute=adapters.surveys("nps"), source="surveys.results",
        ),
        MetricDef(
            code="complaint_rate", title=N_("Complaints per 1,000 patients"), chart="u", unit=N_("per 1,000 patients"),
            multiply=1000, direction=Direction.decrease, options=(category,), frequencies=MONTHLY,
            numerator=N_("Complaints received in the month (of the chosen category; concerns are not counted)"),
            denominator=N_("Active patients registered by the end of the month"),
            compute=adapters.feedback("complaint_rate"), source="feedback.metrics",
        ),
        MetricDef(
            code="complaints_resolved_on_time", title=N_("Complaints resolved on time"), chart="p", unit=PERCENT,
            multiply=100, direction=Direction.increase, options=(category,), frequencies=MONTHLY,
            numerator=N_("Items received in the month that were resolved by their deadline"),
            denominator=N_("Complaints and concerns received in the month that are resolved or past their deadline"),
            compute=adapters.feedback("resolved_on_time"), source="feedback.metrics",
        ),
    ]
    return {m.code: m for m in entries}


def get_metric(code: str) -> MetricDef | None:
    return catalogue().get(code)
