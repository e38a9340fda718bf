"""POST /api/v1/spc: run and control charts for any series (bearer token, staff roles).

Indexes are 0-based like the JSON arrays they point into: `parts: [30]` starts a second phase at the 31st
point (qicharts2's `part = 30`), `exclude: [5, 19]` is qicharts2's `exclude = c(6, 20)`.
"""

from __future__ import annotations

from typing import Literal

from litestar import Controller, post
from pydantic import BaseModel, ConfigDict, Field

from core.errors import FieldError, ValidationFailed
from core.i18n import N_
from core.security import STAFF_ROLES
from core.web import requires
from pdca.spc import ControlChart, Problem, ProblemCode, SpcInputError, control_chart

MAX_POINTS = 5000

# What each data problem means, as a msgid for the 422's field messages.
PROBLEM_MESSAGES = {
    ProblemCode.no_data: N_("Send at least one value."),
    ProblemCode.too_few_points: N_("Phase %(phase)s has too few usable points for a centre line and limits."),
    ProblemCode.non_finite_value: N_("Item %(index)s is not a finite number."),
    ProblemCode.negative_value: N_("Item %(index)s is negative; counts and standard deviations cannot be."),
    ProblemCode.non_positive_value: N_("Item %(index)s must be above zero (times between events)."),
    ProblemCode.zero_denominator: N_("Item %(index)s is zero or negative; a denominator must be above zero."),
    ProblemCode.count_above_denominator: N_("Item %(index)s is larger than its denominator."),
    ProblemCode.subgroup_too_small: N_("Item %(index)s is below 2; subgroups need two or more measurements."),
}
# Which request field an engine field name refers to.
FIELD_NAMES = {"chart_type": "chart", "phases": "parts", "excluded": "exclude"}


class SpcIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chart: str = Field(description="run, i, mr, t, c, p, u, pp or up (Laney p′/u′), xbar or s")
    values: list[float | None] = Field(max_length=MAX_POINTS, description=(
        "Measurements (run, i, mr, t), counts (c, p, u, pp, up), subgroup means (xbar) "
        "or subgroup standard deviations (s)"))
    denominators: list[float | None] | None = Field(default=None, max_length=MAX_POINTS, description=(
        "Sample sizes (p, pp), exposures (u, up) or subgroup sizes (xbar, s)"))
    sds: list[float | None] | None = Field(default=None, max_length=MAX_POINTS,
                                           description="Subgroup standard deviations (xbar only)")
    freeze: int | None = Field(default=None, description="The first k points form the baseline")
    parts: list[int] | None = Field(default=None, max_length=100,
                                    description="0-based indexes where a new phase starts")
    exclude: list[int] | None = Field(default=None, max_length=MAX_POINTS,
                                      description="0-based indexes left out of the limits and runs analysis")
    rules: Literal["anhoej", "mdc"] = "anhoej"
    multiply: float = Field(default=1.0, description="Scales values, centre and limits, e.g. 100 for per cent")
    screen_mr: bool = Field(default=True, description="Drop moving ranges ≥ 3.267·MR̄ before estimating sigma")


class PointOut(BaseModel):
    value: float | None
    cl: float | None
    lcl: float | None
    ucl: float | None
    signal: bool
    rules: list[str]


class PartOut(BaseModel):
    start: int
    stop: int
    n_useful: int | None
    longest_run: int | None
    longest_run_max: int | None
    crossings: int | None
    crossings_min: int | None
    runs_signal: bool


class SpcOut(BaseModel):
    chart: str
    rules: str
    points: list[PointOut]
    parts: list[PartOut]


def _problem_error(problem: Problem) -> FieldError:
    field = problem.field if problem.index is None else f"{problem.field}[{problem.index}]"
    params = {"index": problem.index, "phase": (problem.phase or 0) + 1}
    return FieldError(field, PROBLEM_MESSAGES[problem.code], params)


def compute(data: SpcIn) -> ControlChart:
    """The chart, or a 422 naming every field at fault (the engine's input errors and data problems)."""
    errors: list[FieldError] = []
    if not data.values:
        errors.append(FieldError("values", PROBLEM_MESSAGES[ProblemCode.no_data]))
    for name in ("denominators", "sds"):
        seq = getattr(data, name)
        if seq is not None and len(seq) != len(data.values):
            errors.append(FieldError(name, "Has %(got)s items but values has %(n)s.", {"got": len(seq),
                                                                                        "n": len(data.values)}))
    if errors:
        raise ValidationFailed("The series cannot be charted.", field_errors=errors)
    try:
        chart = control_chart(
            chart_type=data.chart, values=data.values, denominators=data.denominators, sds=data.sds,
            freeze=data.freeze, phases=data.parts, excluded=set(data.exclude or ()), rules=data.rules,
            multiply=data.multiply, screen_mr=data.screen_mr,
        )
    except SpcInputError as exc:
        raise ValidationFailed("The series cannot be charted.", field_errors=[
            FieldError(FIELD_NAMES.get(exc.field, exc.field), "%(detail)s", {"detail": exc.message})]) from exc
    if chart.problems:
        raise ValidationFailed("The series cannot be charted.",
                               field_errors=[_problem_error(p) for p in chart.problems])
    return chart


def to_output(chart: ControlChart) -> SpcOut:
    return SpcOut(
        chart=chart.chart_type.value, rules=chart.rules.name,
        points=[PointOut(value=p.value, cl=p.centre, lcl=p.lcl, ucl=p.ucl, signal=p.signal,
                         rules=[r.value for r in p.rules]) for p in chart.points],
        parts=[PartOut(
            start=ph.start, stop=ph.stop, n_useful=ph.runs.n_useful if ph.runs else None,
            longest_run=ph.runs.longest_run if ph.runs else None,
            longest_run_max=ph.runs.longest_run_max if ph.runs else None,
            crossings=ph.runs.n_crossings if ph.runs else None,
            crossings_min=ph.runs.n_crossings_min if ph.runs else None, runs_signal=ph.runs_signal,
        ) for ph in chart.phases],
    )


class SpcApiController(Controller):
    path = "/api/v1/spc"
    tags = ["spc"]

    @post("/", guards=[requires(*STAFF_ROLES)], sync_to_thread=True, status_code=200,
          summary="Compute a run or control chart (qicharts2-compatible limits, Anhøj or MDC rules)")
    def spc(self, data: SpcIn) -> SpcOut:
        return to_output(compute(data))
