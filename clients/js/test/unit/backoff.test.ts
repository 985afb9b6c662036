import { test } from "node:test";
import assert from "node:assert/strict";
import { backoffDelay } from "@crochet-messaging/client";

test("backoff doubles from the first delay up to the cap, jittered between half the ceiling and the ceiling", () => {
  const options = { initialDelayMs: 500, maxDelayMs: 30_000 };
  const low = [0, 1, 2, 3, 6, 7, 20].map((attempt) => backoffDelay(attempt, options, () => 0));
  const high = [0, 1, 2, 3, 6, 7, 20].map((attempt) => backoffDelay(attempt, options, () => 1));
  assert.deepEqual(high, [500, 1000, 2000, 4000, 30_000, 30_000, 30_000]);
  assert.deepEqual(low, [250, 500, 1000, 2000, 15_000, 15_000, 15_000]);
});

test("backoff jitter spreads clients that dropped together", () => {
  const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(4)));
  assert.ok(delays.size > 10, `only ${delays.size} distinct delays`);
  for (const delay of delays) assert.ok(delay >= 4000 && delay <= 8000, `${delay} outside [4000, 8000]`);
});
