"""Enumerations of the PDCA domain: measure roles and sources, periods, cycle stages, act decisions and the
IHI progress scale."""

from __future__ import annotations

from enum import StrEnum

from core.i18n import N_


class MeasureRole(StrEnum):
    """The family of measures (qi-methods.md §6.1): did it help, is the process working, what else moved."""

    outcome = "outcome"
    process = "process"
    balancing = "balancing"


class MeasureSource(StrEnum):
    catalogue = "catalogue"  # computed from the platform's own data, in SQL
    manual = "manual"  # a series the committee enters period by period


class Frequency(StrEnum):
    """How often a measure is computed or entered."""

    week = "week"
    month = "month"


class Direction(StrEnum):
    """Which way is better; it colours special causes as improvement or concern."""

    increase = "increase"
    decrease = "decrease"
    neutral = "neutral"


class CycleStage(StrEnum):
    plan = "plan"
    do = "do"
    check = "check"
    act = "act"
    done = "done"


STAGE_ORDER: tuple[CycleStage, ...] = tuple(CycleStage)


def next_stage(stage: CycleStage) -> CycleStage | None:
    i = STAGE_ORDER.index(stage)
    return STAGE_ORDER[i + 1] if i + 1 < len(STAGE_ORDER) else None


def previous_stage(stage: CycleStage) -> CycleStage | None:
    i = STAGE_ORDER.index(stage)
    return STAGE_ORDER[i - 1] if i > 0 else None


class ActDecision(StrEnum):
    adopt = "adopt"  # keep the change; scale it up or make it standard
    adapt = "adapt"  # change it and test again
    abandon = "abandon"  # stop; it did not work or is not worth it


class ProjectStatus(StrEnum):
    active = "active"
    completed = "completed"
    stopped = "stopped"


class SignalState(StrEnum):
    """What the Check stage read from the chart for the points after the change."""

    improvement = "improvement"
    concern = "concern"
    special_cause = "special_cause"  # a signal on a measure without a better direction
    no_signal = "no_signal"
    not_enough_data = "not_enough_data"


# IHI assessment scale as used by Life QI (qi-methods.md §6.4), in halves from 0.5 to 5.0.
PROGRESS_SCORES: tuple[tuple[str, str], ...] = (
    ("0.5", N_("Intent to participate")),
    ("1.0", N_("Charter and team established")),
    ("1.5", N_("Planning begun")),
    ("2.0", N_("Activity, but no changes")),
    ("2.5", N_("Changes tested, no improvement")),
    ("3.0", N_("Modest improvement")),
    ("3.5", N_("Improvement seen")),
    ("4.0", N_("Significant improvement")),
    ("4.5", N_("Sustainable improvement")),
    ("5.0", N_("Outstanding sustainable results")),
)
PROGRESS_LABELS: dict[float, str] = {float(k): v for k, v in PROGRESS_SCORES}


def progress_label(score: float | None) -> str:
    return PROGRESS_LABELS.get(float(score), "") if score is not None else ""


# Display names; templates show them as _(LABELS[value]).
LABELS: dict[str, str] = {
    "outcome": N_("Outcome"), "process": N_("Process"), "balancing": N_("Balancing"),
    "catalogue": N_("Platform measure"), "manual": N_("Entered by the committee"),
    "week": N_("Weekly"), "month": N_("Monthly"),
    "increase": N_("Higher is better"), "decrease": N_("Lower is better"), "neutral": N_("Neither"),
    "plan": N_("Plan"), "do": N_("Do"), "check": N_("Check"), "act": N_("Act"), "done": N_("Done"),
    "adopt": N_("Adopt"), "adapt": N_("Adapt"), "abandon": N_("Abandon"),
    "active": N_("Active"), "completed": N_("Completed"), "stopped": N_("Stopped"),
    "improvement": N_("Signal of improvement"), "concern": N_("Signal of concern"),
    "special_cause": N_("Special-cause signal"), "no_signal": N_("No signal yet"),
    "not_enough_data": N_("Not enough data"),
}

# Chart types a manual series may use (the catalogue fixes its own).
MANUAL_CHARTS: dict[str, str] = {
    "run": N_("Run chart (median)"),
    "i": N_("I chart (individual values)"),
    "p": N_("p chart (proportion: count of denominator)"),
    "u": N_("u chart (rate: count per unit of denominator)"),
    "c": N_("c chart (counts)"),
}
