"""`guardline` command line: one subcommand per job, each with its own --help."""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kafka.errors import KafkaError

from streams import kafka_settings, topics
from streams.broker import BOOTSTRAP_ENV, external_bootstrap
from streams.config import CONFIG_ENV, ConfigError, load_config
from streams.ops.endpoints import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    HOST_ENV,
    PORT_ENV,
    default_host,
    default_port,
)
from streams.ops.logs import LOG_FORMAT_ENV, LOG_FORMATS
from streams.pipeline.route import IDLE_AFTER_S
from streams.randbench.generate import DEFAULT_ACCOUNTS, DEFAULT_INSTANCES
from streams.reach import CONNECT_TIMEOUT_ENV, Unreachable, connect_timeout, require_cluster
from streams.registry import REGISTRY_ENV, RegistryError, registry_url
from streams.validation import InvalidEvent

if TYPE_CHECKING:
    from streams.registry import SchemaRegistry

Handler = Callable[[argparse.Namespace], int]

EXIT_CODES = """exit codes:
  0  done
  1  done, but some input was refused (bad lines in produce or backtest, an undecodable alert)
  2  usage or set-up error: bad arguments, invalid or unreadable config, a missing or
     unreadable file, an unknown topic, an unreachable schema registry
  3  the Kafka cluster cannot be reached (checked within --connect-timeout seconds)
  130, 143  interrupted (Ctrl-C, SIGTERM)"""
EXIT_UNREACHABLE = 3


class OperatorError(Exception):
    """A mistake the operator can fix: printed as one line, exit code 2 (`EXIT_CODES`)."""


def _positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def _bootstrap(args: argparse.Namespace, *, probe: bool = True) -> str:
    """The cluster's address; with `probe`, only once a bootstrap server answers (`reach.py`)."""
    value: str | None = getattr(args, "bootstrap", None) or external_bootstrap()
    if not value:
        raise OperatorError(
            f"no Kafka cluster given. Pass --bootstrap HOST:PORT or set {BOOTSTRAP_ENV} "
            "(run `guardline broker` in another terminal for a local one)."
        )
    if probe:
        require_cluster(value, connect_timeout(getattr(args, "connect_timeout", None)))
    return value


def _input_file(path: Path) -> Path:
    """An input file that can be read, or one line saying why not."""
    if not path.is_file():
        why = "is a directory" if path.is_dir() else "does not exist"
        raise OperatorError(f"{path} {why} (expected a file to read)")
    if not os.access(path, os.R_OK):
        raise OperatorError(f"{path} cannot be read (permission denied)")
    return path


def cmd_broker(args: argparse.Namespace) -> int:
    from streams.broker import run_foreground

    run_foreground(port=args.port, data_dir=args.data_dir)
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    bootstrap = _bootstrap(args)
    if args.check:
        problems = topics.check_topics(bootstrap, args.partitions, args.app_id)
        for line in problems:
            print(line)
        print(f"{len(problems)} difference(s) from the settings" if problems else "topics match")
        return 1 if problems else 0
    if not args.list:
        created = topics.ensure_topics(bootstrap, partitions=args.partitions)
        print(f"created: {', '.join(created) or 'nothing (all topics exist)'}")
    for row in topics.describe_topics(bootstrap):
        print(f"{row['name']:<32} partitions={row['partitions']:<3} messages={row['messages']}")
    return 0


def cmd_produce(args: argparse.Namespace) -> int:
    from streams.produce import produce_file

    report = produce_file(_input_file(args.file), _bootstrap(args))
    for line in report.errors[:50]:
        print(line, file=sys.stderr)
    if len(report.errors) > 50:
        print(f"... and {len(report.errors) - 50} more bad lines", file=sys.stderr)
    print(f"sent {report.sent} events to {topics.EVENTS.name}; {len(report.errors)} bad lines")
    return 1 if report.errors else 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from streams.jsonl import event_to_json, write_jsonl
    from streams.simulate import SimulationConfig, simulate, write_truth

    if args.randomised:
        from streams.randbench.commands import simulate_randomised

        return simulate_randomised(
            args.seed, args.output, args.truth, args.config, args.accounts, args.instances
        )

    sim = simulate(SimulationConfig(seed=args.seed))
    write_jsonl(args.output, (event_to_json(e) for e in sim.events))
    truth = args.truth or args.output.with_suffix(".truth.jsonl")
    write_truth(truth, sim.truth)
    attacks = sum(1 for t in sim.truth if t.kind == "attack")
    print(
        f"wrote {len(sim.events)} events to {args.output} and ground truth to {truth} "
        f"({attacks} attackers, {len(sim.truth) - attacks} look-alikes)"
    )
    return 0


def _resolver(args: argparse.Namespace) -> SchemaRegistry | None:
    """The registry client for readers of Confluent-framed alerts, if one is configured."""
    from streams.registry import connect

    url = registry_url(args.schema_registry)
    return None if url is None else connect(url)


def cmd_worker(args: argparse.Namespace) -> int:
    from streams.adapters.faust.app import GuardlineWorker, WorkerSettings

    bootstrap = _bootstrap(args, probe=False)  # config and registry first: they fail faster
    settings = WorkerSettings(
        bootstrap=bootstrap,
        config=load_config(args.config),
        app_id=args.app_id,
        partitions=args.partitions,
        # `{hostname}`: one store per container when replicas share a volume (compose).
        data_dir=Path(str(args.data_dir).replace("{hostname}", socket.gethostname())),
        store=args.store,
        instance_id=args.instance_id,
        idle_after_s=args.idle_after,
        rocksdb_write_buffer_mib=args.rocksdb_write_buffer_mib,
        rocksdb_block_cache_mib=args.rocksdb_block_cache_mib,
        ready_file=args.ready_file,
        stats_file=args.stats_file,
        metrics_host=args.metrics_host,
        metrics_port=args.metrics_port,
        schema_registry_url=registry_url(args.schema_registry),
    )
    worker = GuardlineWorker(settings)
    require_cluster(bootstrap, connect_timeout(args.connect_timeout))
    worker.run(loglevel=args.loglevel, log_format=args.log_format)
    return 0


def cmd_alerts_tail(args: argparse.Namespace) -> int:
    from streams.alerts_feed import Dedupe, format_alert, format_json, iter_alerts

    show = format_json if args.json else format_alert
    dedupe = Dedupe()
    resolver = _resolver(args)  # a bad registry setting fails before the cluster is asked
    try:
        for alert in iter_alerts(
            _bootstrap(args), args.topic, from_beginning=args.from_beginning, resolver=resolver
        ):
            if dedupe.fresh(alert):
                print(show(alert), flush=True)
    except KeyboardInterrupt:
        pass
    return 0


def cmd_alerts_export(args: argparse.Namespace) -> int:
    from streams.alerts_feed import export_alerts

    resolver = _resolver(args)  # a bad registry setting fails before the cluster is asked
    n = export_alerts(
        _bootstrap(args), args.output, args.topic, idle_timeout_s=args.idle, resolver=resolver
    )
    print(f"exported {n} alerts from {args.topic} to {args.output}")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from streams.backtesting.report import ProgressLine
    from streams.backtesting.run import backtest_source

    if (args.events is None) == (args.from_topic is None):
        print("error: backtest needs an EVENTS file or --from-topic, not both", file=sys.stderr)
        return 2
    if args.jobs < 1:
        print(f"error: --jobs {args.jobs}: need at least 1", file=sys.stderr)
        return 2
    config = load_config(args.config)
    if not args.output.parent.is_dir():  # one line now, not after the progress line started
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(args.output))
    if args.from_topic is not None:
        from kafka.errors import KafkaError

        from streams.backtesting.topic import TopicEvents

        bootstrap, resolver = _bootstrap(args), _resolver(args)

        def open_source() -> TopicEvents:
            return TopicEvents(
                bootstrap,
                args.from_topic,
                since_ms=args.since,
                until_ms=args.until,
                resolver=resolver,
            )

        try:
            report = backtest_source(
                open_source, args.output, config, jobs=args.jobs, progress=ProgressLine()
            )
        except (ValueError, KafkaError) as err:  # an unknown topic, no broker there
            print(
                f"error: cannot replay {args.from_topic} from {bootstrap}: {err}", file=sys.stderr
            )
            return 2
    else:
        if args.since is not None or args.until is not None:
            print("error: --since and --until select a range of --from-topic", file=sys.stderr)
            return 2
        from streams.backtest import backtest_file
        from streams.jsonl import read_decisions

        decisions = read_decisions(_input_file(args.decisions)) if args.decisions else []
        report = backtest_file(
            _input_file(args.events),
            args.output,
            config,
            decisions,
            jobs=args.jobs,
            progress=ProgressLine(),
        )
    for line in report.errors[:50]:
        print(line, file=sys.stderr)
    if report.bad_lines > 50:
        print(f"... and {report.bad_lines - 50:,} more bad lines", file=sys.stderr)
    print(
        f"{report.events} events -> {report.alerts} alerts ({report.shadow_alerts} shadow) "
        f"in {args.output}; {report.bad_lines} bad lines"
    )
    for line in report.summary():
        print(f"  {line}")
    if args.summary_json:
        args.summary_json.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return 1 if report.bad_lines else 0


def _epoch_ms(text: str) -> int:
    """--since/--until: epoch milliseconds, or ISO-8601 with a zone."""
    from datetime import datetime, timedelta

    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not epoch ms or an ISO-8601 time with a zone (2026-12-01T00:00Z)"
        )
    return (moment - datetime.fromtimestamp(0, moment.tzinfo)) // timedelta(milliseconds=1)


def cmd_eval(args: argparse.Namespace) -> int:
    from streams.evaluate import evaluate, format_report
    from streams.jsonl import alert_from_json
    from streams.randbench.instance import is_instance_truth
    from streams.simulate import read_truth

    if args.randomised:
        return _eval_randomised(args)
    if args.alerts is None or args.truth is None:
        print("error: eval needs ALERTS and --truth (or --randomised)", file=sys.stderr)
        return 2
    for path in (args.alerts, args.truth, *([args.events] if args.events else [])):
        _input_file(path)
    with args.alerts.open() as fh:
        alerts = [alert_from_json(json.loads(line)) for line in fh if line.strip()]
    if is_instance_truth(args.truth):
        from streams.randbench.commands import eval_truth_file

        return eval_truth_file(alerts, args.truth, args.events, args.config)
    report = evaluate(read_truth(args.truth), alerts)
    print(format_report(report))
    return 0


def _eval_randomised(args: argparse.Namespace) -> int:
    from streams.randbench.bench import parse_seeds
    from streams.randbench.commands import eval_randomised

    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    load_config(args.config)  # a bad config fails here, once, before any seed runs
    argv = ["eval", "--randomised", "--seeds", args.seeds]
    if args.config is not None:
        argv += ["--config", str(args.config)]
    if args.accounts != DEFAULT_ACCOUNTS:
        argv += ["--accounts", str(args.accounts)]
    if args.instances != DEFAULT_INSTANCES:
        argv += ["--instances", str(args.instances)]
    return eval_randomised(
        seeds, args.config, args.json, args.jobs, (args.accounts, args.instances), argv
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from streams.demo import run_demo

    cases = sys.stdin.isatty() if args.cases is None else args.cases
    return run_demo(
        duration_s=args.duration,
        seed=args.seed,
        prometheus=args.prometheus,
        config=args.config,
        cases=cases,
    )


def cmd_dashboard(args: argparse.Namespace) -> int:
    from streams.ops.dashboard import PANELS, render

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render())
    print(f"wrote the Grafana dashboard ({len(PANELS)} panels) to {args.output}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from guardline_bench.report import format_table, write_json
    from guardline_bench.run import BenchSettings, run_bench

    if args.bootstrap:
        os.environ[BOOTSTRAP_ENV] = args.bootstrap
    if args.soak is not None:
        return _soak(args)
    if args.state_days < 2 or args.state_events < 1:
        raise SystemExit(
            "error: --state-days must be >= 2 (the simulated scenarios span 48 h) and "
            "--state-events >= 1"
        )
    settings = BenchSettings(
        events=args.events,
        partitions=args.partitions,
        workers=args.workers,
        state_events=args.state_events,
        state_days=args.state_days,
        state_only=args.state_only,
        latency_s=args.latency_seconds,
        latency_rate=args.latency_rate,
        idle_s=args.idle_seconds,
        backtest_events=args.backtest_events,
        backtest_days=args.backtest_days,
        backtest_only=args.backtest_only,
    )
    if args.config is not None:  # the workers the bench starts read the same file
        os.environ[CONFIG_ENV] = str(args.config.resolve())
    result = run_bench(settings, load_config(args.config))
    print(format_table(result))
    if args.json:
        write_json(result, args.json)
        print(f"wrote {args.json}")
    return 0


def _soak(args: argparse.Namespace) -> int:
    from guardline_bench.soak import SoakSettings, as_json, format_soak, run_soak

    if args.soak <= 0 or args.soak_rate <= 0:
        raise SystemExit("error: --soak MINUTES and --soak-rate must be positive")
    if args.config is not None:  # the worker the soak starts reads the same file
        os.environ[CONFIG_ENV] = str(args.config.resolve())
    settings = SoakSettings(
        args.soak,
        rate=args.soak_rate,
        restart_delay_s=args.soak_restart_delay,
        out_dir=args.soak_out,
        probe_every_s=args.soak_probe_every,
        probe_sites=not args.soak_probe_cheap,
    )
    result = run_soak(settings, load_config(args.config))
    print(format_soak(result))
    if args.json:
        args.json.write_text(json.dumps(as_json(result), indent=1))
        print(f"wrote {args.json}")
    return 0 if result.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="guardline",
        description="Streaming safety signals from chat metadata (never message content).",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    def with_bootstrap(p: argparse.ArgumentParser, *, checked: bool = True) -> None:
        p.add_argument("--bootstrap", help=f"Kafka bootstrap servers (default: ${BOOTSTRAP_ENV})")
        p.add_argument(
            "--kafka-config",
            type=Path,
            metavar="FILE",
            help="Kafka client properties: TLS, SASL, replication (default: "
            f"${kafka_settings.CONFIG_FILE_ENV}; README 'Run it on your cluster')",
        )
        if not checked:
            return
        p.add_argument(
            "--connect-timeout",
            type=_positive_seconds,
            metavar="SECONDS",
            help="give up, in one line with exit code 3, when no bootstrap server answers "
            f"within this long (default: ${CONNECT_TIMEOUT_ENV} or 5)",
        )

    def with_config(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", type=Path, help="detector config TOML (default: built-in)")

    def with_randbench_size(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--accounts", type=int, default=DEFAULT_ACCOUNTS, help="--randomised background size"
        )
        p.add_argument(
            "--instances",
            type=int,
            default=DEFAULT_INSTANCES,
            help="--randomised instances of each pattern and look-alike kind per seed",
        )

    def with_registry(p: argparse.ArgumentParser, what: str) -> None:
        p.add_argument(
            "--schema-registry",
            metavar="URL",
            help=f"Confluent-compatible schema registry: {what} (default: ${REGISTRY_ENV}; "
            "unset: Avro single-object encoding)",
        )

    p = add("broker", cmd_broker, "Run the embedded Kafka-API broker (noida-db) in the foreground.")
    p.add_argument("--port", type=int, default=9092, help="Kafka port (default 9092)")
    p.add_argument(
        "--data-dir", type=Path, default=Path(".guardline/broker"), help="data directory"
    )

    p = add("topics", cmd_topics, "Create Guardline's topics (idempotent) and list them.")
    with_bootstrap(p)
    p.add_argument("--list", action="store_true", help="only list, create nothing")
    p.add_argument(
        "--check",
        action="store_true",
        help="create nothing; report topics whose partitions, replication or configs differ "
        "from the settings (exit 1 if any)",
    )
    p.add_argument("--app-id", default="guardline", help="--check: the workers' app id")
    p.add_argument("--partitions", type=int, default=None, help="input topic partitions")

    p = add("produce", cmd_produce, "Validate a JSON Lines file of events and send it.")
    with_bootstrap(p)
    p.add_argument("file", type=Path, help="events, one JSON object per line")

    p = add("simulate", cmd_simulate, "Write seeded synthetic traffic with attacks and truth.")
    p.add_argument("-o", "--output", type=Path, required=True, help="events JSON Lines file")
    p.add_argument("--truth", type=Path, help="ground truth file (default: OUTPUT.truth.jsonl)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--randomised",
        action="store_true",
        help="the randomised benchmark: social background, randomised instances of every "
        "attack pattern and look-alike kind (docs/detectors/evaluation.md)",
    )
    with_randbench_size(p)
    with_config(p)

    p = add("worker", cmd_worker, "Run a stream worker (Faust) on the input topic.")
    with_bootstrap(p)
    with_config(p)
    p.add_argument("--app-id", default="guardline", help="Faust app id = consumer group id")
    p.add_argument("--partitions", type=int, default=topics.DEFAULT_PARTITIONS)
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".guardline/worker"),
        help="state stores; {hostname} is replaced by this host's name",
    )
    p.add_argument("--store", default="rocksdb://", help="table store: rocksdb:// or memory://")
    p.add_argument("--instance-id", help="static group membership id (stable across restarts)")
    p.add_argument(
        "--idle-after",
        type=_positive_seconds,
        default=IDLE_AFTER_S,
        help="seconds an input partition may send nothing before it stops holding back the "
        "event-time watermark (default %(default)s; longer for bursty producers)",
    )
    p.add_argument(
        "--rocksdb-write-buffer-mib",
        type=_positive_int,
        default=4,
        help="state store memtable size per table partition, 2 at most (default %(default)s)",
    )
    p.add_argument(
        "--rocksdb-block-cache-mib",
        type=_positive_int,
        default=8,
        help="state store block cache per table partition (default %(default)s)",
    )
    p.add_argument("--ready-file", type=Path, help="file to write once partitions are assigned")
    p.add_argument("--stats-file", type=Path, help="file to rewrite with totals (for bench)")
    with_registry(p, "register schemas, write the Confluent wire format, read both")
    p.add_argument(
        "--loglevel",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="Guardline's own lines from this level (default info: assignments, metrics "
        "address, poison events); Faust's and Kafka's from warning, all of them at debug",
    )
    p.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=os.environ.get(LOG_FORMAT_ENV) or "text",
        help=f"text, or json: one object per line (default ${LOG_FORMAT_ENV} or text)",
    )
    p.add_argument(
        "--metrics-host",
        default=default_host(),
        help=f"address of /metrics, /healthz, /readyz (default ${HOST_ENV} or {DEFAULT_HOST})",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=default_port(),
        help=f"their port, 0 = any free port (default ${PORT_ENV} or {DEFAULT_PORT})",
    )

    alerts = sub.add_parser("alerts", help="Read the alert topics.", description="Read alerts.")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    p = alerts_sub.add_parser(
        "tail",
        help="Print alerts live, as the moderation queue sees them (each case revision once).",
    )
    p.set_defaults(handler=cmd_alerts_tail)
    with_bootstrap(p)
    p.add_argument(
        "--topic",
        default=topics.PRIORITY.name,
        help=f"default: {topics.PRIORITY.name} (HIGH and CRITICAL, what the queue reads); "
        f"{topics.ALERTS.name} has every alert",
    )
    p.add_argument("--from-beginning", action="store_true")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    with_registry(p, "resolves the schema ids of Confluent-framed alerts")
    p = alerts_sub.add_parser("export", help="Write every alert on a topic as JSON Lines.")
    p.set_defaults(handler=cmd_alerts_export)
    with_bootstrap(p)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--topic", default=topics.ALERTS.name)
    p.add_argument("--idle", type=float, default=3.0, help="stop after this many idle seconds")
    with_registry(p, "resolves the schema ids of Confluent-framed alerts")

    from streams.cases.commands import register as register_cases

    register_cases(sub)

    p = add("backtest", cmd_backtest, "Run the detectors over recorded events in event-time order.")
    p.add_argument(
        "events", type=Path, nargs="?", help="events JSON Lines file (plain, .gz or .zst)"
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="alerts JSON Lines file")
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="processes applying the detectors, subjects split as the stream partitions them; "
        "the alerts are the same for any number (default 1: on the shared 2-core machine "
        "measured, two jobs ran 1.2-1.3x faster than one with the other core idle, 0.5-0.9x "
        "with other work on it; docs/backtest.md)",
    )
    p.add_argument(
        "--from-topic",
        nargs="?",
        const=topics.EVENTS.name,
        metavar="TOPIC",
        help=f"read the events from a topic instead of a file (default {topics.EVENTS.name})",
    )
    p.add_argument(
        "--since", type=_epoch_ms, help="--from-topic: records at or after (epoch ms or ISO-8601)"
    )
    p.add_argument("--until", type=_epoch_ms, help="--from-topic: records before this time")
    p.add_argument("--summary-json", type=Path, help="also write the summary as JSON here")
    with_bootstrap(p)
    with_registry(p, "resolves the schema ids of Confluent-framed events")
    p.add_argument(
        "--decisions",
        type=Path,
        help="moderator decisions (JSON Lines, `guardline cases decisions -o`), applied as the "
        "stream applies them",
    )
    with_config(p)

    p = add("eval", cmd_eval, "Score alerts (from backtest) against a simulation's truth file.")
    p.add_argument(
        "alerts", type=Path, nargs="?", help="alerts JSON Lines (guardline backtest -o ...)"
    )
    p.add_argument("--truth", type=Path, help="ground truth from `simulate`")
    p.add_argument(
        "--events", type=Path, help="events of a --randomised truth (default: beside it)"
    )
    p.add_argument(
        "--randomised",
        action="store_true",
        help="generate, backtest and score the randomised benchmark in-process, per seed",
    )
    p.add_argument("--seeds", default="101-105", help="--randomised seeds: 101-105 or 1,2,3")
    p.add_argument("--json", type=Path, help="--randomised: also write the figures as JSON")
    p.add_argument("--jobs", type=int, default=2, help="--randomised: seeds run at once (2)")
    with_randbench_size(p)
    with_config(p)

    p = add("dashboard", cmd_dashboard, "Write the Grafana dashboard JSON (generated from code).")
    p.add_argument(
        "-o", "--output", type=Path, default=Path("deploy/grafana/dashboards/guardline.json")
    )

    p = add("demo", cmd_demo, "Broker, topics, a worker and simulated traffic, narrated (~2 min).")
    p.add_argument(
        "--duration",
        type=float,
        default=90.0,
        help="seconds of streaming (default 90); then it waits for the worker to catch up",
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--prometheus",
        action="store_true",
        help="also run a local Prometheus scraping the worker (needs the `prometheus` binary)",
    )
    p.add_argument(
        "--config",
        type=Path,
        help="detector config TOML for the worker (default: streams/defaults/demo.toml)",
    )
    p.add_argument(
        "--cases",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="at the end, serve the case view on the demo's cases until Ctrl-C (default: when "
        "run in a terminal)",
    )

    p = add("bench", cmd_bench, "Measure Guardline's speed next to its baselines, in one run.")
    with_bootstrap(p, checked=False)  # starts its own broker unless given one
    p.add_argument("--events", type=int, default=100_000, help="simulated events (100000)")
    p.add_argument("--partitions", type=int, default=topics.DEFAULT_PARTITIONS)
    p.add_argument("--workers", type=int, default=1, help="also measure W workers together")
    p.add_argument(
        "--state-events", type=int, default=1_000_000, help="events for the state figure (1M)"
    )
    p.add_argument("--state-days", type=float, default=24.0, help="simulated days they span (24)")
    p.add_argument("--state-only", action="store_true", help="only the state figure, no broker")
    p.add_argument(
        "--backtest-events",
        type=int,
        help="events of a file of its own for the file backtest figure (default: --events)",
    )
    p.add_argument(
        "--backtest-days", type=float, default=4.0, help="simulated days of that file (4)"
    )
    p.add_argument(
        "--backtest-only", action="store_true", help="only the file backtest figure, no broker"
    )
    p.add_argument("--latency-seconds", type=float, default=20.0, help="half-rate run length")
    p.add_argument(
        "--idle-seconds",
        type=_positive_seconds,
        default=5.0,
        help="how long the idle worker and alerts tail are measured (5)",
    )
    p.add_argument(
        "--latency-rate",
        type=float,
        default=None,
        help="events/s of the latency run instead of half the saturated rate (no target check)",
    )
    p.add_argument(
        "--soak",
        type=float,
        metavar="MINUTES",
        help="instead: steady traffic for MINUTES with a worker kill inside; fails on unbounded"
        " memory or state growth (see guardline_bench/soak.py)",
    )
    p.add_argument("--soak-rate", type=float, default=2500.0, help="soak events/s (2500)")
    p.add_argument(
        "--soak-out",
        type=Path,
        metavar="DIR",
        help="keep the soak worker's logs here and sample its memory (sites, object types,"
        " buffers; see streams/ops/memory_probe.py) into DIR/memory-N.jsonl",
    )
    p.add_argument(
        "--soak-probe-every",
        type=_positive_seconds,
        default=60.0,
        help="seconds between memory samples (60)",
    )
    p.add_argument(
        "--soak-probe-cheap",
        action="store_true",
        help="memory samples without allocation sites (no tracemalloc: the worker runs at speed)",
    )
    p.add_argument(
        "--soak-restart-delay",
        type=float,
        default=0.0,
        metavar="S",
        help="restart the killed worker S seconds later: a backlog to catch up on (0)",
    )
    with_config(p)
    p.add_argument("--json", type=Path, help="also write every figure as JSON here")
    return parser


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "kafka_config", None) is not None:  # workers and tools started inherit it
        os.environ[kafka_settings.CONFIG_FILE_ENV] = str(args.kafka_config.resolve())
        kafka_settings.current.cache_clear()
    if args.handler is not cmd_worker:  # Faust handles the worker's signals itself
        # SIGTERM (`timeout`, a supervisor) unwinds like Ctrl-C: `finally` blocks stop the
        # embedded broker and workers `demo` and `bench` started, instead of orphaning them.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        if hasattr(args, "bootstrap"):
            kafka_settings.current()  # bad Kafka settings: every problem, before any work
        code: int = args.handler(args)
    except (ConfigError, RegistryError, OperatorError, topics.UnknownTopic) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Unreachable as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except KafkaError as err:  # reached, yet the client gave up: not Kafka, or refused us
        where = getattr(args, "bootstrap", None) or external_bootstrap()
        print(
            f"error: the Kafka cluster at {where} did not answer as Kafka "
            f"({type(err).__name__}): check the address and the port",
            file=sys.stderr,
        )
        return EXIT_UNREACHABLE
    except InvalidEvent as err:  # a reader met a message it cannot decode
        print(f"error: undecodable message ({err.code}): {err}", file=sys.stderr)
        return 1
    except OSError as err:
        if err.filename is None:  # not about a file: a genuine bug or outage, keep its trace
            raise
        print(f"error: {err.filename}: {(err.strerror or str(err)).lower()}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
