import { test } from "node:test";
import assert from "node:assert/strict";
import { MessagingStore, mergeMessages, type ChatMessage } from "@crochet-messaging/client";
import { conversation, emptySync, message, until } from "./fakes.js";
import { setup } from "./setup.js";

const history = [message({ content: "hi alice" }), message({ content: "hi bob", senderId: "alice" })];

function storeSetup(
  post?: (body: { clientMessageId: string; conversationId: string; content: string }) => unknown,
  routes: Parameters<typeof setup>[0] = {},
) {
  const env = setup({
    ...routes,
    "GET /api/messages/conversations": () => ({
      status: 200,
      body: { conversations: [conversation("conv_a", 1), { ...conversation("conv_b", 2), updatedAt: "2025-01-01T00:00:00.000Z" }], nextCursor: null, totalUnread: 3 },
    }),
    "GET /api/messages/conversations/conv_a": () => ({
      status: 200,
      body: { conversation: conversation("conv_a", 1), messages: history, hasMoreBefore: false, hasMoreAfter: false },
    }),
    "POST /api/messages": (call) => {
      const body = call.body as { clientMessageId: string; conversationId: string; content: string };
      return post ? (post(body) as never) : { status: 201, body: { message: message({ ...body, senderId: "alice" }), conversation: { id: body.conversationId, participantIds: ["alice", "bob"], createdAt: "2026-01-01T00:00:00.000Z", updatedAt: "2026-02-01T00:00:00.000Z", isActive: true } } };
    },
  });
  const store = new MessagingStore(env.client);
  store.start();
  return { ...env, store };
}

const contents = (messages: ChatMessage[] | undefined) => (messages ?? []).map((m) => `${m.content}:${m.delivery}`);

test("an optimistic send shows at once as pending and becomes the stored message, keeping its key", async () => {
  const { store } = storeSetup();
  await store.loadConversations();
  await store.loadConversation("conv_a");
  const sending = store.sendMessage("which hook?", { via: "rest" });
  const pending = store.getState().currentConversation?.messages.at(-1);
  assert.equal(pending?.delivery, "pending");
  assert.equal(pending?.id, undefined);
  const sent = await sending;
  const stored = store.getState().currentConversation?.messages.at(-1);
  assert.equal(stored?.delivery, "sent");
  assert.equal(stored?.id, sent.message.id);
  assert.equal(stored?.key, pending?.key);
  assert.deepEqual(contents(store.getState().currentConversation?.messages), ["hi alice:sent", "hi bob:sent", "which hook?:sent"]);
  // message_sent's conversation is not enriched: merged into the list entry, which keeps its participants.
  const entry = store.getState().conversations[0];
  assert.equal(entry?.id, "conv_a");
  assert.equal(entry?.lastMessage?.content, "which hook?");
  assert.equal(entry?.otherParticipant.name, "Bob Stitch");
  assert.equal(entry?.unreadCount, 1);
});

test("a refused send is marked failed with its error", async () => {
  const { store } = storeSetup(() => ({ status: 403, body: { error: { code: "purchase_required", message: "buy it" } } }));
  await store.loadConversations();
  await store.loadConversation("conv_a");
  await assert.rejects(store.sendMessage("hello?", { via: "rest" }), { code: "purchase_required" });
  const failed = store.getState().currentConversation?.messages.at(-1);
  assert.equal(failed?.delivery, "failed");
  assert.equal(failed?.error?.code, "purchase_required");
});

test("live events keep the list and the open conversation merged: once each, counts from the server", async () => {
  const { store, connect } = storeSetup();
  await store.loadConversations();
  const socket = await connect();
  const opening = store.loadConversation("conv_a");
  await until(() => socket.actions("join_conversation").length === 1, "the join");
  const join = socket.actions("join_conversation")[0]!;
  socket.push("conversation_joined", { requestId: join.requestId, conversationId: "conv_a" });
  // Arrives while the history loads: kept once, after it.
  const early = message({ content: "while loading" });
  socket.push("message_received", early);
  await opening;
  const incoming = message({ content: "new one" });
  socket.push("message_received", incoming);
  socket.push("message_received", early);
  socket.push("new_message_notification", { conversationId: "conv_a", messageId: incoming.id, preview: "new one", sender: { id: "bob", name: "Bob" }, sentAt: incoming.sentAt, unreadCount: 3, totalUnread: 5 });
  let state = store.getState();
  assert.deepEqual(contents(state.currentConversation?.messages), ["hi alice:sent", "hi bob:sent", "while loading:sent", "new one:sent"]);
  assert.equal(state.unreadCount, 5);
  assert.equal(state.conversations.find((c) => c.id === "conv_a")?.unreadCount, 3);
  // Our read answer, then the reader's copy of message_read_update: the counts are the answer's.
  const reading = store.markAsRead();
  const read = socket.actions("message_read")[0]!;
  assert.equal(read.messageId, incoming.id);
  socket.push("read_updated", { requestId: read.requestId, conversationId: "conv_a", lastReadMessageId: incoming.id, readAt: incoming.sentAt, unreadCount: 0, totalUnread: 2 });
  socket.push("message_read_update", { conversationId: "conv_a", readerId: "alice", lastReadMessageId: incoming.id, readAt: incoming.sentAt });
  await reading;
  state = store.getState();
  assert.equal(state.unreadCount, 2);
  assert.equal(state.conversations.find((c) => c.id === "conv_a")?.unreadCount, 0);
  assert.ok(state.currentConversation?.messages.filter((m) => m.senderId === "bob").every((m) => m.isRead));
  // The other side read ours.
  socket.push("message_read_update", { conversationId: "conv_a", readerId: "bob", lastReadMessageId: history[1]!.id, readAt: "2026-03-01T00:00:00.000Z" });
  assert.equal(store.getState().currentConversation?.messages.find((m) => m.content === "hi bob")?.isRead, true);
  // Typing and presence.
  socket.push("user_typing", { conversationId: "conv_a", userId: "bob", timeoutMs: 5000 });
  assert.deepEqual(store.getState().typingUsers, [{ conversationId: "conv_a", userId: "bob" }]);
  socket.push("user_stopped_typing", { conversationId: "conv_a", userId: "bob" });
  assert.deepEqual(store.getState().typingUsers, []);
  socket.push("presence_update", { userId: "bob", online: false, lastSeenAt: "2026-03-01T00:00:00.000Z" });
  assert.equal(store.getState().currentConversation?.conversation.otherParticipant.online, false);
  assert.equal(store.getState().conversations[0]?.otherParticipant.online, false);
  store.client.disconnect();
  assert.equal(store.getState().isConnected, false);
});

test("catch-up merges the touched conversations and moves the total by their change", async () => {
  // What was missed in conv_b while away: 2 -> 6 unread.
  const fresh = { ...conversation("conv_b", 6), lastMessageAt: "2026-05-01T00:00:00.000Z" };
  const { store, connect, record } = storeSetup(undefined, {
    "GET /api/messages/sync": (call) =>
      call.query.get("since") === "c0"
        ? { status: 200, body: { messages: [message({ conversationId: "conv_b" })], conversations: [fresh], nextCursor: "c1", hasMore: false } }
        : emptySync("c0"),
  });
  await store.loadConversations();
  const synced = record("synced");
  await connect();
  await until(() => synced.length === 1, "catch-up");
  const state = store.getState();
  assert.equal(state.unreadCount, 7);
  assert.equal(state.conversations[0]?.id, "conv_b", "most recent activity first");
  store.client.disconnect();
});

test("mergeMessages: by id or clientMessageId, never back to pending, stored ones by time", () => {
  const a = { ...message({ content: "a" }), key: "a", delivery: "sent" as const };
  const pending: ChatMessage = { key: "cm-1", clientMessageId: "cm-1", conversationId: "conv_a", senderId: "alice", content: "mine", isRead: false, sentAt: "2030-01-01T00:00:00.000Z", version: 1, isDeleted: false, reactions: [], delivery: "pending" };
  const stored = { ...message({ content: "mine", clientMessageId: "cm-1", senderId: "alice" }), key: "cm-1", delivery: "sent" as const };
  let list = mergeMessages([a], [pending]);
  list = mergeMessages(list, [stored]);
  list = mergeMessages(list, [pending]);
  assert.deepEqual(list.map((m) => [m.content, m.delivery, m.key]), [["a", "sent", "a"], ["mine", "sent", "cm-1"]]);
});

test("the list is one folder's: an archive leaves it, the other devices' conversation_updated too, a mute shows", async () => {
  const settings = { archived: false, isMuted: false, mutedUntil: null };
  const lists: (string | null)[] = [];
  const env = setup({
    "GET /api/messages/conversations": (call) => {
      const folder = call.query.get("folder");
      lists.push(folder);
      const archived = folder === "archived";
      return {
        status: 200,
        body: {
          conversations: archived ? [] : [{ ...conversation("conv_a", 1), settings }, { ...conversation("conv_b", 2), settings }],
          nextCursor: null,
          totalUnread: archived ? 0 : 3,
        },
      };
    },
    "PUT /api/messages/conversations/conv_a/settings": () => ({ status: 200, body: { settings: { ...settings, archived: true } } }),
    "PUT /api/messages/conversations/conv_b/settings": () => ({ status: 200, body: { settings: { ...settings, isMuted: true, mutedUntil: "9999-12-31T23:59:59.999Z" } } }),
  });
  const { connect } = env;
  const store = new MessagingStore(env.client);
  store.start();
  await store.loadConversations();
  const socket = await connect();
  await store.archiveConversation("conv_a");
  assert.deepEqual(store.getState().conversations.map((c) => c.id), ["conv_b"]);
  await until(() => lists.length === 2, "the counts reloaded after the move");
  assert.deepEqual(lists, [null, "inbox"]);
  await store.muteConversation("conv_b");
  assert.equal(store.getState().conversations.find((c) => c.id === "conv_b")?.settings.isMuted, true);
  // Another device archives conv_b: it leaves this inbox list too.
  socket.push("conversation_updated", { conversationId: "conv_b", settings: { ...settings, archived: true } });
  await until(() => !store.getState().conversations.some((c) => c.id === "conv_b"), "conv_b out of the inbox");
  await until(() => lists.length === 3, "the counts reloaded after the second move");
  // The archived list follows its own folder: a refresh reloads that one, not the inbox.
  await store.loadConversations({ folder: "archived" });
  socket.push("conversation_updated", { conversationId: "conv_c", settings: { ...settings, archived: true } });
  await until(() => lists.length === 5, "the archived list reloaded");
  assert.deepEqual(lists, [null, "inbox", "inbox", "archived", "archived"]);
  store.dispose();
  store.client.disconnect();
});
