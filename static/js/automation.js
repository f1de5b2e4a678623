// The Automation page: "Until" is entered in the browser's time zone.
(() => {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const input = document.getElementById("pause-timezone");
  if (zone && input && !input.value) {
    input.value = zone;
    document.getElementById("pause-timezone-label").textContent = zone;
  }
})();
