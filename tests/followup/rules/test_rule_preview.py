"""Preview: replaying a rule over past readings shows one hit per patient and episode."""

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from followup.enums import GlucoseContext, ReadingKind, RuleOutcome
from followup.rules import PreviewHit, ReadingFact, RuleDefinition, default_rules, preview

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2024, 5, 1, 0, 0, tzinfo=SHANGHAI)
END = START + timedelta(days=30)


def rule(code: str) -> RuleDefinition:
    return next(r for r in default_rules("cn") if r.code == code)


def glucose(reading_id: int, day: int, value: str, hour: int = 7) -> ReadingFact:
    return ReadingFact(
        id=reading_id,
        kind=ReadingKind.glucose,
        taken_at=START + timedelta(days=day, hours=hour),
        value=Decimal(value),
        unit="mmol/L",
        context=GlucoseContext.fasting,
    )


def daily(first_id: int, first_day: int, values: list[str]) -> list[ReadingFact]:
    return [glucose(first_id + i, first_day + i, v) for i, v in enumerate(values)]


def run(code: str, readings_by_patient: dict[int, list[ReadingFact]]) -> list[PreviewHit]:
    return preview(
        rule(code),
        readings_by_patient=readings_by_patient,
        tz_by_patient={p: SHANGHAI for p in readings_by_patient},
        start=START,
        end=END,
    )


def test_five_high_days_in_a_row_are_one_episode() -> None:
    hits = run("DES-GLU-3D", {7: daily(1, 2, ["11.0", "11.5", "12.0", "11.0", "10.5"])})
    assert len(hits) == 1
    hit = hits[0]
    assert (hit.patient_id, hit.rule_code, hit.hits) == (7, "DES-GLU-3D", 3)
    assert hit.started_at == glucose(0, 4, "0").taken_at
    assert hit.last_hit_at == glucose(0, 6, "0").taken_at
    assert hit.reading_ids == (1, 2, 3, 4, 5)
    assert hit.reason.en == "Fasting glucose above 10.0 mmol/L on 3 consecutive days (11.0, 11.5, 12.0)"


def test_two_runs_separated_by_a_normal_day_are_two_episodes() -> None:
    readings = daily(1, 2, ["11.0", "11.5", "12.0", "8.0", "11.0", "11.2", "11.4"])
    assert len(run("DES-GLU-3D", {7: readings})) == 2


def test_each_patient_gets_their_own_episodes() -> None:
    hits = run(
        "DES-GLU-3D",
        {
            9: daily(1, 2, ["11.0", "11.5", "12.0"]),
            3: daily(11, 10, ["11.0", "11.5", "12.0"]),
            5: daily(21, 2, ["7.0", "7.5", "6.0"]),
        },
    )
    assert [h.patient_id for h in hits] == [3, 9]


def test_readings_before_start_are_history_not_hits() -> None:
    hits = run(
        "DES-GLU-3D",
        {
            1: daily(1, -2, ["11.0", "11.5", "12.0"]),  # the run completes on the first day of the preview
            2: daily(11, -5, ["11.0", "11.5", "12.0"]),  # the run completed before the preview
        },
    )
    assert [(h.patient_id, h.reading_ids) for h in hits] == [(1, (1, 2, 3))]


def test_readings_after_end_are_left_out() -> None:
    assert run("CN-DM-01a", {1: [glucose(1, 30, "20.0")]}) == []


def test_high_readings_while_the_callback_is_still_open_are_one_episode() -> None:
    first = glucose(1, 3, "18.0")
    second = replace(glucose(2, 3, "19.0"), taken_at=first.taken_at + timedelta(minutes=40))
    hits = run("CN-DM-01a", {1: [first, second]})
    assert [(h.hits, h.reading_ids) for h in hits] == [(2, (1, 2))]


def test_high_readings_on_different_days_are_separate_episodes() -> None:
    hits = run("CN-DM-01a", {1: [glucose(1, 3, "18.0"), glucose(2, 4, "19.0")]})
    assert [h.reading_ids for h in hits] == [(1,), (2,)]


def test_recheck_prompts_are_not_previewed_as_callbacks() -> None:
    hr = ReadingFact(
        id=1, kind=ReadingKind.heart_rate, taken_at=START + timedelta(days=1), value=Decimal(120), unit="/min"
    )
    assert run("CN-DM-05", {1: [hr]}) == []


def test_missing_data_preview_shows_one_episode_per_gap_at_its_furthest_step() -> None:
    hits = run("DES-MISS-01", {1: [glucose(1, 2, "6.0")], 2: [glucose(2, 20, "6.0")]})
    assert len(hits) == 2
    first, second = hits
    assert (first.patient_id, first.outcome) == (1, RuleOutcome.callback)
    assert first.started_at == START + timedelta(days=10)  # the first midnight 7 days after the reading
    assert (second.patient_id, second.outcome) == (2, RuleOutcome.reminder)


def test_symptom_rules_have_nothing_to_preview_from_readings() -> None:
    assert run("CN-SYM-01", {1: [glucose(1, 2, "20.0")]}) == []
