// A panel that takes the open conversation's place in the pane (the supervisor's wall, the settings):
// its button in the inbox opens and closes it (aria-pressed), and so does its "Close" button. Closing
// shows the conversation (or the empty pane) again; on a narrow screen, with no conversation to show,
// the list comes back, and focus goes to the button, or to the pane while the list stays hidden.

import { $ } from "./dom.js";

export class PanePanel {
  /** `onToggle(open, panel)`: the session's part (close the other panel, show the conversation). */
  constructor({ section, button, closeButton, onToggle }) {
    this.section = section;
    this.button = button;
    this.onToggle = onToggle;
    this.button.hidden = false;
    this.button.addEventListener("click", () => this.toggle());
    closeButton.addEventListener("click", () => this.close({ focus: true }));
  }

  get isOpen() {
    return !this.section.hidden;
  }

  toggle() {
    if (this.isOpen) this.close({ focus: true });
    else this.open();
  }

  open() {
    if (this.isOpen) return;
    $("#pane-empty").hidden = true;
    $("#conversation").hidden = true;
    this.section.hidden = false;
    this.button.setAttribute("aria-pressed", "true");
    $("#layout").dataset.pane = "conversation";
    this.onToggle(true, this);
    this.opened();
    this.section.focus();
  }

  /** `restore: false` when something else takes the pane at once (a conversation, the other panel). */
  close({ focus = false, restore = true } = {}) {
    if (!this.isOpen) return;
    this.section.hidden = true;
    this.button.setAttribute("aria-pressed", "false");
    this.closed();
    if (restore) {
      this.onToggle(false, this);
      if ($("#conversation").hidden) $("#layout").dataset.pane = "list"; // narrow screens: back to the list
    }
    // On a narrow screen the list (and this button) may stay hidden behind the conversation.
    if (focus) (this.button.checkVisibility() ? this.button : $("#pane")).focus();
  }

  /** Hooks for the panel's own work: after it shows (before focus moves into it), after it hides. */
  opened() {}

  closed() {}
}
