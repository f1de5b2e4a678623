// JSON requests to the REST API (and the editor's source endpoint) with the session:
// the CSRF token from the page and the page's organization, so the browser acts exactly
// where the page was rendered.

function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

export function makeApi(organization) {
  return async function request(method, url, body) {
    const headers = { Accept: "application/json", "X-Organization": organization };
    if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      return { ok: false, status: 0, data: { detail: "The server could not be reached; try again." } };
    }
    let data = null;
    if ((response.headers.get("Content-Type") || "").includes("json")) {
      try { data = await response.json(); } catch { data = null; }
    }
    if (data === null) data = response.ok ? {} : { detail: `The server answered ${response.status}.` };
    return { ok: response.ok, status: response.status, data };
  };
}

// Validation answers carry `errors` as a list of {path, code, message} (the definition's
// validation) or as {field: [messages]} (the request's shape); both become issues.
export function issuesFrom(data, severity = "error") {
  const errors = data && data.errors;
  if (Array.isArray(errors)) {
    const warnings = Array.isArray(data.warnings) ? data.warnings : [];
    return [...errors.map((issue) => ({ severity, ...issue, path: issue.path || "" })),
      ...warnings.map((issue) => ({ ...issue, severity: "warning", path: issue.path || "" }))];
  }
  if (errors && typeof errors === "object") {
    const issues = [];
    for (const [key, value] of Object.entries(errors)) {
      const path = key === "non_field_errors" ? "" : key;
      for (const message of flatten(value)) issues.push({ path, code: "invalid", message: `${path ? path + ": " : ""}${message}`, severity });
    }
    return issues;
  }
  return [];
}

function flatten(value) {
  if (Array.isArray(value)) return value.flatMap(flatten);
  if (value && typeof value === "object") return Object.values(value).flatMap(flatten);
  return value === undefined || value === null ? [] : [String(value)];
}
