// Topics (queues): the list, and one editor for a new topic or an existing one — name, names in the
// agency's other languages, keywords, strategy, priority, and its own reassignment and targets (empty
// means the agency's). The editor opens below the list; Cancel or saving returns focus to its opener.

import { $, h, replaceChildren, visuallyHidden } from "./dom.js";
import { t } from "./i18n.js";
import { span } from "./format.js";
import {
  FieldErrors, SECONDS, busy, field, humanise, humaniseAll, languageName, numberOrNull, setNumber, setStatus, setText,
  showRefusal, tr,
} from "./settings-form.js";

const PREFIX = "settings-topic";

export class TopicEditor {
  constructor({ api, onChanged }) {
    this.api = api;
    this.onChanged = onChanged;
    this.list = $("#settings-topics");
    this.newButton = $("#settings-topic-new");
    this.form = $("#settings-topic");
    this.status = $("#settings-topics-status");
    this.submit = $("#settings-topic-save");
    this.names = $("#settings-topic-names");
    this.topics = [];
    this.agency = null;
    this.editing = undefined; // undefined: closed; null: a new topic; otherwise the TopicRead
    this.opener = null;
    this.errors = new FieldErrors();
    for (const name of ["slug", "name", "keywords", "strategy", "priority", ...SECONDS]) this.errors.byId(PREFIX, name);
    this.newButton.addEventListener("click", () => this.open(null, this.newButton));
    $("#settings-topic-cancel").addEventListener("click", () => this.close({ focus: true }));
    this.form.addEventListener("input", (event) => event.target.type === "number" && humanise(event.target));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
  }

  get isOpen() {
    return this.editing !== undefined;
  }

  fill(topics, agency) {
    this.topics = topics;
    this.agencyChanged(agency);
  }

  agencyChanged(agency) {
    this.agency = agency;
    this.renderList();
    this.refreshInherited();
  }

  renderList() {
    const focused = this.list.contains(document.activeElement) ? document.activeElement.dataset.topicId : null;
    if (!this.topics.length) {
      replaceChildren(this.list, h("li", { class: "muted", ...tr("settings.topics.empty") }));
      return;
    }
    replaceChildren(this.list, this.topics.map((topic) => {
      const strategy = topic.strategy ? t(`strategy.${topic.strategy}`) : t("settings.topic.summary.inherit");
      return h("li", { class: "settings__row" },
        h("span", { class: "settings__name" }, topic.name),
        h("span", { class: "muted" }, topic.slug),
        h("span", { class: "muted" }, t("settings.topic.summary", { strategy })),
        h("span", { class: "muted" }, t("settings.topic.summary.keywords", { n: topic.keywords.length })),
        h("button", {
          type: "button", class: "button button--quiet", "data-topic-id": topic.id, "aria-controls": "settings-topic",
          onclick: (event) => this.open(topic, event.currentTarget),
        }, h("span", tr("settings.topic.edit")), visuallyHidden(` «${topic.name}»`)));
    }));
    if (focused) this.list.querySelector(`button[data-topic-id="${focused}"]`)?.focus();
  }

  /** Opens the editor for `topic` (null: a new one); focus goes to its first field. */
  open(topic, opener) {
    this.editing = topic;
    this.opener = opener;
    this.errors.clear();
    setText($("#settings-topic-title"), topic ? "settings.topic.title.edit" : "settings.topic.title.new",
      topic ? { name: topic.name } : null);
    const slug = field(PREFIX, "slug");
    slug.value = topic?.slug ?? "";
    slug.readOnly = Boolean(topic);
    setText($("#settings-topic-slug-hint"), topic ? "settings.topic.slug.hint.edit" : "settings.topic.slug.hint.new");
    field(PREFIX, "name").value = topic?.name ?? "";
    this.renderNames(topic?.names || {});
    field(PREFIX, "keywords").value = (topic?.keywords || []).join(", ");
    field(PREFIX, "strategy").value = topic?.strategy ?? "";
    setNumber(field(PREFIX, "priority"), topic ? topic.priority : 0);
    for (const name of SECONDS) setNumber(field(PREFIX, name), topic ? topic[name] : null);
    this.refreshInherited();
    this.form.hidden = false;
    this.newButton.setAttribute("aria-expanded", String(!topic));
    (topic ? field(PREFIX, "name") : slug).focus();
  }

  close({ focus = false } = {}) {
    if (!this.isOpen) return;
    const topic = this.editing;
    this.editing = undefined;
    this.form.hidden = true;
    this.errors.clear();
    this.newButton.setAttribute("aria-expanded", "false");
    if (!focus) return;
    // The opener itself, or (the list was drawn again) the same topic's button.
    const again = topic && this.list.querySelector(`button[data-topic-id="${topic.id}"]`);
    (this.opener?.isConnected ? this.opener : again || this.newButton).focus();
  }

  /** One "name in …" field per language of the agency after its first. */
  renderNames(names) {
    const languages = (this.agency?.languages || []).slice(1);
    this.names.replaceChildren(...languages.map((code) => h("div", { class: "field" },
      h("label", { for: `${PREFIX}-names-${code}`, "data-language": code },
        t("settings.topic.name.in", { language: languageName(code) })),
      h("input", {
        id: `${PREFIX}-names-${code}`, type: "text", maxlength: 255, lang: code, "data-language": code,
        value: names[code] || "", "aria-describedby": `${PREFIX}-names-error`,
      }))));
    const inputs = [...this.names.querySelectorAll("input")];
    this.errors.register("names", { error: $(`#${PREFIX}-names-error`), inputs });
  }

  /** "As the agency's (…)" follows the agency's current settings and the UI's language. */
  refreshInherited() {
    if (!this.agency) return;
    setText($("#settings-topic-inherit"), "settings.topic.inherit", { name: t(`strategy.${this.agency.default_strategy}`) });
    for (const name of SECONDS) {
      const hint = $(`#${PREFIX}-${name}-hint span:not(.settings__human)`);
      const value = this.agency[name];
      if (value === null) setText(hint, "settings.topic.inherits.none");
      else setText(hint, "settings.topic.inherits.value", { value: span(value) });
    }
    for (const label of this.names.querySelectorAll("label[data-language]")) {
      label.textContent = t("settings.topic.name.in", { language: languageName(label.dataset.language) });
    }
  }

  values() {
    const names = { ...(this.editing?.names || {}) };
    for (const input of this.names.querySelectorAll("input")) {
      const value = input.value.trim();
      if (value) names[input.dataset.language] = value;
      else delete names[input.dataset.language];
    }
    return {
      slug: field(PREFIX, "slug").value.trim(),
      name: field(PREFIX, "name").value.trim(),
      names,
      keywords: field(PREFIX, "keywords").value.split(/[,;\n]+/).map((k) => k.trim()).filter(Boolean),
      strategy: field(PREFIX, "strategy").value || null,
      priority: numberOrNull(field(PREFIX, "priority")),
      ...Object.fromEntries(SECONDS.map((name) => [name, numberOrNull(field(PREFIX, name))])),
    };
  }

  async save() {
    if (this.submit.disabled || !this.isOpen) return;
    this.errors.clear();
    const body = this.values();
    for (const name of ["priority", ...SECONDS]) {
      if (body[name] === undefined) this.errors.show(name, t("settings.error.number"));
    }
    if (this.errors.any) {
      setStatus(this.status, t("settings.error.fields"), "error");
      this.errors.focusFirst();
      return;
    }
    const creating = this.editing === null;
    if (!creating) delete body.slug;
    try {
      const saved = await busy(this.submit, () => (creating
        ? this.api.post("/api/v1/topics", body)
        : this.api.patch(`/api/v1/topics/${this.editing.id}`, body)));
      this.topics = creating ? [...this.topics, saved] : this.topics.map((x) => (x.id === saved.id ? saved : x));
      this.editing = creating ? null : saved;
      this.renderList();
      this.close({ focus: true });
      setStatus(this.status, t(creating ? "settings.topic.created" : "settings.topic.saved", { name: saved.name }), "ok");
      this.onChanged(this.topics);
    } catch (error) {
      showRefusal(error, { errors: this.errors, status: this.status });
    }
  }

  relabel() {
    this.renderList();
    this.refreshInherited();
    humaniseAll(this.form);
  }
}
