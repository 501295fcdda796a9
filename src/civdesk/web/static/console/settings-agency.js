// The agency's routing settings: default strategy, triage, queue notices, reassignment, languages,
// time zone, working hours, response targets and transfer partners. Saving sends only what changed
// (PATCH: "only the fields given change"), so two administrators editing different settings do not
// undo each other; the server's refusals show beside the fields they name.

import { $, $$, h } from "./dom.js";
import { t } from "./i18n.js";
import { HoursEditor } from "./settings-hours.js";
import {
  FieldErrors, SECONDS, busy, field, humanise, humaniseAll, numberOrNull, savedAt, setNumber, setStatus, showRefusal, tr,
  words,
} from "./settings-form.js";

const PREFIX = "settings";

export class AgencyForm {
  constructor({ api, announce, onSaved }) {
    this.api = api;
    this.onSaved = onSaved;
    this.form = $("#settings-agency");
    this.status = $("#settings-agency-status");
    this.submit = this.form.querySelector("button[type=submit]");
    this.partners = $("#settings-partners");
    this.baseline = null;
    this.hours = new HoursEditor({ announce });
    this.errors = new FieldErrors();
    this.errors.byId(PREFIX, "default_strategy", this.radios());
    for (const name of ["triage_enabled", "queue_notices", "languages", "time_zone", ...SECONDS]) {
      this.errors.byId(PREFIX, name);
    }
    this.form.addEventListener("input", (event) => event.target.type === "number" && humanise(event.target));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    this.fillZones();
  }

  radios() {
    return $$("input[name=default_strategy]", this.form);
  }

  /** Unsaved changes: what the form holds differs from what the server last said. */
  get dirty() {
    return !!this.baseline && Object.keys(this.changes(this.values())).length > 0;
  }

  /** Shows the server's settings; `agencies`: the other agencies, to choose transfer partners from. */
  fill(settings, agencies) {
    this.baseline = settings;
    this.agencies = agencies;
    for (const radio of this.radios()) radio.checked = radio.value === settings.default_strategy;
    field(PREFIX, "triage_enabled").checked = settings.triage_enabled;
    field(PREFIX, "queue_notices").checked = settings.queue_notices;
    for (const name of SECONDS) setNumber(field(PREFIX, name), settings[name]);
    field(PREFIX, "languages").value = settings.languages.join(", ");
    field(PREFIX, "time_zone").value = settings.time_zone;
    this.hours.set(settings.working_hours);
    this.renderPartners(new Set(settings.accepts_transfers_from));
  }

  /** The fields drawn by script (working hours, partners), registered as they are when saving. */
  registerGroups() {
    this.errors.register("working_hours", {
      error: $("#settings-working_hours-error"), inputs: this.hours.inputs(), focus: this.hours.firstInput(),
    });
    const boxes = $$("input", this.partners);
    this.errors.register("accepts_transfers_from", {
      error: $("#settings-accepts_transfers_from-error"), inputs: boxes, focus: boxes[0],
    });
  }

  renderPartners(chosen) {
    if (!this.agencies.length) {
      this.partners.replaceChildren(h("p", { class: "muted", ...tr("settings.partners.none") }));
      return;
    }
    this.partners.replaceChildren(...this.agencies.map((agency) => h("label", { class: "toggle" },
      h("input", { type: "checkbox", name: "accepts_transfers_from", value: agency.slug, checked: chosen.has(agency.slug) }),
      h("span", {}, agency.name))));
  }

  fillZones() {
    let zones = [];
    try {
      zones = Intl.supportedValuesOf("timeZone");
    } catch {
      zones = ["Europe/Kyiv"];
    }
    $("#settings-zones").replaceChildren(...zones.map((zone) => h("option", { value: zone })));
  }

  /** Every setting as the form holds it, in the API's shape. */
  values() {
    return {
      default_strategy: this.form.querySelector("input[name=default_strategy]:checked")?.value ?? null,
      triage_enabled: field(PREFIX, "triage_enabled").checked,
      queue_notices: field(PREFIX, "queue_notices").checked,
      ...Object.fromEntries(SECONDS.map((name) => [name, numberOrNull(field(PREFIX, name))])),
      languages: words(field(PREFIX, "languages").value.toLowerCase()),
      time_zone: field(PREFIX, "time_zone").value.trim(),
      working_hours: this.hours.value(),
      accepts_transfers_from: $$("input:checked", this.partners).map((box) => box.value).sort(),
    };
  }

  /** Only what differs from what the server last said. */
  changes(values) {
    const before = {
      ...this.baseline,
      working_hours: normaliseHours(this.baseline.working_hours),
      accepts_transfers_from: [...this.baseline.accepts_transfers_from].sort(),
    };
    const after = { ...values, working_hours: normaliseHours(values.working_hours) };
    return Object.fromEntries(Object.keys(values)
      .filter((key) => JSON.stringify(after[key]) !== JSON.stringify(before[key]))
      .map((key) => [key, values[key]]));
  }

  /** The few things the page can tell before asking: a number that is not one, an empty slot, a required value. */
  check(values) {
    for (const name of SECONDS) {
      if (values[name] === undefined) this.errors.show(name, t("settings.error.number"));
    }
    if (values.reassign_after_seconds === null) this.errors.show("reassign_after_seconds", t("settings.error.required"));
    if (!values.time_zone) this.errors.show("time_zone", t("settings.error.required"));
    if (!values.languages.length) this.errors.show("languages", t("settings.error.required"));
    const hours = this.hours.problem();
    if (hours) this.errors.show("working_hours", t(hours));
    return !this.errors.any;
  }

  async save() {
    if (this.submit.disabled || !this.baseline) return;
    this.errors.clear();
    this.registerGroups();
    const values = this.values();
    if (!this.check(values)) {
      setStatus(this.status, t("settings.error.fields"), "error");
      this.errors.focusFirst();
      return;
    }
    const changes = this.changes(values);
    if (!Object.keys(changes).length) {
      setStatus(this.status, t("settings.unchanged"), "ok");
      return;
    }
    setStatus(this.status, t("settings.saving"), "busy");
    try {
      const saved = await busy(this.submit, () => this.api.patch("/api/v1/routing/settings", changes));
      this.fill(saved, this.agencies);
      setStatus(this.status, savedAt(), "ok");
      this.onSaved(saved);
    } catch (error) {
      showRefusal(error, { errors: this.errors, status: this.status });
    }
  }

  relabel() {
    humaniseAll(this.form);
  }
}

/** The same week written two ways compares equal: "24:00" is the next midnight, closed days are absent. */
function normaliseHours(schedule) {
  if (schedule === null || schedule === undefined) return null;
  const days = {};
  for (const [day, slots] of Object.entries(schedule)) {
    if (slots?.length) days[day] = slots.map(([start, end]) => [start, end === "24:00" ? "00:00" : end]);
  }
  return Object.fromEntries(Object.entries(days).sort());
}
