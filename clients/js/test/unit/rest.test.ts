import { test } from "node:test";
import assert from "node:assert/strict";
import { MessagingApiError } from "@crochet-messaging/client";
import { conversation, message, token } from "./fakes.js";
import { setup } from "./setup.js";

const page = { status: 200, body: { conversations: [conversation()], nextCursor: null, totalUnread: 0 } };
const rateLimited = (seconds: number) => ({
  status: 429,
  headers: { "Retry-After": String(seconds) },
  body: { error: { code: "rate_limited", message: "slow down", details: { retryAfter: seconds } } },
});

test("REST calls carry the bearer token and fill path and query parameters from the generated operation", async () => {
  const { client, api } = setup({
    "GET /api/messages/conversations/conv%2F1": () => ({
      status: 200,
      body: { conversation: conversation("conv/1"), messages: [], hasMoreBefore: false, hasMoreAfter: false },
    }),
    "GET /api/messages/pattern/granny": () => ({ status: 201, body: { conversation: conversation() } }),
  });
  await client.loadConversation("conv/1", { before: "msg_9", limit: 20 });
  await client.createPatternConversation("granny", "alice");
  const [history, pattern] = api.calls;
  assert.equal(history?.query.toString(), "before=msg_9&limit=20");
  assert.equal(pattern?.query.get("creatorId"), "alice");
  assert.match(history?.token ?? "", /^ey/);
});

test("a 401 asks getToken for a fresh token once and repeats the call with it", async () => {
  const fresh = token("alice", 3600, "fresh");
  const asked: boolean[] = [];
  const { client, api } = setup(
    {
      "GET /api/messages/conversations": (call) =>
        call.token === fresh ? page : { status: 401, body: { error: { code: "unauthorized", message: "invalid token" } } },
    },
    {
      token: token("alice", 3600, "old"),
      getToken: ({ expired }) => {
        asked.push(expired);
        return fresh;
      },
    },
  );
  const result = await client.loadConversations({ limit: 5 });
  assert.equal(result.conversations.length, 1);
  assert.deepEqual(asked, [true]);
  assert.equal(api.calls.length, 2);
});

test("a token whose exp has passed is replaced before it is sent", async () => {
  const asked: boolean[] = [];
  const { client, api } = setup(
    { "GET /api/messages/conversations": () => page },
    {
      token: token("alice", -60),
      getToken: ({ expired }) => {
        asked.push(expired);
        return token("alice", 3600, "renewed");
      },
    },
  );
  await client.loadConversations();
  assert.deepEqual(asked, [true]);
  assert.equal(api.calls.length, 1);
});

test("an idempotent call honours Retry-After on 429 and succeeds on the next attempt", async () => {
  let attempts = 0;
  const { client } = setup({
    "GET /api/messages/conversations": () => (++attempts === 1 ? rateLimited(0) : page),
  });
  await client.loadConversations();
  assert.equal(attempts, 2);
});

test("a Retry-After longer than the client waits fails at once with status, code, message and details", async () => {
  const { client } = setup({ "GET /api/messages/conversations": () => rateLimited(120) });
  const error = await client.loadConversations().catch((e: unknown) => e);
  assert.ok(error instanceof MessagingApiError);
  assert.equal(error.status, 429);
  assert.equal(error.code, "rate_limited");
  assert.equal(error.message, "slow down");
  assert.deepEqual(error.details, { retryAfter: 120 });
  assert.equal(error.retryAfter, 120);
});

test("a call that is not idempotent is not retried (an upload ticket)", async () => {
  let attempts = 0;
  const { client } = setup({
    "POST /api/attachments": () => {
      attempts += 1;
      return rateLimited(0);
    },
  });
  const file = new Blob(["x"], { type: "image/png" });
  await assert.rejects(client.uploadAttachment(file, { conversationId: "conv_a" }), { code: "rate_limited" });
  assert.equal(attempts, 1);
});

test("503 and network failures of idempotent calls are retried with backoff; then the error surfaces", async () => {
  let attempts = 0;
  const { client } = setup({
    "GET /api/messages/conversations": () =>
      ++attempts < 3
        ? attempts === 1
          ? "network-error"
          : { status: 503, body: { error: { code: "temporarily_unavailable", message: "try again" } } }
        : page,
  });
  await client.loadConversations();
  assert.equal(attempts, 3);
  const failing = setup({ "GET /api/messages/conversations": () => "network-error" }).client;
  await assert.rejects(failing.loadConversations(), { name: "MessagingApiError", code: "network_error", status: 0 });
});

// --- the named calls of the later issues: search, settings and folders, blocks, reports, preferences, Web Push ------

type Client = ReturnType<typeof setup>["client"];
interface NamedCall {
  name: string;
  run: (client: Client) => Promise<unknown>;
  method: string;
  /** As it reaches the server: ids percent-encoded. */
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  reply: { status: number; body: unknown };
  /** A refusal the server gives this call (default 404 not_found). */
  refusal?: { status: number; code: string };
}

const settings = (fields: Partial<{ archived: boolean; mutedUntil: string | null; isMuted: boolean }> = {}) => ({
  status: 200,
  body: { settings: { archived: false, mutedUntil: null, isMuted: false, ...fields } },
});
const prefs = {
  email: { enabled: false, delayMinutes: 30 },
  push: { enabled: true, showPreview: false },
  quietHours: { start: "22:00", end: "07:00", timeZone: "Europe/Paris" },
};
const subscription = {
  endpoint: "https://push.example.test/send/abc",
  keys: { p256dh: "B".repeat(87), auth: "A".repeat(22) },
  expirationTime: null,
};
const report = { id: "rep_1", messageId: "msg/1", conversationId: "conv_a", reason: "spam", status: "open", createdAt: "2026-01-01T00:00:00.000Z" };

const NAMED_CALLS: NamedCall[] = [
  {
    name: "search with every option",
    run: (c) => c.search("amigur hook", { conversationId: "conv/1", limit: 5, cursor: "s1" }),
    method: "GET",
    path: "/api/messages/search",
    query: { q: "amigur hook", conversationId: "conv/1", limit: "5", cursor: "s1" },
    reply: { status: 200, body: { results: [{ message: message({ content: "amigurumi hook" }), conversation: conversation(), highlights: [{ start: 0, end: 6 }] }], nextCursor: "s2" } },
    refusal: { status: 400, code: "invalid_query" },
  },
  {
    name: "search with q only",
    run: (c) => c.search("café"),
    method: "GET",
    path: "/api/messages/search",
    query: { q: "café" },
    reply: { status: 200, body: { results: [], nextCursor: null } },
  },
  {
    name: "loadConversations of a folder",
    run: (c) => c.loadConversations({ folder: "archived", limit: 5, cursor: "k1" }),
    method: "GET",
    path: "/api/messages/conversations",
    query: { folder: "archived", limit: "5", cursor: "k1" },
    reply: { status: 200, body: { conversations: [conversation()], nextCursor: null, totalUnread: 0, requestsCount: 1 } },
    refusal: { status: 400, code: "invalid_cursor" },
  },
  {
    name: "updateConversationSettings",
    run: (c) => c.updateConversationSettings("conv/1", { archived: true, mutedUntil: "2030-01-01T00:00:00Z" }),
    method: "PUT",
    path: "/api/messages/conversations/conv%2F1/settings",
    body: { archived: true, mutedUntil: "2030-01-01T00:00:00Z" },
    reply: settings({ archived: true, mutedUntil: "2030-01-01T00:00:00.000Z", isMuted: true }),
  },
  {
    name: "archiveConversation",
    run: (c) => c.archiveConversation("conv/1"),
    method: "PUT",
    path: "/api/messages/conversations/conv%2F1/settings",
    body: { archived: true },
    reply: settings({ archived: true }),
  },
  {
    name: "unarchiveConversation",
    run: (c) => c.unarchiveConversation("conv/1"),
    method: "PUT",
    path: "/api/messages/conversations/conv%2F1/settings",
    body: { archived: false },
    reply: settings(),
  },
  {
    name: "muteConversation until a Date",
    run: (c) => c.muteConversation("conv/1", new Date(Date.UTC(2030, 0, 1, 8))),
    method: "PUT",
    path: "/api/messages/conversations/conv%2F1/settings",
    body: { mutedUntil: "2030-01-01T08:00:00.000Z" },
    reply: settings({ mutedUntil: "2030-01-01T08:00:00.000Z", isMuted: true }),
  },
  {
    name: "muteConversation until an ISO string",
    run: (c) => c.muteConversation("conv_a", "2030-01-01T09:00:00+01:00"),
    method: "PUT",
    path: "/api/messages/conversations/conv_a/settings",
    body: { mutedUntil: "2030-01-01T09:00:00+01:00" },
    reply: settings({ mutedUntil: "2030-01-01T08:00:00.000Z", isMuted: true }),
  },
  {
    name: "muteConversation without an end",
    run: (c) => c.muteConversation("conv_a"),
    method: "PUT",
    path: "/api/messages/conversations/conv_a/settings",
    body: { mutedUntil: "9999-12-31T23:59:59.999Z" },
    reply: settings({ mutedUntil: "9999-12-31T23:59:59.999Z", isMuted: true }),
  },
  {
    name: "unmuteConversation",
    run: (c) => c.unmuteConversation("conv/1"),
    method: "PUT",
    path: "/api/messages/conversations/conv%2F1/settings",
    body: { mutedUntil: null },
    reply: settings(),
  },
  {
    name: "acceptRequest",
    run: (c) => c.acceptRequest("conv/1"),
    method: "PUT",
    path: "/api/messages/conversations/conv%2F1/settings",
    body: { accepted: true },
    reply: settings(),
  },
  {
    name: "declineRequest blocks the requester",
    run: (c) => c.declineRequest("carol/x"),
    method: "PUT",
    path: "/api/me/blocks/carol%2Fx",
    reply: { status: 201, body: { block: { userId: "carol/x", blockedAt: "2026-01-01T00:00:00.000Z" } } },
  },
  {
    name: "blockUser",
    run: (c) => c.blockUser("carol/x"),
    method: "PUT",
    path: "/api/me/blocks/carol%2Fx",
    reply: { status: 200, body: { block: { userId: "carol/x", blockedAt: "2026-01-01T00:00:00.000Z" } } },
    refusal: { status: 400, code: "invalid_request" },
  },
  {
    name: "unblockUser",
    run: (c) => c.unblockUser("carol/x"),
    method: "DELETE",
    path: "/api/me/blocks/carol%2Fx",
    reply: { status: 200, body: { userId: "carol/x", blocked: false } },
  },
  {
    name: "listBlocks",
    run: (c) => c.listBlocks({ limit: 10, cursor: "b1" }),
    method: "GET",
    path: "/api/me/blocks",
    query: { limit: "10", cursor: "b1" },
    reply: { status: 200, body: { blocks: [{ userId: "carol", blockedAt: "2026-01-01T00:00:00.000Z" }], nextCursor: null } },
  },
  {
    name: "reportMessage",
    run: (c) => c.reportMessage("msg/1", { reason: "spam", details: "sells off-site" }),
    method: "POST",
    path: "/api/messages/msg%2F1/report",
    body: { reason: "spam", details: "sells off-site" },
    reply: { status: 201, body: { report } },
    refusal: { status: 403, code: "own_message" },
  },
  {
    name: "getNotificationPreferences",
    run: (c) => c.getNotificationPreferences(),
    method: "GET",
    path: "/api/me/notification-preferences",
    reply: { status: 200, body: prefs },
  },
  {
    name: "setNotificationPreferences",
    run: (c) => c.setNotificationPreferences(prefs),
    method: "PUT",
    path: "/api/me/notification-preferences",
    body: prefs,
    reply: { status: 200, body: prefs },
    refusal: { status: 400, code: "invalid_request" },
  },
  {
    name: "setNotificationPreferences({}): the defaults, still with a body",
    run: (c) => c.setNotificationPreferences({}),
    method: "PUT",
    path: "/api/me/notification-preferences",
    body: {},
    reply: { status: 200, body: { email: { enabled: true, delayMinutes: 10 }, push: { enabled: true, showPreview: true }, quietHours: null } },
  },
  {
    name: "getVapidPublicKey",
    run: (c) => c.getVapidPublicKey(),
    method: "GET",
    path: "/api/push/vapid-public-key",
    reply: { status: 200, body: { publicKey: "BLey" } },
  },
  {
    name: "registerPushSubscription (new: 201)",
    run: (c) => c.registerPushSubscription(subscription),
    method: "PUT",
    path: "/api/push/subscriptions",
    body: subscription,
    reply: { status: 201, body: { id: "psub_1" } },
    refusal: { status: 400, code: "push_endpoint_not_allowed" },
  },
  {
    name: "registerPushSubscription (known: 200)",
    run: (c) => c.registerPushSubscription(subscription),
    method: "PUT",
    path: "/api/push/subscriptions",
    body: subscription,
    reply: { status: 200, body: { id: "psub_1" } },
    refusal: { status: 409, code: "too_many_push_subscriptions" },
  },
  {
    name: "unregisterPushSubscription",
    run: (c) => c.unregisterPushSubscription("psub/1"),
    method: "DELETE",
    path: "/api/push/subscriptions/psub%2F1",
    reply: { status: 200, body: { id: "psub/1" } },
  },
];

for (const call of NAMED_CALLS) {
  test(`${call.name}: ${call.method} ${call.path}, and its answer`, async () => {
    const { client, api } = setup({ [`${call.method} ${call.path}`]: () => call.reply });
    const answer = await call.run(client);
    assert.deepEqual(answer, call.reply.body);
    assert.equal(api.calls.length, 1);
    const [sent] = api.calls;
    assert.equal(sent?.method, call.method);
    assert.equal(sent?.path, call.path);
    assert.deepEqual(Object.fromEntries(sent?.query ?? []), call.query ?? {});
    assert.deepEqual(sent?.body, call.body); // undefined: no body at all
  });
}

test("every named call's refusal is a MessagingApiError with the server's status and code", async () => {
  for (const call of NAMED_CALLS) {
    const { status, code } = call.refusal ?? { status: 404, code: "not_found" };
    const { client } = setup({
      [`${call.method} ${call.path}`]: () => ({ status, body: { error: { code, message: `refused: ${code}`, details: { field: "x" } } } }),
    });
    const error = await call.run(client).then(
      () => assert.fail(`${call.name} resolved`),
      (e: unknown) => e,
    );
    assert.ok(error instanceof MessagingApiError, call.name);
    assert.equal(error.status, status, call.name);
    assert.equal(error.code, code, call.name);
    assert.equal(error.message, `refused: ${code}`, call.name);
    assert.deepEqual(error.details, { field: "x" }, call.name);
  }
});

test("every named call is retried after a 429 (GET, PUT, DELETE; and the report, which the server keeps once)", async () => {
  for (const call of NAMED_CALLS) {
    let attempts = 0;
    const { client } = setup({ [`${call.method} ${call.path}`]: () => (++attempts === 1 ? rateLimited(0) : call.reply) });
    assert.deepEqual(await call.run(client), call.reply.body, call.name);
    assert.equal(attempts, 2, call.name);
  }
});

test("the retry of a named call waits as long as Retry-After says", async () => {
  const times: number[] = [];
  const { client } = setup({
    "GET /api/messages/search": () => {
      times.push(Date.now());
      return times.length === 1 ? rateLimited(1) : { status: 200, body: { results: [], nextCursor: null } };
    },
  });
  await client.search("hook");
  assert.equal(times.length, 2);
  assert.ok((times[1] ?? 0) - (times[0] ?? 0) >= 950, `retried after ${(times[1] ?? 0) - (times[0] ?? 0)} ms`);
});

test("a POST that is not known to be idempotent is not retried after a 429 (the generic call of the report)", async () => {
  let attempts = 0;
  const { client } = setup({
    "POST /api/messages/msg_1/report": () => {
      attempts += 1;
      return rateLimited(0);
    },
  });
  await assert.rejects(client.request("reportMessage", { path: { messageId: "msg_1" }, body: { reason: "scam" } }), {
    name: "MessagingApiError",
    code: "rate_limited",
    status: 429,
  });
  assert.equal(attempts, 1);
});
