// Canned answers in the composer: "/" at the start of a word opens a searchable list of the agency's
// answers. The text field keeps focus (aria-activedescendant points at the highlighted option), so the
// agent types on to narrow the list; arrows move, Enter inserts the body, Esc closes.

import { $, h } from "./dom.js";
import { t } from "./i18n.js";

// "/" at the start of the field or after a space, then the search, up to the caret.
const TRIGGER = /(^|\s)\/([^\n/]{0,60})$/;
const SHOWN = 8;

export class CannedPicker {
  constructor({ api, text, announce, topicOf }) {
    this.api = api;
    this.text = text;
    this.announce = announce;
    this.topicOf = topicOf;
    this.box = $("#canned");
    this.list = $("#canned-list");
    this.status = $("#canned-status");
    this.answers = null; // loaded on first use, then kept for the session
    this.loading = null;
    this.shown = [];
    this.active = 0;
    this.token = null; // {start, end} of "/query" in the field
    this.text.addEventListener("input", () => this.update());
    this.text.addEventListener("blur", () => setTimeout(() => {
      if (document.activeElement !== this.text) this.close();
    }, 150));
    $("#canned-open").addEventListener("click", () => this.start());
  }

  get open() {
    return !this.box.hidden;
  }

  /** The button: a "/" at the caret (on a new word) and the list opens, for those who do not know the key. */
  start() {
    const { text } = this;
    const at = text.selectionStart ?? text.value.length;
    const before = text.value.slice(0, at);
    const slash = before === "" || /\s$/.test(before) ? "/" : " /";
    text.setRangeText(slash, at, text.selectionEnd ?? at, "end");
    text.focus();
    this.update();
  }

  async load() {
    if (this.answers) return this.answers;
    this.loading ??= this.api.get("/api/v1/canned-answers?limit=500").then((page) => {
      this.answers = page.items;
      return this.answers;
    }).finally(() => { this.loading = null; });
    return this.loading;
  }

  async update() {
    const caret = this.text.selectionStart ?? 0;
    const match = TRIGGER.exec(this.text.value.slice(0, caret));
    if (!match) {
      this.close();
      return;
    }
    const query = match[2];
    this.token = { start: caret - query.length - 1, end: caret };
    let answers;
    try {
      answers = await this.load();
    } catch (error) {
      this.close();
      this.announce(t("error.generic", { message: error.message }));
      return;
    }
    if (TRIGGER.exec(this.text.value.slice(0, this.text.selectionStart ?? 0))?.[2] !== query) return; // typed on
    const topic = this.topicOf();
    const words = query.toLocaleLowerCase().split(/\s+/).filter(Boolean);
    const found = answers.filter((a) => (a.topic_id === null || a.topic_id === topic) && words.every((w) =>
      `${a.title}\n${a.body}\n${a.legal_reference || ""}`.toLocaleLowerCase().includes(w)));
    // Words and no answer: most likely an ordinary "/" in a sentence, so step aside.
    if (!found.length && /\s/.test(query)) {
      this.close();
      return;
    }
    this.shown = found.slice(0, SHOWN);
    this.active = 0;
    this.render();
    const count = this.shown.length
      ? t("canned.count", { n: found.length }) + " " + t("canned.keys")
      : t("canned.none");
    if (this.status.textContent !== count) this.status.textContent = count;
  }

  render() {
    this.list.replaceChildren(...this.shown.map((answer, index) => h("li", {
      id: `canned-option-${answer.id}`,
      role: "option",
      class: "canned__option",
      "aria-selected": index === this.active ? "true" : "false",
      onmousedown: (event) => event.preventDefault(), // the text field keeps focus
      onclick: () => this.insert(answer),
    },
    h("span", { class: "canned__title" }, answer.title),
    h("span", { class: "canned__body" }, answer.body),
    answer.legal_reference ? h("span", { class: "canned__ref" }, answer.legal_reference) : null)));
    this.box.hidden = false;
    this.text.setAttribute("aria-controls", "canned-list");
    this.text.setAttribute("aria-autocomplete", "list");
    this.highlight();
  }

  highlight() {
    const options = this.list.querySelectorAll("[role=option]");
    options.forEach((option, index) => option.setAttribute("aria-selected", index === this.active ? "true" : "false"));
    const current = options[this.active];
    if (current) {
      this.text.setAttribute("aria-activedescendant", current.id);
      current.scrollIntoView({ block: "nearest" });
    } else {
      this.text.removeAttribute("aria-activedescendant");
    }
  }

  close() {
    if (!this.open) return;
    this.box.hidden = true;
    this.list.replaceChildren();
    this.status.textContent = "";
    this.shown = [];
    this.token = null;
    for (const attr of ["aria-activedescendant", "aria-controls", "aria-autocomplete"]) this.text.removeAttribute(attr);
  }

  insert(answer) {
    if (!this.token) return;
    const { start, end } = this.token;
    this.text.setRangeText(answer.body, start, end, "end");
    this.close();
    this.text.focus();
    this.text.dispatchEvent(new Event("input", { bubbles: true }));
    this.announce(t("canned.inserted", { title: answer.title }));
  }

  /** Called first by the composer's keydown: true when the key was the list's. */
  keydown(event) {
    if (!this.open) return false;
    const last = this.shown.length - 1;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (last < 0) return true;
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.active = (this.active + step + last + 1) % (last + 1);
      this.highlight();
    } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      if (last < 0) {
        this.close();
        return false; // nothing to insert: Enter sends as usual
      }
      this.insert(this.shown[this.active]);
    } else if (event.key === "Escape") {
      this.close();
    } else if (event.key === "Tab") {
      this.close();
      return false;
    } else {
      return false;
    }
    event.preventDefault();
    event.stopPropagation();
    return true;
  }

  relabel() {
    if (this.open) this.update();
  }
}
