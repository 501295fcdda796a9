/* civdesk citizen web chat. Plain JS, no dependencies; config comes from data- attributes (strict CSP).
 *
 * Sending: each message gets a client_msg_id once and is kept in an outbox (localStorage) until the
 * server accepts it; failures are retried in order with backoff and the same id, so a resend is harmless.
 * Receiving: a websocket pushes messages; on reconnect it resumes after the highest id seen, and the page
 * renders each server id once. The server does not echo client ids, so a pending own message is matched
 * to its stored copy by text (only among ids newer than what the page had seen when it was written).
 */
(function () {
  "use strict";

  const root = document.getElementById("chat");
  if (!root) return;
  const slug = root.dataset.agencySlug || "";
  const agencyName = root.dataset.agencyName || "Відомство";
  const base = "/chat/" + encodeURIComponent(slug);
  const storeKey = "civdesk.chat." + slug;
  const PAGE_LIMIT_GUARD = 50; // history pages of up to 500 messages each
  const WATCHDOG_MS = 60000; // the server sends a heartbeat every 25 s

  const el = {
    log: document.getElementById("log"),
    empty: document.getElementById("log-empty"),
    status: document.getElementById("status"),
    form: document.getElementById("composer"),
    name: document.getElementById("name"),
    text: document.getElementById("message"),
    error: document.getElementById("message-error"),
  };

  let token = null;
  let lastId = 0; // the highest server message id rendered
  const byId = new Map(); // server id -> node
  let outbox = []; // [{cid, text, name, at, afterId}] not yet accepted by the server
  const unmatched = []; // own messages shown but not yet matched to a server id: {entry, node}

  // ---- storage (may be unavailable: private mode, disabled cookies) ----
  function load() {
    try {
      const data = JSON.parse(window.localStorage.getItem(storeKey) || "null");
      if (data && typeof data.token === "string") token = data.token;
      if (data && Array.isArray(data.outbox)) outbox = data.outbox.filter((e) => e && e.cid && e.text);
    } catch (_) { /* start afresh */ }
  }
  function save() {
    try {
      window.localStorage.setItem(storeKey, JSON.stringify({ token: token, outbox: outbox }));
    } catch (_) { /* the chat still works for this page view */ }
  }

  // ---- helpers ----
  function backoff(attempt, baseMs, maxMs) {
    const raw = Math.min(maxMs, baseMs * Math.pow(2, attempt));
    return Math.round(raw * (0.75 + Math.random() * 0.5));
  }
  function newId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  const timeFmt = new Intl.DateTimeFormat("uk-UA", { hour: "2-digit", minute: "2-digit" });
  const dateTimeFmt = new Intl.DateTimeFormat("uk-UA", {
    day: "numeric", month: "long", hour: "2-digit", minute: "2-digit",
  });
  function formatWhen(date) {
    const now = new Date();
    return date.toDateString() === now.toDateString() ? timeFmt.format(date) : dateTimeFmt.format(date);
  }
  function authHeaders(extra) {
    return Object.assign({ Authorization: "Bearer " + token }, extra || {});
  }
  let statusTimer = null;
  function setStatus(text, clearAfterMs) {
    clearTimeout(statusTimer);
    if (el.status.textContent !== text) el.status.textContent = text;
    el.status.classList.toggle("status--active", Boolean(text));
    if (clearAfterMs) statusTimer = setTimeout(() => setStatus(""), clearAfterMs);
  }

  // ---- rendering ----
  function nearBottom() {
    return el.log.scrollHeight - el.log.scrollTop - el.log.clientHeight < 80;
  }
  function scrollToNewest() {
    el.log.scrollTop = el.log.scrollHeight;
  }
  function makeNode(own, text, date) {
    const node = document.createElement("div");
    node.className = "msg " + (own ? "msg--own" : "msg--agency");
    const meta = document.createElement("p");
    meta.className = "msg__meta";
    const who = document.createElement("span");
    who.className = "msg__who";
    who.textContent = own ? "Ви" : agencyName;
    const sep = document.createElement("span");
    sep.className = "visually-hidden";
    sep.textContent = ", ";
    const time = document.createElement("time");
    time.className = "msg__time";
    meta.append(who, sep, time);
    const body = document.createElement("p");
    body.className = "msg__text";
    body.textContent = text;
    node.append(meta, body);
    setTime(node, date);
    return node;
  }
  function setTime(node, date) {
    const time = node.querySelector("time");
    if (Number.isNaN(date.getTime())) return;
    time.dateTime = date.toISOString();
    time.textContent = formatWhen(date);
  }
  function setState(node, state, detail) {
    let line = node.querySelector(".msg__state");
    if (!line) {
      line = document.createElement("p");
      line.className = "msg__state";
      node.append(line);
    }
    node.dataset.state = state;
    const labels = {
      pending: "надсилається…",
      sent: "надіслано",
      retry: "не надіслано — повторюємо спробу автоматично…",
      rejected: "не надіслано" + (detail ? ": " + detail : ""),
    };
    const label = document.createElement("span");
    label.textContent = labels[state];
    line.replaceChildren(label);
    if (state === "retry") {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "msg__retry";
      button.textContent = "Повторити зараз";
      button.addEventListener("click", () => { sendAttempt = 0; pump(); });
      line.append(" ", button);
    }
  }
  function insertServerNode(node, id) {
    // Before any own message still waiting for its id, and in id order among the rest.
    let ref = null;
    for (let child = el.log.lastElementChild; child; child = child.previousElementSibling) {
      if (!child.classList.contains("msg")) break;
      if (!child.dataset.id || Number(child.dataset.id) > id) { ref = child; continue; }
      break;
    }
    el.log.insertBefore(node, ref);
  }
  function hideEmpty() {
    if (el.empty) { el.empty.remove(); el.empty = null; }
  }
  function addServer(item, opts) {
    if (!item || typeof item.id !== "number" || byId.has(item.id)) return;
    const stick = (opts && opts.forceScroll) || nearBottom();
    lastId = Math.max(lastId, item.id);
    const own = item.direction === "in";
    const text = String(item.text || "");
    let node = null;
    if (own) {
      const i = unmatched.findIndex((u) => u.entry.afterId < item.id && u.entry.text.trim() === text);
      if (i >= 0) {
        node = unmatched.splice(i, 1)[0].node;
        if (node.dataset.state !== "sent") setState(node, "sent");
      }
    }
    if (node) {
      node.dataset.id = String(item.id);
      setTime(node, new Date(item.created_at));
    } else {
      node = makeNode(own, text, new Date(item.created_at));
      node.dataset.id = String(item.id);
      hideEmpty();
      insertServerNode(node, item.id);
    }
    byId.set(item.id, node);
    if (stick) scrollToNewest();
  }
  function showOwn(entry) {
    hideEmpty();
    const node = makeNode(true, entry.text, new Date(entry.at));
    node.dataset.cid = entry.cid;
    setState(node, "pending");
    el.log.append(node);
    unmatched.push({ entry: entry, node: node });
    scrollToNewest();
    return node;
  }
  function nodeOf(entry) {
    const found = unmatched.find((u) => u.entry.cid === entry.cid);
    return found ? found.node : el.log.querySelector('[data-cid="' + CSS.escape(entry.cid) + '"]');
  }

  // ---- session ----
  async function ensureSession() {
    if (token) return;
    const res = await fetch(base + "/session", { method: "POST" });
    if (!res.ok) throw new Error("session " + res.status);
    const data = await res.json();
    token = data.token;
    save();
    connect();
  }
  function resetSession() {
    // The server no longer accepts this token: what it showed belongs to a chat we can no longer read.
    token = null;
    lastId = 0;
    closeSocket();
    byId.forEach((node) => node.remove());
    byId.clear();
    save();
    setStatus("Сесія чату завершилася. Напишіть повідомлення, щоб почати нову розмову.");
  }
  async function fetchHistory() {
    for (let page = 0; page < PAGE_LIMIT_GUARD && token; page++) {
      const res = await fetch(base + "/messages?after_id=" + lastId, { headers: authHeaders() });
      if (res.status === 401) { resetSession(); return; }
      if (!res.ok) throw new Error("transcript " + res.status);
      const items = (await res.json()).items || [];
      if (!items.length) return;
      items.forEach((item) => addServer(item, { forceScroll: true }));
    }
  }

  // ---- sending: one at a time, in order, same client_msg_id on every retry ----
  let pumping = false;
  let sendAttempt = 0;
  let sendTimer = null;
  let freshSessionRetries = 0;

  async function errorText(res) {
    try {
      const body = await res.json();
      if (body && body.error && body.error.message) return String(body.error.message);
    } catch (_) { /* not JSON */ }
    return "помилка " + res.status;
  }
  async function trySend(entry) {
    try {
      await ensureSession();
      const payload = { client_msg_id: entry.cid, text: entry.text };
      if (entry.name) payload.name = entry.name;
      const res = await fetch(base + "/messages", {
        method: "POST",
        headers: authHeaders({ "Content-Type": "application/json" }),
        body: JSON.stringify(payload),
      });
      if (res.ok) return { outcome: "sent" };
      if (res.status === 401 && freshSessionRetries < 1) {
        freshSessionRetries += 1;
        resetSession();
        setStatus("Сесію чату оновлено, тому попереднє листування більше не показується.", 8000);
        return { outcome: "again" };
      }
      if (res.status === 401 || res.status === 408 || res.status === 429 || res.status >= 500) {
        return { outcome: "retry" };
      }
      return { outcome: "rejected", detail: await errorText(res) };
    } catch (_) {
      return { outcome: "retry" }; // network error or no session yet
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
          if (node) setState(node, "retry");
          retryIn = backoff(sendAttempt++, 1000, 30000);
          break;
        }
        outbox.shift();
        save();
        sendAttempt = 0;
        freshSessionRetries = 0;
        if (node && node.dataset.state !== "sent") setState(node, result.outcome, result.detail);
        if (result.outcome === "rejected") {
          const i = unmatched.findIndex((u) => u.entry === entry);
          if (i >= 0) unmatched.splice(i, 1);
        }
      }
    } finally {
      pumping = false;
    }
    if (retryIn) sendTimer = setTimeout(pump, retryIn);
  }
  function submit() {
    const text = el.text.value;
    if (!text.trim()) {
      el.error.textContent = "Напишіть повідомлення.";
      el.error.hidden = false;
      el.text.setAttribute("aria-invalid", "true");
      el.text.focus();
      return;
    }
    clearError();
    const name = el.name.value.trim();
    const entry = { cid: newId(), text: text, name: name || null, at: new Date().toISOString(), afterId: lastId };
    outbox.push(entry);
    save();
    showOwn(entry);
    el.text.value = "";
    pump();
  }
  function clearError() {
    if (el.error.hidden) return;
    el.error.hidden = true;
    el.error.textContent = "";
    el.text.removeAttribute("aria-invalid");
  }

  // ---- receiving: websocket with backoff, resuming after the last id ----
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
    if (ws) {
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
      try { ws.close(); } catch (_) { /* already closed */ }
    }
  }
  function armWatchdog(ws) {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      if (socket === ws) { closeSocket(); scheduleReconnect(); }
    }, WATCHDOG_MS);
  }
  function connect() {
    if (!token || socket) return;
    clearTimeout(wsTimer);
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const url = scheme + window.location.host + base + "/ws?token=" + encodeURIComponent(token) +
      "&after_id=" + lastId;
    let ws;
    try { ws = new WebSocket(url); } catch (_) { scheduleReconnect(); return; }
    socket = ws;
    ws.onopen = () => {
      wsAttempt = 0;
      armWatchdog(ws);
      if (reconnecting) {
        reconnecting = false;
        setStatus("З'єднання відновлено.", 4000);
      }
    };
    ws.onmessage = (event) => {
      armWatchdog(ws);
      let data = null;
      try { data = JSON.parse(event.data); } catch (_) { return; }
      if (data && data.type === "message") addServer(data.message);
    };
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = null;
      clearTimeout(watchdog);
      scheduleReconnect();
    };
  }
  function scheduleReconnect() {
    if (!token) return;
    reconnecting = true;
    setStatus(navigator.onLine === false
      ? "Немає підключення до мережі. З'єднання відновиться автоматично…"
      : "З'єднання відновлюється…");
    clearTimeout(wsTimer);
    const attempt = wsAttempt++;
    wsTimer = setTimeout(async () => {
      if (attempt >= 2) {
        // Repeated failures: check the session and fetch what we missed over plain HTTP meanwhile.
        try { await fetchHistory(); } catch (_) { /* offline: the websocket retry decides */ }
      }
      connect();
    }, backoff(attempt, 500, 15000));
  }
  function reconnectNow() {
    wsAttempt = 0;
    if (!socket && token) { clearTimeout(wsTimer); connect(); }
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
  window.addEventListener("online", () => { reconnectNow(); sendAttempt = 0; pump(); });
  window.addEventListener("offline", () => {
    // After a network change the old connection is often dead without knowing it: start afresh.
    if (token) { closeSocket(); scheduleReconnect(); }
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") reconnectNow();
  });

  window.civdeskChat = {
    get socket() { return socket; },
    get lastId() { return lastId; },
    get pending() { return outbox.length; },
    reconnect: reconnectNow,
  };

  async function start() {
    load();
    el.form.hidden = false;
    outbox.forEach(showOwn); // written before a reload and not yet accepted
    if (token) {
      try {
        await fetchHistory();
      } catch (_) {
        reconnecting = true; // the websocket replays the history once it connects
        setStatus("Не вдалося завантажити листування. Повторюємо спробу…");
      }
      scrollToNewest();
      connect();
    }
    if (outbox.length) pump();
  }
  start();
})();
