// The socket as a transport (docs/websocket.md, "Connecting"): `<wsUrl>?token=<JWT>`, JSON frames both ways,
// reconnect with jittered backoff whenever it closes without disconnect(), and a ping before API Gateway's
// 10-minute idle timeout (only client frames count as activity). What the frames mean is MessagingClient's business.

import { backoffDelay, type BackoffOptions } from "./backoff.js";
import type { TokenSource } from "./tokens.js";
import type { WebSocketConstructor, WebSocketLike } from "./types.js";

const OPEN = 1;

export interface ConnectionOptions {
  wsUrl: string;
  tokens: TokenSource;
  WebSocket: WebSocketConstructor;
  /** Reconnect delays; `false`: never reconnect by itself. */
  reconnect: BackoffOptions | false;
  /** A ping after this long without any frame sent (default 4 minutes; API Gateway closes idle sockets at 10). */
  pingIntervalMs: number;
  random: () => number;
}

export interface ConnectionListener {
  open(reconnected: boolean): void;
  frame(frame: { event: string; data: unknown }): void;
  close(info: { code: number; reason: string; willReconnect: boolean; retryInMs: number | null }): void;
}

export class Connection {
  private ws: WebSocketLike | null = null;
  private stopped = true;
  private everOpened = false;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTokenFirst = false;
  private restarting = false;
  private generation = 0;

  constructor(
    private readonly options: ConnectionOptions,
    private readonly listener: ConnectionListener,
  ) {}

  get isOpen(): boolean {
    return this.ws !== null && this.ws.readyState === OPEN;
  }

  get isStarted(): boolean {
    return !this.stopped;
  }

  /** Open the socket (again) and keep it open until stop(). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.open();
  }

  /** Close for good: no reconnect. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.pingTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      detach(ws);
      ws.close(1000, "bye");
      this.listener.close({ code: 1000, reason: "bye", willReconnect: false, retryInMs: null });
    }
  }

  /** Close this socket and open a new one now, with a fresh token when `refreshToken` (the server said it expired). */
  restart(refreshToken: boolean): void {
    if (this.stopped) return;
    this.refreshTokenFirst ||= refreshToken;
    const ws = this.ws;
    if (ws) {
      this.restarting = true; // its onclose reconnects with no delay
      ws.close(4000, refreshToken ? "token expired" : "restart");
    } else {
      clearTimeout(this.retryTimer);
      void this.open();
    }
  }

  /** Send one frame; false when the socket is not open (nothing is sent). */
  send(frame: Record<string, unknown>): boolean {
    if (!this.ws || this.ws.readyState !== OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    this.schedulePing();
    return true;
  }

  private async open(): Promise<void> {
    const generation = ++this.generation;
    let token: string;
    try {
      token = this.refreshTokenFirst ? await this.options.tokens.refresh() : await this.options.tokens.current();
      this.refreshTokenFirst = false;
    } catch {
      if (generation === this.generation && !this.stopped) this.scheduleReconnect(1006, "getToken failed");
      return;
    }
    if (generation !== this.generation || this.stopped) return;
    const url = new URL(this.options.wsUrl);
    url.searchParams.set("token", token);
    const ws = new this.options.WebSocket(url.toString());
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      opened = true;
      this.attempt = 0;
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.schedulePing();
      this.listener.open(reconnected);
    };
    ws.onmessage = (message) => {
      if (this.ws !== ws) return;
      const frame = parseFrame(message.data);
      if (frame) this.listener.frame(frame);
    };
    ws.onerror = () => {}; // a close always follows
    ws.onclose = (close) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearTimeout(this.pingTimer);
      // Refused before opening: maybe the token (the browser cannot see the 401); a fresh one is cheap to ask for.
      if (!opened && this.attempt > 0) this.refreshTokenFirst = this.options.tokens.canRefresh;
      if (this.restarting) {
        this.restarting = false;
        this.listener.close({ code: close.code, reason: close.reason, willReconnect: true, retryInMs: 0 });
        void this.open();
        return;
      }
      this.scheduleReconnect(close.code, close.reason);
    };
  }

  private scheduleReconnect(code: number, reason: string): void {
    if (this.stopped || this.options.reconnect === false) {
      this.stopped = true;
      this.listener.close({ code, reason, willReconnect: false, retryInMs: null });
      return;
    }
    const retryInMs = backoffDelay(this.attempt, this.options.reconnect, this.options.random);
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.open(), retryInMs);
    this.listener.close({ code, reason, willReconnect: true, retryInMs });
  }

  private schedulePing(): void {
    clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(() => this.send({ action: "ping" }), this.options.pingIntervalMs);
  }
}

function detach(ws: WebSocketLike): void {
  ws.onopen = ws.onmessage = ws.onclose = null;
  ws.onerror = () => {};
}

function parseFrame(data: unknown): { event: string; data: unknown } | null {
  const text = typeof data === "string" ? data : data instanceof ArrayBuffer ? new TextDecoder().decode(data) : String(data);
  try {
    const frame: unknown = JSON.parse(text);
    if (typeof frame === "object" && frame !== null && typeof (frame as { event?: unknown }).event === "string") {
      const { event, data: payload } = frame as { event: string; data?: unknown };
      return { event, data: payload ?? {} };
    }
  } catch {
    // not JSON: nothing the protocol sends
  }
  return null;
}
