"""Survey SMS texts (templates/sms/survey_*.<lang>.txt): the patient's language, an opaque link, no name,
no diagnosis, and one segment whenever a shorter wording makes that possible."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from core.sms_segments import fits_one_segment
from core.templating import TEMPLATE_DIR

LEVELS = (0, 1, 2)  # full wording, shorter, shortest
# What a Chinese carrier adds in front of every message (【签名】) when the clinic has no signature of its own.
DEFAULT_ZH_SIGNATURE = 12


def survey_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/s/{token}"


def survey_sms(*, kind: str, language: str, url: str, clinic_name: str, days: int, signature: str = "") -> str:
    """The invitation (`kind="invite"`) or reminder text; the first wording that fits one segment wins."""
    lang = "zh-CN" if language.lower().startswith("zh") else "en"
    reserve = (len(signature) + 2 if signature else DEFAULT_ZH_SIGNATURE) if lang == "zh-CN" else 0
    template = _environment().get_template(f"sms/survey_{kind}.{lang}.txt")
    text = ""
    for level in LEVELS:
        text = template.render(level=level, url=url, clinic=clinic_name, days=days).strip()
        if fits_one_segment(text, reserve=reserve):
            return text
    return text  # a very long public URL: two segments, still the shortest wording


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Plain text: no autoescape (a URL must not become &amp;); a misspelt variable fails loudly in tests.
    return Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=False, undefined=StrictUndefined)
