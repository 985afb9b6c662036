import { test } from "node:test";
import assert from "node:assert/strict";
import { conversation, emptySync, message, sleep, token, until, type Call, type Reply } from "./fakes.js";
import { setup } from "./setup.js";

const sentAnswer = (frame: Record<string, unknown>, duplicate = false) => {
  const stored = message({
    conversationId: String(frame.conversationId),
    senderId: "alice",
    content: String(frame.content),
    clientMessageId: String(frame.clientMessageId),
  });
  return { message: stored, conversation: { ...conversation(String(frame.conversationId)) }, clientMessageId: frame.clientMessageId, duplicate };
};

test("connect takes a sync cursor first, then opens the socket with the token; connected fires", async () => {
  const { client, api, connect, record } = setup();
  const connected = record("connected");
  const socket = await connect();
  assert.equal(api.calls[0]?.path, "/api/messages/sync");
  assert.equal(api.calls[0]?.query.get("since"), null);
  assert.equal(socket.token, new URL(socket.url).searchParams.get("token"));
  assert.ok(socket.token?.startsWith("ey"));
  assert.deepEqual(connected, [{ reconnected: false }]);
  assert.equal(client.isConnected, true);
  assert.equal(client.userId, "alice");
  client.disconnect();
});

test("a send while offline is queued, then sent once over the socket with the same clientMessageId", async () => {
  const bodies: unknown[] = [];
  let online = false;
  const { client, ws, connect, record } = setup({
    "GET /api/messages/sync": () => (online ? emptySync("c1") : "network-error"),
    "POST /api/messages": (call: Call): Reply => {
      bodies.push(call.body);
      return "network-error";
    },
  });
  const sentEvents = record("message_sent");
  const sending = client.sendMessage({ conversationId: "conv_a", content: "row 3?" });
  await until(() => bodies.length >= 1, "a REST attempt");
  assert.equal(client.pendingSends.length, 1);
  const [queued] = client.pendingSends;
  online = true;
  const socket = await connect();
  await until(() => socket.actions("new_message").length === 1, "the queued frame");
  const frame = socket.actions("new_message")[0]!;
  assert.equal(frame.clientMessageId, queued?.clientMessageId);
  assert.equal(frame.requestId, queued?.clientMessageId);
  for (const body of bodies) assert.equal((body as { clientMessageId: string }).clientMessageId, queued?.clientMessageId);
  socket.push("message_sent", { ...sentAnswer(frame), requestId: frame.requestId });
  const sent = await sending;
  assert.equal(sent.message.content, "row 3?");
  assert.equal(sent.clientMessageId, queued?.clientMessageId);
  assert.equal(client.pendingSends.length, 0);
  // The old socket's answer coming twice (a retry answered `duplicate`) is reported once.
  socket.push("message_sent", { ...sentAnswer(frame, true), message: sent.message });
  assert.equal(sentEvents.length, 1);
  client.disconnect();
  void ws;
});

test("a send the socket took but never answered goes over REST when the socket drops, with the same id", async () => {
  const posted: { clientMessageId: string }[] = [];
  const { client, connect, record } = setup({
    "POST /api/messages": (call) => {
      const body = call.body as { clientMessageId: string; conversationId: string; content: string };
      posted.push(body);
      return { status: 200, body: { message: message({ ...body, senderId: "alice" }), conversation: conversation() } };
    },
  });
  const sentEvents = record("message_sent");
  const socket = await connect();
  const sending = client.sendMessage({ conversationId: "conv_a", content: "hello" });
  await until(() => socket.actions("new_message").length === 1, "the frame");
  socket.drop();
  const sent = await sending;
  assert.equal(posted.length, 1);
  assert.equal(posted[0]?.clientMessageId, socket.actions("new_message")[0]?.clientMessageId);
  assert.equal(sent.duplicate, true, "200: the server had it already");
  assert.equal(sentEvents.length, 1);
  client.disconnect();
});

test("a refused send rejects with the server's code and is not retried", async () => {
  const { client, connect } = setup();
  const socket = await connect();
  const sending = client.sendMessage({ recipientId: "carol", content: "hi" });
  await until(() => socket.actions("new_message").length === 1, "the frame");
  const frame = socket.actions("new_message")[0]!;
  socket.push("error", { requestId: frame.requestId, code: "purchase_required", message: "buy it first", action: "new_message" });
  await assert.rejects(sending, { code: "purchase_required", message: "buy it first" });
  assert.equal(client.pendingSends.length, 0);
  client.disconnect();
});

test("after the server drops the socket: backoff, a new socket, rooms re-joined, catch-up page by page, each message once", async () => {
  const live = message({ content: "live" });
  const missed = [message({ content: "missed 1" }), message({ content: "missed 2" }), message({ content: "missed 3" })];
  const cursors: (string | null)[] = [];
  const { client, ws, connect, record } = setup({
    "GET /api/messages/sync": (call) => {
      const since = call.query.get("since");
      cursors.push(since);
      if (since === null) return emptySync("c0");
      if (since === "c0" && cursors.filter((c) => c === "c0").length === 1) return emptySync("c0");
      if (since === "c0") {
        // The first page overlaps what came live before the drop.
        return { status: 200, body: { messages: [live, missed[0]], conversations: [conversation("conv_a", 2)], nextCursor: "c1", hasMore: true } };
      }
      if (since === "c1") {
        return { status: 200, body: { messages: [missed[1], missed[2]], conversations: [conversation("conv_a", 4)], nextCursor: "c2", hasMore: false } };
      }
      return emptySync(since);
    },
  });
  const received = record("message_received");
  const disconnected = record("disconnected");
  const synced = record("synced");
  const first = await connect();
  const joined = client.joinConversation("conv_a");
  const join = first.actions("join_conversation")[0]!;
  first.push("conversation_joined", { requestId: join.requestId, conversationId: "conv_a" });
  await joined;
  first.push("message_received", live);
  await until(() => synced.length === 1, "the first catch-up");
  first.drop(1001, "Going away");
  assert.equal(disconnected.length, 1);
  const info = disconnected[0] as { willReconnect: boolean; retryInMs: number };
  assert.equal(info.willReconnect, true);
  assert.ok(info.retryInMs >= 2 && info.retryInMs <= 5, `retry in ${info.retryInMs} ms`);
  await until(() => ws.sockets.length === 2, "a second socket");
  const second = ws.last();
  second.accept();
  const rejoin = second.actions("join_conversation")[0]!;
  assert.equal(rejoin.conversationId, "conv_a");
  // The catch-up waits for the room: a message committed before the join is then in it.
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(synced.length, 1);
  second.push("conversation_joined", { requestId: rejoin.requestId, conversationId: "conv_a" });
  await until(() => synced.length === 2, "the catch-up after reconnect");
  assert.deepEqual(cursors, [null, "c0", "c0", "c1"]);
  // Live meanwhile, and again in a later catch-up: still once.
  second.push("message_received", missed[2]);
  assert.deepEqual(
    received.map((m) => (m as { content: string }).content),
    ["live", "missed 1", "missed 2", "missed 3"],
  );
  assert.equal(client.syncCursor, "c2");
  const result = synced[1] as { messages: unknown[]; conversations: { unreadCount: number }[] };
  assert.equal(result.messages.length, 3);
  assert.equal(result.conversations[0]?.unreadCount, 4);
  client.disconnect();
});

test("duplicates of the protocol reach handlers once: REST echo of our own send, notifications, read updates", async () => {
  const { client, connect, record } = setup({
    "POST /api/messages": (call) => {
      const body = call.body as { clientMessageId: string; conversationId: string; content: string };
      return { status: 201, body: { message: message({ ...body, id: "msg_conv_a_77", senderId: "alice" }), conversation: conversation() } };
    },
  });
  const received = record("message_received");
  const notifications = record("new_message_notification");
  const readUpdates = record("message_read_update");
  const socket = await connect();
  // A REST send comes back to the sender's own sockets as message_received: reported by message_sent only.
  const sent = await client.sendMessage({ conversationId: "conv_a", content: "via REST" }, { via: "rest" });
  socket.push("message_received", sent.message);
  // The recipient with the conversation open gets message_received and new_message_notification.
  const incoming = message({ content: "from bob" });
  socket.push("message_received", incoming);
  socket.push("message_received", incoming);
  const notice = { conversationId: "conv_a", messageId: incoming.id, preview: "from bob", sender: { id: "bob", name: "Bob" }, sentAt: incoming.sentAt, unreadCount: 1, totalUnread: 1 };
  socket.push("new_message_notification", notice);
  socket.push("new_message_notification", notice);
  const update = { conversationId: "conv_a", readerId: "bob", lastReadMessageId: sent.message.id, readAt: "2026-01-01T00:01:00.000Z" };
  socket.push("message_read_update", update);
  socket.push("message_read_update", update);
  assert.deepEqual(received, [incoming]);
  assert.equal(notifications.length, 1);
  assert.equal(readUpdates.length, 1);
  client.disconnect();
});

test("markAsRead goes over the socket when open (read_updated), over REST otherwise; handlers get read_updated both ways", async () => {
  const { client, connect, record, api } = setup({
    "PUT /api/messages/msg_1/read": () => ({
      status: 200,
      body: { conversationId: "conv_a", messageId: "msg_1", lastReadMessageId: "msg_1", readAt: "2026-01-01T00:00:00.000Z", unreadCount: 0, totalUnread: 2 },
    }),
  });
  const reads = record("read_updated");
  const rest = await client.markAsRead("msg_1");
  assert.equal(rest.totalUnread, 2);
  assert.equal(api.calls.at(-1)?.method, "PUT");
  const socket = await connect();
  const reading = client.markAsRead("msg_2", { markConversation: true });
  const frame = socket.actions("message_read")[0]!;
  assert.equal(frame.markConversation, true);
  socket.push("read_updated", { requestId: frame.requestId, conversationId: "conv_a", lastReadMessageId: "msg_2", readAt: "2026-01-01T00:00:01.000Z", unreadCount: 0, totalUnread: 1 });
  assert.equal((await reading).totalUnread, 1);
  assert.equal(reads.length, 2);
  client.disconnect();
});

test("typing: throttled starts, an automatic stop after the server's timeout, and incoming indicators that expire once", async () => {
  const { client, connect, record } = setup({}, { typingTimeoutMs: 80 });
  const stopped = record("user_stopped_typing");
  const socket = await connect();
  for (let i = 0; i < 5; i += 1) client.startTyping("conv_a");
  assert.equal(socket.actions("typing_start").length, 1);
  await sleep(50); // past half the timeout: the indicator is refreshed
  client.startTyping("conv_a");
  assert.equal(socket.actions("typing_start").length, 2);
  await until(() => socket.actions("typing_stop").length === 1, "the automatic typing_stop", 500);
  // Incoming: the server's timeoutMs rules; no user_stopped_typing ever comes (a closed tab).
  socket.push("user_typing", { conversationId: "conv_a", userId: "bob", timeoutMs: 40 });
  assert.deepEqual(client.typingUsers("conv_a"), [{ conversationId: "conv_a", userId: "bob" }]);
  await until(() => stopped.length === 1, "the expiry", 500);
  socket.push("user_stopped_typing", { conversationId: "conv_a", userId: "bob" }); // late: not reported again
  assert.equal(stopped.length, 1);
  // A message from the typist ends the indicator too.
  socket.push("user_typing", { conversationId: "conv_a", userId: "bob", timeoutMs: 5000 });
  socket.push("message_received", message({ content: "done typing" }));
  assert.equal(stopped.length, 2);
  assert.deepEqual(client.typingUsers(), []);
  // Sending stops our own typing at once.
  client.startTyping("conv_a");
  client.sendMessage({ conversationId: "conv_a", content: "x" }).catch(() => undefined); // never answered here
  assert.equal(socket.actions("typing_stop").length, 2);
  client.disconnect();
});

test("token_expired on the socket: getToken is asked, and a new socket opens with the fresh token and re-joins", async () => {
  const fresh = token("alice", 3600, "fresh");
  const { client, ws, connect } = setup({}, { getToken: () => fresh });
  const first = await connect();
  void client.joinConversation("conv_a");
  first.push("error", { code: "token_expired", message: "the token of this connection expired", action: "join_conversation", requestId: first.actions("join_conversation")[0]?.requestId });
  await until(() => ws.sockets.length === 2, "a new socket");
  assert.equal(ws.last().token, fresh);
  ws.last().accept();
  assert.equal(ws.last().actions("join_conversation")[0]?.conversationId, "conv_a");
  client.disconnect();
});

test("a ping goes out when nothing was sent for pingIntervalMs", async () => {
  const { client, connect } = setup({}, { pingIntervalMs: 30 });
  const socket = await connect();
  await until(() => socket.actions("ping").length >= 1, "a ping", 500);
  client.disconnect();
});

test("disconnect() closes for good: no reconnect", async () => {
  const { client, ws, connect, record } = setup();
  const disconnected = record("disconnected");
  await connect();
  client.disconnect();
  await sleep(40);
  assert.equal(ws.sockets.length, 1);
  assert.deepEqual(disconnected, [{ code: 1000, reason: "bye", willReconnect: false, retryInMs: null }]);
});
