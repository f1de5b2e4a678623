// The Run page's host picker: server-side search (hostname or IP prefix) into a result
// list; checked hosts move to "Selected hosts", whose checkboxes are what the form sends.
// Without JavaScript the search reloads the page and the result checkboxes are sent.
(function () {
  "use strict";
  const picker = document.querySelector("[data-host-picker]");
  if (!picker) return;
  const searchForm = document.getElementById("host-search-form");
  const input = document.getElementById("host-search");
  const results = document.getElementById("host-results");
  const chosen = document.getElementById("chosen-hosts");
  const chosenCount = document.getElementById("chosen-count");
  const noneChosen = document.getElementById("no-chosen-hosts");
  const url = picker.dataset.searchUrl;
  let timer = null;
  let controller = null;

  function chosenIds() {
    return new Set(Array.from(chosen.querySelectorAll("input[name=hosts]"), (box) => box.value));
  }

  function refresh() {
    const ids = chosenIds();
    results.querySelectorAll("input[type=checkbox]").forEach((box) => {
      box.removeAttribute("name"); // only the selected list is submitted
      box.checked = ids.has(box.value);
    });
    chosenCount.textContent = "(" + ids.size + ")";
    noneChosen.hidden = ids.size > 0;
  }

  function addHost(box) {
    if (chosenIds().has(box.value)) return;
    const item = document.createElement("li");
    item.dataset.hostId = box.value;
    const label = document.createElement("label");
    const check = document.createElement("input");
    check.type = "checkbox";
    check.name = "hosts";
    check.value = box.value;
    check.checked = true;
    const name = document.createElement("span");
    name.className = "hostname";
    name.textContent = box.dataset.hostname;
    const ip = document.createElement("span");
    ip.className = "mono muted";
    ip.textContent = box.dataset.ip || "";
    label.append(check, " ", name, " ", ip);
    item.append(label);
    chosen.append(item);
  }

  function removeHost(id) {
    const item = chosen.querySelector('li[data-host-id="' + CSS.escape(id) + '"]');
    if (item) item.remove();
  }

  async function search() {
    if (controller) controller.abort();
    controller = new AbortController();
    const query = new URLSearchParams({ q: input.value });
    try {
      const response = await fetch(url + "?" + query.toString(), {
        signal: controller.signal,
        headers: { Accept: "text/html" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error("HTTP " + response.status);
      results.innerHTML = await response.text();
    } catch (error) {
      if (error.name === "AbortError") return;
      results.textContent = "The host search failed (" + error.message + "). Try again.";
    }
    refresh();
  }

  searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    search();
  });
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, 250);
  });
  results.addEventListener("change", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || box.type !== "checkbox") return;
    if (box.checked) addHost(box);
    else removeHost(box.value);
    refresh();
  });
  chosen.addEventListener("change", (event) => {
    const box = event.target;
    if (box instanceof HTMLInputElement && !box.checked) removeHost(box.value);
    refresh();
  });

  // "Schedule for later" is entered in the browser's time zone.
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const zoneInput = document.getElementById("run-timezone");
  if (zone && zoneInput && !zoneInput.value) {
    zoneInput.value = zone;
    document.getElementById("timezone-label").textContent = zone;
  }
  refresh();
})();
