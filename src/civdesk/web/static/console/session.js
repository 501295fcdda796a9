// A signed-in console: loads the lists, follows the event stream, routes selection and shortcuts.

import * as i18n from "./i18n.js";
import { $ } from "./dom.js";
import { createApi } from "./api.js";
import { EventSocket } from "./socket.js";
import { ConsoleState } from "./state.js";
import { Inbox } from "./inbox.js";
import { ConversationPane } from "./conversation.js";
import { PresenceControl } from "./presence.js";
import { installShortcuts } from "./shortcuts.js";
import { SupervisorWall } from "./wall.js";
import { SettingsPanel } from "./settings.js";
import { RESPONSE_TARGETS, TargetNotices } from "./targets.js";
import { channelName } from "./format.js";
import { beep, notifyNewConversation } from "./notify.js";

const t = i18n.t;
const PAGE = 200;
const MAX_PAGES = 5;

export class ConsoleSession {
  constructor({ token, onExpired }) {
    this.token = token;
    this.onExpired = onExpired;
    this.api = createApi({ token: () => this.token, onUnauthorized: () => this.expire() });
    this.pending = []; // events that arrive while the lists load, applied on top of them
    this.loading = true;
    this.renderQueued = false;
    this.expired = false;
  }

  async start({ fresh }) {
    const me = await this.api.get("/api/v1/me");
    const skills = await this.api.get(`/api/v1/agents/${me.id}/skills`);
    this.state = new ConsoleState(me, skills.topics.map((skill) => skill.topic_id));
    this.inbox = new Inbox(this.state, {
      onSelect: (id, options) => this.select(id, options),
      onView: (view) => this.setView(view),
    });
    this.targets = new TargetNotices(this.state, { onSelect: (id) => this.select(id, { focus: "conversation" }) });
    const tools = { api: this.api, announce: (m) => this.announce(m), flash: (m) => this.flash(m) };
    this.pane = new ConversationPane(this.state, tools);
    this.presence = new PresenceControl(this.state, tools);
    // The wall and the settings take the conversation's place one at a time; closing one shows it again.
    const onToggle = (open, panel) => {
      if (!open) this.pane.show();
      else for (const other of this.panels()) if (other !== panel) other.close({ restore: false });
    };
    if (me.role !== "agent") {
      this.wall = new SupervisorWall(this.state, {
        ...tools, onToggle, onSelect: (id) => this.select(id, { focus: "conversation" }),
      });
    }
    if (me.role === "admin") this.settings = new SettingsPanel({ ...tools, onToggle });
    await this.presence.load({ goOnline: fresh });
    this.socket = new EventSocket({
      token: this.token,
      cursor: this.state.cursor,
      handlers: {
        onEvent: (event, { live }) => this.receive(event, live),
        onReady: (ready) => this.ready(ready),
        onState: (connection) => this.connection(connection),
        onUnauthorized: () => this.expire(),
        onCursor: (cursor) => {
          this.state.cursor = cursor;
          this.queueSave();
        },
      },
    });
    this.socket.start();
    this.wire();
    return true;
  }

  /** After signing in focus goes to the inbox (the form it was in is gone); a reload leaves focus alone. */
  afterShown({ fresh }) {
    $("#me-name").textContent = this.state.me.name;
    $("#me-role").textContent = `(${t(`role.${this.state.me.role}`)})`;
    const heading = $("#inbox-heading");
    heading.tabIndex = -1;
    if (fresh) heading.focus();
    this.render();
  }

  wire() {
    document.addEventListener("civdesk:changed", () => this.render());
    // Our own transfer: its event may have arrived before the answer, so say where it went regardless.
    document.addEventListener("civdesk:gone", (event) => this.gone(event.detail.id, event.detail.message, true));
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && this.state.selectedId !== null) {
        this.state.markRead(this.state.selectedId);
        this.render();
      }
    });
    window.addEventListener("hashchange", () => this.followHash());
    window.addEventListener("pagehide", () => this.state.save());
    $("#back").addEventListener("click", () => {
      $("#layout").dataset.pane = "list";
      this.inbox.focusItem(this.state.selectedId);
    });
    installShortcuts({
      enabled: () => !$("#app").hidden,
      step: (step) => {
        const id = this.inbox.neighbour(step);
        if (id !== null) this.select(id, { focus: "list" });
      },
      view: (view) => this.setView(view),
      compose: (mode) => this.state.selectedId !== null && this.pane.composer.focus(mode),
      assign: () => this.pane.assign(),
      resolve: () => this.pane.resolve(),
      transfer: () => !this.pane.section.hidden && this.pane.transfer(),
      wall: () => this.wall?.toggle(),
      settings: () => this.settings?.toggle(),
    });
  }

  // -- lists

  async ready({ kind, first }) {
    if (first || kind === "reset") {
      if (kind === "reset") this.state.forgetTranscripts();
      await this.reload();
      if (first) this.followHash();
    } else {
      this.connection("restored");
      this.announce(t("conn.restored"));
      setTimeout(() => $("#connection").dataset.state === "restored" && this.connection("live"), 4000);
    }
  }

  /** Loads the open conversations and colleagues; events meanwhile wait and are applied on top. */
  async reload() {
    this.loading = true;
    try {
      const fetched = new Map();
      for (const status of ["open", "pending"]) {
        let before = null;
        for (let page = 0; page < MAX_PAGES; page += 1) {
          const query = `status=${status}&limit=${PAGE}` + (before ? `&before_id=${before}` : "");
          const result = await this.api.get(`/api/v1/conversations?${query}`);
          for (const conversation of result.items) fetched.set(conversation.id, conversation);
          before = result.next_before_id;
          if (before === null) break;
        }
      }
      const selected = this.state.conversations.get(this.state.selectedId);
      if (selected && !fetched.has(selected.id)) fetched.set(selected.id, selected);
      this.state.conversations = fetched;
      await this.presence.loadTeam();
    } catch (error) {
      this.flash(t("error.generic", { message: error.message }));
    } finally {
      this.loading = false;
      this.inbox.loaded = true;
      const pending = this.pending;
      this.pending = [];
      for (const [event, live] of pending) this.apply(event, live);
      this.render();
      if (this.state.selectedId !== null && !this.panelOpen()) this.pane.show();
    }
  }

  // -- events

  receive(event, live) {
    if (this.loading) this.pending.push([event, live]);
    else this.apply(event, live);
  }

  apply(event, live) {
    const { state } = this;
    const payload = event.payload || {};
    this.wall?.seen(event);
    switch (event.type) {
      case "conversation.created":
        state.upsertConversation(payload);
        if (live) this.newConversation(payload);
        break;
      case "conversation.updated":
      case "conversation.assigned": {
        const before = state.conversations.get(payload.id);
        state.upsertConversation(payload);
        if (payload.status === "resolved") {
          state.clearTargets(payload.id);
          this.targets.closed(payload.id, { warningsOnly: true });
        } else if (payload.assignee_id !== state.me.id) {
          state.clearTargets(payload.id); // the warnings were for me as the assignee
          this.targets.closed(payload.id, { warningsOnly: true });
        }
        const taken = before && before.assignee_id !== payload.assignee_id && payload.assignee_id !== state.me.id;
        if (live && event.type === "conversation.assigned" && taken && payload.id === state.selectedId) {
          this.announce(t("conv.assigned_other", { name: state.agentName(payload.assignee_id) }));
        }
        break;
      }
      case "message.created": {
        const { message, conversation } = payload;
        state.upsertConversation(conversation);
        state.upsertMessage(message);
        const looking = message.conversation_id === state.selectedId && document.visibilityState === "visible";
        if (message.direction === "in" && !looking) state.markUnread(message.conversation_id, message.id);
        if (message.direction === "out") {
          // Answered: the wait that the response target measured is over (the server cancels its timers).
          state.clearTargets(message.conversation_id, RESPONSE_TARGETS);
          this.targets.answered(message.conversation_id);
        }
        break;
      }
      case "target.warning":
      case "target.breached":
        this.targets.event(event.type, payload, live);
        break;
      case "message.delivery":
      case "message.updated":
        state.upsertMessage(payload.message);
        break;
      case "agent.presence":
        this.presence.changed(payload);
        break;
      case "conversation.transferred":
        if (payload.to_agency_id !== state.me.agency_id) {
          const shown = payload.conversation_id === state.selectedId;
          this.gone(payload.conversation_id, live && shown ? t("transfer.gone", { id: payload.conversation_id }) : null);
        }
        return;
      default:
        return;
    }
    this.render();
  }

  newConversation(conversation) {
    const channel = channelName(conversation.channel_type);
    const name = conversation.contact_name || t("conv.number", { id: conversation.id });
    this.announce(t("announce.new_conversation", { name, channel }));
    if ($("#sound").checked) beep();
    notifyNewConversation({ name, channel, onClick: () => this.select(conversation.id, { focus: "conversation" }) });
  }

  /** A conversation left this agency (transferred): it leaves every list, and the pane if open there. */
  gone(id, message, always = false) {
    const { state } = this;
    const shown = state.selectedId === id;
    this.targets.closed(id);
    if (!state.forget(id) && !shown) {
      if (always && message) this.announce(message);
      return;
    }
    if (shown) {
      const focusLost = this.pane.section.contains(document.activeElement) || document.querySelector("dialog[open]");
      history.replaceState(null, "", location.pathname + location.search);
      if (!this.panelOpen()) {
        this.pane.show();
        $("#layout").dataset.pane = "list";
      }
      if (focusLost) $("#inbox-heading").focus();
    }
    if (message) this.announce(message);
    this.render();
  }

  // -- selection and views

  followHash() {
    const match = /^#\/conversations\/(\d+)$/.exec(location.hash);
    if (match && Number(match[1]) !== this.state.selectedId) this.select(Number(match[1]), { focus: null });
  }

  async select(id, { focus = "conversation" } = {}) {
    const { state } = this;
    if (!state.conversations.has(id)) {
      try {
        state.upsertConversation(await this.api.get(`/api/v1/conversations/${id}`));
      } catch (error) {
        this.flash(t("error.generic", { message: error.message }));
        return;
      }
    }
    state.selectedId = id;
    state.markRead(id);
    for (const panel of this.panels()) panel.close({ restore: false });
    if (location.hash !== `#/conversations/${id}`) history.replaceState(null, "", `#/conversations/${id}`);
    $("#layout").dataset.pane = "conversation";
    this.render();
    const shown = this.pane.show();
    if (focus === "list") this.inbox.focusItem(id);
    // On a narrow screen the list gives way to the conversation: focus follows what is visible.
    const listHidden = !$("#list").checkVisibility();
    if (focus === "conversation" || (focus === "list" && listHidden)) $("#log").focus();
    await shown;
  }

  setView(view) {
    this.state.view = view;
    sessionStorage.setItem("civdesk.view", view);
    $("#layout").dataset.pane = "list";
    this.render();
  }

  // -- output

  render() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    // A timer, not requestAnimationFrame: background tabs must still update counts and the title.
    setTimeout(() => {
      this.renderQueued = false;
      this.inbox.render();
      if (this.state.selectedId !== null && !this.pane.section.hidden) {
        this.pane.renderHeader();
        this.pane.renderLog();
      }
    }, 0);
  }

  relabel() {
    $("#me-role").textContent = `(${t(`role.${this.state.me.role}`)})`;
    this.presence.relabel();
    this.wall?.relabel();
    this.settings?.relabel();
    this.targets.relabel();
    this.pane.composer.setMode(this.pane.composer.mode);
    this.pane.rerender();
    this.render();
  }

  /** The panels that may take the conversation's place: the wall, the settings (by role). */
  panels() {
    return [this.wall, this.settings].filter(Boolean);
  }

  /** The wall or the settings hold the pane instead of a conversation. */
  panelOpen() {
    return this.panels().some((panel) => panel.isOpen);
  }

  queueSave() {
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.state.save(), 250);
  }

  connection(status) {
    const region = $("#connection");
    region.dataset.state = status;
    region.textContent = status === "live" ? "" : t(`conn.${status}`);
    region.hidden = status === "live";
  }

  announce(message) {
    const region = $("#announce");
    region.textContent = "";
    setTimeout(() => {
      region.textContent = message;
    }, 50);
  }

  flash(message) {
    const flash = $("#flash");
    flash.textContent = message;
    flash.hidden = false;
    clearTimeout(this.flashTimer);
    this.flashTimer = setTimeout(() => {
      flash.hidden = true;
    }, 10_000);
  }

  expire() {
    if (this.expired) return;
    this.expired = true;
    this.socket?.stop();
    this.onExpired();
  }

  async stop() {
    this.state.save();
    await this.presence.leave();
    this.socket?.stop();
  }
}
