// Settings: the definition's own fields (name, timeouts, canary, trigger type, first
// step...), its flags (template, active) and its declared variables.
import { $, $$, el } from "./dom.js";
import { buildField, errorSlot } from "./fields.js";
import { isObject } from "./model.js";

function context(editor, scope) {
  return { prefix: "set", scope, stepIds: () => editor.stepIds(), touch: () => editor.touch(), rerender: () => editor.rerender() };
}

export function renderSettings(editor) {
  const ctx = context(editor, "definition");
  const box = $("#settings-fields");
  box.replaceChildren(...editor.schema.settings.map((spec) => buildField(
    { ...spec, blank_label: spec.key === "start" ? "(the first step in the list)" : "(none)" },
    editor.doc[spec.key], spec.key,
    (value) => { editor.doc[spec.key] = value; editor.touch(); }, ctx)));
  for (const input of $$("[data-flag]")) input.checked = Boolean(editor.flags[input.dataset.flag]);
  renderVariables(editor);
}

export function bindFlags(editor) {
  for (const input of $$("[data-flag]")) {
    input.addEventListener("change", () => { editor.flags[input.dataset.flag] = input.checked; editor.touch(); });
  }
}

function renderVariables(editor) {
  const box = $("#variables");
  const variables = Array.isArray(editor.doc.variables) ? editor.doc.variables : null;
  box.replaceChildren(errorSlot("set-variables"));
  if (variables === null) {
    box.append(el("p", { class: "field-error", text: "variables is not a list; fix it in the Source view." }));
    return;
  }
  if (!variables.length) box.append(el("p", { class: "muted", text: "No variables. Templates read declared variables as vars.<name>." }));
  const ctx = context(editor, "variable");
  variables.forEach((variable, index) => {
    const item = isObject(variable) ? variable : {};
    const path = `variables[${index}]`;
    const fields = editor.schema.variables.map((spec) => buildField(
      spec,
      item[spec.key], `${path}.${spec.key}`,
      (value) => { if (value === undefined) delete item[spec.key]; else item[spec.key] = value; editor.touch(); }, ctx));
    const remove = editor.editable ? el("button", { type: "button", class: "button-small button-secondary", text: "Remove",
      "aria-label": `Remove variable ${item.name || index + 1}`,
      onclick: () => { variables.splice(index, 1); editor.touch(); renderVariables(editor); } }) : null;
    box.append(el("fieldset", { class: "variable-row", dataset: { path } },
      el("legend", { text: `Variable ${index + 1}${item.name ? `: ${item.name}` : ""}` }),
      errorSlot(`set-${path.replace(/[^A-Za-z0-9_-]+/g, "-")}`), ...fields, remove));
  });
}

export function addVariable(editor) {
  if (!Array.isArray(editor.doc.variables)) editor.doc.variables = [];
  editor.doc.variables.push({ name: "" });
  editor.touch();
  renderVariables(editor);
  const inputs = $$("#variables .variable-row:last-child input");
  if (inputs.length) inputs[0].focus();
}
