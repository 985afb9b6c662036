// Test doubles: a WebSocket whose server side the test plays, and a fetch routed to handlers.

import type { WebSocketConstructor, WebSocketLike } from "@crochet-messaging/client";

export interface Frame {
  action: string;
  requestId?: string;
  [field: string]: unknown;
}

export class FakeSocket implements WebSocketLike {
  readyState = 0;
  readonly sent: Frame[] = [];
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  constructor(readonly url: string) {}

  get token(): string | null {
    return new URL(this.url).searchParams.get("token");
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(JSON.parse(data) as Frame);
  }

  close(code = 1000, reason = ""): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    queueMicrotask(() => this.onclose?.({ code, reason }));
  }

  // --- the server's side ---
  accept(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  push(event: string, data: unknown): void {
    this.onmessage?.({ data: JSON.stringify({ event, data }) });
  }

  /** The server (or the network) drops the connection. */
  drop(code = 1006, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  actions(name: string): Frame[] {
    return this.sent.filter((frame) => frame.action === name);
  }
}

/** A WebSocket constructor whose instances the test can reach, newest last. */
export function fakeSockets(): { WebSocket: WebSocketConstructor; sockets: FakeSocket[]; last(): FakeSocket } {
  const sockets: FakeSocket[] = [];
  class Socket extends FakeSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  return {
    WebSocket: Socket,
    sockets,
    last() {
      const socket = sockets.at(-1);
      if (!socket) throw new Error("no socket was opened");
      return socket;
    },
  };
}

export interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  token: string | null;
}

export type Reply = { status: number; body?: unknown; headers?: Record<string, string> } | "network-error";
export type Route = (call: Call) => Reply | Promise<Reply>;

/** fetch for a fake API: `routes["GET /api/messages/sync"]`; calls are recorded. Unrouted calls answer 404. */
export function fakeFetch(routes: Record<string, Route>): { fetch: typeof fetch; calls: Call[] } {
  const calls: Call[] = [];
  const fetchImpl = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input));
    const headers = new Headers(init.headers);
    const call: Call = {
      method: init.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      body: typeof init.body === "string" ? JSON.parse(init.body) : init.body,
      token: headers.get("Authorization")?.replace(/^Bearer /, "") ?? null,
    };
    calls.push(call);
    const route = routes[`${call.method} ${call.path}`];
    const reply: Reply = route
      ? await route(call)
      : { status: 404, body: { error: { code: "not_found", message: "no route" } } };
    if (reply === "network-error") throw new TypeError("fetch failed");
    const body = reply.body === undefined ? null : JSON.stringify(reply.body);
    return new Response(body, {
      status: reply.status,
      headers: { "Content-Type": "application/json", ...reply.headers },
    });
  };
  return { fetch: fetchImpl as typeof fetch, calls };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Wait until `condition` holds (bounded). */
export async function until(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** A JWT-shaped token (unsigned: the fakes do not verify) for `sub`, expiring in `ttlSeconds`. */
export function token(sub: string, ttlSeconds = 3600, salt = ""): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "HS256" })}.${part({ sub, exp: Math.floor(Date.now() / 1000) + ttlSeconds, salt })}.sig`;
}

let seq = 0;
export function message(fields: { conversationId?: string; senderId?: string; content?: string; clientMessageId?: string; id?: string; sentAt?: string } = {}) {
  seq += 1;
  const conversationId = fields.conversationId ?? "conv_a";
  return {
    id: fields.id ?? `msg_${conversationId}_${seq}`,
    conversationId,
    senderId: fields.senderId ?? "bob",
    recipientId: fields.senderId === "alice" ? "bob" : "alice",
    content: fields.content ?? `message ${seq}`,
    isRead: false,
    sentAt: fields.sentAt ?? new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
    version: 1,
    isDeleted: false,
    reactions: [],
    ...(fields.clientMessageId ? { clientMessageId: fields.clientMessageId } : {}),
  };
}

export function conversation(id = "conv_a", unreadCount = 0) {
  return {
    id,
    participantIds: ["alice", "bob"],
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:00.000Z",
    isActive: true,
    unreadCount,
    participants: [
      { id: "alice", name: "Alice Loops" },
      { id: "bob", name: "Bob Stitch" },
    ],
    otherParticipant: { id: "bob", name: "Bob Stitch", online: true },
  };
}

export const emptySync = (cursor: string) => ({
  status: 200,
  body: { messages: [], conversations: [], nextCursor: cursor, hasMore: false },
});
