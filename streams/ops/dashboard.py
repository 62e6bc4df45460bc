"""The Grafana dashboard, generated from code so panels and their queries are tested.

`guardline dashboard` writes `deploy/grafana/dashboards/guardline.json`; a test checks the
committed file equals what this module generates, and another runs every panel's query against
a real Prometheus scraping a real worker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams import topics

DATASOURCE_UID = "guardline-prometheus"
DASHBOARD_UID = "guardline"
DASHBOARD_PATH = Path("deploy/grafana/dashboards/guardline.json")
RATE = "[1m]"  # short enough to follow a demo; Grafana's $__rate_interval would hide gaps


@dataclass(frozen=True, slots=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    description: str
    unit: str
    queries: tuple[Query, ...]
    stack: bool = False
    table: bool = False  # the latest values as a table instead of a time series


def _quantiles(metric: str, by: str = "") -> tuple[Query, ...]:
    group = f"le{', ' + by if by else ''}"
    prefix = f"{{{{{by}}}}} " if by else ""
    return tuple(
        Query(
            f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket{RATE})))",
            f"{prefix}p{round(q * 100)}",
        )
        for q in (0.5, 0.99)
    )


PANELS: tuple[Panel, ...] = (
    Panel(
        "Input events per second, by type",
        "Valid events read from the input topic (metadata only).",
        "ops",
        (Query(f"sum by (type) (rate(guardline_input_events_total{RATE}))", "{{type}}"),),
        stack=True,
    ),
    Panel(
        "Dead letters per second, by reason",
        "Input records refused and sent to the dead-letter topic, by reason code.",
        "ops",
        (Query(f"sum by (reason) (rate(guardline_rejected_events_total{RATE}))", "{{reason}}"),),
        stack=True,
    ),
    Panel(
        "New alerts per minute, by detector and severity",
        "Cases opened by enforcing detectors (revision 1).",
        "short",
        (
            Query(
                f"sum by (detector, severity) (rate(guardline_alerts_total{RATE})) * 60",
                "{{detector}} {{severity}}",
            ),
        ),
        stack=True,
    ),
    Panel(
        "Case updates per minute, by detector and severity",
        "Open cases re-published because they grew or rose in severity (revision > 1).",
        "short",
        (
            Query(
                f"sum by (detector, severity) (rate(guardline_case_updates_total{RATE})) * 60",
                "{{detector}} {{severity}}",
            ),
        ),
        stack=True,
    ),
    Panel(
        "Shadow alerts per minute, by detector",
        "Alerts of detectors in shadow mode: on the shadow topic only, never in the queue.",
        "short",
        (
            Query(
                f"sum by (detector) (rate(guardline_shadow_alerts_total{RATE})) * 60",
                "{{detector}}",
            ),
        ),
    ),
    Panel(
        "Ingest to alert latency (p50, p99)",
        "From the Kafka timestamp of the input record to the alert being produced.",
        "s",
        _quantiles("guardline_ingest_to_alert_seconds"),
    ),
    Panel(
        "Event time to alert latency (p50, p99)",
        "From the triggering event's own time: includes the platform's delivery delay.",
        "s",
        _quantiles("guardline_event_to_alert_seconds"),
    ),
    Panel(
        "Consumer lag, by topic and partition",
        "Records not yet processed: input topic and the internal routed topic.",
        "short",
        (
            Query(
                "sum by (topic, partition) (guardline_consumer_lag_records)",
                "{{topic}} p{{partition}}",
            ),
        ),
    ),
    Panel(
        "Event-time watermark behind wall clock",
        "How far each partition's event time trails now (negative: events from the future).",
        "s",
        (
            Query(
                "time() - max by (stage, partition) (guardline_watermark_timestamp_seconds)",
                "{{stage}} p{{partition}}",
            ),
        ),
    ),
    Panel(
        "Live state keys, by detector",
        "Subjects holding state; bounded by event-time expiry.",
        "short",
        (Query("sum by (detector) (guardline_state_keys)", "{{detector}}"),),
        stack=True,
    ),
    Panel(
        "Live state size, by detector (estimated)",
        "Serialised size of that state, estimated from a sample of subjects.",
        "bytes",
        (Query("sum by (detector) (guardline_state_bytes)", "{{detector}}"),),
        stack=True,
    ),
    Panel(
        "Batch size (p50, p99), by stage",
        "Records per processed batch: route = input topic, detect = routed topic.",
        "short",
        _quantiles("guardline_batch_records", "stage"),
    ),
    Panel(
        "Batch processing time (p50, p99), by stage",
        "Seconds spent on one batch.",
        "s",
        _quantiles("guardline_batch_processing_seconds", "stage"),
    ),
    Panel(
        "Precision from moderator decisions, by detector",
        "Confirmed / (confirmed + cleared) decisions on each detector's cases, since the "
        "workers started; detectors without decisions are absent.",
        "percentunit",
        (
            Query(
                'sum by (detector) (guardline_decisions_total{action="CONFIRM"}) / (sum by '
                '(detector) (guardline_decisions_total{action=~"CONFIRM|CLEAR"}) > 0)',
                "{{detector}}",
            ),
        ),
    ),
    Panel(
        "Open cases by severity",
        "Cases inside their cooldown and not cleared, by severity and detector (the worker's "
        "state; the case view lists them).",
        "short",
        (Query("sum by (severity, detector) (guardline_open_cases) > 0", "{{severity}}"),),
        table=True,
    ),
    Panel(
        "Workers up",
        "Workers Prometheus can scrape, and the input partitions they hold.",
        "short",
        (
            Query('sum(up{job="guardline"})', "workers up"),
            Query(
                f'sum(guardline_assigned_partitions{{topic="{topics.EVENTS.name}"}})',
                "input partitions assigned",
            ),
        ),
    ),
)


def _panel_json(index: int, panel: Panel) -> dict[str, Any]:
    width, height = 12, 8
    datasource = {"type": "prometheus", "uid": DATASOURCE_UID}
    if panel.table:
        return _table_json(index, panel, datasource, height, width)
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": panel.title,
        "description": panel.description,
        "datasource": datasource,
        "gridPos": {"h": height, "w": width, "x": (index % 2) * width, "y": (index // 2) * height},
        "fieldConfig": {
            "defaults": {
                "unit": panel.unit,
                "custom": {
                    "drawStyle": "line",
                    "fillOpacity": 20 if panel.stack else 0,
                    "stacking": {"mode": "normal" if panel.stack else "none", "group": "A"},
                },
            },
            "overrides": [],
        },
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": datasource,
                "expr": query.expr,
                "legendFormat": query.legend,
                "range": True,
            }
            for i, query in enumerate(panel.queries)
        ],
    }


def _table_json(
    index: int, panel: Panel, datasource: dict[str, str], height: int, width: int
) -> dict[str, Any]:
    return {
        "id": index + 1,
        "type": "table",
        "title": panel.title,
        "description": panel.description,
        "datasource": datasource,
        "gridPos": {"h": height, "w": width, "x": (index % 2) * width, "y": (index // 2) * height},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {"showHeader": True, "sortBy": [{"displayName": "severity", "desc": True}]},
        "transformations": [
            {"id": "organize", "options": {"excludeByName": {"Time": True}}},
        ],
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": datasource,
                "expr": query.expr,
                "legendFormat": query.legend,
                "format": "table",
                "instant": True,
                "range": False,
            }
            for i, query in enumerate(panel.queries)
        ],
    }


def dashboard() -> dict[str, Any]:
    """The dashboard as Grafana's JSON model (provisioned from a file, so no `id`)."""
    return {
        "uid": DASHBOARD_UID,
        "title": "Guardline",
        "description": "Stream health and safety signals of Guardline workers.",
        "tags": ["guardline"],
        "timezone": "utc",
        "editable": True,
        "refresh": "10s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-30m", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": [_panel_json(i, p) for i, p in enumerate(PANELS)],
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, sort_keys=True) + "\n"


def all_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) for every query of every panel."""
    return [(p.title, q.expr) for p in PANELS for q in p.queries]
