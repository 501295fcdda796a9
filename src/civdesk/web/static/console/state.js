// What the console knows: conversations, cached transcripts, colleagues, unread messages.
// Every change arrives as an event snapshot; applying snapshots in order always converges.

const ACTIVE = new Set(["open", "pending"]);
const MAX_UNREAD_IDS = 200;

export class ConsoleState {
  constructor(me, myTopics = []) {
    this.me = me;
    // Topics this agent is skilled in: "unassigned" shows those (and the general queue) to agents.
    this.myTopics = new Set(myTopics);
    this.view = sessionStorage.getItem("civdesk.view") || "mine";
    this.selectedId = null;
    this.conversations = new Map(); // id → ConversationRead
    this.transcripts = new Map(); // conversation id → Map(message id → MessageRead), loaded ones only
    this.loadingTranscript = new Map(); // conversation id → events that came while it loaded
    this.agents = new Map(); // agent id → PresenceRead
    this.unread = new Map(); // conversation id → Set of inbound message ids not yet seen
    this.targets = new Map(); // conversation id → Map(target → {due_at, breached}): warnings for me
    this.cursor = null;
    this.restore();
  }

  // -- persistence: unread counts survive a reload, and the cursor lets a reload replay what it missed

  get storageKey() {
    return `civdesk.console.${this.me.id}`;
  }

  restore() {
    try {
      const saved = JSON.parse(localStorage.getItem(this.storageKey) || "{}");
      this.cursor = Number.isInteger(saved.cursor) ? saved.cursor : null;
      for (const [id, ids] of Object.entries(saved.unread || {})) this.unread.set(Number(id), new Set(ids));
      for (const [id, marks] of Object.entries(saved.targets || {})) {
        this.targets.set(Number(id), new Map(Object.entries(marks)));
      }
    } catch {
      localStorage.removeItem(this.storageKey);
    }
  }

  save() {
    const unread = {};
    for (const [id, ids] of this.unread) if (ids.size) unread[id] = [...ids].slice(-MAX_UNREAD_IDS);
    const targets = {};
    for (const [id, marks] of this.targets) targets[id] = Object.fromEntries(marks);
    localStorage.setItem(this.storageKey, JSON.stringify({ cursor: this.cursor, unread, targets }));
  }

  // -- conversations and views

  upsertConversation(conversation) {
    const known = this.conversations.get(conversation.id);
    this.conversations.set(conversation.id, { ...known, ...conversation });
  }

  inView(conversation, view) {
    if (!ACTIVE.has(conversation.status)) return false;
    if (view === "mine") return conversation.assignee_id === this.me.id;
    if (view === "unassigned") return conversation.assignee_id === null && this.mayTake(conversation);
    return true;
  }

  /** An agent's unassigned view holds their topics and the general queue; with no skills set up (an agency
   * without routing), and for supervisors, it holds every unassigned conversation. */
  mayTake(conversation) {
    if (this.me.role !== "agent" || this.myTopics.size === 0 || conversation.topic_id === null) return true;
    return this.myTopics.has(conversation.topic_id);
  }

  /** The view's conversations, newest activity first. */
  items(view = this.view) {
    return [...this.conversations.values()]
      .filter((c) => this.inView(c, view))
      .sort((a, b) => Date.parse(b.last_message_at) - Date.parse(a.last_message_at) || b.id - a.id);
  }

  unreadCount(conversationId) {
    return this.unread.get(conversationId)?.size ?? 0;
  }

  /** How many conversations in a view have unread messages. */
  viewUnread(view) {
    return this.items(view).filter((c) => this.unreadCount(c.id) > 0).length;
  }

  totalUnread() {
    let total = 0;
    for (const conversation of this.conversations.values()) {
      if (ACTIVE.has(conversation.status) && this.unreadCount(conversation.id) > 0) total += 1;
    }
    return total;
  }

  markUnread(conversationId, messageId) {
    if (!this.unread.has(conversationId)) this.unread.set(conversationId, new Set());
    this.unread.get(conversationId).add(messageId);
  }

  markRead(conversationId) {
    if (this.unread.delete(conversationId)) this.save();
  }

  /** The conversation has left this agency (transferred): forget everything about it. */
  forget(conversationId) {
    const known = this.conversations.delete(conversationId);
    this.transcripts.delete(conversationId);
    this.loadingTranscript.delete(conversationId);
    const marked = this.targets.delete(conversationId);
    if (this.unread.delete(conversationId) || marked) this.save();
    if (this.selectedId === conversationId) this.selectedId = null;
    return known;
  }

  // -- response targets (target.warning / target.breached naming me): a "!" in the list until answered

  markTarget(conversationId, target, dueAt, breached) {
    if (!this.targets.has(conversationId)) this.targets.set(conversationId, new Map());
    this.targets.get(conversationId).set(target, { due_at: dueAt, breached });
    this.save();
  }

  /** Cleared by an answer (response targets only), or entirely (resolved, no longer mine). */
  clearTargets(conversationId, kinds = null) {
    const marks = this.targets.get(conversationId);
    if (!marks) return;
    for (const kind of [...marks.keys()]) if (!kinds || kinds.has(kind)) marks.delete(kind);
    if (!marks.size) this.targets.delete(conversationId);
    this.save();
  }

  /** The most pressing mark of a conversation (a breach first, then the earliest due), or null. */
  targetMark(conversationId) {
    const marks = this.targets.get(conversationId);
    if (!marks) return null;
    const all = [...marks].map(([target, mark]) => ({ target, ...mark }));
    all.sort((a, b) => Number(b.breached) - Number(a.breached) || Date.parse(a.due_at) - Date.parse(b.due_at));
    return all[0] ?? null;
  }

  // -- transcripts

  transcript(conversationId) {
    const messages = this.transcripts.get(conversationId);
    return messages ? [...messages.values()].sort((a, b) => a.id - b.id) : null;
  }

  upsertMessage(message) {
    const loading = this.loadingTranscript.get(message.conversation_id);
    if (loading) {
      loading.push(message); // applied on top of the fetched page, so nothing older wins
      return false;
    }
    const messages = this.transcripts.get(message.conversation_id);
    if (!messages) return false;
    messages.set(message.id, { ...messages.get(message.id), ...message });
    return true;
  }

  beginTranscript(conversationId) {
    this.loadingTranscript.set(conversationId, []);
  }

  finishTranscript(conversationId, fetched) {
    const messages = new Map(fetched.map((m) => [m.id, m]));
    for (const later of this.loadingTranscript.get(conversationId) || []) {
      messages.set(later.id, { ...messages.get(later.id), ...later });
    }
    this.loadingTranscript.delete(conversationId);
    this.transcripts.set(conversationId, messages);
  }

  failTranscript(conversationId) {
    this.loadingTranscript.delete(conversationId);
  }

  forgetTranscripts() {
    this.transcripts.clear();
  }

  // -- colleagues

  agentName(agentId) {
    return this.agents.get(agentId)?.name ?? `#${agentId}`;
  }

  onlineColleagues() {
    return [...this.agents.values()].filter((a) => a.agent_id !== this.me.id && a.status === "online");
  }
}
