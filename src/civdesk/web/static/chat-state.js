/* civdesk citizen web chat: beside the transcript. When nobody is online the chat says so, and that
 * the question is kept and will be answered; when the agency resolves the conversation it asks for a
 * 1–5 rating. The state comes once over HTTP on load and then with every websocket update (chat.js).
 */
(function () {
  "use strict";

  const root = document.getElementById("chat");
  const chat = window.civdeskChat;
  if (!root || !chat) return;
  const base = "/chat/" + encodeURIComponent(root.dataset.agencySlug || "");
  const byId = (id) => document.getElementById(id);
  const el = {
    availability: byId("availability"), form: byId("rating"), error: byId("rating-error"),
    comment: byId("rating-comment"), send: byId("rating-send"), status: byId("status"),
  };
  let ratedNow = false; // the citizen has just rated: thank them once

  function apply(state) {
    if (!state) return;
    el.availability.hidden = Boolean(state.agents_online);
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
      const res = await fetch(base + "/state", { headers: headers });
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
      showError("Оберіть оцінку від 1 до 5.");
      el.form.querySelector("input[name=score]").focus();
      return;
    }
    showError("");
    el.send.disabled = true;
    try {
      const res = await fetch(base + "/rating", {
        method: "POST",
        headers: { Authorization: "Bearer " + chat.token, "Content-Type": "application/json" },
        body: JSON.stringify({ score: Number(chosen.value), comment: el.comment.value.trim() || null }),
      });
      if (!res.ok) {
        const body = await res.json().catch(() => null);
        showError((body && body.error && body.error.message) || "Не вдалося надіслати оцінку. Спробуйте ще раз.");
        return;
      }
      ratedNow = true;
      apply(await res.json());
      el.status.textContent = "Дякуємо за оцінку! Вона допомагає відомству працювати краще.";
      el.status.classList.add("status--active");
      byId("message").focus(); // the form is gone: focus goes where the citizen can write again
    } catch (_) {
      showError("Немає зв'язку із сервером. Спробуйте ще раз.");
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
