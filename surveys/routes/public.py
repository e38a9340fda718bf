"""The public survey page `/s/{token}`: no sign-in, one page that works without JavaScript on an old phone,
in the patient's language (with a switch), answered once; bad links get a friendly page, never a 500."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, MediaType, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.params import Body
from litestar.response import Template
from sqlmodel import Session

from clinic.models import Clinic
from core import i18n
from core.db import utcnow
from core.errors import ValidationFailed
from surveys.invitations import find_by_token, link_state
from surveys.models import SurveyInvitation, SurveyTemplate
from surveys.responses import SurveyAlreadyAnswered, SurveyClosed, submit_response
from surveys.routes.helpers import field_messages

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
# Guessing a 128-bit token is hopeless, but a ceiling per address keeps a script from hammering the page.
survey_rate_limit = RateLimitConfig(rate_limit=("minute", 30), store="rate_limit_survey")
# The link is a bearer secret: never cached, never sent on as a Referer.
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
CLOSED_STATUS = {"unknown": 404, "expired": 410, "answered": 200, "thanks": 200}


def _page(name: str, context: dict[str, Any], status_code: int = 200) -> Template:
    return Template(template_name=name, context=context, status_code=status_code, media_type=MediaType.HTML,
                    headers=PRIVATE_HEADERS)


def _use_language(request: Request[Any, Any, Any], invitation: SurveyInvitation | None) -> str:
    """An explicit choice (the page's switch) wins; otherwise the language the patient registered with."""
    settings = request.app.state.settings
    chosen = request.query_params.get("lang") or request.cookies.get("lang")
    if chosen:
        language = i18n.normalise_language(chosen, default=settings.default_language)
    elif invitation is not None:
        language = i18n.normalise_language(invitation.language, default=settings.default_language)
    else:
        language = request.state.get("language") or settings.default_language
    request.state.language = language
    return language


def _closed(db: Session, invitation: SurveyInvitation | None, state: str, token: str, *,
            low: bool = False) -> Template:
    clinic = db.get(Clinic, invitation.clinic_id) if invitation is not None else None
    return _page("surveys/public_closed.html", {
        "state": state, "low": low, "token": token if state != "unknown" else "",
        "emergency_number": clinic.emergency_number if clinic else "120",
        "clinic_name": clinic.name if clinic else "",
    }, status_code=CLOSED_STATUS[state])


def _form(db: Session, invitation: SurveyInvitation, token: str, language: str, *, values: dict[str, Any],
          errors: dict[str, str], status_code: int = 200) -> Template:
    template = db.get(SurveyTemplate, invitation.template_id)
    clinic = db.get(Clinic, invitation.clinic_id)
    assert template is not None and clinic is not None
    return _page("surveys/public.html", {
        "template": template, "questions": template.question_defs(), "clinic": clinic, "token": token,
        "lang": language, "values": values, "errors": errors, "preview": False,
    }, status_code=status_code)


class PublicSurveyController(Controller):
    path = "/s"
    include_in_schema = False

    @get("/{token:str}", name="surveys:public", sync_to_thread=True)
    def show(self, request: Request[Any, Any, Any], db: Session, token: str) -> Template:
        invitation = find_by_token(session=db, token=token)
        language = _use_language(request, invitation)
        state = link_state(invitation, now=utcnow())
        if state != "open" or invitation is None:
            return _closed(db, invitation, state, token)
        return _form(db, invitation, token, language, values={}, errors={})

    @post("/{token:str}", name="surveys:public-answer", sync_to_thread=True,
          middleware=[survey_rate_limit.middleware])
    def answer(self, request: Request[Any, Any, Any], db: Session, token: str, data: Form) -> Template:
        invitation = find_by_token(session=db, token=token)
        language = _use_language(request, invitation)
        state = link_state(invitation, now=utcnow())
        if state != "open" or invitation is None:
            return _closed(db, invitation, state, token)
        try:
            response = submit_response(session=db, invitation=invitation, form=data)
        except ValidationFailed as exc:
            db.rollback()
            return _form(db, invitation, token, language, values=data, errors=field_messages(request, exc),
                         status_code=422)
        except SurveyAlreadyAnswered:
            db.rollback()
            return _closed(db, invitation, "answered", token)
        except SurveyClosed:
            db.rollback()
            return _closed(db, invitation, "expired", token)
        return _closed(db, invitation, "thanks", token, low=response.low_score)
