// The definition's graph as SVG: steps in layers (breadth-first from the first step),
// on_success / on_failure / branch edges, arrowheads, a focusable node per step.
// The layout pieces are exported for the run page's progress graph (instance_controls.js).
import { $, el, svg } from "./dom.js";
import { KIND_LABELS, edgesOf, isObject, stepsOf } from "./model.js";

export const W = 170, H = 50, GAP_X = 40, GAP_Y = 70, MARGIN = 30;
const OFFSETS = { success: -10, failure: 10, branch: 0 };

export function layers(doc, nodes, edges) {
  const next = new Map(nodes.map((n) => [n, []]));
  for (const edge of edges) if (next.has(edge.to)) next.get(edge.from).push(edge.to);
  const level = new Map();
  const roots = [doc.start, doc.on_cancel, ...nodes].filter((r) => typeof r === "string" && next.has(r));
  for (const root of roots) {
    if (level.has(root)) continue;
    const queue = [[root, 0]];
    level.set(root, 0);
    while (queue.length) {
      const [node, depth] = queue.shift();
      for (const child of next.get(node)) {
        if (!level.has(child)) { level.set(child, depth + 1); queue.push([child, depth + 1]); }
      }
    }
  }
  const rows = [];
  for (const node of nodes) {
    const depth = level.get(node);
    (rows[depth] ||= []).push(node);
  }
  return rows.filter(Boolean);
}

export function positions(rows) {
  const widest = Math.max(1, ...rows.map((row) => row.length));
  const width = MARGIN * 2 + widest * W + (widest - 1) * GAP_X + 120;
  const place = new Map();
  rows.forEach((row, depth) => {
    const rowWidth = row.length * W + (row.length - 1) * GAP_X;
    const left = MARGIN + ((widest * W + (widest - 1) * GAP_X) - rowWidth) / 2;
    row.forEach((node, i) => place.set(node, { x: left + i * (W + GAP_X), y: MARGIN + 14 + depth * (H + GAP_Y), depth }));
  });
  return { place, width, height: MARGIN * 2 + 14 + rows.length * (H + GAP_Y) - GAP_Y };
}

export function edgePath(a, b, kind, bend) {
  const dx = OFFSETS[kind];
  if (b.depth > a.depth) {
    const x1 = a.x + W / 2 + dx, y1 = a.y + H, x2 = b.x + W / 2 + dx, y2 = b.y;
    const my = (y1 + y2) / 2;
    return { d: `M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2 - 2}`, label: [x2 + 6, y2 - 12] };
  }
  // Back or sideways edges go around the right-hand side.
  const x1 = a.x + W, y1 = a.y + H / 2 + dx / 2, x2 = b.x + W, y2 = b.y + H / 2 + dx / 2;
  const out = Math.max(x1, x2) + 40 + bend * 14;
  return { d: `M${x1},${y1} C${out},${y1} ${out},${y2} ${x2 + 2},${y2}`, label: [out - 6, (y1 + y2) / 2] };
}

export function markers() {
  return svg("defs", {}, ...["success", "failure", "branch"].map((kind) => svg("marker", {
    id: `arrow-${kind}`, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse",
  }, svg("path", { d: "M0,0 L10,5 L0,10 z", class: `arrow arrow-${kind}` }))));
}

export function short(text, size) {
  return text.length > size ? `${text.slice(0, size - 1)}…` : text;
}

export function renderGraph(editor, onSelect) {
  const container = $("#graph");
  const steps = stepsOf(editor.doc).filter((s) => isObject(s) && typeof s.id === "string" && s.id);
  const nodes = [...new Set(steps.map((s) => s.id))];
  const allEdges = edgesOf(editor.doc);
  const edges = allEdges.filter((e) => nodes.includes(e.to));
  renderEdgeList(allEdges, nodes);
  container.replaceChildren();
  if (!nodes.length) { container.append(el("p", { class: "empty", text: "No steps yet." })); return; }
  const { place, width, height } = positions(layers(editor.doc, nodes, edges));
  const failing = editor.stepsWithErrors();
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "group", "aria-labelledby": "graph-title", class: "dag" },
    svg("title", { id: "graph-title", text: "Workflow graph: steps and the connections between them" }), markers());
  edges.forEach((edge, i) => {
    const { d, label } = edgePath(place.get(edge.from), place.get(edge.to), edge.kind, i % 4);
    const group = svg("g", { class: `dag-edge edge-${edge.kind}`, "data-edge": `${edge.from}->${edge.to}`, "data-kind": edge.kind },
      svg("path", { d, "marker-end": `url(#arrow-${edge.kind})` }));
    if (edge.kind === "branch") group.append(svg("text", { x: label[0], y: label[1], class: "edge-label", text: short(edge.label, 26) }));
    root.append(group);
  });
  const first = typeof editor.doc.start === "string" && nodes.includes(editor.doc.start) ? editor.doc.start : nodes[0];
  for (const step of steps) {
    if (root.querySelector(`[data-step="${CSS.escape(step.id)}"]`)) continue;
    root.append(node(step, place.get(step.id), { first: step.id === first, selected: step.id === editor.selected,
      error: failing.has(step.id), onSelect }));
  }
  container.append(root);
}

function node(step, at, { first, selected, error, onSelect }) {
  const classes = ["dag-node", `type-${step.type}`, selected && "is-selected", error && "has-error"].filter(Boolean).join(" ");
  const label = `Step ${step.id}, ${step.type}${first ? ", first step" : ""}${error ? ", has errors" : ""}`;
  const group = svg("g", { class: classes, transform: `translate(${at.x},${at.y})`, tabindex: 0, role: "button",
    "aria-label": label, "aria-pressed": selected ? "true" : "false", "data-step": step.id,
    onclick: () => onSelect(step.id),
    onkeydown: (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); onSelect(step.id); } } },
  svg("rect", { width: W, height: H, rx: 8 }),
  svg("text", { x: 12, y: 21, class: "node-id", text: short(step.id, 20) }),
  svg("text", { x: 12, y: 39, class: "node-type", text: String(step.type) }));
  if (first) group.append(svg("text", { x: 0, y: -6, class: "node-start", text: "start" }));
  return group;
}

function renderEdgeList(edges, nodes) {
  const list = $("#graph-edges");
  list.replaceChildren(...edges.map((e) => el("li", { dataset: { edge: `${e.from}->${e.to}`, kind: e.kind } },
    `${e.from} → ${e.to} (${e.kind === "branch" ? e.label : KIND_LABELS[e.kind]})`,
    nodes.includes(e.to) ? "" : " — no such step")));
  if (!edges.length) list.append(el("li", { class: "muted", text: "No connections." }));
}
