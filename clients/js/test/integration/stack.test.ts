// Two MessagingClients against the running local stack (python -m dev.stack), over real HTTP and real sockets.
// tests/e2e/test_js_client.py starts the stack and runs this file with its URLs in the environment:
//
//   MESSAGING_API_URL, MESSAGING_WS_URL, MESSAGING_WS_MANAGEMENT_URL  where the stack listens
//   MESSAGING_JWT_SECRET                                               to mint tokens for any user (HS256)
//   MESSAGING_TEST_PNG                                                 a small photo to upload
//
// Without them every test is skipped. Every wait is bounded.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { readFile } from "node:fs/promises";
import WebSocket from "ws";
import { MessagingApiError, MessagingClient, type Message, type ClientEventMap, type ConversationFolder, type SearchPage, type ClientEventName, type MessagingClientOptions, type WebSocketConstructor } from "@crochet-messaging/client";

const env = process.env;
const apiUrl = env["MESSAGING_API_URL"];
const wsUrl = env["MESSAGING_WS_URL"];
const managementUrl = env["MESSAGING_WS_MANAGEMENT_URL"];
const secret = env["MESSAGING_JWT_SECRET"];
const skip = !apiUrl || !wsUrl || !managementUrl || !secret ? "no stack: run through tests/e2e/test_js_client.py" : false;
const WAIT_MS = 10_000;
const PATTERN = "granny-square-blanket"; // alice's pattern; bob bought it (dev/seed.py)

function mint(userId: string, ttlSeconds = 3600): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${part({ alg: "HS256", typ: "JWT" })}.${part({ sub: userId, iat: now, exp: now + ttlSeconds })}`;
  return `${unsigned}.${createHmac("sha256", secret ?? "").update(unsigned).digest("base64url")}`;
}

/** `ws`'s WebSocket, remembering each connection's id (the dev gateway's X-Connection-Id upgrade header). */
function trackedWebSocket(): { WebSocket: WebSocketConstructor; connectionIds: string[] } {
  const connectionIds: string[] = [];
  class Tracked extends WebSocket {
    constructor(url: string) {
      super(url);
      this.on("upgrade", (response) => {
        const id = response.headers["x-connection-id"];
        if (typeof id === "string") connectionIds.push(id);
      });
    }
  }
  return { WebSocket: Tracked as unknown as WebSocketConstructor, connectionIds };
}

interface Participant {
  client: MessagingClient;
  connectionIds: string[];
  events: { [E in ClientEventName]?: ClientEventMap[E][] };
  seen<E extends ClientEventName>(event: E): ClientEventMap[E][];
}

const clients: MessagingClient[] = [];
after(() => clients.forEach((client) => client.disconnect()));

function participant(userId: string, options: Partial<MessagingClientOptions> = {}): Participant {
  const tracked = trackedWebSocket();
  const client = new MessagingClient({
    apiUrl: apiUrl ?? "",
    wsUrl: wsUrl ?? "",
    token: mint(userId),
    WebSocket: tracked.WebSocket,
    reconnect: { initialDelayMs: 300, maxDelayMs: 2000 },
    ...options,
  });
  clients.push(client);
  const events: Participant["events"] = {};
  const record = <E extends ClientEventName>(event: E) => {
    const list: ClientEventMap[E][] = [];
    (events as Record<string, unknown>)[event] = list;
    client.on(event, (data) => list.push(data));
  };
  for (const event of ["message_received", "message_sent", "new_message_notification", "message_read_update", "read_updated", "user_typing", "user_stopped_typing", "connected", "disconnected", "synced", "attachment_ready", "message_updated", "message_deleted", "reaction_updated", "message_edited"] as const) {
    record(event);
  }
  return {
    client,
    connectionIds: tracked.connectionIds,
    events,
    seen: <E extends ClientEventName>(event: E) => (events[event] ?? []) as ClientEventMap[E][],
  };
}

async function until(condition: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

// One conversation for the whole file: bob (the buyer) and alice (the creator), opened through the pattern.
let alice: Participant;
let bob: Participant;
let conversationId: string;
let firstQuestion: Message | undefined; // bob's first message, found again by search

test("two clients connect and join the pattern conversation", { skip }, async () => {
  alice = participant("alice");
  bob = participant("bob");
  const { conversation } = await bob.client.createPatternConversation(PATTERN);
  conversationId = conversation.id;
  assert.equal(conversation.pattern?.creatorId, "alice");
  await Promise.all([alice.client.connect(), bob.client.connect()]);
  await Promise.all([alice.client.joinConversation(conversationId), bob.client.joinConversation(conversationId)]);
  assert.equal(alice.client.isConnected && bob.client.isConnected, true);
  assert.deepEqual(bob.client.joinedConversations, [conversationId]);
});

test("a message sent by one arrives once at the other, with its notification once", { skip }, async () => {
  const sent = await bob.client.sendMessage({ conversationId, content: "Which hook size for the border?" });
  assert.equal(sent.duplicate, false);
  firstQuestion = sent.message;
  await until(() => alice.seen("message_received").some((m) => m.id === sent.message.id), "alice's message_received");
  await until(() => alice.seen("new_message_notification").some((n) => n.messageId === sent.message.id), "the notification");
  await settle();
  assert.equal(alice.seen("message_received").filter((m) => m.id === sent.message.id).length, 1);
  assert.equal(alice.seen("new_message_notification").filter((n) => n.messageId === sent.message.id).length, 1);
  // The sender hears of it through message_sent, never as a received message.
  assert.equal(bob.seen("message_sent").filter((s) => s.message.id === sent.message.id).length, 1);
  assert.equal(bob.seen("message_received").some((m) => m.id === sent.message.id), false);
});

test("a REST send comes back to the sender's own socket: still reported once, as message_sent", { skip }, async () => {
  const sent = await bob.client.sendMessage({ conversationId, content: "(sent over REST)" }, { via: "rest" });
  await until(() => alice.seen("message_received").some((m) => m.id === sent.message.id), "alice's copy");
  await settle();
  assert.equal(bob.seen("message_received").some((m) => m.id === sent.message.id), false);
  assert.equal(bob.seen("message_sent").filter((s) => s.message.id === sent.message.id).length, 1);
  // A retry of the same clientMessageId stores nothing new.
  const again = await bob.client.sendMessage({ conversationId, content: "(sent over REST)", clientMessageId: sent.clientMessageId }, { via: "rest" });
  assert.equal(again.duplicate, true);
  assert.equal(again.message.id, sent.message.id);
});

test("typing: start and stop reach the other side", { skip }, async () => {
  bob.client.startTyping(conversationId);
  await until(() => alice.seen("user_typing").some((t) => t.userId === "bob"), "user_typing");
  const typing = alice.seen("user_typing").find((t) => t.userId === "bob");
  assert.ok(typing && typing.timeoutMs > 0);
  assert.deepEqual(alice.client.typingUsers(conversationId), [{ conversationId, userId: "bob" }]);
  bob.client.stopTyping(conversationId);
  await until(() => alice.seen("user_stopped_typing").some((t) => t.userId === "bob"), "user_stopped_typing");
  assert.deepEqual(alice.client.typingUsers(conversationId), []);
});

test("receipts: the reader gets its counts, the sender gets message_read_update", { skip }, async () => {
  const last = alice.seen("message_received").at(-1);
  assert.ok(last);
  const read = await alice.client.markAsRead(last.id);
  assert.equal(read.conversationId, conversationId);
  assert.equal(read.unreadCount, 0);
  await until(
    () => bob.seen("message_read_update").some((u) => u.readerId === "alice" && u.lastReadMessageId === last.id),
    "bob's message_read_update",
  );
  assert.equal(alice.seen("read_updated").filter((r) => r.lastReadMessageId === last.id).length, 1);
});

test("a reply, an edit, a reaction and a deletion reach the other side with growing versions", { skip }, async () => {
  const question = await bob.client.sendMessage({ conversationId, content: "Is the border in DK?" });
  const reply = await alice.client.sendMessage({ conversationId, content: "Yes, DK.", replyTo: { messageId: question.message.id } });
  assert.equal(reply.message.replyTo?.id, question.message.id);
  await until(() => bob.seen("message_received").some((m) => m.id === reply.message.id), "the reply");
  // Over the socket: the sender gets the answer (message_edited), the other side message_updated.
  const edited = await bob.client.editMessage(question.message.id, "Is the border in DK weight?");
  assert.equal(edited.message.content, "Is the border in DK weight?");
  assert.ok(edited.message.version > question.message.version);
  assert.ok(edited.message.editedAt);
  await until(() => alice.seen("message_updated").some((u) => u.message.id === question.message.id && u.message.version === edited.message.version), "alice's message_updated");
  // The reply quoting it follows: its quote shows the new text.
  await until(() => alice.seen("message_updated").some((u) => u.message.id === reply.message.id && u.message.replyTo?.content === "Is the border in DK weight?"), "the reply's new quote");
  // Over REST: the reaction, and the other side's reaction_updated carries the whole list.
  const reacted = await alice.client.addReaction(question.message.id, "🧶", { via: "rest" });
  assert.deepEqual(reacted.message.reactions.map((r) => [r.emoji, r.userIds]), [["🧶", ["alice"]]]);
  await until(() => bob.seen("reaction_updated").some((r) => r.messageId === question.message.id && r.action === "added"), "bob's reaction_updated");
  const again = await alice.client.addReaction(question.message.id, "🧶", { via: "rest" }); // idempotent
  assert.equal(again.message.version, reacted.message.version);
  await alice.client.removeReaction(question.message.id, "🧶");
  // The sender deletes it: a tombstone on both sides.
  const removed = await bob.client.deleteMessage(question.message.id);
  assert.equal(removed.message.isDeleted, true);
  assert.equal(removed.message.content, "");
  await until(() => alice.seen("message_deleted").some((d) => d.messageId === question.message.id && d.version === removed.message.version), "alice's message_deleted");
  // A stranger's attempt is refused with the stable code of the one error shape.
  await assert.rejects(alice.client.editMessage(reply.message.id + "x", "nope", { via: "rest" }), (error: unknown) => {
    assert.ok(error instanceof MessagingApiError);
    assert.equal(error.status, 404);
    assert.equal(error.code, "not_found");
    return true;
  });
  await assert.rejects(bob.client.editMessage(reply.message.id, "not mine"), { code: "not_sender" });
});

test("the server drops a socket: the client reconnects, re-joins and catches up, each missed message once", { skip }, async () => {
  const connectionId = bob.connectionIds.at(-1);
  assert.ok(connectionId, "the gateway's X-Connection-Id");
  const drops = bob.seen("disconnected").length;
  const deleted = await fetch(`${managementUrl}/@connections/${connectionId}`, { method: "DELETE" });
  assert.equal(deleted.status, 204);
  await until(() => bob.seen("disconnected").length > drops, "bob's disconnected");
  assert.equal(bob.seen("disconnected").at(-1)?.willReconnect, true);
  // Written while bob is away (his retry waits at least 150 ms): only catch-up can bring them.
  const missed: Message[] = [];
  for (const content of ["A 4 mm hook.", "Same as the squares."]) {
    missed.push((await alice.client.sendMessage({ conversationId, content }, { via: "rest" })).message);
  }
  await until(() => bob.seen("connected").some((c) => c.reconnected), "bob's reconnect");
  await until(() => missed.every((m) => bob.seen("message_received").some((r) => r.id === m.id)), "the missed messages");
  await settle();
  for (const m of missed) assert.equal(bob.seen("message_received").filter((r) => r.id === m.id).length, 1, m.content);
  assert.notEqual(bob.connectionIds.at(-1), connectionId, "a new connection");
  // Re-joined: live messages flow again on the new socket.
  const live = await alice.client.sendMessage({ conversationId, content: "Welcome back" });
  await until(() => bob.seen("message_received").some((m) => m.id === live.message.id), "a live message after the reconnect");
});

test("upload of a photo: presign, POST to the bucket, processed, then sent and received with its thumbnail", { skip }, async () => {
  const bytes = await readFile(env["MESSAGING_TEST_PNG"] ?? "");
  const photo = new Blob([bytes], { type: "image/png" });
  const attachment = await bob.client.uploadAttachment(photo, { conversationId, fileName: "swatch.png" });
  assert.equal(attachment.attachmentStatus, "ready");
  assert.ok(attachment.thumbnailUrl);
  const sent = await bob.client.sendMessage({ conversationId, content: "My swatch", attachment });
  assert.equal(sent.message.attachmentType, "image");
  await until(() => alice.seen("message_received").some((m) => m.id === sent.message.id), "the photo message");
  const received = alice.seen("message_received").find((m) => m.id === sent.message.id);
  assert.equal(received?.attachmentId, attachment.attachmentId);
  const thumbnail = await fetch(received?.thumbnailUrl ?? "");
  assert.equal(thumbnail.status, 200);
  assert.equal(thumbnail.headers.get("content-type"), "image/jpeg");
});

test("an expired token: the socket's token_expired makes the client ask getToken and reconnect", { skip }, async () => {
  const tokens: boolean[] = [];
  const expiring = participant("alice", {
    token: mint("alice", 2),
    getToken: ({ expired }) => {
      tokens.push(expired);
      return mint("alice");
    },
  });
  await expiring.client.connect();
  await new Promise((resolve) => setTimeout(resolve, 2300)); // past exp: the connection's token is now expired
  await expiring.client.joinConversation(conversationId); // refused with token_expired, then joined on a new socket
  assert.deepEqual(tokens, [true]);
  assert.ok(expiring.connectionIds.length >= 2);
  expiring.client.disconnect();
});

test("search finds bob's earlier message; archiving moves the conversation between folders; preferences are kept", { skip }, async () => {
  const question = firstQuestion;
  assert.ok(question, "the first test's message");
  // The index is written from the messages stream, asynchronously: search until it is there (bounded, and well
  // within RATE_LIMIT_SEARCH's 30 a minute).
  let hit: SearchPage["results"][number] | undefined;
  let searching = true;
  const polling = (async () => {
    while (searching && !hit) {
      const page = await bob.client.search("HOOK size bord", { conversationId, limit: 50 });
      hit = page.results.find((result) => result.message.id === question.id);
      if (!hit) await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  try {
    await until(() => hit !== undefined, "the search result", 4000);
  } finally {
    searching = false;
    await polling;
  }
  assert.equal(hit?.conversation.id, conversationId);
  assert.deepEqual(
    hit?.highlights.map(({ start, end }) => question.content.slice(start, end).toLowerCase()),
    ["hook", "size", "border"],
  );

  const inFolder = async (folder: ConversationFolder) =>
    (await bob.client.loadConversations({ folder, limit: 30 })).conversations.some((c) => c.id === conversationId);
  const archived = await bob.client.archiveConversation(conversationId);
  assert.equal(archived.settings.archived, true);
  assert.deepEqual([await inFolder("archived"), await inFolder("inbox")], [true, false]);
  const unarchived = await bob.client.unarchiveConversation(conversationId);
  assert.equal(unarchived.settings.archived, false);
  assert.deepEqual([await inFolder("archived"), await inFolder("inbox")], [false, true]);

  const before = await bob.client.getNotificationPreferences();
  const wanted = {
    email: { enabled: false, delayMinutes: 45 },
    push: { enabled: true, showPreview: false },
    quietHours: { start: "22:00", end: "07:00", timeZone: "Europe/Paris" },
  };
  try {
    assert.deepEqual(await bob.client.setNotificationPreferences(wanted), wanted);
    assert.deepEqual(await bob.client.getNotificationPreferences(), wanted);
  } finally {
    await bob.client.setNotificationPreferences(before); // the browser tests of this stack use bob too
  }
});
