// The instance page's live log (DESIGN §8): a WebSocket client of /ws/instances/<id>/.
//
// - Lines are kept in memory (up to MAX_LINES, the oldest dropped first; "Show earlier
//   lines" reads them back over HTTP) and only the rows in view are in the DOM, so a
//   100,000-line log stays responsive.
// - Seqs are checked: an old one is ignored, a jump is filled from
//   GET /api/instances/<id>/logs/?after= before the new lines are shown.
// - The socket reconnects with exponential backoff and resumes after the last seq; it is
//   closed while the tab is hidden and reopened (catching up) when it is shown again.
// - Filters (step, host, All / Output / Errors), search with highlight and
//   next/previous, pause/resume of auto-scroll, download of what is filtered.
// - Terminal colours are rendered (SGR) and every other escape sequence is dropped.
// Without JavaScript the server-rendered log above stays as it is.
(function () {
  "use strict";
  const panel = document.getElementById("live-log");
  if (!panel || !("WebSocket" in window)) return;

  const MAX_LINES = 200000;
  const DROP_LINES = 20000;
  const INITIAL_TAIL = 20000;
  const EARLIER_PAGE = 10000;
  const BACKFILL_PAGE = 10000;
  const OVERSCAN = 20;
  const MAX_BACKOFF_MS = 30000;
  const POLL_MS = 3000;
  const TERMINAL = new Set(["canceled", "succeeded", "failed", "rejected", "timeout", "terminated"]);
  const STYLES = JSON.parse(document.getElementById("live-log-status-styles").textContent);

  const view = document.getElementById("live-log-view");
  const canvas = document.getElementById("live-log-canvas");
  const stateLabel = document.getElementById("live-log-state");
  const searchInput = document.getElementById("live-log-search");
  const matchesLabel = document.getElementById("live-log-matches");
  const pauseButton = panel.querySelector('[data-action="pause"]');
  const newLinesButton = document.getElementById("live-log-new");
  const earlierButton = document.getElementById("live-log-earlier");
  const downloadLink = document.getElementById("live-log-download");

  let lines = []; // every kept line, by seq
  let shown = []; // indexes into `lines` that pass the filters
  let firstSeq = 0; // seq of lines[0] (0: none yet)
  let lastSeq = 0; // the last seq received without a gap
  const filter = { step: panel.dataset.step || "", host: panel.dataset.host || "", stream: "" };
  const search = { text: "", matches: [], current: -1 };
  let follow = true; // auto-scroll
  let socket = null;
  let attempts = 0;
  let retryTimer = null;
  let ended = false;
  let replayed = false; // this connection's replay is over (the `replayed` frame came)
  let endedWith = ""; // a terminal status heard before the replay was over
  let backfilling = null; // a Promise while a gap is being filled
  let pending = []; // live lines that arrived during a backfill
  let rowHeight = 0;
  let drawQueued = false;

  // --- lines ----------------------------------------------------------------------
  function streamMatches(stream) {
    if (!filter.stream) return true;
    if (filter.stream === "errors") return stream === "stderr" || stream === "system";
    return stream === filter.stream;
  }

  function passes(line) {
    return (!filter.step || line.step === filter.step) && (!filter.host || line.host === filter.host) &&
      streamMatches(line.stream);
  }

  function plain(line) {
    if (line.plain === undefined) line.plain = line.line.indexOf("\x1b") === -1 ? line.line : stripAnsi(line.line);
    return line.plain;
  }

  function append(batch) {
    const before = shown.length;
    for (const line of batch) {
      if (line.seq <= lastSeq) continue;
      if (!firstSeq) firstSeq = line.seq;
      lastSeq = line.seq;
      lines.push(line);
      noteHost(line);
      if (passes(line)) {
        shown.push(lines.length - 1);
        if (search.text && plain(line).toLowerCase().includes(search.text)) search.matches.push(shown.length - 1);
      }
    }
    if (lines.length > MAX_LINES) dropOldest();
    else if (shown.length !== before) changed(shown.length - before);
    updateEarlier();
  }

  function dropOldest() {
    lines = lines.slice(lines.length - (MAX_LINES - DROP_LINES));
    firstSeq = lines[0].seq;
    rebuild();
  }

  function prepend(batch) {
    const older = batch.filter((line) => line.seq < firstSeq);
    if (!older.length) return;
    const visibleBefore = shown.length;
    lines = older.concat(lines);
    firstSeq = lines[0].seq;
    older.forEach(noteHost);
    rebuild(false);
    view.scrollTop += (shown.length - visibleBefore) * rowHeight; // keep the reader's place
    updateEarlier();
  }

  function rebuild(scroll = true) {
    shown = [];
    lines.forEach((line, index) => { if (passes(line)) shown.push(index); });
    findMatches(false);
    changed(0, scroll);
  }

  function updateEarlier() {
    earlierButton.hidden = !(firstSeq > 1);
  }

  // --- drawing only the rows in view --------------------------------------------------
  function measure() {
    const probe = document.createElement("div");
    probe.className = "live-log-row";
    probe.textContent = "0";
    canvas.appendChild(probe);
    rowHeight = probe.getBoundingClientRect().height || 20;
    canvas.removeChild(probe);
  }

  function changed(added, scroll = true) {
    canvas.style.height = `${shown.length * rowHeight}px`;
    if (follow && scroll) view.scrollTop = view.scrollHeight;
    else if (added > 0 && !follow) newLinesButton.hidden = false;
    if (search.text) showMatchCount();
    draw();
  }

  function draw() {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(() => {
      drawQueued = false;
      const first = Math.max(0, Math.floor(view.scrollTop / rowHeight) - OVERSCAN);
      const last = Math.min(shown.length, Math.ceil((view.scrollTop + view.clientHeight) / rowHeight) + OVERSCAN);
      const rows = document.createDocumentFragment();
      const current = search.current >= 0 ? search.matches[search.current] : -1;
      for (let position = first; position < last; position++) {
        rows.appendChild(row(lines[shown[position]], position, position === current));
      }
      if (!shown.length) {
        const empty = document.createElement("p");
        empty.className = "live-log-empty";
        empty.textContent = lines.length ? "No lines match the filters." : ended ? "No log lines." : "No log lines yet.";
        rows.appendChild(empty);
      }
      canvas.replaceChildren(rows);
    });
  }

  function cell(className, text) {
    const span = document.createElement("span");
    span.className = className;
    span.textContent = text;
    return span;
  }

  function row(line, position, current) {
    const div = document.createElement("div");
    div.className = `live-log-row log-${line.stream}`;
    div.style.top = `${position * rowHeight}px`;
    div.dataset.seq = line.seq;
    const time = line.ts ? new Date(line.ts).toISOString().slice(11, 19) : "";
    div.append(cell("log-seq", line.seq), cell("log-ts", time), cell("log-step", line.step), cell("log-host", line.host));
    const text = document.createElement("span");
    text.className = "log-text";
    for (const segment of ansiSegments(line.line)) text.appendChild(highlighted(segment, current));
    div.appendChild(text);
    return div;
  }

  function highlighted(segment, current) {
    const holder = document.createElement("span");
    if (segment.className) holder.className = segment.className;
    if (segment.style) holder.setAttribute("style", segment.style);
    const needle = search.text;
    let text = segment.text;
    if (!needle) {
      holder.textContent = text;
      return holder;
    }
    let lower = text.toLowerCase();
    let at;
    while ((at = lower.indexOf(needle)) !== -1) {
      holder.append(text.slice(0, at));
      const mark = document.createElement("mark");
      if (current) mark.className = "current";
      mark.textContent = text.slice(at, at + needle.length);
      holder.appendChild(mark);
      text = text.slice(at + needle.length);
      lower = lower.slice(at + needle.length);
    }
    holder.append(text);
    return holder;
  }

  // --- ANSI escape codes ---------------------------------------------------------------
  // eslint-disable-next-line no-control-regex
  const ESCAPES = /\x1b\[([0-9;?]*)([ -/]*[@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]|\x1b|[\x00-\x08\x0b-\x1f\x7f]/g;

  function stripAnsi(text) {
    return text.replace(ESCAPES, "");
  }

  function ansiSegments(text) {
    if (text.indexOf("\x1b") === -1) return [{ text: text.replace(ESCAPES, "") }];
    const segments = [];
    const sgr = { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false };
    let last = 0;
    let match;
    ESCAPES.lastIndex = 0;
    while ((match = ESCAPES.exec(text)) !== null) {
      if (match.index > last) segments.push(styled(text.slice(last, match.index), sgr));
      last = ESCAPES.lastIndex;
      if (match[2] === "m") applySgr(sgr, match[1]);
    }
    if (last < text.length) segments.push(styled(text.slice(last), sgr));
    return segments;
  }

  function applySgr(sgr, params) {
    const codes = params === "" ? [0] : params.split(";").map((code) => parseInt(code, 10) || 0);
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i];
      if (code === 0) Object.assign(sgr, { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false });
      else if (code === 1) sgr.bold = true;
      else if (code === 2) sgr.dim = true;
      else if (code === 3) sgr.italic = true;
      else if (code === 4) sgr.underline = true;
      else if (code === 22) sgr.bold = sgr.dim = false;
      else if (code === 23) sgr.italic = false;
      else if (code === 24) sgr.underline = false;
      else if (code >= 30 && code <= 37) sgr.fg = code - 30;
      else if (code >= 90 && code <= 97) sgr.fg = code - 90 + 8;
      else if (code === 39) sgr.fg = null;
      else if (code >= 40 && code <= 47) sgr.bg = code - 40;
      else if (code >= 100 && code <= 107) sgr.bg = code - 100 + 8;
      else if (code === 49) sgr.bg = null;
      else if ((code === 38 || code === 48) && codes[i + 1] === 5) {
        sgr[code === 38 ? "fg" : "bg"] = codes[i + 2];
        i += 2;
      } else if ((code === 38 || code === 48) && codes[i + 1] === 2) {
        sgr[code === 38 ? "fg" : "bg"] = `rgb(${codes[i + 2] | 0}, ${codes[i + 3] | 0}, ${codes[i + 4] | 0})`;
        i += 4;
      }
    }
  }

  function colour(value) {
    if (typeof value === "string") return value;
    if (value < 232) {
      const n = value - 16;
      const level = (v) => (v ? 55 + v * 40 : 0);
      return `rgb(${level(Math.floor(n / 36))}, ${level(Math.floor(n / 6) % 6)}, ${level(n % 6)})`;
    }
    const grey = 8 + (value - 232) * 10;
    return `rgb(${grey}, ${grey}, ${grey})`;
  }

  function styled(text, sgr) {
    const classes = [];
    const styles = [];
    for (const [key, property] of [["fg", "color"], ["bg", "background"]]) {
      const value = sgr[key];
      if (value === null || value === undefined) continue;
      if (typeof value === "number" && value < 16) classes.push(`ansi-${key}-${value}`);
      else styles.push(`${property}: ${colour(value)}`);
    }
    for (const flag of ["bold", "dim", "italic", "underline"]) if (sgr[flag]) classes.push(`ansi-${flag}`);
    return { text, className: classes.join(" "), style: styles.join("; ") };
  }

  // --- search --------------------------------------------------------------------------
  function findMatches(jump = true) {
    search.matches = [];
    if (search.text) {
      shown.forEach((index, position) => {
        if (plain(lines[index]).toLowerCase().includes(search.text)) search.matches.push(position);
      });
    }
    search.current = search.matches.length ? 0 : -1;
    if (jump && search.current >= 0) search.current = search.matches.length - 1;
    showMatchCount();
    if (jump && search.current >= 0) reveal(search.matches[search.current]);
    draw();
  }

  function showMatchCount() {
    if (!search.text) matchesLabel.textContent = "";
    else if (!search.matches.length) matchesLabel.textContent = "No matches";
    else if (search.current < 0) matchesLabel.textContent = `${search.matches.length} matches`;
    else matchesLabel.textContent = `${search.current + 1} of ${search.matches.length}`;
  }

  function step(direction) {
    if (!search.matches.length) return;
    const count = search.matches.length;
    search.current = ((search.current < 0 ? 0 : search.current + direction) + count) % count;
    showMatchCount();
    reveal(search.matches[search.current]);
    draw();
  }

  function reveal(position) {
    setFollow(false);
    const top = position * rowHeight;
    if (top < view.scrollTop || top + rowHeight > view.scrollTop + view.clientHeight) {
      view.scrollTop = Math.max(0, top - view.clientHeight / 2);
    }
  }

  // --- follow (auto-scroll) ----------------------------------------------------------------
  function setFollow(on) {
    follow = on;
    pauseButton.textContent = on ? "Pause auto-scroll" : "Resume auto-scroll";
    pauseButton.setAttribute("aria-pressed", on ? "false" : "true");
    if (on) {
      newLinesButton.hidden = true;
      view.scrollTop = view.scrollHeight;
    }
  }

  let lastScrollTop = 0;
  view.addEventListener("scroll", () => {
    const atBottom = view.scrollTop + view.clientHeight >= view.scrollHeight - rowHeight * 1.5;
    if (follow && view.scrollTop < lastScrollTop && !atBottom) setFollow(false); // the reader scrolled up
    else if (!follow && atBottom && view.scrollTop > lastScrollTop && !search.text) setFollow(true);
    lastScrollTop = view.scrollTop;
    draw();
  });

  // --- steps, hosts, statuses ---------------------------------------------------------------
  const stepList = document.getElementById("live-log-step-list");

  function stepItem(stepId) {
    let item = stepList.querySelector(`[data-step-item="${CSS.escape(stepId)}"]`);
    if (item) return item;
    item = document.createElement("li");
    item.dataset.stepItem = stepId;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "live-log-step";
    button.dataset.step = stepId;
    button.setAttribute("aria-pressed", "false");
    button.append(badge("pending"), " ");
    const code = document.createElement("code");
    code.textContent = stepId;
    button.appendChild(code);
    const hosts = document.createElement("ul");
    hosts.className = "live-log-hosts";
    hosts.dataset.hostsOf = stepId;
    hosts.hidden = filter.step !== stepId;
    item.append(button, hosts);
    stepList.appendChild(item);
    return item;
  }

  function badge(status) {
    const style = STYLES[status] || STYLES[""];
    const span = document.createElement("span");
    span.className = `status status-${style.tone}`;
    span.dataset.status = status;
    const icon = document.createElement("span");
    icon.className = "status-icon";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = style.icon;
    span.append(icon, ` ${status.replace(/_/g, " ")}`);
    return span;
  }

  const knownHosts = new Set();

  function noteHost(line) {
    if (!line.host || !line.step) return null;
    const key = `${line.step}\n${line.host}`;
    if (knownHosts.has(key)) return null;
    knownHosts.add(key);
    const hosts = stepItem(line.step).querySelector(".live-log-hosts");
    const existing = hosts.querySelector(`[data-host="${CSS.escape(line.host)}"]`);
    if (existing) return existing;
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "live-log-host";
    button.dataset.step = line.step;
    button.dataset.host = line.host;
    button.setAttribute("aria-pressed", String(filter.step === line.step && filter.host === line.host));
    button.textContent = line.host;
    item.appendChild(button);
    hosts.appendChild(item);
    return button;
  }

  function onJob(event) {
    noteHost(event);
    const button = stepList.querySelector(
      `.live-log-host[data-step="${CSS.escape(event.step)}"][data-host="${CSS.escape(event.host)}"]`);
    if (!button) return;
    button.dataset.status = event.status;
    button.title = `${event.host}: ${event.status}${event.exit_code !== null ? ` (exit ${event.exit_code})` : ""}`;
  }

  function onStep(event) {
    const button = stepItem(event.step).querySelector(".live-log-step");
    const old = button.querySelector(".status");
    if (old && old.dataset.status === event.status) return;
    if (old) old.replaceWith(badge(event.status));
    else button.prepend(badge(event.status), " ");
  }

  function selectSource(stepId, host) {
    filter.step = stepId;
    filter.host = host;
    stepList.querySelectorAll(".live-log-step").forEach((button) => {
      button.setAttribute("aria-pressed", String(button.dataset.step === stepId && !host));
    });
    stepList.querySelectorAll(".live-log-host").forEach((button) => {
      button.setAttribute("aria-pressed", String(button.dataset.step === stepId && button.dataset.host === host));
    });
    stepList.querySelectorAll(".live-log-hosts").forEach((list) => { list.hidden = list.dataset.hostsOf !== stepId; });
    refilter();
  }

  function refilter() {
    updateDownload();
    rebuild();
    if (follow) view.scrollTop = view.scrollHeight;
  }

  function updateDownload() {
    const url = new URL(panel.dataset.downloadUrl, window.location.href);
    for (const [key, value] of [["step", filter.step], ["host", filter.host], ["stream", filter.stream]]) {
      if (value) url.searchParams.set(key, value);
    }
    downloadLink.href = url.pathname + url.search;
  }

  stepList.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    selectSource(button.dataset.step || "", button.dataset.host || "");
  });
  // The page's graph and timeline choose a step from outside: "live-log:select" {step, host}.
  document.addEventListener("live-log:select", (event) => {
    selectSource(event.detail.step || "", event.detail.host || "");
  });
  panel.querySelectorAll('input[name="live-log-stream"]').forEach((radio) => {
    radio.addEventListener("change", () => {
      filter.stream = radio.value;
      refilter();
    });
  });

  // --- HTTP reads (gaps, earlier lines) -----------------------------------------------------
  async function fetchLines(after, limit) {
    const url = `${panel.dataset.linesUrl}?after=${after}&limit=${limit}`;
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
    const page = await response.json();
    return page.lines.map((line) => ({ type: "log", ...line }));
  }

  function backfill(until) {
    if (!backfilling) {
      backfilling = (async () => {
        try {
          while (lastSeq < until) {
            const page = await fetchLines(lastSeq, Math.min(BACKFILL_PAGE, until - lastSeq));
            if (!page.length) break;
            append(page);
          }
        } catch (error) {
          // Reconnecting replays from the last seq as well.
          if (socket) socket.close();
        } finally {
          backfilling = null;
          const waiting = pending;
          pending = [];
          receiveLines(waiting);
        }
      })();
    }
    return backfilling;
  }

  function receiveLines(batch) {
    if (!batch.length) return;
    if (backfilling) {
      pending.push(...batch);
      return;
    }
    const fresh = batch.filter((line) => line.seq > lastSeq);
    if (!fresh.length) return;
    if (lastSeq && fresh[0].seq > lastSeq + 1) {
      pending.push(...fresh);
      backfill(fresh[0].seq - 1);
      return;
    }
    append(fresh);
  }

  earlierButton.addEventListener("click", async () => {
    const after = Math.max(0, firstSeq - 1 - EARLIER_PAGE);
    earlierButton.disabled = true;
    try {
      prepend(await fetchLines(after, firstSeq - 1 - after));
    } finally {
      earlierButton.disabled = false;
    }
  });

  // --- the socket -------------------------------------------------------------------------
  function setState(state, text) {
    stateLabel.dataset.state = state;
    stateLabel.textContent = text;
  }

  function connect() {
    clearTimeout(retryTimer);
    if (socket || ended || document.hidden) return;
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const query = lastSeq ? `after=${lastSeq}` : `tail=${INITIAL_TAIL}`;
    replayed = false;
    socket = new WebSocket(`${scheme}//${window.location.host}${panel.dataset.wsPath}?${query}`);
    socket.addEventListener("message", (event) => onMessage(JSON.parse(event.data)));
    socket.addEventListener("close", () => {
      socket = null;
      if (ended || document.hidden) return;
      const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** attempts) * (0.5 + Math.random() / 2);
      attempts += 1;
      setState("retrying", `Disconnected; reconnecting in ${Math.ceil(delay / 1000)} s`);
      retryTimer = setTimeout(connect, delay);
      if (!polling) poll();
    });
  }

  // While the socket is down (or WebSockets do not get through at all), read new lines
  // over HTTP every few seconds; the page's own poll says when the run has ended.
  let polling = false;
  async function poll() {
    polling = true;
    while (!socket && !ended && !document.hidden) {
      try {
        const page = await fetchLines(lastSeq, BACKFILL_PAGE);
        receiveLines(page);
        const header = document.getElementById("instance-header");
        if (!page.length && header && header.dataset.active === "false") {
          finish(header.dataset.status || "ended");
          break;
        }
        if (page.length === BACKFILL_PAGE) continue;
      } catch (error) {
        // The server is unreachable: the socket's backoff goes on.
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    polling = false;
  }

  function onMessage(message) {
    switch (message.type) {
      case "logs":
        receiveLines(message.lines);
        break;
      case "log":
        receiveLines([message]);
        break;
      case "replayed":
        attempts = 0;
        replayed = true;
        if (endedWith) {
          finish(endedWith);
          break;
        }
        if (!ended) setState("live", "Live");
        if (!lines.length) draw();
        break;
      case "step":
        onStep(message);
        break;
      case "job":
        onJob(message);
        break;
      case "instance":
        // An ending heard during the replay waits for the replay's last line.
        if (TERMINAL.has(message.status)) {
          if (replayed) finish(message.status);
          else endedWith = message.status;
        }
        break;
      default:
        break;
    }
  }

  // The run has ended: read whatever the socket did not bring from the database (the
  // truth), then say the log is complete.
  async function finish(status) {
    if (ended) return;
    ended = true;
    if (socket) socket.close();
    if (backfilling) await backfilling;
    try {
      for (;;) {
        const page = await fetchLines(lastSeq, BACKFILL_PAGE);
        receiveLines(page);
        if (page.length < BACKFILL_PAGE) break;
      }
    } catch (error) {
      setState("ended", `Run ${status.replace(/_/g, " ")}; the rest of the log could not be read: reload the page`);
      draw();
      return;
    }
    setState("ended", `Run ${status.replace(/_/g, " ")}: the log is complete`);
    draw();
  }

  document.addEventListener("visibilitychange", () => {
    if (ended) return;
    if (document.hidden) {
      setState("hidden", "Paused while this tab is hidden");
      if (socket) socket.close();
    } else {
      attempts = 0;
      setState("retrying", "Catching up…");
      connect();
    }
  });

  // --- controls -----------------------------------------------------------------------------
  pauseButton.addEventListener("click", () => setFollow(!follow));
  newLinesButton.addEventListener("click", () => setFollow(true));
  let searchTimer = null;
  searchInput.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      search.text = searchInput.value.toLowerCase();
      findMatches();
    }, 150);
  });
  searchInput.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    clearTimeout(searchTimer);
    if (searchInput.value.toLowerCase() !== search.text) {
      search.text = searchInput.value.toLowerCase();
      findMatches();
    } else {
      step(event.shiftKey ? -1 : 1);
    }
  });
  panel.querySelector('[data-action="next"]').addEventListener("click", () => step(1));
  panel.querySelector('[data-action="previous"]').addEventListener("click", () => step(-1));

  // --- start: the live panel replaces the server-rendered list -------------------------------
  const section = document.getElementById("log");
  section.querySelectorAll("form.filters, .log-status, #instance-log").forEach((element) => { element.hidden = true; });
  panel.hidden = false;
  measure();
  const initialStream = panel.dataset.stream;
  const radio = panel.querySelector(`input[name="live-log-stream"][value="${initialStream === "stdout" ? "stdout" : initialStream ? "errors" : ""}"]`);
  if (radio) {
    radio.checked = true;
    filter.stream = radio.value;
  }
  selectSource(filter.step, filter.host);
  connect();
})();
