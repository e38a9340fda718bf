"""Charts for the results page, labelled in the reader's language."""

from __future__ import annotations

from typing import Any

from litestar import Request

from core.web import tr
from surveys.charts import TOP, Bar, Series, box_bars, line_chart
from surveys.enums import DIMENSION_LABELS
from surveys.results import SurveyResults


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def results_charts(request: Request[Any, Any, Any], results: SurveyResults) -> dict[str, str]:
    charts: dict[str, str] = {}
    labels = [p.key for p in results.periods]
    if results.nps.n:
        points = ", ".join(f"{p.key}: {_pct(p.nps.score)} (n={p.nps.n})" for p in results.periods)
        charts["nps"] = line_chart(
            title=tr(request, "NPS by period"),
            description=tr(request, "Net Promoter Score (%% promoters minus %% detractors) per period: %(points)s",
                           points=points),
            labels=labels, series=[Series(tr(request, "NPS"), [p.nps.score for p in results.periods])],
            y_min=-100, y_max=100, id_prefix="survey-nps",
        )
    if any(p.box.n for p in results.periods):
        points = ", ".join(f"{p.key}: {_pct(p.box.top_pct)}%" for p in results.periods)
        charts["top_box"] = line_chart(
            title=tr(request, "Top box by period"),
            description=tr(request, "Share of most favourable answers over all rated questions, per period: "
                                    "%(points)s", points=points),
            labels=labels, series=[Series(tr(request, "Top box %"), [p.box.top_pct for p in results.periods], TOP)],
            y_min=0, y_max=100, id_prefix="survey-top",
        )
    bars = [Bar(tr(request, DIMENSION_LABELS[d]), c.top_pct, c.bottom_pct, c.n) for d, c in results.dimensions if c.n]
    if bars:
        described = ", ".join(f"{b.label}: {_pct(b.top)}% / {_pct(b.bottom)}%" for b in bars)
        charts["dimensions"] = box_bars(
            title=tr(request, "Top box and bottom box by dimension"),
            description=tr(request, "Top box / bottom box per dimension: %(points)s", points=described),
            bars=bars, top_name=tr(request, "Top box %"), bottom_name=tr(request, "Bottom box %"),
            n_name=tr(request, "Answers"), id_prefix="survey-dimensions",
        )
    return charts
