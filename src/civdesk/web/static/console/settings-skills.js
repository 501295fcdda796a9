// An agent's skills: pick an agent of the agency, then their capacity, a level (1–5, or none) per
// topic and per language other than the agency's first. Saving replaces them all (PUT), as the API
// does. The levels live in a model, so a new topic or a language switch redraws without losing them;
// the capacity lives in its input, which a redraw leaves alone.

import { $, h } from "./dom.js";
import { t } from "./i18n.js";
import { clock } from "./format.js";
import { FieldErrors, busy, languageName, numberOrNull, setStatus, showRefusal, tr } from "./settings-form.js";

const LEVELS = ["", "1", "2", "3", "4", "5"];

export class SkillsEditor {
  constructor({ api }) {
    this.api = api;
    this.agent = $("#settings-skills-agent");
    this.form = $("#settings-skills");
    this.capacity = $("#settings-skills-capacity");
    this.topicBox = $("#settings-skills-topics");
    this.languageBox = $("#settings-skills-languages");
    this.status = $("#settings-skills-status");
    this.submit = $("#settings-skills-save");
    this.roster = [];
    this.topics = [];
    this.agency = null;
    this.model = null; // {agent_id, topics: Map(topic id → level), languages: Map(code → level)}
    this.dirty = false;
    this.errors = new FieldErrors();
    this.errors.byId("settings-skills", "capacity");
    this.agent.addEventListener("change", () => this.load(Number(this.agent.value)));
    this.form.addEventListener("input", () => { this.dirty = true; });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
  }

  /** The agency's agents, topics and settings; keeps the chosen agent and, if edited, their unsaved levels. */
  async fill({ roster, topics, agency }) {
    this.roster = [...roster].sort((a, b) => a.name.localeCompare(b.name));
    this.topics = topics;
    this.agency = agency;
    const chosen = Number(this.agent.value) || this.roster[0]?.agent_id;
    this.agent.replaceChildren(...this.roster.map((agent) => h("option", { value: agent.agent_id },
      `${agent.name} — ${t(`role.${agent.role}`)}`)));
    this.form.hidden = !this.roster.length;
    if (!this.roster.length) return;
    this.agent.value = String(this.roster.some((a) => a.agent_id === chosen) ? chosen : this.roster[0].agent_id);
    if (this.dirty && this.model?.agent_id === Number(this.agent.value)) this.render();
    else await this.load(Number(this.agent.value));
  }

  topicsChanged(topics) {
    this.topics = topics;
    if (this.model) this.render();
  }

  agencyChanged(agency) {
    this.agency = agency;
    if (this.model) this.render();
  }

  async load(agentId) {
    this.errors.clear();
    setStatus(this.status, t("settings.skills.loading"), "busy");
    this.form.setAttribute("aria-busy", "true");
    try {
      const skills = await this.api.get(`/api/v1/agents/${agentId}/skills`);
      if (Number(this.agent.value) !== agentId) return; // another agent was chosen meanwhile
      this.setModel(agentId, skills);
      setStatus(this.status, "");
    } catch (error) {
      showRefusal(error, { errors: this.errors, status: this.status });
    } finally {
      this.form.removeAttribute("aria-busy");
    }
  }

  /** The agent's skills as the server holds them, drawn afresh. */
  setModel(agentId, skills) {
    this.model = {
      agent_id: agentId,
      topics: new Map(skills.topics.map((s) => [s.topic_id, s.level])),
      languages: new Map(skills.languages.map((s) => [s.language, s.level])),
    };
    this.capacity.value = String(skills.capacity);
    this.dirty = false;
    this.render();
  }

  /** Languages with a level: the agency's others, and any the agent already has (so a save keeps them). */
  languages() {
    const codes = [...(this.agency?.languages || []).slice(1), ...this.model.languages.keys()];
    return [...new Set(codes)];
  }

  render() {
    const focused = this.form.contains(document.activeElement) ? document.activeElement.id : null;
    this.topicBox.replaceChildren(...(this.topics.length
      ? this.topics.map((topic) => this.levelRow({
        id: `settings-skill-topic-${topic.id}`, label: topic.name,
        value: this.model.topics.get(topic.id), set: (level) => this.setLevel(this.model.topics, topic.id, level),
      }))
      : [h("p", { class: "muted", ...tr("settings.skills.no_topics") })]));
    const codes = this.languages();
    this.languageBox.replaceChildren(...(codes.length
      ? codes.map((code) => this.levelRow({
        id: `settings-skill-language-${code}`, label: languageName(code), language: code,
        value: this.model.languages.get(code), set: (level) => this.setLevel(this.model.languages, code, level),
      }))
      : [h("p", { class: "muted", ...tr("settings.skills.no_languages") })]));
    if (focused) document.getElementById(focused)?.focus();
  }

  levelRow({ id, label, language = null, value, set }) {
    const select = h("select", {
      id, "aria-describedby": `${id}-error`, onchange: (event) => set(event.target.value ? Number(event.target.value) : null),
    }, LEVELS.map((level) => h("option", { value: level, ...tr(level ? `settings.level.${level}` : "settings.level.none") })));
    select.value = value ? String(value) : "";
    const error = h("p", { id: `${id}-error`, class: "error", hidden: true });
    return h("div", { class: "settings__level" },
      h("label", { for: id, "data-language": language }, label), select, error);
  }

  setLevel(map, key, level) {
    if (level) map.set(key, level);
    else map.delete(key);
  }

  body() {
    const topicOrder = this.topics.map((topic) => topic.id);
    const languageOrder = this.languages();
    return {
      capacity: numberOrNull(this.capacity),
      // In the order drawn (unknown ones last); registerSent() maps "topics.N" back to its row.
      topics: [...this.model.topics]
        .sort(([a], [b]) => order(topicOrder, a) - order(topicOrder, b))
        .map(([topic_id, level]) => ({ topic_id, level })),
      languages: [...this.model.languages]
        .sort(([a], [b]) => order(languageOrder, a) - order(languageOrder, b))
        .map(([language, level]) => ({ language, level })),
    };
  }

  async save() {
    if (this.submit.disabled || !this.model) return;
    this.errors.clear();
    const body = this.body();
    if (body.capacity === undefined || body.capacity === null) {
      this.errors.show("capacity", t(body.capacity === null ? "settings.error.required" : "settings.error.number"));
      setStatus(this.status, t("settings.error.fields"), "error");
      this.capacity.focus();
      return;
    }
    // The server's problems name rows by their place in what was sent: register the rows in that order.
    this.registerSent(body);
    const agentId = this.model.agent_id;
    try {
      const saved = await busy(this.submit, () => this.api.put(`/api/v1/agents/${agentId}/skills`, body));
      this.setModel(agentId, saved);
      const name = this.roster.find((a) => a.agent_id === agentId)?.name || `#${agentId}`;
      setStatus(this.status, t("settings.skills.saved", { name, time: clock() }), "ok");
    } catch (error) {
      showRefusal(error, { errors: this.errors, status: this.status });
    }
  }

  registerSent(body) {
    this.errors.forget("topics");
    this.errors.forget("languages");
    body.topics.forEach((skill, index) => {
      const select = $(`#settings-skill-topic-${skill.topic_id}`);
      if (select) this.errors.register(`topics.${index}`, { error: $(`#${select.id}-error`), inputs: [select] });
    });
    body.languages.forEach((skill, index) => {
      const select = $(`#settings-skill-language-${skill.language}`);
      if (select) this.errors.register(`languages.${index}`, { error: $(`#${select.id}-error`), inputs: [select] });
    });
  }

  relabel() {
    for (const label of this.languageBox.querySelectorAll("label[data-language]")) {
      label.textContent = languageName(label.dataset.language);
    }
    for (const option of this.agent.options) {
      const agent = this.roster.find((a) => a.agent_id === Number(option.value));
      if (agent) option.textContent = `${agent.name} — ${t(`role.${agent.role}`)}`;
    }
  }
}

function order(list, key) {
  const index = list.indexOf(key);
  return index === -1 ? list.length : index;
}
