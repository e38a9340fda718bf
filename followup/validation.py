"""Validation and unit inference of parsed SMS readings (clinical-rules.md §6.4): accept, ask or reject."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from followup.enums import (
    GlucoseContext,
    GlucoseQualifier,
    Intent,
    MeterFlag,
    QuestionKind,
    ReadingKind,
    VerdictStatus,
)
from followup.grammar import ParsedMessage, ParsedReading
from followup.units import (
    CANONICAL_UNIT,
    DEFAULT_BOUNDS,
    GLUCOSE_UNITS,
    Plausibility,
    PlausibilityBounds,
    Unit,
    canonical_value,
    check_plausibility,
    ucum_code,
)

_WT = ReadingKind.weight
# The values of clinic.enums.Programme, spelt out: that module imports core.i18n, and this layer stays pure.
HYPERTENSION = "hypertension"
DIABETES = "diabetes"

# A bare 餐后 has no number of hours; it is judged like any non-fasting value (target <10.0 either way).
_CONTEXT = {
    GlucoseQualifier.fasting: GlucoseContext.fasting,
    GlucoseQualifier.premeal: GlucoseContext.before_meal,
    GlucoseQualifier.pp1h: GlucoseContext.after_meal_1h,
    GlucoseQualifier.pp2h: GlucoseContext.after_meal_2h,
    GlucoseQualifier.postprandial: GlucoseContext.random,
    GlucoseQualifier.bedtime: GlucoseContext.bedtime,
    GlucoseQualifier.random: GlucoseContext.random,
}


@dataclass(frozen=True)
class ResolvedReading:
    """A reading whose kind and unit are known: what is stored and what the rules engine reads."""

    kind: ReadingKind
    values: tuple[Decimal, ...]  # as sent, in `unit`; (systolic, diastolic) for BP; () for a meter flag
    unit: Unit
    canonical: tuple[Decimal, ...]  # glucose mmol/L (1 dp), BP mmHg, HR /min, weight kg (1 dp)
    context: GlucoseContext | None = None  # glucose only; no timing word means random (non-fasting)
    qualifier: GlucoseQualifier | None = None  # the timing word as written, for the echo
    flag: MeterFlag | None = None
    group: int = 0

    @property
    def canonical_unit(self) -> Unit:
        return CANONICAL_UNIT[self.kind]

    @property
    def ucum(self) -> str | None:
        return ucum_code(self.unit)


@dataclass(frozen=True)
class Question:
    """What to ask before recording. Every plausible meaning is in `candidates` so the caller can run the
    urgent rules on each now (VAL-GLU-UNIT: "if either reading is urgent → U1 + question")."""

    kind: QuestionKind
    sent: tuple[Decimal, ...]  # the numbers as the patient sent them
    candidates: tuple[ResolvedReading, ...] = ()
    proposed: ResolvedReading | None = None  # what "OK/确认" records; None: the patient must resend


@dataclass(frozen=True)
class ReadingVerdict:
    reading: ParsedReading
    status: VerdictStatus
    resolved: ResolvedReading | None = None  # set when accepted
    question: Question | None = None  # set when status is confirm
    reason: str | None = None  # rejected: the failed check; accepted: a soft bound, so ask for a re-check

    @property
    def recheck(self) -> bool:
        return self.status is VerdictStatus.accepted and self.reason is not None


@dataclass(frozen=True)
class Interpretation:
    """The message as understood for one patient. `intent` is the parse's intent, except that bare numbers
    enrolment cannot resolve ("7" from a patient in both programmes) leave the message unparsed."""

    intent: Intent
    verdicts: tuple[ReadingVerdict, ...] = ()
    symptoms: tuple[str, ...] = ()

    @property
    def accepted(self) -> tuple[ResolvedReading, ...]:
        return tuple(v.resolved for v in self.verdicts if v.resolved is not None)

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(v.question for v in self.verdicts if v.question is not None)

    @property
    def rejected(self) -> tuple[ReadingVerdict, ...]:
        return tuple(v for v in self.verdicts if v.status is VerdictStatus.rejected)


def interpret(
    parsed: ParsedMessage,
    *,
    glucose_unit: str,
    programmes: Iterable[str],
    bounds: PlausibilityBounds = DEFAULT_BOUNDS,
) -> Interpretation:
    """Judge every reading of `parsed` for a patient whose meter shows `glucose_unit` ("mmol/L" or
    "mg/dL") and who is enrolled in `programmes` ("hypertension", "diabetes")."""
    preferred = Unit(str(glucose_unit))
    if preferred not in GLUCOSE_UNITS:
        raise ValueError(f"glucose_unit must be mmol/L or mg/dL, not {glucose_unit!r}")
    enrolled = frozenset(str(p) for p in programmes)
    judge = _Judge(preferred, enrolled, bounds)
    verdicts = tuple(v for r in parsed.readings for v in judge.reading(r))
    intent = parsed.intent
    if verdicts and all(_unresolved(v) for v in verdicts):
        intent = Intent.unparsed
    return Interpretation(intent, verdicts, parsed.symptoms)


@dataclass(frozen=True)
class _Judge:
    preferred: Unit
    enrolled: frozenset[str]
    bounds: PlausibilityBounds

    def reading(self, r: ParsedReading) -> list[ReadingVerdict]:
        if r.kind is None:
            return self._bare(r)
        if r.kind is ReadingKind.glucose:
            return [self._glucose(r)]
        if r.kind is ReadingKind.blood_pressure:
            return [self._bp(r)]
        if r.kind is ReadingKind.heart_rate:
            return [self._heart_rate(r)]
        return [self._weight(r)]

    def _bare(self, r: ParsedReading) -> list[ReadingVerdict]:
        # §6.4: a decimal or a glucose unit is glucose; two or three integers are BP for a patient in the
        # hypertension programme; a lone integer is glucose only when diabetes is the sole programme.
        glucose_only = self.enrolled == {DIABETES}
        if len(r.values) == 1 and (r.has_decimal_point or r.unit in GLUCOSE_UNITS or glucose_only):
            return [self._glucose(_as(r, ReadingKind.glucose))]
        if len(r.values) in (2, 3) and HYPERTENSION in self.enrolled:
            bp = [self._bp(_as(r, ReadingKind.blood_pressure, r.values[:2], Unit.mmhg))]
            if len(r.values) == 3:
                bp.append(self._heart_rate(_as(r, ReadingKind.heart_rate, r.values[2:], Unit.per_min)))
            return bp
        candidates: tuple[ResolvedReading, ...] = ()
        if len(r.values) == 1 and DIABETES in self.enrolled:
            # "2" might be a dangerous glucose: let the caller run the urgent rules on it while asking.
            candidates = self._glucose_meanings(_as(r, ReadingKind.glucose))
        question = Question(QuestionKind.bare_ambiguous, r.values, candidates)
        return [ReadingVerdict(r, VerdictStatus.confirm, question=question)]

    def _glucose(self, r: ParsedReading) -> ReadingVerdict:
        if r.flag is not None:
            unit = r.unit or self.preferred
            resolved = _resolve(r, unit=unit, values=(), canonical=())
            return ReadingVerdict(r, VerdictStatus.accepted, resolved)
        if len(r.values) != 1:
            return ReadingVerdict(r, VerdictStatus.rejected, reason="value_count")
        explicit = r.unit if r.unit in GLUCOSE_UNITS else Unit.mmol_l if r.has_decimal_point else None
        if explicit is not None:
            resolved = self._glucose_in(r, explicit)
            if resolved is None:
                return ReadingVerdict(r, VerdictStatus.rejected, reason="glucose_range")
            return ReadingVerdict(r, VerdictStatus.accepted, resolved)
        primary = self._glucose_in(r, self.preferred)
        other = self._glucose_in(r, _other(self.preferred))
        (value,) = r.values
        suspicious = (
            value >= self.bounds.glucose_mgdl_suspect_min
            if self.preferred is Unit.mmol_l
            else value < self.bounds.glucose_mmol_suspect_max
        )
        if primary is not None and (not suspicious or other is None):
            return ReadingVerdict(r, VerdictStatus.accepted, primary)
        if other is None:
            return ReadingVerdict(r, VerdictStatus.rejected, reason="glucose_range")
        candidates = (other,) if primary is None else (other, primary)
        question = Question(QuestionKind.glucose_unit, r.values, candidates, proposed=other)
        return ReadingVerdict(r, VerdictStatus.confirm, question=question)

    def _glucose_meanings(self, r: ParsedReading) -> tuple[ResolvedReading, ...]:
        verdict = self._glucose(r)
        if verdict.resolved is not None:
            return (verdict.resolved,)
        return verdict.question.candidates if verdict.question is not None else ()

    def _glucose_in(self, r: ParsedReading, unit: Unit) -> ResolvedReading | None:
        verdict = check_plausibility(kind=ReadingKind.glucose, values=r.values, unit=unit, bounds=self.bounds)
        if verdict.level is Plausibility.reject:
            return None
        canonical = (canonical_value(kind=ReadingKind.glucose, value=r.values[0], unit=unit),)
        return _resolve(r, unit=unit, values=r.values, canonical=canonical)

    def _bp(self, r: ParsedReading) -> ReadingVerdict:
        if len(r.values) != 2:
            return ReadingVerdict(r, VerdictStatus.rejected, reason="value_count")
        if r.has_decimal_point:
            return ReadingVerdict(r, VerdictStatus.rejected, reason="not_integer")
        sbp, dbp = r.values
        if dbp > sbp:
            # Never swap silently (§6.4): ask "did you mean 150/95?" if the swapped pair is plausible.
            swapped = check_plausibility(
                kind=ReadingKind.blood_pressure, values=(dbp, sbp), unit=Unit.mmhg, bounds=self.bounds
            )
            if swapped.level is not Plausibility.reject:
                proposed = _resolve(r, unit=Unit.mmhg, values=(dbp, sbp), canonical=(dbp, sbp))
                question = Question(QuestionKind.bp_order, r.values, (proposed,), proposed)
                return ReadingVerdict(r, VerdictStatus.confirm, question=question)
        return self._plain(r, ReadingKind.blood_pressure, Unit.mmhg)

    def _heart_rate(self, r: ParsedReading) -> ReadingVerdict:
        if r.has_decimal_point:
            return ReadingVerdict(r, VerdictStatus.rejected, reason="not_integer")
        return self._plain(r, ReadingKind.heart_rate, Unit.per_min)

    def _weight(self, r: ParsedReading) -> ReadingVerdict:
        if r.unit is not None:
            return self._plain(r, ReadingKind.weight, r.unit)
        # 斤 vs kg vs lb cannot be guessed: 130 is a plausible weight in all three (§2.4).
        candidates = tuple(
            _resolve(r, unit=u, values=r.values, canonical=(canonical_value(kind=_WT, value=r.values[0], unit=u),))
            for u in (Unit.kg, Unit.jin, Unit.lb)
            if len(r.values) == 1
            and check_plausibility(kind=_WT, values=r.values, unit=u, bounds=self.bounds).level
            is not Plausibility.reject
        )
        if not candidates:
            return ReadingVerdict(r, VerdictStatus.rejected, reason="weight_range")
        question = Question(QuestionKind.weight_unit, r.values, candidates)
        return ReadingVerdict(r, VerdictStatus.confirm, question=question)

    def _plain(self, r: ParsedReading, kind: ReadingKind, unit: Unit) -> ReadingVerdict:
        verdict = check_plausibility(kind=kind, values=r.values, unit=unit, bounds=self.bounds)
        if verdict.level is Plausibility.reject:
            return ReadingVerdict(r, VerdictStatus.rejected, reason=verdict.reason)
        if kind is ReadingKind.blood_pressure:
            canonical = r.values
        else:
            canonical = (canonical_value(kind=kind, value=r.values[0], unit=unit),)
        resolved = _resolve(r, kind=kind, unit=unit, values=r.values, canonical=canonical)
        soft = verdict.reason if verdict.level is Plausibility.confirm else None
        return ReadingVerdict(r, VerdictStatus.accepted, resolved, reason=soft)


def _unresolved(verdict: ReadingVerdict) -> bool:
    return verdict.question is not None and verdict.question.kind is QuestionKind.bare_ambiguous


def _other(unit: Unit) -> Unit:
    return Unit.mg_dl if unit is Unit.mmol_l else Unit.mmol_l


def _as(
    r: ParsedReading, kind: ReadingKind, values: tuple[Decimal, ...] | None = None, unit: Unit | None = None
) -> ParsedReading:
    """The bare reading `r` read as `kind` (optionally only some of its numbers)."""
    return replace(r, kind=kind, values=r.values if values is None else values, unit=unit or r.unit)


def _resolve(
    r: ParsedReading,
    *,
    unit: Unit,
    values: tuple[Decimal, ...],
    canonical: tuple[Decimal, ...],
    kind: ReadingKind | None = None,
) -> ResolvedReading:
    kind = kind or r.kind or ReadingKind.glucose
    glucose = kind is ReadingKind.glucose
    return ResolvedReading(
        kind=kind,
        values=values,
        unit=unit,
        canonical=canonical,
        context=(_CONTEXT[r.qualifier] if r.qualifier else GlucoseContext.random) if glucose else None,
        qualifier=r.qualifier if glucose else None,
        flag=r.flag if glucose else None,
        group=r.group,
    )
