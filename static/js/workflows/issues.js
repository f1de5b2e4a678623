// Validation issues ({path, code, message, severity}) shown next to the field their path
// names (`steps[2].config.command`), falling back to the nearest enclosing part of the
// form (the config, the step), and listed above the editor with a way to reach each one.
import { $, $$, el } from "./dom.js";

const PARENT = /(\.[^.[\]]+|\[\d+\])$/;

export function candidates(path) {
  const paths = [];
  for (let current = path; current; current = current.replace(PARENT, "")) {
    paths.push(current);
    if (!PARENT.test(current)) break;
  }
  return paths;
}

function targets(root, path) {
  for (const candidate of candidates(path)) {
    const found = $$(`[data-path="${CSS.escape(candidate)}"]`, root).filter((node) => node.querySelector(":scope > .field-errors"));
    if (found.length) return found;
  }
  return [];
}

export function clearAnnotations(root) {
  for (const slot of $$(".field-errors", root)) { slot.replaceChildren(); slot.hidden = true; }
  for (const node of $$(".has-issue", root)) node.classList.remove("has-issue", "has-warning");
  for (const control of $$("[aria-invalid][data-issue]", root)) { control.removeAttribute("aria-invalid"); delete control.dataset.issue; }
}

export function annotate(root, issues) {
  clearAnnotations(root);
  for (const issue of issues) {
    for (const target of targets(root, issue.path)) {
      const slot = target.querySelector(":scope > .field-errors");
      if (!slot) continue;
      slot.append(el("li", { class: `issue-${issue.severity}`, text: issue.message }));
      slot.hidden = false;
      target.classList.add("has-issue");
      if (issue.severity === "warning") target.classList.add("has-warning");
      const control = target.querySelector(":scope > .control, :scope > label > .control");
      if (control && issue.severity === "error") { control.setAttribute("aria-invalid", "true"); control.dataset.issue = "1"; }
      for (let parent = target.parentElement; parent; parent = parent.parentElement) {
        if (parent.tagName === "DETAILS") parent.open = true;
      }
    }
  }
}

// Which editor view holds a path.
export function tabFor(path) {
  if (path.startsWith("steps")) return "steps";
  return path ? "settings" : null;
}

export function renderSummary(issues, onReveal) {
  const box = $("#editor-issues");
  box.replaceChildren();
  box.hidden = !issues.length;
  if (!issues.length) return;
  const errors = issues.filter((i) => i.severity !== "warning");
  const warnings = issues.filter((i) => i.severity === "warning");
  const section = (list, title, cls) => list.length ? [
    el("h2", { class: `issues-title ${cls}`, text: title }),
    el("ul", { class: `issue-list ${cls}` }, ...list.map((issue) => el("li", {},
      el("span", { text: issue.message }), " ",
      tabFor(issue.path) ? el("button", { type: "button", class: "button-small button-secondary", text: "Show",
        "aria-label": `Show ${issue.path}`, onclick: () => onReveal(issue.path) }) : null))),
  ] : [];
  box.append(
    ...section(errors, `${errors.length} problem${errors.length === 1 ? "" : "s"} to fix`, "is-error"),
    ...section(warnings, `${warnings.length} warning${warnings.length === 1 ? "" : "s"}`, "is-warning"));
}

export function reveal(root, path) {
  const [target] = targets(root, path);
  if (!target) return false;
  const control = target.querySelector(".control") || target.querySelector("input, select, textarea, button") || target;
  target.scrollIntoView({ block: "center" });
  control.focus();
  return true;
}
