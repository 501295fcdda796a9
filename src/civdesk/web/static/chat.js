/* civdesk citizen web chat. Plain JS, no dependencies; config comes from data- attributes (strict CSP).
 *
 * Sending: each message gets a client_msg_id once and waits in an outbox (kept in localStorage) until the
 * server accepts it; failures are retried in order with backoff and the same id, so a resend is harmless.
 * A file goes with the message it was attached to (POST /files); a pressed button is sent as its title
 * with its payload. Files cannot be kept in localStorage, so a file not yet accepted is lost on a reload.
 * Receiving: a websocket pushes messages; on reconnect it resumes after the highest id seen, and each server
 * id is rendered once. The server does not echo client ids, so a pending own message is matched to its
 * stored copy by text (and file name), only among ids newer than the page had seen when it was written.
 * The pieces of the page (bubbles, files, buttons, the attach control) come from chat-ui.js.
 */
(function () {
  "use strict";

  const root = document.getElementById("chat");
  const ui = window.civdeskChatUI;
  if (!root || !ui) return;
  const t = ui.t;
  const agencyName = root.dataset.agencyName || t("who.agency");
  const base = "/chat/" + encodeURIComponent(root.dataset.agencySlug || "");
  const storeKey = "civdesk.chat." + (root.dataset.agencySlug || "");
  const MAX_HISTORY_PAGES = 50; // the transcript endpoint answers up to 500 messages at a time
  const WATCHDOG_MS = 60000; // the server sends a heartbeat every 25 s
  const byIdOf = (id) => document.getElementById(id);
  const el = {
    log: byIdOf("log"), empty: byIdOf("log-empty"), status: byIdOf("status"), form: byIdOf("composer"),
    nameField: byIdOf("name").closest(".field"), name: byIdOf("name"), text: byIdOf("message"),
    error: byIdOf("message-error"),
  };
  const attach = ui.attachControl({
    button: byIdOf("attach"), input: byIdOf("attach-input"), chosen: byIdOf("attach-chosen"),
    chosenName: byIdOf("attach-name"), clear: byIdOf("attach-clear"), error: byIdOf("attach-error"),
    maxBytes: Number(root.dataset.maxFileBytes) || 20 * 1024 * 1024,
    accept: (byIdOf("attach-input").accept || "").split(",").filter(Boolean),
    announce: (text) => setStatus(text, 6000),
  });

  let token = null;
  let lastId = 0; // the highest server message id rendered
  const byId = new Map(); // server id -> node
  let outbox = []; // [{cid, text, name, at, afterId, payload?, file?}] not yet accepted by the server
  const unmatched = []; // own messages not yet matched to a server id: [{entry, node}]

  // ---- storage (may be unavailable: private mode, blocked site data) ----
  function load() {
    try {
      const data = JSON.parse(window.localStorage.getItem(storeKey) || "null");
      if (data && typeof data.token === "string") token = data.token;
      if (data && Array.isArray(data.outbox)) outbox = data.outbox.filter((e) => e && e.cid && e.text && !e.fileName);
    } catch (_) { /* start afresh */ }
  }
  function save() {
    try {
      const kept = outbox.filter((e) => !e.file); // a File cannot be stored
      window.localStorage.setItem(storeKey, JSON.stringify({ token: token, outbox: kept }));
    } catch (_) { /* the chat still works for this page view */ }
  }

  // ---- helpers ----
  const backoff = ui.backoff;
  const newId = ui.newId;
  function authHeaders(extra) {
    // The server's own error messages come in the page's language too.
    return Object.assign({ Authorization: "Bearer " + token, "Accept-Language": ui.lang }, extra || {});
  }
  let statusTimer = null;
  function setStatus(text, clearAfterMs) {
    clearTimeout(statusTimer);
    if (el.status.textContent !== text) el.status.textContent = text;
    el.status.classList.toggle("status--active", Boolean(text));
    if (clearAfterMs) statusTimer = setTimeout(() => setStatus(""), clearAfterMs);
  }

  // ---- rendering ----
  let pinned = true; // the reader is at the newest message: keep them there as things change
  function nearBottom() {
    return el.log.scrollHeight - el.log.scrollTop - el.log.clientHeight < 80;
  }
  function scrollToNewest() {
    el.log.scrollTop = el.log.scrollHeight;
  }
  function conversationStarted() {
    if (el.empty) { el.empty.remove(); el.empty = null; }
    el.nameField.hidden = true; // the agency keeps the name given with the first message
  }
  function makeNode(own, text, date) {
    return ui.messageNode(own, own ? t("who.you") : agencyName, text, date);
  }
  function setState(node, state, detail) {
    const stick = pinned;
    ui.setState(node, state, detail, () => { sendAttempt = 0; pump(); });
    if (stick) scrollToNewest();
  }
  function addServer(item, forceScroll) {
    if (!item || typeof item.id !== "number" || byId.has(item.id)) return;
    const stick = forceScroll || pinned;
    lastId = Math.max(lastId, item.id);
    const own = item.direction === "in";
    const text = String(item.text || "");
    const when = new Date(item.created_at);
    const files = Array.isArray(item.attachments) ? item.attachments : [];
    const fileName = files.length ? files[0].name : "";
    const i = !own ? -1 : unmatched.findIndex((u) => u.entry.afterId < item.id &&
      u.entry.text.trim() === text && (u.entry.fileName || "") === fileName);
    let node;
    if (i >= 0) {
      node = unmatched.splice(i, 1)[0].node;
      if (node.dataset.state !== "sent") setState(node, "sent");
      ui.setTime(node, when);
      ui.showFiles(node, files);
    } else {
      node = makeNode(own, text, when);
      ui.showFiles(node, files);
      if (!own) ui.showRich(node, item);
      if (!own && Array.isArray(item.buttons) && item.buttons.length) node.append(ui.buttonGroup(item.buttons, press));
      conversationStarted();
      ui.insertInOrder(el.log, node, item.id);
    }
    node.dataset.id = String(item.id);
    byId.set(item.id, node);
    if (own) ui.closeKeyboards(el.log, item.id);
    if (stick) scrollToNewest();
  }
  function showOwn(entry) {
    conversationStarted();
    ui.closeKeyboards(el.log);
    const node = makeNode(true, entry.text, new Date(entry.at));
    if (entry.fileName) node.append(ui.pendingFile(entry.fileName, entry.fileSize || 0));
    node.dataset.cid = entry.cid;
    el.log.append(node);
    setState(node, "pending");
    unmatched.push({ entry: entry, node: node });
    scrollToNewest();
  }
  function nodeOf(entry) {
    return el.log.querySelector('[data-cid="' + CSS.escape(entry.cid) + '"]');
  }

  // ---- session and history ----
  async function ensureSession() {
    if (token) return;
    const res = await fetch(base + "/session", { method: "POST" });
    if (!res.ok) throw new Error("session " + res.status);
    token = (await res.json()).token;
    save();
    connect();
  }
  function resetSession(note) {
    // The server no longer accepts this token: the chat it showed can no longer be read.
    token = null;
    lastId = 0;
    closeSocket();
    byId.forEach((node) => node.remove());
    byId.clear();
    save();
    el.nameField.hidden = unmatched.length > 0;
    setStatus(note || t("session.ended"));
  }
  async function fetchHistory() {
    for (let page = 0; page < MAX_HISTORY_PAGES && token; page++) {
      const res = await fetch(base + "/messages?after_id=" + lastId, { headers: authHeaders() });
      if (res.status === 401) return resetSession();
      if (!res.ok) throw new Error("transcript " + res.status);
      const items = (await res.json()).items || [];
      if (!items.length) return;
      items.forEach((item) => addServer(item, true));
    }
  }

  // ---- sending: one at a time, in order, with the same client_msg_id on every retry ----
  let pumping = false;
  let sendAttempt = 0;
  let sendTimer = null;
  let sessionRenewed = false;

  async function trySend(entry) {
    try {
      await ensureSession();
      let res;
      if (entry.file) {
        const form = new FormData();
        form.append("client_msg_id", entry.cid);
        form.append("text", entry.text);
        if (entry.name) form.append("name", entry.name);
        form.append("file", entry.file, entry.file.name);
        res = await fetch(base + "/files", { method: "POST", headers: authHeaders(), body: form });
      } else {
        const payload = { client_msg_id: entry.cid, text: entry.text };
        if (entry.name) payload.name = entry.name;
        if (entry.payload) payload.button_payload = entry.payload;
        res = await fetch(base + "/messages", {
          method: "POST",
          headers: authHeaders({ "Content-Type": "application/json" }),
          body: JSON.stringify(payload),
        });
      }
      if (res.ok) return { outcome: "sent" };
      if (res.status === 401 && !sessionRenewed) {
        sessionRenewed = true;
        resetSession(t("session.renewed"));
        return { outcome: "again" };
      }
      if (res.status === 401 || res.status === 408 || res.status === 429 || res.status >= 500) {
        return { outcome: "retry" };
      }
      const body = await res.json().catch(() => null);
      const detail = body && body.error && body.error.message;
      return { outcome: "rejected", detail: detail || t("state.error", { status: res.status }) };
    } catch (_) {
      return { outcome: "retry" }; // the network, or no session yet
    }
  }
  async function pump() {
    if (pumping) return;
    pumping = true;
    clearTimeout(sendTimer);
    let retryIn = 0;
    try {
      while (outbox.length) {
        const entry = outbox[0];
        const node = nodeOf(entry);
        if (node && node.dataset.state === "retry") setState(node, "pending");
        const result = await trySend(entry);
        if (result.outcome === "again") continue;
        if (result.outcome === "retry") {
          // Already matched to a stored copy? Keep retrying quietly: the resend is harmless.
          if (node && node.dataset.state !== "sent") setState(node, "retry");
          retryIn = backoff(sendAttempt++, 1000, 30000);
          break;
        }
        outbox.shift();
        save();
        sendAttempt = 0;
        sessionRenewed = false;
        if (node && node.dataset.state !== "sent") setState(node, result.outcome, result.detail);
        const left = unmatched.findIndex((u) => u.entry === entry);
        if (result.outcome === "rejected" && left >= 0) unmatched.splice(left, 1);
      }
    } finally {
      pumping = false;
    }
    if (retryIn) sendTimer = setTimeout(pump, retryIn);
  }
  function submit() {
    const text = el.text.value;
    const file = attach.file;
    if (!text.trim() && !file) {
      el.error.textContent = t("message.error.empty");
      el.error.hidden = false;
      el.text.setAttribute("aria-invalid", "true");
      el.text.focus();
      return;
    }
    clearError();
    const entry = {
      cid: newId(), text: file ? text.trim() : text, name: el.name.value.trim() || null,
      at: new Date().toISOString(), afterId: lastId,
    };
    if (file) Object.assign(entry, { file: file, fileName: file.name.slice(0, 200), fileSize: file.size });
    enqueue(entry);
    el.text.value = "";
    attach.reset();
  }
  function press(button) {
    enqueue({
      cid: newId(), text: button.title, payload: button.payload, name: el.name.value.trim() || null,
      at: new Date().toISOString(), afterId: lastId,
    });
    el.text.focus(); // the pressed button is disabled now: focus goes back to the message field
  }
  function enqueue(entry) {
    outbox.push(entry);
    save();
    showOwn(entry);
    pump();
  }
  function clearError() {
    if (el.error.hidden) return;
    el.error.hidden = true;
    el.error.textContent = "";
    el.text.removeAttribute("aria-invalid");
  }

  // ---- receiving: a websocket that reconnects with backoff and resumes after the last id ----
  let socket = null;
  let wsAttempt = 0;
  let wsTimer = null;
  let watchdog = null;
  let reconnecting = false;

  function closeSocket() {
    clearTimeout(wsTimer);
    clearTimeout(watchdog);
    const ws = socket;
    socket = null;
    if (!ws) return;
    ws.onclose = ws.onmessage = ws.onopen = null;
    try { ws.close(); } catch (_) { /* already closed */ }
  }
  function armWatchdog(ws) {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => { if (socket === ws) { closeSocket(); scheduleReconnect(); } }, WATCHDOG_MS);
  }
  function connect() {
    if (!token || socket) return;
    clearTimeout(wsTimer);
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const url = scheme + window.location.host + base + "/ws?token=" + encodeURIComponent(token) +
      "&after_id=" + lastId + "&lang=" + ui.lang;
    let ws;
    try { ws = new WebSocket(url); } catch (_) { scheduleReconnect(); return; }
    socket = ws;
    ws.onopen = () => {
      wsAttempt = 0;
      armWatchdog(ws);
      if (reconnecting) { reconnecting = false; setStatus(t("status.restored"), 4000); }
    };
    ws.onmessage = (event) => {
      armWatchdog(ws);
      let data = null;
      try { data = JSON.parse(event.data); } catch (_) { return; }
      if (data && data.type === "message") addServer(data.message, false);
      // Who is online and whether a rating is due: chat-state.js shows it.
      else if (data && data.type === "state") root.dispatchEvent(new CustomEvent("civdesk:state", { detail: data.state }));
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = null;
      clearTimeout(watchdog);
      if (event.code === 4401) return resetSession();  // the server refused this session token
      scheduleReconnect();
    };
  }
  function scheduleReconnect() {
    if (!token) return;
    reconnecting = true;
    setStatus(t(navigator.onLine === false ? "status.offline" : "status.reconnecting"));
    clearTimeout(wsTimer);
    const attempt = wsAttempt++;
    wsTimer = setTimeout(async () => {
      if (attempt >= 2) {
        // Failing again and again: check the session, and fetch what came meanwhile over plain HTTP.
        try { await fetchHistory(); } catch (_) { /* still offline: the next attempt will tell */ }
      }
      connect();
    }, backoff(attempt, 500, 15000));
  }
  function reconnectNow() {
    wsAttempt = 0;
    if (!socket && token) connect();
  }

  // ---- wiring ----
  el.form.addEventListener("submit", (event) => { event.preventDefault(); submit(); });
  el.text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey && !event.ctrlKey) {
      event.preventDefault();
      submit();
    }
  });
  el.text.addEventListener("input", clearError);
  el.log.addEventListener("scroll", () => { pinned = nearBottom(); }, { passive: true });
  if (window.ResizeObserver) new ResizeObserver(() => { if (pinned) scrollToNewest(); }).observe(el.log);
  window.addEventListener("online", () => { reconnectNow(); sendAttempt = 0; pump(); });
  window.addEventListener("offline", () => {
    // After a network change the old connection is often dead without knowing it: start afresh.
    if (token) { closeSocket(); scheduleReconnect(); }
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") reconnectNow();
  });

  // For tests and support staff: the live socket, the last id seen, how many messages wait to be sent.
  window.civdeskChat = {
    get socket() { return socket; },
    get token() { return token; },
    get lastId() { return lastId; },
    get pending() { return outbox.length; },
    reconnect: reconnectNow,
  };

  async function start() {
    load();
    el.form.hidden = false;
    outbox.forEach(showOwn); // written before a reload and not yet accepted
    if (token) {
      el.nameField.hidden = true;
      try {
        await fetchHistory();
      } catch (_) {
        reconnecting = true; // the websocket replays the history once it connects
        setStatus(t("status.history_failed"));
      }
      scrollToNewest();
      connect();
    }
    if (outbox.length) pump();
  }
  start();
})();
