"""The case store: every alert revision and decision, kept once, in SQLite or PostgreSQL.

Idempotent by construction: a revision's key is `(alert_id, revision)` and a decision's is its
id, inserts ignore what is already there, and the feed's read offsets are written in the same
transaction as what they read, so a restart or a replay of the topics changes nothing.

A case row is the case at its highest revision plus its status (`open` until a decision says
otherwise); `case_nodes` lists the ids a case touches (its subject, its counterparts) so the
cases that share any of them are one indexed query away (the link graph).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from streams.cases.migrations import MIGRATIONS, VERSION_TABLE
from streams.jsonl import alert_to_json, event_to_json
from streams.model import Action, Alert, Decision, Event

STATUS_OF: dict[Action, str] = {
    Action.CONFIRM: "confirmed",
    Action.CLEAR: "cleared",
    Action.ESCALATE: "escalated",
}
STATUSES = ("open", "escalated", "confirmed", "cleared")
ACTIVE = ("open", "escalated")  # still waiting for someone


class Connection(Protocol):
    """The DB-API 2 calls the store makes (sqlite3 and psycopg both provide them)."""

    def cursor(self) -> Any: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...


def node_of(kind: str, ident: str) -> str:
    return f"{kind}:{ident}"


def event_nodes(doc: dict[str, Any]) -> list[str]:
    """The device, IP and group an event (contract JSON) names, as graph nodes."""
    pairs = (("DEVICE", "device_hash"), ("IP", "ip_hash"), ("GROUP", "group_id"))
    return [node_of(kind, str(doc[key])) for kind, key in pairs if doc.get(key)]


def counterpart_roles(alert: Alert) -> list[tuple[str, str]]:
    """(account id, role) per counterpart: the role the alert gives it (`counterpart_roles`;
    alerts written before roles existed have none), else `counterpart`."""
    roles = alert.counterpart_roles
    return [(cid, roles.get(cid) or "counterpart") for cid in alert.counterparts]


@dataclass(frozen=True, slots=True)
class CaseFilter:
    detector: str | None = None
    severity: str | None = None
    subject_kind: str | None = None
    status: str | None = None  # None: the active ones (open, escalated)
    since_ms: int | None = None  # last update at or after
    until_ms: int | None = None
    limit: int = 200


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One record read from a topic: where it came from, and what it was (None = unreadable)."""

    topic: str
    partition: int
    offset: int
    item: Alert | Decision | Event | None


class CaseStore:
    """Thread-safe: the feed thread writes while the web server's threads read."""

    def __init__(self, conn: Connection, *, placeholder: str = "?") -> None:
        self._conn = conn
        self._ph = placeholder
        self._lock = threading.RLock()
        self.migrate()

    @classmethod
    def open(cls, target: str | Path) -> CaseStore:
        """A SQLite file path, or a `postgresql://` DSN (needs psycopg)."""
        text = str(target)
        if text.startswith(("postgresql://", "postgres://")):
            return cls(_postgres(text), placeholder="%s")
        conn = sqlite3.connect(text, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=5000")
        return _SqliteStore(conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # --- plumbing ------------------------------------------------------------------------------

    def _sql(self, sql: str) -> str:
        return sql if self._ph == "?" else sql.replace("?", self._ph)

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        with self._lock:
            cur = self._conn.cursor()
            self._begin(cur)
            try:
                yield cur
            except BaseException:
                self._conn.rollback()
                raise
            self._conn.commit()

    def _begin(self, cur: Any) -> None:
        """psycopg opens a transaction by itself; `_SqliteStore` starts one explicitly."""

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._tx() as cur:
            cur.execute(self._sql(sql), tuple(params))
            return list(cur.fetchall())

    # --- schema --------------------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply the migrations not applied yet, all in one transaction under a lock, so two
        processes starting on one database never apply one twice; returns those applied."""
        applied = []
        with self._tx() as cur:
            self._lock_migrations(cur)
            cur.execute(VERSION_TABLE)
            cur.execute("SELECT version FROM schema_migrations")
            done = {int(r[0]) for r in cur.fetchall()}
            for version, description, statements in MIGRATIONS:
                if version in done:
                    continue
                for statement in statements:
                    cur.execute(statement)
                cur.execute(
                    self._sql("INSERT INTO schema_migrations VALUES (?, ?, ?)"),
                    (version, description, int(time.time() * 1000)),
                )
                applied.append(version)
        return applied

    def _lock_migrations(self, cur: Any) -> None:
        """PostgreSQL: a transaction-scoped advisory lock (SQLite's BEGIN IMMEDIATE is one)."""
        cur.execute("SELECT pg_advisory_xact_lock(72010)")

    def schema_version(self) -> int:
        return int(self._rows("SELECT MAX(version) FROM schema_migrations")[0][0] or 0)

    # --- writes --------------------------------------------------------------------------------

    def ingest(self, items: Iterable[FeedItem]) -> int:
        """Store what the feed read and move its offsets, in one transaction; returns how many
        revisions and decisions were new (events are not counted)."""
        new = 0
        with self._tx() as cur:
            for it in items:
                if isinstance(it.item, Alert):
                    new += self._add_alert(cur, it.item)
                elif isinstance(it.item, Decision):
                    new += self._add_decision(cur, it.item)
                elif isinstance(it.item, Event):
                    doc = event_to_json(it.item)
                    self._add_events(cur, [(it.item.event_id, it.item.ts_ms, doc)])
                cur.execute(
                    self._sql(
                        "INSERT INTO feed_offsets VALUES (?, ?, ?) ON CONFLICT (topic, "
                        "partition_no) DO UPDATE SET next_offset = excluded.next_offset"
                    ),
                    (it.topic, it.partition, it.offset + 1),
                )
        return new

    def add_alert(self, alert: Alert) -> bool:
        with self._tx() as cur:
            return bool(self._add_alert(cur, alert))

    def add_decision(self, decision: Decision) -> bool:
        with self._tx() as cur:
            return bool(self._add_decision(cur, decision))

    def _add_alert(self, cur: Any, a: Alert) -> int:
        cur.execute(
            self._sql(
                "INSERT INTO alert_revisions VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (alert_id, revision) DO NOTHING"
            ),
            (
                a.alert_id, a.revision, a.detector, a.severity.value, a.score, a.trigger_ts_ms,
                a.minors_exposed, json.dumps(alert_to_json(a), sort_keys=True),
            ),
        )  # fmt: skip
        if cur.rowcount != 1:
            return 0
        cur.execute(
            self._sql("SELECT revision, opened_ts_ms, status FROM cases WHERE alert_id = ?"),
            (a.alert_id,),
        )
        row = cur.fetchone()
        if row is None:
            status = self._decided_status(cur, a.alert_id) or "open"
            cur.execute(
                self._sql("INSERT INTO cases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                (
                    a.alert_id, a.detector, a.detector_version, a.severity.value,
                    a.severity.rank, a.score, a.subject.kind.value, a.subject.id,
                    a.trigger_ts_ms, a.trigger_ts_ms, a.revision, a.minors_exposed, a.reason,
                    status,
                ),
            )  # fmt: skip
        else:
            revision, opened = int(row[0]), int(row[1])
            cur.execute(
                self._sql("UPDATE cases SET opened_ts_ms = ? WHERE alert_id = ?"),
                (min(opened, a.trigger_ts_ms), a.alert_id),
            )
            if a.revision > revision:
                cur.execute(
                    self._sql(
                        "UPDATE cases SET detector_version = ?, severity = ?, severity_rank = ?, "
                        "score = ?, last_ts_ms = ?, revision = ?, minors_exposed = ?, reason = ? "
                        "WHERE alert_id = ?"
                    ),
                    (
                        a.detector_version, a.severity.value, a.severity.rank, a.score,
                        a.trigger_ts_ms, a.revision, a.minors_exposed, a.reason, a.alert_id,
                    ),
                )  # fmt: skip
        for event_id in a.evidence_event_ids:
            cur.execute(
                self._sql("INSERT INTO case_evidence VALUES (?, ?) ON CONFLICT DO NOTHING"),
                (a.alert_id, event_id),
            )
        nodes = [(node_of(a.subject.kind.value, a.subject.id), "subject")]
        nodes += [(node_of("ACCOUNT", cid), role) for cid, role in counterpart_roles(a)]
        for node, role in nodes:
            cur.execute(
                self._sql("INSERT INTO case_nodes VALUES (?, ?, ?) ON CONFLICT DO NOTHING"),
                (a.alert_id, node, role),
            )
        return 1

    def _decided_status(self, cur: Any, alert_id: str) -> str | None:
        cur.execute(
            self._sql(
                "SELECT action FROM decisions WHERE alert_id = ? "
                "ORDER BY decided_at_ms DESC, decision_id DESC LIMIT 1"
            ),
            (alert_id,),
        )
        row = cur.fetchone()
        return None if row is None else STATUS_OF[Action(row[0])]

    def _add_decision(self, cur: Any, d: Decision) -> int:
        cur.execute(
            self._sql("INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"),
            (d.decision_id, d.alert_id, d.action.value, d.moderator, d.note, d.decided_at_ms),
        )
        if cur.rowcount != 1:
            return 0
        status = self._decided_status(cur, d.alert_id)
        cur.execute(
            self._sql("UPDATE cases SET status = ? WHERE alert_id = ?"), (status, d.alert_id)
        )
        return 1

    def add_events(self, events: Iterable[tuple[str, int, dict[str, Any]]]) -> int:
        """Metadata events, (event_id, ts_ms, contract JSON), kept once, with the devices, IPs
        and groups they name (the link graph's); returns how many were new."""
        with self._tx() as cur:
            return self._add_events(cur, events)

    def _add_events(self, cur: Any, events: Iterable[tuple[str, int, dict[str, Any]]]) -> int:
        new = 0
        for event_id, ts_ms, doc in events:
            cur.execute(
                self._sql("INSERT INTO evidence_events VALUES (?, ?, ?) ON CONFLICT DO NOTHING"),
                (event_id, ts_ms, json.dumps(doc, sort_keys=True)),
            )
            if cur.rowcount != 1:
                continue
            new += 1
            for node in event_nodes(doc):
                cur.execute(
                    self._sql("INSERT INTO event_nodes VALUES (?, ?) ON CONFLICT DO NOTHING"),
                    (event_id, node),
                )
        return new

    def forget_events_before(self, ts_ms: int) -> int:
        """Events older than `ts_ms` (event time) leave the store, with their node index."""
        with self._tx() as cur:
            cur.execute(
                self._sql(
                    "DELETE FROM event_nodes WHERE event_id IN "
                    "(SELECT event_id FROM evidence_events WHERE ts_ms < ?)"
                ),
                (ts_ms,),
            )
            cur.execute(self._sql("DELETE FROM evidence_events WHERE ts_ms < ?"), (ts_ms,))
            return int(cur.rowcount)

    # --- reads ---------------------------------------------------------------------------------

    def offsets(self, topic: str) -> dict[int, int]:
        rows = self._rows(
            "SELECT partition_no, next_offset FROM feed_offsets WHERE topic = ?", (topic,)
        )
        return {int(p): int(o) for p, o in rows}

    def counts(self) -> dict[str, int]:
        tables = (
            "alert_revisions", "cases", "decisions", "case_nodes", "evidence_events",
            "event_nodes", "case_evidence",
        )  # fmt: skip
        return {t: int(self._rows(f"SELECT COUNT(*) FROM {t}")[0][0]) for t in tables}

    def list_cases(self, f: CaseFilter = CaseFilter()) -> list[dict[str, Any]]:
        """Ranked: severity, then score, then minors exposed, then the latest first."""
        where: list[str] = []
        params: list[object] = []
        statuses = ACTIVE if f.status is None else (f.status,)
        where.append(f"status IN ({', '.join('?' for _ in statuses)})")
        params += list(statuses)
        for column, value in (
            ("detector", f.detector),
            ("severity", f.severity),
            ("subject_kind", f.subject_kind),
        ):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if f.since_ms is not None:
            where.append("last_ts_ms >= ?")
            params.append(f.since_ms)
        if f.until_ms is not None:
            where.append("last_ts_ms <= ?")
            params.append(f.until_ms)
        sql = (
            f"SELECT {_CASE_COLUMNS} FROM cases WHERE {' AND '.join(where)} "
            "ORDER BY severity_rank DESC, score DESC, minors_exposed DESC, last_ts_ms DESC, "
            f"alert_id LIMIT {int(f.limit)}"
        )
        return [_case_dict(r) for r in self._rows(sql, params)]

    def case(self, alert_id: str) -> dict[str, Any] | None:
        rows = self._rows(f"SELECT {_CASE_COLUMNS} FROM cases WHERE alert_id = ?", (alert_id,))
        return _case_dict(rows[0]) if rows else None

    def revisions(self, alert_id: str) -> list[dict[str, Any]]:
        """Every revision's alert (as JSON), oldest first."""
        rows = self._rows(
            "SELECT payload FROM alert_revisions WHERE alert_id = ? ORDER BY revision",
            (alert_id,),
        )
        return [json.loads(r[0]) for r in rows]

    def decisions(self, alert_id: str) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT decision_id, action, moderator, note, decided_at_ms FROM decisions "
            "WHERE alert_id = ? ORDER BY decided_at_ms, decision_id",
            (alert_id,),
        )
        keys = ("decision_id", "action", "moderator", "note", "decided_at_ms")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def nodes(self, alert_id: str) -> list[tuple[str, str]]:
        rows = self._rows(
            "SELECT node, role FROM case_nodes WHERE alert_id = ? ORDER BY node", (alert_id,)
        )
        return [(str(n), str(r)) for n, r in rows]

    def sharing(
        self, nodes: Iterable[str], exclude: str, limit: int = 500
    ) -> list[tuple[str, str, str]]:
        """(other case, shared node, its subject node) for cases touching any of `nodes`: as
        subject or counterpart, or through a device, IP or group in their evidence events."""
        wanted = sorted(set(nodes))
        if not wanted:
            return []
        marks = ", ".join("?" for _ in wanted)
        rows = self._rows(
            "SELECT alert_id, node, subject_kind, subject_id FROM ("
            "SELECT n.alert_id AS alert_id, n.node AS node, c.subject_kind AS subject_kind, "
            "c.subject_id AS subject_id FROM case_nodes n "
            f"JOIN cases c ON c.alert_id = n.alert_id WHERE n.node IN ({marks}) "
            "UNION SELECT e.alert_id, en.node, c.subject_kind, c.subject_id FROM event_nodes en "
            "JOIN case_evidence e ON e.event_id = en.event_id "
            f"JOIN cases c ON c.alert_id = e.alert_id WHERE en.node IN ({marks})"
            f") shared WHERE alert_id <> ? ORDER BY alert_id, node LIMIT {int(limit)}",
            [*wanted, *wanted, exclude],
        )
        return [(str(a), str(n), node_of(str(k), str(i))) for a, n, k, i in rows]

    def events(self, event_ids: Iterable[str]) -> list[dict[str, Any]]:
        wanted = sorted(set(event_ids))
        if not wanted:
            return []
        marks = ", ".join("?" for _ in wanted)
        rows = self._rows(
            f"SELECT payload FROM evidence_events WHERE event_id IN ({marks}) "
            "ORDER BY ts_ms, event_id",
            wanted,
        )
        return [json.loads(r[0]) for r in rows]


class _SqliteStore(CaseStore):
    """sqlite3 in autocommit mode: transactions are opened explicitly, IMMEDIATE so that the
    feed's writes and a decision's never interleave."""

    def _begin(self, cur: Any) -> None:
        cur.execute("BEGIN IMMEDIATE")

    def _lock_migrations(self, cur: Any) -> None:
        """BEGIN IMMEDIATE already holds the database's write lock."""


_CASE_COLUMNS = (
    "alert_id, detector, detector_version, severity, score, subject_kind, subject_id, "
    "opened_ts_ms, last_ts_ms, revision, minors_exposed, reason, status"
)


def _case_dict(row: Sequence[Any]) -> dict[str, Any]:
    keys = [k.strip() for k in _CASE_COLUMNS.split(",")]
    return dict(zip(keys, row, strict=True))


def _postgres(dsn: str) -> Connection:
    try:
        import psycopg  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise SystemExit("a PostgreSQL DSN needs psycopg: pip install 'psycopg[binary]'") from exc
    return psycopg.connect(dsn)  # type: ignore[no-any-return,unused-ignore]
