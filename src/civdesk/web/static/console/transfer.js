// Transferring: a modal dialog to choose a colleague, a topic of my agency or another agency (one
// that accepts transfers from mine), with a mandatory note. The dialog sends the transfer itself, so
// the server's refusal (a note too short, an agency that stopped accepting) shows where it was made.

import { $, $$, h } from "./dom.js";
import { t } from "./i18n.js";

const MIN_NOTE = 5;
const KINDS = ["agent", "topic", "agency"];

export class TransferDialog {
  constructor({ api }) {
    this.api = api;
    this.dialog = $("#transfer-dialog");
    this.form = $("#transfer-form");
    this.select = $("#transfer-target");
    this.note = $("#transfer-note");
    this.error = $("#transfer-error");
    this.submit = $("#transfer-submit");
    this.targets = null;
    this.conversation = null;
    this.pending = null; // resolve(ConversationRead | null) of the open dialog
    this.busy = false;
    for (const radio of this.radios()) radio.addEventListener("change", () => this.fillTargets());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.note.addEventListener("input", () => {
      if (this.note.value.trim().length >= MIN_NOTE) this.showError(null);
    });
    $("#transfer-cancel").addEventListener("click", () => this.finish(null));
    this.dialog.addEventListener("close", () => this.finish(null));
  }

  radios() {
    return $$("input[name=transfer-kind]", this.form);
  }

  kind() {
    return this.form.querySelector("input[name=transfer-kind]:checked")?.value || "agent";
  }

  /** Opens the dialog for a conversation; resolves with the transferred conversation, or null. */
  async open(conversation) {
    if (this.pending) return null;
    this.targets = await this.api.get("/api/v1/routing/transfer-targets");
    this.conversation = conversation;
    this.note.value = "";
    this.showError(null);
    const available = (kind) => this.options(kind).length > 0;
    for (const radio of this.radios()) radio.disabled = !available(radio.value);
    const first = KINDS.find(available) || "agent";
    for (const radio of this.radios()) radio.checked = radio.value === first;
    this.fillTargets();
    const returnFocus = document.activeElement;
    const done = new Promise((resolve) => { this.pending = resolve; });
    this.dialog.showModal();
    (this.form.querySelector("input[name=transfer-kind]:checked:enabled") || this.note).focus();
    const result = await done;
    if (returnFocus?.isConnected) returnFocus.focus();
    return result;
  }

  options(kind) {
    if (!this.targets) return [];
    if (kind === "agent") {
      return this.targets.agents
        .filter((a) => a.id !== this.conversation?.assignee_id)
        .map((a) => ({ value: String(a.id), label: `${a.name} — ${t(`agent.status.${a.status || "offline"}`)}` }));
    }
    if (kind === "topic") return this.targets.topics.map((topic) => ({ value: String(topic.id), label: topic.name }));
    return this.targets.agencies.map((agency) => ({ value: agency.slug, label: agency.name }));
  }

  fillTargets() {
    const kind = this.kind();
    const label = $("#transfer-target-label");
    label.dataset.i18n = `transfer.target.${kind}`;
    label.textContent = t(label.dataset.i18n);
    const options = this.options(kind);
    this.select.replaceChildren(...(options.length
      ? options.map((o) => h("option", { value: o.value }, o.label))
      : [h("option", { value: "" }, t("transfer.none"))]));
    this.select.disabled = !options.length;
  }

  /** The language changed while the dialog is open: the same choices, in the other words. */
  relabel() {
    if (!this.dialog.open) return;
    const chosen = this.select.value;
    this.fillTargets();
    this.select.value = chosen;
  }

  showError(message, field = null) {
    this.error.hidden = !message;
    this.error.textContent = message || "";
    if (message && field === this.note) this.note.setAttribute("aria-invalid", "true");
    else this.note.removeAttribute("aria-invalid");
    if (field) field.focus();
  }

  async send() {
    if (this.busy) return;
    const note = this.note.value.trim();
    const kind = this.kind();
    const target = this.select.value;
    if (!target) {
      this.showError(t("transfer.error.target"), this.select.disabled ? null : this.select);
      return;
    }
    if (note.length < MIN_NOTE) {
      this.showError(t("transfer.error.note"), this.note);
      return;
    }
    const body = { note };
    if (kind === "agent") body.to_agent_id = Number(target);
    else if (kind === "topic") body.to_topic_id = Number(target);
    else body.to_agency = target;
    const destination = this.select.selectedOptions[0]?.textContent.split(" — ")[0] || target;
    this.busy = true;
    this.submit.disabled = true;
    this.submit.textContent = t("transfer.busy");
    try {
      const moved = await this.api.post(`/api/v1/conversations/${this.conversation.id}/transfer`, body);
      this.finish({ conversation: moved, destination, kind });
    } catch (error) {
      // The server's own words: a refused note, a partner that no longer accepts, a complaint guard.
      this.showError(error.message, error.code === "invalid_input" ? this.note : null);
    } finally {
      this.busy = false;
      this.submit.disabled = false;
      this.submit.textContent = t("transfer.submit");
    }
  }

  finish(value) {
    const pending = this.pending;
    this.pending = null;
    if (this.dialog.open) this.dialog.close();
    pending?.(value);
  }
}
