// A simulation report (POST /api/workflows/{id}/simulate/) as readable HTML: the summary,
// the targets, then one entry per step in walk order with what it would do.
import { el } from "./dom.js";

const LABELS = {
  host_count: "Hosts", job_count: "Jobs", first_dispatch: "Jobs dispatched first", max_parallel: "Hosts at once",
  would_fail: "Would fail", would_pause_for_approval: "Would pause for approval", unknown_approvers: "Not members",
  anyone_with_execute: "Anyone who may run workflows approves", required_approvals: "Approvals required",
  allow_self_approval: "Self-approval allowed", would_delay: "Would delay", would_check_out: "Would check out",
  would_check_in: "Would check in", would_notify: "Would notify", would_set: "Would set", batch_count: "Child instances",
  undetermined: "Undetermined", success_threshold: "Success threshold (%)", plan_from: "Plan from",
};
const SKIP = new Set(["id", "type", "name", "next", "on_failure", "branches", "child_simulation", "batches"]);

function label(key) {
  return LABELS[key] || key.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

function value(v) {
  if (v === null || v === undefined) return el("span", { class: "muted", text: "—" });
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (Array.isArray(v)) {
    if (v.every((item) => typeof item !== "object" || item === null)) return v.length ? v.join(", ") : el("span", { class: "muted", text: "none" });
    return el("ul", {}, ...v.map((item) => el("li", {}, value(item))));
  }
  if (typeof v === "object") return details(v, new Set());
  return String(v);
}

function details(object, skip, raw = false) {
  const list = el("dl", { class: "sim-details" });
  for (const [key, v] of Object.entries(object)) {
    if (skip.has(key)) continue;
    list.append(el("dt", { text: raw ? key : label(key) }), el("dd", { class: key === "would_fail" ? "sim-fail" : undefined }, value(v)));
  }
  return list;
}

function prediction(p) {
  const fails = "would_fail" in p;
  const item = el("li", { class: `sim-step${fails ? " would-fail" : ""}`, dataset: { step: p.id } },
    el("p", { class: "sim-step-title" }, el("strong", { text: p.id }), " ", el("span", { class: "badge", text: p.type }),
      p.name ? ` ${p.name}` : ""),
    details(p, SKIP));
  if (p.branches && typeof p.branches === "object" && !Array.isArray(p.branches)) {
    for (const [root, steps] of Object.entries(p.branches)) {
      item.append(el("p", { class: "small", text: `Branch from ${root}:` }), predictions(steps));
    }
  }
  if (p.child_simulation) {
    item.append(el("details", { class: "sim-child" }, el("summary", { text: `Child workflow ${p.child ? p.child.name : ""}` }),
      renderReport(p.child_simulation)));
  }
  const next = Array.isArray(p.next) ? p.next : [];
  item.append(el("p", { class: "small muted", text: next.length ? `Then: ${next.join(", ")}` : "Then: the workflow ends" }));
  return item;
}

function predictions(list) {
  return el("ol", { class: "sim-steps" }, ...(Array.isArray(list) ? list : []).map(prediction));
}

export function renderReport(report) {
  const s = report.summary || {};
  const counts = [["steps", "step"], ["jobs", "job"], ["approvals", "approval"], ["pam_checkouts", "PAM checkout"],
    ["notifications", "notification"], ["child_instances", "child instance"]]
    .map(([key, noun]) => `${s[key] || 0} ${noun}${s[key] === 1 ? "" : "s"}`).join(" · ");
  const box = el("div", { class: "sim-report" },
    el("p", { class: "sim-summary" }, el("strong", { text: "Would create: " }), counts),
    (s.would_fail || []).length ? el("p", { class: "sim-fail", text: `Would fail at: ${s.would_fail.join(", ")}` }) : null,
    (s.undetermined || []).length ? el("p", { text: `Decided only at run time: ${s.undetermined.join(", ")}` }) : null,
    el("p", { text: `Targets: ${report.host_count} host${report.host_count === 1 ? "" : "s"}${report.hosts && report.hosts.length ? ` (${report.hosts.join(", ")})` : ""}` }),
    Object.keys(report.variables || {}).length ? el("div", {}, el("p", { class: "small", text: "Variables:" }), details(report.variables, new Set(), true)) : null,
    predictions(report.steps),
    (report.not_reached || []).length ? el("p", { class: "muted", text: `Not reached: ${report.not_reached.join(", ")}` }) : null);
  return box;
}
