"""The PDCA board page: columns Plan / Do / Check / Act / Done, filterable by project and owner."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.exceptions import NotFoundException
from litestar.response import Template
from sqlmodel import Session

from core.web import principal_of, render, requires
from pdca import service
from pdca.board import Filters, build_board
from pdca.enums import LABELS
from pdca.routes.common import READ_ROLES, clinic_calendar, may_edit, translator


def _id(raw: str) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


class BoardController(Controller):
    path = "/pdca"
    include_in_schema = False

    @get("/", name="pdca:board", guards=[requires(*READ_ROLES)], sync_to_thread=True)
    def board(self, request: Request[Any, Any, Any], db: Session, project: str = "", owner: str = "",
              clinic: str = "") -> Template:
        principal = principal_of(request)
        home, tz, today = clinic_calendar(db, principal)
        # Staff belong to one clinic: the clinic filter can only name the caller's own (another is a 404).
        if clinic and clinic not in (str(home.id), home.code):
            raise NotFoundException()
        filters = Filters(project_id=_id(project), owner_id=_id(owner))
        if filters.project_id is not None:
            service.get_project(session=db, clinic_id=principal.clinic_id, project_id=filters.project_id)
        columns = build_board(session=db, clinic_id=principal.clinic_id, filters=filters, tz=tz, today=today,
                              t=translator(request))
        projects = service.all_projects(session=db, clinic_id=principal.clinic_id)
        return render("pdca/board.html", context={
            "columns": columns, "filters": filters, "projects": projects, "clinic": home,
            "staff": service.staff_choices(session=db, clinic_id=principal.clinic_id), "labels": LABELS,
            "may_edit": may_edit(principal), "here": request.url.path + ("?" + filters.query if filters.query else ""),
            "moved": request.query_params.get("moved", ""), "today": today,
        })
