/* civdesk web chat widget. An agency's site adds the chat with one tag:
 *   <script src="https://civdesk.example/chat/{slug}/widget.js" defer></script>
 * (data-lang="en" on the tag labels the launcher and opens the chat in English, data-lang="uk" in
 * Ukrainian; without it the launcher is Ukrainian and the chat follows the visitor's own choice or
 * browser). The script adds a launcher button; it opens the agency's chat page (?lang=…) in an
 * iframe, in a panel that Esc or the close button shuts, with
 * focus returning to the launcher. Styles are set through the DOM so no stylesheet is needed on the
 * host page, whose CSP may forbid ours; all names carry a civdesk- prefix not to clash with its own.
 */
(function () {
  "use strict";

  const script = document.currentScript;
  if (!script || window.civdeskWidget) return;
  const src = new URL(script.src, window.location.href);
  const match = /\/chat\/([^/]+)\/widget\.js$/.exec(src.pathname);
  if (!match) return;
  const lang = ["uk", "en"].indexOf(script.dataset.lang) >= 0 ? script.dataset.lang : null;
  const chatUrl = src.origin + "/chat/" + match[1] + (lang ? "?lang=" + lang : "");
  const words = lang === "en"
    ? { open: "Online chat", title: "Online chat with the agency", close: "Close the chat" }
    : { open: "Онлайн-чат", title: "Онлайн-чат із відомством", close: "Закрити чат" };
  const panelId = "civdesk-chat-panel";
  const font = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', Arial, sans-serif";

  function style(node, rules) {
    Object.assign(node.style, rules);
    return node;
  }
  function focusRing(node) {
    node.addEventListener("focus", () => style(node, { outline: "3px solid #ffbf47", outlineOffset: "2px" }));
    node.addEventListener("blur", () => style(node, { outline: "none" }));
  }

  const launcher = style(document.createElement("button"), {
    position: "fixed", right: "1rem", bottom: "1rem", zIndex: "2147483000", minHeight: "3rem",
    padding: "0.6rem 1.1rem", border: "2px solid #ffffff", borderRadius: "999px", background: "#0a58a8",
    color: "#ffffff", font: "600 1rem/1.2 " + font, boxShadow: "0 4px 16px rgba(0,0,0,0.3)", cursor: "pointer",
  });
  launcher.type = "button";
  launcher.className = "civdesk-launcher";
  launcher.textContent = words.open;
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", panelId);
  focusRing(launcher);

  const panel = style(document.createElement("section"), {
    position: "fixed", right: "1rem", bottom: "4.75rem", zIndex: "2147483000",
    width: "min(24rem, calc(100vw - 2rem))", height: "min(38rem, calc(100vh - 6rem))", display: "none",
    flexDirection: "column", background: "#ffffff", border: "1px solid #5f6b76", borderRadius: "0.75rem",
    boxShadow: "0 12px 40px rgba(0,0,0,0.3)", overflow: "hidden",
  });
  panel.id = panelId;
  panel.setAttribute("aria-label", words.title);

  const bar = style(document.createElement("div"), {
    display: "flex", justifyContent: "flex-end", padding: "0.25rem", background: "#0a58a8",
  });
  const close = style(document.createElement("button"), {
    minHeight: "2.5rem", padding: "0.25rem 0.75rem", border: "0", borderRadius: "0.5rem", background: "transparent",
    color: "#ffffff", font: "600 0.95rem/1.2 " + font, cursor: "pointer",
  });
  close.type = "button";
  close.textContent = "✕ " + words.close;
  focusRing(close);
  bar.append(close);
  panel.append(bar);

  let frame = null; // created on first opening: a visitor who never opens the chat loads nothing

  function open() {
    if (!frame) {
      frame = style(document.createElement("iframe"), { flex: "1", width: "100%", border: "0" });
      frame.src = chatUrl;
      frame.title = words.title;
      panel.append(frame);
    }
    style(panel, { display: "flex" });
    launcher.setAttribute("aria-expanded", "true");
    frame.focus();
  }
  function shut() {
    style(panel, { display: "none" });
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", () => (panel.style.display === "none" ? open() : shut()));
  close.addEventListener("click", shut);
  // Keys pressed inside the (cross-origin) chat never reach this page; Esc works from the panel's own controls.
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") shut();
  });

  // Esc pressed inside the chat: the page tells us (chat-state.js), since its keys never reach us.
  window.addEventListener("message", (event) => {
    if (event.origin === src.origin && event.data && event.data.civdesk === "close" && panel.style.display !== "none") {
      shut();
    }
  });

  function mount() {
    document.body.append(launcher, panel); // Tab from the launcher leads into the open panel
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
  window.civdeskWidget = { open: open, close: shut };
})();
