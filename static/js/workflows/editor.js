// The workflow editor: one definition (DESIGN §4) held as plain data, shown as a step
// list, a graph, JSON/YAML source and settings. Saving, publishing, versions and
// simulation go through the REST API (/api/workflows/...) with the session.
import { $, $$, flashLater, takeFlash } from "./dom.js";
import { issuesFrom, makeApi } from "./api.js";
import { isObject, newStepId, renameReferences, stepIds, stepsOf } from "./model.js";
import { fillTypeSelect, renderStepList, stepCard } from "./steps.js";
import { renderGraph } from "./dag.js";
import { addVariable, bindFlags, renderSettings } from "./settings.js";
import { createSource } from "./source.js";
import { annotate, renderSummary, reveal, tabFor } from "./issues.js";
import { setupActive, setupPublish, setupVersions } from "./dialogs.js";
import { setupSimulate } from "./simulate.js";

const data = JSON.parse($("#editor-data").textContent);
const TABS = ["steps", "graph", "source", "settings"];
const copy = (value) => JSON.parse(JSON.stringify(value));
const STEP_INDEX = /^steps\[(\d+)\]/;
let graphTimer = null;

const editor = {
  id: data.id,
  doc: data.definition,
  saved: copy(data.definition),
  flags: { ...data.flags },
  editable: data.editable,
  urls: data.urls,
  schema: data.schema,
  catalogue: Object.fromEntries(data.schema.steps.map((kind) => [kind.type, kind])),
  api: makeApi(data.organization),
  issues: [
    ...data.validation.errors.map((i) => ({ ...i, severity: "error" })),
    ...data.validation.warnings.map((i) => ({ ...i, severity: "warning" })),
  ],
  dirty: false,
  selected: null,
  tab: null,

  stepIds() { return stepIds(this.doc); },
  status(message) { $("#editor-status").textContent = message; },
  touch() {
    if (!this.dirty) this.status("Unsaved changes.");
    this.dirty = true;
    if (this.tab === "graph") { clearTimeout(graphTimer); graphTimer = setTimeout(drawGraph, 150); }
  },
  rerender() { renderTab(this.tab, true); },
  stepsWithErrors() {
    const ids = new Set();
    for (const issue of this.issues) {
      const match = issue.severity !== "warning" && STEP_INDEX.exec(issue.path);
      const step = match && stepsOf(this.doc)[Number(match[1])];
      if (isObject(step)) ids.add(step.id);
    }
    return ids;
  },
  setIssues(issues) {
    this.issues = issues;
    renderSummary(issues, revealPath);
    if (this.tab && this.tab !== "source") renderTab(this.tab, true);
  },
  clearIssues() {
    this.issues = [];
    renderSummary([], revealPath);
  },
  replaceDoc(doc) {
    this.doc = doc;
    this.setIssues([]);
    this.touch();
  },

  renameStep(index, newId) {
    const step = stepsOf(this.doc)[index];
    const oldId = step.id;
    if (newId === oldId) return;
    step.id = newId;
    const updated = oldId && newId ? renameReferences(this.doc, oldId, newId) : 0;
    if (this.selected === oldId) this.selected = newId;
    this.touch();
    this.rerender();
    this.status(`Renamed step ${oldId || "(no id)"} to ${newId || "(no id)"}${updated ? `; ${updated} reference(s) updated` : ""}.`);
  },
  changeType(index, type) {
    const step = stepsOf(this.doc)[index];
    const keys = new Set((this.catalogue[type] || { fields: [] }).fields.map((f) => f.key));
    const config = isObject(step.config) ? step.config : {};
    step.type = type;
    step.config = Object.fromEntries(Object.entries(config).filter(([key]) => keys.has(key)));
    this.clearIssues();
    this.touch();
    this.rerender();
  },
  addStep(type) {
    if (!Array.isArray(this.doc.steps)) this.doc.steps = [];
    const steps = this.doc.steps;
    const id = newStepId(this.doc, type);
    const last = steps[steps.length - 1];
    const linked = isObject(last) && (last.on_success === undefined || last.on_success === null) && last.id;
    if (linked) last.on_success = id;
    steps.push({ id, type, config: {} });
    this.selected = id;
    this.clearIssues();
    this.touch();
    this.rerender();
    this.status(`Added step ${id}${linked ? ` after ${last.id}` : ""}. Not saved yet.`);
    const panel = this.tab === "graph" ? "#graph-step" : `#step-list > li:last-child`;
    const input = $(`${panel} input`);
    if (input) input.focus();
  },
  moveStep(index, delta) {
    const steps = this.doc.steps;
    const target = index + delta;
    if (target < 0 || target >= steps.length) return;
    [steps[index], steps[target]] = [steps[target], steps[index]];
    this.clearIssues();
    this.touch();
    this.rerender();
    const button = $$(`#step-list > li`)[target]?.querySelector(`.step-tools button:nth-child(${delta < 0 ? 1 : 2})`);
    if (button && !button.disabled) button.focus();
  },
  removeStep(index) {
    const [removed] = this.doc.steps.splice(index, 1);
    if (isObject(removed) && this.selected === removed.id) this.selected = null;
    this.clearIssues();
    this.touch();
    this.rerender();
    this.status(`Removed step ${isObject(removed) ? removed.id : index + 1}. Not saved yet.`);
  },

  async save() {
    if (this.tab === "source" && !(await source.apply())) return false;
    const payload = { ...this.doc, is_template: Boolean(this.flags.is_template), is_active: this.flags.is_active !== false };
    this.status("Saving…");
    const answer = this.id
      ? await this.api("PUT", this.urls.detail, payload)
      : await this.api("POST", this.urls.create, payload);
    if (!answer.ok) {
      const issues = issuesFrom(answer.data);
      const path = answer.data.code === "duplicate" ? "name" : "";
      this.setIssues(issues.length ? issues : [{ path, code: answer.data.code, message: answer.data.detail, severity: "error" }]);
      this.status(`Not saved: ${answer.data.detail}`);
      return false;
    }
    if (!this.id) {
      this.dirty = false;
      flashLater(`Saved “${answer.data.name}” as a draft (version ${answer.data.version}).`);
      window.location.assign(this.urls.edit.replace("{id}", answer.data.id));
      return true;
    }
    this.dirty = false;
    this.saved = copy(this.doc);
    const warnings = (answer.data.validation || { warnings: [] }).warnings;
    this.setIssues(warnings.map((w) => ({ ...w, severity: "warning" })));
    this.status(`Saved (version ${answer.data.version}).`);
    $("#editor-title").textContent = answer.data.name;
    return true;
  },
};

const source = createSource(editor);

function drawGraph() {
  renderGraph(editor, selectStep);
}

function renderGraphSide() {
  const box = $("#graph-step");
  const index = stepsOf(editor.doc).findIndex((s) => isObject(s) && s.id === editor.selected);
  if (index < 0) {
    box.replaceChildren(Object.assign(document.createElement("p"), { className: "muted", textContent: `Select a step in the graph to ${editor.editable ? "edit" : "see"} it here.` }));
    return;
  }
  const list = Object.assign(document.createElement("ol"), { className: "step-list single" });
  list.append(stepCard(editor, index, "g"));
  box.replaceChildren(list);
}

function selectStep(id) {
  editor.selected = id;
  drawGraph();
  renderGraphSide();
  annotate($("#panel-graph"), editor.issues);
  const node = $(`#graph [data-step="${CSS.escape(id)}"]`);
  if (node) node.focus();
}

async function renderTab(name, keepFocus = false) {
  const focused = keepFocus && document.activeElement ? document.activeElement.id : null;
  if (name === "steps") renderStepList(editor, $("#step-list"));
  if (name === "graph") { drawGraph(); renderGraphSide(); }
  if (name === "settings") renderSettings(editor);
  if (name === "source") await source.render();
  if (name !== "source") annotate($(`#panel-${name}`), editor.issues);
  if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
}

async function switchTab(name) {
  if (editor.tab === name) return true;
  if (editor.tab === "source" && editor.editable && !(await source.apply())) return false;
  editor.tab = name;
  for (const tab of TABS) {
    const selected = tab === name;
    $(`#tab-${tab}`).setAttribute("aria-selected", String(selected));
    $(`#tab-${tab}`).tabIndex = selected ? 0 : -1;
    $(`#panel-${tab}`).hidden = !selected;
  }
  await renderTab(name);
  return true;
}

async function revealPath(path) {
  const tab = tabFor(path);
  if (!tab || !(await switchTab(tab))) return;
  reveal($(`#panel-${tab}`), path);
}

function bindTabs() {
  for (const tab of TABS) $(`#tab-${tab}`).addEventListener("click", () => switchTab(tab));
  $(".tabs").addEventListener("keydown", async (event) => {
    const index = TABS.indexOf(editor.tab);
    const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: TABS.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = TABS[(moves[event.key] + TABS.length) % TABS.length];
    if (await switchTab(next)) $(`#tab-${next}`).focus();
  });
}

function bindEditing() {
  for (const [selectId, buttonId] of [["#new-step-type", "#add-step"], ["#graph-new-step-type", "#graph-add-step"]]) {
    const select = $(selectId);
    if (!select) continue;
    fillTypeSelect(editor, select);
    $(buttonId).addEventListener("click", () => editor.addStep(select.value));
  }
  const addVar = $("#add-variable");
  if (addVar) addVar.addEventListener("click", () => addVariable(editor));
  bindFlags(editor);
  const save = $("#save-button");
  if (save) save.addEventListener("click", () => editor.save());
  document.addEventListener("keydown", (event) => {
    if (save && (event.ctrlKey || event.metaKey) && event.key === "s") {
      event.preventDefault();
      if (document.activeElement) document.activeElement.blur();  // commits a pending change (a step id)
      editor.save();
    }
  });
  window.addEventListener("beforeunload", (event) => {
    if (editor.dirty && editor.editable) { event.preventDefault(); event.returnValue = ""; }
  });
}

bindTabs();
bindEditing();
setupPublish(editor);
setupVersions(editor);
setupActive(editor);
setupSimulate(editor);
renderSummary(editor.issues, revealPath);
switchTab(data.mode === "visual" ? "graph" : "steps");
const flash = takeFlash();
if (flash) editor.status(flash);
document.getElementById("editor").dataset.ready = "true";
