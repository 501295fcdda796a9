// The supervisor's wall, in place of the open conversation: the queues per topic (waiting, longest
// wait), conversations at risk of missing a response target, and the agents by region with their
// load. It refreshes on the events that change it (debounced) and every 15 s while it is shown;
// one click on a conversation opens it.

import { $, h, replaceChildren } from "./dom.js";
import { locale, t } from "./i18n.js";
import { duration } from "./format.js";
import { PanePanel } from "./pane.js";

const REFRESH_MS = 15_000;
const EVENT_DELAY_MS = 800;
const RISK_MINUTES = 15;
const LIVE = /^(conversation\.|message\.created|agent\.presence|target\.)/;

export class SupervisorWall extends PanePanel {
  constructor(state, { api, flash, onSelect, onToggle }) {
    super({ section: $("#wall"), button: $("#wall-open"), closeButton: $("#wall-close"), onToggle });
    this.state = state;
    this.api = api;
    this.flash = flash;
    this.onSelect = onSelect;
    this.data = null;
    this.timer = null;
    this.eventTimer = null;
    this.loading = false;
  }

  opened() {
    if (!this.data) replaceChildren($("#wall-updated"), t("wall.loading"));
    this.refresh();
    clearInterval(this.timer);
    this.timer = setInterval(() => document.visibilityState === "visible" && this.refresh(), REFRESH_MS);
  }

  closed() {
    clearInterval(this.timer);
    clearTimeout(this.eventTimer);
    this.timer = null;
  }

  /** Any event that may change a queue, a load or a target refreshes the open wall, debounced. */
  seen(event) {
    if (!this.isOpen || !LIVE.test(event.type)) return;
    clearTimeout(this.eventTimer);
    this.eventTimer = setTimeout(() => this.refresh(), EVENT_DELAY_MS);
  }

  async refresh() {
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = true;
    try {
      const [queues, risk, roster, topics] = await Promise.all([
        this.api.get("/api/v1/routing/queues"),
        this.api.get(`/api/v1/routing/at-risk?within_minutes=${RISK_MINUTES}`),
        this.api.get("/api/v1/routing/roster"),
        this.api.get("/api/v1/topics"),
      ]);
      this.data = { queues, risk, roster, topics: new Map(topics.map((topic) => [topic.id, topic.name])), at: new Date() };
      if (this.isOpen) this.render();
    } catch (error) {
      this.flash(t("error.generic", { message: error.message }));
    } finally {
      this.loading = false;
      if (this.again) {
        this.again = false;
        this.refresh();
      }
    }
  }

  relabel() {
    if (this.data && this.isOpen) this.render();
  }

  render() {
    const { queues, risk, roster, topics, at } = this.data;
    const focusedId = document.activeElement?.closest?.("#wall [data-id]")?.dataset.id;
    const time = at.toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    $("#wall-updated").textContent = t("wall.updated", { time });
    this.renderQueues(queues, topics);
    this.renderRisk(risk);
    this.renderAgents(roster);
    if (focusedId) $(`#wall [data-id="${focusedId}"]`)?.focus();
  }

  renderQueues(queues, topics) {
    const box = $("#wall-queues");
    if (!queues.length) {
      replaceChildren(box, h("p", { class: "muted" }, t("wall.queues.empty")));
      return;
    }
    replaceChildren(box, h("table", { class: "wall__table" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("wall.queues.topic")),
        h("th", { scope: "col" }, t("wall.queues.waiting")),
        h("th", { scope: "col" }, t("wall.queues.longest")))),
      h("tbody", {}, queues.map((queue) => h("tr", {},
        h("th", { scope: "row" }, queue.topic_id === null ? t("wall.queues.general") : topics.get(queue.topic_id) || `#${queue.topic_id}`),
        h("td", {}, String(queue.waiting)),
        h("td", {}, queue.longest_wait_seconds === null ? "—" : duration(queue.longest_wait_seconds)))))));
  }

  renderRisk(risk) {
    const list = $("#wall-risk");
    if (!risk.length) {
      replaceChildren(list, h("li", { class: "muted" }, t("wall.risk.empty")));
      return;
    }
    replaceChildren(list, risk.map((item) => {
      const left = item.breached ? t("wall.risk.breached", { time: duration(-item.seconds_left) })
        : t("wall.risk.due", { time: duration(item.seconds_left) });
      const who = item.assignee_id === null ? t("wall.risk.nobody") : this.state.agentName(item.assignee_id);
      return h("li", { class: "wall__risk" + (item.breached ? " wall__risk--breached" : "") },
        h("button", {
          type: "button",
          class: "button button--quiet wall__open",
          "data-id": `${item.conversation_id}-${item.target}`,
          onclick: () => this.onSelect(item.conversation_id),
        },
        h("span", { class: "wall__name" }, item.contact_name || t("conv.number", { id: item.conversation_id })),
        h("span", {}, t(`wall.target.${item.target}`)),
        h("span", { class: "wall__left" }, left),
        h("span", { class: "muted" }, who),
        h("span", { class: "visually-hidden" }, `, № ${item.conversation_id}`)));
    }));
  }

  renderAgents(roster) {
    const box = $("#wall-agents");
    if (!roster.length) {
      replaceChildren(box, h("p", { class: "muted" }, t("wall.agents.empty")));
      return;
    }
    const regions = new Map();
    for (const agent of roster) {
      const key = agent.region || "";
      if (!regions.has(key)) regions.set(key, []);
      regions.get(key).push(agent);
    }
    const names = [...regions.keys()].sort((a, b) => (a === "") - (b === "") || a.localeCompare(b, locale()));
    replaceChildren(box, names.map((region) => {
      const agents = regions.get(region);
      const online = agents.filter((a) => a.status === "online").length;
      const label = region || t("wall.agents.no_region");
      return h("section", { class: "wall__region" },
        h("h4", {}, t("wall.agents.region", { region: label, online, total: agents.length })),
        h("ul", { class: "wall__agents" }, agents.map((agent) => h("li", { class: "wall__agent" },
          h("span", { class: `dot dot--${agent.status}`, "aria-hidden": "true" }),
          h("span", { class: "wall__name" }, agent.name),
          h("span", { class: "muted" }, t(`agent.status.${agent.status}`)),
          h("span", { class: "wall__load" }, t("wall.agents.load", { open: agent.open_count, capacity: agent.capacity }))))));
    }));
  }
}
