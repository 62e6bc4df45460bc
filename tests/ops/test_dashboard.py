"""deploy/grafana: the committed dashboard is the generated one, and its structure holds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from streams.cli import main
from streams.ops.dashboard import DATASOURCE_UID, PANELS, all_queries, dashboard, render
from tests.promtool import exported_series, promtool

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy/grafana"
COMMITTED = GRAFANA / "dashboards/guardline.json"


def test_committed_dashboard_is_the_generated_one() -> None:
    assert COMMITTED.read_text() == render(), "run `guardline dashboard` and commit the result"


def test_dashboard_command_writes_it(tmp_path: Path) -> None:
    out = tmp_path / "d.json"
    assert main(["dashboard", "-o", str(out)]) == 0
    assert json.loads(out.read_text()) == dashboard()


def test_panels_cover_what_safety_engineers_watch() -> None:
    exprs = " ".join(expr for _, expr in all_queries())
    for series in (
        "guardline_input_events_total",  # event rate
        "guardline_alerts_total",  # alerts by detector and severity
        "guardline_case_updates_total",
        "guardline_shadow_alerts_total",
        "guardline_ingest_to_alert_seconds_bucket",  # latency p50/p99
        "guardline_event_to_alert_seconds_bucket",
        "guardline_consumer_lag_records",
        "guardline_rejected_events_total",  # dead letters
        "guardline_state_keys",
        "guardline_state_bytes",
        "guardline_watermark_timestamp_seconds",
    ):
        assert series in exprs, series
    assert "by (detector, severity)" in exprs
    assert "histogram_quantile(0.5," in exprs and "histogram_quantile(0.99," in exprs


def test_the_safety_panels_from_decisions_and_open_cases() -> None:
    doc = json.loads(COMMITTED.read_text())
    by_title = {p["title"]: p for p in doc["panels"]}
    precision = by_title["Precision from moderator decisions, by detector"]
    assert 'action="CONFIRM"' in precision["targets"][0]["expr"]
    table = by_title["Open cases by severity"]
    assert table["type"] == "table" and table["targets"][0]["format"] == "table"
    assert "guardline_open_cases" in table["targets"][0]["expr"]


def test_structure_is_what_grafana_loads() -> None:
    doc = json.loads(COMMITTED.read_text())
    assert doc["uid"] == "guardline" and doc["schemaVersion"] >= 36 and "id" not in doc
    panels = doc["panels"]
    assert len(panels) == len(PANELS)
    assert len({p["id"] for p in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        assert panel["type"] in ("timeseries", "table") and panel["title"] and panel["description"]
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24 and pos["h"] > 0
        mine = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"])
                for y in range(pos["y"], pos["y"] + pos["h"])}  # fmt: skip
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine
        refs = [t["refId"] for t in panel["targets"]]
        assert panel["targets"] and len(set(refs)) == len(refs)
        for target in panel["targets"]:
            assert target["expr"] and target["legendFormat"]
            assert target["datasource"]["uid"] == DATASOURCE_UID


def test_queries_read_only_exported_series_and_are_valid_promql(tmp_path: Path) -> None:
    exported = exported_series()
    for title, expr in all_queries():
        used = set(re.findall(r"\bguardline_[a-z_]+", expr))
        assert used <= exported, (title, used - exported)
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:q{i}", "expr": expr}
                    for i, (_, expr) in enumerate(all_queries())
                ],
            }
        ]
    }
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump(rules))
    assert f"SUCCESS: {len(all_queries())} rules found" in promtool("check", "rules", path)


def test_provisioning_points_grafana_at_the_dashboard_and_datasource() -> None:
    sources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    (source,) = sources["datasources"]
    assert source["uid"] == DATASOURCE_UID and source["type"] == "prometheus"
    assert source["url"].startswith("http://")
    boards = yaml.safe_load((GRAFANA / "provisioning/dashboards/guardline.yml").read_text())
    (provider,) = boards["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
