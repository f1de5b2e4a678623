// While a run is active, re-render the page's live parts (header, timeline, outputs)
// from a server fragment every 2 s; stop once the run has ended. The log panel is not
// polled: the live-log WebSocket client will append to #instance-log.
(function () {
  "use strict";
  const page = document.querySelector("[data-instance-page]");
  if (!page) return;
  const url = page.dataset.liveUrl;
  const INTERVAL_MS = 2000;
  let last = null;

  function isActive() {
    const header = document.getElementById("instance-header");
    return header && header.dataset.active === "true";
  }

  function apply(html) {
    const doc = new DOMParser().parseFromString(html, "text/html");
    doc.querySelectorAll("[data-live-part][id]").forEach((part) => {
      const current = document.getElementById(part.id);
      if (!current) return;
      // Keep what the reader opened or focused where the new markup has the same element.
      const open = Array.from(current.querySelectorAll("details[open][id]"), (el) => el.id);
      current.replaceWith(document.adoptNode(part));
      open.forEach((id) => {
        const el = document.getElementById(id);
        if (el) el.open = true;
      });
    });
  }

  async function tick() {
    if (!document.hidden) {
      try {
        const response = await fetch(url, { headers: { Accept: "text/html" }, cache: "no-store" });
        if (response.ok) {
          const html = await response.text();
          if (html !== last) {
            last = html;
            apply(html);
          }
        }
      } catch (error) {
        // A network blip: try again on the next tick.
      }
    }
    if (isActive()) setTimeout(tick, INTERVAL_MS);
  }

  if (isActive()) setTimeout(tick, INTERVAL_MS);
})();
