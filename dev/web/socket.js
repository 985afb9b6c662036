// The WebSocket half of the API (docs/websocket.md).
//
// - Connect to `<wsUrl>/?token=<JWT>`: browsers cannot set headers on a WebSocket, so the token is a query parameter.
//   A bad token makes the server refuse the upgrade; the browser only sees the socket close.
// - Client frames are JSON objects: {"action": ..., ...fields, "requestId"?}. The answer echoes the requestId.
// - Server frames are {"event": NAME, "data": {...}}.
// - The server closes idle sockets after 10 minutes (only client frames count): ping every few minutes.
// - Sockets close after 2 hours at most, and networks drop: reconnect with backoff. What was missed meanwhile
//   comes from GET /api/messages/sync (the "open" listener gets `reconnected: true` to know when to call it).

const PING_INTERVAL_MS = 4 * 60 * 1000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30 * 1000;

export class Socket {
  constructor(wsUrl, token) {
    this.url = `${wsUrl}/?token=${encodeURIComponent(token)}`;
    this.listeners = new Map(); // server event name (plus "open" and "close") -> [handler]
    this.ws = null;
    this.attempt = 0; // failed attempts since the last successful open: the backoff's exponent
    this.everOpened = false;
    this.stopped = true;
    this.retryTimer = null;
    this.pingTimer = null;
  }

  on(event, handler) {
    if (!this.listeners.has(event)) this.listeners.set(event, []);
    this.listeners.get(event).push(handler);
    return this;
  }

  emit(event, data) {
    for (const handler of this.listeners.get(event) || []) {
      try {
        handler(data);
      } catch (error) {
        console.error(`handler of ${event} failed`, error);
      }
    }
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  connect() {
    this.stopped = false;
    clearTimeout(this.retryTimer);
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.pingTimer = setInterval(() => this.send("ping"), PING_INTERVAL_MS);
      this.emit("open", { reconnected });
    };
    ws.onmessage = (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        console.warn("not a JSON frame", message.data);
        return;
      }
      this.emit(frame.event, frame.data || {});
    };
    ws.onclose = (close) => {
      if (this.ws !== ws) return; // an old socket, replaced meanwhile
      clearInterval(this.pingTimer);
      this.ws = null;
      const retryInMs = this.stopped ? null : this.scheduleReconnect();
      this.emit("close", { code: close.code, reason: close.reason, retryInMs });
    };
  }

  // Exponential backoff with jitter (0.5 s, 1 s, 2 s ... up to 30 s), so that a server restart is not met by every
  // client at the same instant.
  scheduleReconnect() {
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.connect(), delay);
    return delay;
  }

  // Send one action; false when the socket is not open (the caller falls back to REST or waits for "open").
  send(action, fields = {}) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify({ action, ...fields }));
    return true;
  }

  // Close for good (switching user, leaving the page): no reconnect.
  close() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close(1000, "bye");
  }
}
