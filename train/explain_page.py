"""The attention explorer as one self-contained HTML file: data, style and script inline.

`render_page(data)` turns what train/explain.py gathered into a page that works offline from
a file (no server, no network, no external scripts or fonts): a layer and a head chosen with
two menus, the attention of that head drawn twice (a heatmap with a colour bar, and the
token-to-token lines view of bertviz-style tools), and the tokens as buttons. Clicking a
token keeps only its lines and shows the head's predictions for it (masked LM: what it
would put there; causal LM: the next token); a classifier's label and probabilities sit at
the top. `notebook_view(data)` shows the same page inline in Jupyter/Colab, inside an iframe
so that its script runs and its element ids cannot clash with the notebook's.

The data travels as JSON in a `<script type="application/json">` block with every `<`
escaped, so no sentence can close the block; tokens are put on the page with textContent,
never parsed as HTML. Left out on purpose: several heads overlaid at once, animation.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

from tokenizer.atomic import atomic_write

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.2em; color: #222; }
h1 { font-size: 1.2em; margin: 0 0 .3em; }
.muted { color: #666; font-size: .9em; }
#controls { margin: .8em 0; display: flex; gap: 1.2em; align-items: center; flex-wrap: wrap; }
#tokens { margin: .6em 0; line-height: 2.1em; }
.tok { border: 1px solid #bbb; border-radius: 4px; padding: 1px 5px; margin: 2px;
       background: #f7f7f7; cursor: pointer; font-family: monospace; }
.tok.special { color: #777; }
.tok.chosen { background: #ffd54f; border-color: #c79a00; }
#views { display: flex; gap: 2em; flex-wrap: wrap; align-items: flex-start; }
#views svg text { font-family: monospace; font-size: 11px; }
#predictions table, #labels table { border-collapse: collapse; }
#predictions td, #labels td { padding: 1px 8px; font-family: monospace; }
.bar { display: inline-block; height: .8em; background: #3b7dd8; }
"""

SCRIPT = r"""
const D = JSON.parse(document.getElementById('explain-data').textContent);
const T = D.tokens.length, SVGNS = 'http://www.w3.org/2000/svg';
let chosen = null;
const $ = (id) => document.getElementById(id);
function el(name, attrs, text) {
  const e = document.createElementNS(SVGNS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}
// A viridis-like ramp: five stops, linear in between.
const STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function colour(p) {
  const x = Math.min(Math.max(p, 0), 1) * (STOPS.length - 1), i = Math.min(Math.floor(x), 3);
  const f = x - i, a = STOPS[i], b = STOPS[i + 1];
  return 'rgb(' + a.map((v, k) => Math.round(v + f * (b[k] - v))).join(',') + ')';
}
function label(i) {
  const t = D.tokens[i];
  return t.length > 12 ? t.slice(0, 11) + '…' : t;
}
function matrix() { return D.attentions[+$('layer').value][+$('head').value]; }
function drawHeatmap() {
  const A = matrix(), cell = Math.max(8, Math.min(26, Math.floor(480 / T))), pad = 90;
  const svg = $('heatmap');
  svg.replaceChildren();
  svg.setAttribute('width', pad + T * cell + 70);
  svg.setAttribute('height', pad + T * cell + 10);
  for (let i = 0; i < T; i++) {
    svg.appendChild(el('text', {x: pad - 4, y: pad + i * cell + cell * 0.7, 'text-anchor': 'end'},
                       label(i)));
    const x = pad + i * cell + cell * 0.7;
    svg.appendChild(el('text', {transform: `translate(${x},${pad - 4}) rotate(-60)`}, label(i)));
    for (let j = 0; j < T; j++) {
      const r = el('rect', {x: pad + j * cell, y: pad + i * cell, width: cell, height: cell,
                            fill: colour(A[i][j])});
      r.appendChild(el('title', {}, `${D.tokens[i]} → ${D.tokens[j]}: ${A[i][j].toFixed(3)}`));
      svg.appendChild(r);
    }
  }
  if (chosen !== null)
    svg.appendChild(el('rect', {x: pad, y: pad + chosen * cell, width: T * cell, height: cell,
                                fill: 'none', stroke: '#ff5252', 'stroke-width': 2}));
  const x0 = pad + T * cell + 20, h = T * cell;  // the colour bar: 0 at the bottom, 1 at the top
  for (let k = 0; k < 50; k++)
    svg.appendChild(el('rect', {x: x0, y: pad + h - (k + 1) * h / 50, width: 12,
                                height: h / 50 + 0.5, fill: colour((k + 0.5) / 50)}));
  for (const v of [0, 0.5, 1])
    svg.appendChild(el('text', {x: x0 + 16, y: pad + h - v * h + 4}, v.toFixed(1)));
}
function drawLines() {
  const A = matrix(), row = 18, top = 20, svg = $('lines');
  svg.replaceChildren();
  svg.setAttribute('width', 420);
  svg.setAttribute('height', top + T * row + 10);
  for (let i = 0; i < T; i++) {
    const y = top + i * row;
    const left = el('text', {x: 110, y: y + 4, 'text-anchor': 'end', cursor: 'pointer',
                             'font-weight': chosen === i ? 'bold' : 'normal'}, label(i));
    left.addEventListener('click', () => choose(i));
    svg.appendChild(left);
    svg.appendChild(el('text', {x: 310, y: y + 4}, label(i)));
    for (let j = 0; j < T; j++) {
      if ((chosen !== null && chosen !== i) || A[i][j] < 0.01) continue;
      svg.appendChild(el('line', {x1: 116, y1: y, x2: 304, y2: top + j * row,
                                  stroke: '#3b7dd8', 'stroke-width': 1 + 3 * A[i][j],
                                  // sqrt: weak links stay visible, strong ones dominate
                                  'stroke-opacity': Math.sqrt(A[i][j]).toFixed(3)}));
    }
  }
}
function showPredictions() {
  const box = $('predictions');
  box.replaceChildren();
  if (!D.predictions) return;
  const head = document.createElement('div');
  box.appendChild(head);
  if (chosen === null) {
    head.textContent = 'Click a token to see the model\'s guesses.';
    return;
  }
  const top = D.predictions[chosen];
  head.textContent = `${D.tokens[chosen]} — ${D.predictions_title}:`;
  if (!top) {
    head.textContent += ' (a special token: no guess)';
    return;
  }
  const table = document.createElement('table');
  for (const [token, p] of top) {
    const tr = table.insertRow(), bar = document.createElement('span');
    tr.insertCell().textContent = JSON.stringify(token);
    bar.className = 'bar'; bar.style.width = Math.round(120 * p) + 'px';
    tr.insertCell().appendChild(bar);
    tr.insertCell().textContent = p.toFixed(4);
    tr.className = 'prediction';
  }
  box.appendChild(table);
}
function choose(i) {
  chosen = chosen === i ? null : i;
  document.querySelectorAll('.tok').forEach((b, k) => b.classList.toggle('chosen', k === chosen));
  draw();
}
function draw() { drawHeatmap(); drawLines(); showPredictions(); }
function fill(select, n, name) {
  for (let k = 0; k < n; k++) select.add(new Option(`${name} ${k}`, k));
  select.addEventListener('change', draw);
}
$('title').textContent = D.model + ': ' + D.text + (D.pair ? '  |  ' + D.pair : '');
fill($('layer'), D.attentions.length, 'layer');
fill($('head'), D.attentions[0].length, 'head');
D.tokens.forEach((t, i) => {
  const b = document.createElement('button');
  b.className = 'tok' + (D.special[i] ? ' special' : '');
  b.textContent = t;
  b.title = `position ${i}, segment ${D.segments[i]}`;
  b.addEventListener('click', () => choose(i));
  $('tokens').appendChild(b);
});
if (D.labels) {
  const best = D.labels.reduce((a, b) => (b[1] > a[1] ? b : a));
  const p = document.createElement('div');
  p.textContent = `predicted label: ${best[0]}  (` +
    D.labels.map(([n, q]) => `${n} ${q.toFixed(4)}`).join(', ') + ')';
  $('labels').appendChild(p);
}
draw();
"""

BODY = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>minibert explain</title>
<style>{style}</style></head>
<body>
<h1 id="title"></h1>
<div class="muted">Each row of the heatmap is one token asking "whom do I read from?"; the row
sums to 1. Lines join a token (left) to the tokens it reads (right); click a token to keep
only its lines{predict_hint}.</div>
<div id="labels"></div>
<div id="controls"><label>Layer <select id="layer"></select></label>
<label>Head <select id="head"></select></label></div>
<div id="tokens"></div>
<div id="views"><svg id="heatmap"></svg><svg id="lines"></svg><div id="predictions"></div></div>
<script type="application/json" id="explain-data">{data}</script>
<script>{script}</script>
</body></html>
"""


def render_page(data: dict) -> str:
    """One HTML document (a str) showing `data` from train.explain.explain."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    hint = " and see the model's guesses for it" if data.get("predictions") else ""
    return BODY.format(style=STYLE, script=SCRIPT, data=payload, predict_hint=hint)


def write_page(data: dict, path: str | os.PathLike) -> Path:
    """Write the page to `path` atomically; returns the path."""
    page = render_page(data)
    return atomic_write(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))


def notebook_view(data: dict, height: int = 720):
    """The page inline in Jupyter or Colab (an iframe holding the whole document)."""
    from IPython.display import HTML

    return HTML(f'<iframe srcdoc="{html.escape(render_page(data), quote=True)}" '
                f'style="width: 100%; height: {height}px; border: 1px solid #ddd"></iframe>')
