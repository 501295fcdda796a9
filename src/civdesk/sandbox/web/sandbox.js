// The citizen side of the Telegram sandbox: talks only to the sandbox's own control API.
"use strict";

(() => {
  const API = "sandbox/api/telegram";
  const POLL_MS = 700;
  const $ = (id) => document.getElementById(id);
  const els = {
    bot: $("bot"), name: $("first-name"), chatId: $("chat-id"), newChat: $("new-chat"),
    log: $("transcript"), empty: $("empty"), compose: $("compose"), text: $("compose-text"),
    send: $("send"), block: $("block"), status: $("status"), subtitle: $("chat-subtitle"),
    attach: $("attach"), file: $("attach-file"), attachSend: $("attach-send"),
  };
  const state = {
    bots: [], after: 0, blocked: false, timer: 0, generation: 0,
    polling: false, pollAgain: false, pollFailed: false, buttons: new Map(),
  };

  // localStorage may be unavailable (private mode, file policies): the page still works without it.
  const store = {
    get(key, fallback) {
      try { return localStorage.getItem(`civdesk.sandbox.${key}`) ?? fallback; } catch { return fallback; }
    },
    set(key, value) {
      try { localStorage.setItem(`civdesk.sandbox.${key}`, value); } catch { /* not persisted */ }
    },
  };

  const randomChatId = () => String(100000000 + Math.floor(Math.random() * 900000000));
  const validChatId = () => /^[1-9][0-9]{0,14}$/.test(els.chatId.value.trim());
  const chatPath = () => `${encodeURIComponent(els.bot.value)}/chats/${els.chatId.value.trim()}`;

  function say(message, isError = false) {
    els.status.textContent = message;
    els.status.classList.toggle("error", isError);
  }

  async function call(method, path, body) {
    const init = { method, headers: {} };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(`${API}/${path}`, init);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      // The control API answers in English for developers; the citizen sees Ukrainian.
      const detail = Array.isArray(data.detail) ? data.detail.map((d) => d.msg).join("; ") : data.detail;
      const known = {
        404: "Спершу напишіть боту з цього чату.",
        409: "Ви заблокували бота — спершу розблокуйте його.",
        413: "Файл завеликий для пісочниці.",
        422: "Перевірте введені дані.",
      }[response.status];
      throw new Error(known ?? `Помилка ${response.status}${detail ? `: ${detail}` : ""}`);
    }
    return data;
  }

  function clock(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString("uk-UA", { hour: "2-digit", minute: "2-digit" });
  }

  function keyboard(entry) {
    const markup = entry.reply_markup || {};
    const rows = markup.inline_keyboard || markup.keyboard;
    if (!Array.isArray(rows)) return null;
    const box = document.createElement("div");
    box.className = "keyboard";
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", "Кнопки бота");
    for (const row of rows) {
      const line = document.createElement("div");
      line.className = "keyboard-row";
      for (const button of row) {
        const label = typeof button === "string" ? button : String(button.text ?? "");
        let node;
        if (button.url) {
          node = document.createElement("a");
          node.href = button.url;
          node.target = "_blank";
          node.rel = "noopener noreferrer";
        } else {
          node = document.createElement("button");
          node.type = "button";
          if (button.callback_data) {
            state.buttons.set(`${entry.message_id}:${button.callback_data}`, label);
            node.addEventListener("click", () => press(entry.message_id, button.callback_data));
          } else {
            // A reply-keyboard button just sends its text as the citizen's message.
            node.addEventListener("click", () => send(label));
          }
        }
        node.className = "key";
        node.textContent = label;
        line.append(node);
      }
      box.append(line);
    }
    return box;
  }

  function fileBlock(file) {
    const box = document.createElement("div");
    box.className = "file";
    const url = `${API}/${encodeURIComponent(els.bot.value)}/files/${encodeURIComponent(file.file_id)}`;
    if (file.kind === "photo") {
      const img = document.createElement("img");
      img.src = url;
      img.alt = "Фото";
      box.append(img);
    }
    const link = document.createElement("a");
    link.href = url;
    link.download = file.name || "file";
    const kb = Math.max(1, Math.round((file.size || 0) / 1024));
    link.textContent = `📎 ${file.name || "файл"} (${kb} КБ)`;
    box.append(link);
    return box;
  }

  function render(entry) {
    const item = document.createElement("div");
    const text = document.createElement("p");
    text.className = "text";
    if (entry.kind === "message") {
      item.className = entry.from === "bot" ? "bubble incoming" : "bubble outgoing";
      const who = document.createElement("span");
      who.className = "visually-hidden";
      who.textContent = entry.from === "bot" ? "Бот: " : "Ви: ";
      text.append(who, entry.text);
      const time = document.createElement("time");
      time.textContent = clock(entry.time);
      if (entry.file) item.append(fileBlock(entry.file));
      if (entry.text || !entry.file) item.append(text);
      const keys = entry.from === "bot" ? keyboard(entry) : null;
      if (keys) item.append(keys);
      item.append(time);
    } else {
      item.className = "system";
      const pressed = state.buttons.get(`${entry.message_id}:${entry.callback_data}`) ?? entry.callback_data;
      text.textContent = {
        press: `Ви натиснули «${pressed}»`,
        blocked: "Ви заблокували бота",
        unblocked: "Ви розблокували бота",
        notice: `Бот: ${entry.text}`,
      }[entry.kind] ?? entry.kind;
      item.append(text);
    }
    els.log.append(item);
  }

  function showBlocked(blocked) {
    state.blocked = blocked;
    els.block.textContent = blocked ? "Розблокувати бота" : "Заблокувати бота";
    els.block.classList.toggle("active", blocked);
    els.text.disabled = blocked;
    els.send.disabled = blocked;
    els.file.disabled = blocked;
    els.attachSend.disabled = blocked;
    els.text.placeholder = blocked ? "Бота заблоковано" : "Повідомлення";
  }

  // One request at a time: overlapping polls with the same cursor would render entries twice.
  async function poll() {
    if (state.polling) { state.pollAgain = true; return; }
    state.polling = true;
    clearTimeout(state.timer);
    const generation = state.generation;
    try {
      if (els.bot.value && validChatId()) {
        const history = await call("GET", `${chatPath()}/history?after=${state.after}`);
        if (state.pollFailed) { state.pollFailed = false; say(""); }
        if (generation === state.generation) {
          const log = els.log;
          const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
          history.entries.forEach(render);
          state.after = history.last_seq;
          els.empty.hidden = log.children.length > 0;
          if (history.blocked !== state.blocked) showBlocked(history.blocked);
          if (atBottom && history.entries.length) log.scrollTop = log.scrollHeight;
        }
      }
    } catch (error) {
      state.pollFailed = true;
      say(`Не вдалося оновити чат: ${error.message}`, true);
    } finally {
      state.polling = false;
    }
    if (state.pollAgain) {
      state.pollAgain = false;
      poll();
    } else {
      state.timer = setTimeout(poll, POLL_MS);
    }
  }

  function restart() {
    state.generation += 1;
    state.after = 0;
    state.buttons.clear();
    els.log.replaceChildren();
    els.empty.hidden = false;
    showBlocked(false);
    const bot = state.bots.find((b) => b.token === els.bot.value);
    els.subtitle.textContent = bot ? `@${bot.username} · чат ${els.chatId.value.trim()}` : "";
    say("");
    poll();
  }

  async function act(promise, done) {
    try {
      await promise;
      say(done);
    } catch (error) {
      say(error.message, true);
    }
    poll();
  }

  function ready() {
    if (!els.bot.value) { say("Немає жодного бота в пісочниці.", true); return false; }
    if (!validChatId()) {
      say("Номер чату — ціле додатне число до 15 цифр.", true);
      els.chatId.focus();
      return false;
    }
    return true;
  }

  async function send(text) {
    if (!ready() || !text.trim()) return;
    const name = els.name.value.trim() || "Олена";
    await act(call("POST", `${chatPath()}/messages`, { text, first_name: name }), "");
  }

  function press(messageId, data) {
    if (ready()) act(call("POST", `${chatPath()}/press`, { callback_data: data, message_id: messageId }), "");
  }

  els.compose.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = els.text.value;
    if (!text.trim()) { els.text.focus(); return; }
    els.send.disabled = true;
    await send(text);
    els.send.disabled = state.blocked;
    if (!els.status.classList.contains("error")) els.text.value = "";
    els.text.focus();
  });
  els.attach.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = els.file.files[0];
    if (!file) { say("Оберіть файл.", true); els.file.focus(); return; }
    if (!ready()) return;
    const form = new FormData();
    form.append("file", file, file.name);
    if (els.text.value.trim()) form.append("caption", els.text.value.trim());
    form.append("first_name", els.name.value.trim() || "Олена");
    els.attachSend.disabled = true;
    await act(call("POST", `${chatPath()}/files`, form), "Файл надіслано.");
    els.attachSend.disabled = state.blocked;
    if (!els.status.classList.contains("error")) { els.file.value = ""; els.text.value = ""; }
  });
  els.text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      els.compose.requestSubmit();
    }
  });
  els.block.addEventListener("click", () => {
    if (!ready()) return;
    const action = state.blocked ? "unblock" : "block";
    act(call("POST", `${chatPath()}/${action}`), state.blocked ? "Бота розблоковано." : "Бота заблоковано.");
  });
  els.bot.addEventListener("change", () => { store.set("bot", els.bot.value); restart(); });
  els.name.addEventListener("change", () => store.set("name", els.name.value.trim()));
  els.chatId.addEventListener("change", () => {
    if (validChatId()) { store.set("chat", els.chatId.value.trim()); restart(); } else { ready(); }
  });
  els.newChat.addEventListener("click", () => {
    els.chatId.value = randomChatId();
    store.set("chat", els.chatId.value);
    restart();
    els.text.focus();
  });

  async function init() {
    els.name.value = store.get("name", "Олена");
    els.chatId.value = store.get("chat", "") || randomChatId();
    store.set("chat", els.chatId.value);
    try {
      state.bots = (await call("GET", "bots")).bots;
    } catch (error) {
      say(`Не вдалося отримати список ботів: ${error.message}`, true);
    }
    for (const bot of state.bots) {
      els.bot.append(new Option(`${bot.first_name} (@${bot.username})`, bot.token));
    }
    if (!state.bots.length) els.bot.append(new Option("Ботів немає", ""));
    const remembered = store.get("bot", "");
    if (state.bots.some((b) => b.token === remembered)) els.bot.value = remembered;
    restart();
  }

  init();
})();
