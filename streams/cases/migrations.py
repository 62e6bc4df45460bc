"""The case store's schema, as numbered migrations applied in order, each exactly once.

Plain SQL that SQLite and PostgreSQL both accept (TEXT, BIGINT, DOUBLE PRECISION, composite
primary keys, ON CONFLICT): one list serves both. A migration is never edited once released;
a change is a new, higher-numbered one.
"""

from __future__ import annotations

from typing import Final

MIGRATIONS: Final[tuple[tuple[int, str, tuple[str, ...]], ...]] = (
    (
        1,
        "alert revisions, cases, decisions, feed offsets",
        (
            """CREATE TABLE alert_revisions (
                alert_id TEXT NOT NULL,
                revision INTEGER NOT NULL,
                detector TEXT NOT NULL,
                severity TEXT NOT NULL,
                score DOUBLE PRECISION NOT NULL,
                trigger_ts_ms BIGINT NOT NULL,
                minors_exposed INTEGER NOT NULL,
                payload TEXT NOT NULL,
                PRIMARY KEY (alert_id, revision))""",
            """CREATE TABLE cases (
                alert_id TEXT PRIMARY KEY,
                detector TEXT NOT NULL,
                detector_version TEXT NOT NULL,
                severity TEXT NOT NULL,
                severity_rank INTEGER NOT NULL,
                score DOUBLE PRECISION NOT NULL,
                subject_kind TEXT NOT NULL,
                subject_id TEXT NOT NULL,
                opened_ts_ms BIGINT NOT NULL,
                last_ts_ms BIGINT NOT NULL,
                revision INTEGER NOT NULL,
                minors_exposed INTEGER NOT NULL,
                reason TEXT NOT NULL,
                status TEXT NOT NULL)""",
            "CREATE INDEX cases_rank ON cases (status, severity_rank, score, minors_exposed)",
            """CREATE TABLE case_nodes (
                alert_id TEXT NOT NULL,
                node TEXT NOT NULL,
                role TEXT NOT NULL,
                PRIMARY KEY (alert_id, node))""",
            "CREATE INDEX case_nodes_node ON case_nodes (node)",
            """CREATE TABLE decisions (
                decision_id TEXT PRIMARY KEY,
                alert_id TEXT NOT NULL,
                action TEXT NOT NULL,
                moderator TEXT NOT NULL,
                note TEXT NOT NULL,
                decided_at_ms BIGINT NOT NULL)""",
            "CREATE INDEX decisions_case ON decisions (alert_id)",
            """CREATE TABLE feed_offsets (
                topic TEXT NOT NULL,
                partition_no INTEGER NOT NULL,
                next_offset BIGINT NOT NULL,
                PRIMARY KEY (topic, partition_no))""",
        ),
    ),
    (
        2,
        "metadata events behind the evidence, and the devices, IPs and groups they name",
        (
            """CREATE TABLE evidence_events (
                event_id TEXT PRIMARY KEY,
                ts_ms BIGINT NOT NULL,
                payload TEXT NOT NULL)""",
            "CREATE INDEX evidence_events_ts ON evidence_events (ts_ms)",
            """CREATE TABLE event_nodes (
                event_id TEXT NOT NULL,
                node TEXT NOT NULL,
                PRIMARY KEY (event_id, node))""",
            "CREATE INDEX event_nodes_node ON event_nodes (node)",
            """CREATE TABLE case_evidence (
                alert_id TEXT NOT NULL,
                event_id TEXT NOT NULL,
                PRIMARY KEY (alert_id, event_id))""",
            "CREATE INDEX case_evidence_event ON case_evidence (event_id)",
        ),
    ),
)

VERSION_TABLE: Final = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at_ms BIGINT NOT NULL)"""

LATEST: Final = MIGRATIONS[-1][0]
