// The REST half: one generic, typed call per operationId of docs/openapi.json (src/generated/operations.ts knows
// where each lives). Every failure is a MessagingApiError. A 401 asks getToken for a fresh token once; idempotent
// calls are retried after a 429 (as long as its Retry-After says), a 502/503/504 or a network failure.

import { backoffDelay, type BackoffOptions } from "./backoff.js";
import { MessagingApiError, retryAfterOf } from "./errors.js";
import { OPERATIONS } from "./generated/operations.js";
import type { TokenSource } from "./tokens.js";
import type { BodyOf, OperationId, PathOf, QueryOf, ResponseOf } from "./types.js";

export interface RetryOptions extends BackoffOptions {
  /** Attempts of an idempotent call in all (default 4). */
  maxAttempts?: number;
  /** A Retry-After longer than this is not waited for: the call fails with `rate_limited` (default 30 s). */
  maxRetryAfterMs?: number;
}

export interface CallInput<O extends OperationId> {
  path?: PathOf<O>;
  query?: QueryOf<O>;
  body?: BodyOf<O>;
  /** Whether the call may be repeated safely. Default: GET, PUT and DELETE are; POST is not (a send is, thanks to
   * its clientMessageId: it says so). */
  idempotent?: boolean;
  signal?: AbortSignal;
}

export interface Answer<O extends OperationId> {
  status: number;
  data: ResponseOf<O>;
}

const RETRY_STATUSES = new Set([502, 503, 504]);

export class RestClient {
  private readonly baseUrl: string;

  constructor(
    apiUrl: string,
    private readonly tokens: TokenSource,
    private readonly fetchImpl: typeof fetch,
    private readonly retry: RetryOptions = {},
    private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void> = delay,
  ) {
    this.baseUrl = apiUrl.replace(/\/+$/, "");
  }

  /** The URL of an operation with its path and query parameters filled in. */
  url<O extends OperationId>(operationId: O, path?: PathOf<O>, query?: QueryOf<O>): string {
    const template: string = OPERATIONS[operationId].path;
    const params = (path ?? {}) as Record<string, string | number>;
    const filled = template.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = params[name];
      if (value === undefined) throw new TypeError(`${operationId}: path parameter ${name} is missing`);
      return encodeURIComponent(String(value));
    });
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
      if (value === undefined || value === null) continue;
      for (const item of Array.isArray(value) ? value : [value]) search.append(name, String(item));
    }
    const queryString = search.toString();
    return `${this.baseUrl}${filled}${queryString ? `?${queryString}` : ""}`;
  }

  async call<O extends OperationId>(operationId: O, input: CallInput<O> = {}): Promise<Answer<O>> {
    const { method } = OPERATIONS[operationId];
    const idempotent = input.idempotent ?? method !== "POST";
    const url = this.url(operationId, input.path, input.query);
    const maxAttempts = idempotent ? Math.max(1, this.retry.maxAttempts ?? 4) : 1;
    let refreshed = false;
    for (let attempt = 0; ; attempt += 1) {
      const last = attempt + 1 >= maxAttempts;
      let response: Response;
      try {
        response = await this.send(method, url, await this.tokens.current(), input);
      } catch (error) {
        if (input.signal?.aborted) throw error;
        if (last) throw new MessagingApiError(0, "network_error", `${method} ${url} failed: ${String(error)}`, error);
        await this.sleep(backoffDelay(attempt, this.retry), input.signal);
        continue;
      }
      if (response.ok) {
        const data = (response.status === 204 ? undefined : await response.json()) as ResponseOf<O>;
        return { status: response.status, data };
      }
      const error = await errorOf(response);
      if (response.status === 401 && !refreshed && this.tokens.canRefresh) {
        refreshed = true; // once per call: a fresh token that is refused as well is an answer
        await this.tokens.refresh();
        attempt -= 1;
        continue;
      }
      if (last || !idempotent) throw error;
      if (response.status === 429) {
        const waitMs = (error.retryAfter ?? 1) * 1000;
        if (waitMs > (this.retry.maxRetryAfterMs ?? 30_000)) throw error;
        await this.sleep(waitMs, input.signal);
      } else if (RETRY_STATUSES.has(response.status)) {
        await this.sleep(backoffDelay(attempt, this.retry), input.signal);
      } else {
        throw error;
      }
    }
  }

  private send(method: string, url: string, token: string, input: CallInput<OperationId>): Promise<Response> {
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: "application/json" };
    const init: RequestInit = { method, headers };
    if (input.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(input.body);
    }
    if (input.signal) init.signal = input.signal;
    return this.fetchImpl(url, init);
  }
}

/** The API's error body as a MessagingApiError (any other answer: `http_error`). */
export async function errorOf(response: Response): Promise<MessagingApiError> {
  const text = await response.text().catch(() => "");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const header = response.headers.get("Retry-After");
  const headerSeconds = header !== null && /^\d+$/.test(header.trim()) ? Number(header) : undefined;
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
  if (error && typeof error.code === "string") {
    const message = typeof error.message === "string" ? error.message : response.statusText;
    const retryAfter = headerSeconds ?? retryAfterOf(error.details);
    return new MessagingApiError(
      response.status,
      error.code as MessagingApiError["code"],
      message,
      error.details,
      retryAfter,
    );
  }
  return new MessagingApiError(
    response.status,
    "http_error",
    `HTTP ${response.status} ${response.statusText}`.trim(),
    text || undefined,
    headerSeconds,
  );
}

export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
