"""Extracting translatable messages from the code and templates and keeping the catalogs in step.

Used by `make messages` (via `python -m core.i18n_catalog update`) and by the test that fails when a
page, SMS or PDF string has no Simplified Chinese translation.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from core.i18n import LOCALE_DIR
from core.settings import REPO_ROOT

# Where msgids appear as arguments: gettext(language, msgid), errors.add(field, msgid), DomainError(msgid)…
KEYWORDS: dict[str, object] = {
    "_": None, "N_": None, "gettext": (2,), "ngettext": (2, 3), "tr": (2,), "add": (2,), "FieldError": (2,),
    "DomainError": None, "NotFound": None, "PermissionDenied": None, "NotAuthenticated": None, "Conflict": None,
    "ValidationFailed": None, "RateLimited": None, "__init__": None, "raise_if_any": None,
}
# Templates call the context-aware helpers without a language argument: _(msgid), ngettext(s, p, n).
TEMPLATE_KEYWORDS: dict[str, object] = {"_": None, "gettext": None, "ngettext": (1, 2)}
CATALOG_LANGUAGES = {"zh_CN": "zh-CN"}


def extract() -> Catalog:
    catalog = Catalog(project="CareLoop", charset="utf-8")
    python_sources = [(f"{domain}/**.py", "python")
                      for domain in ("core", "clinic", "followup", "surveys", "feedback", "rca", "pdca")]
    found = [
        *extract_from_dir(str(REPO_ROOT), method_map=python_sources, keywords=KEYWORDS, strip_comment_tags=True),
        *extract_from_dir(str(REPO_ROOT), method_map=[("templates/**.html", "jinja2")], keywords=TEMPLATE_KEYWORDS,
                          strip_comment_tags=True, options_map={"templates/**.html": {"extensions": "jinja2.ext.do"}}),
    ]
    for filename, lineno, message, comments, context in found:
        first = message if isinstance(message, str) else message[0]
        if not any(ch.isalpha() for ch in first):
            continue  # separators and format strings, not text
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(folder: str) -> Path:
    return LOCALE_DIR / folder / "LC_MESSAGES" / "messages.po"


def read_catalog(folder: str) -> Catalog:
    path = po_path(folder)
    if not path.exists():
        return Catalog(locale=folder)
    with path.open("rb") as handle:
        return read_po(handle)


def untranslated(folder: str) -> list[str]:
    """msgids used somewhere in the code that have no (or only a fuzzy) translation."""
    existing = read_catalog(folder)
    missing = []
    for message in extract():
        if not message.id:
            continue
        found = existing.get(message.id)
        text = found.string if found else None
        if not found or found.fuzzy or not text or (isinstance(text, tuple) and not all(text)):
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


def update() -> None:
    template = extract()
    for folder in CATALOG_LANGUAGES:
        catalog = read_catalog(folder)
        catalog.update(template, no_fuzzy_matching=True)
        path = po_path(folder)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100, omit_header=False, ignore_obsolete=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["update"]:
        update()
    elif sys.argv[1:] == ["check"]:
        gaps = untranslated("zh_CN")
        print("\n".join(gaps) or "every message is translated")
        sys.exit(1 if gaps else 0)
    else:
        sys.exit("usage: python -m core.i18n_catalog update|check")
