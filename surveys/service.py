"""Survey settings and questionnaire templates: the clinic's knobs, default templates seeded on first use,
and new template versions (a version is never edited once saved)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from core.db import utcnow
from core.errors import FieldErrors, NotFound
from core.i18n import N_
from surveys.defaults import DEFAULT_TEMPLATES
from surveys.models import SurveySettings, SurveyTemplate
from surveys.questions import QuestionDef


class SurveyTemplateNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Survey not found.")


# --- settings ------------------------------------------------------------------------------------------

# (field, lowest, highest, message) — bounds a clinic may choose; the defaults live on the model.
SETTING_BOUNDS: tuple[tuple[str, int, int, str], ...] = (
    ("delay_hours", 0, 24 * 14, N_("Enter a number of hours from 0 to 336.")),
    ("min_days_between", 0, 365, N_("Enter a number of days from 0 to 365.")),
    ("sample_percent", 0, 100, N_("Enter a percentage from 0 to 100.")),
    ("sample_day", 1, 28, N_("Enter a day of the month from 1 to 28.")),
    ("token_days", 1, 60, N_("Enter a number of days from 1 to 60.")),
    ("reminder_after_days", 1, 30, N_("Enter a number of days from 1 to 30.")),
    ("window_start_hour", 0, 23, N_("Enter an hour from 0 to 23.")),
    ("window_end_hour", 1, 24, N_("Enter an hour from 1 to 24.")),
)


def get_settings(*, session: Session, clinic_id: int) -> SurveySettings:
    """The clinic's settings row, created with the reference defaults on first use."""
    found = session.scalar(select(SurveySettings).where(SurveySettings.clinic_id == clinic_id))
    if found is not None:
        return found
    created = SurveySettings(clinic_id=clinic_id)
    try:
        with session.begin_nested():
            session.add(created)
            session.flush()
    except IntegrityError:  # another request created it first
        found = session.scalar(select(SurveySettings).where(SurveySettings.clinic_id == clinic_id))
        assert found is not None
        return found
    return created


def update_settings(*, session: Session, clinic_id: int, values: Mapping[str, Any],
                    staff_id: int | None) -> SurveySettings:
    """Validate every field (all problems reported at once), then save."""
    settings = get_settings(session=session, clinic_id=clinic_id)
    errors = FieldErrors()
    parsed: dict[str, Any] = {}
    for name, low, high, message in SETTING_BOUNDS:
        raw = str(values.get(name, "")).strip()
        if not raw.isdigit() or not low <= int(raw) <= high:
            errors.add(name, message)
        else:
            parsed[name] = int(raw)
    if "window_start_hour" in parsed and "window_end_hour" in parsed \
            and parsed["window_end_hour"] - parsed["window_start_hour"] < 2:
        errors.add("window_end_hour", "The sending window must be at least 2 hours long.")
    if "reminder_after_days" in parsed and "token_days" in parsed \
            and parsed["reminder_after_days"] >= parsed["token_days"]:
        errors.add("reminder_after_days", "The reminder must go out before the link expires.")
    codes = set(template_codes(session=session, clinic_id=clinic_id))
    for name in ("callback_template", "sample_template"):
        code = str(values.get(name, "")).strip()
        if code not in codes:
            errors.add(name, "Choose one of the clinic's surveys.")
        else:
            parsed[name] = code
    errors.raise_if_any()
    for name, value in parsed.items():
        setattr(settings, name, value)
    settings.after_callback = str(values.get("after_callback", "")) in ("on", "true", "1")
    settings.updated_by = staff_id
    settings.updated_at = utcnow()
    session.flush()
    return settings


# --- templates -----------------------------------------------------------------------------------------


def ensure_default_templates(*, session: Session, clinic_id: int) -> None:
    """Seed the post-callback and the periodic service survey for a clinic that has none of them yet."""
    existing = set(session.scalars(select(SurveyTemplate.code).where(SurveyTemplate.clinic_id == clinic_id)))
    for spec in DEFAULT_TEMPLATES:
        if spec["code"] in existing:
            continue
        template = SurveyTemplate(
            clinic_id=clinic_id, code=spec["code"], version=1, title_zh=spec["title_zh"], title_en=spec["title_en"],
            intro_zh=spec["intro_zh"], intro_en=spec["intro_en"],
            questions=[QuestionDef.model_validate(q).model_dump(mode="json") for q in spec["questions"]],
        )
        try:
            with session.begin_nested():
                session.add(template)
                session.flush()
        except IntegrityError:
            pass  # seeded concurrently by another request


def template_codes(*, session: Session, clinic_id: int) -> list[str]:
    ensure_default_templates(session=session, clinic_id=clinic_id)
    return list(session.scalars(select(SurveyTemplate.code).where(SurveyTemplate.clinic_id == clinic_id)
                                .distinct().order_by(SurveyTemplate.code)))


def current_template(*, session: Session, clinic_id: int, code: str) -> SurveyTemplate:
    """The newest version of a clinic's template; another clinic's code is a 404 like a missing one."""
    ensure_default_templates(session=session, clinic_id=clinic_id)
    found = session.scalar(select(SurveyTemplate).where(SurveyTemplate.clinic_id == clinic_id,
                                                        SurveyTemplate.code == code)
                           .order_by(SurveyTemplate.version.desc()).limit(1))
    if found is None:
        raise SurveyTemplateNotFound()
    return found


def current_templates(*, session: Session, clinic_id: int) -> list[SurveyTemplate]:
    return [current_template(session=session, clinic_id=clinic_id, code=c)
            for c in template_codes(session=session, clinic_id=clinic_id)]


def template_versions(*, session: Session, clinic_id: int, code: str) -> list[SurveyTemplate]:
    """Every version of a template, newest first."""
    rows = list(session.scalars(select(SurveyTemplate).where(SurveyTemplate.clinic_id == clinic_id,
                                                             SurveyTemplate.code == code)
                                .order_by(SurveyTemplate.version.desc())))
    if not rows:
        raise SurveyTemplateNotFound()
    return rows


def create_template_version(
    *, session: Session, clinic_id: int, code: str, title_zh: str, title_en: str, intro_zh: str, intro_en: str,
    questions: list[dict[str, Any]], note: str, staff_id: int | None,
) -> SurveyTemplate | None:
    """Save an edited template as a new version; None when nothing changed. Raises ValidationFailed with a
    field per problem (question fields are named `<field>_<position>`, new-question fields `new_<field>`)."""
    versions = template_versions(session=session, clinic_id=clinic_id, code=code)
    latest = versions[0]
    errors = FieldErrors()
    title_zh, title_en = title_zh.strip(), title_en.strip()
    for name, value in (("title_zh", title_zh), ("title_en", title_en)):
        if not value:
            errors.add(name, "Enter a title in both languages.")
        elif len(value) > 120:
            errors.add(name, "A title can have at most 120 characters.")
    defs: list[tuple[str, QuestionDef]] = []
    for position, raw in enumerate(questions):
        suffix = str(raw.pop("_field", position))
        try:
            defs.append((suffix, QuestionDef.model_validate(raw)))
        except ValidationError as exc:
            for problem in exc.errors():
                where = str(problem["loc"][0]) if problem["loc"] else _field_of(str(problem["msg"]))
                errors.add(f"{where}_{suffix}", _question_message(where))
    if not defs and not errors.errors:
        errors.add("zh_new", "A survey needs at least one question.")
    known = _known_kinds(versions)
    seen: set[str] = set()
    for suffix, q in defs:
        if q.key in seen:
            errors.add(f"key_{suffix}", "Each question needs its own key.")
        seen.add(q.key)
        if q.key in known and known[q.key] != (q.type.value, q.scale.value if q.scale else None):
            errors.add(f"key_{suffix}", "This key was used for a question with other answers; choose a new key.")
    errors.raise_if_any()
    dumped = [q.model_dump(mode="json") for _, q in defs]
    same = (title_zh, title_en, intro_zh.strip(), intro_en.strip(), dumped) == (
        latest.title_zh, latest.title_en, latest.intro_zh, latest.intro_en, latest.questions)
    if same:
        return None
    template = SurveyTemplate(
        clinic_id=clinic_id, code=code, version=latest.version + 1, title_zh=title_zh, title_en=title_en,
        intro_zh=intro_zh.strip(), intro_en=intro_en.strip(), questions=dumped, note=note.strip()[:200],
        created_by=staff_id,
    )
    session.add(template)
    session.flush()
    return template


def _known_kinds(versions: list[SurveyTemplate]) -> dict[str, tuple[str, str | None]]:
    """What answers each key has had in any version; a key keeps its answer type so results stay comparable."""
    kinds: dict[str, tuple[str, str | None]] = {}
    for version in versions:
        for q in version.questions:
            kinds.setdefault(q["key"], (q["type"], q.get("scale")))
    return kinds


def _field_of(message: str) -> str:
    return "scale" if "scale" in message else "options" if "option" in message else "question"


def _question_message(field_name: str) -> str:
    return {
        "zh": N_("Enter the question in both languages."), "en": N_("Enter the question in both languages."),
        "key": N_("Use lower-case letters, digits and _ (start with a letter)."),
        "options": N_("Give at least two options, one per line: value | 中文 | English."),
        "scale": N_("Choose an answer scale."), "dimension": N_("Choose a dimension."),
        "type": N_("Choose an answer type."),
    }.get(field_name, N_("Check this question."))


def count_versions(*, session: Session, clinic_id: int) -> dict[str, int]:
    rows = session.execute(select(SurveyTemplate.code, func.count()).where(SurveyTemplate.clinic_id == clinic_id)
                           .group_by(SurveyTemplate.code)).all()
    return {code: n for code, n in rows}
