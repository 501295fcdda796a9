// Resolving asks how the conversation ended: a modal dialog with the agency's resolution codes as
// radio buttons. An agency without codes resolves at once, as before.

import { $, h } from "./dom.js";
import { t } from "./i18n.js";

export class ResolveDialog {
  constructor({ api }) {
    this.api = api;
    this.dialog = $("#resolve-dialog");
    this.form = $("#resolve-form");
    this.choices = $("#resolve-choices");
    this.error = $("#resolve-error");
    this.pending = null; // resolve(code id | null) of the open dialog
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const chosen = this.form.querySelector("input[name=resolution-code]:checked");
      if (!chosen) {
        this.error.hidden = false;
        this.error.textContent = t("resolve.error.none");
        this.form.querySelector("input[name=resolution-code]")?.focus();
        return;
      }
      this.finish(Number(chosen.value));
    });
    $("#resolve-cancel").addEventListener("click", () => this.finish(null));
    this.dialog.addEventListener("close", () => this.finish(null));
  }

  /** The chosen code id; null when cancelled; undefined when the agency keeps no codes. */
  async choose() {
    const { items } = await this.api.get("/api/v1/resolution-codes");
    if (!items.length) return undefined;
    this.error.hidden = true;
    this.error.textContent = "";
    this.choices.replaceChildren(...items.map((code) => h("label", { class: "choice" },
      h("input", { type: "radio", name: "resolution-code", value: code.id, required: true }),
      h("span", {}, code.title))));
    const returnFocus = document.activeElement;
    const chosen = new Promise((resolve) => { this.pending = resolve; });
    this.dialog.showModal();
    this.choices.querySelector("input").focus();
    const result = await chosen;
    if (returnFocus?.isConnected) returnFocus.focus();
    return result;
  }

  finish(value) {
    const pending = this.pending;
    this.pending = null;
    if (this.dialog.open) this.dialog.close();
    pending?.(value);
  }
}
