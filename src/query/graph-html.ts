import { isoFromNs } from '../sources/timestamp.js';
import type { ExecutionFact } from './executions.js';
import { groupTitle, outputsLabel, plural, type ExecutionGroup, type LineageGraph } from './graph.js';
import type { ModelVersion } from './models.js';
import { shortIso } from './models-output.js';

/**
 * The lineage as one self-contained HTML page: inline CSS and SVG laid out
 * here, no script and no network, so it opens from a file on a laptop with
 * no connection (or from a CI artifact). Readable at hundreds of executions:
 * results are grouped per execution, executions per model version once
 * there are many, and a timeline shows when each version ran.
 */

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#59a14f', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f', '#bab0ac'];
const NO_MODEL = '#9aa0a6';
/** Rows of the executions table; beyond it the page says how many were left out. */
const MAX_TABLE_ROWS = 2000;

export interface HtmlOptions {
  /** What was read, shown under the title. */
  sources: string[];
  generatedNs: bigint;
  version: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** 33500 → "33,500": counts people compare at a glance. */
const n = (v: number) => String(v).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** Cut to about `max` characters (labels are laid out without measuring text). */
const fit = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

export function toHtml(g: LineageGraph, o: HtmlOptions): string {
  const color = new Map(g.models.map((m, i) => [m.md5, PALETTE[i % PALETTE.length]]));
  const colorOf = (md5s: string[]) => color.get(md5s[0] ?? '') ?? NO_MODEL;
  const title = `Lineage of ${g.pipelines.length ? g.pipelines.join(', ') : 'this MLMD file'}`;
  const count = (v: number, one: string) => `${n(v)} ${v === 1 ? one : `${one}s`}`;
  const summary = [count(g.models.length, 'model version'), count(g.totals.executions, 'execution'), count(g.totals.results, 'result'), count(g.totals.measurements, 'metric')].join(' · ');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="cmf-sage ${esc(o.version)}">
<title>${esc(title)} — cmf-sage</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${esc(title)}</h1>
<p class="summary" id="summary">${esc(summary)}</p>
<p class="meta">Read from ${o.sources.map((s) => `<code>${esc(s)}</code>`).join(', ')} · generated ${esc(shortIso(o.generatedNs))} by cmf-sage ${esc(o.version)}</p>
</header>
<main>
<section>
<h2>Model versions</h2>
${modelsTable(g.models, color)}
</section>
${g.executions.length ? `<section>
<h2>When each version ran</h2>
${timeline(g, color)}
</section>` : ''}
<section>
<h2>Lineage</h2>
<p class="note">pipeline → stage → executions; each model version feeds the executions that loaded it, and each execution's results are one node${g.summarized ? `. ${esc(plural(g.totals.executions, 'execution'))} are grouped per stage and model version` : ''}.</p>
${graphSvg(g, colorOf)}
</section>
${g.executions.length ? executionsTable(g.executions, colorOf) : ''}
</main>
</body>
</html>
`;
}

function badge(m: ModelVersion): string {
  if (m.latest) return '<span class="badge latest">latest</span>';
  if (m.previous) return '<span class="badge">previous</span>';
  return '';
}

function modelsTable(models: ModelVersion[], color: Map<string, string>): string {
  if (!models.length) return '<p class="note">No model version is recorded.</p>';
  const rows = models
    .map(
      (m) => `<tr class="model" data-md5="${esc(m.md5)}">
<td><span class="swatch" style="background:${color.get(m.md5)}"></span></td>
<td class="mono md5" title="${esc(m.md5)}">${esc(m.md5)}</td>
<td class="path" title="${esc(m.paths.join(', '))}">${esc(m.path)}</td>
<td class="num results" data-results="${m.results}">${n(m.results)}</td>
<td class="num">${n(m.measurements)}</td>
<td class="num">${n(m.executions)}</td>
<td class="time">${esc(shortIso(m.firstUsedNs))}</td>
<td class="time">${m.inUse ? 'in use' : esc(shortIso(m.lastUsedNs))}</td>
<td>${badge(m)}</td>
</tr>`,
    )
    .join('\n');
  return `<table class="models">
<thead><tr><th></th><th>md5</th><th>path</th><th class="num">results</th><th class="num">metrics</th><th class="num">executions</th><th>first used (UTC)</th><th>last used (UTC)</th><th></th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`;
}

/** One lane per model version; each execution a bar from its window start to end. */
function timeline(g: LineageGraph, color: Map<string, string>): string {
  const lanes = [...g.models.filter((m) => m.executions > 0).map((m) => ({ key: m.md5, label: `${m.md5.slice(0, 8)} ${m.path.split('/').pop()}`, color: color.get(m.md5)! }))];
  if (g.executions.some((e) => e.inputModels.length === 0)) lanes.push({ key: '', label: 'no model input', color: NO_MODEL });
  if (!lanes.length) return '';
  let t0 = g.executions[0].startNs;
  let t1 = t0;
  for (const e of g.executions) {
    if (e.startNs < t0) t0 = e.startNs;
    const end = e.endNs ?? e.startNs;
    if (end > t1) t1 = end;
  }
  if (t1 === t0) t1 = t0 + 1_000_000_000n;
  const W = 1100;
  const left = 200;
  const right = 20;
  const laneH = 26;
  const top = 8;
  const x = (ns: bigint) => left + (Number(ns - t0) / Number(t1 - t0)) * (W - left - right);
  const height = top + lanes.length * laneH + 34;
  const parts: string[] = [];
  lanes.forEach((l, i) => {
    const y = top + i * laneH;
    parts.push(`<rect class="lane" x="${left}" y="${y + 4}" width="${W - left - right}" height="${laneH - 8}" rx="3"/>`);
    parts.push(`<text class="lane-label" x="${left - 10}" y="${y + laneH / 2 + 4}" text-anchor="end">${esc(fit(l.label, 28))}</text>`);
  });
  const laneOf = new Map(lanes.map((l, i) => [l.key, i]));
  for (const e of g.executions) {
    for (const key of e.inputModels.length ? e.inputModels : ['']) {
      const i = laneOf.get(key);
      if (i === undefined) continue;
      const x0 = x(e.startNs);
      const w = Math.max(3, x(e.endNs ?? e.startNs) - x0);
      const y = top + i * laneH + 6;
      const tip = `${e.uuid} · ${isoFromNs(e.startNs)} … ${e.endNs === null ? 'open' : isoFromNs(e.endNs)} · ${outputsLabel(e.results, e.measurements)}`;
      parts.push(`<rect class="run" x="${x0.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${laneH - 12}" fill="${color.get(key) ?? NO_MODEL}"><title>${esc(tip)}</title></rect>`);
    }
  }
  const axisY = top + lanes.length * laneH + 6;
  parts.push(`<line class="axis" x1="${left}" x2="${W - right}" y1="${axisY}" y2="${axisY}"/>`);
  for (let k = 0; k <= 4; k++) {
    const ns = t0 + ((t1 - t0) * BigInt(k)) / 4n;
    const anchor = k === 0 ? 'start' : k === 4 ? 'end' : 'middle';
    parts.push(`<line class="axis" x1="${x(ns)}" x2="${x(ns)}" y1="${axisY}" y2="${axisY + 4}"/>`);
    parts.push(`<text class="tick" x="${x(ns)}" y="${axisY + 18}" text-anchor="${anchor}">${esc(tickLabel(ns, t1 - t0, k === 0))}</text>`);
  }
  return `<svg class="timeline" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" role="img" aria-label="executions over time per model version">${parts.join('')}</svg>`;
}

/** Axis labels as precise as the span needs: ms for seconds-long spans, minutes for days. */
function tickLabel(ns: bigint, spanNs: bigint, first: boolean): string {
  const iso = isoFromNs(ns); // 2026-12-03T16:28:29.123456789Z
  const day = iso.slice(0, 10);
  let time: string;
  if (spanNs < 10_000_000_000n) time = iso.slice(11, 23);
  else if (spanNs < 3_600_000_000_000n) time = iso.slice(11, 19);
  else time = iso.slice(11, 16);
  return first || spanNs >= 86_400_000_000_000n ? `${day} ${time}Z` : `${time}Z`;
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

const MODEL_W = 290;
const MODEL_H = 62;
const EXEC_W = 300;
const EXEC_H = 46;
const RES_W = 180;
const GAP = 12;
const X_MODEL = 16;
const X_PIPE = 370;
const X_EXEC = X_PIPE + 24;
const X_RES = X_EXEC + EXEC_W + 70;
const SVG_W = X_RES + RES_W + 20;

/** Models left, pipeline box (stage boxes holding execution nodes) in the middle, results right. */
function graphSvg(g: LineageGraph, colorOf: (md5s: string[]) => string): string {
  const containers: string[] = [];
  const parts: string[] = [];
  const groupBox = new Map<string, Box>();
  let y = 16;
  const pipelines: (string | null)[] = [...g.pipelines];
  if (g.stages.some((s) => s.pipeline === null)) pipelines.push(null);
  for (const p of pipelines) {
    const stages = g.stages.filter((s) => s.pipeline === p);
    if (!stages.length) continue;
    const pipeTop = y;
    y += 34;
    const inner: string[] = [];
    for (const s of stages) {
      const stageTop = y;
      y += 30;
      for (const x of g.groups.filter((gr) => (gr.stage ?? '(no stage)') === s.name)) {
        groupBox.set(x.id, { x: X_EXEC, y, w: EXEC_W, h: EXEC_H });
        y += EXEC_H + GAP;
      }
      inner.push(
        `<rect class="stage" x="${X_PIPE + 10}" y="${stageTop}" width="${EXEC_W + 28}" height="${y - stageTop}" rx="8"/>` +
          `<text class="container-label" x="${X_PIPE + 22}" y="${stageTop + 19}">stage <tspan class="strong">${esc(fit(s.name, 36))}</tspan></text>`,
      );
      y += 8;
    }
    containers.push(
      `<rect class="pipeline" x="${X_PIPE}" y="${pipeTop}" width="${EXEC_W + 48}" height="${y - pipeTop}" rx="10"/>` +
        `<text class="container-label" x="${X_PIPE + 14}" y="${pipeTop + 22}">pipeline <tspan class="strong">${esc(fit(p ?? '(none)', 34))}</tspan></text>`,
      ...inner,
    );
    y += 16;
  }

  // Models sit level with the executions they feed, pushed down where they would overlap.
  const modelBox = new Map<string, Box>();
  const want = g.models.map((m, order) => {
    const ys = g.groups
      .filter((x) => x.inputModels.includes(m.md5) || x.outputModels.includes(m.md5))
      .map((x) => groupBox.get(x.id)!)
      .map((b) => b.y + b.h / 2);
    return { m, order, centre: ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : Number.POSITIVE_INFINITY };
  });
  want.sort((a, b) => a.centre - b.centre || a.order - b.order);
  let next = 16;
  for (const { m, centre } of want) {
    const top = Math.max(next, Number.isFinite(centre) ? centre - MODEL_H / 2 : next);
    modelBox.set(m.md5, { x: X_MODEL, y: top, w: MODEL_W, h: MODEL_H });
    next = top + MODEL_H + 8;
  }
  const height = Math.max(y, next) + 8;

  const edges: string[] = [];
  for (const x of g.groups) {
    const b = groupBox.get(x.id)!;
    const cy = b.y + b.h / 2;
    for (const md5 of x.inputModels) {
      const mb = modelBox.get(md5);
      if (!mb) continue;
      edges.push(curve(mb.x + mb.w, mb.y + mb.h / 2, b.x, cy, colorOf([md5]), 'input', false));
    }
    for (const md5 of x.outputModels) {
      const mb = modelBox.get(md5);
      if (!mb) continue;
      edges.push(curve(b.x, cy + 8, mb.x + mb.w, mb.y + mb.h / 2 + 8, colorOf([md5]), 'output', true));
    }
    parts.push(execNode(x, b, colorOf(x.inputModels)));
    if (x.results + x.measurements > 0) {
      parts.push(`<line class="link" x1="${b.x + b.w}" y1="${cy}" x2="${X_RES - 4}" y2="${cy}" marker-end="url(#arrow)"/>`);
      parts.push(resultsNode(x, { x: X_RES, y: b.y, w: RES_W, h: b.h }));
    }
  }
  for (const m of g.models) parts.push(modelNode(m, modelBox.get(m.md5)!, colorOf([m.md5])));

  return `<div class="graph-wrap"><svg class="graph" viewBox="0 0 ${SVG_W} ${height}" width="${SVG_W}" height="${height}" role="img" aria-label="lineage graph">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8a8f98"/></marker></defs>
${containers.join('\n')}
${edges.join('\n')}
${parts.join('\n')}
</svg></div>`;
}

function curve(x1: number, y1: number, x2: number, y2: number, color: string, kind: string, dashed: boolean): string {
  const dx = Math.max(30, Math.abs(x2 - x1) / 2);
  const c1 = x1 + (x2 > x1 ? dx : -dx);
  const c2 = x2 - (x2 > x1 ? dx : -dx);
  return `<path class="edge ${kind}" d="M${x1},${y1} C${c1},${y1} ${c2},${y2} ${x2},${y2}" stroke="${color}"${dashed ? ' stroke-dasharray="5 4"' : ''} marker-end="url(#arrow)"/>`;
}

function modelNode(m: ModelVersion, b: Box, color: string): string {
  const tag = m.latest ? 'latest' : m.previous ? 'previous' : '';
  return `<g class="node model" data-md5="${esc(m.md5)}"><title>${esc(`model ${m.md5}\n${m.paths.join('\n')}`)}</title>
<rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="8" class="model-box"/>
<rect x="${b.x}" y="${b.y}" width="6" height="${b.h}" rx="3" fill="${color}"/>
<text x="${b.x + 16}" y="${b.y + 20}" class="mono strong">${esc(m.md5.slice(0, 12))}</text>${tag ? `<text x="${b.x + b.w - 10}" y="${b.y + 20}" text-anchor="end" class="tag">${tag}</text>` : ''}
<text x="${b.x + 16}" y="${b.y + 37}" class="sub">${esc(fit(m.path, 40))}</text>
<text x="${b.x + 16}" y="${b.y + 54}"><tspan class="strong">${n(m.results)}</tspan> ${m.results === 1 ? 'result' : 'results'} · ${n(m.measurements)} ${m.measurements === 1 ? 'metric' : 'metrics'}<tspan class="sub"> · ${n(m.executions)} ${m.executions === 1 ? 'execution' : 'executions'}</tspan></text>
</g>`;
}

function execNode(x: ExecutionGroup, b: Box, color: string): string {
  const when =
    x.executions.length === 1
      ? `${shortIso(x.firstNs).replace('T', ' ')} → ${x.open ? 'open' : shortIso(x.lastNs).slice(11)}`
      : `${shortIso(x.firstNs).replace('T', ' ')} … ${shortIso(x.lastNs).replace('T', ' ')}`;
  const tip = x.executions.length === 1 ? x.executions[0].uuid : `${x.executions.length} executions: ${x.executions.slice(0, 20).map((e) => e.uuid.slice(0, 8)).join(', ')}${x.executions.length > 20 ? ', …' : ''}`;
  return `<g class="node execution"><title>${esc(tip)}</title>
<rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="6" class="exec-box"/>
<rect x="${b.x}" y="${b.y}" width="5" height="${b.h}" rx="2" fill="${color}"/>
<text x="${b.x + 14}" y="${b.y + 19}" class="strong">${esc(groupTitle(x))}</text>
<text x="${b.x + 14}" y="${b.y + 36}" class="sub">${esc(when)}</text>
</g>`;
}

function resultsNode(x: ExecutionGroup, b: Box): string {
  return `<g class="node results"><title>${esc(outputsLabel(x.results, x.measurements))}</title>
<rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="6" class="res-box"/>
<text x="${b.x + 12}" y="${b.y + 19}"><tspan class="strong">${n(x.results)}</tspan> ${x.results === 1 ? 'result' : 'results'}</text>
<text x="${b.x + 12}" y="${b.y + 36}" class="sub">${n(x.measurements)} ${x.measurements === 1 ? 'metric' : 'metrics'}</text>
</g>`;
}

function executionsTable(execs: ExecutionFact[], colorOf: (md5s: string[]) => string): string {
  const shown = execs.slice(-MAX_TABLE_ROWS).reverse();
  const rows = shown
    .map(
      (e) => `<tr><td><span class="swatch" style="background:${colorOf(e.inputModels)}"></span></td>
<td class="mono">${esc(e.uuid)}</td><td class="mono">${esc(e.inputModels.map((m) => m.slice(0, 12)).join(', ') || '-')}</td>
<td>${esc(e.stage ?? '-')}</td><td class="time">${esc(isoFromNs(e.startNs))}</td><td class="time">${e.endNs === null ? 'open' : esc(isoFromNs(e.endNs))}</td>
<td class="num">${n(e.results)}</td><td class="num">${n(e.measurements)}</td></tr>`,
    )
    .join('\n');
  const more = execs.length > shown.length ? `<p class="note">The ${execs.length - shown.length} oldest executions are not listed.</p>` : '';
  return `<section>
<details>
<summary>All ${esc(plural(execs.length, 'execution'))}, newest first</summary>
<table class="execs">
<thead><tr><th></th><th>execution uuid</th><th>model</th><th>stage</th><th>window start (UTC)</th><th>window end (UTC)</th><th class="num">results</th><th class="num">metrics</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
${more}
</details>
</section>`;
}

const CSS = `
:root { --fg:#1f2328; --muted:#5f6670; --line:#d5d9de; --bg:#f6f7f9; --card:#fff; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color:var(--fg); background:var(--bg); }
header { padding: 22px 32px 10px; background: var(--card); border-bottom: 1px solid var(--line); }
h1 { margin: 0 0 4px; font-size: 22px; font-weight: 650; }
h2 { margin: 0 0 12px; font-size: 16px; font-weight: 650; }
.summary { margin: 0; font-size: 15px; }
.meta, .note { color: var(--muted); font-size: 12.5px; margin: 6px 0 0; }
.note { margin: -6px 0 12px; }
main { padding: 18px 32px 40px; display: grid; gap: 18px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #eceef1; white-space: nowrap; }
td.path { white-space: normal; word-break: break-all; }
th { font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.results { font-weight: 650; }
.mono, code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
.time { font-variant-numeric: tabular-nums; color: var(--muted); font-size: 13px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; vertical-align: -1px; }
.badge { font-size: 11px; padding: 1px 7px; border-radius: 9px; background: #eceef1; color: var(--muted); }
.badge.latest { background: #e3f1e0; color: #2f6b25; }
details summary { cursor: pointer; font-weight: 650; }
details table { margin-top: 10px; }
svg { display: block; font: 12.5px system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
svg text { fill: var(--fg); }
svg .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 12.5px; }
svg .strong { font-weight: 650; }
svg .sub { fill: var(--muted); font-size: 11.5px; }
svg .tag { fill: #2f6b25; font-size: 11px; font-weight: 600; }
.lane { fill: #f1f3f5; }
.lane-label { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
.run { opacity: .9; }
.axis { stroke: #b9bec6; }
.tick { fill: var(--muted); font-size: 11px; }
.pipeline { fill: #fafbfc; stroke: #c9ced6; }
.stage { fill: #f3f5f8; stroke: #dde1e6; }
.container-label { fill: var(--muted); font-size: 12px; }
.model-box { fill: #fff; stroke: #c9ced6; }
.exec-box { fill: #fff; stroke: #d5d9de; }
.res-box { fill: #f0f7ee; stroke: #b9d8b0; }
.edge { fill: none; stroke-width: 1.8; opacity: .75; }
.link { stroke: #8a8f98; stroke-width: 1.2; }
`;
