"""Guardline's Kafka topics: what each one carries, how it is keyed, and how to create it.

One place names every topic, so the worker, the CLI and the tests cannot drift apart. All
topics use `cleanup.policy=delete` with a retention: alerts are an append-only history (a case
update is a new record), not a latest-value table, so compaction would drop evidence.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Final, TypedDict

from kafka import KafkaAdminClient, TopicPartition
from kafka import errors as kafka_errors
from kafka.admin import ConfigResource, ConfigResourceType, OffsetSpec
from kafka.errors import InvalidConfigurationError, TopicAlreadyExistsError

from streams import kafka_settings

log = logging.getLogger(__name__)

_DAY_MS: Final = 24 * 60 * 60 * 1000
DEFAULT_PARTITIONS: Final = 4
"""Partitions of every topic unless `ensure_topics(partitions=...)` changes the input's."""


class UnknownTopic(LookupError):
    """A topic asked for by name does not exist on the cluster; the message says what does."""

    def __init__(self, topic: str, bootstrap: str) -> None:
        alerts = ", ".join(spec.name for spec in (ALERTS, PRIORITY, SHADOW))
        super().__init__(
            f"topic {topic!r} does not exist on {bootstrap} (alert topics: {alerts}; "
            "`guardline topics` creates them)"
        )


@dataclass(frozen=True)
class TopicSpec:
    """A topic as Guardline expects it: name, size, retention and what its key means."""

    name: str
    retention_ms: int
    key: str
    purpose: str
    partitions: int = DEFAULT_PARTITIONS
    cleanup_policy: str = "delete"

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError(f"{self.name}: partitions must be >= 1, got {self.partitions}")
        if self.retention_ms < -1 or self.retention_ms == 0:
            raise ValueError(
                f"{self.name}: retention_ms must be > 0 or -1 (forever), got {self.retention_ms}"
            )

    @property
    def configs(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": self.cleanup_policy}


EVENTS: Final = TopicSpec(
    name="guardline.events.v1",
    retention_ms=7 * _DAY_MS,
    key="actor.id",
    purpose="input: one Avro metadata event per message (never content)",
)
ALERTS: Final = TopicSpec(
    name="guardline.alerts.v1",
    retention_ms=30 * _DAY_MS,
    key='subject "KIND:id", e.g. "ACCOUNT:a1"',
    purpose="every alert and case update, any severity",
)
PRIORITY: Final = TopicSpec(
    name="guardline.alerts.priority.v1",
    retention_ms=30 * _DAY_MS,
    key='subject "KIND:id"',
    purpose="HIGH and CRITICAL alerts only: what the moderation queue reads",
)
SHADOW: Final = TopicSpec(
    name="guardline.alerts.shadow.v1",
    retention_ms=7 * _DAY_MS,
    key='subject "KIND:id"',
    purpose="alerts from detectors in shadow mode (evaluated, never queued for moderators)",
)
DEAD_LETTER: Final = TopicSpec(
    name="guardline.deadletter.v1",
    retention_ms=30 * _DAY_MS,
    key="the original message key",
    purpose="input messages that could not be decoded or processed, with the reason",
)

DECISIONS: Final = TopicSpec(
    name="guardline.decisions.v1",
    retention_ms=-1,
    key='the case\'s subject "KIND:id"',
    purpose="moderator decisions (confirm, clear, escalate): fed back to workers and the store",
)

ROUTED: Final = TopicSpec(
    name="guardline.internal.routed.v1",
    retention_ms=_DAY_MS,
    key="none: the partition is chosen from the subject key (crc32 % partitions)",
    purpose="internal: validated events re-keyed by subject (account, device, IP), packed",
)

ALL_TOPICS: Final = (EVENTS, ALERTS, PRIORITY, SHADOW, DEAD_LETTER, DECISIONS, ROUTED)


def topic_specs(partitions: int | None = None) -> tuple[TopicSpec, ...]:
    """All topics; `partitions` overrides the input topic's partition count (parallelism)."""
    if partitions is None:
        return ALL_TOPICS
    scaled = (EVENTS, ROUTED)  # the routed topic and the state table follow the input
    return tuple(replace(s, partitions=partitions) if s in scaled else s for s in ALL_TOPICS)


class TopicInfo(TypedDict):
    name: str
    partitions: int
    end_offsets: int
    """Sum of the partitions' end offsets: messages ever written."""
    messages: int
    """Messages still retained: sum of (end offset - start offset)."""
    known: bool
    """Whether Guardline defines this topic."""


@contextmanager
def _admin(bootstrap: str) -> Iterator[Any]:
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="guardline-topics",
        **kafka_settings.current().kafka_python(),
    )
    try:
        yield admin
    finally:
        admin.close()


def _partition_counts(admin: Any, names: list[str] | None = None) -> dict[str, int]:
    """Partition count per existing topic (internal topics left out)."""
    return {
        t["name"]: len(t["partitions"])
        for t in admin.describe_topics(names)
        if t["error_code"] == 0 and not t.get("is_internal", False)
    }


def _creatable(spec: TopicSpec, *, with_configs: bool) -> dict[str, Any]:
    cluster = kafka_settings.current()
    topic: dict[str, Any] = {
        "num_partitions": spec.partitions,
        "replication_factor": cluster.replication_factor,
    }
    if with_configs:
        topic["configs"] = spec.configs | cluster.topic_configs()
    return topic


def ensure_topics(bootstrap: str, partitions: int | None = None) -> list[str]:
    """Create the missing Guardline topics; return the names created (idempotent).

    `partitions` sets the input topic's partition count. See `ensure_specs` for the rest.
    """
    return ensure_specs(bootstrap, topic_specs(partitions))


def ensure_specs(bootstrap: str, specs: Iterable[TopicSpec]) -> list[str]:
    """Create the topics of `specs` that are missing; return the names created.

    An existing topic with fewer partitions than specified is grown (keys then map to other
    partitions, so per-key order only holds from then on), with a warning; none is shrunk.
    If the broker refuses a topic's configs, it is created with the broker's defaults and a
    warning says so. Replication factor and `min.insync.replicas` come from the Kafka settings
    (`streams/kafka_settings.py`; default 1 and the broker's, fit for the embedded broker);
    `check_topics` reports an existing topic that differs.
    """
    specs = list(specs)
    with _admin(bootstrap) as admin:
        existing = _partition_counts(admin)
        missing = [s for s in specs if s.name not in existing]
        created = _create(admin, missing, existing) if missing else []
        _grow(admin, specs, existing)
    return created


def _create(admin: Any, missing: list[TopicSpec], existing: dict[str, int]) -> list[str]:
    """Create `missing`; topics created meanwhile by someone else are added to `existing`."""
    answer = admin.create_topics(
        {s.name: _creatable(s, with_configs=True) for s in missing}, raise_errors=False
    )
    codes = {t["name"]: (t["error_code"], t["error_message"]) for t in answer["topics"]}
    created: list[str] = []
    refused: list[TopicSpec] = []
    for spec in missing:
        code, message = codes[spec.name]
        if code == 0:
            created.append(spec.name)
        elif code == TopicAlreadyExistsError.errno:
            existing.update(_partition_counts(admin, [spec.name]))
        elif code == InvalidConfigurationError.errno:
            refused.append(spec)
        else:
            raise kafka_errors.for_code(code)(f"creating {spec.name}: {message}")
    for spec in refused:
        log.warning(
            "the broker refused the configs %s of topic %s (%s); created with its defaults",
            spec.configs,
            spec.name,
            codes[spec.name][1],
        )
    if refused:
        admin.create_topics({s.name: _creatable(s, with_configs=False) for s in refused})
        created += [s.name for s in refused]
    if created:
        admin.wait_for_topics(created)
    return created


def _grow(admin: Any, specs: list[TopicSpec], existing: dict[str, int]) -> None:
    """Add partitions where an existing topic has fewer than specified; warn either way."""
    grow: dict[str, int] = {}
    for spec in specs:
        have = existing.get(spec.name, spec.partitions)
        if have < spec.partitions:
            grow[spec.name] = spec.partitions
            log.warning(
                "growing topic %s from %d to %d partitions", spec.name, have, spec.partitions
            )
        elif have > spec.partitions:
            log.warning(
                "topic %s has %d partitions, more than the %d asked; left as is (partitions"
                " never shrink): size the worker's tables to the topic",
                spec.name,
                have,
                spec.partitions,
            )
    if grow:
        admin.create_partitions(grow)


def _offsets(admin: Any, partitions: list[TopicPartition], spec: Any) -> dict[Any, int]:
    if not partitions:
        return {}
    answer = admin.list_partition_offsets({tp: spec for tp in partitions})
    return {tp: int(o.offset) for tp, o in answer.items()}


def describe_topics(bootstrap: str) -> list[TopicInfo]:
    """Every non-internal topic with its partitions and message counts (`guardline topics`)."""
    known = {s.name for s in ALL_TOPICS}
    with _admin(bootstrap) as admin:
        counts = _partition_counts(admin)
        tps = [TopicPartition(name, p) for name, n in counts.items() for p in range(n)]
        ends = _offsets(admin, tps, OffsetSpec.LATEST)
        starts = _offsets(admin, tps, OffsetSpec.EARLIEST)
    infos: list[TopicInfo] = []
    for name in sorted(counts):
        mine = [tp for tp in tps if tp.topic == name]
        infos.append(
            TopicInfo(
                name=name,
                partitions=counts[name],
                end_offsets=sum(ends[tp] for tp in mine),
                messages=sum(ends[tp] - starts[tp] for tp in mine),
                known=name in known,
            )
        )
    return infos


def consumer_lag(bootstrap: str, group_id: str, topic: str) -> dict[int, int]:
    """Messages the group has not committed yet, per partition of `topic`.

    A partition without a committed offset counts every retained message as lag (what a
    group with `auto_offset_reset=earliest` would still read).
    """
    with _admin(bootstrap) as admin:
        count = _partition_counts(admin, [topic]).get(topic)
        if count is None:
            raise kafka_errors.UnknownTopicOrPartitionError(f"no topic {topic!r}")
        tps = [TopicPartition(topic, p) for p in range(count)]
        committed = admin.list_group_offsets({group_id: tps}).get(group_id, {})
        ends = _offsets(admin, tps, OffsetSpec.LATEST)
        starts = _offsets(admin, tps, OffsetSpec.EARLIEST)
    lag: dict[int, int] = {}
    for tp in tps:
        done = committed.get(tp)
        position = done.offset if done is not None and done.offset >= 0 else starts[tp]
        lag[tp.partition] = max(0, ends[tp] - max(position, starts[tp]))
    return lag


def faust_topics(app_id: str, partitions: int) -> dict[str, int]:
    """The worker's Faust-made topics and their partition counts: the state table's changelog
    (co-partitioned with the routed topic) and the assignor's leader topic."""
    return {f"{app_id}-guardline-state-changelog": partitions, f"{app_id}-__assignor-__leader": 1}


def check_topics(
    bootstrap: str, partitions: int | None = None, app_id: str = "guardline"
) -> list[str]:
    """What differs between the cluster's topics and what Guardline's settings ask for.

    Checks partitions, replication factor and configs (retention, cleanup policy,
    `min.insync.replicas`) of Guardline's topics, and the replication factor and
    `min.insync.replicas` of the worker's Faust topics once they exist. Empty: all match.
    """
    cluster = kafka_settings.current()
    specs = topic_specs(partitions)
    scaled = partitions or DEFAULT_PARTITIONS
    wanted: dict[str, tuple[int | None, dict[str, str]]] = {
        s.name: (s.partitions, s.configs | cluster.topic_configs()) for s in specs
    }
    internal = faust_topics(app_id, scaled)
    changelog = next(iter(internal))
    with _admin(bootstrap) as admin:
        described = {t["name"]: t for t in admin.describe_topics() if t["error_code"] == 0}
        for name, size in internal.items():
            if name in described:
                configs = cluster.topic_configs() if name == changelog else {}
                wanted[name] = (size, configs)
        present = [name for name in wanted if name in described]
        actual = _topic_configs(admin, present)
    problems: list[str] = []
    for name, (count, configs) in wanted.items():
        topic = described.get(name)
        if topic is None:
            problems.append(f"{name}: missing (`guardline topics` creates it)")
            continue
        have = len(topic["partitions"])
        if count is not None and have != count:
            problems.append(f"{name}: {have} partitions, the settings ask for {count}")
        replicas = {len(p["replica_nodes"]) for p in topic["partitions"]}
        if replicas != {cluster.replication_factor}:
            found = "/".join(str(r) for r in sorted(replicas))
            problems.append(
                f"{name}: replication factor {found}, the settings ask for "
                f"{cluster.replication_factor} (replication.factor)"
            )
        for key, value in configs.items():
            got = actual.get(name, {}).get(key)
            if got != value:
                problems.append(
                    f"{name}: {key}={got or '(broker default)'}, the settings ask for {value}"
                )
    return problems


def _topic_configs(admin: Any, names: list[str]) -> dict[str, dict[str, str]]:
    """Config values per topic, as the broker reports them (unset ones may be left out)."""
    if not names:
        return {}
    answer = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    topics_answer = answer.get("topic", {}) if isinstance(answer, dict) else {}
    return {
        name: {key: str(entry["value"]) for key, entry in configs.items()}
        for name, configs in topics_answer.items()
    }
