"""Nothing lost, nothing doubled: crash, broker restart, rebalance and replay (issue 7).

Real noida-db, real `guardline worker` processes. The reference for every scenario is the
backtest of the same events (stream == backtest parity is proven in test_stream.py), compared
as a moderation queue sees the alert topic:

* the set of published (alert_id, revision) pairs must equal the backtest's: nothing lost,
  no case opened twice, no revision invented;
* the same (alert_id, revision) published twice is a *redelivery duplicate*. At-least-once
  delivery allows it after a crash (the alert reached the broker, the offset commit did not),
  so consumers dedupe on (alert_id, revision) (README, "Semantics worth knowing"); the copies
  must then be identical apart from `emitted_at`, which these tests check, and the tests
  print how many there were.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from streams import topics
from streams.backtest import run_backtest
from streams.broker import EmbeddedBroker
from streams.config import GuardlineConfig, load_config
from streams.jsonl import event_to_json, write_jsonl
from streams.model import Alert, Event
from streams.ops.launcher import free_port, start_worker, stop_worker, wait_ready
from streams.ops.totals import read_stats
from streams.pipeline.envelope import unpack
from streams.produce import make_producer, produce_file, send_events
from streams.simulate import SimulationConfig, simulate
from tests.streaming import (
    CONFIG,
    CONFIG_PATH,
    WITH_CONFIG,
    EnvironmentFailure,
    assert_same_outputs,
    committed_total,
    drained,
    expected_topics,
    input_assignment,
    message_count,
    pairs,
    persisted,
    read_alerts,
    read_outputs,
    readyz,
    redeliveries,
    running_worker,
    wait_drained,
    wait_for,
)

pytestmark = [pytest.mark.broker, pytest.mark.slow]


# ~2,300 events over 8 h of event time, 18 cases / 66 alert revisions across three detectors:
# small enough for 2 shared cores, big enough that cases span a crash.
SMALL = SimulationConfig(
    seed=11,
    normal_users=300,
    groups=30,
    duration_ms=8 * 3_600_000,
    scenarios=("fast_contact_burst", "mass_add", "sextortion", "combined_attacker"),
)


@pytest.fixture(scope="module")
def small() -> tuple[list[Event], list[Alert]]:
    events = simulate(SMALL).events
    expected = run_backtest(events, CONFIG)
    split = expected_topics(expected, CONFIG)
    assert all(split.values()), "every alert topic must have something to compare"
    return events, expected


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker of the test's own, so its topics hold only this test's data."""
    with EmbeddedBroker(data_dir=tmp_path / "broker") as b:
        topics.ensure_topics(b.bootstrap)
        yield b


def wait_complete(
    bootstrap: str,
    app_id: str,
    expected: list[Alert],
    timeout_s: float,
    config: GuardlineConfig = CONFIG,
) -> list[Alert]:
    """Until the group has committed all input: then every output topic must equal the
    backtest's (no dead letters); returns the alert topic."""
    got = wait_drained(bootstrap, app_id, timeout_s)
    assert_same_outputs(got, expected, config)
    return got.alerts


def message_id(alert: Alert) -> tuple[str, int, int]:
    return alert.alert_id, alert.revision, alert.emitted_at_ms


def set_minus(alerts: list[Alert], minus: list[Alert]) -> list[Alert]:
    gone = pairs(minus)
    return [a for a in alerts if (a.alert_id, a.revision) not in gone]


class PacedProducer(threading.Thread):
    """Sends events at a steady rate in the background, so a crash lands mid-stream.

    With `hold_at`, it stops after that many events until `release()`: however slow a loaded
    machine makes the worker, the stream is still flowing when the test acts.
    """

    def __init__(
        self, bootstrap: str, events: list[Event], rate_per_s: float, hold_at: int | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.events, self.rate = bootstrap, events, rate_per_s
        self.hold_at = len(events) if hold_at is None else hold_at
        self.released = threading.Event()
        if hold_at is None:
            self.released.set()
        self.sent = 0
        self.error: BaseException | None = None

    def release(self) -> None:
        self.released.set()

    def run(self) -> None:
        try:
            producer = make_producer(self.bootstrap)
            self.sent = send_events(producer, self.events[: self.hold_at], rate_per_s=self.rate)
            self.released.wait()
            rest = self.events[self.hold_at :]
            self.sent += send_events(producer, rest, rate_per_s=self.rate)
        except BaseException as exc:  # surfaced by finish()
            self.error = exc

    def finish(self, timeout_s: float = 120) -> None:
        self.join(timeout_s)
        assert not self.is_alive(), "producer did not finish"
        assert self.error is None, self.error
        assert self.sent == len(self.events)


@pytest.mark.parametrize("disk", ["same_disk", "new_disk"])
def test_worker_sigkill_mid_stream_loses_nothing_and_keeps_its_state(
    broker: EmbeddedBroker, tmp_path: Path, small: tuple[list[Event], list[Alert]], disk: str
) -> None:
    """SIGKILL mid-stream, restart with the same --instance-id: same alerts as the backtest.

    same_disk: the state comes back from the local RocksDB store; new_disk (a pod rescheduled
    elsewhere): only from the table's changelog topic.
    """
    events, expected = small
    bootstrap, app_id = broker.bootstrap, "crash"
    worker = ("--instance-id", "crash-w1", *WITH_CONFIG)
    proc, ready, log = start_worker(bootstrap, tmp_path, app_id=app_id, extra=worker)
    wait_ready(proc, ready, log, timeout_s=60)
    producer = PacedProducer(bootstrap, events, rate_per_s=250, hold_at=len(events) * 2 // 3)
    producer.start()
    wait_for(
        lambda: message_count(bootstrap, topics.ALERTS.name) >= 20
        and committed_total(bootstrap, app_id, topics.EVENTS.name) > 0,
        60, "alerts and a first commit", interval_s=0.1,
    )  # fmt: skip
    proc.kill()  # SIGKILL: no flush, no commit, no LeaveGroup
    proc.wait()
    killed_at = time.monotonic()
    assert producer.sent < len(events), "the stream must still be flowing when the worker dies"
    producer.release()
    before = read_alerts(bootstrap)
    alerts_at_kill = len(before)
    committed_at_kill = committed_total(bootstrap, app_id, topics.EVENTS.name)

    restarted = time.monotonic()
    name = "worker-1" if disk == "same_disk" else "worker-1-elsewhere"
    proc, ready, log = start_worker(bootstrap, tmp_path, app_id=app_id, name=name, extra=worker)
    try:
        wait_ready(proc, ready, log, timeout_s=60)
        assigned_s = time.monotonic() - restarted
        wait_for(
            lambda: message_count(bootstrap, topics.ALERTS.name) > alerts_at_kill
            or committed_total(bootstrap, app_id, topics.EVENTS.name) > committed_at_kill,
            60, "the restarted worker to make progress", interval_s=0.1,
        )  # fmt: skip
        progress_s = time.monotonic() - restarted
        producer.finish()
        got = wait_complete(bootstrap, app_id, expected, timeout_s=180)
    finally:
        stop_worker(proc)
    # State survived: the restarted worker resumed after committed input (not from scratch),
    # yet every count matches the backtest; cases opened before the kill grew after it.
    assert committed_at_kill > 0
    spanning = {a.alert_id for a in before} & {a.alert_id for a in set_minus(got, before)}
    print(
        f"\ncrash ({disk}): {len(events)} events, {alerts_at_kill} alerts before the kill"
        f" (input offsets committed: {committed_at_kill}), {len(got)} at the end:"
        f" {len(pairs(got))} distinct (alert_id, revision), {redeliveries(got)} redelivered,"
        f" {len(spanning)} cases spanning the crash; down {restarted - killed_at:.1f} s,"
        f" partitions back {assigned_s:.1f} s and first progress {progress_s:.1f} s after restart"
    )


def events_below_the_commit(bootstrap: str, group_id: str) -> int:
    """Routed events in packets below the group's committed offsets: the ones a restart
    never reads again."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        count = len(admin.describe_topics([topics.ROUTED.name])[0]["partitions"])
        tps = [TopicPartition(topics.ROUTED.name, p) for p in range(count)]
        committed = admin.list_group_offsets({group_id: tps}).get(group_id, {})
    finally:
        admin.close()
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None,
        enable_auto_commit=False, consumer_timeout_ms=1500,
    )  # fmt: skip
    consumer.assign(tps)
    try:
        return sum(
            len(unpack(record.value).items)
            for record in consumer
            if record.offset < committed[TopicPartition(record.topic, record.partition)].offset
        )
    finally:
        consumer.close()


def test_sigkill_while_the_watermark_holds_every_event_loses_nothing(
    broker: EmbeddedBroker, tmp_path: Path, small: tuple[list[Event], list[Alert]]
) -> None:
    """The commit never passes a routed packet still waiting for the watermark.

    With an allowed lateness longer than the stream, every routed packet with events waits in
    the reorder buffer, while the watermark-only packets between them (12 partitions: a
    source's batch often has nothing for a destination) are acked at once. Faust's own commit
    rule passes a waiting packet followed by an acked one (`streams/adapters/faust/consumer.py`):
    ~20 events sat below the commit at the kill in such a run, lost to the restart.
    """
    events, _ = small
    partitions = 12
    topics.ensure_topics(broker.bootstrap, partitions)  # grows the fixture's empty topics
    config = tmp_path / "hold.toml"  # a lateness of a day: holds it all
    config.write_text(CONFIG_PATH.read_text() + "\n[engine]\nallowed_lateness_ms = 86400000\n")
    hold_config = load_config(config)
    expected = run_backtest(events, hold_config)
    bootstrap, app_id, stats = broker.bootstrap, "hold", tmp_path / "stats.json"
    # Input partitions go idle only after the stream, whatever the machine's load.
    extra = ("--instance-id", "hold-w1", "--config", str(config), "--idle-after", "5")
    extra += ("--partitions", str(partitions))
    proc, ready, log = start_worker(
        bootstrap, tmp_path, app_id=app_id, extra=(*extra, "--stats-file", str(stats))
    )
    wait_ready(proc, ready, log, timeout_s=60)
    producer = PacedProducer(bootstrap, events, rate_per_s=150)
    producer.start()
    wait_for(
        lambda: committed_total(bootstrap, app_id, topics.EVENTS.name) > 0, 60, "a first commit",
        interval_s=0.1,
    )  # fmt: skip
    first = committed_total(bootstrap, app_id, topics.EVENTS.name)
    wait_for(
        lambda: committed_total(bootstrap, app_id, topics.EVENTS.name) > first, 60,
        "a second commit round (routed offsets are committed in the same rounds)", interval_s=0.1,
    )  # fmt: skip
    proc.kill()
    proc.wait()
    # The premise: the stream still flowed, no input partition had gone idle, so not one
    # event had been applied; every routed packet with events was still waiting.
    assert producer.sent < len(events), "the stream must still be flowing when the worker dies"
    totals = read_stats(stats)
    assert totals["routed"] > 0 and totals["applied"] == 0, totals
    assert events_below_the_commit(bootstrap, app_id) == 0
    routed_committed = committed_total(bootstrap, app_id, topics.ROUTED.name)
    proc, ready, log = start_worker(bootstrap, tmp_path, app_id=app_id, name="w2", extra=extra)
    try:
        wait_ready(proc, ready, log, timeout_s=60)
        producer.finish()
        got = wait_complete(bootstrap, app_id, expected, timeout_s=180, config=hold_config)
    finally:
        stop_worker(proc)
    print(
        f"\nheld watermark: {totals['routed']} events routed, none applied, at the kill;"
        f" {routed_committed} routed offsets committed (watermark-only packets); {len(got)} alerts"
    )


def test_broker_kill_9_and_restart_workers_reconnect_and_finish(
    broker: EmbeddedBroker, tmp_path: Path, small: tuple[list[Event], list[Alert]]
) -> None:
    """kill -9 the broker under a running worker, restart it on the same data dir.

    noida-db keeps only what it snapshotted (about once a second; real Kafka keeps every
    acknowledged write), so the first half is produced and processed, then the kill waits for
    the broker's next snapshot; the second half is produced after the restart. (The kill under
    load, with writes in flight: `test_broker_kill_9_under_load_*`.)
    """
    events, expected = small
    half = len(events) // 2
    bootstrap, app_id, port = broker.bootstrap, "brokercrash", free_port()
    worker = ("--instance-id", "b-w1", *WITH_CONFIG)
    proc, ready, log = start_worker(
        bootstrap, tmp_path, app_id=app_id, extra=worker, metrics_port=port
    )
    try:
        wait_ready(proc, ready, log, timeout_s=60)
        send_events(make_producer(bootstrap), events[:half])
        wait_for(lambda: drained(bootstrap, app_id), 120, "the first half processed")
        alerts_before = message_count(bootstrap, topics.ALERTS.name)
        wait_for(lambda: persisted(broker), 30, "noida-db to save every record", 0.1)
        broker.kill()
        wait_for(lambda: readyz(port) == 503, 30, "the worker to see the broker gone", 0.1)
        assert proc.poll() is None, "a broker outage must not kill the worker"
        restarted = time.monotonic()
        broker.start()
        assert message_count(bootstrap, topics.ALERTS.name) == alerts_before, "data kept"
        send_events(make_producer(bootstrap), events[half:])
        wait_for(
            lambda: message_count(bootstrap, topics.ALERTS.name) > alerts_before,
            120, "the worker to make progress after the broker restart", interval_s=0.1,
        )  # fmt: skip
        progress_s = time.monotonic() - restarted
        got = wait_complete(bootstrap, app_id, expected, timeout_s=180)
        assert proc.poll() is None
    finally:
        stop_worker(proc)
    print(
        f"\nbroker kill -9: {alerts_before} alerts before, {len(got)} after"
        f" ({redeliveries(got)} redelivered); first new alert {progress_s:.1f} s after restart"
    )


def assigned(ready: Path) -> list[int]:
    """Input partitions a worker holds now (it rewrites its ready file on every assignment)."""
    text = ready.read_text().strip() if ready.exists() else ""
    return [int(p) for p in text.split(",") if p]


# Real Kafka drops a member that stops heartbeating after session.timeout.ms; the workers here
# use 6 s (Faust reads BROKER_SESSION_TIMEOUT), so "worker 2 takes every partition within 30 s"
# holds on Kafka. noida-db never expires members (see ../shared/README.md and README.md).
SESSION_TIMEOUT_S = 6
NOIDA_NEVER_EXPIRES_MEMBERS = (
    "noida-db defect: a consumer-group member that stopped is never expired (no"
    " session.timeout.ms), so a static member's partitions stay assigned to it and the group"
    " never rebalances; real Kafka rebalances after the session timeout"
)
GROUP_RECOVERIES = 2  # `noida-db restart kafka` tries before a stuck group fails the run


class MemberNeverExpired(Exception):
    """noida-db's defect, observed: a stopped static member still holds input partitions."""


def settle(
    broker: EmbeddedBroker, app_id: str, done: Callable[[], object], what: str, timeout_s: float
) -> int:
    """Wait for a group change; if noida-db leaves the group stuck, apply its documented
    recovery (`noida-db restart kafka`) up to GROUP_RECOVERIES times, then fail the run as an
    environment failure. Returns the recoveries used."""
    for recoveries in range(GROUP_RECOVERIES + 1):
        try:
            wait_for(done, timeout_s, what, interval_s=0.2)
            return recoveries
        except AssertionError:
            if recoveries == GROUP_RECOVERIES:
                raise EnvironmentFailure(
                    f"noida-db group stuck: {what} not reached after {recoveries} group"
                    f" restarts; members {input_assignment(broker.bootstrap, app_id)}"
                ) from None
            print(f"\nnoida-db group stuck ({what}): `noida-db restart kafka`", end=" ")
            broker.restart_kafka()
    raise AssertionError("unreachable")


def run_rebalance(
    broker: EmbeddedBroker,
    tmp_path: Path,
    events: list[Event],
    expected: list[Alert],
    *,
    reset_group: bool,
) -> None:
    """Worker 1 alone; worker 2 joins mid-stream (partitions and their state move to it);
    worker 1 is then removed for good and worker 2 must finish the stream alone.

    Both use static membership (--instance-id), the measured workaround for restarts on
    noida-db. `reset_group` adds the embedded broker's recovery step for a removed worker:
    `noida-db restart kafka` (what `EmbeddedBroker.restart_kafka()` runs). Without it, the
    hand-over to worker 2 either happens (real Kafka) or fails with MemberNeverExpired, only
    when the group description shows the stopped worker still holding input partitions and
    every alert published so far is the backtest's.
    """
    bootstrap, app_id = broker.bootstrap, "rebalance"
    one, ready1, log1 = start_worker(
        bootstrap, tmp_path, app_id=app_id, name="w1", extra=("--instance-id", "r-w1", *WITH_CONFIG)
    )
    two = None
    try:
        wait_ready(one, ready1, log1, timeout_s=60)
        assert assigned(ready1) == [0, 1, 2, 3]
        # The last third waits for the split, however long the join takes here.
        producer = PacedProducer(bootstrap, events, rate_per_s=120, hold_at=len(events) * 2 // 3)
        producer.start()
        wait_for(lambda: message_count(bootstrap, topics.ALERTS.name) >= 10, 60, "alerts", 0.1)
        two, ready2, log2 = start_worker(
            bootstrap,
            tmp_path,
            app_id=app_id,
            name="w2",
            extra=("--instance-id", "r-w2", *WITH_CONFIG),
        )
        wait_ready(two, ready2, log2, timeout_s=60)

        def split_between_both() -> tuple[list[int], list[int]] | None:
            a, b = assigned(ready1), assigned(ready2)
            return (a, b) if a and b and sorted(a + b) == [0, 1, 2, 3] else None

        # Seen on noida-db in about 1 of 10 loaded runs: the join rebalance never completes
        # (the group keeps the old assignment); real Kafka completes the join by itself.
        recoveries = settle(broker, app_id, split_between_both, "the partitions split", 45)
        split = split_between_both()
        assert producer.is_alive(), "worker 2 must join mid-stream"
        producer.release()
        wait_for(lambda: message_count(bootstrap, topics.ALERTS.name) >= 30, 60, "alerts", 0.1)
        stop_worker(one)
        everything = lambda: assigned(ready2) == [0, 1, 2, 3]  # noqa: E731
        if reset_group:
            broker.restart_kafka()
            recoveries += settle(broker, app_id, everything, "worker 2 to take every partition", 30)
        else:
            try:
                wait_for(everything, 5 * SESSION_TIMEOUT_S, "worker 2 to take every partition")
            except AssertionError as err:
                held = input_assignment(bootstrap, app_id).get("r-w1")
                if not held:
                    raise
                # Nothing published so far may differ from the backtest.
                assert_same_outputs(read_outputs(bootstrap), expected, CONFIG, complete=False)
                raise MemberNeverExpired(
                    f"{err}: the stopped member r-w1 still holds input partitions {held}"
                ) from None
        producer.finish()
        got = wait_complete(bootstrap, app_id, expected, timeout_s=180)
    finally:
        stop_worker(one)
        if two is not None:
            stop_worker(two)
    print(f"\nrebalance: split {split}, then all to worker 2; {len(got)} alerts,", end=" ")
    print(f"{redeliveries(got)} redelivered; {recoveries} noida-db group restarts for a stuck join")


@pytest.fixture
def short_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER_SESSION_TIMEOUT", str(SESSION_TIMEOUT_S))
    monkeypatch.setenv("BROKER_HEARTBEAT_INTERVAL", "1")


def test_rebalance_scale_out_then_in_on_noida_db(
    broker: EmbeddedBroker,
    tmp_path: Path,
    small: tuple[list[Event], list[Alert]],
    short_sessions: None,
) -> None:
    """Expected to fail on one defect only (NOIDA_NEVER_EXPIRES_MEMBERS), named by what the
    group description shows; a lost or extra alert, or any other failure, fails the test, and
    so does a run without the defect (noida-db fixed: make this a plain test)."""
    try:
        run_rebalance(broker, tmp_path, *small, reset_group=False)
    except MemberNeverExpired as defect:
        pytest.xfail(f"{NOIDA_NEVER_EXPIRES_MEMBERS}. Seen: {defect}")
    pytest.fail("noida-db expired the stopped member: the defect is gone, make this a plain test")


# Lost one case revision in 1 of 7 runs while the worker saved state before its alerts were
# acknowledged (a stop in between dropped the alert); 8 of 8 since alerts are delivered first.
# In ~1 of 12 runs the input commit of one partition then stopped for good after the hand-over
# (lag 508, every alert published): Faust's offset bookkeeping raced the rebalance and waited
# for offsets it would never deliver again. The worker now has them read again
# (streams/adapters/faust/commits.py, tests/adapters/faust/test_commits.py).
def test_rebalance_scale_out_then_in_with_group_reset(
    broker: EmbeddedBroker,
    tmp_path: Path,
    small: tuple[list[Event], list[Alert]],
    short_sessions: None,
) -> None:
    run_rebalance(broker, tmp_path, *small, reset_group=True)


def test_replaying_the_same_file_adds_no_alert_and_counts_nothing_twice(
    broker: EmbeddedBroker, tmp_path: Path, small: tuple[list[Event], list[Alert]]
) -> None:
    """`guardline produce FILE` twice: the second pass is skipped by each subject's mark."""
    events, expected = small
    path = tmp_path / "events.jsonl"
    write_jsonl(path, (event_to_json(e) for e in events))
    bootstrap, app_id = broker.bootstrap, "replay"
    with running_worker(bootstrap, tmp_path, app_id, "--instance-id", "replay-w1", *WITH_CONFIG):
        first = produce_file(path, bootstrap, show_progress=False)
        assert (first.sent, first.errors) == (len(events), [])
        once = wait_complete(bootstrap, app_id, expected, timeout_s=180)
        second = produce_file(path, bootstrap, show_progress=False)
        assert second.sent == len(events)
        twice = wait_drained(bootstrap, app_id, 180)
    assert message_count(bootstrap, topics.EVENTS.name) == 2 * len(events)
    assert_same_outputs(twice, expected, CONFIG)
    # Same messages (emitted_at tells two publications apart), whatever the read order.
    assert Counter(map(message_id, twice.alerts)) == Counter(map(message_id, once)), (
        "replay alerted"
    )


def test_backtest_of_a_file_given_twice_equals_the_file_once(
    small: tuple[list[Event], list[Alert]],
) -> None:
    events, expected = small
    doubled = run_backtest(events + events[::-1], CONFIG)
    assert [(a.alert_id, a.revision, a.features) for a in doubled] == [
        (a.alert_id, a.revision, a.features) for a in expected
    ]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def test_overload_burst_lag_grows_then_drains_nothing_lost_memory_bounded(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """~13k events at once, waiting in Kafka before the worker starts (with the batch intake a
    worker can keep up with the producer's full speed, so a burst sent to a running worker may
    never build a backlog): the backlog waits in Kafka, not in the worker's memory."""
    scenarios = ("fast_contact_burst", "mass_add", "sextortion", "combined_attacker", "ban_evasion")
    sim = SimulationConfig(
        seed=5, normal_users=400, groups=40, duration_ms=18 * 3_600_000, scenarios=scenarios
    )
    events = simulate(sim).events
    expected = run_backtest(events, CONFIG)
    bootstrap, app_id = broker.bootstrap, "overload"
    send_events(make_producer(bootstrap), events)
    proc, ready, log = start_worker(bootstrap, tmp_path, app_id=app_id, extra=WITH_CONFIG)
    try:
        wait_ready(proc, ready, log, timeout_s=60)
        baseline = rss_mib(proc.pid)
        peak_lag, peak_rss, samples = 0, baseline, 0
        deadline = time.monotonic() + 300
        while True:
            lag = sum(topics.consumer_lag(bootstrap, app_id, topics.EVENTS.name).values())
            peak_lag, peak_rss = max(peak_lag, lag), max(peak_rss, rss_mib(proc.pid))
            samples += 1
            if lag == 0 and drained(bootstrap, app_id):
                break
            assert time.monotonic() < deadline, f"lag still {lag} after 300 s"
            time.sleep(0.25)
        got = wait_complete(bootstrap, app_id, expected, timeout_s=120)
        assert proc.poll() is None
    finally:
        stop_worker(proc)
    assert peak_lag >= len(events) // 4, "the burst never built a backlog: not an overload"
    # nothing lost (and the input is fully committed): checked in wait_complete
    # Bounded: Faust's fetch buffers and one batch, not the backlog.
    assert peak_rss - baseline < 200, f"RSS grew {peak_rss - baseline:.0f} MiB"
    print(
        f"\noverload: {len(events)} events at once; peak input lag {peak_lag}, drained;"
        f" {len(got)} alerts == backtest; RSS {baseline:.0f} -> peak {peak_rss:.0f} MiB"
        f" ({samples} samples)"
    )
