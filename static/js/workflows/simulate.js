// The Simulate dialog: choose target hosts and groups (server-side search through the
// inventory API), fill the declared variables, and show the per-step report.
import { $, closeOnDataClose, el } from "./dom.js";
import { issuesFrom } from "./api.js";
import { renderReport } from "./report.js";

export function setupSimulate(editor) {
  const dialog = $("#simulate-dialog");
  const button = $("#simulate-button");
  if (!dialog || !button) return;
  closeOnDataClose(dialog);
  const chosen = new Map();
  const search = $("#target-search");
  const error = $("#simulate-error");
  let timer = null;

  const showError = (message) => { error.textContent = message || ""; error.hidden = !message; };

  function renderChosen() {
    const list = $("#targets");
    list.replaceChildren(...[...chosen.values()].map((t) => el("li", { class: "tag" }, `${t.kind} ${t.label} `,
      el("button", { type: "button", class: "tag-remove", "aria-label": `Remove ${t.kind} ${t.label}`, text: "×",
        onclick: () => { chosen.delete(`${t.kind}:${t.id}`); renderChosen(); } }))));
    if (!chosen.size) list.append(el("li", { class: "muted", text: "none yet" }));
  }

  function result(kind, id, text, detail) {
    const key = `${kind}:${id}`;
    return el("li", {}, el("span", { text: `${kind} ${text}` }), detail ? el("span", { class: "muted", text: ` ${detail}` }) : null, " ",
      el("button", { type: "button", class: "button-small button-secondary", text: "Add", "aria-label": `Add ${kind} ${text}`,
        disabled: chosen.has(key) || undefined,
        onclick: (event) => { chosen.set(key, { kind, id, label: text }); event.target.disabled = true; renderChosen(); } }));
  }

  async function runSearch() {
    const query = search.value.trim();
    const results = $("#target-results");
    const q = encodeURIComponent(query);
    const [hosts, groups] = await Promise.all([
      editor.api("GET", `${editor.urls.hosts}?search=${q}&page_size=10`),
      editor.api("GET", `${editor.urls.groups}?search=${q}&page_size=10`),
    ]);
    if (!hosts.ok || !groups.ok) { showError((hosts.ok ? groups : hosts).data.detail); return; }
    showError("");
    results.replaceChildren(
      ...hosts.data.results.map((h) => result("host", h.id, h.hostname, h.primary_ip || "")),
      ...groups.data.results.map((g) => result("group", g.id, g.name, `${g.host_count} host${g.host_count === 1 ? "" : "s"}`)));
    if (!results.children.length) results.append(el("li", { class: "muted", text: "Nothing matches." }));
  }

  function renderVariables() {
    const box = $("#simulate-variables");
    box.replaceChildren(el("legend", { text: "Variables" }));
    const declared = (editor.saved.variables || []).filter((v) => v && typeof v.name === "string");
    if (!declared.length) box.append(el("p", { class: "muted", text: "This workflow declares no variables." }));
    for (const variable of declared) {
      const id = `sim-var-${variable.name}`;
      const given = variable.default;
      const fallback = given === undefined || given === null ? "" : (typeof given === "string" ? given : JSON.stringify(given));
      box.append(el("div", { class: "field" },
        el("label", { for: id, text: `${variable.name}${variable.required ? " (required)" : ""}` }),
        el("input", { id, type: variable.sensitive ? "password" : "text", dataset: { variable: variable.name },
          placeholder: fallback ? `default: ${fallback}` : "", "aria-required": variable.required ? "true" : undefined })));
    }
  }

  async function simulate(event) {
    event.preventDefault();
    const variables = {};
    for (const input of dialog.querySelectorAll("[data-variable]")) if (input.value !== "") variables[input.dataset.variable] = input.value;
    const ids = (kind) => [...chosen.values()].filter((t) => t.kind === kind).map((t) => t.id);
    const report = $("#simulation-report");
    report.replaceChildren(el("p", { class: "muted", text: "Simulating…" }));
    const answer = await editor.api("POST", editor.urls.simulate, { hosts: ids("host"), groups: ids("group"), variables });
    report.replaceChildren();
    if (!answer.ok) {
      const issues = issuesFrom(answer.data);
      showError(answer.data.detail);
      if (issues.length) editor.setIssues(issues);
      return;
    }
    showError("");
    report.append(el("h3", { text: "Report" }), renderReport(answer.data));
  }

  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(runSearch, 250); });
  search.addEventListener("keydown", (event) => { if (event.key === "Enter") { event.preventDefault(); runSearch(); } });
  $("#target-search-button").addEventListener("click", runSearch);
  $("#simulate-form").addEventListener("submit", simulate);
  button.addEventListener("click", () => {
    renderVariables();
    renderChosen();
    showError(editor.dirty ? "You have unsaved changes: the simulation uses the saved definition." : "");
    dialog.showModal();
    search.focus();
  });
}
