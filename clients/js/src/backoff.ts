/** Reconnect and retry delays: exponential, capped, with jitter so that clients dropped together (a deploy, a
 * network blip) do not come back at the same instant. */
export interface BackoffOptions {
  /** The first delay's ceiling (default 500 ms). */
  initialDelayMs?: number;
  /** The largest delay (default 30 s). */
  maxDelayMs?: number;
}

export const DEFAULT_BACKOFF = { initialDelayMs: 500, maxDelayMs: 30_000 } as const;

/** The delay before retry number `attempt` (0 for the first): uniformly between half the ceiling and the ceiling,
 * the ceiling doubling from `initialDelayMs` up to `maxDelayMs` ("equal jitter"). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = options.initialDelayMs ?? DEFAULT_BACKOFF.initialDelayMs;
  const max = options.maxDelayMs ?? DEFAULT_BACKOFF.maxDelayMs;
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
