// The inbox: three views with unread badges, and the conversation list, newest activity first.
// Items are kept by id and updated in place, so a live update never takes focus away.

import { $, $$, h, replaceChildren } from "./dom.js";
import { t } from "./i18n.js";
import { channelBadge, timeElement } from "./format.js";
import { targetBadge } from "./targets.js";

const VIEWS = ["mine", "unassigned", "all"];

export class Inbox {
  constructor(state, { onSelect, onView }) {
    this.state = state;
    this.list = $("#list");
    this.empty = $("#list-empty");
    this.items = new Map(); // conversation id → <li>
    this.loaded = false;
    for (const button of $$(".views__button")) {
      button.addEventListener("click", () => onView(button.dataset.view));
    }
    this.list.addEventListener("click", (event) => {
      const link = event.target.closest("a[data-id]");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      onSelect(Number(link.dataset.id), { focus: "conversation" });
    });
  }

  static get views() {
    return VIEWS;
  }

  render() {
    const { state } = this;
    for (const button of $$(".views__button")) {
      const view = button.dataset.view;
      button.setAttribute("aria-pressed", String(view === state.view));
      if (view === "all") {
        const key = state.me.role === "agent" ? "view.all.agency" : "view.all";
        const label = $(".views__label", button);
        label.dataset.i18n = key;
        label.textContent = t(key);
      }
      const badge = $(".badge", button);
      const unread = state.viewUnread(view);
      badge.hidden = unread === 0;
      replaceChildren(badge, h("span", { "aria-hidden": "true" }, String(unread)),
        h("span", { class: "visually-hidden" }, `, ${t("view.unread", { n: unread })}`));
    }
    this.renderList();
    this.renderTeam();
    const total = state.totalUnread();
    document.title = (total ? `(${total}) ` : "") + t("app.title");
  }

  renderList() {
    const { state } = this;
    const conversations = state.items();
    const focusedId = document.activeElement?.closest?.("#list a[data-id]")?.dataset.id;
    const keep = new Set(conversations.map((c) => c.id));
    for (const [id, li] of this.items) {
      if (!keep.has(id)) {
        li.remove();
        this.items.delete(id);
      }
    }
    conversations.forEach((conversation, index) => {
      const li = this.items.get(conversation.id) || h("li", { class: "list__item" });
      this.items.set(conversation.id, li);
      fill(li, conversation, state);
      if (this.list.children[index] !== li) this.list.insertBefore(li, this.list.children[index] || null);
    });
    if (focusedId && !this.list.contains(document.activeElement)) {
      $(`a[data-id="${focusedId}"]`, this.list)?.focus();
    }
    this.empty.hidden = conversations.length > 0;
    const key = this.loaded ? `list.empty.${state.view}` : "list.loading";
    this.empty.dataset.i18n = key;
    this.empty.textContent = t(key);
  }

  renderTeam() {
    const { state } = this;
    const colleagues = [...state.agents.values()].filter((a) => a.agent_id !== state.me.id);
    $("#team").hidden = colleagues.length === 0;
    $("#team-summary").textContent = t("team.heading", { n: state.onlineColleagues().length });
    replaceChildren($("#team-list"), colleagues.map((agent) => h("li", { class: "team__item" },
      h("span", { class: `dot dot--${agent.status}`, "aria-hidden": "true" }),
      h("span", { class: "team__name" }, agent.name),
      h("span", { class: "muted" }, ` — ${t(`presence.${agent.status}`)}`),
    )));
  }

  /** The id next to the selected one in the current view (step +1 / -1). */
  neighbour(step) {
    const ids = this.state.items().map((c) => c.id);
    if (!ids.length) return null;
    const at = ids.indexOf(this.state.selectedId);
    if (at === -1) return ids[step > 0 ? 0 : ids.length - 1];
    return ids[Math.min(ids.length - 1, Math.max(0, at + step))];
  }

  focusItem(id) {
    $(`a[data-id="${id}"]`, this.list)?.focus();
  }
}

function assigneeText(conversation, state) {
  if (conversation.assignee_id === null) return t("conv.unassigned");
  if (conversation.assignee_id === state.me.id) return t("conv.assignee.me");
  return t("conv.assignee", { name: state.agentName(conversation.assignee_id) });
}

function fill(li, conversation, state) {
  const unread = state.unreadCount(conversation.id);
  const selected = conversation.id === state.selectedId;
  const mark = conversation.assignee_id === state.me.id ? state.targetMark(conversation.id) : null;
  const link = h("a", {
    class: "item" + (unread ? " item--unread" : ""),
    href: `#/conversations/${conversation.id}`,
    "data-id": conversation.id,
    "aria-current": selected ? "true" : null,
  },
  h("span", { class: "item__top" },
    h("span", { class: "item__name" }, conversation.contact_name || t("conv.number", { id: conversation.id })),
    timeElement(conversation.last_message_at, "item__time")),
  h("span", { class: "item__bottom" },
    channelBadge(conversation.channel_type),
    h("span", { class: "item__assignee" }, assigneeText(conversation, state)),
    mark ? targetBadge(mark) : null,
    unread ? h("span", { class: "badge badge--item" },
      h("span", { "aria-hidden": "true" }, String(unread)),
      h("span", { class: "visually-hidden" }, `, ${t("conv.unread", { n: unread })}`)) : null));
  const old = li.firstElementChild;
  const hadFocus = old && old === document.activeElement;
  if (old && old.isEqualNode(link)) return;
  li.replaceChildren(link);
  if (hadFocus) link.focus();
}

export { assigneeText };
