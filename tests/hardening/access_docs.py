"""docs/access.md from the access table: `python -m tests.hardening.access_docs > docs/access.md`."""

from __future__ import annotations

from tests.hardening.access_table import ACCESS, A

COLUMNS = ("anonymous", "patient", "caregiver", "nurse", "doctor", "committee", "admin")

INTRO = """# Who may use what

Generated from `tests/hardening/access_table.py`, which `tests/hardening/test_access_matrix.py` runs against
every route of the app for every role, on SQLite and PostgreSQL. A route missing from the table fails the test.

**✓** allowed in the caller's own clinic · **–** refused: signed out → sign-in (401 for the API), signed in with
another role → 403 (the API takes staff bearer tokens only, so a patient or caregiver calling it gets 401).

Scope, the "other clinic" column of the matrix:

- **object** — the path names one clinic's object (for patient pages also one patient's): another clinic's object,
  or for a patient or caregiver another patient's, is *not found* (404) for every role, so ids cannot be probed.
- **clinic** — the caller's own clinic, implicitly (lists, exports, settings, rulebook codes).
- **public** — no clinic data behind it.
- **link** — a survey link: the token is the capability; a forged token is 404.
- **signed** — a provider webhook: refused (403) without a valid signature, whoever calls.

Whatever the status, no response to a user of one clinic contains another clinic's names, phone numbers or texts,
and none to a patient or caregiver contains another patient's; a refused change leaves the database unchanged
(the audit trail aside). A form naming another clinic's patient or staff member (readings API, report request,
callback assignment, RCA team member and action owner) is refused; a query string naming another clinic's
objects (RCA and project pre-fill, recording a complaint, the audit filter, patient search) shows none of its data.
Least privilege where the design left it open: nurses work callbacks and readings but
not rules; the committee reads patients and quality data and runs RCA and PDCA but neither registers patients
nor enters readings; doctors read the quality board and results; only admins manage staff, rules, policies and
the audit log.

Adding a route: add its line to `ACCESS` in `tests/hardening/access_table.py` (who, scope, and for a change a
valid body), then `python -m tests.hardening.access_docs > docs/access.md`.
"""


def _row(key: str, entry: A) -> str:
    method, path = key.split(" ", 1)
    cells = " | ".join("✓" if role in entry.roles else "–" for role in COLUMNS)
    note = entry.note.replace("|", "\\|")
    return f"| `{method}` | `{path}` | {cells} | {entry.scope} | {note} |"


def render() -> str:
    header = "| Method | Path | " + " | ".join(COLUMNS) + " | Scope | Note |"
    rule = "|" + "---|" * (len(COLUMNS) + 4)
    rows = [_row(key, ACCESS[key]) for key in sorted(ACCESS, key=lambda k: (k.split(" ", 1)[1], k))]
    return "\n".join([INTRO, header, rule, *rows]) + "\n"


if __name__ == "__main__":
    print(render(), end="")
