// Show the custom From/To dates only when "Custom dates" is the chosen range.
(function () {
  "use strict";
  const select = document.querySelector("[data-range-select]");
  const dates = document.querySelector("[data-custom-range]");
  if (!select || !dates) return;
  function sync() {
    const custom = select.value === "custom";
    dates.hidden = !custom;
    dates.disabled = !custom;
  }
  select.addEventListener("change", sync);
  sync();
})();
