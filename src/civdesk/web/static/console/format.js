// Display helpers: times, durations, channels, sizes — in the current language.

import { h } from "./dom.js";
import { locale, t } from "./i18n.js";

const CHANNEL_MARKS = { telegram: "TG", viber: "VB", whatsapp: "WA", messenger: "FB", webchat: "WEB" };

export function channelName(type) {
  const key = `channel.${type}`;
  const name = t(key);
  return name === key ? type : name;
}

/** A coloured mark with the channel's initials and its full name beside it (colour is never the only cue). */
export function channelBadge(type, { withName = true } = {}) {
  const mark = h("span", { class: `channel channel--${CHANNEL_MARKS[type] ? type : "other"}`, "aria-hidden": "true" },
    CHANNEL_MARKS[type] || type.slice(0, 3).toUpperCase());
  return h("span", { class: "channel-label" }, mark, withName ? h("span", { class: "channel-label__name" },
    channelName(type)) : h("span", { class: "visually-hidden" }, channelName(type)));
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** "14:05" today, "3 бер., 14:05" another day. */
export function shortTime(iso) {
  const date = new Date(iso);
  const options = sameDay(date, new Date())
    ? { hour: "2-digit", minute: "2-digit" }
    : { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" };
  return new Intl.DateTimeFormat(locale(), options).format(date);
}

export function fullTime(iso) {
  return new Intl.DateTimeFormat(locale(), { dateStyle: "long", timeStyle: "short" }).format(new Date(iso));
}

export function timeElement(iso, className = "time") {
  return h("time", { class: className, datetime: iso, title: fullTime(iso) }, shortTime(iso));
}

/** "14:05": the time of day, as a status line says when something happened. */
export function clock(date = new Date()) {
  return date.toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" });
}

/** "пт, 24 серпня 2029 р." from "2029-08-24" (a calendar day: no time zone involved). */
export function longDate(day) {
  const [year, month, date] = day.split("-").map(Number);
  return new Date(year, month - 1, date).toLocaleDateString(locale(), {
    weekday: "short", day: "numeric", month: "long", year: "numeric",
  });
}

/** "45 с", "12 хв", "2 год 5 хв". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return t("duration.sec", { n: s });
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return t("duration.min", { n: minutes });
  return t("duration.hour", { h: Math.floor(minutes / 60), m: minutes % 60 });
}

/** A duration that may run to days: "1 д 2 год" from a day on. */
export function span(seconds) {
  const s = Math.round(seconds);
  if (s < 86_400) return duration(s);
  const hours = Math.floor(s / 3600);
  return t("duration.day", { d: Math.floor(hours / 24), h: hours % 24 });
}

export function fileSize(bytes) {
  if (!Number.isFinite(bytes)) return "";
  const units = locale() === "en-GB" ? ["B", "KB", "MB"] : ["Б", "КБ", "МБ"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${new Intl.NumberFormat(locale(), { maximumFractionDigits: unit ? 1 : 0 }).format(value)} ${units[unit]}`;
}
