"use strict";
// The citizen's side of the Messenger sandbox: talks only to /sandbox/api/messenger on this server.
(() => {
  const api = "/sandbox/api/messenger";
  const $ = (id) => document.getElementById(id);
  const state = { pageId: "", psid: "", blocked: false, lastSeen: "" };

  function randomPsid() {
    const digits = Array.from(crypto.getRandomValues(new Uint8Array(15)), (b) => b % 10).join("");
    return "1" + digits;
  }

  function say(text) { $("status").textContent = text; }

  async function call(path, options = {}) {
    const reply = await fetch(api + path, options);
    const body = await reply.json().catch(() => ({}));
    if (!reply.ok) {
      throw new Error(typeof body.detail === "string" ? body.detail : "Помилка " + reply.status);
    }
    return body;
  }

  const post = (path, body) => call(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}),
  });
  const citizenPath = () => `/pages/${encodeURIComponent(state.pageId)}/citizens/${encodeURIComponent(state.psid)}`;

  async function act(label, action) {
    try {
      await action();
      say(label);
      await refresh();
    } catch (error) {
      say(error.message);
    }
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function pressButton(title, payload) {
    const button = element("button", "", title);
    button.type = "button";
    button.addEventListener("click", () => act("Натиснуто: " + title, () => post(citizenPath() + "/press", { payload })));
    return button;
  }

  function attachment(entry, bubble) {
    if (!entry.url) return;
    if (entry.attachment_type === "image") {
      const image = element("img");
      image.src = entry.url;
      image.alt = entry.name || "Зображення";
      bubble.append(image);
    } else {
      const link = element("a", "", entry.name || "Файл (" + entry.attachment_type + ")");
      link.href = entry.url;
      link.target = "_blank";
      link.rel = "noopener";
      bubble.append(link);
    }
  }

  function render(history) {
    const log = $("log");
    log.replaceChildren();
    let quick = [];
    for (const entry of history.entries) {
      const item = element("li", entry.from);
      if (entry.kind === "blocked" || entry.kind === "unblocked" || entry.kind === "started") {
        item.className = "note";
        item.textContent = { blocked: "Ви заблокували сторінку", unblocked: "Ви розблокували сторінку",
                             started: "Ви натиснули «Почати»" }[entry.kind];
        log.append(item);
        continue;
      }
      const bubble = element("div", "bubble", entry.text || "");
      attachment(entry, bubble);
      item.append(bubble);
      if (entry.cards) {
        const cards = element("div", "cards");
        for (const card of entry.cards) {
          const section = element("section");
          section.append(element("strong", "", card.title));
          for (const button of card.buttons) {
            if (button.payload) section.append(pressButton(button.title, button.payload));
          }
          cards.append(section);
        }
        item.append(cards);
      }
      if (entry.from === "page") {
        item.append(element("span", "meta", entry.read ? "Прочитано" : "Доставлено"));
        quick = entry.quick_replies || [];
      } else {
        quick = [];
      }
      log.append(item);
    }
    const box = $("quick");
    box.replaceChildren(...quick.map((q) => pressButton(q.title, q.payload)));
    state.blocked = history.blocked;
    $("block").textContent = history.blocked ? "Розблокувати сторінку" : "Заблокувати сторінку";
    const seen = JSON.stringify(history.entries.map((e) => [e.seq, e.read]));
    if (seen !== state.lastSeen) {
      state.lastSeen = seen;
      log.scrollTop = log.scrollHeight;
    }
  }

  async function refresh() {
    if (!state.pageId || !state.psid) return;
    try {
      render(await call(citizenPath() + "/history"));
    } catch (error) {
      say(error.message);
    }
  }

  function remember() {
    state.pageId = $("page").value;
    state.psid = $("psid").value.trim();
    localStorage.setItem("messenger-sandbox", JSON.stringify({ psid: state.psid, name: $("name").value }));
    state.lastSeen = "";
    refresh();
  }

  async function init() {
    const saved = JSON.parse(localStorage.getItem("messenger-sandbox") || "{}");
    $("psid").value = saved.psid || randomPsid();
    $("name").value = saved.name || "Олена";
    const { pages } = await call("/pages");
    for (const page of pages) {
      const option = element("option", "", page.name);
      option.value = page.page_id;
      $("page").append(option);
    }
    if (!pages.length) say("Сторінок ще немає: додайте їх через POST " + api + "/pages.");
    remember();
    for (const id of ["page", "psid", "name"]) $(id).addEventListener("change", remember);
    $("new-citizen").addEventListener("click", () => { $("psid").value = randomPsid(); remember(); });
    $("compose").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = $("text").value.trim();
      if (!text) return;
      act("Надіслано", async () => {
        await post(citizenPath() + "/messages", { text, name: $("name").value.trim() || undefined });
        $("text").value = "";
      });
    });
    $("file").addEventListener("change", () => {
      const file = $("file").files[0];
      if (!file) return;
      const form = new FormData();
      form.append("file", file);
      form.append("public_url", location.origin);
      act("Файл надіслано", () => call(citizenPath() + "/files", { method: "POST", body: form }));
      $("file").value = "";
    });
    $("start").addEventListener("click", () => act("Розмову розпочато",
      () => post(citizenPath() + "/start", { name: $("name").value.trim() || undefined })));
    $("read").addEventListener("click", () => act("Прочитано", () => post(citizenPath() + "/read")));
    $("block").addEventListener("click", () => act(state.blocked ? "Розблоковано" : "Заблоковано",
      () => post(citizenPath() + (state.blocked ? "/unblock" : "/block"))));
    setInterval(refresh, 1500);
  }

  init().catch((error) => say(error.message));
})();
