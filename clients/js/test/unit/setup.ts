import { MessagingClient, type MessagingClientOptions } from "@crochet-messaging/client";
import { emptySync, fakeFetch, fakeSockets, token, until, type Route } from "./fakes.js";

/** A client of a fake API and a fake socket; the first sync (no `since`) answers cursor "c0". */
export function setup(routes: Record<string, Route> = {}, options: Partial<MessagingClientOptions> = {}) {
  const ws = fakeSockets();
  const api = fakeFetch({ "GET /api/messages/sync": () => emptySync("c0"), ...routes });
  const client = new MessagingClient({
    apiUrl: "http://api.test",
    wsUrl: "ws://ws.test",
    token: token("alice"),
    WebSocket: ws.WebSocket,
    fetch: api.fetch,
    reconnect: { initialDelayMs: 5, maxDelayMs: 20 },
    retry: { initialDelayMs: 1, maxDelayMs: 5 },
    onHandlerError: (error) => {
      throw error;
    },
    ...options,
  });
  /** connect(), and the fake server accepts the socket. */
  const connect = async () => {
    const before = ws.sockets.length;
    const opened = client.connect();
    await until(() => ws.sockets.length > before, "a socket");
    ws.last().accept();
    await opened;
    return ws.last();
  };
  /** Record every emission of an event. */
  const record = <E extends Parameters<typeof client.on>[0]>(event: E) => {
    const seen: unknown[] = [];
    client.on(event, (data) => seen.push(data));
    return seen;
  };
  return { client, ws, api, connect, record };
}
