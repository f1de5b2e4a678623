// The step list: one card per step with its id, type, edges, the form of its type's
// config (fields from the step's config schema) and the per-step execution options.
import { el, idFor } from "./dom.js";
import { buildField, errorSlot } from "./fields.js";
import { isObject, stepsOf } from "./model.js";

const EDGES = [
  { key: "on_success", label: "On success, go to", widget: "step", blank_label: "(end: the workflow succeeds)", blank: null },
  { key: "on_failure", label: "On failure, go to", widget: "step", blank_label: "(none: the workflow fails)", blank: null },
];

function setter(editor, owner, key) {
  return (value) => {
    const target = typeof owner === "function" ? owner() : owner;
    if (value === undefined) delete target[key]; else target[key] = value;
    editor.touch();
  };
}

function fieldContext(editor, prefix, scope) {
  return { prefix, scope, stepIds: () => editor.stepIds(), touch: () => editor.touch(), rerender: () => editor.rerender() };
}

function tools(editor, index, step, total) {
  const name = step.id || `${index + 1}`;
  const button = (text, label, onclick, disabled) => el("button", {
    type: "button", class: "button-small button-secondary", text, "aria-label": label, onclick, disabled: disabled || undefined });
  return el("div", { class: "step-tools" },
    button("Up", `Move step ${name} up`, () => editor.moveStep(index, -1), index === 0),
    button("Down", `Move step ${name} down`, () => editor.moveStep(index, 1), index === total - 1),
    button("Remove", `Remove step ${name}`, () => editor.removeStep(index)));
}

function basics(editor, index, step, prefix) {
  const path = `steps[${index}]`;
  const ctx = fieldContext(editor, prefix, "definition");
  const idField = buildField({ key: "id", label: "Step id", widget: "text", required: true,
    hint: "Letters, digits, _ and -; other steps and templates (steps.<id>) refer to it." },
  step.id, `${path}.id`, () => {}, ctx);
  const idInput = idField.querySelector(".control");
  idInput.addEventListener("change", () => editor.renameStep(index, idInput.value.trim()));
  const types = Object.keys(editor.catalogue);
  const typeField = buildField({ key: "type", label: "Type", widget: "select", required: true, choices: types },
    step.type, `${path}.type`, (value) => editor.changeType(index, value), ctx);
  const edgeCtx = fieldContext(editor, prefix, "step");
  const edges = EDGES.map((spec) => buildField(spec, step[spec.key], `${path}.${spec.key}`, setter(editor, step, spec.key), edgeCtx));
  return el("div", { class: "step-basics" }, idField, typeField, ...edges);
}

function configFields(editor, index, step, prefix, kind) {
  const path = `steps[${index}].config`;
  const ctx = fieldContext(editor, prefix, "config");
  const box = el("fieldset", { class: "step-config", dataset: { path } }, el("legend", { text: `${step.type} configuration` }));
  box.append(errorSlot(idFor(prefix, path)));
  if (!kind) {
    box.append(buildField({ key: "config", label: "Config (JSON)", widget: "json" }, step.config, path, setter(editor, step, "config"), ctx));
    return box;
  }
  const config = () => {
    if (!isObject(step.config)) step.config = {};
    return step.config;
  };
  const current = isObject(step.config) ? step.config : {};
  // Keys that depend on another (a notification's channel) are shown for it, or when set.
  const controlling = new Set(kind.fields.filter((f) => f.shown_for).map((f) => f.shown_for.key));
  for (const spec of kind.fields) {
    const rule = spec.shown_for;
    if (rule && current[spec.key] === undefined && !rule.values.includes(current[rule.key])) continue;
    const set = setter(editor, config, spec.key);
    const onChange = controlling.has(spec.key) ? (value) => { set(value); editor.rerender(); } : set;
    box.append(buildField(spec, current[spec.key], `${path}.${spec.key}`, onChange, ctx));
  }
  return box;
}

function options(editor, index, step, prefix, kind) {
  const ctx = fieldContext(editor, prefix, "step");
  const specs = kind ? kind.options : [];
  const set = specs.filter((spec) => step[spec.key] !== undefined).length;
  return el("details", { class: "step-options" },
    el("summary", { text: `Name, timeouts, retries and failure handling${set ? ` (${set} set)` : ""}` }),
    el("div", { class: "options-grid" },
      ...specs.map((spec) => buildField(spec, step[spec.key], `steps[${index}].${spec.key}`, setter(editor, step, spec.key), ctx))));
}

export function stepCard(editor, index, prefix) {
  const step = stepsOf(editor.doc)[index];
  const path = `steps[${index}]`;
  const card = el("li", { class: "step-card", id: idFor(prefix, path), dataset: { path } });
  if (!isObject(step)) {
    card.append(errorSlot(idFor(prefix, path)),
      el("p", { class: "field-error", text: `Step ${index + 1} is not an object; fix it in the Source view.` }));
    return card;
  }
  card.dataset.step = step.id || "";
  const kind = editor.catalogue[step.type];
  const total = stepsOf(editor.doc).length;
  card.append(
    el("div", { class: "step-head" },
      el("h3", { class: "step-title" }, el("span", { class: "step-number", text: `${index + 1}.` }), ` ${step.id || "(no id)"} `,
        el("span", { class: "badge", text: String(step.type) })),
      editor.editable ? tools(editor, index, step, total) : null),
    errorSlot(idFor(prefix, path)),
    kind ? el("p", { class: "muted small step-doc", text: kind.doc }) : el("p", { class: "field-error", text: `Unknown step type '${step.type}'.` }),
    basics(editor, index, step, prefix),
    configFields(editor, index, step, prefix, kind),
    options(editor, index, step, prefix, kind));
  return card;
}

export function renderStepList(editor, list) {
  list.replaceChildren();
  if (!Array.isArray(editor.doc.steps)) {
    list.append(el("li", { class: "field-error", text: "steps is not a list; fix it in the Source view." }));
    return;
  }
  if (!editor.doc.steps.length) {
    list.append(el("li", { class: "empty", text: editor.editable ? "No steps yet. Choose a type below and add one." : "No steps." }));
    return;
  }
  editor.doc.steps.forEach((_, index) => list.append(stepCard(editor, index, "s")));
}

export function fillTypeSelect(editor, select) {
  select.replaceChildren(...Object.keys(editor.catalogue).map((type) => el("option", { value: type, text: type })));
}
