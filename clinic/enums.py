"""Enumerations of the clinic domain."""

from enum import StrEnum

from core.i18n import N_


class RuleProfile(StrEnum):
    """Which national rule set a clinic starts from (clinical-rules.md §3)."""

    cn = "cn"
    us = "us"


class Programme(StrEnum):
    hypertension = "hypertension"
    diabetes = "diabetes"


# Display names for templates, which show a programme as _(programme.value | capitalize).
PROGRAMME_LABELS = (N_("Hypertension"), N_("Diabetes"))


class GlucoseUnit(StrEnum):
    mmol_l = "mmol/L"
    mg_dl = "mg/dL"


class ConsentKind(StrEnum):
    sms_consent = "sms_consent"
    sms_withdrawn = "sms_withdrawn"
    opt_out = "opt_out"
    opt_in = "opt_in"
