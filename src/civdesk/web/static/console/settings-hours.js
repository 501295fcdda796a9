// Working hours per weekday: each day has slots [start, end]; a day without slots is closed, and a
// slot whose end is not after its start runs into the next day (a night shift), as the API reads it.
// `null` (always open) is the "always" checkbox. The model follows every keystroke, so a re-render
// (a slot added or removed) never loses what was typed.

import { $, h, visuallyHidden } from "./dom.js";
import { t } from "./i18n.js";
import { tr } from "./settings-form.js";

export const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const WORKDAYS = ["mon", "tue", "wed", "thu", "fri"];
const DEFAULT_SLOT = ["09:00", "18:00"];

export class HoursEditor {
  constructor({ announce }) {
    this.box = $("#settings-hours");
    this.week = $("#settings-week");
    this.always = $("#settings-always");
    this.announce = announce;
    this.days = emptyWeek();
    this.always.addEventListener("change", () => {
      // Leaving "always open" with nothing set: start from a plain office week rather than a closed one.
      if (!this.always.checked && DAYS.every((day) => !this.days[day].length)) {
        for (const day of WORKDAYS) this.days[day] = [[...DEFAULT_SLOT]];
        this.render();
      }
      this.week.hidden = this.always.checked;
    });
    $("#settings-hours-copy").addEventListener("click", () => {
      for (const day of WORKDAYS.slice(1)) this.days[day] = this.days.mon.map((slot) => [...slot]);
      this.render();
      this.announce(t("settings.hours.copied"));
    });
  }

  /** From the API: {"mon": [["08:00", "17:00"]], …} or null (always open). "24:00" shows as 00:00 (the
   * same moment: a slot ending at the next midnight). */
  set(schedule) {
    this.days = emptyWeek();
    for (const day of DAYS) {
      this.days[day] = (schedule?.[day] || []).map(([start, end]) => [start, end === "24:00" ? "00:00" : end]);
    }
    this.always.checked = schedule === null;
    this.week.hidden = this.always.checked;
    this.render();
  }

  /** For the API: null when always open, otherwise the days that have slots. */
  value() {
    if (this.always.checked) return null;
    const schedule = {};
    for (const day of DAYS) if (this.days[day].length) schedule[day] = this.days[day].map((slot) => [...slot]);
    return schedule;
  }

  /** The page's own checks (the server checks the rest): a message, or null. */
  problem() {
    if (this.always.checked) return null;
    if (DAYS.some((day) => this.days[day].some(([start, end]) => !start || !end))) return "settings.hours.empty";
    if (DAYS.every((day) => !this.days[day].length)) return "settings.hours.never";
    return null;
  }

  /** The first input to fix, for focus. */
  firstInput() {
    if (this.always.checked) return this.always;
    const times = [...this.box.querySelectorAll("input[type=time]")];
    return times.find((input) => !input.value) || times[0] || this.always;
  }

  inputs() {
    return [this.always, ...this.box.querySelectorAll("input[type=time]")];
  }

  /** Draws the week from the model; focus stays on the same field when it is still there. */
  render() {
    const focused = this.box.contains(document.activeElement) ? document.activeElement.id : null;
    this.box.replaceChildren(...DAYS.map((day) => this.dayElement(day)));
    if (focused) document.getElementById(focused)?.focus();
  }

  dayElement(day) {
    const slots = this.days[day];
    return h("fieldset", { class: "hours__day", "data-day": day },
      h("legend", tr(`day.${day}`)),
      slots.length
        ? h("ul", { class: "hours__slots" }, slots.map((slot, index) => this.slotElement(day, index, slot)))
        : h("p", { class: "hint hours__closed", ...tr("settings.hours.closed") }),
      h("button", {
        type: "button", class: "button button--quiet hours__add", id: `hours-${day}-add`,
        onclick: () => {
          const last = slots[slots.length - 1];
          slots.push(last ? [last[1], ""] : [...DEFAULT_SLOT]);
          this.render();
          document.getElementById(`hours-${day}-${slots.length - 1}-start`)?.focus();
        },
      }, h("span", tr("settings.hours.add")), visuallyHiddenKey(`day.${day}`, " (", ")")));
  }

  slotElement(day, index, slot) {
    const id = `hours-${day}-${index}`;
    const label = (which, key) => h("label", { for: `${id}-${which}`, class: "hours__label" },
      visuallyHiddenKey(`day.${day}`, "", ", "),
      visuallyHiddenKey("settings.hours.slot", "", ", ", { n: index + 1 }),
      h("span", tr(key)));
    const night = h("span", { class: "hours__night", id: `${id}-night` });
    const time = (which, position) => h("input", {
      type: "time", id: `${id}-${which}`, value: slot[position], required: true,
      "aria-describedby": which === "end" ? `${id}-night` : null,
      oninput: (event) => {
        slot[position] = event.target.value;
        showNight(night, slot);
      },
    });
    showNight(night, slot);
    return h("li", { class: "hours__slot" },
      h("span", { class: "hours__time" }, label("start", "settings.hours.from"), time("start", 0)),
      h("span", { class: "hours__time" }, label("end", "settings.hours.to"), time("end", 1)),
      night,
      h("button", {
        type: "button", class: "button button--quiet", id: `${id}-remove`,
        onclick: () => {
          this.days[day].splice(index, 1);
          this.render();
          const previous = document.getElementById(`hours-${day}-${index - 1}-remove`);
          (previous || document.getElementById(`hours-${day}-add`))?.focus();
        },
      }, h("span", tr("settings.hours.remove")),
      visuallyHiddenKey(`day.${day}`, " (", ", "), visuallyHiddenKey("settings.hours.slot", "", ")", { n: index + 1 })));
  }
}

function emptyWeek() {
  return Object.fromEntries(DAYS.map((day) => [day, []]));
}

/** "до наступного дня" beside a slot whose end is not after its start (empty otherwise, so a screen
 * reader's description of the end field says it only when it is true). */
function showNight(el, [start, end]) {
  const night = Boolean(start && end && end <= start);
  if (night) el.dataset.i18n = "settings.hours.night";
  else delete el.dataset.i18n;
  el.textContent = night ? t("settings.hours.night") : "";
}

/** Hidden words for screen readers that re-translate with the language: before + t(key) + after. */
function visuallyHiddenKey(key, before, after, params = null) {
  const span = visuallyHidden("");
  span.append(before, h("span", tr(key, params)), after);
  return span;
}
