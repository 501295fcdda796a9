// Holidays: the days the agency is closed whatever its weekly hours say. Each is added or removed at
// once (POST / DELETE); the list is the agency's, sorted by date.

import { $, h, replaceChildren, visuallyHidden } from "./dom.js";
import { t } from "./i18n.js";
import { longDate } from "./format.js";
import { FieldErrors, busy, setStatus, showRefusal, tr } from "./settings-form.js";

export class HolidayList {
  constructor({ api }) {
    this.api = api;
    this.list = $("#settings-holidays");
    this.form = $("#settings-holiday");
    this.day = $("#settings-holiday-day");
    this.name = $("#settings-holiday-name");
    this.status = $("#settings-holidays-status");
    this.submit = this.form.querySelector("button[type=submit]");
    this.items = [];
    this.errors = new FieldErrors();
    this.errors.byId("settings-holiday", "day");
    this.errors.byId("settings-holiday", "name");
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.add();
    });
  }

  fill(holidays) {
    this.items = [...holidays].sort((a, b) => a.day.localeCompare(b.day));
    this.render();
  }

  render() {
    const focused = this.list.contains(document.activeElement) ? document.activeElement.dataset.day : null;
    this.draw();
    if (focused) this.list.querySelector(`button[data-day="${focused}"]`)?.focus();
  }

  draw() {
    if (!this.items.length) {
      replaceChildren(this.list, h("li", { class: "muted", ...tr("settings.holidays.empty") }));
      return;
    }
    replaceChildren(this.list, this.items.map((holiday) => h("li", { class: "settings__row" },
      h("time", { datetime: holiday.day, class: "settings__name" }, longDate(holiday.day)),
      holiday.name ? h("span", {}, holiday.name) : null,
      h("button", {
        type: "button", class: "button button--quiet", "data-day": holiday.day,
        onclick: () => this.remove(holiday.day),
      }, h("span", tr("settings.holiday.remove")), visuallyHidden(` ${describe(holiday)}`)))));
  }

  async add() {
    if (this.submit.disabled) return;
    this.errors.clear();
    const body = { day: this.day.value, name: this.name.value.trim() };
    if (!body.day) {
      this.errors.show("day", t(this.day.validity.badInput ? "settings.error.date" : "settings.error.required"));
      setStatus(this.status, t("settings.error.fields"), "error");
      this.day.focus();
      return;
    }
    try {
      const added = await busy(this.submit, () => this.api.post("/api/v1/routing/holidays", body));
      this.fill([...this.items.filter((x) => x.day !== added.day), added]);
      this.day.value = "";
      this.name.value = "";
      this.day.focus();
      setStatus(this.status, t("settings.holiday.added", { day: describe(added) }), "ok");
    } catch (error) {
      showRefusal(error, { errors: this.errors, status: this.status });
    }
  }

  async remove(day) {
    const index = this.items.findIndex((x) => x.day === day);
    const holiday = this.items[index];
    try {
      await this.api.delete(`/api/v1/routing/holidays/${day}`);
    } catch (error) {
      if (error.status !== 404) { // already gone: the list was only behind
        showRefusal(error, { errors: this.errors, status: this.status });
        return;
      }
    }
    this.items = this.items.filter((x) => x.day !== day);
    this.render();
    // Focus moves to the row that took its place, or the date field when the list is empty.
    const next = this.items[Math.min(index, this.items.length - 1)];
    (next ? this.list.querySelector(`button[data-day="${next.day}"]`) : this.day).focus();
    setStatus(this.status, t("settings.holiday.removed", { day: describe(holiday) }), "ok");
  }

  relabel() {
    this.render();
  }
}

function describe(holiday) {
  return holiday.name ? `${longDate(holiday.day)} (${holiday.name})` : longDate(holiday.day);
}
