// Single-key shortcuts. They never fire while the agent types in a field or holds Ctrl/Alt/Meta.

import { $, isTyping } from "./dom.js";

export function installShortcuts(actions) {
  const help = $("#help");
  let returnFocus = null;

  function openHelp() {
    if (help.open) return;
    returnFocus = document.activeElement;
    help.showModal();
  }

  help.addEventListener("close", () => {
    if (returnFocus && returnFocus.isConnected) returnFocus.focus();
    returnFocus = null;
  });
  for (const button of document.querySelectorAll("[data-action=help]")) button.addEventListener("click", openHelp);
  $("[data-action=close-help]").addEventListener("click", () => help.close());

  const keys = {
    j: () => actions.step(1),
    k: () => actions.step(-1),
    1: () => actions.view("mine"),
    2: () => actions.view("unassigned"),
    3: () => actions.view("all"),
    r: () => actions.compose("reply"),
    n: () => actions.compose("note"),
    a: () => actions.assign(),
    e: () => actions.resolve(),
    t: () => actions.transfer(),
    w: () => actions.wall(),
    s: () => actions.settings(),
    "?": openHelp,
  };

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    // Any open dialog (help, resolve, a past conversation) owns the keyboard.
    if (isTyping(event.target) || document.querySelector("dialog[open]") || !actions.enabled()) return;
    const action = keys[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  });
}
