"""Special-cause rule sets (Anhøj, NHS Making Data Count, IHI) and which point indexes each rule flags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, NamedTuple

from pdca.spc.run_chart import RunsAnalysis, SpcInputError, runs_count_limits, sides

Improvement = Literal["increase", "decrease", "neutral"]
# How a rule treats a point exactly on the centre line (shift) or a repeated value (trend):
# "skip" = neither counts nor breaks (IHI, Anhøj); "break" = ends the pattern (NHSRplotthedots).
OnCentre = Literal["skip", "break"]
Ties = Literal["skip", "break"]


class Rule(StrEnum):
    outside_limits = "outside_limits"  # a point beyond the 3-sigma limits (strictly)
    long_run = "long_run"  # Anhøj: a run longer than round(log2 n) + 3
    few_crossings = "few_crossings"  # Anhøj: fewer crossings than qbinom(0.05, n - 1, 0.5)
    shift = "shift"  # n or more points on one side of the centre line
    trend = "trend"  # n or more points each higher (lower) than the last
    two_of_three = "two_of_three"  # two of three consecutive points beyond 2 sigma, same side
    inner_third = "inner_third"  # n or more consecutive points within 1 sigma
    too_few_runs = "too_few_runs"  # IHI runs-count rule
    too_many_runs = "too_many_runs"


# These describe a whole phase rather than particular points; they flag every useful point of it.
PHASE_RULES = frozenset({Rule.few_crossings, Rule.too_few_runs, Rule.too_many_runs})


@dataclass(frozen=True)
class Signal:
    """One firing of one rule: the chart indexes it flags and its direction (+1 up, -1 down, 0 none)."""

    rule: Rule
    phase: int
    indexes: tuple[int, ...]
    direction: int


@dataclass(frozen=True, kw_only=True)
class RuleSet:
    """Which special-cause rules run and with what parameters; a clinic may tune any of them."""

    name: str
    outside_limits: bool = True
    anhoej: bool = False
    shift_length: int | None = None
    shift_on_centre: OnCentre = "skip"
    trend_length: int | None = None
    trend_ties: Ties = "skip"
    two_of_three: bool = False
    # MDC issue #194 (Nov 2023): count points beyond 3 sigma too; NHSRplotthedots still uses 2–3 sigma.
    two_of_three_beyond_3sigma: bool = True
    # MDC wants all three points on the same side of the mean; IHI/Western Electric only the two.
    two_of_three_all_same_side: bool = False
    inner_third_length: int | None = None
    runs_count: bool = False


ANHOEJ = RuleSet(name="anhoej", anhoej=True)
# NHSRplotthedots semantics (qi-methods.md §2.2): a point on the mean breaks a shift, a repeated value
# breaks a trend, 2-of-3 needs all three on one side.
NHS_MDC = RuleSet(
    name="nhs_mdc",
    shift_length=7,
    shift_on_centre="break",
    trend_length=7,
    trend_ties="break",
    two_of_three=True,
    two_of_three_all_same_side=True,
)
IHI_RUN = RuleSet(name="ihi", outside_limits=False, shift_length=6, trend_length=5, runs_count=True)
IHI_CONTROL = RuleSet(name="ihi", shift_length=8, trend_length=6, two_of_three=True, inner_third_length=15)


def resolve_rules(rules: RuleSet | str, *, run_chart: bool) -> RuleSet:
    """A RuleSet from a name ("anhoej", "nhs_mdc"/"mdc", "ihi"); IHI has run- and control-chart forms."""
    if isinstance(rules, RuleSet):
        return rules
    key = rules.strip().lower()
    if key == "anhoej":
        return ANHOEJ
    if key in ("nhs_mdc", "mdc"):
        return NHS_MDC
    if key == "ihi":
        return IHI_RUN if run_chart else IHI_CONTROL
    raise SpcInputError("rules", f"unknown rule set {rules!r}; use 'anhoej', 'nhs_mdc' or 'ihi'")


def limits_only(rules: RuleSet) -> RuleSet:
    """The rule set with every sequence rule off (moving-range charts get no runs analysis)."""
    return RuleSet(name=rules.name, outside_limits=rules.outside_limits)


class Bands(NamedTuple):
    """One point's limits: 3 sigma, 2 sigma and 1 sigma lines (any may be None)."""

    lcl: float | None
    ucl: float | None
    lcl_2sigma: float | None
    ucl_2sigma: float | None
    lcl_1sigma: float | None
    ucl_1sigma: float | None


NO_BANDS = Bands(None, None, None, None, None, None)


@dataclass(frozen=True)
class Stretch:
    """Positions (in the sequence a rule was given) that form one pattern, and its direction."""

    positions: tuple[int, ...]
    direction: int  # +1 above / increasing, -1 below / decreasing, 0 neither


def shift_stretches(*, sides: Sequence[int], min_length: int, on_centre: OnCentre) -> tuple[Stretch, ...]:
    """Maximal runs of at least `min_length` points on one side of the centre line."""
    positions = [i for i, s in enumerate(sides) if s != 0 or on_centre == "break"]
    return tuple(
        Stretch(tuple(positions[start:stop]), key)
        for start, stop, key in _blocks([sides[i] for i in positions])
        if key != 0 and stop - start >= min_length
    )


def trend_stretches(*, values: Sequence[float], min_length: int, ties: Ties) -> tuple[Stretch, ...]:
    """Maximal runs of at least `min_length` points each higher (or each lower) than the one before.

    With ties="skip" a repeated value counts once and does not break the trend (IHI); the repeats are
    still reported as part of the stretch.  With ties="break" a repeat ends it (NHSRplotthedots).
    """
    groups: list[list[int]] = []
    for i, v in enumerate(values):
        if ties == "skip" and groups and values[groups[-1][0]] == v:
            groups[-1].append(i)
        else:
            groups.append([i])
    heads = [values[g[0]] for g in groups]
    steps = [(b > a) - (b < a) for a, b in zip(heads, heads[1:], strict=False)]
    # k equal steps join k + 1 points (groups).
    return tuple(
        Stretch(tuple(i for g in groups[start : stop + 1] for i in g), key)
        for start, stop, key in _blocks(steps)
        if key != 0 and stop - start + 1 >= min_length
    )


def _blocks(keys: Sequence[int]) -> list[tuple[int, int, int]]:
    """(start, stop, key) of each maximal block of equal keys."""
    out: list[tuple[int, int, int]] = []
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            out.append((start, i, keys[start]))
            start = i
    return out


def two_of_three(*, beyond: Sequence[int], sides: Sequence[int], all_same_side: bool) -> tuple[Stretch, ...]:
    """Windows of three points in which two or more lie beyond 2 sigma on one side.

    `beyond[i]` is +1/-1 when point i lies beyond the upper/lower 2-sigma line, else 0.  Only the points
    beyond the line are flagged (NHSRplotthedots keeps the "close" points of the window).
    """
    flagged: dict[int, set[int]] = {1: set(), -1: set()}
    for start in range(len(beyond) - 2):
        window = range(start, start + 3)
        for side in (1, -1):
            hits = [i for i in window if beyond[i] == side]
            if len(hits) < 2:
                continue
            if all_same_side and any(sides[i] != side for i in window):
                continue
            flagged[side].update(hits)
    return tuple(Stretch(tuple(sorted(p)), side) for side, p in flagged.items() if p)


def inner_third(*, within: Sequence[bool], min_length: int) -> tuple[Stretch, ...]:
    """Maximal runs of at least `min_length` consecutive points inside the 1-sigma band."""
    keyed = [1 if w else 0 for w in within]
    return tuple(
        Stretch(s.positions, 0) for s in shift_stretches(sides=keyed, min_length=min_length, on_centre="break")
    )


def detect_signals(
    *,
    values: Sequence[float | None],
    included: Sequence[bool],
    phases: Sequence[int],
    centres: Mapping[int, float | None],
    bands: Sequence[Bands],
    runs: Mapping[int, RunsAnalysis | None],
    rules: RuleSet,
) -> tuple[Signal, ...]:
    """Apply `rules` phase by phase; `runs` holds each phase's runs analysis for the Anhøj and IHI
    runs-count rules (a phase without one gets neither).

    Sequence rules see only included points (excluded and missing points are skipped, so their
    neighbours join up, as in qicharts2's runs analysis); points beyond the limits are flagged even when
    excluded, because qicharts2's sigma signal is evaluated on every point.
    """
    found: list[Signal] = []
    for phase in sorted(set(phases)):
        members = [i for i, p in enumerate(phases) if p == phase and values[i] is not None]
        if rules.outside_limits:
            found.extend(_outside(members, values, bands, phase))
        seq = [i for i in members if included[i]]
        ys = [_value(values, i) for i in seq]
        centre = centres.get(phase)
        if centre is None or not ys:
            continue
        side = sides(ys, centre)
        found.extend(_anhoej_and_runs(seq, side, runs.get(phase), rules, phase))
        if rules.shift_length:
            for s in shift_stretches(sides=side, min_length=rules.shift_length, on_centre=rules.shift_on_centre):
                found.append(_signal(Rule.shift, phase, seq, s))
        if rules.trend_length:
            for s in trend_stretches(values=ys, min_length=rules.trend_length, ties=rules.trend_ties):
                found.append(_signal(Rule.trend, phase, seq, s))
        seq_bands = [bands[i] for i in seq]
        if rules.two_of_three:
            beyond = [
                _beyond_2sigma(y, b, rules.two_of_three_beyond_3sigma) for y, b in zip(ys, seq_bands, strict=True)
            ]
            for s in two_of_three(beyond=beyond, sides=side, all_same_side=rules.two_of_three_all_same_side):
                found.append(_signal(Rule.two_of_three, phase, seq, s))
        if rules.inner_third_length:
            within = [_within_1sigma(y, b) for y, b in zip(ys, seq_bands, strict=True)]
            for s in inner_third(within=within, min_length=rules.inner_third_length):
                found.append(_signal(Rule.inner_third, phase, seq, s))
    return tuple(found)


def _value(values: Sequence[float | None], i: int) -> float:
    v = values[i]
    assert v is not None  # callers pass only indexes of present values
    return v


def _outside(members: list[int], values: Sequence[float | None], bands: Sequence[Bands], phase: int) -> list[Signal]:
    out: list[Signal] = []
    for i in members:
        y, b = _value(values, i), bands[i]
        # Strict comparisons, as qicharts2: a point exactly on a limit is not a signal.
        if b.ucl is not None and y > b.ucl:
            out.append(Signal(Rule.outside_limits, phase, (i,), 1))
        elif b.lcl is not None and y < b.lcl:
            out.append(Signal(Rule.outside_limits, phase, (i,), -1))
    return out


def _anhoej_and_runs(
    seq: list[int], side: list[int], analysis: RunsAnalysis | None, rules: RuleSet, phase: int
) -> list[Signal]:
    if analysis is None or analysis.n_useful == 0:
        return []
    out: list[Signal] = []
    useful = tuple(seq[k] for k, s in enumerate(side) if s != 0)
    if rules.anhoej:
        if analysis.long_run and analysis.longest_run_max is not None:
            for s in shift_stretches(sides=side, min_length=analysis.longest_run_max + 1, on_centre="skip"):
                out.append(_signal(Rule.long_run, phase, seq, s))
        if analysis.few_crossings:
            out.append(Signal(Rule.few_crossings, phase, useful, 0))
    if rules.runs_count and analysis.n_crossings is not None:
        limits = runs_count_limits(analysis.n_useful)
        n_runs = analysis.n_crossings + 1
        if limits is not None and n_runs < limits[0]:
            out.append(Signal(Rule.too_few_runs, phase, useful, 0))
        elif limits is not None and n_runs > limits[1]:
            out.append(Signal(Rule.too_many_runs, phase, useful, 0))
    return out


def _signal(rule: Rule, phase: int, seq: list[int], stretch: Stretch) -> Signal:
    return Signal(rule, phase, tuple(seq[p] for p in stretch.positions), stretch.direction)


def _beyond_2sigma(y: float, b: Bands, include_beyond_3sigma: bool) -> int:
    if b.ucl_2sigma is not None and y > b.ucl_2sigma:
        return 1 if include_beyond_3sigma or b.ucl is None or y <= b.ucl else 0
    if b.lcl_2sigma is not None and y < b.lcl_2sigma:
        return -1 if include_beyond_3sigma or b.lcl is None or y >= b.lcl else 0
    return 0


def _within_1sigma(y: float, b: Bands) -> bool:
    # Strict, so a chart with zero spread (every limit on the centre line) never fires this rule.
    return b.lcl_1sigma is not None and b.ucl_1sigma is not None and b.lcl_1sigma < y < b.ucl_1sigma


class PointClass(StrEnum):
    """NHS MDC colouring of a point: grey, blue, orange or purple."""

    common_cause = "common_cause"
    improvement = "improvement"
    concern = "concern"
    neutral = "neutral"


def point_classes(
    *, signals: Sequence[Signal], n_points: int, improvement: Improvement = "neutral"
) -> tuple[PointClass, ...]:
    """Classify each point from the point-level signals flagging it.

    A point flagged both ways is shown as improvement (MDC guidance in NHSRplotthedots issue #194);
    a directionless point signal (inner third) is neutral.  Phase-level signals colour no point.
    """
    directions: list[set[int]] = [set() for _ in range(n_points)]
    for signal in signals:
        if signal.rule in PHASE_RULES:
            continue
        for i in signal.indexes:
            if 0 <= i < n_points:
                directions[i].add(signal.direction)
    wanted = {"increase": 1, "decrease": -1}.get(improvement, 0)
    out: list[PointClass] = []
    for dirs in directions:
        if not dirs:
            out.append(PointClass.common_cause)
        elif wanted == 0 or dirs == {0}:
            out.append(PointClass.neutral)
        elif wanted in dirs:
            out.append(PointClass.improvement)
        else:
            out.append(PointClass.concern)
    return tuple(out)
