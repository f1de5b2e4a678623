// One labelled form field per schema key. The server describes each key (widget, label,
// limits, hint: apps/workflows/editor.py); this builds the control, reads it back into
// the definition through `set(value)` (undefined removes the key) and leaves a slot for
// the validation messages that name its path.
import { el, idFor } from "./dom.js";

// What an emptied control means: a definition setting keeps its key (null or ""), a step
// or config key is removed.
function blankValue(spec, ctx) {
  if (ctx.scope !== "definition") return undefined;
  if (spec.widget === "checkbox") return false;
  return spec.nullable ? null : "";
}

function shownText(value) {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function textValue(text, original, spec, ctx) {
  if (text === "") return blankValue(spec, ctx);
  if (original !== undefined && original !== null && typeof original !== "string") {
    try { return JSON.parse(text); } catch { /* it is text now */ }
  }
  return text;
}

function textControl(spec, value, set, ctx, id) {
  const long = spec.widget === "textarea";
  const input = long
    ? el("textarea", { id, rows: ["body", "command"].includes(spec.key) ? 6 : 3, spellcheck: "false" })
    : el("input", { type: "text", id, autocomplete: "off" });
  input.value = shownText(value);
  input.addEventListener("input", () => set(textValue(input.value, value, spec, ctx)));
  return input;
}

function numberControl(spec, value, set, ctx, id) {
  if (value !== undefined && value !== null && typeof value !== "number") return textControl(spec, value, set, ctx, id);
  const input = el("input", { type: "number", id, step: spec.widget === "integer" ? 1 : "any", min: spec.min, max: spec.max });
  input.value = value ?? "";
  input.addEventListener("input", () => set(input.value === "" ? blankValue(spec, ctx) : Number(input.value)));
  return input;
}

function option(value, label, selected) {
  return el("option", { value, selected: selected || undefined, text: label });
}

function selectControl(spec, value, set, ctx, id) {
  const choices = (spec.choices || []).map((c) => (typeof c === "object" ? c : { value: c, label: c }));
  const select = el("select", { id });
  if (ctx.scope !== "definition") select.append(option("", spec.required ? "— choose —" : "— default —", value === undefined));
  for (const choice of choices) select.append(option(choice.value, choice.label, choice.value === value));
  if (value !== undefined && value !== null && !choices.some((c) => c.value === value)) {
    select.append(option(String(value), `${value} (not a valid choice)`, true));
  }
  select.addEventListener("change", () => set(select.value === "" ? blankValue(spec, ctx) : select.value));
  return select;
}

function yesNoControl(spec, value, set, ctx, id) {
  const select = el("select", { id },
    option("", `Default (${spec.default_label || "no"})`, value === undefined || value === null),
    option("true", "Yes", value === true), option("false", "No", value === false));
  select.addEventListener("change", () => set(select.value === "" ? undefined : select.value === "true"));
  return select;
}

function checkboxControl(spec, value, set, ctx, id) {
  const input = el("input", { type: "checkbox", id, checked: value === true || undefined });
  input.addEventListener("change", () => set(input.checked ? true : blankValue(spec, ctx)));
  return input;
}

function linesControl(spec, value, set, ctx, id) {
  const input = el("textarea", { id, rows: 3, spellcheck: "false" });
  input.value = Array.isArray(value) ? value.map(shownText).join("\n") : shownText(value);
  input.addEventListener("input", () => {
    const lines = input.value.split("\n").map((line) => line.trim()).filter(Boolean);
    set(lines.length ? lines : blankValue(spec, ctx));
  });
  return input;
}

function integersControl(spec, value, set, ctx, id) {
  const input = el("input", { type: "text", id, inputmode: "numeric", autocomplete: "off" });
  input.value = Array.isArray(value) ? value.join(", ") : shownText(value);
  input.addEventListener("input", () => {
    const tokens = input.value.split(/[,\s]+/).filter(Boolean);
    set(tokens.length ? tokens.map((t) => (/^-?\d+$/.test(t) ? Number(t) : t)) : undefined);
  });
  return input;
}

function jsonControl(spec, value, set, ctx, id, wrapper) {
  const input = el("textarea", { id, rows: 4, spellcheck: "false", class: "mono" });
  input.value = value === undefined ? "" : JSON.stringify(value, null, 2);
  const local = el("p", { class: "field-error", id: `${id}-json`, hidden: true });
  wrapper.append(local);
  input.addEventListener("input", () => {
    if (input.value.trim() === "") { local.hidden = true; set(undefined); return; }
    try {
      set(JSON.parse(input.value));
      local.hidden = true;
      input.removeAttribute("aria-invalid");
    } catch (err) {
      local.textContent = `Not valid JSON yet: ${err.message}`;
      local.hidden = false;
      input.setAttribute("aria-invalid", "true");
    }
  });
  return input;
}

function stepControl(spec, value, set, ctx, id) {
  const select = el("select", { id });
  select.append(option("", spec.blank_label || "— none —", value === undefined || value === null || value === ""));
  const ids = ctx.stepIds();
  for (const stepId of ids) select.append(option(stepId, stepId, stepId === value));
  if (typeof value === "string" && value && !ids.includes(value)) select.append(option(value, `${value} (no such step)`, true));
  select.addEventListener("change", () => set(select.value === "" ? ("blank" in spec ? spec.blank : blankValue(spec, ctx)) : select.value));
  return select;
}

const CONTROLS = {
  text: textControl, textarea: textControl, integer: numberControl, number: numberControl, select: selectControl,
  yesno: yesNoControl, checkbox: checkboxControl, lines: linesControl, step_lines: linesControl,
  integers: integersControl, json: jsonControl, step: stepControl,
};

export function errorSlot(id) {
  return el("ul", { class: "field-errors", id: `${id}-errors`, hidden: true });
}

export function buildField(spec, value, path, set, ctx) {
  if (spec.widget === "branches") return branchesField(spec, value, path, set, ctx);
  const id = idFor(ctx.prefix, path);
  const wrapper = el("div", { class: `field field-${spec.widget}`, dataset: { path } });
  const control = (CONTROLS[spec.widget] || textControl)(spec, value, set, ctx, id, wrapper);
  const hint = spec.hint ? el("span", { class: "hint", id: `${id}-hint`, text: spec.hint }) : null;
  control.classList.add("control");
  control.setAttribute("aria-describedby", [hint && hint.id, `${id}-errors`, spec.widget === "json" && `${id}-json`].filter(Boolean).join(" "));
  if (spec.required) control.setAttribute("aria-required", "true");
  const marker = spec.required ? el("span", { class: "required", "aria-hidden": "true", text: " *" }) : null;
  if (spec.widget === "checkbox") {
    wrapper.classList.add("field-check");
    wrapper.prepend(el("label", { for: id }, control, ` ${spec.label}`, marker));
  } else {
    wrapper.prepend(el("label", { for: id }, spec.label, marker), control);
  }
  wrapper.append(...[hint, errorSlot(id)].filter(Boolean));
  return wrapper;
}

// Conditional branches: rows of {when, next}, added and removed in place.
function branchesField(spec, value, path, set, ctx) {
  const rows = Array.isArray(value) ? value : [];
  const id = idFor(ctx.prefix, path);
  const box = el("fieldset", { class: "field branches", dataset: { path }, "aria-describedby": `${id}-hint ${id}-errors` },
    el("legend", { text: spec.label }));
  if (spec.hint) box.append(el("span", { class: "hint", id: `${id}-hint`, text: spec.hint }));
  box.append(errorSlot(id));
  const list = el("ol", { class: "branch-rows" });
  rows.forEach((row, index) => {
    const item = row && typeof row === "object" ? row : {};
    const rowPath = `${path}[${index}]`;
    const fields = spec.item_fields.map((sub) => buildField(
      { ...sub, label: sub.key === "when" ? `Branch ${index + 1}: when` : `Branch ${index + 1}: go to` },
      item[sub.key], `${rowPath}.${sub.key}`,
      (v) => { if (v === undefined) delete item[sub.key]; else item[sub.key] = v; ctx.touch(); }, ctx));
    const remove = el("button", { type: "button", class: "button-small button-secondary", text: "Remove",
      "aria-label": `Remove branch ${index + 1}`,
      onclick: () => { rows.splice(index, 1); set(rows); ctx.rerender(); } });
    list.append(el("li", { class: "branch-row", dataset: { path: rowPath } }, ...fields, remove));
  });
  const add = el("button", { type: "button", class: "button-small button-secondary", text: "Add branch",
    onclick: () => { rows.push({ when: "", next: "" }); set(rows); ctx.rerender(); } });
  box.append(list, add);
  return box;
}
