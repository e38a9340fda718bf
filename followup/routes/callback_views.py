"""What the callback pages show: one card per callback (reason, readings, chart, calls, phone) and the
confirmation line after an action, in the reader's language and the clinic's time zone."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row
from sqlmodel import Session

from clinic.models import Patient
from core.db import utcnow
from core.i18n import N_
from core.security import Principal, mask_phone
from followup.callbacks import events_for, reason_in, recent_readings, staff_names, tripped_readings
from followup.callbacks.outcomes import LABELS
from followup.charts import TimeWindow
from followup.enums import ReadingKind
from followup.models import Callback, CallbackEvent, CallbackStatus, Reading
from followup.routes.readings.views import CONTEXT_LABELS, Words, chart, chart_texts

CHART_DAYS = 14
# A card's chart served as an image ends at the next step, so the same readings give the same bytes for a while
# and a rendered chart can be kept (CHART_CACHE charts per process, keyed by everything drawn).
CHART_STEP = timedelta(minutes=5)
CHART_CACHE = 256


# A stored reading, or a row of its columns read for display (followup.callbacks.queue.recent_readings).
ReadingOrRow = Reading | Row[Any]


@dataclass
class ReadingLine:
    reading: ReadingOrRow
    value: str
    when: str
    context: str


@dataclass
class HistoryLine:
    event: CallbackEvent
    actor: str
    summary: str


@dataclass
class CallbackCard:
    callback: Callback
    patient: Patient
    reason: str
    tripped: list[ReadingLine]
    recent: list[ReadingLine]
    chart_svg: str  # drawn into the page (a callback's own page)
    chart_alt: str  # the chart in words, when it is loaded as an image (the queue: /callbacks/<id>/chart.svg)
    attempts: list[HistoryLine]
    assignee: str
    phone: str  # full for the owner, masked for everyone else
    can_dial: bool
    overdue: bool
    waiting_until: datetime | None
    history: list[HistoryLine] = field(default_factory=list)


def build_cards(*, session: Session, rows: Sequence[tuple[Callback, Patient]], viewer: Principal, language: str,
                tz: ZoneInfo, with_history: bool = False, chart_images: bool = False,
                now: datetime | None = None) -> list[CallbackCard]:
    """Cards for a page of callbacks with a fixed number of queries, whatever the page size.

    `chart_images`: each card's chart is left to its own request (`card_chart`), and the card carries its words
    only; drawing twenty charts with matplotlib made the queue page some fifty times slower than its data."""
    now = now or utcnow()
    words = Words(language, tz)
    callbacks = [c for c, _ in rows]
    tripped = tripped_readings(session=session, callbacks=callbacks)
    since = now - timedelta(days=CHART_DAYS)
    recent = recent_readings(session=session, patient_ids={p.id for _, p in rows}, since=since)
    events = events_for(session=session, callback_ids=[c.id for c in callbacks],
                        kinds=None if with_history else ["attempt"])
    names = staff_names(session=session, ids=[c.assigned_to for c in callbacks]
                        + [e.actor_id for evs in events.values() for e in evs]
                        + [e.detail.get("to") for evs in events.values() for e in evs if e.kind == "assigned"])
    window = TimeWindow(since, now, tz, words.day)
    cards = []
    for callback, patient in rows:
        lines = [_line(tripped[i], words) for i in callback.reading_ids if i in tripped]
        kind, shown = _charted(callback, tripped, recent.get(patient.id, []))
        history = [HistoryLine(e, names.get(e.actor_id or 0, ""), summarise(e, words, names))
                   for e in events.get(callback.id, [])]
        owner = callback.assigned_to == viewer.user_id and callback.status == CallbackStatus.open
        cards.append(CallbackCard(
            callback=callback, patient=patient, reason=reason_in(callback, language), tripped=lines[-10:],
            recent=[_line(r, words) for r in shown[:8]],
            chart_svg="" if chart_images else _chart(kind, shown, words, window, str(patient.glucose_unit),
                                                     callback.id),
            chart_alt=_alt(kind, shown, words, str(patient.glucose_unit)) if chart_images else "",
            attempts=[h for h in history if h.event.kind == "attempt"],
            assignee=names.get(callback.assigned_to or 0, ""),
            phone=(patient.phone or "") if owner else mask_phone(patient.phone),
            can_dial=owner and bool(patient.phone),
            overdue=callback.status == CallbackStatus.open and callback.due_at < now,
            waiting_until=callback.next_attempt_at if callback.next_attempt_at and callback.next_attempt_at > now
            else None,
            history=history if with_history else [],
        ))
    return cards


def summarise(event: CallbackEvent, words: Words, names: dict[int, str]) -> str:
    """One line of history in words: what happened, with the detail that matters for the next caller."""
    d: dict[str, Any] = event.detail or {}

    def label(key: Any) -> str:
        return _label(words, key)

    match event.kind:
        case "attempt":
            parts = [label(d.get("outcome"))]
            if d.get("result"):
                parts.append(label(d["result"]))
            if d.get("remind_at"):
                when = words.when(datetime.fromisoformat(d["remind_at"]))
                parts.append(words(N_("call again on %(time)s"), time=when))
            text = " · ".join(parts)
        case "closed":
            text = f"{label(d.get('outcome'))} · {label(d.get('reason'))}"
        case "assigned":
            to = d.get("to")
            text = words(N_("to %(name)s"), name=names.get(to, "")) if to else words(N_("unassigned"))
            if d.get("reason"):
                text += f" ({label(d['reason'])})"
        case "escalated":
            text = label(d.get("reason"))
            if d.get("sms_message_id"):
                text += " · " + words(N_("SMS sent asking the patient to call"))
            elif d.get("sms_after"):
                text += " · " + words(N_("SMS asking the patient to call goes out at %(time)s"),
                                      time=words.when(datetime.fromisoformat(d["sms_after"])))
        case "hit_added" | "opened":  # the rule's reason was written in both languages (older events: English)
            text = str((words.language == "zh-CN" and d.get("reason_zh")) or d.get("reason", ""))
            if d.get("severity_raised_from"):
                text += " · " + words(N_("severity raised from %(tier)s"), tier=label(d["severity_raised_from"]))
        case "claimed":
            text = words(N_("took over from %(name)s"), name=names.get(d["previous"], "")) if d.get("previous") else ""
        case _:
            text = ""
    note = d.get("note")
    return f"{text} — {note}" if note and event.kind in ("attempt", "closed", "reopened") else text


def notice(*, done: str, callback: Callback, patient: Patient, words: Words, names: dict[int, str],
           last_attempt: CallbackEvent | None) -> str:
    """The confirmation shown after an action, from what the callback is now."""
    name = patient.name
    if done == "claimed":
        return words(N_("You own the callback for %(name)s now; the phone number is shown in full."), name=name)
    if done == "assigned":
        if callback.assigned_to:
            return words(N_("The callback for %(name)s is assigned to %(staff)s."), name=name,
                         staff=names.get(callback.assigned_to, ""))
        return words(N_("The callback for %(name)s is unassigned."), name=name)
    if done == "reopened":
        return words(N_("The callback for %(name)s is open again, due %(time)s."), name=name,
                     time=words.when(callback.due_at))
    if callback.status == CallbackStatus.closed:
        return words(N_("Saved. The callback for %(name)s is closed: %(reason)s."), name=name,
                     reason=_label(words, callback.close_reason))
    if done == "attempt" and last_attempt is not None:
        outcome = _label(words, last_attempt.detail.get("outcome"))
        if last_attempt.detail.get("result") == "remind_later" and callback.next_attempt_at:
            return words(N_("Saved. Call %(name)s again on %(time)s."), name=name,
                         time=words.when(callback.next_attempt_at))
        if callback.escalated_at is not None and callback.escalated_at >= last_attempt.at - timedelta(seconds=5):
            return words(N_("Saved: %(outcome)s. The callback for %(name)s is escalated to the supervisor and the "
                         "on-call doctor."), outcome=outcome, name=name)
        if callback.next_attempt_at:
            return words(N_("Saved: %(outcome)s. Try %(name)s again after %(time)s."), outcome=outcome, name=name,
                         time=words.when(callback.next_attempt_at))
    return words(N_("Saved."))


def _label(words: Words, key: Any) -> str:
    """A stored code (outcome, result, reason, tier) in words; an unknown code is shown as it is."""
    return words(LABELS[key]) if key in LABELS else str(key or "")


def _line(reading: ReadingOrRow, words: Words) -> ReadingLine:
    return ReadingLine(reading=reading, value=words.value(reading), when=words.when(reading.taken_at),
                       context=words(CONTEXT_LABELS[reading.context]) if reading.context else "")


def _chart(kind: ReadingKind | None, readings: Sequence[ReadingOrRow], words: Words, window: TimeWindow,
           glucose_unit: str, callback_id: int) -> str:
    if kind is None or not readings:
        return ""
    # Several cards share a page: every id inside each SVG (title, description, markers) must stay unique.
    return chart(kind, readings, words=words, window=window, glucose_unit=glucose_unit, compact=True,
                 id_prefix=f"cb{callback_id}-{kind.value}-small")


def card_chart(*, session: Session, callback: Callback, patient: Patient, language: str, tz: ZoneInfo,
               now: datetime | None = None) -> str:
    """The chart of a queue card as a standalone SVG document ("" when there is nothing to draw): the same readings
    the card shows, over the 14 days up to the next CHART_STEP. Kept per process, keyed by everything drawn, so a
    doctor going back to the queue after each call does not wait for matplotlib again."""
    now = now or utcnow()
    end = datetime.fromtimestamp(-(-now.timestamp() // CHART_STEP.total_seconds()) * CHART_STEP.total_seconds(), UTC)
    start = end - timedelta(days=CHART_DAYS)
    tripped = tripped_readings(session=session, callbacks=[callback])
    recent = recent_readings(session=session, patient_ids={patient.id}, since=start).get(patient.id, [])
    kind, shown = _charted(callback, tripped, recent)
    if kind is None or not shown:
        return ""
    unit = str(patient.glucose_unit)
    key = (patient.id, kind, unit, language, tz.key, start, tuple(
        (r.id, r.taken_at, r.systolic, r.diastolic, r.value_original, r.unit_original, r.value_canonical, r.context,
         r.meter_flag) for r in shown))
    with _charts_lock:
        svg = _charts.get(key)
        if svg is not None:
            _charts.move_to_end(key)
            return svg
    words = Words(language, tz)
    svg = chart(kind, shown, words=words, window=TimeWindow(start, end, tz, words.day), glucose_unit=unit,
                compact=True, id_prefix=f"p{patient.id}-{kind.value}-small")
    with _charts_lock:
        _charts[key] = svg
        while len(_charts) > CHART_CACHE:
            _charts.popitem(last=False)
    return svg


_charts: OrderedDict[tuple[Any, ...], str] = OrderedDict()
_charts_lock = threading.Lock()


def _charted(callback: Callback, tripped: Mapping[int, ReadingOrRow], recent: Sequence[ReadingOrRow]
             ) -> tuple[ReadingKind | None, list[ReadingOrRow]]:
    """What a card charts: the kind of the readings that opened the callback (else of the latest reading), and
    the patient's recent readings of that kind."""
    kinds = [tripped[i].kind for i in callback.reading_ids if i in tripped] or [r.kind for r in recent[:1]]
    kind = kinds[0] if kinds else None
    return kind, [r for r in recent if r.kind == kind]


def _alt(kind: ReadingKind | None, readings: Sequence[ReadingOrRow], words: Words, glucose_unit: str) -> str:
    if kind is None or not readings:
        return ""
    texts = chart_texts(kind, readings, words=words, glucose_unit=glucose_unit)
    return texts.description
