// Edits, deletions, reactions and replies (issue 15's endpoints and events): the client's calls over either
// transport, and the store keeping the highest version per message id whatever order the copies come in.

import { test } from "node:test";
import assert from "node:assert/strict";
import { MessagingApiError, MessagingStore, mergeMessages, type ChatMessage } from "@crochet-messaging/client";
import { conversation, message, until } from "./fakes.js";
import { setup } from "./setup.js";

const rateLimited = (seconds: number) => ({
  status: 429,
  headers: { "Retry-After": String(seconds) },
  body: { error: { code: "rate_limited", message: "slow down", details: { retryAfter: seconds } } },
});

test("editMessage over REST is a PATCH; its answer reaches message_edited handlers too", async () => {
  const edited = { ...message({ id: "msg_1", senderId: "alice", content: "fixed" }), version: 2, editedAt: "2026-01-02T00:00:00.000Z" };
  const { client, api, record } = setup({
    "PATCH /api/messages/msg_1": () => ({ status: 200, body: { message: edited } }),
  });
  const seen = record("message_edited");
  const answer = await client.editMessage("msg_1", "fixed");
  assert.equal(answer.message.version, 2);
  assert.deepEqual(api.calls.at(-1)?.body, { content: "fixed" });
  assert.deepEqual(seen, [{ message: edited }]);
});

test("the four changes go over the socket when it is open, answered by requestId", async () => {
  const { client, connect, api } = setup();
  const socket = await connect();
  const restCalls = api.calls.length;
  const cases = [
    ["edit_message", "message_edited", () => client.editMessage("msg_1", "new text")],
    ["delete_message", "message_removed", () => client.deleteMessage("msg_1")],
    ["add_reaction", "reaction_added", () => client.addReaction("msg_1", "🧶")],
    ["remove_reaction", "reaction_removed", () => client.removeReaction("msg_1", "🧶")],
  ] as const;
  for (const [action, answer, call] of cases) {
    const pending = call();
    await until(() => socket.actions(action).length === 1, action);
    const frame = socket.actions(action)[0]!;
    assert.equal(frame.messageId, "msg_1");
    socket.push(answer, { requestId: frame.requestId, message: { ...message({ id: "msg_1" }), version: 5 } });
    const changed = await pending;
    assert.equal(changed.message.version, 5);
    assert.equal("requestId" in changed, false);
  }
  assert.equal(api.calls.length, restCalls, "no REST call while the socket answers");
  client.disconnect();
});

test("a refusal over the socket throws MessagingApiError with the server's code; it is not retried", async () => {
  const { client, connect, api } = setup();
  const socket = await connect();
  const restCalls = api.calls.length;
  const editing = client.editMessage("msg_1", "late");
  await until(() => socket.actions("edit_message").length === 1, "the edit");
  const frame = socket.actions("edit_message")[0]!;
  socket.push("error", { requestId: frame.requestId, code: "edit_window_passed", message: "too late to edit", action: "edit_message" });
  await assert.rejects(editing, (error: unknown) => error instanceof MessagingApiError && error.code === "edit_window_passed");
  assert.equal(api.calls.length, restCalls);
  client.disconnect();
});

test("a reaction (PUT, idempotent) waits out a 429's Retry-After and succeeds; the emoji is URL-encoded", async () => {
  let attempts = 0;
  const { client, api } = setup(
    {
      "PUT /api/messages/msg_1/reactions/%F0%9F%A7%B6": () => {
        attempts += 1;
        return attempts === 1 ? rateLimited(0) : { status: 200, body: { message: message({ id: "msg_1" }) } };
      },
    },
  );
  await client.addReaction("msg_1", "🧶");
  assert.equal(attempts, 2);
  assert.equal(api.calls.filter((call) => call.method === "PUT").length, 2);
});

test("a deletion refused for good (404 for a stranger) throws at once with status, code, message and details", async () => {
  const { client, api } = setup({
    "DELETE /api/messages/msg_x": () => ({ status: 404, body: { error: { code: "not_found", message: "Message not found", details: { id: "msg_x" } } } }),
  });
  await assert.rejects(client.deleteMessage("msg_x"), (error: unknown) => {
    assert.ok(error instanceof MessagingApiError);
    assert.equal(error.status, 404);
    assert.equal(error.code, "not_found");
    assert.equal(error.message, "Message not found");
    assert.deepEqual(error.details, { id: "msg_x" });
    return true;
  });
  assert.equal(api.calls.filter((call) => call.method === "DELETE").length, 1);
});

test("listInbox reads GET /api/messages; watchPresence asks over the socket", async () => {
  const { client, connect, api } = setup({
    "GET /api/messages": () => ({ status: 200, body: { conversations: [conversation()], nextCursor: null, totalUnread: 0 } }),
  });
  const inbox = await client.listInbox({ limit: 5 });
  assert.equal(inbox.conversations.length, 1);
  assert.equal(api.calls.at(-1)?.query.get("limit"), "5");
  const socket = await connect();
  const watching = client.watchPresence(["bob"]);
  await until(() => socket.actions("watch_presence").length === 1, "watch_presence");
  const frame = socket.actions("watch_presence")[0]!;
  assert.deepEqual(frame.userIds, ["bob"]);
  socket.push("presence_watched", { requestId: frame.requestId, userIds: ["bob"], presence: [{ userId: "bob", online: true }] });
  assert.equal((await watching).presence[0]?.online, true);
  client.disconnect();
});

// --- the store ----------------------------------------------------------------------------------------------------

function storeWith(history: ReturnType<typeof message>[], routes: Parameters<typeof setup>[0] = {}) {
  const last = history.at(-1)!;
  const entry = { ...conversation("conv_a", 0), lastMessageId: last.id, lastMessageAt: last.sentAt, lastMessage: { id: last.id, senderId: last.senderId, content: last.content, sentAt: last.sentAt } };
  const env = setup({
    ...routes,
    "GET /api/messages/conversations": () => ({ status: 200, body: { conversations: [entry], nextCursor: null, totalUnread: 0 } }),
    "GET /api/messages/conversations/conv_a": () => ({ status: 200, body: { conversation: entry, messages: history, hasMoreBefore: false, hasMoreAfter: false } }),
  });
  const store = new MessagingStore(env.client);
  store.start();
  return { ...env, store };
}

const shown = (store: MessagingStore) => store.getState().currentConversation?.messages ?? [];

test("message_updated, message_deleted and reaction_updated: the highest version wins, in any order", async () => {
  const first = message({ id: "msg_1", content: "hook 4 mm" });
  const second = message({ id: "msg_2", content: "or 4.5?" });
  const { store, connect } = storeWith([first, second]);
  await store.loadConversations();
  const socket = await connect();
  const opening = store.loadConversation("conv_a");
  await until(() => socket.actions("join_conversation").length === 1, "the join");
  socket.push("conversation_joined", { requestId: socket.actions("join_conversation")[0]!.requestId, conversationId: "conv_a" });
  await opening;

  // Version 3 (an edit and a reaction) comes before version 2 (the edit alone): 2 is ignored.
  const reaction = [{ emoji: "🧶", count: 1, userIds: ["alice"] }];
  socket.push("message_updated", { message: { ...first, content: "hook 5 mm", editedAt: "2026-01-02T00:00:00.000Z", reactions: reaction, version: 3 } });
  socket.push("message_updated", { message: { ...first, content: "hook 4.5 mm", editedAt: "2026-01-02T00:00:00.000Z", version: 2 } });
  let shownFirst = shown(store).find((m) => m.id === "msg_1");
  assert.equal(shownFirst?.content, "hook 5 mm");
  assert.deepEqual(shownFirst?.reactions, reaction);
  // A stale reaction_updated (version 2) changes nothing; a newer one (4) replaces the list.
  socket.push("reaction_updated", { conversationId: "conv_a", messageId: "msg_1", emoji: "🧶", userId: "alice", action: "removed", reactions: [], version: 2 });
  assert.deepEqual(shown(store).find((m) => m.id === "msg_1")?.reactions, reaction);
  socket.push("reaction_updated", { conversationId: "conv_a", messageId: "msg_1", emoji: "❤️", userId: "bob", action: "added", reactions: [...reaction, { emoji: "❤️", count: 1, userIds: ["bob"] }], version: 4 });
  assert.equal(shown(store).find((m) => m.id === "msg_1")?.reactions.length, 2);
  // Catch-up brings version 3 again: kept at 4.
  socket.push("message_received", { ...first, content: "hook 5 mm", version: 3 });
  assert.equal(shown(store).find((m) => m.id === "msg_1")?.version, 4);

  // The last message is deleted: a tombstone in its place, and the list preview says so.
  socket.push("message_deleted", { conversationId: "conv_a", messageId: "msg_2", deletedAt: "2026-01-03T00:00:00.000Z", version: 2 });
  const tombstone = shown(store).find((m) => m.id === "msg_2");
  assert.equal(tombstone?.isDeleted, true);
  assert.equal(tombstone?.content, "");
  assert.equal(tombstone?.version, 2);
  assert.deepEqual(shown(store).map((m) => m.id), ["msg_1", "msg_2"], "the tombstone keeps its place");
  const preview = store.getState().conversations[0]?.lastMessage;
  assert.equal(preview?.isDeleted, true);
  assert.equal(preview?.content, "");
  // An edit of version 1's copy arriving late cannot bring it back.
  socket.push("message_updated", { message: { ...second, content: "or 4.5?", version: 1 } });
  assert.equal(shown(store).find((m) => m.id === "msg_2")?.isDeleted, true);
  store.client.disconnect();
});

test("the store's own edit, reaction and reply update the open conversation from the answer", async () => {
  const mine = message({ id: "msg_1", senderId: "alice", content: "tpyo" });
  const edited = { ...mine, content: "typo", editedAt: "2026-01-02T00:00:00.000Z", version: 2 };
  const { store, api } = storeWith([mine], {
    "PATCH /api/messages/msg_1": () => ({ status: 200, body: { message: edited } }),
    "PUT /api/messages/msg_1/reactions/%F0%9F%91%8D": () => ({ status: 200, body: { message: { ...edited, reactions: [{ emoji: "👍", count: 1, userIds: ["alice"] }], version: 3 } } }),
    "POST /api/messages": () => ({ status: 400, body: { error: { code: "invalid_reply", message: "not in this conversation" } } }),
  });
  await store.loadConversations();
  await store.loadConversation("conv_a"); // no socket: everything over REST
  await store.editMessage("msg_1", "typo");
  assert.equal(shown(store)[0]?.content, "typo");
  assert.equal(store.getState().conversations[0]?.lastMessage?.content, "typo");
  assert.equal(store.getState().conversations[0]?.lastMessage?.editedAt, "2026-01-02T00:00:00.000Z");
  await store.addReaction("msg_1", "👍");
  assert.equal(shown(store)[0]?.reactions[0]?.emoji, "👍");
  assert.equal(shown(store)[0]?.version, 3);
  // A reply carries replyTo; refused, it shows as failed with the server's code.
  await assert.rejects(store.reply("msg_1", "see above", { via: "rest" }), { code: "invalid_reply" });
  const post = api.calls.find((call) => call.method === "POST");
  assert.deepEqual((post?.body as { replyTo: unknown }).replyTo, { messageId: "msg_1" });
  assert.equal(shown(store).at(-1)?.delivery, "failed");
});

test("mergeMessages keeps the highest version; an equal one replaces (a read receipt)", () => {
  const base = { ...message({ id: "m" }), key: "m", delivery: "sent" as const };
  let list: ChatMessage[] = [{ ...base, content: "v3", version: 3 }];
  list = mergeMessages(list, [{ ...base, content: "v2", version: 2 }]);
  assert.equal(list[0]?.content, "v3");
  list = mergeMessages(list, [{ ...base, content: "v3", version: 3, isRead: true }]);
  assert.equal(list[0]?.isRead, true);
  list = mergeMessages(list, [{ ...base, content: "v4", version: 4 }]);
  assert.equal(list[0]?.content, "v4");
});
