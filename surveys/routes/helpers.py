"""Small helpers shared by the survey pages: field messages, the results filter, the template editor form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request

from core.errors import DomainError
from core.i18n import N_
from core.security import Role
from core.web import principal_of, tr
from surveys.questions import QuestionDef
from surveys.results import GRANULARITIES, ResultsQuery


def field_messages(request: Request[Any, Any, Any], exc: DomainError) -> dict[str, str]:
    return {e.field: tr(request, e.message, **e.params) for e in exc.field_errors}


def one(value: Any) -> str:
    """A form or query value as one string (a repeated field keeps its first value)."""
    if isinstance(value, list):
        value = value[0] if value else ""
    return "" if value is None else str(value)


@dataclass(frozen=True)
class ResultsFilter:
    query: ResultsQuery
    errors: dict[str, str]  # field → English msgid (pages translate, the API reports them as field errors)

    @property
    def querystring(self) -> str:
        q = self.query
        doctor = f"&doctor={q.doctor_id}" if q.doctor_id is not None else ""
        return f"template={q.template_code}&from={q.date_from}&to={q.date_to}&granularity={q.granularity}{doctor}"


def scope_doctor(request: Request[Any, Any, Any], params: dict[str, Any]) -> int | None:
    """Doctors see their own patients' answers only; the committee may narrow to one doctor."""
    principal = principal_of(request)
    if principal.role == Role.doctor:
        return principal.user_id
    raw = one(params.get("doctor"))
    return int(raw) if raw.isdigit() else None


def months_back(today: date, months: int) -> date:
    index = today.year * 12 + today.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def results_filter(*, clinic_id: int, timezone: str, codes: list[str],
                   params: dict[str, Any], doctor_id: int | None) -> ResultsFilter:
    """Read template, from, to, granularity (and doctor) from the query; wrong values fall back to the
    defaults (the last six months, monthly) and say so next to the field."""
    today = datetime.now(ZoneInfo(timezone)).date()
    errors: dict[str, str] = {}

    def day(name: str, default: date) -> date:
        raw = one(params.get(name)).strip()
        if not raw:
            return default
        try:
            return date.fromisoformat(raw)
        except ValueError:
            errors[name] = N_("Enter a date as YYYY-MM-DD.")
            return default

    date_from, date_to = day("from", months_back(today, 5)), day("to", today)
    if date_to < date_from:
        errors["to"] = N_("The end date must not be before the start date.")
        date_from, date_to = date_to, date_from
    if (date_to - date_from).days > 3 * 366:
        errors["from"] = N_("Choose a period of at most three years.")
        date_from = months_back(date_to, 35)
    code = one(params.get("template")) or (codes[0] if codes else "")
    if code not in codes:
        errors["template"] = N_("Choose one of the clinic's surveys.")
        code = codes[0] if codes else ""
    granularity = one(params.get("granularity")) or "month"
    if granularity not in GRANULARITIES:
        granularity = "month"
    return ResultsFilter(ResultsQuery(clinic_id=clinic_id, template_code=code, date_from=date_from,
                                      date_to=date_to, granularity=granularity, doctor_id=doctor_id), errors)


# --- the template editor -------------------------------------------------------------------------------


def _flag(form: dict[str, Any], name: str) -> bool:
    return one(form.get(name)) in ("on", "true", "1")


def _options(raw: str) -> list[dict[str, str]] | str:
    """"value | 中文 | English" per line; a malformed line makes the whole field invalid (returned as is)."""
    options = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 3:
            return raw
        options.append({"value": parts[0], "zh": parts[1], "en": parts[2]})
    return options


def _question_from_form(form: dict[str, Any], suffix: str, base: dict[str, Any]) -> dict[str, Any]:
    question = dict(base)
    question.update({
        "zh": one(form.get(f"zh_{suffix}")).strip(), "en": one(form.get(f"en_{suffix}")).strip(),
        "dimension": one(form.get(f"dimension_{suffix}")), "required": _flag(form, f"required_{suffix}"),
        "allow_na": _flag(form, f"allow_na_{suffix}"), "_field": suffix,
    })
    if question.get("type") == "yes_no":
        question["favourable"] = one(form.get(f"favourable_{suffix}")) or "yes"
    if question.get("type") == "choice":
        question["options"] = _options(one(form.get(f"options_{suffix}")))
    return question


def questions_from_form(form: dict[str, Any], current: list[QuestionDef]) -> list[dict[str, Any]]:
    """The edited question list: existing questions (type and scale fixed, texts and settings editable,
    removable, re-orderable), plus at most one new question."""
    by_key = {q.key: q for q in current}
    ordered: list[tuple[float, int, dict[str, Any]]] = []
    for i in range(len(current) + 20):
        key = one(form.get(f"key_{i}"))
        if not key or key not in by_key or _flag(form, f"remove_{i}"):
            continue
        q = by_key[key]
        base = {"key": q.key, "type": q.type.value, "scale": q.scale.value if q.scale else None}
        try:
            order = float(one(form.get(f"order_{i}")) or i + 1)
        except ValueError:
            order = i + 1
        ordered.append((order, i, _question_from_form(form, str(i), base)))
    new_key = one(form.get("key_new")).strip()
    if new_key or one(form.get("zh_new")).strip() or one(form.get("en_new")).strip():
        kind = one(form.get("type_new"))
        base = {"key": new_key, "type": kind, "scale": one(form.get("scale_new")) or None if kind == "likert" else None}
        ordered.append((float("inf"), 10_000, _question_from_form(form, "new", base)))
    ordered.sort(key=lambda item: (item[0], item[1]))
    return [q for _, _, q in ordered]
