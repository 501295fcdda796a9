// A small emoji picker for the composer: our own short list of what replies need, each with a name
// in the agent's language. A disclosure button opens a grid; arrows move, Enter or click inserts.

import { $, h } from "./dom.js";
import { t } from "./i18n.js";

export const EMOJI = [
  ["🙂", "smile"], ["😊", "warm"], ["👍", "thumbs_up"], ["🙏", "thanks"], ["👋", "wave"], ["✅", "done"],
  ["❗", "important"], ["❓", "question"], ["📄", "document"], ["📎", "attachment"], ["📅", "date"],
  ["⏳", "waiting"], ["📞", "phone"], ["🏛️", "office"], ["❤️", "heart"], ["😔", "sorry"],
];
const COLUMNS = 8;

export class EmojiPicker {
  constructor({ text, announce }) {
    this.text = text;
    this.announce = announce;
    this.toggle = $("#emoji-open");
    this.panel = $("#emoji-panel");
    this.toggle.addEventListener("click", () => (this.panel.hidden ? this.show() : this.hide(true)));
    this.panel.addEventListener("keydown", (event) => this.keydown(event));
    this.panel.addEventListener("focusout", (event) => {
      if (!this.panel.contains(event.relatedTarget) && event.relatedTarget !== this.toggle) this.hide(false);
    });
    this.render();
  }

  render() {
    this.panel.replaceChildren(...EMOJI.map(([emoji, key], index) => h("button", {
      type: "button",
      class: "emoji__item",
      tabindex: index === 0 ? "0" : "-1",
      "aria-label": t(`emoji.${key}`),
      title: t(`emoji.${key}`),
      "data-index": index,
      onclick: () => this.insert(emoji, key),
    }, emoji)));
  }

  get buttons() {
    return Array.from(this.panel.querySelectorAll("button"));
  }

  show() {
    this.panel.hidden = false;
    this.toggle.setAttribute("aria-expanded", "true");
    (this.buttons.find((b) => b.tabIndex === 0) || this.buttons[0]).focus();
  }

  hide(returnFocus) {
    if (this.panel.hidden) return;
    this.panel.hidden = true;
    this.toggle.setAttribute("aria-expanded", "false");
    if (returnFocus) this.toggle.focus();
  }

  move(to) {
    const buttons = this.buttons;
    const index = (to + buttons.length) % buttons.length;
    for (const button of buttons) button.tabIndex = -1;
    buttons[index].tabIndex = 0;
    buttons[index].focus();
  }

  keydown(event) {
    const index = Number(document.activeElement?.dataset?.index ?? 0);
    const steps = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: COLUMNS, ArrowUp: -COLUMNS };
    if (event.key in steps) this.move(index + steps[event.key]);
    else if (event.key === "Home") this.move(0);
    else if (event.key === "End") this.move(EMOJI.length - 1);
    else if (event.key === "Escape") this.hide(true);
    else return;
    event.preventDefault();
    event.stopPropagation();
  }

  insert(emoji, key) {
    const { text } = this;
    const start = text.selectionStart ?? text.value.length;
    text.setRangeText(emoji, start, text.selectionEnd ?? start, "end");
    this.hide(false);
    text.focus();
    text.dispatchEvent(new Event("input", { bubbles: true }));
    this.announce(t("emoji.inserted", { name: t(`emoji.${key}`) }));
  }

  relabel() {
    const focused = this.panel.contains(document.activeElement) ? Number(document.activeElement.dataset.index) : null;
    this.render();
    if (focused !== null) this.move(focused);
  }
}
