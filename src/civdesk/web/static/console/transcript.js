// One message in the log: the citizen's, a reply with its delivery status, or an internal note.

import { h } from "./dom.js";
import { t } from "./i18n.js";
import { fileSize, timeElement } from "./format.js";

const DELIVERY = ["queued", "sent", "delivered", "read", "failed"];

export function messageElement(message, { state, conversation, onDownload }) {
  const kind = message.direction === "in" ? "in" : message.direction === "note" ? "note" : "out";
  return h("article", {
    class: `msg msg--${kind}`,
    "data-message-id": message.id,
    "aria-label": null,
  },
  h("p", { class: "msg__head" },
    h("span", { class: "msg__who" }, author(message, kind, state, conversation)),
    kind === "note" ? h("span", { class: "msg__tag" }, `${t("msg.note")} · ${t("msg.note.hint")}`) : null,
    timeElement(message.created_at, "msg__time")),
  message.text ? h("p", { class: "msg__text" }, message.text) : null,
  message.template ? h("p", { class: "msg__template" }, `[${message.template}]`) : null,
  files(message, onDownload),
  buttons(message),
  kind === "out" ? delivery(message) : null);
}

function author(message, kind, state, conversation) {
  if (kind === "in") return conversation?.contact_name || "";
  if (message.author_agent_id === state.me.id) return t("msg.you");
  if (message.author_agent_id) return state.agentName(message.author_agent_id);
  return t("msg.agent");
}

const RICH = ["location", "contact"];

function files(message, onDownload) {
  const items = message.attachments || [];
  if (!items.length) return null;
  // The download URL names a file by its place in the list.
  return h("ul", { class: "msg__files" }, items.map((file, index) => {
    if (RICH.includes(file.kind)) return h("li", { class: "file" }, rich(file));
    const name = file.name || `${file.kind || "file"}-${index + 1}`;
    const size = fileSize(file.size);
    const ready = Boolean(file.stored_key) || message.direction !== "in";
    return h("li", { class: "file" },
      h("span", { class: "file__icon", "aria-hidden": "true" }, iconFor(file.mime_type)),
      h("span", { class: "file__name" }, name),
      size ? h("span", { class: "file__size muted" }, size) : null,
      ready
        ? h("button", {
          type: "button",
          class: "button button--quiet file__download",
          onclick: () => onDownload(message, index, name),
        }, t("file.download"), h("span", { class: "visually-hidden" }, ` ${name}`))
        : h("span", { class: "file__pending muted" }, t("file.pending")));
  }));
}

// A place (its name, address and a map link) or a contact card (a name and a number to call), sent by the
// agent or shared by the citizen.
function rich(item) {
  if (item.kind === "location") {
    const [lat, lon] = [Number(item.latitude).toFixed(6), Number(item.longitude).toFixed(6)];
    // OpenStreetMap, as the web chat and Messenger get it: no account, no tracking, any browser or map app.
    const url = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=17/${lat}/${lon}`;
    return [h("span", { class: "file__icon", "aria-hidden": "true" }, "MAP"),
      h("span", { class: "file__name" }, item.title || t("msg.location")),
      item.address ? h("span", { class: "file__detail" }, item.address) : null,
      h("a", { class: "file__link", href: url, target: "_blank", rel: "noopener noreferrer" },
        `${lat}, ${lon}`, h("span", { class: "file__hint" }, ` (${t("msg.map")})`))];
  }
  const name = [item.first_name, item.last_name].filter(Boolean).join(" ");
  return [h("span", { class: "file__icon", "aria-hidden": "true" }, "TEL"),
    h("span", { class: "file__name" }, `${t("msg.contact")}: ${name}`),
    h("a", { class: "file__link", href: `tel:${String(item.phone_number).replace(/[^\d+]/g, "")}` },
      item.phone_number)];
}

function iconFor(mime = "") {
  if (mime.startsWith("image/")) return "IMG";
  if (mime === "application/pdf") return "PDF";
  if (mime.startsWith("audio/")) return "AUD";
  if (mime.startsWith("video/")) return "VID";
  return "DOC";
}

function buttons(message) {
  if (!message.buttons?.length) return null;
  return h("ul", { class: "msg__buttons" }, message.buttons.map((b) => h("li", { class: "chip" }, b.title)));
}

function delivery(message) {
  const status = DELIVERY.includes(message.delivery_status) ? message.delivery_status : "queued";
  return h("p", { class: `delivery delivery--${status}`, "data-status": status },
    h("span", { class: "visually-hidden" }, `${t("delivery.label")}: `),
    h("span", { class: "delivery__mark", "aria-hidden": "true" }, mark(status)),
    h("span", { class: "delivery__text" }, t(`delivery.${status}`),
      status === "failed" && message.delivery_error
        // Reasons come from the platforms and the worker, in English.
        ? h("span", { class: "delivery__reason", lang: "en" }, `: ${message.delivery_error}`) : null));
}

function mark(status) {
  return { queued: "◷", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "!" }[status];
}
