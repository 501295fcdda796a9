"use strict";
// The citizen's side of the WhatsApp emulator: talks only to /sandbox/api/whatsapp on this server.
const api = "/sandbox/api/whatsapp";
const $ = (id) => document.getElementById(id);
const STATUS = { sent: "надіслано", delivered: "доставлено", read: "прочитано", failed: "не доставлено" };
let lastSeq = 0;

function say(text) { $("status").textContent = text; }

async function call(method, path, body) {
  const reply = await fetch(api + path, {
    method, headers: body ? { "Content-Type": "application/json" } : {}, body: body ? JSON.stringify(body) : undefined,
  });
  const data = await reply.json().catch(() => ({}));
  if (!reply.ok) { throw new Error(typeof data.detail === "string" ? data.detail : "помилка " + reply.status); }
  return data;
}

function userPath() { return "/" + $("number").value + "/users/" + encodeURIComponent($("wa-id").value.trim()); }

function choicesOf(payload) {
  const inter = (payload && payload.interactive) || {};
  const action = inter.action || {};
  if (inter.type === "button") { return (action.buttons || []).map((b) => b.reply); }
  if (inter.type === "list") { return (action.sections || []).flatMap((s) => s.rows || []); }
  return [];
}

function render(entry) {
  const item = document.createElement("li");
  item.className = entry.from;
  item.dataset.wamid = entry.wamid || "";
  const text = document.createElement("span");
  text.textContent = entry.text || "(" + entry.kind + ")";
  item.append(text);
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = entry.from === "business" ? "Установа · " + (STATUS[entry.status] || entry.status || "") : "Ви";
  item.append(meta);
  const choices = entry.from === "business" ? choicesOf(entry.payload) : [];
  if (choices.length) {
    const box = document.createElement("div");
    box.className = "choices";
    for (const choice of choices) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = choice.title;
      button.addEventListener("click", () => press(entry.wamid, choice.id));
      box.append(button);
    }
    item.append(box);
  }
  return item;
}

async function refresh() {
  if (!$("number").value) { return; }
  try {
    const history = await call("GET", userPath() + "/history");
    const log = $("log");
    log.replaceChildren(...history.entries.map(render));
    for (const entry of history.entries) {
      if (entry.from === "business" && entry.status === "delivered" && entry.seq > lastSeq) {
        await call("POST", userPath() + "/read", { message_id: entry.wamid }).catch(() => null);
      }
    }
    lastSeq = history.last_seq;
  } catch (error) { say(error.message); }
}

async function press(wamid, replyId) {
  try { await call("POST", userPath() + "/press", { message_id: wamid, reply_id: replyId }); await refresh(); }
  catch (error) { say(error.message); }
}

async function start() {
  const { numbers } = await call("GET", "/numbers");
  for (const number of numbers) {
    const option = document.createElement("option");
    option.value = number.phone_number_id;
    option.textContent = number.verified_name + " (" + number.display_phone_number + ")";
    $("number").append(option);
  }
  if (!numbers.length) { say("Немає жодного бізнес-номера: додайте його через API пісочниці."); }
  $("compose").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("text").value.trim();
    if (!text) { return; }
    try {
      await call("POST", userPath() + "/messages", { text, name: $("name").value.trim() || null });
      $("text").value = "";
      say("");
      await refresh();
    } catch (error) { say(error.message); }
  });
  for (const [id, stop] of [["stop", true], ["resume", false]]) {
    $(id).addEventListener("click", async () => {
      try { await call("POST", userPath() + "/marketing", { stop }); say(stop ? "Рекламу зупинено." : "Рекламу відновлено."); }
      catch (error) { say(error.message); }
    });
  }
  $("number").addEventListener("change", refresh);
  $("wa-id").addEventListener("change", refresh);
  await refresh();
  setInterval(refresh, 1500);
}

start().catch((error) => say(error.message));
