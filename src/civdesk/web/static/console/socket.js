// The agent's event stream (/api/v1/ws): reconnects by itself and resumes from the last event id,
// so nothing is lost while it was down; a "reset" from the server means "reload your lists".

const PING_MS = 20_000;
const SILENCE_MS = 60_000; // the server sends a heartbeat every 25 s; silence this long = a dead link
const MAX_BACKOFF_MS = 10_000;

export class EventSocket {
  /**
   * handlers: onEvent(event, {live}), onReady({kind: "hello"|"replayed"|"reset", first}),
   * onState("connecting"|"live"|"reconnecting"|"offline"), onUnauthorized()
   */
  constructor({ token, cursor = null, handlers }) {
    this.token = token;
    this.cursor = cursor;
    this.handlers = handlers;
    this.ws = null;
    this.attempt = 0;
    this.ready = false;
    this.everReady = false;
    this.stopped = false;
    this.timers = {};
    this.onOnline = () => this.reconnectNow();
    this.onOffline = () => this.handlers.onState("offline");
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    this.clearTimers();
    if (this.ws) this.ws.close(1000, "logout");
    this.ws = null;
  }

  reconnectNow() {
    if (this.stopped) return;
    this.attempt = 0;
    clearTimeout(this.timers.retry);
    if (!this.ws || this.ws.readyState > WebSocket.OPEN) this.connect();
  }

  connect() {
    this.clearTimers();
    this.ready = false;
    this.handlers.onState(this.everReady ? "reconnecting" : "connecting");
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let url = `${scheme}//${location.host}/api/v1/ws?token=${encodeURIComponent(this.token)}`;
    if (this.cursor !== null) url += `&last_event_id=${this.cursor}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.addEventListener("message", (message) => this.receive(ws, message));
    ws.addEventListener("close", (event) => this.closed(ws, event));
    ws.addEventListener("open", () => this.watch(ws));
  }

  receive(ws, message) {
    if (ws !== this.ws) return;
    this.watch(ws);
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    switch (event.type) {
      case "hello":
      case "replayed":
      case "reset":
        this.cursor = Math.max(this.cursor ?? 0, event.last_event_id);
        if (event.type === "reset") this.cursor = event.last_event_id;
        this.ready = true;
        this.attempt = 0;
        this.handlers.onState("live");
        this.handlers.onReady({ kind: event.type, first: !this.everReady });
        this.everReady = true;
        return;
      case "heartbeat":
      case "pong":
        return;
      default:
        if (typeof event.id !== "number") return;
        // Ids only grow, except for the rare late commit on PostgreSQL: keep the highest seen.
        this.cursor = Math.max(this.cursor ?? 0, event.id);
        this.handlers.onEvent(event, { live: this.ready });
        this.handlers.onCursor?.(this.cursor);
    }
  }

  closed(ws, event) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.clearTimers();
    if (this.stopped) return;
    if (event.code === 4401) {
      this.handlers.onUnauthorized();
      return;
    }
    this.handlers.onState(navigator.onLine === false ? "offline" : "reconnecting");
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt += 1;
    this.timers.retry = setTimeout(() => this.connect(), delay);
  }

  /** Restarts the silence watchdog and keeps a ping going, so a half-open link is noticed. */
  watch(ws) {
    clearTimeout(this.timers.silence);
    this.timers.silence = setTimeout(() => ws.close(4000, "silent"), SILENCE_MS);
    if (!this.timers.ping) {
      this.timers.ping = setInterval(() => {
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ping" }));
      }, PING_MS);
    }
  }

  clearTimers() {
    clearTimeout(this.timers.retry);
    clearTimeout(this.timers.silence);
    clearInterval(this.timers.ping);
    this.timers = {};
  }
}
