// The citizen's history beside the conversation: every conversation of the same person on any
// channel (contacts joined by phone number or by an agent). Opening one shows its transcript in a
// dialog; the server audits each list and each transcript read.

import { $, h, replaceChildren } from "./dom.js";
import { t } from "./i18n.js";
import { channelBadge, timeElement } from "./format.js";
import { messageElement } from "./transcript.js";

export class HistoryPanel {
  constructor(state, { api, flash, download }) {
    this.state = state;
    this.api = api;
    this.flash = flash;
    this.download = download;
    this.details = $("#history");
    this.list = $("#history-list");
    this.summary = $("#history-summary");
    this.dialog = $("#past");
    this.conversationId = null;
    this.items = null;
    this.details.addEventListener("toggle", () => {
      if (this.details.open) this.load();
    });
    $("#past-close").addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("close", () => {
      if (this.returnFocus?.isConnected) this.returnFocus.focus();
    });
  }

  /** A new conversation is shown: forget the last one's history; load at once if the panel is open. */
  show(conversationId) {
    if (this.conversationId === conversationId) return;
    this.conversationId = conversationId;
    this.items = null;
    this.list.replaceChildren();
    this.summary.textContent = t("history.title");
    if (this.details.open) this.load();
  }

  async load() {
    const id = this.conversationId;
    if (id === null) return;
    replaceChildren(this.list, h("li", { class: "muted" }, t("history.loading")));
    try {
      const page = await this.api.get(`/api/v1/conversations/${id}/history`);
      if (this.conversationId !== id) return;
      this.items = page.items;
      this.render();
    } catch (error) {
      this.list.replaceChildren();
      this.flash(t("error.generic", { message: error.message }));
    }
  }

  render() {
    if (!this.items) return;
    const past = this.items.filter((item) => item.id !== this.conversationId);
    this.summary.textContent = t("history.title.count", { n: past.length });
    if (!past.length) {
      replaceChildren(this.list, h("li", { class: "muted" }, t("history.empty")));
      return;
    }
    this.list.replaceChildren(...past.map((item) => h("li", { class: "history__item" },
      h("button", {
        type: "button",
        class: "button button--quiet history__open",
        onclick: (event) => this.open(item, event.currentTarget),
      },
      channelBadge(item.channel_type),
      h("span", {}, timeElement(item.created_at)),
      h("span", {}, t(`conv.status.${item.status}`)),
      item.resolution_code ? h("span", { class: "history__code" }, item.resolution_code) : null,
      h("span", { class: "muted" }, t("history.messages", { n: item.message_count })),
      h("span", { class: "visually-hidden" }, `, № ${item.id}`)))));
  }

  /** The language changed: the same items, in the other words. */
  relabel() {
    if (this.items) this.render();
    else this.summary.textContent = t("history.title");
  }

  async open(item, opener) {
    this.returnFocus = opener;
    $("#past-title").textContent = t("history.past", { id: item.id });
    replaceChildren($("#past-meta"), channelBadge(item.channel_type), " · ", timeElement(item.created_at),
      " · ", t(`conv.status.${item.status}`), item.resolution_code ? ` · ${item.resolution_code}` : "");
    const log = $("#past-log");
    replaceChildren(log, h("p", { class: "log__note" }, t("log.loading")));
    this.dialog.showModal();
    $("#past-close").focus();
    try {
      const messages = [];
      let after = 0;
      for (;;) {
        const page = await this.api.get(`/api/v1/conversations/${item.id}/messages?after_id=${after}&limit=500`);
        messages.push(...page.items);
        if (page.next_after_id === null) break;
        after = page.next_after_id;
      }
      const context = { state: this.state, conversation: { contact_name: item.contact_name }, onDownload: this.download };
      log.replaceChildren(...messages.map((m) => messageElement(m, context)));
      if (!messages.length) log.append(h("p", { class: "log__note" }, t("log.empty")));
    } catch (error) {
      log.replaceChildren(h("p", { class: "log__note" }, t("error.generic", { message: error.message })));
    }
  }
}
