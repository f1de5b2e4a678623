// The Workflows page's template library: fetched on its own, so the list's search and
// paging never hide a template. Without JavaScript the panel keeps its link.
const panel = document.getElementById("template-library");

async function load() {
  panel.setAttribute("aria-busy", "true");
  try {
    const response = await fetch(panel.dataset.url, { headers: { "X-Fragment": "1" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    panel.innerHTML = await response.text();
  } catch (err) {
    const message = document.createElement("p");
    message.className = "field-error";
    message.textContent = `The template library could not be loaded (${err.message}).`;
    panel.prepend(message);
  } finally {
    panel.removeAttribute("aria-busy");
  }
}

if (panel) load();
