"""Enumerations of the RCA domain: where an analysis stands, its SAC triage, the 6M fishbone categories,
team roles and the RCA² action hierarchy (qi-methods.md §4), with their display names."""

from __future__ import annotations

from enum import StrEnum

from core.i18n import N_


class RcaStatus(StrEnum):
    open = "open"  # opened; the 72-hour start timer runs
    in_progress = "in_progress"  # the team has started; the finish timer runs
    completed = "completed"  # analysis and action plan finished; actions are being carried out
    closed = "closed"  # every action done or cancelled
    excluded = "excluded"  # a blameworthy event, routed to HR or just-culture review instead of RCA²


ACTIVE_STATUSES = frozenset({RcaStatus.open, RcaStatus.in_progress})


class Transition(StrEnum):
    start = "start"
    complete = "complete"
    close = "close"
    exclude = "exclude"
    reopen = "reopen"


TRANSITIONS: dict[Transition, tuple[frozenset[RcaStatus], RcaStatus]] = {
    Transition.start: (frozenset({RcaStatus.open}), RcaStatus.in_progress),
    Transition.complete: (frozenset({RcaStatus.in_progress}), RcaStatus.completed),
    Transition.close: (frozenset({RcaStatus.completed}), RcaStatus.closed),
    Transition.exclude: (frozenset({RcaStatus.open, RcaStatus.in_progress}), RcaStatus.excluded),
    Transition.reopen: (frozenset({RcaStatus.completed, RcaStatus.closed, RcaStatus.excluded}),
                        RcaStatus.in_progress),
}


def allowed_transitions(status: RcaStatus) -> list[Transition]:
    return [t for t, (sources, _) in TRANSITIONS.items() if status in sources]


class RcaSource(StrEnum):
    suggestion = "suggestion"  # a cluster of complaints/concerns found by the feedback domain
    callback = "callback"  # a callback, typically one that breached its deadline
    feedback = "feedback"  # one complaint, typically one that breached its SLA
    manual = "manual"


class SacSeverity(StrEnum):
    """VA severity of the actual outcome, or of the worst credible outcome for a close call."""

    catastrophic = "catastrophic"
    major = "major"
    moderate = "moderate"
    minor = "minor"


class SacProbability(StrEnum):
    frequent = "frequent"  # several times a year
    occasional = "occasional"  # several times in 1–2 years
    uncommon = "uncommon"  # sometime in 2–5 years
    remote = "remote"  # sometime in 5–30 years


# VA Safety Assessment Code matrix (qi-methods.md §4.1). The reference marks the cells as the commonly used
# matrix, not verified against the VA page; kept in one place so a verified version replaces it in one edit.
SAC_MATRIX: dict[SacProbability, dict[SacSeverity, int]] = {
    SacProbability.frequent: {SacSeverity.catastrophic: 3, SacSeverity.major: 3, SacSeverity.moderate: 2,
                              SacSeverity.minor: 1},
    SacProbability.occasional: {SacSeverity.catastrophic: 3, SacSeverity.major: 2, SacSeverity.moderate: 1,
                                SacSeverity.minor: 1},
    SacProbability.uncommon: {SacSeverity.catastrophic: 3, SacSeverity.major: 2, SacSeverity.moderate: 1,
                              SacSeverity.minor: 1},
    SacProbability.remote: {SacSeverity.catastrophic: 3, SacSeverity.major: 2, SacSeverity.moderate: 1,
                            SacSeverity.minor: 1},
}


def sac_score(severity: SacSeverity | str | None, probability: SacProbability | str | None) -> int | None:
    """SAC 3 (highest priority), 2 or 1; None until both parts of the triage are known."""
    if not severity or not probability:
        return None
    return SAC_MATRIX[SacProbability(probability)][SacSeverity(severity)]


class FishboneCategory(StrEnum):
    """The 6M bones, 人机料法环测, in the order they are drawn."""

    people = "people"  # 人
    machines = "machines"  # 机
    materials = "materials"  # 料
    methods = "methods"  # 法
    environment = "environment"  # 环
    measurement = "measurement"  # 测


class RcaTeamRole(StrEnum):
    facilitator = "facilitator"  # leads the analysis; versed in RCA² (the reference's "leader")
    subject_expert = "subject_expert"
    front_line = "front_line"  # works in the area, not involved in the event
    member = "member"


class ActionStrength(StrEnum):
    """RCA² action hierarchy: stronger actions change the system and do not rely on memory or vigilance."""

    stronger = "stronger"
    intermediate = "intermediate"
    weaker = "weaker"


class RcaActionStatus(StrEnum):
    planned = "planned"
    in_progress = "in_progress"
    done = "done"
    cancelled = "cancelled"


OPEN_ACTION_STATUSES = frozenset({RcaActionStatus.planned, RcaActionStatus.in_progress})


class CausalDirection(StrEnum):
    """Causal statement verb: the cause increased or decreased the likelihood of the effect."""

    increased = "increased"
    decreased = "decreased"


class RcaLinkKind(StrEnum):
    feedback_item = "feedback_item"
    callback = "callback"


# Example actions shown beside the strength choice (qi-methods.md §4.2, VA NCPS hierarchy).
STRENGTH_EXAMPLES: dict[ActionStrength, tuple[str, ...]] = {
    ActionStrength.stronger: (
        N_("Architectural or physical changes to the workplace"),
        N_("New devices, tested for usability before purchase"),
        N_("Forcing functions and interlocks that make the error impossible"),
        N_("Simplify the process and remove unnecessary steps"),
        N_("Standardise equipment, process or care maps"),
        N_("Tangible involvement and action by leadership in support of safety"),
    ),
    ActionStrength.intermediate: (
        N_("Redundancy"),
        N_("More staff or less workload"),
        N_("Software changes (reminders, defaults, checks in the system)"),
        N_("Remove or reduce distractions"),
        N_("Checklists and cognitive aids"),
        N_("Remove look-alikes and sound-alikes"),
        N_("Read-back and standardised communication (SBAR)"),
        N_("Better documentation and communication"),
    ),
    ActionStrength.weaker: (
        N_("Double checks"),
        N_("Warnings and labels"),
        N_("A new procedure, memo or policy"),
        N_("Training"),
        N_("More study or analysis"),
    ),
}

# The five rules of causation (VA NCPS, adapted by RCA²) that every causal statement is checked against.
CAUSATION_RULES: tuple[str, ...] = (
    N_("It clearly shows cause and effect."),
    N_("It uses specific, accurate words, not negative or vague ones such as “poorly” or “inadequate”."),
    N_("Every human error it names has a preceding cause."),
    N_("A procedure violation is not the root cause; its preceding cause is named."),
    N_("A failure to act is named as a cause only where there was a duty to act."),
)

# Display names; templates show them as _(LABELS[value]).
LABELS: dict[str, str] = {
    "open": N_("Awaiting start"), "in_progress": N_("Analysis in progress"),
    "completed": N_("Action plan in place"), "closed": N_("Closed"), "excluded": N_("Routed elsewhere"),
    "start": N_("Start the analysis"), "complete": N_("Mark analysis and action plan complete"),
    "close": N_("Close the analysis"), "exclude": N_("Route to HR or just-culture review"),
    "reopen": N_("Reopen the analysis"),
    "suggestion": N_("Common-problem suggestion"), "callback": N_("Callback"), "feedback": N_("Complaint or concern"),
    "manual": N_("Opened by hand"),
    "catastrophic": N_("Catastrophic"), "major": N_("Major"), "moderate": N_("Moderate"), "minor": N_("Minor"),
    "frequent": N_("Frequent (several times a year)"), "occasional": N_("Occasional (several times in 1–2 years)"),
    "uncommon": N_("Uncommon (sometime in 2–5 years)"), "remote": N_("Remote (sometime in 5–30 years)"),
    "people": N_("People"), "machines": N_("Machines and equipment"),
    "materials": N_("Materials and medication"), "methods": N_("Methods and process"),
    "environment": N_("Work environment"), "measurement": N_("Measurement"),
    "facilitator": N_("Facilitator"), "subject_expert": N_("Subject-matter expert"),
    "front_line": N_("Front-line staff"), "member": N_("Team member"),
    "stronger": N_("Stronger"), "intermediate": N_("Intermediate"), "weaker": N_("Weaker"),
    "planned": N_("Planned"), "done": N_("Done"), "cancelled": N_("Cancelled"),
    "increased": N_("increased"), "decreased": N_("decreased"),
    "feedback_item": N_("Complaint or concern"),
}
# "in_progress" is shared by the analysis and its actions; actions show it as "In progress".
ACTION_STATUS_LABELS: dict[str, str] = {
    "planned": N_("Planned"), "in_progress": N_("In progress"), "done": N_("Done"), "cancelled": N_("Cancelled"),
}

# The one-character 6M names Chinese teams know the categories by (人机料法环测), shown on the diagram.
CATEGORY_CHARS: dict[FishboneCategory, str] = {
    FishboneCategory.people: "人", FishboneCategory.machines: "机", FishboneCategory.materials: "料",
    FishboneCategory.methods: "法", FishboneCategory.environment: "环", FishboneCategory.measurement: "测",
}
