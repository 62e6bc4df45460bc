"""A case's link graph: the subject, who it reached, the devices, IPs and groups it used, and
the other cases that share any of them; laid out by hand and drawn as inline SVG.

The layout is deterministic (sorted ids on two rings), so the same store draws the same
picture, and needs no graph library: the subject in the middle, what it touched on the inner
ring, other cases on the outer ring next to what they share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape
from typing import Any

from streams.cases.store import CaseStore, node_of
from streams.model import MINOR_BANDS, AgeBand

KIND_COLOURS = {
    "ACCOUNT": "#4c72b0",
    "MINOR": "#dd8452",
    "DEVICE": "#55a868",
    "IP": "#8172b3",
    "GROUP": "#937860",
    "CASE": "#c44e52",
}
MAX_NODES = 60  # a picture with more is unreadable; the JSON graph keeps them all
OTHER_SUBJECT = "other case's subject"


@dataclass(slots=True)
class Graph:
    centre: str
    nodes: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> kind, label, role
    edges: set[tuple[str, str, str]] = field(default_factory=set)  # (a, b, label)

    def add(self, node: str, kind: str, role: str = "") -> None:
        current = self.nodes.get(node)
        if current is None:
            label = node.partition(":")[2] if kind != "CASE" else node[5:17]
            self.nodes[node] = {"kind": kind, "label": label, "role": role}
        elif role and not current["role"]:
            current["role"] = role

    def link(self, a: str, b: str, label: str) -> None:
        if a != b:
            self.edges.add((min(a, b), max(a, b), label))

    def to_json(self) -> dict[str, Any]:
        return {
            "centre": self.centre,
            "nodes": [{"id": n, **info} for n, info in sorted(self.nodes.items())],
            "edges": [{"a": a, "b": b, "label": lbl} for a, b, lbl in sorted(self.edges)],
        }


def case_graph(store: CaseStore, alert_id: str) -> Graph:
    case = store.case(alert_id)
    if case is None:
        raise KeyError(alert_id)
    centre = node_of(case["subject_kind"], case["subject_id"])
    graph = Graph(centre)
    graph.add(centre, case["subject_kind"], "subject")
    touched = {centre}
    for node, role in store.nodes(alert_id):
        if node == centre:
            continue
        kind = "MINOR" if "minor" in role.lower() else node.partition(":")[0]
        graph.add(node, kind, role)
        graph.link(centre, node, role)
        touched.add(node)
    evidence = [e for r in store.revisions(alert_id) for e in r["evidence_event_ids"]]
    for event in store.events(evidence):
        _from_event(graph, event, touched)
    for other, shared, subject in store.sharing(touched, exclude=alert_id):
        case_node = f"CASE:{other}"
        graph.add(case_node, "CASE", "other case")
        graph.link(case_node, shared, "shares")
        if subject not in graph.nodes:
            graph.add(subject, subject.partition(":")[0], OTHER_SUBJECT)
            graph.link(case_node, subject, "subject")
    return graph


def _from_event(graph: Graph, event: dict[str, Any], touched: set[str]) -> None:
    """Devices, IPs and groups an evidence event shows, and the age band of who it reached."""
    actor = node_of("ACCOUNT", str(event["actor"]["id"]))
    graph.add(actor, "ACCOUNT")
    touched.add(actor)
    target = event.get("target")
    if target:
        node = node_of("ACCOUNT", str(target["id"]))
        band = AgeBand(target["age_band"])
        graph.add(node, "MINOR" if band in MINOR_BANDS else "ACCOUNT", band.value)
        if band in MINOR_BANDS:
            graph.nodes[node]["kind"] = "MINOR"
        graph.link(actor, node, str(event["type"]).lower())
        touched.add(node)
    for kind, key in (("DEVICE", "device_hash"), ("IP", "ip_hash"), ("GROUP", "group_id")):
        value = event.get(key)
        if value:
            node = node_of(kind, str(value))
            graph.add(node, kind, "used")
            graph.link(actor, node, "used" if kind != "GROUP" else "group")
            touched.add(node)


# What a picture keeps first when there are too many nodes: devices, IPs and groups are rarer
# and say more than one more account; other cases sharing an account or a device say more than
# cases sharing an IP (schools, carrier NAT).
DRAW_FIRST = ("DEVICE", "IP", "GROUP", "MINOR", "ACCOUNT")
SHARED_FIRST = ("ACCOUNT", "MINOR", "DEVICE", "GROUP", "IP")
INNER_MAX = 36
LABELS_UP_TO = 28  # more nodes on a ring than this: names only on hover


def drawn(graph: Graph) -> list[str]:
    """The nodes a picture shows besides the centre, at most MAX_NODES - 1: what the subject
    touched first, then the other cases linked to one of those."""
    kinds = {n: info["kind"] for n, info in graph.nodes.items()}
    rank = {kind: i for i, kind in enumerate(DRAW_FIRST)}
    inner = [
        n for n in graph.nodes
        if n != graph.centre and kinds[n] != "CASE"
        and graph.nodes[n]["role"] != OTHER_SUBJECT
    ]  # fmt: skip
    inner.sort(key=lambda n: (rank.get(kinds[n], len(rank)), n))
    inner = inner[:INNER_MAX]
    shown = {graph.centre, *inner}
    shared_rank = {kind: i for i, kind in enumerate(SHARED_FIRST)}
    best: dict[str, int] = {}
    for a, b, _ in graph.edges:
        for case, other in ((a, b), (b, a)):
            if kinds.get(case) == "CASE" and other in shown:
                r = shared_rank.get(kinds[other], len(shared_rank))
                best[case] = min(best.get(case, r), r)
    outer = sorted(best, key=lambda n: (best[n], n))[: MAX_NODES - 1 - len(inner)]
    return sorted(inner + outer)


def layout(graph: Graph, size: int = 640) -> dict[str, tuple[float, float]]:
    """Centre, an inner ring (what the subject touched) and an outer ring (other cases)."""
    mid = size / 2
    pos = {graph.centre: (mid, mid)}
    others = drawn(graph)
    inner = [n for n in others if not n.startswith("CASE:")]
    outer = [n for n in others if n.startswith("CASE:")]
    for ring, radius in ((inner, size * 0.3), (outer, size * 0.45)):
        for i, node in enumerate(ring):
            angle = 2 * math.pi * i / max(len(ring), 1) - math.pi / 2
            pos[node] = (mid + radius * math.cos(angle), mid + radius * math.sin(angle))
    return pos


def to_svg(graph: Graph, size: int = 640) -> str:
    pos = layout(graph, size)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="link-graph" width="{size}" '
        f'height="{size}" viewBox="0 0 {size} {size}" role="img" '
        f'aria-label="link graph of {escape(graph.centre)}">',
        f'<rect width="{size}" height="{size}" fill="#fafafa"/>',
    ]
    for a, b, label in sorted(graph.edges):
        if a in pos and b in pos:
            (x1, y1), (x2, y2) = pos[a], pos[b]
            parts.append(
                f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                f'stroke="#999" stroke-width="1.2"><title>{escape(label)}</title></line>'
            )
    crowded = len(pos) > LABELS_UP_TO
    for node, (x, y) in sorted(pos.items()):
        info = graph.nodes[node]
        r = 14 if node == graph.centre else 9
        label = "" if crowded and node != graph.centre else info["label"][:18]
        colour = KIND_COLOURS.get(info["kind"], "#777")
        title = escape(f"{node} ({info['role']})" if info["role"] else node)
        parts.append(
            f'<g class="node" data-node="{escape(node)}"><circle cx="{x:.1f}" cy="{y:.1f}" '
            f'r="{r}" fill="{colour}"><title>{title}</title></circle>'
            f'<text x="{x:.1f}" y="{y + r + 11:.1f}" font-size="10" text-anchor="middle" '
            f'font-family="sans-serif">{escape(label)}</text></g>'
        )
    legend_y = 16
    for kind, colour in KIND_COLOURS.items():
        parts.append(
            f'<circle cx="12" cy="{legend_y}" r="5" fill="{colour}"/><text x="22" '
            f'y="{legend_y + 4}" font-size="11" font-family="sans-serif">{kind.lower()}</text>'
        )
        legend_y += 16
    hidden = len(graph.nodes) - len(pos)
    if hidden > 0:
        parts.append(
            f'<text x="{size - 8}" y="{size - 8}" font-size="11" text-anchor="end" '
            f'font-family="sans-serif">+{hidden} more nodes in graph.json</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
