// The source view: the definition as JSON or YAML text. Text is generated from the
// editor's definition when the view opens; edits are parsed by the server (the same
// JSON/YAML reader import uses) and replace the definition when applied.
import { $, $$ } from "./dom.js";

export function createSource(editor) {
  const text = $("#source-text");
  const error = $("#source-error");
  let format = "json";
  let edited = false;

  function showError(message) {
    error.textContent = message || "";
    error.hidden = !message;
    if (message) text.setAttribute("aria-invalid", "true"); else text.removeAttribute("aria-invalid");
  }

  async function render() {
    showError("");
    edited = false;
    if (format === "json") { text.value = JSON.stringify(editor.doc, null, 2); return; }
    const answer = await editor.api("POST", editor.urls.source, { definition: editor.doc });
    if (answer.ok) text.value = answer.data.text; else showError(answer.data.detail);
  }

  // Parse and apply the text; false (with the reason shown) when it does not parse.
  async function apply() {
    if (!edited) return true;
    const answer = await editor.api("POST", editor.urls.source, { text: text.value });
    if (!answer.ok) {
      showError(`Not applied: ${answer.data.detail}`);
      return false;
    }
    edited = false;
    showError("");
    editor.replaceDoc(answer.data.definition);
    return true;
  }

  text.addEventListener("input", () => { edited = true; });
  for (const radio of $$("input[name=source-format]")) {
    radio.addEventListener("change", async () => {
      if (!(await apply())) {
        $$("input[name=source-format]").forEach((r) => { r.checked = r.value === format; });
        return;
      }
      format = radio.value;
      await render();
    });
  }
  const applyButton = $("#source-apply");
  if (applyButton) {
    applyButton.addEventListener("click", async () => {
      edited = true;
      if (await apply()) { editor.status("Source applied (not saved yet)."); await render(); }
    });
  }
  return { render, apply, isEdited: () => edited };
}
