"""The Kafka-API broker Guardline runs against: an external cluster, or noida-db started here.

Demo, worker and tests need a broker without a JVM. `EmbeddedBroker` runs
`noida-db start --only kafka` as a child process it fully owns (own port, own data dir, own
process group), because noida-db has two traps (see /work/shared/README.md):

* SIGTERM to the `noida-db` wrapper leaves the native broker running, so `stop()` asks
  `noida-db down` first and then kills the whole process group and checks /proc.
* It persists its state about once a second (measured: acknowledged writes younger than
  ~0.9 s are lost on kill -9), so crash tests wait `PERSIST_INTERVAL_S` before killing.

Set `GUARDLINE_BOOTSTRAP_SERVERS` to use a real cluster instead; then nothing is started.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType, TracebackType
from typing import Final, Self

from kafka import KafkaAdminClient

log = logging.getLogger(__name__)

BOOTSTRAP_ENV: Final = "GUARDLINE_BOOTSTRAP_SERVERS"
HOST: Final = "127.0.0.1"
DEFAULT_START_TIMEOUT_S: Final = 30.0
DEFAULT_STOP_TIMEOUT_S: Final = 10.0
LOG_NAME: Final = "guardline-broker.log"
# noida-db snapshots its whole state to <data dir>/kafka.json about once a second; writes it
# acknowledged after the last snapshot do not survive kill -9 (measured: lost at 0.8 s, kept
# at 0.9 s). Real Kafka keeps them (page cache survives a process crash).
PERSIST_INTERVAL_S: Final = 1.0

_HARMLESS = "GLIBC_2.39"  # the binary's weak-symbol warning, printed on every invocation
_PORT_IN_USE = "already in use"
_PORT_ATTEMPTS = 3


class BrokerError(RuntimeError):
    """The embedded broker could not be found, started, stopped or restarted."""


def external_bootstrap() -> str | None:
    """The external cluster from `GUARDLINE_BOOTSTRAP_SERVERS`, or None (unset or blank)."""
    value = os.environ.get(BOOTSTRAP_ENV, "").strip()
    return value or None


def find_noida_db() -> str:
    """The `noida-db` executable: the one installed beside this interpreter, else PATH."""
    beside = Path(sys.executable).parent / "noida-db"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    on_path = shutil.which("noida-db")
    if on_path:
        return on_path
    raise BrokerError(
        f"noida-db is not installed; run `{sys.executable} -m pip install 'noida-db>=0.2.3'`"
        f" (or `pip install -e .` in the repo), or set {BOOTSTRAP_ENV}=host:port to use an"
        " existing Kafka cluster"
    )


def free_port(host: str = HOST) -> int:
    """A TCP port free right now (the OS may hand it out again: `start()` retries on a clash)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_ready(
    bootstrap: str,
    timeout_s: float = DEFAULT_START_TIMEOUT_S,
    proc: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
) -> float:
    """Block until `bootstrap` answers a metadata request; return the seconds waited.

    An open port is not enough (the listener comes up before the broker serves), so this asks
    for the topic list. If `proc` exits meanwhile, fail at once with the tail of `log_path`.
    """
    started = time.monotonic()
    deadline = started + timeout_s
    while True:
        if proc is not None and proc.poll() is not None:
            raise BrokerError(
                f"noida-db exited with code {proc.returncode} before it was ready on"
                f" {bootstrap}:\n{log_tail(log_path)}"
            )
        last_error = _metadata_error(bootstrap)
        if last_error is None:
            return time.monotonic() - started
        if time.monotonic() >= deadline:
            raise BrokerError(
                f"no Kafka metadata answer from {bootstrap} within {timeout_s:.0f} s"
                f" (last error: {last_error!r})\n{log_tail(log_path)}"
            )
        time.sleep(0.05)


def _metadata_error(bootstrap: str) -> Exception | None:
    """None if `bootstrap` answers a metadata request right now, else the reason it does not."""
    if not _accepts_connections(bootstrap):  # spares us kafka-python's ERROR logs meanwhile
        return ConnectionRefusedError(f"nothing listens on {bootstrap}")
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="guardline-readiness",
            bootstrap_timeout_ms=250,
            request_timeout_ms=2_000,
        )
        try:
            admin.list_topics()
        finally:
            admin.close()
    except Exception as exc:  # kafka-python raises several kinds while a broker starts
        return exc
    return None


def _accepts_connections(bootstrap: str) -> bool:
    """Whether the first bootstrap server accepts a TCP connection right now."""
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except (OSError, ValueError):
        return False


def log_tail(log_path: Path | None, lines: int = 20) -> str:
    """The last lines of a broker log, without the harmless GLIBC warning."""
    if log_path is None or not log_path.exists():
        return "(no log)"
    text = log_path.read_text(errors="replace").splitlines()
    kept = [line for line in text if _HARMLESS not in line]
    return "\n".join(kept[-lines:]) or "(log is empty)"


def broker_pids(data_dir: Path | str) -> list[int]:
    """Live `noida-db` processes (wrapper or native) serving `data_dir`, found via /proc.

    Why: the native broker outlives its wrapper, so the wrapper's exit proves nothing.
    """
    target = str(Path(data_dir).resolve())
    pids: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "cmdline").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        args = raw.decode(errors="replace").split("\0")
        is_noida = any(Path(arg).name == "noida-db" for arg in args[:2])
        with contextlib.suppress(ValueError, IndexError):
            if is_noida and args[args.index("--data-dir") + 1] == target:
                pids.append(int(entry.name))
    return pids


def _kill_survivors(data_dir: Path, timeout_s: float = 5.0) -> None:
    """SIGKILL every noida-db process still serving `data_dir` and wait until they are gone."""
    deadline = time.monotonic() + timeout_s
    while pids := broker_pids(data_dir):
        if time.monotonic() >= deadline:
            raise BrokerError(f"noida-db processes {pids} for {data_dir} survive SIGKILL")
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


class EmbeddedBroker:
    """One noida-db Kafka broker on 127.0.0.1, owned by this process (context manager).

    The data dir survives `stop()`, `kill()` and `restart()`; `close()` (and leaving the
    `with` block, and interpreter exit) stops the broker and removes a temp data dir unless
    `keep_data` is set. A data dir passed in is never removed.
    """

    def __init__(
        self,
        port: int | None = None,
        data_dir: Path | str | None = None,
        *,
        keep_data: bool = False,
        start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
        host: str = HOST,  # noida-db advertises exactly this address to clients
    ) -> None:
        self.host = host
        self._port = port
        self._port_fixed = port is not None
        self._data_dir = Path(data_dir).resolve() if data_dir is not None else None
        self._owns_data_dir = data_dir is None
        self.keep_data = keep_data
        self.start_timeout_s = start_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._exe: str | None = None
        self._atexit_registered = False
        self.last_start_s: float | None = None
        """Seconds from spawning noida-db to its first metadata answer, for the last start."""
        self.last_stop_s: float | None = None

    # -- properties ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise BrokerError("the broker has no port yet: call start() first")
        return self._port

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def data_dir(self) -> Path:
        if self._data_dir is None:
            raise BrokerError("the broker has no data dir yet: call start() first")
        return self._data_dir

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_NAME

    @property
    def pid(self) -> int | None:
        """The wrapper's pid, which is also the process group of the whole broker."""
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Self:
        """Spawn noida-db and block until it answers metadata; no-op if already running."""
        if self.is_running():
            return self
        if self._proc is not None:  # it died on its own: clean up before starting again
            self.stop()
        self._exe = self._exe or find_noida_db()
        if self._data_dir is None:
            self._data_dir = Path(tempfile.mkdtemp(prefix="guardline-broker-")).resolve()
        self._data_dir.mkdir(parents=True, exist_ok=True)
        if others := broker_pids(self._data_dir):  # never adopt (and later kill) a foreign one
            raise BrokerError(
                f"noida-db already serves {self._data_dir} (pids {others}); stop it with"
                f" `noida-db down --data-dir {self._data_dir}` or use another data dir"
            )
        if not self._atexit_registered:
            atexit.register(self.close)
            self._atexit_registered = True
        attempts = 0
        while True:
            attempts += 1
            if self._port is None:
                self._port = free_port(self.host)
            try:
                self._spawn_and_wait()
            except BrokerError as exc:
                clash = _PORT_IN_USE in str(exc) and not self._port_fixed
                if not clash or attempts == _PORT_ATTEMPTS:
                    raise
                log.info("port %d was taken meanwhile; picking another", self._port)
                self._port = None
                continue
            self._port_fixed = True  # restart() must come back on the same address
            return self

    def _spawn_and_wait(self) -> None:
        assert self._exe is not None
        cmd = [self._exe, "start", "--only", "kafka", "--kafka-port", str(self.port)]
        cmd += ["--host", self.host]
        cmd += ["--data-dir", str(self.data_dir)]
        with self.log_path.open("ab") as out:
            out.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(cmd)}\n".encode())
            out.flush()
            started = time.monotonic()
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: Ctrl-C goes to us, kill hits all
            )
        try:
            wait_until_ready(self.bootstrap, self.start_timeout_s, self._proc, self.log_path)
        except BaseException:  # not ready, or Ctrl-C while waiting: leave nothing behind
            self._terminate_group()
            raise
        self.last_start_s = time.monotonic() - started
        log.info(
            "noida-db ready on %s in %.2f s (data %s)",
            self.bootstrap,
            self.last_start_s,
            self.data_dir,
        )

    def stop(self, timeout_s: float = DEFAULT_STOP_TIMEOUT_S) -> None:
        """Stop cleanly (`noida-db down` saves the data), then make sure nothing survives.

        Idempotent. Falls back to SIGKILL on the process group if `down` does not work within
        `timeout_s`; either way no noida-db process for this data dir is left afterwards.
        """
        proc = self._proc
        if proc is None:
            return
        started = time.monotonic()
        if proc.poll() is None:
            assert self._exe is not None
            try:
                with self.log_path.open("ab") as out:
                    subprocess.run(
                        [self._exe, "down", "--data-dir", str(self.data_dir)],
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        timeout=timeout_s,
                        check=False,
                    )
                proc.wait(timeout=max(0.1, timeout_s - (time.monotonic() - started)))
            except (subprocess.TimeoutExpired, OSError) as exc:
                log.warning("noida-db down did not stop %s (%r); killing it", self.bootstrap, exc)
        self._terminate_group()
        self.last_stop_s = time.monotonic() - started
        log.info("noida-db on %s stopped in %.2f s", self.bootstrap, self.last_stop_s)

    def kill(self) -> None:
        """SIGKILL the whole broker, as a crash would. Data older than ~1 s survives."""
        if self._proc is None:
            return
        self._terminate_group()
        log.info("noida-db on %s killed", self.bootstrap)

    def _terminate_group(self) -> None:
        """SIGKILL the process group, reap the wrapper, then kill any stray by /proc."""
        proc = self._proc
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        _kill_survivors(self.data_dir)
        self._proc = None

    def restart(self) -> Self:
        """Start again on the same port and data dir (after `kill()`, `stop()` or a crash)."""
        self.stop()
        return self.start()

    def restart_kafka(self, timeout_s: float = DEFAULT_START_TIMEOUT_S) -> float:
        """Unstick a consumer group: see `restart_kafka_service`."""
        return restart_kafka_service(self.data_dir, self.bootstrap, timeout_s)

    def close(self) -> None:
        """Stop, and remove the data dir if it is a temp dir this broker made (not keep_data)."""
        self.stop()
        if self._atexit_registered:
            atexit.unregister(self.close)
            self._atexit_registered = False
        if self._owns_data_dir and not self.keep_data and self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._data_dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"EmbeddedBroker(port={self._port}, data_dir={self._data_dir}, {state})"


@contextlib.contextmanager
def broker_session(
    port: int | None = None,
    data_dir: Path | str | None = None,
    *,
    keep_data: bool = False,
    start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
) -> Iterator[str]:
    """Yield a bootstrap string: `GUARDLINE_BOOTSTRAP_SERVERS` if set, else an embedded broker.

    The other arguments only apply to the embedded broker, which speaks PLAINTEXT only: with
    TLS or SASL settings (`streams/kafka_settings.py`) it refuses, since no client could reach it.
    """
    external = external_bootstrap()
    if external is not None:
        log.info("using the external Kafka cluster %s from %s", external, BOOTSTRAP_ENV)
        yield external
        return
    from streams.kafka_settings import KafkaSettingsError, current

    protocol = current().security_protocol
    if protocol != "PLAINTEXT":
        raise KafkaSettingsError(
            [
                f"security.protocol is {protocol}, but the embedded broker (noida-db) speaks "
                f"PLAINTEXT only: set {BOOTSTRAP_ENV} to your cluster, or unset the TLS and "
                "SASL settings"
            ],
            "Kafka settings",
        )
    with EmbeddedBroker(port, data_dir, keep_data=keep_data, start_timeout_s=start_timeout_s) as b:
        yield b.bootstrap


_KAFKA_STATUS = re.compile(r"\bkafka\s+(\S+:\d+)\s*$", re.MULTILINE)


def restart_kafka_service(
    data_dir: Path | str,
    bootstrap: str | None = None,
    timeout_s: float = DEFAULT_START_TIMEOUT_S,
) -> float:
    """Run `noida-db restart kafka --data-dir DIR`, wait for metadata; return seconds taken.

    Why: noida-db never expires a dead consumer-group member (no session timeout), so after a
    worker is SIGKILLed its successor joins but gets no partitions, and the group stays stuck.
    Restarting the Kafka service (same process, data kept, ~0.1 s) forgets the members; the
    committed offsets stay. Real Kafka needs none of this: the coordinator drops a member that
    sends no heartbeat within `session.timeout.ms` (45 s default) and rebalances, and a static
    member (`group.instance.id`) is dropped the same way unless it rejoins in time.

    `bootstrap` defaults to the address `noida-db status` reports for the kafka service.
    """
    exe = find_noida_db()
    directory = str(Path(data_dir).resolve())
    if bootstrap is None:
        status = subprocess.run(
            [exe, "status", "--data-dir", directory], capture_output=True, text=True, check=False
        )
        found = _KAFKA_STATUS.search(status.stdout)
        if found is None:
            raise BrokerError(f"no running kafka service under {directory}:\n{status.stdout}")
        bootstrap = found.group(1)
    started = time.monotonic()
    result = subprocess.run(
        [exe, "restart", "kafka", "--data-dir", directory],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if result.returncode != 0:
        output = "\n".join(
            line for line in (result.stdout + result.stderr).splitlines() if _HARMLESS not in line
        )
        raise BrokerError(f"noida-db restart kafka failed ({result.returncode}):\n{output}")
    wait_until_ready(bootstrap, timeout_s)
    took = time.monotonic() - started
    log.info("kafka service under %s restarted in %.2f s", directory, took)
    return took


def run_foreground(port: int | None = None, data_dir: Path | str | None = None) -> int:
    """`guardline broker`: run an embedded broker until Ctrl-C or SIGTERM; return exit code.

    Without `data_dir` the data lives in a temp dir removed on exit.
    """

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    broker = EmbeddedBroker(port, data_dir)
    try:
        broker.start()
        kept = "kept" if data_dir is not None else "deleted on exit"
        print(
            f"Kafka-API broker (noida-db) ready at {broker.bootstrap}"
            f" in {broker.last_start_s:.2f} s\n"
            f"  data: {broker.data_dir} ({kept})\n"
            f"  log:  {broker.log_path}\n"
            "Point other guardline commands (and tests) at it with:\n"
            f"  export {BOOTSTRAP_ENV}={broker.bootstrap}\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        while broker.is_running():
            time.sleep(0.5)
        print(f"noida-db exited on its own:\n{log_tail(broker.log_path)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping the broker ...", flush=True)
        return 0
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        broker.close()
        signal.signal(signal.SIGTERM, previous)
