"""Server-rendered HTML for the case view: the ranked list and the case page.

Everything shown is escaped; there is no message content to show, only pseudonymous ids,
counts and the detectors' own sentences. Every form that changes something carries the CSRF
token.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote

from streams.cases.store import STATUSES
from streams.model import Severity, SubjectKind

STYLE = """
body{font-family:sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#eee}.sev-CRITICAL{background:#f4b6b6}.sev-HIGH{background:#f8d7a8}
.sev-MEDIUM{background:#fbf1b8}.muted{color:#777}.timeline li{margin:.3em 0}
form.inline{display:inline}button{margin-right:.5em}section{margin:1.2em 0}
"""


def when(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S") + "Z"


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def _select(name: str, options: list[str], chosen: str | None, blank: str) -> str:
    opts = [f'<option value="">{escape(blank)}</option>']
    for o in options:
        sel = " selected" if o == chosen else ""
        opts.append(f'<option value="{escape(o)}"{sel}>{escape(o)}</option>')
    return f'<select name="{name}">{"".join(opts)}</select>'


def case_list(cases: list[dict[str, Any]], detectors: list[str], query: dict[str, str]) -> str:
    filters = (
        '<form method="get" action="/" id="filters">'
        + _select("detector", detectors, query.get("detector"), "any detector")
        + _select("severity", [s.value for s in Severity], query.get("severity"), "any severity")
        + _select("kind", [k.value for k in SubjectKind], query.get("kind"), "any subject kind")
        + _select("status", list(STATUSES), query.get("status"), "open or escalated")
        + f' since <input name="since" type="date" value="{escape(query.get("since", ""))}">'
        + ' <button type="submit">Filter</button></form>'
    )
    rows = []
    for c in cases:
        link = f"/case/{quote(c['alert_id'])}"
        rows.append(
            f'<tr class="case sev-{escape(c["severity"])}" data-case="{escape(c["alert_id"])}">'
            f'<td><a href="{link}">{escape(c["alert_id"])}</a></td>'
            f"<td>{escape(c['severity'])}</td><td>{c['score']:.2f}</td>"
            f"<td>{c['minors_exposed']}</td><td>{escape(c['detector'])}</td>"
            f"<td>{escape(c['subject_kind'])}:{escape(c['subject_id'])}</td>"
            f"<td>{c['revision']}</td><td>{when(c['last_ts_ms'])}</td>"
            f"<td>{escape(c['status'])}</td></tr>"
        )
    table = (
        '<table id="cases"><tr><th>case</th><th>severity</th><th>score</th><th>minors</th>'
        "<th>detector</th><th>subject</th><th>rev</th><th>last update</th><th>status</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    empty = "" if cases else '<p class="muted">No cases match.</p>'
    return _page(
        "Guardline cases",
        f"<h1>Cases</h1><p class='muted'>Ranked by severity, score, minors exposed. "
        f"Metadata only: no message content exists here.</p>{filters}{table}{empty}",
    )


def case_page(
    case: dict[str, Any],
    revisions: list[dict[str, Any]],
    decisions: list[dict[str, Any]],
    nodes: list[tuple[str, str]],
    svg: str,
    csrf: str,
) -> str:
    latest = revisions[-1] if revisions else {}
    features: dict[str, float] = latest.get("features", {})
    measured = [(k, v) for k, v in features.items() if not k.startswith("threshold_")]
    thresholds = [
        (k[len("threshold_") :], v) for k, v in features.items() if k.startswith("threshold_")
    ]
    feature_rows = "".join(f"<tr><td>{escape(k)}</td><td>{v:g}</td></tr>" for k, v in measured if v)
    threshold_rows = "".join(f"<tr><td>{escape(k)}</td><td>{v:g}</td></tr>" for k, v in thresholds)
    timeline = "".join(
        f'<li class="revision">rev {r["revision"]} · {when(r["trigger_ts"])} · '
        f"{escape(r['severity'])} · score {r['score']:.2f} · minors {r['minors_exposed']}"
        f'<br><span class="muted">{escape(r["reason"])}</span></li>'
        for r in revisions
    ) + "".join(
        f'<li class="decision">decision {escape(d["action"])} · {when(d["decided_at_ms"])}'
        f" · {escape(d['moderator'])} {escape(d['note'])}</li>"
        for d in decisions
    )
    evidence = sorted({e for r in revisions for e in r.get("evidence_event_ids", [])})
    counterparts = "".join(
        f"<tr><td>{escape(n.partition(':')[2])}</td><td>{escape(role)}</td></tr>"
        for n, role in nodes
        if role != "subject"
    )
    cid = escape(case["alert_id"])
    actions = (
        f'<form method="post" action="/case/{quote(case["alert_id"])}/decide" id="decide">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        '<input name="note" placeholder="note (no message content)" size="40"> '
        '<button name="action" value="CONFIRM" id="confirm">Confirm</button>'
        '<button name="action" value="CLEAR" id="clear">Clear</button>'
        '<button name="action" value="ESCALATE" id="escalate">Escalate</button></form>'
        f'<p><a href="/case/{quote(case["alert_id"])}/bundle" id="bundle">Evidence bundle '
        "(zip)</a></p>"
    )
    body = (
        f'<p><a href="/">&larr; all cases</a></p><h1>Case <span id="case-id">{cid}</span></h1>'
        f'<p class="sev-{escape(case["severity"])}"><b>{escape(case["severity"])}</b> · '
        f"{escape(case['detector'])} {escape(case['detector_version'])} · "
        f"{escape(case['subject_kind'])}:{escape(case['subject_id'])} · "
        f'status <b id="status">{escape(case["status"])}</b></p>'
        f'<p id="reason">{escape(case["reason"])}</p>{actions}'
        f"<section><h2>Link graph</h2>{svg}</section>"
        f"<section><h2>Features</h2><p class='muted'>Of the case's latest revision; features "
        f"at 0 are left out.</p><table><tr><th>feature</th><th>value</th></tr>"
        f"{feature_rows}</table><h3>Thresholds</h3><table><tr><th>threshold</th>"
        f"<th>value</th></tr>{threshold_rows}</table></section>"
        f'<section><h2>Timeline</h2><ol class="timeline">{timeline}</ol></section>'
        f"<section><h2>Counterparts</h2><table><tr><th>account</th><th>role</th></tr>"
        f"{counterparts}</table></section>"
        f'<section><h2>Evidence event ids</h2><p id="evidence">'
        f"{escape(', '.join(evidence))}</p></section>"
    )
    return _page(f"Case {case['alert_id']}", body)
