import { groupTitle, outputsLabel, plural, type ExecutionGroup, type LineageGraph } from './graph.js';
import { shortIso } from './models-output.js';

/** Node ids per kind; labels are escaped by each format. */
function ids(g: LineageGraph) {
  const pipeline = new Map(g.pipelines.map((p, i) => [p, `p${i}`]));
  const stage = new Map(g.stages.map((s, i) => [s.name, `s${i}`]));
  const model = new Map(g.models.map((m, i) => [m.md5, `m${i}`]));
  return { pipeline, stage, model };
}

function modelLines(m: LineageGraph['models'][number]): string[] {
  const tag = m.latest ? ' (latest)' : m.previous ? ' (previous)' : '';
  return [`model ${m.md5.slice(0, 12)}${tag}`, m.path, outputsLabel(m.results, m.measurements), plural(m.executions, 'execution')];
}

function groupLines(x: ExecutionGroup): string[] {
  const when = x.executions.length === 1 ? shortIso(x.firstNs) : `${shortIso(x.firstNs)} … ${shortIso(x.lastNs)}`;
  return [groupTitle(x), when + (x.open ? ' (open)' : '')];
}

interface Edge {
  from: string;
  to: string;
  label?: string;
}

function edges(g: LineageGraph): { nodes: Map<string, { lines: string[]; kind: string }>; edges: Edge[] } {
  const id = ids(g);
  const nodes = new Map<string, { lines: string[]; kind: string }>();
  const out: Edge[] = [];
  for (const [p, pid] of id.pipeline) nodes.set(pid, { lines: ['pipeline', p], kind: 'pipeline' });
  for (const s of g.stages) {
    const sid = id.stage.get(s.name)!;
    nodes.set(sid, { lines: ['stage', s.name], kind: 'stage' });
    if (s.pipeline && id.pipeline.has(s.pipeline)) out.push({ from: id.pipeline.get(s.pipeline)!, to: sid });
  }
  for (const m of g.models) nodes.set(id.model.get(m.md5)!, { lines: modelLines(m), kind: 'model' });
  for (const x of g.groups) {
    nodes.set(x.id, { lines: groupLines(x), kind: 'execution' });
    out.push({ from: id.stage.get(x.stage ?? '(no stage)')!, to: x.id });
    for (const m of x.inputModels) if (id.model.has(m)) out.push({ from: id.model.get(m)!, to: x.id, label: 'input' });
    for (const m of x.outputModels) if (id.model.has(m)) out.push({ from: x.id, to: id.model.get(m)!, label: 'output' });
    if (x.results + x.measurements > 0) {
      nodes.set(`r${x.id}`, { lines: [outputsLabel(x.results, x.measurements)], kind: 'results' });
      out.push({ from: x.id, to: `r${x.id}` });
    }
  }
  return { nodes, edges: out };
}

function header(g: LineageGraph): string {
  return (
    `cmf-sage lineage: ${g.pipelines.join(', ') || 'no pipeline'}; ${plural(g.models.length, 'model version')}, ` +
    `${plural(g.totals.executions, 'execution')}${g.summarized ? ' (grouped per stage and model version)' : ''}, ` +
    `${outputsLabel(g.totals.results, g.totals.measurements)}`
  );
}

/** Mermaid flowchart; labels use Mermaid's entity codes so any name is safe inside quotes. */
export function toMermaid(g: LineageGraph): string {
  const esc = (s: string) => s.replace(/&/g, '#amp;').replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;').replace(/[\r\n]+/g, ' ');
  const shape: Record<string, [string, string]> = {
    pipeline: ['[/', '/]'],
    stage: ['[', ']'],
    model: ['{{', '}}'],
    execution: ['(', ')'],
    results: ['[(', ')]'],
  };
  const { nodes, edges: es } = edges(g);
  const lines = [`%% ${header(g)}`, 'flowchart LR'];
  for (const [id, n] of nodes) {
    const [a, b] = shape[n.kind];
    lines.push(`  ${id}${a}"${n.lines.map(esc).join('<br/>')}"${b}`);
  }
  for (const e of es) lines.push(e.label ? `  ${e.from} -- ${e.label} --> ${e.to}` : `  ${e.from} --> ${e.to}`);
  lines.push('  classDef model fill:#e8f0fb,stroke:#4e79a7;', '  classDef results fill:#eef7ea,stroke:#59a14f;');
  const byKind = (k: string) => [...nodes].filter(([, n]) => n.kind === k).map(([id]) => id);
  if (byKind('model').length) lines.push(`  class ${byKind('model').join(',')} model;`);
  if (byKind('results').length) lines.push(`  class ${byKind('results').join(',')} results;`);
  return lines.join('\n') + '\n';
}

/** Graphviz dot. */
export function toDot(g: LineageGraph): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/[\r\n]+/g, ' ');
  const style: Record<string, string> = {
    pipeline: 'shape=folder, fillcolor="#f2f2f2"',
    stage: 'shape=box, fillcolor="#f2f2f2"',
    model: 'shape=box3d, fillcolor="#e8f0fb", color="#4e79a7"',
    execution: 'shape=box, style="rounded,filled", fillcolor="#ffffff"',
    results: 'shape=cylinder, fillcolor="#eef7ea", color="#59a14f"',
  };
  const { nodes, edges: es } = edges(g);
  const lines = [
    `// ${header(g)}`,
    'digraph lineage {',
    '  rankdir=LR;',
    '  node [style=filled, fontname="Helvetica", fontsize=11];',
    '  edge [fontname="Helvetica", fontsize=9, color="#666666"];',
  ];
  for (const [id, n] of nodes) lines.push(`  ${id} [label="${n.lines.map(esc).join('\\n')}", ${style[n.kind]}];`);
  for (const e of es) lines.push(`  ${e.from} -> ${e.to}${e.label ? ` [label="${e.label}"${e.label === 'output' ? ', style=dashed' : ''}]` : ''};`);
  lines.push('}');
  return lines.join('\n') + '\n';
}
