"use strict";
// The Viber sandbox page: plays one citizen against a bot account through /sandbox/api/viber.
(() => {
  const api = "/sandbox/api/viber";
  const $ = (id) => document.getElementById(id);
  const state = { token: "", after: 0, timer: null };

  function randomUserId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return btoa(String.fromCharCode(...bytes));
  }

  function say(text) { $("status").textContent = text; }

  async function call(path, body) {
    const reply = await fetch(api + path, body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const data = await reply.json().catch(() => ({}));
    if (!reply.ok) throw new Error(typeof data.detail === "string" ? data.detail : "Помилка " + reply.status);
    return data;
  }

  function who() {
    return { user_id: $("user-id").value.trim(), name: $("name").value.trim() || undefined };
  }

  async function act(path, extra) {
    try {
      await call(`/${encodeURIComponent(state.token)}/citizen/${path}`, { ...who(), ...extra });
      say("");
      await refresh();
    } catch (error) { say(error.message); }
  }

  function fileName(url) {
    try { return decodeURIComponent(new URL(url).pathname.split("/").pop()) || url; } catch { return url; }
  }

  function plain(html) { return new DOMParser().parseFromString(html, "text/html").body.textContent || ""; }

  function describe(entry) {
    switch (entry.kind) {
      case "opened": return "Ви відкрили чат";
      case "subscribed": return "Ви підписалися";
      case "unsubscribed": return "Ви відписалися";
      case "seen": return "Прочитано";
      case "press": return null;
      case "location": return `📍 ${entry.location.lat}, ${entry.location.lon}`;
      case "contact": return `👤 ${entry.contact.name}, ${entry.contact.phone_number}`;
      case "picture": case "video": case "file": return `📎 ${entry.file_name || fileName(entry.media)}` + (entry.text ? `\n${entry.text}` : "");
      default: return entry.text || entry.media || entry.kind;
    }
  }

  function render(entries) {
    for (const entry of entries) {
      const text = describe(entry);
      if (text === null) continue;
      const bubble = document.createElement("p");
      const note = !["text", "picture", "video", "file", "location", "contact", "url", "sticker"].includes(entry.kind);
      bubble.className = "bubble " + (note ? "note" : entry.from);
      bubble.textContent = text;
      $("transcript").append(bubble);
      $("transcript").scrollTop = $("transcript").scrollHeight;
    }
    $("empty").hidden = $("transcript").childElementCount > 0;
  }

  function renderKeyboard(keyboard) {
    const box = $("keyboard");
    box.replaceChildren();
    for (const button of (keyboard && keyboard.Buttons) || []) {
      if ((button.ActionType || "reply") !== "reply") continue;
      const element = document.createElement("button");
      element.type = "button";
      element.textContent = plain(button.Text || button.ActionBody);
      element.style.gridColumn = `span ${button.Columns || 6}`;
      element.addEventListener("click", () => act("press", { button: button.ActionBody }));
      box.append(element);
    }
  }

  async function refresh() {
    const user = who().user_id;
    if (!state.token || !user) return;
    try {
      const query = new URLSearchParams({ user_id: user, after: String(state.after) });
      const history = await call(`/${encodeURIComponent(state.token)}/history?${query}`);
      render(history.entries);
      if (history.entries.length) state.after = history.entries[history.entries.length - 1].seq;
      renderKeyboard(history.keyboard);
      $("chat-subtitle").textContent = history.subscribed ? "Ви підписані на бота" : "Ви не підписані";
    } catch (error) { say(error.message); }
  }

  function restart() {
    state.after = 0;
    $("transcript").replaceChildren();
    localStorage.setItem("viber-user-id", $("user-id").value.trim());
    localStorage.setItem("viber-name", $("name").value.trim());
    refresh();
  }

  async function init() {
    $("user-id").value = localStorage.getItem("viber-user-id") || randomUserId();
    $("name").value = localStorage.getItem("viber-name") || "Олена";
    const { accounts } = await call("/accounts");
    for (const account of accounts) {
      const option = document.createElement("option");
      option.value = account.token;
      option.textContent = account.name;
      $("account").append(option);
    }
    state.token = $("account").value;
    $("account").addEventListener("change", () => { state.token = $("account").value; restart(); });
    $("user-id").addEventListener("change", restart);
    $("name").addEventListener("change", restart);
    $("new-user").addEventListener("click", () => { $("user-id").value = randomUserId(); restart(); });
    $("open").addEventListener("click", () => act("open", {}));
    $("subscribe").addEventListener("click", () => act("subscribe", {}));
    $("unsubscribe").addEventListener("click", () => act("unsubscribe", {}));
    $("read").addEventListener("click", () => act("read", {}));
    $("location").addEventListener("click", () => act("location", { lat: 50.4501, lon: 30.5234 }));
    $("file").addEventListener("change", sendFile);
    $("compose").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = $("compose-text").value;
      if (!text.trim()) return;
      $("compose-text").value = "";
      act("message", { text });
    });
    $("compose-text").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("compose").requestSubmit(); }
    });
    restart();
    state.timer = setInterval(refresh, 1000);
  }

  function sendFile() {
    const file = $("file").files[0];
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => {
      const data = String(reader.result).split(",", 2)[1] || "";
      const mime = file.type || "application/octet-stream";
      const kind = ["image/jpeg", "image/png", "image/gif"].includes(mime) ? "picture" : mime === "video/mp4" ? "video" : "file";
      act("media", { kind, file_name: file.name, mime_type: mime, data_base64: data });
      $("file").value = "";
    };
    reader.readAsDataURL(file);
  }

  document.addEventListener("DOMContentLoaded", () => init().catch((error) => say(error.message)));
})();
