// The open conversation: header with assign/resolve, the live transcript (role="log"), and the composer.

import { $, h, replaceChildren } from "./dom.js";
import { t } from "./i18n.js";
import { channelBadge } from "./format.js";
import { assigneeText } from "./inbox.js";
import { messageElement } from "./transcript.js";
import { Composer } from "./composer.js";
import { HistoryPanel } from "./history.js";
import { ResolveDialog } from "./resolve.js";
import { TransferDialog } from "./transfer.js";

export class ConversationPane {
  constructor(state, { api, announce, flash }) {
    this.state = state;
    this.api = api;
    this.announce = announce;
    this.flash = flash;
    this.section = $("#conversation");
    this.log = $("#log");
    this.elements = new Map(); // message id → <article>
    this.shownId = null;
    this.drafts = new Map(); // conversation id → unsent text
    this.composer = new Composer(state, { api, announce, onSent: (m) => this.sent(m) });
    this.history = new HistoryPanel(state, { api, flash, download: (m, i, name) => this.download(m, i, name) });
    this.resolution = new ResolveDialog({ api });
    this.transferring = new TransferDialog({ api });
    $("#assign").addEventListener("click", () => this.assign());
    $("#transfer").addEventListener("click", () => this.transfer());
    $("#resolve").addEventListener("click", () => this.resolve());
  }

  get conversation() {
    return this.state.conversations.get(this.state.selectedId) || null;
  }

  /** Shows the selected conversation, loading its transcript the first time. */
  async show() {
    const conversation = this.conversation;
    $("#pane-empty").hidden = Boolean(conversation);
    this.section.hidden = !conversation;
    if (!conversation) return;
    if (this.shownId !== conversation.id) {
      // An unsent draft waits for the agent's return to its conversation.
      if (this.shownId !== null) this.drafts.set(this.shownId, this.composer.text.value);
      this.shownId = conversation.id;
      this.elements.clear();
      this.log.replaceChildren();
      this.composer.reset();
      this.composer.text.value = this.drafts.get(conversation.id) || "";
    }
    this.renderHeader();
    this.history.show(conversation.id);
    if (!this.state.transcripts.has(conversation.id) && !this.state.loadingTranscript.has(conversation.id)) {
      await this.load(conversation.id);
    }
    this.renderLog();
  }

  async load(conversationId) {
    this.log.setAttribute("aria-busy", "true");
    replaceChildren(this.log, h("p", { class: "log__note" }, t("log.loading")));
    this.state.beginTranscript(conversationId);
    try {
      const messages = [];
      let after = 0;
      for (;;) {
        const page = await this.api.get(`/api/v1/conversations/${conversationId}/messages?after_id=${after}&limit=500`);
        messages.push(...page.items);
        if (page.next_after_id === null) break;
        after = page.next_after_id;
      }
      this.state.finishTranscript(conversationId, messages);
    } catch (error) {
      this.state.failTranscript(conversationId);
      this.flash(t("error.generic", { message: error.message }));
    } finally {
      if (this.shownId === conversationId) this.log.replaceChildren();
      this.log.removeAttribute("aria-busy");
    }
  }

  renderHeader() {
    const conversation = this.conversation;
    if (!conversation) return;
    const { state } = this;
    $("#conv-title").textContent = conversation.contact_name || t("conv.number", { id: conversation.id });
    replaceChildren($("#conv-meta"),
      channelBadge(conversation.channel_type),
      h("span", { class: "conv__sep", "aria-hidden": "true" }, "·"),
      h("span", {}, t(`conv.status.${conversation.status}`)),
      conversation.resolution_code ? h("span", { class: "conv__code" }, `(${conversation.resolution_code})`) : null,
      h("span", { class: "conv__sep", "aria-hidden": "true" }, "·"),
      h("span", { class: "conv__assignee" }, assigneeText(conversation, state)),
      h("span", { class: "conv__sep", "aria-hidden": "true" }, "·"),
      h("span", { class: "muted" }, `№ ${conversation.id}`));
    const resolved = conversation.status === "resolved";
    const mine = conversation.assignee_id === state.me.id;
    const assign = $("#assign");
    assign.disabled = resolved || mine;
    assign.dataset.i18n = mine ? "conv.mine" : "conv.assign";
    assign.textContent = t(assign.dataset.i18n);
    $("#transfer").disabled = resolved;
    const resolve = $("#resolve");
    resolve.disabled = resolved;
    resolve.dataset.i18n = resolved ? "conv.status.resolved" : "conv.resolve";
    resolve.textContent = resolved ? t("conv.resolved") : t("conv.resolve");
  }

  /** Adds new messages and updates changed ones in place; stays at the bottom if the agent was there. */
  renderLog() {
    const conversation = this.conversation;
    const messages = conversation && this.state.transcript(conversation.id);
    if (!messages) return;
    const atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40 || !this.elements.size;
    const context = { state: this.state, conversation, onDownload: (m, i, name) => this.download(m, i, name) };
    let previous = null;
    for (const message of messages) {
      const fresh = messageElement(message, context);
      const old = this.elements.get(message.id);
      if (!old) {
        if (previous) previous.after(fresh);
        else this.log.prepend(fresh);
        this.elements.set(message.id, fresh);
      } else if (!old.isEqualNode(fresh)) {
        const focusInside = old.contains(document.activeElement);
        old.replaceWith(fresh);
        this.elements.set(message.id, fresh);
        if (focusInside) fresh.querySelector("button")?.focus();
      }
      previous = this.elements.get(message.id);
    }
    if (!messages.length && !this.log.querySelector(".log__note")) {
      this.log.append(h("p", { class: "log__note" }, t("log.empty")));
    } else if (messages.length) {
      this.log.querySelector(".log__note")?.remove();
    }
    if (atBottom) this.log.scrollTop = this.log.scrollHeight;
  }

  rerender() {
    this.history.relabel();
    this.transferring.relabel();
    this.composer.canned.relabel();
    this.composer.emoji.relabel();
    this.composer.share.relabel();
    this.elements.clear();
    this.log.replaceChildren();
    this.renderHeader();
    this.renderLog();
  }

  sent(message) {
    this.drafts.delete(message.conversation_id);
    this.state.upsertMessage(message);
    this.log.scrollTop = this.log.scrollHeight;
    this.renderLog();
    this.log.scrollTop = this.log.scrollHeight;
  }

  async download(message, index, name) {
    try {
      await this.api.download(`/api/v1/messages/${message.id}/files/${index}`, name);
    } catch (error) {
      this.flash(t("file.failed", { message: error.message }));
    }
  }

  async assign() {
    const conversation = this.conversation;
    if (!conversation || conversation.status === "resolved" || conversation.assignee_id === this.state.me.id) return;
    try {
      this.state.upsertConversation(await this.api.post(`/api/v1/conversations/${conversation.id}/assign`));
      this.announce(t("conv.assigned_you"));
      this.changed();
    } catch (error) {
      this.flash(t("error.generic", { message: error.message }));
    }
  }

  async resolve() {
    const conversation = this.conversation;
    if (!conversation || conversation.status === "resolved" || this.resolution.pending) return;
    try {
      const code = await this.resolution.choose();
      if (code === null) return; // cancelled
      const body = code === undefined ? undefined : { resolution_code_id: code };
      this.state.upsertConversation(await this.api.post(`/api/v1/conversations/${conversation.id}/resolve`, body));
      this.announce(t("conv.resolved"));
      this.changed();
    } catch (error) {
      this.flash(t("error.generic", { message: error.message }));
    }
  }

  async transfer() {
    const conversation = this.conversation;
    if (!conversation || conversation.status === "resolved" || this.transferring.pending) return;
    try {
      const result = await this.transferring.open(conversation);
      if (!result) return; // cancelled
      const { conversation: moved, destination, kind } = result;
      if (kind === "agency" && moved.agency_id !== this.state.me.agency_id) {
        // It now belongs to the other agency: it leaves every list here (as for colleagues, by event).
        document.dispatchEvent(new CustomEvent("civdesk:gone", {
          detail: { id: moved.id, message: t("transfer.done.agency", { name: destination }) },
        }));
        return;
      }
      this.state.upsertConversation(moved);
      this.announce(t("transfer.done", { name: destination }));
      this.changed();
    } catch (error) {
      this.flash(t("error.generic", { message: error.message }));
    }
  }

  changed() {
    document.dispatchEvent(new CustomEvent("civdesk:changed"));
  }
}
