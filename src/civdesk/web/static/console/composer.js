// The composer: a reply to the citizen or an internal note; Enter sends, Shift+Enter is a new line.

import { $, $$ } from "./dom.js";
import { t } from "./i18n.js";
import { CannedPicker } from "./canned.js";
import { EmojiPicker } from "./emoji.js";
import { SharePanel } from "./share.js";

export class Composer {
  constructor(state, { api, announce, onSent }) {
    this.state = state;
    this.api = api;
    this.announce = announce;
    this.onSent = onSent;
    this.form = $("#composer");
    this.text = $("#text");
    this.error = $("#composer-error");
    this.fileInput = $("#file");
    this.file = null;
    this.busy = false;
    this.maxBytes = Number(document.body.dataset.maxFileBytes) || 20 * 1024 * 1024;
    this.canned = new CannedPicker({
      api, text: this.text, announce,
      topicOf: () => this.state.conversations.get(this.state.selectedId)?.topic_id ?? null,
    });
    this.emoji = new EmojiPicker({ text: this.text, announce });
    this.share = new SharePanel({ api, announce, conversationId: () => this.state.selectedId, onSent });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.text.addEventListener("keydown", (event) => this.keydown(event));
    this.text.addEventListener("input", () => this.showError(null));
    for (const radio of $$("input[name=mode]", this.form)) {
      radio.addEventListener("change", () => this.setMode(radio.value));
    }
    $("#attach").addEventListener("click", () => this.fileInput.click());
    this.fileInput.addEventListener("change", () => this.choose(this.fileInput.files[0] || null));
    $("#file-clear").addEventListener("click", () => {
      this.choose(null);
      $("#attach").focus();
    });
  }

  get mode() {
    return this.form.dataset.mode;
  }

  setMode(mode) {
    this.form.dataset.mode = mode;
    for (const radio of $$("input[name=mode]", this.form)) radio.checked = radio.value === mode;
    const label = $("#text-label");
    label.dataset.i18n = `composer.label.${mode}`;
    label.textContent = t(label.dataset.i18n);
    const send = $("#send");
    send.dataset.i18n = mode === "note" ? "composer.add_note" : "composer.send";
    send.textContent = t(send.dataset.i18n);
    $("#attach").hidden = mode === "note";
    this.share.setAvailable(mode !== "note");
    this.showError(null);
  }

  /** Shortcut r / n: the mode, then the text field. */
  focus(mode) {
    this.setMode(mode);
    this.text.focus();
  }

  reset() {
    this.canned.close();
    this.emoji.hide(false);
    this.share.reset();
    this.text.value = "";
    this.choose(null);
    this.setMode("reply");
  }

  keydown(event) {
    if (this.canned.keydown(event)) return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.ctrlKey && !event.altKey) {
      event.preventDefault();
      this.send();
    } else if (event.key === "Escape") {
      event.preventDefault();
      $("#log").focus();
    }
  }

  choose(file) {
    if (file && file.size > this.maxBytes) {
      this.showError(t("composer.error.too_big", { mb: Math.floor(this.maxBytes / (1024 * 1024)) }));
      file = null;
    }
    this.file = file;
    if (!file) this.fileInput.value = "";
    $("#file-chosen").hidden = !file;
    $("#file-name").textContent = file ? file.name : "";
  }

  showError(message) {
    this.error.hidden = !message;
    this.error.textContent = message || "";
    if (message) {
      this.text.setAttribute("aria-invalid", "true");
      this.announce(message);
    } else {
      this.text.removeAttribute("aria-invalid");
    }
  }

  async send() {
    const conversationId = this.state.selectedId;
    if (this.busy || conversationId === null) return;
    const text = this.text.value;
    if (!text.trim() && !this.file) {
      this.showError(t("composer.error.empty"));
      return;
    }
    if (this.mode === "note" && this.file) {
      this.showError(t("composer.error.note_file"));
      return;
    }
    this.busy = true;
    $("#send").disabled = true;
    try {
      const base = `/api/v1/conversations/${conversationId}`;
      let message;
      if (this.mode === "note") {
        message = await this.api.post(`${base}/notes`, { text });
      } else if (this.file) {
        const form = new FormData();
        form.append("file", this.file, this.file.name);
        form.append("text", text);
        message = await this.api.upload(`${base}/attachments`, form);
      } else {
        message = await this.api.post(`${base}/messages`, { text });
      }
      if (this.state.selectedId === conversationId) this.text.value = "";
      this.choose(null);
      this.announce(t(this.mode === "note" ? "composer.noted" : "composer.sent"));
      this.onSent(message);
    } catch (error) {
      this.showError(t("error.generic", { message: error.message }));
    } finally {
      this.busy = false;
      $("#send").disabled = false;
      this.text.focus();
    }
  }
}
