// While a run is active, re-render the page's live parts (header, timeline, outputs)
// from a server fragment every 2 s; stop once the run has ended. The log panel is not
// polled: the live-log WebSocket client will append to #instance-log.
// A refresh that fails shows a banner with a Retry button instead of silently stale data;
// after each applied refresh the page hears "instance:refreshed" (instance_controls.js).
(function () {
  "use strict";
  const page = document.querySelector("[data-instance-page]");
  if (!page) return;
  const url = page.dataset.liveUrl;
  const INTERVAL_MS = 2000;
  let last = null;
  let lastGood = new Date();
  const banner = document.getElementById("live-error");

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
    document.dispatchEvent(new CustomEvent("instance:refreshed"));
  }

  function failed(what) {
    if (!banner) return;
    banner.querySelector("[data-live-error-text]").textContent = what;
    banner.querySelector("[data-live-error-since]").textContent =
      ` (last refreshed at ${lastGood.toLocaleTimeString()})`;
    banner.hidden = false;
  }

  async function refresh() {
    let html;
    try {
      const response = await fetch(url, { headers: { Accept: "text/html" }, cache: "no-store" });
      if (response.redirected) {  // to the login page: the session ended
        failed("you are signed out, reload the page to sign in again");
        return;
      }
      if (!response.ok) {
        failed(`the server answered ${response.status} ${response.statusText}`.trim());
        return;
      }
      html = await response.text();
    } catch (error) {
      failed("the server could not be reached");
      return;
    }
    lastGood = new Date();
    if (banner) banner.hidden = true;
    if (html !== last) {
      last = html;
      apply(html);
    }
  }

  async function tick() {
    if (!document.hidden) await refresh();
    if (isActive()) setTimeout(tick, INTERVAL_MS);
  }

  if (banner) {
    const retry = banner.querySelector("[data-live-retry]");
    retry.addEventListener("click", async () => {
      retry.disabled = true;
      try {
        await refresh();
      } finally {
        retry.disabled = false;
      }
    });
  }

  if (isActive()) setTimeout(tick, INTERVAL_MS);
})();
