"""Database engine, sessions and column types shared by every domain.

Services flush; the boundary that owns the unit of work (a request, an actor, a CLI command) commits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, event
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

from core.settings import Settings

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key for big tables.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
# Execution option: `{SQLITE_BEGIN: "IMMEDIATE"}` on a session's connection starts its SQLite transaction with the
# write lock held (see _sqlite_begin); other backends ignore it.
SQLITE_BEGIN = "careloop_sqlite_begin"
# Engine option: each unit_of_work on this engine takes SQLite's write lock when it begins (the app sets it when its
# own job workers share the SQLite file with its requests).
SQLITE_WRITE_LOCK_FIRST = "careloop_sqlite_write_lock_first"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend.

    SQLite has no time zone type and hands back naive values; PostgreSQL keeps the zone. Naive input is
    refused rather than guessed, because a guessed zone shifts a patient's reading to another local day.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(settings: Settings, *, sqlite_transactions: bool = True) -> Engine:
    """`sqlite_transactions=False` leaves pysqlite in charge of transactions, so each read sees the latest
    commit (like PostgreSQL's read committed); tests use it to watch what the app stores."""
    url = settings.database_url
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        if sqlite_transactions:
            event.listen(engine, "connect", _sqlite_manual_transactions)
            event.listen(engine, "begin", _sqlite_begin)
        return engine
    # pre_ping lets the pool recover by itself after the database restarts.
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_manual_transactions(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling commits a SAVEPOINT that happens to be the first write of a
    # transaction; hand transaction control to SQLAlchemy instead (its documented pysqlite recipe), so a
    # rollback undoes everything, savepoints included.
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Any) -> None:
    # A deferred transaction that reads and then writes fails at once ("database is locked", no busy wait) when
    # another connection committed in between; a unit of work that asks for it takes the write lock up front.
    immediate = connection.get_execution_options().get(SQLITE_BEGIN) == "IMMEDIATE"
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_engines: dict[str, Engine] = {}


def get_engine(settings: Settings) -> Engine:
    """One engine (and pool) per database URL for the life of the process."""
    engine = _engines.get(settings.database_url)
    if engine is None:
        engine = _engines[settings.database_url] = make_engine(settings)
    return engine


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    session = Session(engine, expire_on_commit=False)
    try:
        if engine.get_execution_options().get(SQLITE_WRITE_LOCK_FIRST):
            # A unit of work reads and then writes; on SQLite another connection's commit in between would fail the
            # write at once. Only the first transaction: a session that commits and goes on (the report job) must
            # not hold the lock while another connection of the same thread waits for it.
            session.connection(execution_options={SQLITE_BEGIN: "IMMEDIATE"})
        yield session
    except BaseException:
        discard_session(session)
        raise
    finish_session(session)


def discard_session(session: Session) -> None:
    """Roll back and close (the connection goes back to the pool clean)."""
    try:
        session.rollback()
    finally:
        session.close()


def finish_session(session: Session) -> None:
    """Commit and close; on a failed commit roll back first, so the connection goes back to the pool clean."""
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
