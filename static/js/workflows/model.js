// Plain-data operations on a definition in the contract's format (DESIGN §4): step ids,
// references between steps, and the graph's edges. No DOM here.

export const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);

export function stepsOf(doc) {
  return Array.isArray(doc.steps) ? doc.steps : [];
}

export function stepIds(doc) {
  return stepsOf(doc).filter((s) => isObject(s) && typeof s.id === "string" && s.id).map((s) => s.id);
}

export function newStepId(doc, type) {
  const taken = new Set(stepIds(doc));
  for (let n = 1; ; n += 1) {
    const candidate = `${type}_${n}`;
    if (!taken.has(candidate)) return candidate;
  }
}

// Every place a step id may be named, as [object, key] pairs (lists by index).
function references(doc) {
  const refs = [[doc, "start"], [doc, "on_cancel"]];
  for (const step of stepsOf(doc).filter(isObject)) {
    refs.push([step, "on_success"], [step, "on_failure"]);
    const config = isObject(step.config) ? step.config : {};
    if (step.type === "conditional") {
      refs.push([config, "default"]);
      for (const branch of Array.isArray(config.branches) ? config.branches : []) if (isObject(branch)) refs.push([branch, "next"]);
    }
    if (step.type === "parallel" && Array.isArray(config.branches)) config.branches.forEach((_, i) => refs.push([config.branches, i]));
    if (step.type === "approval") refs.push([config, "plan_from"]);
    if (step.type === "pam_checkin") refs.push([config, "checkout"]);
  }
  return refs;
}

export function renameReferences(doc, oldId, newId) {
  let count = 0;
  for (const [owner, key] of references(doc)) {
    if (owner[key] === oldId) { owner[key] = newId; count += 1; }
  }
  return count;
}

// Edges for the graph: on_success, on_failure and branches (conditional and parallel).
export function edgesOf(doc) {
  const edges = [];
  for (const step of stepsOf(doc).filter((s) => isObject(s) && typeof s.id === "string")) {
    const config = isObject(step.config) ? step.config : {};
    const add = (to, kind, label) => { if (typeof to === "string" && to) edges.push({ from: step.id, to, kind, label }); };
    if (step.type === "conditional") {
      (Array.isArray(config.branches) ? config.branches : []).forEach((branch, i) => {
        if (isObject(branch)) add(branch.next, "branch", `if ${branch.when || `branch ${i + 1}`}`);
      });
      add(config.default, "branch", "default");
    }
    if (step.type === "parallel") {
      for (const root of Array.isArray(config.branches) ? config.branches : []) add(root, "branch", "parallel");
    }
    add(step.on_success, "success", "on success");
    add(step.on_failure, "failure", "on failure");
  }
  return edges;
}

export const KIND_LABELS = { success: "on success", failure: "on failure", branch: "branch" };
