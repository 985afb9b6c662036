import { test } from "node:test";
import assert from "node:assert/strict";
import { MessagingApiError } from "@crochet-messaging/client";
import { conversation, token } from "./fakes.js";
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
