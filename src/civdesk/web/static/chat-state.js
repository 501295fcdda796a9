/* civdesk citizen web chat: beside the transcript. The agency's working hours, and when it is closed,
 * when it opens; while the citizen waits in the queue, their place and an expected wait. When nobody
 * is online the chat says so, and that the question is kept and will be answered; when the agency
 * resolves the conversation it asks for a 1–5 rating. The state comes once over HTTP on load and then with every websocket update (chat.js).
 */
(function () {
  "use strict";

  const root = document.getElementById("chat");
  const chat = window.civdeskChat;
  if (!root || !chat || !window.civdeskChatUI) return;
  const base = "/chat/" + encodeURIComponent(root.dataset.agencySlug || "");
  const byId = (id) => document.getElementById(id);
  const el = {
    availability: byId("availability"), hours: byId("hours"), queue: byId("queue"), form: byId("rating"), error: byId("rating-error"),
    comment: byId("rating-comment"), send: byId("rating-send"), status: byId("status"),
  };
  let ratedNow = false; // the citizen has just rated: thank them once
  let queueTimer = null; // while waiting in the queue, the place is asked for again now and then
  const QUEUE_REFRESH_MS = 30000;
  const ui = window.civdeskChatUI;
  const lang = ui.lang;
  const say = ui.t; // the strings: static/chat-i18n/<lang>.json, like the rest of the page

  function showHours(state) {
    if (!state.hours) return;
    const text = [state.always_open ? say("hours.always") : say("hours", { hours: state.hours, zone: state.time_zone })];
    if (state.open_now === false) {
      text.unshift(state.opens_at_text ? say("hours.closed", { when: state.opens_at_text }) : say("hours.closed_never"));
    }
    el.hours.textContent = text.join(" ");
    el.hours.hidden = false;
    el.hours.classList.toggle("hours--closed", state.open_now === false);
  }

  function showQueue(state) {
    const position = state.queue_position;
    const waiting = Number.isInteger(position);
    let text = "";
    if (waiting && state.open_now === false) text = say("queue.closed", { position: position });
    else if (waiting && Number.isInteger(state.expected_wait_minutes)) {
      text = say("queue", { position: position, minutes: state.expected_wait_minutes });
    } else if (waiting) text = say("queue.nobody", { position: position });
    if (el.queue.textContent !== text) el.queue.textContent = text;
    el.queue.hidden = !waiting;
    clearTimeout(queueTimer);
    if (waiting) queueTimer = setTimeout(refresh, QUEUE_REFRESH_MS);
  }

  function apply(state) {
    if (!state) return;
    showHours(state);
    showQueue(state);
    // Closed: the hours say when someone answers, so the "nobody online" notice would only repeat it.
    el.availability.hidden = Boolean(state.agents_online) || state.open_now === false;
    const due = Boolean(state.rating_due);
    if (due && el.form.hidden) {
      el.form.hidden = false;
      el.form.scrollIntoView({ block: "nearest" });
    } else if (!due) {
      el.form.hidden = true;
    }
  }

  async function refresh() {
    const headers = chat.token ? { Authorization: "Bearer " + chat.token } : {};
    try {
      const res = await fetch(base + "/state?lang=" + lang, { headers: headers });
      if (res.ok) apply(await res.json());
    } catch (_) { /* the websocket brings the state once it connects */ }
  }

  function showError(text) {
    el.error.textContent = text || "";
    el.error.hidden = !text;
  }

  el.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = el.form.querySelector("input[name=score]:checked");
    if (!chosen) {
      showError(say("rating.error.none"));
      el.form.querySelector("input[name=score]").focus();
      return;
    }
    showError("");
    el.send.disabled = true;
    try {
      const res = await fetch(base + "/rating?lang=" + lang, {
        method: "POST",
        headers: { Authorization: "Bearer " + chat.token, "Content-Type": "application/json", "Accept-Language": lang },
        body: JSON.stringify({ score: Number(chosen.value), comment: el.comment.value.trim() || null }),
      });
      if (!res.ok) {
        const body = await res.json().catch(() => null);
        showError((body && body.error && body.error.message) || say("rating.error.failed"));
        return;
      }
      ratedNow = true;
      apply(await res.json());
      el.status.textContent = say("rating.thanks");
      el.status.classList.add("status--active");
      byId("message").focus(); // the form is gone: focus goes where the citizen can write again
    } catch (_) {
      showError(say("rating.error.network"));
    } finally {
      el.send.disabled = false;
    }
  });

  root.addEventListener("civdesk:state", (event) => apply(event.detail));
  // Inside the widget on an agency's site: Esc asks the host page to close the panel.
  if (window.parent !== window) {
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !event.defaultPrevented) window.parent.postMessage({ civdesk: "close" }, "*");
    });
  }
  window.civdeskChatState = { refresh: refresh, get rated() { return ratedNow; } };
  refresh();
})();
