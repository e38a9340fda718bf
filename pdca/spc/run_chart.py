"""Series preparation and run-chart statistics shared by every chart: input checks, phases, freeze,
exclusions, median and mean, Anhøj runs analysis and the IHI runs-count limits.

Everything here needs only the points in order and a centre line.  The `run_chart()` builder lives in
`control_chart.py` beside `control_chart()`, which it calls with chart type "run".
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class ChartType(StrEnum):
    run = "run"
    i = "i"
    mr = "mr"
    t = "t"
    c = "c"
    p = "p"
    pp = "pp"  # Laney p′: p limits widened by the spread of the z-scores (over-dispersion)
    u = "u"
    up = "up"  # Laney u′
    xbar = "xbar"
    s = "s"


class SpcInputError(ValueError):
    """The call is malformed (mismatched lengths, unknown chart type, bad index); names the field.

    Data problems (a zero denominator, a negative count) are not errors: charts report them.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ProblemCode(StrEnum):
    no_data = "no_data"
    too_few_points = "too_few_points"  # a phase has too few usable points for a centre line or limits
    non_finite_value = "non_finite_value"
    negative_value = "negative_value"  # a count (c, p, u) or standard deviation below zero
    non_positive_value = "non_positive_value"  # a t-chart time between events ≤ 0
    zero_denominator = "zero_denominator"  # denominator (sample size, exposure) ≤ 0
    count_above_denominator = "count_above_denominator"
    subgroup_too_small = "subgroup_too_small"  # xbar/s need subgroups of 2 or more


@dataclass(frozen=True)
class Problem:
    """Something in the data to tell the user about; the point concerned is drawn as a gap."""

    code: ProblemCode
    field: str
    index: int | None = None
    phase: int | None = None


def chart_type_of(chart_type: ChartType | str) -> ChartType:
    """The chart type named by `chart_type` (case-insensitive)."""
    try:
        return ChartType(str(chart_type).strip().lower())
    except ValueError:
        allowed = ", ".join(t.value for t in ChartType)
        raise SpcInputError("chart_type", f"unknown chart type {chart_type!r}; use one of {allowed}") from None


def check_series(
    kind: ChartType,
    *,
    n: int,
    denominators: Sequence[float | None] | None,
    sds: Sequence[float | None] | None,
    multiply: float,
) -> None:
    """Raise SpcInputError unless the parallel inputs a chart of this kind needs are present and aligned."""
    for field, seq in (("denominators", denominators), ("sds", sds)):
        if seq is not None and len(seq) != n:
            raise SpcInputError(field, f"has {len(seq)} items but values has {n}")
    if kind is ChartType.c and denominators is not None:
        raise SpcInputError("denominators", "a c chart plots plain counts; use a u chart for rates")
    if kind in (ChartType.p, ChartType.pp, ChartType.u, ChartType.up, ChartType.xbar, ChartType.s) \
            and denominators is None:
        what = "subgroup sizes" if kind in (ChartType.xbar, ChartType.s) else "denominators"
        raise SpcInputError("denominators", f"a {kind.value} chart needs {what}")
    if kind is ChartType.xbar and sds is None:
        raise SpcInputError("sds", "an xbar chart needs the subgroup standard deviations")
    if not (math.isfinite(multiply) and multiply > 0):
        raise SpcInputError("multiply", "must be a positive number")


@dataclass(frozen=True)
class Layout:
    """Where each point sits: its phase, whether it is in the baseline, which points are excluded."""

    phase_of: tuple[int, ...]
    baseline: tuple[bool, ...]
    excluded: frozenset[int]
    dates: tuple[date, ...] | None
    labels: tuple[str, ...] | None


def layout(
    *,
    n: int,
    dates: Sequence[date] | None = None,
    phases: Sequence[int | date] | None = None,
    phase_labels: Sequence[str] | None = None,
    freeze: int | date | None = None,
    excluded: Collection[int] = (),
) -> Layout:
    """Check and resolve the phase, freeze and exclusion arguments for a series of n points.

    A phase start is an index (qicharts2's `part`) or a date (the first point on or after it); phase k
    starts at phases[k - 1].  `freeze` is a number of points or a date (points on or before it).
    """
    if dates is not None and len(dates) != n:
        raise SpcInputError("dates", f"has {len(dates)} items but values has {n}")
    day = tuple(_day(d) for d in dates) if dates is not None else None
    starts: list[int] = []
    for k, p in enumerate(phases or ()):
        if isinstance(p, date):
            if day is None:
                raise SpcInputError("phases", "date phases need dates")
            starts.append(next((i for i, d in enumerate(day) if d >= _day(p)), n))
        elif isinstance(p, int) and not isinstance(p, bool):
            starts.append(p)
        else:
            raise SpcInputError("phases", f"item {k} is neither an index nor a date")
    if any(b < a for a, b in zip(starts, starts[1:], strict=False)):
        raise SpcInputError("phases", "phase starts must be in order")
    if phase_labels is not None and len(phase_labels) != len(starts) + 1:
        raise SpcInputError("phase_labels", f"needs {len(starts) + 1} labels, one per phase")
    for i in excluded:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n:
            raise SpcInputError("excluded", f"{i!r} is not the index of a point (0 to {n - 1})")
    return Layout(
        phase_of=tuple(sum(1 for s in starts if s <= i) for i in range(n)),
        baseline=_baseline(n, freeze, day),
        excluded=frozenset(excluded),
        dates=day,
        labels=tuple(phase_labels) if phase_labels is not None else None,
    )


def _day(d: date) -> date:
    # datetime is a date subclass but does not compare with one; charts work in whole days.
    return d.date() if isinstance(d, datetime) else d


def _baseline(n: int, freeze: int | date | None, day: tuple[date, ...] | None) -> tuple[bool, ...]:
    if freeze is None:
        return (True,) * n
    if isinstance(freeze, date):
        if day is None:
            raise SpcInputError("freeze", "a freeze date needs dates")
        return tuple(d <= _day(freeze) for d in day)
    if isinstance(freeze, bool) or not isinstance(freeze, int) or freeze < 1:
        raise SpcInputError("freeze", "must be a number of points (1 or more) or a date")
    return tuple(i < freeze for i in range(n))


def plotted_values(
    kind: ChartType,
    values: Sequence[float | None],
    denominators: Sequence[float | None] | None,
    sds: Sequence[float | None] | None,
) -> tuple[list[float | None], list[Problem]]:
    """The plotted value of each point; unusable points become gaps and are reported."""
    ys: list[float | None] = []
    problems: list[Problem] = []
    for i, raw in enumerate(values):
        size = denominators[i] if denominators is not None else None
        sd = sds[i] if sds is not None else None
        got = _point_value(kind, raw, size, sd, has_sizes=denominators is not None)
        if isinstance(got, tuple):
            problems.append(Problem(got[0], got[1], i))
            got = None
        ys.append(got)
    return ys, problems


def _point_value(
    kind: ChartType, raw: float | None, size: float | None, sd: float | None, *, has_sizes: bool
) -> float | tuple[ProblemCode, str] | None:
    """A point's plotted value, None for a gap, or the problem (and field) that makes it unusable."""
    subgroups = kind in (ChartType.xbar, ChartType.s)
    if raw is None or (has_sizes and size is None) or (kind is ChartType.xbar and sd is None):
        return None
    if not math.isfinite(raw):
        return ProblemCode.non_finite_value, "values"
    if kind in (ChartType.c, ChartType.p, ChartType.pp, ChartType.u, ChartType.up, ChartType.s) and raw < 0:
        return ProblemCode.negative_value, "values"
    if kind is ChartType.t and raw <= 0:
        return ProblemCode.non_positive_value, "values"
    if size is None:
        return float(raw)
    if not math.isfinite(size):
        return ProblemCode.non_finite_value, "denominators"
    if subgroups and size < 2:
        return ProblemCode.subgroup_too_small, "denominators"
    if size <= 0:
        return ProblemCode.zero_denominator, "denominators"
    if kind in (ChartType.p, ChartType.pp) and raw > size:
        return ProblemCode.count_above_denominator, "values"
    if kind is ChartType.xbar and sd is not None and not (math.isfinite(sd) and sd >= 0):
        return (ProblemCode.negative_value if sd < 0 else ProblemCode.non_finite_value), "sds"
    if subgroups:
        return float(raw)
    y = raw / size
    return y if math.isfinite(y) else (ProblemCode.non_finite_value, "values")


def moving_ranges(ys: Sequence[float | None], phase_of: Sequence[int]) -> list[float | None]:
    """|y_i − y_(i−1)| within each phase; None where either value is missing."""
    # A range spanning a phase boundary mixes two processes, so each phase starts without one.
    out: list[float | None] = [None] * len(ys)
    for i in range(1, len(ys)):
        a, b = ys[i - 1], ys[i]
        if a is not None and b is not None and phase_of[i] == phase_of[i - 1]:
            out[i] = abs(b - a) if math.isfinite(b - a) else None
    return out


def median(values: Iterable[float]) -> float | None:
    """Median of the values, or None when there are none."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    mid = n // 2
    # Halve before adding so two huge values cannot overflow to infinity.
    return ordered[mid] if n % 2 else ordered[mid - 1] / 2 + ordered[mid] / 2


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean of a non-empty sequence."""
    # Averaging deviations from the first value keeps equal values exactly equal to their mean, so
    # they sit on the centre line; dividing first is the fallback when huge values overflow the sum.
    n, ref = len(values), values[0]
    total = sum(v - ref for v in values)
    return ref + total / n if math.isfinite(total) else sum(v / n for v in values)


def longest_run_max(n_useful: int) -> int | None:
    """Anhøj's upper limit for the longest run: round(log2(n)) + 3 (Schilling 2012)."""
    if n_useful < 1:
        return None
    # Python's round() is half-to-even like R's; log2 of an integer is never exactly x.5 anyway.
    return round(math.log2(n_useful)) + 3


def crossings_min(n_useful: int) -> int | None:
    """Anhøj's lower limit for crossings: qbinom(0.05, n - 1, 0.5), the smallest k with CDF ≥ 0.05."""
    if n_useful < 1:
        return None
    trials = n_useful - 1
    # Exact integers: CDF(k) ≥ 1/20  ⇔  20·Σ C(trials, i) ≥ 2^trials.  Floats would lose the tail of
    # long series, and 0.05 is not dyadic, so the comparison is never an exact tie.
    term, cumulative, total = 1, 0, 2**trials
    for k in range(trials + 1):
        cumulative += term
        if 20 * cumulative >= total:
            return k
        term = term * (trials - k) // (k + 1)
    return trials


@dataclass(frozen=True)
class RunsAnalysis:
    """Anhøj runs analysis of one phase: points on the centre line neither count nor break a run."""

    n_obs: int
    n_useful: int
    longest_run: int | None
    longest_run_max: int | None
    n_crossings: int | None
    n_crossings_min: int | None

    @property
    def long_run(self) -> bool:
        return _above(self.longest_run, self.longest_run_max)

    @property
    def few_crossings(self) -> bool:
        return _above(self.n_crossings_min, self.n_crossings)

    @property
    def signal(self) -> bool:
        return self.long_run or self.few_crossings


def _above(a: int | None, b: int | None) -> bool:
    return a is not None and b is not None and a > b


def sides(values: Sequence[float], centre: float | None) -> list[int]:
    """+1 above, -1 below, 0 on the centre line (or when there is no centre line)."""
    if centre is None:
        return [0] * len(values)
    return [(v > centre) - (v < centre) for v in values]


def runs_analysis(*, values: Sequence[float], centre: float | None) -> RunsAnalysis:
    """Longest run and number of crossings of `values` (the included points, in order) around `centre`."""
    useful = [s for s in sides(values, centre) if s != 0]
    if not useful:
        return RunsAnalysis(len(values), 0, None, None, None, None)
    lengths = [1]
    for previous, current in zip(useful, useful[1:], strict=False):
        if current == previous:
            lengths[-1] += 1
        else:
            lengths.append(1)
    return RunsAnalysis(
        n_obs=len(values),
        n_useful=len(useful),
        longest_run=max(lengths),
        longest_run_max=longest_run_max(len(useful)),
        n_crossings=len(lengths) - 1,
        n_crossings_min=crossings_min(len(useful)),
    )


def runs_count_limits(n_useful: int) -> tuple[int, int] | None:
    """IHI "too few / too many runs" range for n useful points, from the exact runs distribution.

    Uses n1 = ⌊n/2⌋ points on one side and n2 = ⌈n/2⌉ on the other (the table is indexed by n only) and
    2.5 % per tail: the lower limit is the smallest r with P(R ≤ r) > 0.025, the upper the largest r
    with P(R ≥ r) > 0.025.  This reproduces qi-methods.md §3 (10 → 3–9, 15 → 5–12, 20 → 7–15,
    24 → 8–18, 30 → 11–21); the Perla table itself is marked unverified there.
    """
    if n_useful < 2:
        return None
    n1, n2 = n_useful // 2, n_useful - n_useful // 2
    runs = range(2, n_useful + 1)
    weights = [_runs_weight(n1, n2, r) for r in runs]
    total = math.comb(n_useful, n1)
    return _first_past_tail(runs, weights, total), _first_past_tail(runs[::-1], weights[::-1], total)


def _first_past_tail(runs: Sequence[int], weights: Sequence[int], total: int) -> int:
    running = 0
    for r, w in zip(runs, weights, strict=True):
        running += w
        if 40 * running > total:  # P > 1/40, in integers
            return r
    return runs[-1]


def _runs_weight(n1: int, n2: int, runs: int) -> int:
    """Number of arrangements of n1 and n2 symbols with exactly `runs` runs (Swed–Eisenhart)."""
    k = runs // 2
    if runs % 2 == 0:
        return 2 * _comb(n1 - 1, k - 1) * _comb(n2 - 1, k - 1)
    return _comb(n1 - 1, k) * _comb(n2 - 1, k - 1) + _comb(n1 - 1, k - 1) * _comb(n2 - 1, k)


def _comb(n: int, k: int) -> int:
    return math.comb(n, k) if 0 <= k <= n else 0
