"""The hub's database: one engine, sessions as transactions, migrations.

SQLite (the default) runs in WAL mode with ``synchronous=FULL``: the hub tells a
device "stored through seq N" right after committing, and the device then deletes
those messages, so a commit must survive a power cut, not only a crash (NORMAL
would risk the last transactions). Write transactions start with ``BEGIN
IMMEDIATE`` so a writer takes SQLite's lock up front and waits its turn instead of
failing half-way with "database is locked". Within one process the writers queue on
a lock of their own first: SQLite's busy handler polls with sleeps of 1, 2, 5, 10 ms...,
so a writer that found the lock taken lost milliseconds after it was free (p95 5.6 ms
per BEGIN, measured on an unlock under ring_to_screen load). The busy timeout still
covers other processes (the CLI beside a running hub). PostgreSQL needs nothing
special: pass a ``postgresql+psycopg://`` URL.

    db = Database("sqlite:////tmp/hub.sqlite3")
    db.upgrade()
    with db.session() as s:              # one transaction, committed at the end
        store_event(s, event, received_at=utcnow())
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, make_url
from sqlalchemy.orm import Session, sessionmaker

from ..errors import DatabaseUnavailable, HubError, MigrationError
from ..settings import HubSettings
from .totp_sealing import SESSION_KEY as TOTP_SEALER
from .totp_sealing import TotpSealer

MIGRATIONS = Path(__file__).with_name("migrations")
_READ_ONLY = "doorstep_read_only"


class Database:
    """One database (SQLite file or PostgreSQL), its sessions and its schema version."""

    def __init__(
        self,
        url: str,
        *,
        busy_timeout_ms: int = 15_000,
        echo: bool = False,
        totp_sealer: TotpSealer | None = None,
    ) -> None:
        parsed = make_url(url)
        self.url = url
        self.dialect = parsed.get_backend_name()
        # Reentrant: a nested write session in one thread reaches SQLite's own lock, as before.
        self._write_turn = threading.RLock() if self.dialect == "sqlite" else None
        self._busy_timeout_s = busy_timeout_ms / 1000
        if self.dialect == "sqlite":
            self.engine = _sqlite_engine(parsed.database, busy_timeout_ms, echo)
        elif self.dialect == "postgresql":
            self.engine = create_engine(parsed, echo=echo, pool_pre_ping=True)
        else:
            raise DatabaseUnavailable(
                f"database URL {parsed.render_as_string(hide_password=True)!r}: only sqlite:/// "
                "and postgresql+psycopg:// are supported"
            )
        # Sessions carry the TOTP key, so account code seals secrets without being handed it.
        info = {TOTP_SEALER: totp_sealer} if totp_sealer else {}
        self._writer = sessionmaker(self.engine, expire_on_commit=False, info=info)
        reader_options: dict[str, Any] = {_READ_ONLY: True}
        if self.dialect == "postgresql":
            # One snapshot for the whole read (SQLite's WAL readers get that anyway), so a
            # long read such as audit verification never sees appends made half-way through.
            reader_options["isolation_level"] = "REPEATABLE READ"
        self._reader = sessionmaker(
            self.engine.execution_options(**reader_options), expire_on_commit=False, info=info
        )

    @classmethod
    def from_settings(cls, settings: HubSettings) -> Database:
        key = settings.totp_key
        return cls(
            settings.database_url,
            busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            totp_sealer=TotpSealer.load(key) if key is not None else None,
        )

    def __repr__(self) -> str:
        return f"Database({make_url(self.url).render_as_string(hide_password=True)!r})"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back on an error."""
        with self._turn(), _translated(self), self._writer.begin() as session:
            yield session

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """This process's turn to write; given up, like SQLite's lock, after the busy timeout."""
        if self._write_turn is None:
            yield
            return
        if not self._write_turn.acquire(timeout=self._busy_timeout_s):
            raise DatabaseUnavailable(
                f"{self!r}: another writer in this process held the database for over "
                f"{self._busy_timeout_s:g} s"
            )
        try:
            yield
        finally:
            self._write_turn.release()

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only transaction on one consistent snapshot (SQLite: no write lock)."""
        # Closing (not rolling back) ends the transaction but keeps loaded rows readable.
        with _translated(self), self._reader() as session:
            yield session

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` (default: the newest) with Alembic."""
        from alembic import command

        cfg = self._alembic_config()
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
        except exc.SQLAlchemyError as err:
            raise MigrationError(f"migrating {self!r} to {revision} failed: {err}") from err

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with _translated(self), self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()

    def require_current_schema(self) -> None:
        """Raise ``MigrationError`` unless the schema is at the newest revision."""
        current, head = self.current_revision(), self.head_revision()
        if current != head:
            raise MigrationError(
                f"{self!r} is at schema revision {current or 'none'}, this hub needs {head}: "
                "run 'doorstep hub migrate'"
            )

    def dispose(self) -> None:
        self.engine.dispose()

    def _alembic_config(self) -> Any:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return cfg


def _sqlite_engine(path: str | None, busy_timeout_ms: int, echo: bool) -> Engine:
    if not path or path == ":memory:" or path.startswith("file:"):
        raise DatabaseUnavailable(
            f"SQLite database {path or ':memory:'!r}: give a file path, e.g. sqlite:////var/lib/"
            "doorstep/hub/hub.sqlite3 (several connections must see the same data)"
        )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{path}",
        echo=echo,
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


@contextmanager
def _translated(db: Database) -> Iterator[None]:
    """Turn "cannot reach / lock the database" and bad values into the hub's own errors."""
    try:
        yield
    except exc.StatementError as err:
        # Our column types refuse bad values (naive times, unknown enum values) with a
        # HubError, which SQLAlchemy wraps: callers should see the hub's own error.
        if isinstance(err.orig, HubError):
            raise err.orig from None
        if isinstance(err, exc.OperationalError):
            raise DatabaseUnavailable(
                f"{db!r}: {err.orig or err} (check the URL, that the server is up, and that no "
                "other process holds the database lock for long)"
            ) from err
        raise
