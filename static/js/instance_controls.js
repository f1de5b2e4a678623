// The run page's operator controls and progress graph, and the re-run page's preview.
//
// - Control buttons (in the live parts, re-rendered by instance_detail.js) open dialogs
//   that sit outside them; the dialog's form posts to the control's view.
// - The progress graph is drawn from the #run-dag-data JSON with the workflow editor's
//   layout, and again after each live refresh ("instance:refreshed").
import { H, W, edgePath, layers, markers, positions, short } from "./workflows/dag.js";
import { svg } from "./workflows/dom.js";

// --- Dialogs ------------------------------------------------------------------------------
let returnFocus = null;

function openDialog(button) {
  const dialog = document.getElementById(button.dataset.dialog);
  if (!dialog) return;
  const form = dialog.querySelector("form");
  form.reset();
  if (button.dataset.action) form.setAttribute("action", button.dataset.action);
  for (const el of dialog.querySelectorAll("[data-fill]")) {
    const value = button.dataset[el.dataset.fill];
    if (value !== undefined) el.textContent = value;
  }
  for (const el of dialog.querySelectorAll("[data-fill-value]")) el.value = button.dataset[el.dataset.fillValue] || "";
  for (const submit of dialog.querySelectorAll("button[type=submit]")) submit.disabled = false;
  if (dialog.id === "approval-dialog") prepareApproval(dialog, button.dataset.mode === "reject");
  syncCancel(dialog);
  syncConfirm(dialog);
  returnFocus = button.dataset.returnFocus || null;
  dialog.showModal();
}

function prepareApproval(dialog, reject) {
  const comment = dialog.querySelector("textarea[name=comment]");
  comment.required = reject;
  dialog.querySelector("[data-comment-hint]").textContent = reject ? "(required)" : "(optional)";
  dialog.querySelector("button[type=submit]").className = reject ? "button-danger" : "";
}

// Cleanup (the on_cancel chain) only applies to a standard cancel.
function syncCancel(dialog) {
  const cleanup = dialog.querySelector("#cancel-cleanup");
  const mode = dialog.querySelector("[data-cancel-mode]:checked");
  if (!cleanup || !mode) return;
  cleanup.disabled = mode.value !== "standard";
  if (cleanup.disabled) cleanup.checked = false;
}

// Terminate: the submit button waits for the run number (the server checks it again).
function syncConfirm(dialog) {
  const input = dialog.querySelector("[data-confirm-expected]");
  const submit = dialog.querySelector("[data-confirm-submit]");
  if (!input || !submit) return;
  submit.disabled = input.value.trim().replace(/^#/, "") !== input.dataset.confirmExpected;
}

document.addEventListener("click", (event) => {
  const opener = event.target.closest("button[data-dialog]");
  if (opener && opener.dataset.dialog && !opener.disabled) {
    event.preventDefault();
    openDialog(opener);
    return;
  }
  const closer = event.target.closest("dialog [data-close]");
  if (closer) closer.closest("dialog").close();
});

for (const dialog of document.querySelectorAll("dialog.control-dialog")) {
  dialog.addEventListener("input", () => syncConfirm(dialog));
  dialog.addEventListener("change", () => syncCancel(dialog));
  dialog.addEventListener("submit", (event) => {
    // One request per confirmation (the services ignore a repeat anyway).
    const submit = event.target.querySelector("button[type=submit]");
    setTimeout(() => { submit.disabled = true; }, 0);
  });
  // The button that opened the dialog may have been re-rendered meanwhile: focus its twin.
  dialog.addEventListener("close", () => {
    const twin = returnFocus && document.querySelector(`[data-return-focus="${CSS.escape(returnFocus)}"]`);
    if (twin && !twin.disabled) twin.focus();
  });
}

// --- Progress graph ----------------------------------------------------------------------
const graph = { selected: null, focused: null };

function drawGraph() {
  const holder = document.getElementById("run-dag");
  const source = document.getElementById("run-dag-data");
  if (!holder || !source) return;
  const data = JSON.parse(source.textContent);
  const ids = data.nodes.map((n) => n.id);
  const edges = data.edges.filter((e) => ids.includes(e.from) && ids.includes(e.to));
  const { place, width, height } = positions(layers(data, ids, edges));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "dag", role: "group",
    "aria-label": "Steps of this run and their status; choose one to show it in the timeline and its log" }, markers());
  edges.forEach((edge, i) => {
    const { d, label } = edgePath(place.get(edge.from), place.get(edge.to), edge.kind, i % 4);
    const line = svg("g", { class: `dag-edge edge-${edge.kind}`, "data-edge": `${edge.from}->${edge.to}` },
      svg("path", { d, "marker-end": `url(#arrow-${edge.kind})` }));
    if (edge.kind === "branch") line.append(svg("text", { x: label[0], y: label[1], class: "edge-label", text: edge.label }));
    root.append(line);
  });
  for (const node of data.nodes) root.append(drawNode(node, place.get(node.id), node.id === data.start));
  holder.replaceChildren(root);
  markSelected();
  if (graph.focused && (document.activeElement === document.body || !document.activeElement)) {
    const again = holder.querySelector(`[data-step="${CSS.escape(graph.focused)}"]`);
    if (again) again.focus({ preventScroll: true });
  }
}

function drawNode(node, at, first) {
  const choose = () => selectStep(node.id, node);
  const group = svg("g", {
    class: `dag-node tone-${node.tone}`, transform: `translate(${at.x},${at.y})`, tabindex: 0, role: "button",
    "aria-label": `Step ${node.id}, ${node.type}: ${node.label}`, "aria-pressed": "false",
    "data-step": node.id, "data-status": node.status,
    onclick: choose,
    onkeydown: (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); choose(); } },
    onfocus: () => { graph.focused = node.id; },
  },
  svg("rect", { width: W, height: H, rx: 8 }),
  svg("text", { x: 12, y: 21, class: "node-id", text: short(node.id, 20) }),
  svg("text", { x: 12, y: 39, class: "node-status", text: `${node.icon} ${short(node.label, 18)}` }));
  if (first) group.append(svg("text", { x: 0, y: -6, class: "node-start", text: "start" }));
  return group;
}

// "Click any step to view its output in the log panel": the graph, a step's card in the
// timeline and its "Show log" button choose the step there too (live_log.js listens).
function chooseStep(stepId) {
  graph.selected = stepId;
  markSelected();
  document.dispatchEvent(new CustomEvent("live-log:select", { detail: { step: stepId } }));
}

function selectStep(stepId, node) {
  chooseStep(stepId);
  const card = document.getElementById(`step-${stepId}`);
  const note = document.getElementById("dag-selection");
  if (card) {
    if (note) note.textContent = "";
    card.setAttribute("tabindex", "-1");
    card.scrollIntoView({ block: "start" });
    card.focus({ preventScroll: true });
    graph.focused = null;
  } else if (note) {
    note.textContent = `Step ${stepId} ${node.label}.`;
  }
}

function markSelected() {
  for (const el of document.querySelectorAll("#run-dag .dag-node")) {
    const on = el.dataset.step === graph.selected;
    el.classList.toggle("is-selected", on);
    el.setAttribute("aria-pressed", on ? "true" : "false");
  }
  for (const card of document.querySelectorAll(".timeline .step")) {
    card.classList.toggle("is-selected", card.dataset.step === graph.selected);
  }
}

// Beside the steps (wide screens) the log is already in view; stacked below them, the
// "Show log" button takes the reader there.
function showLog() {
  const view = document.getElementById("live-log-view");
  const log = document.getElementById("log");
  if (!log) return;
  const box = (view && view.offsetParent ? view : log).getBoundingClientRect();
  if (box.top < 0 || box.top > window.innerHeight - 80) log.scrollIntoView({ block: "start" });
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-show-log]");
  if (button) {
    chooseStep(button.dataset.showLog);
    showLog();
    return;
  }
  const card = event.target.closest(".timeline .step[data-step]");
  if (!card || event.target.closest("a, button, input, select, textarea, summary, label")) return;
  if (String(window.getSelection() || "")) return;  // the reader is selecting text to copy
  chooseStep(card.dataset.step);
});

document.addEventListener("focusout", (event) => {
  if (event.target.closest && event.target.closest("#run-dag") && event.relatedTarget) graph.focused = null;
});
document.addEventListener("instance:refreshed", drawGraph);
drawGraph();

// --- Re-run page: the plan shown is the one confirmed -------------------------------------
const choose = document.querySelector("[data-rerun-choose]");
const plan = document.querySelector("[data-rerun-plan]");
if (choose && plan) {
  choose.addEventListener("change", () => {
    plan.querySelector("[data-stale-note]").hidden = false;
    plan.querySelector("[data-rerun-confirm]").disabled = true;
  });
}
