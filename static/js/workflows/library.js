// The Workflows page's template library: fetched on its own, so the list's search and
// paging never hide a template. Without JavaScript the panel keeps its link. A failed
// load says why, with a Retry button that loads it again.
const panel = document.getElementById("template-library");

async function load() {
  panel.setAttribute("aria-busy", "true");
  try {
    let response;
    try {
      response = await fetch(panel.dataset.url, { headers: { "X-Fragment": "1" }, credentials: "same-origin" });
    } catch (err) {
      throw new Error("the server could not be reached");
    }
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    panel.innerHTML = await response.text();
  } catch (err) {
    failed(err.message);
  } finally {
    panel.removeAttribute("aria-busy");
  }
}

// One banner, kept across failed retries (so the focus stays on its button).
function failed(why) {
  let banner = panel.querySelector(".load-error");
  if (!banner) {
    banner = document.createElement("div");
    banner.className = "load-error";
    banner.setAttribute("role", "alert");
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "button-small";
    retry.textContent = "Retry";
    retry.addEventListener("click", async () => {
      retry.disabled = true;
      await load();
      retry.disabled = false;
    });
    banner.append(document.createElement("p"), retry);
    panel.prepend(banner);
  }
  banner.querySelector("p").textContent = `The template library could not be loaded (${why}).`;
}

if (panel) load();
