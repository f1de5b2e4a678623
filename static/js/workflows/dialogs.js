// Publish (with confirmation), Versions, and Activate/Deactivate of a published workflow.
import { $, closeOnDataClose, el, flashLater } from "./dom.js";
import { issuesFrom } from "./api.js";

export function setupPublish(editor) {
  const dialog = $("#publish-dialog");
  const button = $("#publish-button");
  if (!dialog || !button) return;
  closeOnDataClose(dialog);
  const error = $("#publish-error");
  button.addEventListener("click", () => { error.hidden = true; dialog.showModal(); });
  $("#publish-confirm").addEventListener("click", async () => {
    if (editor.dirty && !(await editor.save())) {
      dialog.close();
      editor.status("Not published: fix the problems below and try again.");
      return;
    }
    const answer = await editor.api("POST", editor.urls.publish, {});
    if (!answer.ok) {
      error.textContent = answer.data.detail;
      error.hidden = false;
      editor.setIssues(issuesFrom(answer.data));
      return;
    }
    flashLater(`Published “${answer.data.name}”. It is now read-only.`);
    window.location.reload();
  });
}

export function setupVersions(editor) {
  const dialog = $("#versions-dialog");
  const button = $("#versions-button");
  if (!dialog || !button) return;
  closeOnDataClose(dialog);
  button.addEventListener("click", async () => {
    const body = $("#versions-body");
    body.replaceChildren(el("p", { class: "muted", text: "Loading…" }));
    dialog.showModal();
    const answer = await editor.api("GET", editor.urls.versions);
    if (!answer.ok) { body.replaceChildren(el("p", { class: "field-error", text: answer.data.detail })); return; }
    const rows = answer.data.results.map((v) => el("tr", {},
      el("td", { class: "num", text: String(v.number) }),
      el("td", {}, el("time", { datetime: v.created_at, text: new Date(v.created_at).toLocaleString() })),
      el("td", { class: "num", text: String(v.step_count) }),
      el("td", { text: v.actor || "—" })));
    body.replaceChildren(el("table", { class: "versions" },
      el("caption", { text: `${answer.data.count} version${answer.data.count === 1 ? "" : "s"}${answer.data.next ? ", newest shown" : ""}` }),
      el("thead", {}, el("tr", {}, ...["Version", "Saved", "Steps", "By"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, ...rows)));
  });
}

export function setupActive(editor) {
  const button = $("#active-button");
  if (!button) return;
  button.addEventListener("click", async () => {
    const active = button.dataset.active === "true";
    const answer = await editor.api("PATCH", editor.urls.detail, { is_active: !active });
    if (!answer.ok) { editor.status(`Not changed: ${answer.data.detail}`); return; }
    flashLater(active ? "Deactivated: it cannot be started until activated again." : "Activated.");
    window.location.reload();
  });
}
