// A place on the map or a contact card from the composer: a disclosure button opens a small form with two
// kinds. Obvious slips (a latitude of 504, an empty name) are caught here without a request; anything else
// the server refuses (a number not in international form) is shown next to the form, on its field.

import { $, $$, h } from "./dom.js";
import { t } from "./i18n.js";

// The fields the server names in a 422 ("body.location.latitude") and the inputs they come from.
const FIELDS = {
  "body.location.latitude": ["share-latitude", "share.latitude"],
  "body.location.longitude": ["share-longitude", "share.longitude"],
  "body.location.title": ["share-place", "share.place"],
  "body.location.address": ["share-address", "share.address"],
  "body.contact.phone_number": ["share-phone", "share.phone"],
  "body.contact.first_name": ["share-first-name", "share.first_name"],
  "body.contact.last_name": ["share-last-name", "share.last_name"],
};
const NUMBER = /^[-+]?\d+(\.\d+)?$/;
// "50.4501, 30.5234" (or with ; or a space between) pasted from a map: both numbers at once.
const PAIR = /^\s*([-+−]?\d+(?:[.,]\d+)?)\s*[,;\s]\s*([-+−]?\d+(?:[.,]\d+)?)\s*$/;

/** "50,4501" or "−30.5" → a number; anything else → NaN. */
function coordinate(value) {
  const plain = value.trim().replace("−", "-").replace(",", ".");
  return NUMBER.test(plain) ? Number(plain) : NaN;
}

export class SharePanel {
  constructor({ api, announce, conversationId, onSent }) {
    this.api = api;
    this.announce = announce;
    this.conversationId = conversationId;
    this.onSent = onSent;
    this.toggle = $("#share-open");
    this.form = $("#share");
    this.error = $("#share-error");
    this.busy = false;
    this.problem = null; // re-renders the shown error in the other language
    this.toggle.addEventListener("click", () => (this.form.hidden ? this.show() : this.hide(true)));
    $("#share-cancel").addEventListener("click", () => this.hide(true));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.form.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      event.stopPropagation();
      this.hide(true);
    });
    this.form.addEventListener("input", (event) => {
      event.target.removeAttribute("aria-invalid");
      this.showError(null);
    });
    $("#share-latitude").addEventListener("paste", (event) => this.pastePair(event));
    for (const radio of $$("input[name=share-kind]", this.form)) {
      radio.addEventListener("change", () => this.setKind(radio.value));
    }
  }

  get kind() {
    return this.form.dataset.kind;
  }

  get open() {
    return !this.form.hidden;
  }

  show() {
    this.form.hidden = false;
    this.toggle.setAttribute("aria-expanded", "true");
    this.form.scrollIntoView({ block: "nearest" });
    $(`input[name=share-kind][value=${this.kind}]`, this.form).focus({ preventScroll: true });
  }

  hide(returnFocus) {
    if (!this.open) return;
    this.form.hidden = true;
    this.toggle.setAttribute("aria-expanded", "false");
    this.showError(null);
    if (returnFocus) this.toggle.focus();
  }

  /** A new conversation, or a note: closed and empty. */
  reset() {
    this.hide(false);
    for (const input of $$("input:not([type=radio])", this.form)) {
      input.value = "";
      input.removeAttribute("aria-invalid");
    }
    this.setKind("location");
  }

  /** Only replies reach the citizen: there is no place or contact in a note. */
  setAvailable(available) {
    this.toggle.hidden = !available;
    if (!available) this.hide(false);
  }

  setKind(kind) {
    this.form.dataset.kind = kind;
    for (const radio of $$("input[name=share-kind]", this.form)) radio.checked = radio.value === kind;
    $("#share-location").hidden = kind !== "location";
    $("#share-contact").hidden = kind !== "contact";
    const send = $("#share-send");
    send.dataset.i18n = `share.send.${kind}`;
    send.textContent = t(send.dataset.i18n);
    this.showError(null);
  }

  pastePair(event) {
    const match = PAIR.exec(event.clipboardData?.getData("text") ?? "");
    if (!match) return;
    event.preventDefault();
    $("#share-latitude").value = match[1];
    $("#share-longitude").value = match[2];
    for (const id of ["share-latitude", "share-longitude"]) $(`#${id}`).removeAttribute("aria-invalid");
    this.showError(null);
  }

  value(id) {
    return $(`#${id}`).value.trim();
  }

  /** The request body, or null after marking the first slip. */
  collect() {
    if (this.kind === "location") {
      const latitude = coordinate(this.value("share-latitude"));
      const longitude = coordinate(this.value("share-longitude"));
      if (!(latitude >= -90 && latitude <= 90)) return this.invalid("share-latitude", "share.error.latitude");
      if (!(longitude >= -180 && longitude <= 180)) return this.invalid("share-longitude", "share.error.longitude");
      const location = { latitude, longitude };
      if (this.value("share-place")) location.title = this.value("share-place");
      if (this.value("share-address")) location.address = this.value("share-address");
      return { text: "", location };
    }
    // The number's form is the server's to judge (one rule, in one place); here only that there is one.
    if (!this.value("share-phone")) return this.invalid("share-phone", "share.error.phone");
    if (!this.value("share-first-name")) return this.invalid("share-first-name", "share.error.first_name");
    const contact = { phone_number: this.value("share-phone"), first_name: this.value("share-first-name") };
    if (this.value("share-last-name")) contact.last_name = this.value("share-last-name");
    return { text: "", contact };
  }

  invalid(id, key) {
    this.showError(() => [t(key)]);
    this.mark(id);
    return null;
  }

  mark(id) {
    const input = $(`#${id}`);
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }

  /** problem: null, or a function giving the message's parts (called again when the language changes). */
  showError(problem) {
    this.problem = problem;
    this.error.hidden = !problem;
    this.error.replaceChildren(...(problem ? problem() : []));
  }

  relabel() {
    if (this.problem) this.showError(this.problem);
  }

  async send() {
    const conversationId = this.conversationId();
    if (this.busy || conversationId === null) return;
    for (const input of $$("[aria-invalid]", this.form)) input.removeAttribute("aria-invalid");
    const body = this.collect();
    if (!body) return;
    const kind = this.kind;
    this.busy = true;
    $("#share-send").disabled = true;
    try {
      const message = await this.api.post(`/api/v1/conversations/${conversationId}/messages`, body);
      for (const input of $$(`#share-${kind} input`, this.form)) input.value = "";
      this.hide(false);
      this.announce(t(`share.sent.${kind}`));
      this.onSent(message);
      $("#text").focus();
    } catch (error) {
      this.refused(error);
    } finally {
      this.busy = false;
      $("#share-send").disabled = false;
    }
  }

  /** The server's word: on the field it names, when it names one of ours. */
  refused(error) {
    const problem = (error.problems || []).find((p) => p.field in FIELDS);
    if (!problem) {
      this.showError(() => [t("error.generic", { message: error.message })]);
      return;
    }
    const [id, label] = FIELDS[problem.field];
    // Some validation reasons come from the server in English only (`lang` says so).
    const reason = String(problem.message).replace(/^Value error, /, "");
    const attrs = problem.lang ? { lang: problem.lang } : {};
    this.showError(() => [t("share.error.refused", { field: t(label) }), " ", h("span", attrs, reason)]);
    this.mark(id);
  }
}
