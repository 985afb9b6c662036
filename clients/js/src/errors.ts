import type { ErrorCode } from "./types.js";

/** Codes the client itself reports, next to the server's `ErrorCode`s. */
export type ClientErrorCode =
  | "network_error" // the request never got an answer (offline, DNS, CORS, connection reset)
  | "http_error" // an answer that is not the API's JSON error shape
  | "upload_failed" // the bucket refused the presigned POST
  | "upload_timeout" // the attachment was uploaded but not reported processed in time
  | "not_connected" // a socket-only call while the socket is closed
  | "timeout" // no answer to a socket frame in time
  | "disconnected"; // disconnect() was called while the call waited

/** Every failure of a MessagingClient call: the API's `{"error": {code, message, details}}`, the socket's `error`
 * event, or one of the client's own codes (`status` 0 when no HTTP answer came). */
export class MessagingApiError extends Error {
  override readonly name = "MessagingApiError";
  readonly status: number;
  readonly code: ErrorCode | ClientErrorCode;
  readonly details: unknown;
  /** Seconds to wait before trying again (429's `Retry-After`, or `details.retryAfter`). */
  readonly retryAfter: number | undefined;

  constructor(
    status: number,
    code: ErrorCode | ClientErrorCode,
    message: string,
    details?: unknown,
    retryAfter?: number,
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }

  /** Whether the very same request may succeed later (a send is retried with the same clientMessageId). */
  get retryable(): boolean {
    return RETRYABLE.has(this.code) || this.status >= 500 || this.status === 429;
  }
}

const RETRYABLE = new Set<string>([
  "network_error",
  "timeout",
  "rate_limited",
  "temporarily_unavailable",
  "storage_unavailable",
  "contention",
  "token_expired",
]);

/** `details.retryAfter` of a `rate_limited` error (REST body or socket event), in seconds. */
export function retryAfterOf(details: unknown): number | undefined {
  if (typeof details !== "object" || details === null) return undefined;
  const value = (details as { retryAfter?: unknown }).retryAfter;
  return typeof value === "number" && value >= 0 ? value : undefined;
}
