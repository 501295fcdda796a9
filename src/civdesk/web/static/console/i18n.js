// The UI's words: one JSON catalogue per language (i18n/uk.json, i18n/en.json), switched without a reload.

const LANGS = ["uk", "en"];
let lang = document.documentElement.lang === "en" ? "en" : "uk";
let strings = {};

export function currentLang() {
  return lang;
}

export function locale() {
  return lang === "en" ? "en-GB" : "uk-UA";
}

export async function load(next = lang) {
  if (!LANGS.includes(next)) next = "uk";
  const response = await fetch(`/static/console/i18n/${next}.json`, { cache: "no-cache" });
  if (!response.ok) throw new Error(`catalogue ${next}: ${response.status}`);
  strings = await response.json();
  lang = next;
  document.documentElement.lang = lang;
  // The server renders the shell in this language next time (no flash of the other one).
  document.cookie = `civdesk_lang=${lang}; path=/; max-age=31536000; samesite=lax`;
  apply(document);
}

/** t("conv.unread", {n: 3}) → "непрочитаних: 3". A missing key shows itself, so it is noticed. */
export function t(key, params = {}) {
  const template = strings[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

/** Re-translates every element marked data-i18n (text) or data-i18n-attr ("attr:key;attr:key"), with
 * the parameters in data-i18n-params (JSON) when it has them. */
export function apply(root) {
  const params = (el) => (el.dataset.i18nParams ? JSON.parse(el.dataset.i18nParams) : {});
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n, params(el));
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      el.setAttribute(attr, t(key, params(el)));
    }
  }
  for (const el of root.querySelectorAll("[data-action=language]")) el.lang = t("lang.other.code");
}

export function other() {
  return lang === "uk" ? "en" : "uk";
}
