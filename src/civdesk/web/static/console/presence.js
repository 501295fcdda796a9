// The agent's own presence (online / away / offline), colleagues' presence, and the notification switch.

import { $ } from "./dom.js";
import { t } from "./i18n.js";
import { askPermission, notificationPermission, notificationsSupported } from "./notify.js";

export class PresenceControl {
  constructor(state, { api, announce, flash }) {
    this.state = state;
    this.api = api;
    this.announce = announce;
    this.flash = flash;
    this.select = $("#presence");
    this.status = "offline";
    this.select.addEventListener("change", () => this.choose(this.select.value));
    const sound = $("#sound");
    sound.checked = localStorage.getItem("civdesk.sound") !== "off";
    sound.addEventListener("change", () => localStorage.setItem("civdesk.sound", sound.checked ? "on" : "off"));
    const notify = $("#notify");
    notify.hidden = !notificationsSupported() || notificationPermission() !== "default";
    notify.addEventListener("click", async () => {
      const permission = await askPermission();
      notify.hidden = permission !== "default";
      this.announce(t(permission === "granted" ? "notify.enabled" : "notify.denied"));
    });
  }

  /** Right after signing in the agent is online; a reload keeps whatever the server says. */
  async load({ goOnline }) {
    const mine = goOnline
      ? await this.api.put("/api/v1/presence/me", { status: "online" })
      : await this.api.get("/api/v1/presence/me");
    this.show(mine.status);
  }

  async loadTeam() {
    const team = await this.api.get("/api/v1/presence");
    this.state.agents = new Map(team.items.map((agent) => [agent.agent_id, agent]));
    const mine = this.state.agents.get(this.state.me.id);
    if (mine) this.show(mine.status);
  }

  show(status) {
    this.status = status;
    this.select.value = status;
    $("#presence-dot").className = `dot dot--${status}`;
  }

  async choose(status) {
    const previous = this.status;
    try {
      const mine = await this.api.put("/api/v1/presence/me", { status });
      this.show(mine.status);
      this.announce(t("presence.changed", { status: t(`presence.${mine.status}`) }));
    } catch (error) {
      this.show(previous);
      this.flash(t("error.generic", { message: error.message }));
    }
  }

  /** agent.presence: a colleague (or this agent, from another tab or the server) changed. */
  changed(payload) {
    const agent = this.state.agents.get(payload.agent_id);
    if (agent) {
      agent.status = payload.status;
      agent.changed_at = payload.changed_at;
    } else {
      this.loadTeam().catch(() => {}); // someone new joined the agency
    }
    if (payload.agent_id !== this.state.me.id) return;
    this.show(payload.status);
    if (payload.cause === "console_closed") {
      // Replayed events come in a batch: tell the agent only if offline is still the latest word.
      setTimeout(() => this.status === "offline" && this.flash(t("presence.auto_offline")), 0);
    }
  }

  relabel() {
    this.show(this.status);
  }

  async leave() {
    try {
      await this.api.put("/api/v1/presence/me", { status: "offline" });
    } catch {
      // signing out goes on; the lease runs out by itself
    }
  }
}
