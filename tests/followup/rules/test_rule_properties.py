"""Properties over arbitrary valid readings: evaluation never raises and never fires without a new reading."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from followup.enums import GlucoseContext, MeterFlag, ReadingKind
from followup.rules import ReadingFact, default_rules, evaluate, preview

RULES = {r.code: r for profile in ("cn", "us") for r in default_rules(profile)}  # type: ignore[arg-type]
ZONES = st.sampled_from(
    [ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York"), ZoneInfo("UTC"), ZoneInfo("Pacific/Chatham")]
)
START = datetime(2024, 3, 8, tzinfo=UTC)  # a week that crosses New York's change to summer time
# Readings bunch into a few days at habitual times and near thresholds, as a patient's do, so that the
# windowed rules fire often enough for the properties to mean something; uniform values keep the rest honest.
TIMES = st.builds(
    lambda day, minute: START + timedelta(days=day, minutes=minute),
    st.integers(0, 5),
    st.sampled_from([0, 10, 7 * 60, 7 * 60 + 40, 12 * 60, 23 * 60 + 50]) | st.integers(0, 24 * 60 - 1),
)
CONTEXTS = st.sampled_from([GlucoseContext.fasting] * 4 + [None, *GlucoseContext])
MMOL = st.sampled_from(["2.9", "3.0", "3.9", "7.0", "10.0", "10.1", "14.0", "16.7"]).map(Decimal) | st.integers(
    10, 350
).map(lambda tenths: Decimal(tenths) / 10)
MGDL = st.sampled_from([53, 54, 70, 126, 180, 181, 260, 300]).map(Decimal) | st.integers(18, 630).map(Decimal)
PULSE = st.sampled_from([100, 101, 120]) | st.integers(20, 250)


@st.composite
def readings(draw: st.DrawFn, reading_id: int) -> ReadingFact:
    """One reading inside the hard plausibility bounds of clinical-rules.md §2.4."""
    kind = draw(st.sampled_from(ReadingKind))
    taken_at = draw(TIMES)
    if kind is ReadingKind.blood_pressure:
        diastolic = draw(st.sampled_from([84, 85, 110, 120]) | st.integers(20, 199))
        systolic = draw(
            st.sampled_from([135, 180]).filter(lambda s: s > diastolic) | st.integers(max(50, diastolic + 1), 300)
        )
        return ReadingFact(
            id=reading_id, kind=kind, taken_at=taken_at, unit="mmHg", systolic=systolic, diastolic=diastolic
        )
    if kind is ReadingKind.glucose:
        context = draw(CONTEXTS)
        flag = draw(st.sampled_from([None] * 8 + list(MeterFlag)))
        if flag is not None:
            return ReadingFact(id=reading_id, kind=kind, taken_at=taken_at, context=context, meter_flag=flag)
        unit = draw(st.sampled_from(["mmol/L", "mg/dL"]))
        value = draw(MMOL if unit == "mmol/L" else MGDL)
        return ReadingFact(id=reading_id, kind=kind, taken_at=taken_at, value=value, unit=unit, context=context)
    if kind is ReadingKind.heart_rate:
        return ReadingFact(id=reading_id, kind=kind, taken_at=taken_at, value=Decimal(draw(PULSE)), unit="/min")
    return ReadingFact(
        id=reading_id, kind=kind, taken_at=taken_at, value=Decimal(draw(st.integers(200, 3000))) / 10, unit="kg"
    )


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[ReadingFact], list[ReadingFact], datetime]:
    """Readings of every kind (each example is evaluated by every default rule), some of them new."""
    count = draw(st.integers(0, 30))
    window = [draw(readings(i + 1)) for i in range(count)]
    new = [r for r in window if draw(st.booleans())]
    latest = max((r.taken_at for r in window), default=START)
    now = latest + draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=36)))
    return window, new, now


History = tuple[list[ReadingFact], list[ReadingFact], datetime]


@settings(max_examples=200, deadline=None)
@given(history=histories(), tz=ZONES)
def test_a_hit_always_includes_a_new_reading(history: History, tz: ZoneInfo) -> None:
    window, new, now = history
    for rule in RULES.values():
        hit = evaluate(rule, new_readings=new, window=window, tz=tz, now=now)
        if hit is not None:
            assert {r.id for r in new} & set(hit.reading_ids)
            assert set(hit.reading_ids) <= {r.id for r in window}
            assert hit.reason.en and hit.reason.zh_cn and "{" not in hit.reason.en + hit.reason.zh_cn


@settings(max_examples=100, deadline=None)
@given(history=histories(), tz=ZONES)
def test_without_new_readings_nothing_fires(history: History, tz: ZoneInfo) -> None:
    window, _, now = history
    for rule in RULES.values():
        assert evaluate(rule, new_readings=[], window=window, tz=tz, now=now) is None


@settings(max_examples=100, deadline=None)
@given(history=histories(), tz=ZONES)
def test_the_order_of_the_window_does_not_matter(history: History, tz: ZoneInfo) -> None:
    window, new, now = history
    for rule in RULES.values():
        forward = evaluate(rule, new_readings=new, window=window, tz=tz, now=now)
        assert evaluate(rule, new_readings=new[::-1], window=window[::-1], tz=tz, now=now) == forward


@settings(max_examples=50, deadline=None)
@given(history=histories(), tz=ZONES)
def test_preview_never_raises_and_opens_each_episode_at_a_distinct_time(history: History, tz: ZoneInfo) -> None:
    window, _, now = history
    for rule in RULES.values():
        hits = preview(
            rule, readings_by_patient={1: window}, tz_by_patient={1: tz}, start=START, end=now + timedelta(seconds=1)
        )
        assert len({h.started_at for h in hits}) == len(hits)
