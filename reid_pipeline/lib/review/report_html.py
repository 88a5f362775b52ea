"""The daily report as one self-contained HTML file: images inline, no scripts or fonts fetched.

Sections: a summary, a timeline chart per camera (inline SVG), every entity of the day with its
thumbnail strip, and the review queue with same / not same / name decisions. Decisions are collected
in the page and saved as a JSON file, which ``reid-pipeline review apply`` turns into corrections.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from html import escape

from reid_pipeline.lib.review.report_data import STRIP_LENGTH, DayReport, EntityDay, ReviewPair, camera_lanes

CHART_WIDTH, LANE_HEIGHT, LABEL_WIDTH = 900, 28, 90
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]

STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
h1{margin-bottom:4px} .muted{color:#666}
table{border-collapse:collapse;width:100%} td,th{border-bottom:1px solid #ddd;padding:6px;vertical-align:top;text-align:left}
img.thumb{height:72px;margin-right:3px;border:1px solid #ccc}
.flag{background:#fde2e2;color:#a00;padding:1px 6px;border-radius:8px;font-size:12px}
.watch{background:#e2effd;color:#035;padding:1px 6px;border-radius:8px;font-size:12px}
.review-pair{display:inline-block;border:1px solid #ccc;padding:8px;margin:6px;text-align:center}
.review-pair img{height:110px;margin:2px}
"""

SCRIPT = """
const decisions = {};
function decide(key, value) { if (value === null) { delete decisions[key]; } else { decisions[key] = value; } show(); }
function show() {
  document.getElementById('decisions').value = JSON.stringify(Object.values(decisions), null, 1);
}
function download() {
  const blob = new Blob([document.getElementById('decisions').value], {type: 'application/json'});
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = 'decisions-' + document.body.dataset.date + '.json';
  link.click();
}
window.addEventListener('load', () => {
  const images = Array.from(document.images);
  document.body.dataset.imagesTotal = images.length;
  document.body.dataset.imagesRendered = images.filter(i => i.complete && i.naturalWidth > 0).length;
});
"""


def _image(jpeg: bytes, title: str, css: str = "thumb") -> str:
    if not jpeg:
        return ""
    data = base64.b64encode(jpeg).decode()
    return f'<img class="{css}" alt="{escape(title)}" title="{escape(title)}" src="data:image/jpeg;base64,{data}">'


def _time(moment: datetime) -> str:
    return f"{moment:%H:%M:%S}"


def _chart(report: DayReport) -> str:
    lanes = camera_lanes(report)
    moments = [m for entity in report.entities for s in entity.sightings for m in (s.start, s.end)]
    if not moments:
        return '<p class="muted">No sightings.</p>'
    first, last = min(moments), max(moments)
    span = max((last - first).total_seconds(), 1.0)
    colour = {e.entity_id: PALETTE[i % len(PALETTE)] for i, e in enumerate(report.entities)}

    def x(moment: datetime) -> float:
        return LABEL_WIDTH + (moment - first).total_seconds() / span * (CHART_WIDTH - LABEL_WIDTH - 10)

    parts = []
    for row, (camera, sightings) in enumerate(lanes.items()):
        y = row * LANE_HEIGHT
        parts.append(f'<text x="4" y="{y + 18}" font-size="13">{escape(camera)}</text>')
        for entity_id, s in sightings:
            width = max(x(s.end) - x(s.start), 3.0)
            label = f"{entity_id} {_time(s.start)}-{_time(s.end)}"
            parts.append(
                f'<rect class="sighting" x="{x(s.start):.1f}" y="{y + 4}" width="{width:.1f}" height="{LANE_HEIGHT - 8}"'
                f' fill="{colour[entity_id]}" opacity="0.8"><title>{escape(label)}</title></rect>'
            )
    height = max(len(lanes), 1) * LANE_HEIGHT + 20
    axis = (
        f'<text x="{LABEL_WIDTH}" y="{height - 4}" font-size="11">{_time(first)}</text>'
        f'<text x="{CHART_WIDTH - 60}" y="{height - 4}" font-size="11">{_time(last)}</text>'
    )
    return (
        f'<svg id="timeline" width="{CHART_WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(parts)
        + axis
        + "</svg>"
    )


def _entity_row(entity: EntityDay) -> str:
    t = entity.timeline
    strip = "".join(
        _image(s.thumbnail, f"{s.camera_id} {_time(s.start)}") for s in entity.sightings[:STRIP_LENGTH]
    ) or _image(t["thumbnail"], entity.entity_id)
    flags = ('<span class="flag">review</span> ' if t["needs_review"] else "") + (
        '<span class="watch">watched</span>' if t["watch"] else ""
    )
    decision = json.dumps({"kind": "name", "tracklet": entity.anchor, "entity_id": entity.entity_id})
    name_input = (
        f'<input size=14 placeholder="name" value="{escape(t["name"] or "")}" '
        f'onchange=\'decide("name:{escape(entity.entity_id)}", this.value ? '
        f"Object.assign({escape(decision)}, {{value: this.value}}) : null)'>"
    )
    return (
        f'<tr class="entity" id="{escape(entity.entity_id)}"><td><b>{escape(entity.entity_id)}</b><br>{flags}</td>'
        f"<td>{strip}</td><td>{escape(t['summary'] or '')}</td><td>{escape(', '.join(t['cameras']))}</td>"
        f"<td>{_time(t['first_seen'])}</td><td>{_time(t['last_seen'])}</td><td>{t['n_appearances']}</td>"
        f"<td>{name_input}</td></tr>"
    )


def _review_pair(index: int, pair: ReviewPair) -> str:
    base = {"review_id": pair.review_id, "a": pair.a_tracklet, "b": pair.b_tracklet}
    buttons = "".join(
        f'<label><input type=radio name="r{index}" onchange=\'decide("review:{index}", '
        f"{escape(json.dumps({**base, 'kind': kind}))})'> {text}</label> "
        for kind, text in (("merge", "same"), ("not_same", "not the same"))
    )
    return (
        f'<div class="review-pair" data-review-id="{escape(pair.review_id)}">'
        f"{_image(pair.a_thumbnail, pair.a_tracklet, 'pair')}{_image(pair.b_thumbnail, pair.b_tracklet, 'pair')}"
        f"<br>{pair.level}, score {pair.score:.3f}<br>{buttons}</div>"
    )


def render(report: DayReport) -> str:
    """The whole page."""
    hits = "".join(
        f"<li><b>{escape(h['entity_id'])}</b> {escape(h['name'] or 'unnamed')}: {_time(h['first_seen'])}-"
        f"{_time(h['last_seen'])} on {escape(', '.join(h['cameras']))}</li>"
        for h in report.watch_hits
    )
    multi = sum(1 for e in report.entities if len(e.timeline["cameras"]) > 1)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Entities on {report.date}</title><style>{STYLE}</style></head>
<body data-date="{report.date}">
<h1>Entities on {report.date}</h1>
<p class="muted"><span id="entity-count">{len(report.entities)}</span> entities, {multi} on several cameras,
{len(report.review)} uncertain matches to review, {len(report.watch_hits)} watch-list hits.
Cameras: {escape(", ".join(report.cameras)) or "none"}.</p>
<h2>Timeline per camera</h2>
{_chart(report)}
<h2>Watch-list hits</h2>
<ul id="watch-hits">{hits or '<li class="muted">none</li>'}</ul>
<h2>Entities</h2>
<table id="entities"><tr><th>entity</th><th>seen</th><th>attributes</th><th>cameras</th><th>first</th>
<th>last</th><th>appearances</th><th>name</th></tr>
{"".join(_entity_row(e) for e in report.entities)}
</table>
<h2>Review queue</h2>
<div id="review">{"".join(_review_pair(i, p) for i, p in enumerate(report.review)) or '<p class="muted">empty</p>'}</div>
<h2>Decisions</h2>
<p class="muted">Save them, then run <code>reid-pipeline review apply decisions-{report.date}.json</code>.</p>
<textarea id="decisions" rows="6" cols="100" readonly>[]</textarea><br>
<button id="download-decisions" onclick="download()">Save decisions</button>
<script>{SCRIPT}</script>
</body></html>
"""
