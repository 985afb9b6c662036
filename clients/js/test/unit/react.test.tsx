// useMessaging() hands out the client's later calls (search, settings, blocks, reports, preferences, Web Push) bound
// to the provider's client, next to the store's actions. Rendered on the server side: no DOM needed.

import { test } from "node:test";
import assert from "node:assert/strict";
import { renderToStaticMarkup } from "react-dom/server";
import { CLIENT_CALLS, MessagingProvider, useMessaging, type MessagingContextValue } from "@crochet-messaging/client/react";
import { setup } from "./setup.js";

test("useMessaging() exposes the client's later calls, bound, next to the seed's actions", async () => {
  const { client, api } = setup({
    "GET /api/messages/search": () => ({ status: 200, body: { results: [], nextCursor: null } }),
    "PUT /api/messages/conversations/conv_a/settings": () => ({
      status: 200,
      body: { settings: { archived: true, mutedUntil: null, isMuted: false } },
    }),
  });
  let seen: MessagingContextValue | undefined;
  function Probe() {
    seen = useMessaging();
    return null;
  }
  renderToStaticMarkup(
    <MessagingProvider apiUrl="" wsUrl="" client={client} autoConnect={false} loadOnMount={false}>
      <Probe />
    </MessagingProvider>,
  );
  assert.ok(seen);
  for (const name of CLIENT_CALLS) assert.equal(typeof seen[name], "function", name);
  assert.equal(typeof seen.loadConversations, "function"); // the store's, as before
  const { search, archiveConversation } = seen; // detached: bound to the client
  assert.deepEqual(await search("hook", { limit: 3 }), { results: [], nextCursor: null });
  assert.deepEqual(await archiveConversation("conv_a"), { settings: { archived: true, mutedUntil: null, isMuted: false } });
  assert.deepEqual(
    api.calls.map((call) => [call.method, call.path, call.query.toString()]),
    [
      ["GET", "/api/messages/search", "limit=3&q=hook"],
      ["PUT", "/api/messages/conversations/conv_a/settings", ""],
    ],
  );
});
