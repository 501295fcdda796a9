// The administrator's settings, in place of the open conversation like the supervisor's wall: the
// agency's routing, holidays, topics and agents' skills, each saved on its own. Opening reads them
// afresh, except a form with unsaved changes, which keeps them (Esc or "Close" only hides the panel).
// The API refuses non-administrators (403); the panel says so instead of showing empty forms.

import { $, $$ } from "./dom.js";
import { t } from "./i18n.js";
import { AgencyForm } from "./settings-agency.js";
import { HolidayList } from "./settings-holidays.js";
import { TopicEditor } from "./settings-topics.js";
import { SkillsEditor } from "./settings-skills.js";
import { setStatus, setText } from "./settings-form.js";
import { PanePanel } from "./pane.js";

export class SettingsPanel extends PanePanel {
  constructor({ api, announce, onToggle }) {
    super({ section: $("#settings"), button: $("#settings-open"), closeButton: $("#settings-close"), onToggle });
    this.api = api;
    this.body = $("#settings-body");
    this.loadStatus = $("#settings-load");
    this.retry = $("#settings-retry");
    this.loaded = false; // read once at least: a later failure leaves the forms shown
    this.loading = null;
    this.agency = new AgencyForm({ api, announce, onSaved: (saved) => this.agencySaved(saved) });
    this.holidays = new HolidayList({ api });
    this.topics = new TopicEditor({ api, onChanged: (topics) => this.skills.topicsChanged(topics) });
    this.skills = new SkillsEditor({ api });
    this.retry.addEventListener("click", () => this.load());
    // Esc closes the panel from anywhere (the top bar too), unless a dialog is open: it closes that first.
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || !this.isOpen || event.defaultPrevented) return;
      if (document.querySelector("dialog[open]") || $("#app").hidden) return;
      event.preventDefault();
      this.close({ focus: true });
    });
    for (const link of $$(".settings__nav [data-section]", this.section)) {
      link.addEventListener("click", () => {
        const heading = document.getElementById(link.dataset.section);
        heading.scrollIntoView({ block: "start" });
        heading.focus({ preventScroll: true });
      });
    }
  }

  opened() {
    this.section.scrollTop = 0;
    this.load();
  }

  async load() {
    if (this.loading) return this.loading;
    this.loading = this.read().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  async read() {
    this.retry.hidden = true;
    this.loadStatus.dataset.kind = "busy";
    if (!this.loaded) setText(this.loadStatus, "settings.loading");
    try {
      const [settings, topics, roster, agencies] = await Promise.all([
        this.api.get("/api/v1/routing/settings"),
        this.api.get("/api/v1/topics"),
        this.api.get("/api/v1/routing/roster"),
        this.api.get("/api/v1/routing/partner-agencies"),
      ]);
      this.loaded = true;
      $("#settings-agency-name").textContent = settings.name;
      if (!this.agency.dirty) this.agency.fill(settings, agencies);
      this.holidays.fill(settings.holidays);
      this.topics.fill(topics, settings);
      this.body.hidden = false;
      this.loadStatus.textContent = "";
      delete this.loadStatus.dataset.i18n;
      await this.skills.fill({ roster, topics, agency: settings });
    } catch (error) {
      // Without the settings the forms would only mislead: say why, and offer to try again.
      const key = error.status === 403 ? "settings.forbidden" : "settings.load_failed";
      this.body.hidden = !this.loaded;
      delete this.loadStatus.dataset.i18n;
      setStatus(this.loadStatus, t(key, { message: error.message }), "error");
      this.retry.hidden = error.status === 403;
    }
  }

  agencySaved(saved) {
    $("#settings-agency-name").textContent = saved.name;
    this.holidays.fill(saved.holidays);
    this.topics.agencyChanged(saved);
    this.skills.agencyChanged(saved);
  }

  relabel() {
    this.agency.relabel();
    this.holidays.relabel();
    this.topics.relabel();
    this.skills.relabel();
  }
}
