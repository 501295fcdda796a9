/* civdesk citizen web chat: the language the citizen chose. Loaded in <head>, not deferred.
 * The server picks the page's language from ?lang=, else the browser's Accept-Language, else Ukrainian.
 * The switch on the page is a plain link to ?lang=…; following it also remembers the choice here, so a
 * later visit without ?lang= is replaced, before it is drawn, by the same page in the chosen language.
 */
(function () {
  "use strict";

  const KEY = "civdesk.chat.lang";
  const LANGS = ["uk", "en"];
  const url = new URL(window.location.href);
  const asked = url.searchParams.get("lang");
  let chosen = null;
  try { chosen = window.localStorage.getItem(KEY); } catch (_) { /* site data blocked: no memory */ }
  if (LANGS.indexOf(asked) < 0 && LANGS.indexOf(chosen) >= 0 && chosen !== document.documentElement.lang) {
    url.searchParams.set("lang", chosen);
    window.location.replace(url.href);
    return;
  }
  function remember(event) {
    const link = event.target.closest && event.target.closest("[data-lang-switch]");
    if (!link) return;
    try { window.localStorage.setItem(KEY, link.dataset.langSwitch); } catch (_) { /* the link still works */ }
  }
  document.addEventListener("click", remember); // Enter on a link is a click too
})();
