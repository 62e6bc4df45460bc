"""`guardline cases ...`: serve the store and the web view, decide, export."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from streams import topics
from streams.broker import BOOTSTRAP_ENV, external_bootstrap
from streams.cases.store import CaseStore
from streams.codec import SchemaResolver, encode_decision
from streams.model import Action, Decision
from streams.registry import REGISTRY_ENV

DEFAULT_DB = Path("guardline-cases.db")
DB_ENV = "GUARDLINE_CASES_DB"
DEFAULT_PORT = 8710


def _bootstrap(args: argparse.Namespace) -> str:
    value: str | None = args.bootstrap or external_bootstrap()
    if not value:
        raise SystemExit(
            f"error: no Kafka cluster given. Pass --bootstrap HOST:PORT or set {BOOTSTRAP_ENV}."
        )
    return value


def _resolver(args: argparse.Namespace) -> SchemaResolver | None:
    """The schema registry, for alerts and events a registry-configured worker framed the
    Confluent way (a bad or unreachable URL: RegistryError, one line from `main`)."""
    from streams.registry import connect, registry_url

    url = registry_url(args.schema_registry)
    return None if url is None else connect(url)


def _store(args: argparse.Namespace) -> CaseStore:
    target = args.db or os.environ.get(DB_ENV) or DEFAULT_DB
    try:
        return CaseStore.open(target)
    except Exception as exc:  # a bad path or an unreachable PostgreSQL: one line, no traceback
        raise SystemExit(f"error: cannot open the case store: {type(exc).__name__}: {exc}") from exc


def decision_sender(bootstrap: str) -> Callable[[Decision], None]:
    """Send a decision to the decisions topic and wait for the broker's ack (a KafkaError
    when it cannot). The producer connects on first use."""
    from kafka import KafkaProducer

    producers: list[KafkaProducer] = []
    lock = threading.Lock()

    def send(decision: Decision) -> None:
        key = f"{decision.subject.kind.value}:{decision.subject.id}".encode()
        with lock:
            if not producers:
                producers.append(KafkaProducer(bootstrap_servers=bootstrap, acks="all", retries=5))
            value = encode_decision(decision)
            producers[0].send(topics.DECISIONS.name, key=key, value=value).get(30)

    return send


def cmd_serve(args: argparse.Namespace) -> int:
    from streams.cases.feed import CaseFeed
    from streams.cases.web import TOKEN_ENV, BindRefused, CaseServer, check_bind

    token = os.environ.get(TOKEN_ENV) or None
    try:
        check_bind(args.host, token)
    except BindRefused as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    bootstrap = _bootstrap(args)
    resolver = _resolver(args)
    store = _store(args)
    server = CaseServer(
        args.host,
        args.port,
        store,
        decide=decision_sender(bootstrap),
        bundle=_bundle_maker(store, bootstrap, resolver),
        token=token,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    feed = CaseFeed(store, bootstrap, with_events=args.events, resolver=resolver)
    feeder = threading.Thread(target=feed.run, args=(stop,), name="cases-feed", daemon=True)
    feeder.start()
    server.start()
    print(f"cases: {server.url} (store: {args.db or os.environ.get(DB_ENV) or DEFAULT_DB})")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        stop.set()
    server.shutdown()
    feeder.join(timeout=10)
    store.close()
    stats = feed.stats
    print(f"cases: read {stats.read} records, {stats.new} new, {stats.unreadable} unreadable")
    return 0


def _bundle_maker(
    store: CaseStore, bootstrap: str, resolver: SchemaResolver | None
) -> Callable[[str], bytes]:
    from streams.cases.bundle import bundle_zip

    return lambda alert_id: bundle_zip(store, alert_id, bootstrap, resolver)


def cmd_decide(args: argparse.Namespace) -> int:
    from streams.cases.web import decision_for

    store = _store(args)
    case = store.case(args.case)
    if case is None:
        print(f"error: no case {args.case} in the store", file=sys.stderr)
        return 2
    decision = decision_for(case, Action(args.action.upper()), args.moderator, args.note)
    if args.effective_ts is not None:
        from dataclasses import replace

        decision = replace(decision, effective_ts_ms=args.effective_ts)
    decision_sender(_bootstrap(args))(decision)
    store.add_decision(decision)
    print(f"{decision.action.value} {decision.alert_id} ({decision.decision_id})")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from streams.cases.bundle import write_bundle

    store = _store(args)
    if store.case(args.case) is None:
        print(f"error: no case {args.case} in the store", file=sys.stderr)
        return 2
    bootstrap = args.bootstrap or external_bootstrap()
    files = write_bundle(store, args.case, args.output, bootstrap, _resolver(args))
    print(f"wrote {len(files)} files to {args.output} (manifest: MANIFEST.sha256)")
    return 0


def cmd_decisions(args: argparse.Namespace) -> int:
    """The decisions topic as a decisions file, for `guardline backtest --decisions`."""
    from kafka import KafkaConsumer

    from streams.codec import decode_decision
    from streams.jsonl import decision_to_json, write_jsonl

    consumer = KafkaConsumer(
        topics.DECISIONS.name,
        bootstrap_servers=_bootstrap(args),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=int(args.idle * 1000),
    )
    try:
        decisions = [decode_decision(r.value) for r in consumer]
    finally:
        consumer.close()
    unique = {d.decision_id: d for d in decisions}
    n = write_jsonl(args.output, (decision_to_json(d) for d in unique.values()))
    print(f"{n} decisions -> {args.output}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cases = sub.add_parser("cases", help="Case store, web view, decisions, evidence bundles.")
    cases_sub = cases.add_subparsers(dest="cases_command", required=True, metavar="ACTION")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--db", help=f"SQLite file or postgresql:// DSN (default ${DB_ENV} or {DEFAULT_DB})"
        )
        p.add_argument("--bootstrap", help=f"Kafka bootstrap servers (default: ${BOOTSTRAP_ENV})")

    def with_registry(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--schema-registry",
            metavar="URL",
            help=f"schema registry for Confluent-framed alerts and events (default: "
            f"${REGISTRY_ENV}; unset: single-object encoding only)",
        )

    p = cases_sub.add_parser("serve", help="Feed the store from the alert topics; serve the view.")
    p.set_defaults(handler=cmd_serve)
    common(p)
    with_registry(p)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"0 = any (default {DEFAULT_PORT})"
    )
    p.add_argument(
        "--events",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also keep the input events (15 days, for the link graph's devices, IPs and groups "
        "and for bundles); --no-events reads them from the input topic per bundle instead",
    )

    p = cases_sub.add_parser("decide", help="Confirm, clear or escalate a case.")
    p.set_defaults(handler=cmd_decide)
    common(p)
    p.add_argument("case")
    p.add_argument("action", choices=[a.value.lower() for a in Action])
    p.add_argument("--moderator", default="cli", help="pseudonymous moderator id")
    p.add_argument("--note", default="")
    p.add_argument(
        "--effective-ts",
        type=int,
        help="event time (epoch ms) it applies from (default: the case's latest event time)",
    )

    p = cases_sub.add_parser(
        "decisions", help="Write the decisions topic as a decisions file (backtest --decisions)."
    )
    p.set_defaults(handler=cmd_decisions)
    p.add_argument("--bootstrap", help=f"Kafka bootstrap servers (default: ${BOOTSTRAP_ENV})")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--idle", type=float, default=3.0, help="stop after this many idle seconds")

    p = cases_sub.add_parser("export", help="Write a case's evidence bundle to a directory.")
    p.set_defaults(handler=cmd_export)
    common(p)
    with_registry(p)
    p.add_argument("case")
    p.add_argument("-o", "--output", type=Path, required=True)
