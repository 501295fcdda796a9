// What the settings forms share: errors beside their fields (the page's few checks and the server's
// problems, which name the field they are about), one status line per form, numbers in seconds with a
// readable hint, and labels that follow the language switch.

import { $, $$ } from "./dom.js";
import { locale, t } from "./i18n.js";
import { clock, span } from "./format.js";

/** The seconds an agency sets and a topic may set otherwise (empty: the agency's). */
export const SECONDS = ["reassign_after_seconds", "first_response_seconds", "next_response_seconds", "resolution_seconds"];

/** A form's field by the id convention `${prefix}-${name}`. */
export function field(prefix, name) {
  return $(`#${prefix}-${name}`);
}

/** Attributes for an element whose text i18n.apply() re-translates when the language changes. */
export function tr(key, params = null) {
  const attrs = { "data-i18n": key, text: t(key, params || {}) };
  if (params) attrs["data-i18n-params"] = JSON.stringify(params);
  return attrs;
}

/** Sets an element's text to t(key, params) and keeps it following the language switch. */
export function setText(el, key, params = null) {
  el.dataset.i18n = key;
  if (params) el.dataset.i18nParams = JSON.stringify(params);
  else delete el.dataset.i18nParams;
  el.textContent = t(key, params || {});
}

/** Errors shown beside their fields; keys are request fields ("languages", "topics.2"). */
export class FieldErrors {
  constructor() {
    this.fields = new Map(); // key → {error, inputs, focus}
    this.shown = [];
  }

  register(key, { error, inputs = [], focus = inputs[0] }) {
    this.fields.set(key, { error, inputs: inputs.filter(Boolean), focus });
  }

  /** Registers a form field by the id convention `${prefix}-${name}` and `${prefix}-${name}-error`. */
  byId(prefix, name, inputs = null) {
    this.register(name, { error: $(`#${prefix}-${name}-error`), inputs: inputs || [field(prefix, name)] });
  }

  /** Drops the keys under `prefix` (rows that were rendered again). */
  forget(prefix) {
    for (const key of [...this.fields.keys()]) if (key.startsWith(`${prefix}.`)) this.fields.delete(key);
  }

  clear() {
    for (const field of this.shown) {
      field.error.hidden = true;
      field.error.textContent = "";
      for (const input of field.inputs) input.removeAttribute("aria-invalid");
    }
    this.shown = [];
  }

  get any() {
    return this.shown.length > 0;
  }

  show(key, message) {
    const field = this.fields.get(key);
    if (!field) return false;
    field.error.hidden = false;
    field.error.textContent = field.error.textContent ? `${field.error.textContent} ${message}` : message;
    for (const input of field.inputs) input.setAttribute("aria-invalid", "true");
    if (!this.shown.includes(field)) this.shown.push(field);
    return true;
  }

  /** Places each problem beside the nearest field it names ("body.topics.2.level" → "topics.2"); returns
   * the messages no field here could show. */
  place(problems) {
    const left = [];
    for (const problem of problems) {
      const path = String(problem.field || "").replace(/^body\.?/, "").split(".").filter(Boolean);
      let placed = false;
      while (path.length && !placed) {
        placed = this.show(path.join("."), problem.message);
        path.pop();
      }
      if (!placed) left.push(problem.message);
    }
    return left;
  }

  /** Focus goes to the first marked field in the page's order, where its message is read out. */
  focusFirst() {
    const targets = this.shown.map((f) => f.focus).filter((el) => el?.isConnected && !el.disabled);
    targets.sort((a, b) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
    targets[0]?.focus();
  }
}

/** A status line (role=status): the same message again is announced again. */
export function setStatus(el, message, kind = "ok") {
  clearTimeout(el.statusTimer);
  el.textContent = "";
  el.dataset.kind = kind;
  if (!message) return;
  el.statusTimer = setTimeout(() => {
    el.textContent = message;
  }, 60);
}

export function savedAt() {
  return t("settings.saved", { time: clock() });
}

/** The server refused a change: its problems beside their fields, anything else in the status line. */
export function showRefusal(error, { errors, status }) {
  if (error.code === "network") {
    setStatus(status, t("settings.error.network"), "error");
    return;
  }
  const left = errors.place(error.problems || []);
  if (error.status === 403) setStatus(status, t("settings.forbidden", { message: error.message }), "error");
  else if (errors.any && !left.length) setStatus(status, t("settings.error.fields"), "error");
  else setStatus(status, t("settings.error.failed", { message: left.join(" ") || error.message }), "error");
  errors.focusFirst();
}

/** "" → null; a number as typed (the server says what it accepts); undefined when it is not a number. */
export function numberOrNull(input) {
  if (input.validity.badInput) return undefined;
  const value = input.value.trim();
  return value === "" ? null : Number(value);
}

export function setNumber(input, value) {
  input.value = value === null || value === undefined ? "" : String(value);
  humanise(input);
}

/** Seconds in words beside a seconds field: "= 10 хв". */
export function humanise(input) {
  const hint = $(`[data-human-for="${input.id}"]`);
  if (!hint) return;
  const seconds = Number(input.value);
  hint.textContent = input.value.trim() === "" || !Number.isFinite(seconds) || seconds < 0 ? "" : `= ${span(seconds)}`;
}

export function humaniseAll(root) {
  for (const input of $$("input[type=number]", root)) humanise(input);
}

/** "uk, en;de" → ["uk", "en", "de"]. */
export function words(text) {
  return text.split(/[\s,;]+/).map((w) => w.trim()).filter(Boolean);
}

/** A language code in the UI's language: "англійська (en)". */
export function languageName(code) {
  try {
    const name = new Intl.DisplayNames([locale()], { type: "language" }).of(code);
    return name && name !== code ? `${name} (${code})` : code;
  } catch {
    return code;
  }
}

/** Disables a submit button while its request runs, with a "Saving…" label. */
export async function busy(button, work) {
  const label = button.dataset.i18n;
  button.disabled = true;
  button.textContent = t("settings.saving");
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.textContent = t(label);
  }
}
