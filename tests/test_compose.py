"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

The static checks always run: services, listeners, ports, mounts and the files they name, and
that the pieces agree with each other (worker metrics port = Prometheus target, Grafana's
provider path = the dashboards mount, ...). Where a compose CLI exists (`docker compose`, or
Debian's `docker-compose`, which `./dev test` installs), it validates the file too: neither
needs a daemon for `config`.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import urllib.parse
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
SERVICES = {"kafka", "registry", "topics", "worker", "prometheus", "grafana"}


@cache
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def service(name: str) -> dict[str, Any]:
    svc: dict[str, Any] = compose()["services"][name]
    return svc


def env(name: str) -> dict[str, str]:
    raw = service(name).get("environment", {})
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {k: str(v) for k, v in raw.items()}


def mounts(name: str) -> dict[str, str]:
    """Container path -> host path (relative to the repo) of each bind mount."""
    out: dict[str, str] = {}
    for spec in service(name).get("volumes", []):
        source, target = spec.split(":")[:2]
        if source.startswith("."):
            out[target] = source
    return out


def host_file(name: str, container_path: str) -> Path:
    """The repo file a container path of service `name` shows, through its bind mounts."""
    for target, source in sorted(mounts(name).items(), key=lambda m: -len(m[0])):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return ROOT / source / container_path[len(target) :].lstrip("/")
    raise AssertionError(f"{name}: {container_path} is not under any bind mount")


def with_default(value: str) -> str:
    """Resolve compose's `${VAR:-default}` the way an empty environment would."""
    if value.startswith("${") and ":-" in value:
        return value[value.index(":-") + 2 : -1]
    return value


def flag(command: list[str], name: str) -> str:
    return with_default(str(command[command.index(name) + 1]))


def published(name: str) -> dict[int, tuple[str, int]]:
    """Container port -> (host address, host port) of each published port, defaults resolved."""
    out: dict[int, tuple[str, int]] = {}
    for spec in service(name).get("ports", []):
        host, host_port, container = with_default_all(str(spec)).rsplit(":", 2)
        out[int(container)] = (host, int(host_port))
    return out


def with_default_all(value: str) -> str:
    """Every `${VAR:-default}` in `value` resolved as an empty environment would."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_every_service_is_there_and_kafka_runs_kraft_from_the_official_image() -> None:
    assert set(compose()["services"]) >= SERVICES
    assert not any("zookeeper" in s for s in compose()["services"])
    kafka = env("kafka")
    assert service("kafka")["image"].startswith("apache/kafka:")
    assert set(kafka["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{kafka['KAFKA_NODE_ID']}@kafka:")
    cluster_id = kafka["CLUSTER_ID"]
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16  # what kafka-storage wants


def _listeners(value: str) -> dict[str, tuple[str, int]]:
    out = {}
    for item in value.split(","):
        name, rest = item.split("://")
        host, port = rest.rsplit(":", 1)
        out[name] = (host, int(port))
    return out


def test_containers_and_the_host_reach_kafka_on_listeners_it_advertises() -> None:
    kafka = env("kafka")
    advertised = _listeners(kafka["KAFKA_ADVERTISED_LISTENERS"])
    bound = _listeners(kafka["KAFKA_LISTENERS"])
    for name, (_, port) in advertised.items():
        assert bound[name][1] == port, f"listener {name} advertised on a port it does not bind"
    internal = f"{advertised[kafka['KAFKA_INTER_BROKER_LISTENER_NAME']][0]}:" + str(
        advertised[kafka["KAFKA_INTER_BROKER_LISTENER_NAME"]][1]
    )
    assert internal.startswith("kafka:")
    for name in ("topics", "worker"):
        assert flag(service(name)["command"], "--bootstrap") == internal
    assert env("registry")["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"].endswith(internal)
    host = [(h, p) for h, p in advertised.values() if h == "localhost"]
    assert host and published("kafka")[host[0][1]] == ("127.0.0.1", host[0][1])


def test_workers_scale_and_are_wired_to_topics_registry_and_metrics() -> None:
    worker = service("worker")
    assert "container_name" not in worker and "ports" not in worker  # --scale worker=N
    command = [str(c) for c in worker["command"]]
    assert command[0] == "worker"
    assert "--instance-id" not in command  # static ids cannot be unique per replica here
    assert flag(command, "--partitions") == flag(service("topics")["command"], "--partitions")
    assert service("topics")["command"][0] == "topics"
    assert worker["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert worker["depends_on"]["registry"]["condition"] == "service_healthy"
    registry = urllib.parse.urlsplit(env("worker")["GUARDLINE_SCHEMA_REGISTRY_URL"])
    listener = urllib.parse.urlsplit(env("registry")["SCHEMA_REGISTRY_LISTENERS"])
    assert (registry.hostname, registry.port) == ("registry", listener.port)
    port = int(env("worker")["GUARDLINE_METRICS_PORT"])
    assert env("worker")["GUARDLINE_METRICS_HOST"] == "0.0.0.0"
    assert f"127.0.0.1:{port}/readyz" in " ".join(worker["healthcheck"]["test"])
    assert worker["build"] == "." and (ROOT / "Dockerfile").is_file()


def test_depends_on_health_only_where_there_is_a_healthcheck() -> None:
    conditions = 0
    for name, svc in compose()["services"].items():
        for dep, rule in (svc.get("depends_on") or {}).items():
            assert dep in compose()["services"], f"{name} depends on unknown {dep}"
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in service(dep), f"{name} waits for {dep}'s health"
                conditions += 1
    assert conditions >= 3


def test_prometheus_mounts_its_config_and_scrapes_every_worker_replica() -> None:
    command = service("prometheus")["command"]
    config_path = next(c.split("=", 1)[1] for c in command if c.startswith("--config.file="))
    config_file = host_file("prometheus", config_path)
    assert config_file == ROOT / "deploy/prometheus/prometheus.yml"
    config = yaml.safe_load(config_file.read_text())
    for rules in config.get("rule_files", []):
        assert (config_file.parent / rules).is_file(), f"rule file {rules} missing"
    port = int(env("worker")["GUARDLINE_METRICS_PORT"])
    targets = [
        (name, sd["port"])
        for job in config["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
        for name in sd["names"]
    ]
    assert ("worker", port) in targets  # DNS returns every replica of the worker service
    assert published("prometheus") == {9090: ("127.0.0.1", 9090)}


def test_grafana_gets_the_dashboard_and_the_datasource_provisioned() -> None:
    assert published("grafana") == {3000: ("127.0.0.1", 3000)}
    provisioning = host_file("grafana", "/etc/grafana/provisioning")
    assert provisioning == ROOT / "deploy/grafana/provisioning"
    sources = [
        ds
        for f in sorted((provisioning / "datasources").glob("*.y*ml"))
        for ds in yaml.safe_load(f.read_text())["datasources"]
    ]
    prometheus = [ds for ds in sources if ds["type"] == "prometheus"]
    assert prometheus and prometheus[0]["url"] == "http://prometheus:9090"
    providers = [
        p
        for f in sorted((provisioning / "dashboards").glob("*.y*ml"))
        for p in yaml.safe_load(f.read_text())["providers"]
    ]
    assert providers
    dashboards = host_file("grafana", providers[0]["options"]["path"])
    files = sorted(dashboards.glob("*.json"))
    assert files, f"no dashboard JSON in {dashboards}"
    uids = {
        str(p.get("datasource", {}).get("uid"))
        for f in files
        for p in json.loads(f.read_text())["panels"]
        if p.get("type") != "row"
    }
    assert uids == {prometheus[0]["uid"]}  # every panel queries the provisioned Prometheus


def test_every_bind_mount_exists_in_the_repo() -> None:
    checked = 0
    for name in compose()["services"]:
        for source in mounts(name).values():
            assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            checked += 1
    assert checked >= 3


def test_dockerfile_runs_guardline_as_a_non_root_user() -> None:
    lines = [ln.strip() for ln in (ROOT / "Dockerfile").read_text().splitlines()]
    instructions = [ln for ln in lines if ln and not ln.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    users = [ln.split()[1] for ln in instructions if ln.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["guardline"]' in instructions
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignore  # deny by default: no .venv or .git in the build context
    copied = [src for ln in instructions if ln.startswith("COPY ") for src in ln.split()[1:-1]]
    assert {"pyproject.toml", "schemas", "streams"} <= set(copied)
    for src in copied:
        assert (ROOT / src).exists(), f"Dockerfile copies missing {src}"
        assert f"!{src}" in ignore or f"!{src}/" in ignore, f".dockerignore drops {src}"


def test_dockerfile_installs_the_package_normally_not_editable() -> None:
    """The wheel carries the schemas (tests/test_packaging.py), so the image needs no sources."""
    text = (ROOT / "Dockerfile").read_text()
    installs = [m.strip() for m in re.findall(r"pip install[^\n\\&]*", text)]
    assert any(cmd.endswith(" .") for cmd in installs), installs  # the project itself
    assert not any(re.search(r"\s(-e|--editable)(\s|$)", cmd) for cmd in installs), installs
    assert "rm -rf /app" in text  # and it runs without the sources it was built from


# --- With a compose CLI: the real validator ---------------------------------------------------


def compose_cli() -> list[str] | None:
    """`docker compose` (v2 plugin) if it runs here, else Debian's `docker-compose` (v1)."""
    for cmd in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(cmd[0]) is None:
            continue
        probe = subprocess.run([*cmd, "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return cmd
    return None


@pytest.fixture
def cli() -> list[str]:
    cmd = compose_cli()
    if cmd is None:
        if os.environ.get("CI"):
            pytest.fail("no compose CLI in CI: ./dev test installs Debian's docker-compose")
        pytest.skip("no `docker compose` or `docker-compose` here (the static checks ran)")
    return cmd


def _config(cli: list[str], path: Path, **env_vars: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli, "-f", str(path), "config"],
        capture_output=True,
        text=True,
        cwd=path.parent,
        env={**os.environ, "GRAFANA_ADMIN_PASSWORD": "not-a-default", **env_vars},
        timeout=60,
    )


def test_compose_cli_accepts_the_file_and_resolves_it(cli: list[str]) -> None:
    result = _config(cli, COMPOSE, GUARDLINE_PARTITIONS="8")
    assert result.returncode == 0, result.stderr
    assert "not-a-default" in result.stdout  # Grafana's password, from the environment
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) >= SERVICES
    worker = resolved["services"]["worker"]
    assert flag([str(c) for c in worker["command"]], "--partitions") == "8"
    context = worker["build"]["context"] if isinstance(worker["build"], dict) else worker["build"]
    assert Path(context) == ROOT
    grafana = resolved["services"]["grafana"]["volumes"]
    sources = [v["source"] if isinstance(v, dict) else v.split(":")[0] for v in grafana]
    assert str(ROOT / "deploy/grafana/dashboards") in sources


def test_compose_cli_rejects_a_broken_file(cli: list[str], tmp_path: Path) -> None:
    """The validator is real: the same file with a misspelt service key fails."""
    broken = yaml.safe_load(COMPOSE.read_text())
    broken["services"]["worker"]["depends_onn"] = broken["services"]["worker"].pop("depends_on")
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    result = _config(cli, path)
    assert result.returncode != 0
    assert "depends_onn" in result.stdout + result.stderr


def test_every_published_port_listens_on_localhost_unless_asked() -> None:
    ports = {name: published(name) for name in compose()["services"]}
    assert sum(len(p) for p in ports.values()) >= 4
    for name, mapping in ports.items():
        for host, _ in mapping.values():
            assert host == "127.0.0.1", name
    for name in compose()["services"]:
        for spec in service(name).get("ports", []):
            assert str(spec).startswith("${GUARDLINE_PUBLISH_HOST:-127.0.0.1}:"), (name, spec)


def test_grafana_has_no_default_password_and_no_anonymous_access() -> None:
    grafana = env("grafana")
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert with_default(grafana["GF_AUTH_ANONYMOUS_ENABLED"]) == "false"


def test_kafka_log_and_worker_state_live_on_named_volumes() -> None:
    named = set(compose()["volumes"])
    kafka = {v.split(":")[1]: v.split(":")[0] for v in service("kafka")["volumes"]}
    assert kafka[env("kafka")["KAFKA_LOG_DIRS"]] in named
    worker = {v.split(":")[1]: v.split(":")[0] for v in service("worker")["volumes"]}
    data_dir = flag([str(c) for c in service("worker")["command"]], "--data-dir")
    (mount,) = [m for m in worker if data_dir.startswith(mount_prefix(m))]
    assert worker[mount] in named
    assert "{hostname}" in data_dir  # replicas sharing the volume each keep their own stores


def mount_prefix(path: str) -> str:
    return path.rstrip("/") + "/"


def test_compose_cli_refuses_to_start_grafana_without_a_password(cli: list[str]) -> None:
    result = _config(cli, COMPOSE, GRAFANA_ADMIN_PASSWORD="")
    assert result.returncode != 0
    assert "GRAFANA_ADMIN_PASSWORD" in result.stdout + result.stderr
