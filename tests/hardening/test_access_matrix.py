"""The access matrix: every route of the app × every role × own and other clinic (and, for patient routes, other
patient), each cell allowed or denied as `access_table.ACCESS` says.

- A route of the app without an entry in the table fails the suite: every route must be classified.
- Whatever the status, no response to a user of the own clinic carries the other clinic's marker texts (names,
  phone numbers, complaint and RCA texts), nor — for patients and caregivers — another patient's; PDFs are read
  as text.
- A refused change (POST to a route the role may not use, or naming another clinic's object) changes nothing in
  the database.

One world of data and one app per database (module scope): the cells only read, or are refused.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from dramatiq.brokers.stub import StubBroker
from litestar.testing import TestClient
from sqlalchemy import inspect, text
from sqlmodel import Session

from core import jobs
from core.app import create_app
from core.db import dispose_engines, get_engine, make_engine
from core.settings import Settings
from tests.conftest import _truncate_all, drain_jobs
from tests.hardening.access_table import ACCESS, PATIENTS, STAFF, A
from tests.hardening.access_world import NEIGHBOUR_MARK, ROLES, World, build_world

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Rows a refused request may still write: the audit trail of who tried what, and an API token's last use.
UNWATCHED_TABLES = frozenset({"alembic_version", "audit_entry", "api_token"})


# --- the world --------------------------------------------------------------------------------------------


_broken: dict[str, str] = {}  # a world that failed to build, by database: fail each test at once, not rebuild it


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if request.param in _broken:
        pytest.fail(f"the access world could not be built: {_broken[request.param]}", pytrace=False)
    tmp = tmp_path_factory.mktemp("access")
    if request.param == "sqlite":
        path = tmp / "careloop.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("_postgres_url")
        _truncate_all(url)
    settings = Settings(
        database_url=url, data_dir=tmp / "data", secret_key="test-secret-key", public_url="http://testserver",
        broker_url="", default_language="en", timezone="Asia/Shanghai", job_lease_seconds=2,
        _env_file=None,  # type: ignore[call-arg]
    )
    broker = StubBroker()
    app = create_app(settings, broker=broker, start_workers=False)
    engine = get_engine(settings)
    bind = make_engine(settings, sqlite_transactions=False) if settings.is_sqlite else engine

    def run_jobs() -> None:
        drain_jobs(broker, timeout_ms=60_000)

    with ExitStack() as stack, Session(bind, expire_on_commit=False) as session:
        def make_client() -> TestClient[Any]:
            return stack.enter_context(TestClient(app=app, base_url="http://testserver"))

        try:
            built = build_world(session, app, run_jobs, make_client)
        except Exception as exc:
            _broken[request.param] = repr(exc)[:500]
            raise
        built.app, built.settings, built.broker, built.bind = app, settings, broker, bind
        yield built
    if bind is not engine:
        bind.dispose()
    dispose_engines()


@pytest.fixture(autouse=True)
def _jobs_runtime(world: World) -> None:
    """The shared conftest clears the jobs runtime after each test; this module's app keeps using it."""
    jobs.configure(world.settings, world.broker)


# --- running one cell ---------------------------------------------------------------------------------------


def _scopes(key: str, entry: A, role: str) -> list[str]:
    path = key.split(" ", 1)[1]
    scopes = ["own"]
    if entry.scope in ("object", "link"):
        scopes.append("other_clinic")
    if entry.scope == "object" and "{patient_id}" in path and (role not in STAFF or entry.patient_bound):
        scopes.append("other_patient")  # (staff may see every patient of their clinic: the own cell covers it)
    if "{other_" in repr((entry.form, entry.json)) and role in entry.roles:
        scopes.append("other_ref")  # the body names another clinic's patient or staff member
    if entry.queries and role in entry.roles:
        scopes.append("other_query")  # the query string names another clinic's objects
    return scopes


def expected(entry: A, key: str, role: str, scope: str) -> str:
    """"allowed", or how the cell is refused: "auth" (sign in first), "role" (403) or "scope" (404)."""
    is_api = key.split(" ", 1)[1].startswith("/api/")
    if entry.scope == "signed":
        return "role"
    if role not in entry.roles:
        return "auth" if role == "anonymous" or (is_api and role in PATIENTS) else "role"
    if scope == "other_ref":
        return "refused"
    if scope == "other_query":
        return "shown_nothing"  # ignoring the query or refusing it are both fine: the markers are the test
    if scope == "own" and role in entry.object_refusals:
        return entry.object_refusals[role]
    if scope == "other_clinic" and entry.scope in ("object", "link"):
        return "scope"
    if scope == "other_patient" and (role not in STAFF or entry.patient_bound):
        return "scope"
    return "allowed"


def _params(world: World, entry: A, scope: str) -> dict[str, Any]:
    if scope == "other_clinic":
        base = dict(world.other.params)
    elif scope == "other_patient":
        base = world.neighbour_params()
    else:
        base = dict(world.own.params)
    if entry.scope == "link" and scope == "other_clinic":
        base["token"] = "forged" + "x" * 26  # a link nobody was sent
    return {**base, **entry.params}


def other_refs(world: World) -> dict[str, str]:
    refs = {f"other_{name}": str(value) for name, value in world.other.params.items()}
    refs["other_staff_id"] = str(world.other.staff["doctor"].id)
    return refs


def _fill(value: Any, world: World) -> Any:
    if isinstance(value, str) and value.startswith("{other_"):
        return other_refs(world)[value.strip("{}")]
    if isinstance(value, list):
        return [_fill(v, world) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    return value


def _request(world: World, entry: A, key: str, role: str, url: str) -> Any:
    method, path = key.split(" ", 1)
    client = world.clients[role]
    headers = {}
    if path.startswith("/api/") and role in world.tokens:
        headers["Authorization"] = f"Bearer {world.tokens[role]}"
    if method not in MUTATING:
        return client.get(url, headers=headers, follow_redirects=False)
    if entry.json is not None or path.startswith("/api/"):
        return client.request(method, url, json=_fill(entry.json or {}, world), headers=headers,
                              follow_redirects=False)
    form = {**_fill(entry.form or {}, world), "_csrf_token": client.cookies.get("careloop_csrf", "")}
    return client.request(method, url, data=form, headers=headers, follow_redirects=False)


def _body_text(response: Any) -> str:
    if response.headers.get("content-type", "").startswith("application/pdf") and response.status_code == 200:
        return subprocess.run(["pdftotext", "-", "-"], input=response.content, capture_output=True,
                              check=True).stdout.decode("utf-8", "replace").lower()
    return response.content.decode("utf-8", "replace").lower()


def forbidden_markers(world: World, role: str) -> tuple[str, ...]:
    """Texts that must never reach this role: the other clinic's always; other patients' for patients."""
    markers = list(world.other.markers)
    if role in PATIENTS or role == "anonymous":
        markers += [NEIGHBOUR_MARK, world.own.neighbour.phone.removeprefix("+86")]
    if role == "anonymous":
        markers += [world.own.patient.name.lower(), world.own.patient.phone.removeprefix("+86")]
    return tuple(m.lower() for m in markers)


def check(response: Any, outcome: str, entry: A, key: str) -> str | None:
    """Why the response does not match the outcome, or None."""
    status = response.status_code
    location = response.headers.get("location", "")
    is_api = key.split(" ", 1)[1].startswith("/api/")
    if outcome == "allowed":
        if entry.expect_own is not None:
            return None if status == entry.expect_own else f"expected {entry.expect_own}, got {status}"
        if 200 <= status < 300 or (status in (301, 302, 303, 307) and not location.startswith("/login")):
            return None
        return f"expected allowed, got {status} {location}"
    if outcome == "auth":
        if is_api and status == 401:
            return None
        if not is_api and status in (302, 303) and location.startswith("/login"):
            return None
        return f"expected sign-in required, got {status} {location}"
    if outcome == "shown_nothing":
        return None if status < 500 else f"expected no server error, got {status}"
    if outcome == "refused":
        return None if 400 <= status < 500 and status not in (401, 405) else f"expected a refusal, got {status}"
    wanted = {"role": 403, "scope": 404}[outcome]
    return None if status == wanted else f"expected {wanted}, got {status} {location}"


def fingerprint(world: World) -> dict[str, str]:
    """A digest of every table's rows (but the audit trail), to prove a refused change changed nothing."""
    bind = world.bind
    digests = {}
    with bind.connect() as connection:
        for table in sorted(set(inspect(connection).get_table_names()) - UNWATCHED_TABLES):
            rows = connection.execute(text(f'SELECT * FROM "{table}"')).all()
            digests[table] = hashlib.sha256("\n".join(sorted(repr(tuple(r)) for r in rows)).encode()).hexdigest()
    return digests


def run_route(world: World, key: str, entry: A) -> list[str]:
    """Every cell of one route; the list of what went wrong."""
    method = key.split(" ", 1)[0]
    mutating = method in MUTATING
    problems: list[str] = []
    before = fingerprint(world) if mutating else None
    for role in ROLES:
        if not entry.signed_in and role != "anonymous":
            continue
        for scope in _scopes(key, entry, role):
            outcome = expected(entry, key, role, scope)
            if mutating and outcome == "allowed" and entry.signed_in:
                continue  # an allowed change would alter the shared world; the domain tests make it
            params = _params(world, entry, scope)
            variants = [q.format(**other_refs(world)) for q in entry.queries] if scope == "other_query" \
                else list(entry.suffixes)
            for suffix in variants:
                url = key.split(" ", 1)[1].format(**params) + suffix
                response = _request(world, entry, key, role, url)
                cell = f"{role}/{scope} {method} {url}"
                wrong = check(response, outcome, entry, key)
                if wrong:
                    problems.append(f"{cell}: {wrong}: {response.text[:200]!r}")
                body = _body_text(response)
                if outcome == "allowed" and scope == "own" and entry.shows not in body:
                    problems.append(f"{cell}: does not show {entry.shows!r}, so its silence proves nothing")
                leaked = [m for m in forbidden_markers(world, role) if m in body]
                if leaked:
                    problems.append(f"{cell}: response shows {leaked}")
    if before is not None:
        after = fingerprint(world)
        changed = sorted(t for t in after if after[t] != before.get(t))
        if changed:
            problems.append(f"refused {method} changed tables {changed}")
    return problems


# --- the tests ----------------------------------------------------------------------------------------------


def app_routes(app: Any) -> set[str]:
    keys = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            keys.update(f"{m} {route.path_format}" for m in handler.http_methods if m not in ("OPTIONS", "HEAD"))
    return keys


def test_every_route_of_the_app_is_in_the_access_table(world: World) -> None:
    routes = app_routes(world.app)
    assert sorted(routes - ACCESS.keys()) == [], "routes nobody has classified: add them to access_table.ACCESS"
    assert sorted(ACCESS.keys() - routes) == [], "the table names routes the app no longer has"


@pytest.mark.parametrize("key", sorted(ACCESS))
def test_route_answers_each_role_and_clinic_as_designed(world: World, key: str) -> None:
    problems = run_route(world, key, ACCESS[key])
    assert problems == [], "\n".join(problems)


def test_the_access_document_matches_the_table() -> None:
    from tests.hardening.access_docs import render

    document = Path(__file__).resolve().parents[2] / "docs" / "access.md"
    assert render() in document.read_text(encoding="utf-8"), \
        "docs/access.md is out of date: python -m tests.hardening.access_docs > docs/access.md"


def test_the_matrix_refuses_what_it_should() -> None:
    """The matrix's own judge: a 200 is not a refusal, a sign-in redirect is not an allowed page."""
    class Fake:
        def __init__(self, status: int, location: str = "") -> None:
            self.status_code, self.headers = status, {"location": location}

    entry = ACCESS["GET /patients/{patient_id}"]
    assert check(Fake(200), "scope", entry, "GET /patients/{patient_id}") is not None
    assert check(Fake(404), "scope", entry, "GET /patients/{patient_id}") is None
    assert check(Fake(303, "/login?next=/"), "allowed", entry, "GET /patients/{patient_id}") is not None
    assert check(Fake(303, "/login?next=/"), "auth", entry, "GET /patients/{patient_id}") is None
    assert expected(entry, "GET /patients/{patient_id}", "committee", "other_clinic") == "scope"
    assert expected(entry, "GET /patients/{patient_id}", "patient", "own") == "role"
    assert expected(ACCESS["GET /api/v1/patients"], "GET /api/v1/patients", "patient", "own") == "auth"

