// Response targets (routing/targets.py): the server warns at 80 % of a target (target.warning, naming
// the assignee) and reports a miss at the target (target.breached). The signed-in agent gets a visible,
// politely announced notice for a warning on their own conversation, and the conversation keeps a "!"
// badge in the list until someone answers (a resolution target: until it is resolved). Supervisors
// also get a notice for every breach, kept until dismissed. Notices never take focus; each links to
// its conversation.

import { $, h } from "./dom.js";
import { t } from "./i18n.js";
import { shortTime } from "./format.js";

export const RESPONSE_TARGETS = new Set(["first_response", "next_response"]);
const MAX_NOTICES = 5;

/** The badge's text: "відповідь потрібна до 14:05", "вирішити до 16:00", "строк минув о 14:05". */
export function markText(mark) {
  const time = shortTime(mark.due_at);
  if (mark.breached) return t("target.badge.breached", { time });
  return t(RESPONSE_TARGETS.has(mark.target) ? "target.badge.response" : "target.badge.resolution", { time });
}

/** The "!" beside a conversation in the list, with its text for screen readers (and a tooltip). */
export function targetBadge(mark) {
  const text = markText(mark);
  return h("span", { class: "target-badge" + (mark.breached ? " target-badge--breached" : ""), title: text },
    h("span", { "aria-hidden": "true" }, "!"),
    h("span", { class: "visually-hidden" }, `, ${text}`));
}

export class TargetNotices {
  constructor(state, { onSelect }) {
    this.state = state;
    this.region = $("#notices");
    this.notices = new Map(); // conversation id → {type, payload, node}
    this.region.addEventListener("click", (event) => {
      const dismiss = event.target.closest("button[data-dismiss]");
      if (dismiss) {
        const next = dismiss.closest(".notice-item").nextElementSibling?.querySelector("a");
        this.remove(Number(dismiss.dataset.dismiss));
        (next || $("#inbox-heading")).focus(); // focus was on the button that is gone
        return;
      }
      const link = event.target.closest("a[data-id]");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      onSelect(Number(link.dataset.id));
    });
  }

  /** A target.warning or target.breached event; replayed ones (not live) only mark the list. */
  event(type, payload, live) {
    const { state } = this;
    const mine = payload.assignee_id === state.me.id;
    const breached = type === "target.breached";
    if (mine) state.markTarget(payload.conversation_id, payload.target, payload.due_at, breached);
    if (!live) return;
    if ((!breached && mine) || (breached && state.me.role !== "agent")) this.show(type, payload);
  }

  /** Someone answered the citizen: a response-target warning is done (a breach stays until dismissed). */
  answered(conversationId) {
    const notice = this.notices.get(conversationId);
    if (notice?.type === "target.warning" && RESPONSE_TARGETS.has(notice.payload.target)) this.remove(conversationId);
  }

  /** Resolved or no longer the agent's: a warning is done; transferred away: any notice is. */
  closed(conversationId, { warningsOnly = false } = {}) {
    const notice = this.notices.get(conversationId);
    if (notice && (!warningsOnly || notice.type === "target.warning")) this.remove(conversationId);
  }

  show(type, payload) {
    const id = payload.conversation_id;
    const old = this.notices.get(id);
    const notice = { type, payload, node: h("p", { class: "notice-item" }) };
    this.fill(notice);
    if (old) old.node.replaceWith(notice.node);
    else this.region.append(notice.node);
    this.notices.set(id, notice);
    while (this.notices.size > MAX_NOTICES) this.remove(this.notices.keys().next().value);
  }

  fill({ type, payload, node }) {
    const id = payload.conversation_id;
    const time = shortTime(payload.due_at);
    let text;
    if (type === "target.breached") {
      const who = payload.assignee_id === null ? t("wall.risk.nobody") : this.state.agentName(payload.assignee_id);
      text = t("target.notice.breached", { id, time, target: t(`wall.target.${payload.target}`), who });
    } else {
      const key = RESPONSE_TARGETS.has(payload.target) ? "target.notice.response" : "target.notice.resolution";
      text = t(key, { id, time });
    }
    node.className = "notice-item" + (type === "target.breached" ? " notice-item--breached" : "");
    node.replaceChildren(
      h("a", { href: `#/conversations/${id}`, "data-id": id }, text), " ",
      h("button", { type: "button", class: "button button--quiet notice-item__dismiss", "data-dismiss": id,
        "aria-label": t("target.notice.dismiss.label", { text }) }, t("target.notice.dismiss")));
  }

  remove(conversationId) {
    const notice = this.notices.get(conversationId);
    if (!notice) return;
    notice.node.remove();
    this.notices.delete(conversationId);
  }

  relabel() {
    for (const notice of this.notices.values()) this.fill(notice);
  }
}
