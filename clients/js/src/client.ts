// MessagingClient: the REST calls named after the seed's MessagingContext, and the socket with what the protocol
// leaves to clients (docs/websocket.md, "Client state"): rooms re-joined and missed messages caught up through
// GET /api/messages/sync after every reconnect, sends queued while offline and retried with the same
// clientMessageId, typing throttled and expired, and each message delivered once however many ways it arrives.

import { DEFAULT_BACKOFF, backoffDelay, type BackoffOptions } from "./backoff.js";
import { Connection } from "./connection.js";
import { MessagingApiError, retryAfterOf } from "./errors.js";
import { RecentSet, newClientMessageId } from "./ids.js";
import { RestClient, delay, type Answer, type CallInput, type RetryOptions } from "./rest.js";
import { TokenSource, type GetToken } from "./tokens.js";
import type {
  Attachment,
  BlockPage,
  BlockResult,
  ClientAction,
  ClientActionMap,
  ClientEventMap,
  ClientEventName,
  ConversationDetail,
  ConversationPage,
  ConversationSettingsChange,
  ConversationSettingsResult,
  EnrichedConversation,
  EventHandler,
  LoadConversationOptions,
  LoadConversationsOptions,
  ListBlocksOptions,
  Message,
  MessageChange,
  MessageChangeEvent,
  NotificationPreferences,
  NotificationPreferencesInput,
  OperationId,
  PatternConversation,
  PushSubscriptionInput,
  PushSubscriptionResult,
  QueryOf,
  ReportInput,
  ReportResult,
  ResponseOf,
  SearchOptions,
  SearchPage,
  SendMessageInput,
  SentMessage,
  ServerEventMap,
  SyncOptions,
  SyncPage,
  UnblockResult,
  VapidPublicKey,
  WebSocketConstructor,
} from "./types.js";

export interface MessagingClientOptions {
  /** The REST API's base URL, e.g. `http://127.0.0.1:8000` (paths start with `/api`). */
  apiUrl: string;
  /** The WebSocket URL, e.g. `ws://127.0.0.1:8001` or `wss://<api-id>.execute-api.<region>.amazonaws.com/v1`. */
  wsUrl: string;
  /** A JWT. With `getToken` too, it is the first one used. */
  token?: string;
  /** Called for a token when there is none, and again whenever the server says it expired (REST 401, the socket's
   * `token_expired`, a socket refused before opening) or its `exp` has passed. */
  getToken?: GetToken;
  /** The WebSocket implementation (default: the global one, as in browsers; in Node 20 pass `ws`'s). */
  WebSocket?: WebSocketConstructor;
  /** The fetch implementation (default: the global one). */
  fetch?: typeof fetch;
  /** Reconnect delays (default 0.5 s doubling up to 30 s, jittered); `false`: no automatic reconnect. */
  reconnect?: BackoffOptions | false;
  /** Retries of idempotent REST calls (429 with Retry-After, 502/503/504, network failures). */
  retry?: RetryOptions;
  /** A ping after this long without a frame sent (default 4 min; API Gateway closes idle sockets after 10). */
  pingIntervalMs?: number;
  /** The typing timeout until the server's own (`user_typing.timeoutMs`) has been seen (default 2000 ms). */
  typingTimeoutMs?: number;
  /** How long a socket frame waits for its answer before the call goes over REST instead (default 10 s). */
  answerTimeoutMs?: number;
  /** Where catch-up starts (a `nextCursor` stored from `client.syncCursor`); default: now, at the first connect. */
  syncCursor?: string;
  /** How long `uploadAttachment` waits for an image to be processed (default 15 s; it resolves either way). */
  uploadProcessingTimeoutMs?: number;
  /** The user the token belongs to (default: the token's `sub` claim). */
  userId?: string;
  /** Called when an event handler throws (default: console.error). */
  onHandlerError?: (error: unknown, event: string) => void;
  /** Randomness for backoff jitter (tests). */
  random?: () => number;
}

/** How a call travels: over the socket when it is open (`auto`, the default), or always one way. */
export type Transport = "auto" | "socket" | "rest";

export interface SendOptions {
  via?: Transport;
}

export interface MarkAsReadOptions {
  /** Mark the whole conversation read, not only up to this message (default false). */
  markConversation?: boolean;
  via?: Transport;
}

export interface UploadOptions {
  conversationId: string;
  /** Default: the file's own name, else "attachment". */
  fileName?: string;
  /** Default: the file's own type. */
  contentType?: string;
  signal?: AbortSignal;
}

/** What `markAsRead` resolves with: the caller's read position and unread counts afterwards. */
export type ReadState = ServerEventMap["read_updated"];

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

interface OutboxEntry {
  clientMessageId: string;
  body: Record<string, unknown>;
  via: Transport;
  done: Deferred<SentMessage>;
  inFlight: "socket" | "rest" | null;
  attempts: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface Waiter {
  resolve(data: unknown): void;
  reject(error: unknown): void;
  timer: ReturnType<typeof setTimeout>;
}

const DEFAULT_PING_INTERVAL_MS = 4 * 60 * 1000;
const DEFAULT_TYPING_TIMEOUT_MS = 2000;
const DEFAULT_ANSWER_TIMEOUT_MS = 10_000;
const REJOIN_WAIT_MS = 3_000; // how long catch-up after an open waits for the rooms' joins to answer
const DEFAULT_UPLOAD_PROCESSING_TIMEOUT_MS = 15_000;
/** `muteConversation` without an end: the API mutes until a moment, so the last one it can write. */
const MUTED_UNTIL_UNMUTED = "9999-12-31T23:59:59.999Z";
const typingKey = (conversationId: string, userId: string) => `${conversationId}\u0000${userId}`;

export class MessagingClient {
  /** The typed REST calls underneath: `client.rest.call(operationId, {path, query, body})` reaches any operation of
   * docs/openapi.json, including ones this class has no method for yet. */
  readonly rest: RestClient;
  private readonly tokens: TokenSource;
  private readonly connection: Connection;
  private readonly options: MessagingClientOptions;
  private readonly handlers = new Map<string, Set<(data: never) => void>>();

  private readonly rooms = new Set<string>(); // conversations to be joined on every (re)connect
  private readonly joined = new Set<string>(); // acknowledged on the current socket
  private readonly joinWaiters = new Map<string, Deferred<void>>();
  private readonly joinRequests = new Map<string, string>(); // requestId -> conversationId
  private rejoining = new Set<string>(); // rooms re-joined by this open, not answered yet
  private rejoinTimer: ReturnType<typeof setTimeout> | undefined; // catch-up without them if they never answer
  private readonly answers = new Map<string, Waiter>(); // requestId -> the call waiting for its answer
  private readonly outbox = new Map<string, OutboxEntry>(); // clientMessageId -> a send not yet stored
  private readonly ownClientMessageIds = new RecentSet(1000); // sends of this client: reported by message_sent
  private readonly delivered = new RecentSet(5000); // message ids already handed to message_received/message_sent
  private readonly notified = new RecentSet(2000); // new_message_notification's messageIds
  private readonly readUpdates = new RecentSet(500);
  private readonly typingIn = new Map<string, { conversationId: string; userId: string; timer: ReturnType<typeof setTimeout> }>();
  private readonly typingOut = new Map<string, { sentAt: number; timer: ReturnType<typeof setTimeout> | undefined }>();
  private typingTimeoutMs: number;
  private cursor: string | undefined;
  private catchUpChain: Promise<unknown> = Promise.resolve();
  private catchUpAttempt = 0;
  private connectWaiters: Deferred<void>[] = [];
  private wantConnected = false;
  private requestSeq = 0;
  private lastError: MessagingApiError | null = null;

  constructor(options: MessagingClientOptions) {
    this.options = options;
    this.tokens = new TokenSource(options.token, options.getToken);
    const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.rest = new RestClient(options.apiUrl, this.tokens, fetchImpl, options.retry);
    this.typingTimeoutMs = options.typingTimeoutMs ?? DEFAULT_TYPING_TIMEOUT_MS;
    this.cursor = options.syncCursor;
    const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    this.connection = new Connection(
      {
        wsUrl: options.wsUrl,
        tokens: this.tokens,
        get WebSocket(): WebSocketConstructor {
          if (!WebSocketImpl) throw new TypeError("no global WebSocket: pass the `WebSocket` option (e.g. from `ws`)");
          return WebSocketImpl;
        },
        reconnect: options.reconnect === false ? false : { ...DEFAULT_BACKOFF, ...options.reconnect },
        pingIntervalMs: options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
        random: options.random ?? Math.random,
      },
      {
        open: (reconnected) => this.onOpen(reconnected),
        frame: (frame) => this.onFrame(frame.event, frame.data),
        close: (info) => this.onClose(info),
      },
    );
  }

  // --- state ---------------------------------------------------------------------------------------------------

  /** Whether the socket is open now. */
  get isConnected(): boolean {
    return this.connection.isOpen;
  }

  /** Why the socket last closed or failed, until it opens again. */
  get connectionError(): MessagingApiError | null {
    return this.lastError;
  }

  /** The user the token belongs to (the `userId` option, else the token's `sub`). */
  get userId(): string | undefined {
    return this.options.userId ?? this.tokens.subject;
  }

  /** Where the next catch-up starts: store it to resume after a page reload (the `syncCursor` option). */
  get syncCursor(): string | undefined {
    return this.cursor;
  }

  /** The conversations this client is in (or will be in once connected). */
  get joinedConversations(): string[] {
    return [...this.rooms];
  }

  /** Who is typing now (in one conversation, or anywhere), as the events told. */
  typingUsers(conversationId?: string): { conversationId: string; userId: string }[] {
    return [...this.typingIn.values()]
      .filter((entry) => conversationId === undefined || entry.conversationId === conversationId)
      .map(({ conversationId: id, userId }) => ({ conversationId: id, userId }));
  }

  /** Use another token from now on (a new login); the socket keeps its own until it reconnects. */
  setToken(token: string): void {
    this.tokens.set(token);
  }

  // --- REST: the seed's MessagingContext -----------------------------------------------------------------------

  /** Any operation of docs/openapi.json, typed from it: the data of its 2xx answer. */
  async request<O extends OperationId>(operationId: O, input: CallInput<O> = {}): Promise<Answer<O>["data"]> {
    return (await this.rest.call(operationId, input)).data;
  }

  /** A page of the caller's conversations (most recent activity first), `nextCursor`, `totalUnread` and
   * `requestsCount`; `folder`: `inbox` (the default), `archived` or `requests` (message requests waiting for the
   * caller). */
  loadConversations(options: LoadConversationsOptions = {}): Promise<ConversationPage> {
    return this.request("listConversations", { query: options });
  }

  /** One conversation, enriched, and a page of its history (chronological); `before`/`after` page through it. */
  loadConversation(conversationId: string, options: LoadConversationOptions = {}): Promise<ConversationDetail> {
    return this.request("getConversation", { path: { conversationId }, query: options });
  }

  /** The caller's conversation with a pattern's creator, created when there is none yet (a buyer needs a purchase). */
  createPatternConversation(patternId: string, creatorId?: string): Promise<PatternConversation> {
    return this.request("getPatternConversation", {
      path: { patternId },
      query: creatorId === undefined ? {} : { creatorId },
      idempotent: true, // get-or-create
    });
  }

  /** What changed since a cursor (one page). `catchUp()` is the loop over it that reconnects use. */
  sync(options: SyncOptions = {}): Promise<SyncPage> {
    return this.request("syncChanges", { query: options });
  }

  /** Fresh download URLs of an attachment and its processing state. */
  getAttachment(attachmentId: string): Promise<Attachment> {
    return this.request("getAttachment", { path: { attachmentId } });
  }

  /**
   * Send a message: over the socket when it is open, else `POST /api/messages`. It always carries a
   * `clientMessageId` (generated unless given), so every retry (a lost answer, a reconnect, the other transport)
   * stores it once. While neither way works it stays queued and is sent again, with the same id, on reconnect.
   * Rejects only for an answer that no retry can change (e.g. `purchase_required`).
   */
  sendMessage(input: SendMessageInput, options: SendOptions = {}): Promise<SentMessage> {
    const clientMessageId = input.clientMessageId ?? newClientMessageId();
    const existing = this.outbox.get(clientMessageId);
    if (existing) return existing.done.promise;
    const { attachment, ...fields } = input;
    const body: Record<string, unknown> = { ...fields, clientMessageId };
    if (attachment) body["attachment"] = { attachmentId: attachment.attachmentId }; // an Attachment carries more
    const entry: OutboxEntry = {
      clientMessageId,
      body,
      via: options.via ?? "auto",
      done: deferred(),
      inFlight: null,
      attempts: 0,
      timer: undefined,
    };
    this.outbox.set(clientMessageId, entry);
    this.ownClientMessageIds.add(clientMessageId);
    if (typeof input.conversationId === "string") this.stopTyping(input.conversationId);
    this.attemptSend(entry);
    return entry.done.promise;
  }

  /** Sends not yet stored (queued while offline, or waiting for an answer). */
  get pendingSends(): { clientMessageId: string; body: Record<string, unknown> }[] {
    return [...this.outbox.values()].map(({ clientMessageId, body }) => ({ clientMessageId, body }));
  }

  /** Everything up to this message is read (a read position); `markConversation` reads the whole conversation.
   * Over the socket when open (`read_updated`), else `PUT /api/messages/{id}/read`; `read_updated` handlers get
   * the result either way. */
  async markAsRead(messageId: string, options: MarkAsReadOptions = {}): Promise<ReadState> {
    const via = options.via ?? "auto";
    const fields = { messageId, ...(options.markConversation ? { markConversation: true } : {}) };
    if (via === "socket" || (via === "auto" && this.connection.isOpen)) {
      try {
        return await this.ask<ReadState>("message_read", fields);
      } catch (error) {
        if (via === "socket" || !(error instanceof MessagingApiError) || !error.retryable) throw error;
      }
    }
    const receipt = await this.request("markRead", {
      path: { messageId },
      body: { markConversation: options.markConversation ?? false },
    });
    const { messageId: _read, ...state } = receipt;
    this.emit("read_updated", state);
    return state;
  }

  /**
   * Upload a file for a message: `POST /api/attachments` (a presigned POST), the file straight to the bucket, then
   * `GET /api/attachments/{id}` until an image is processed (thumbnail and size known) or
   * `uploadProcessingTimeoutMs` passes. Resolves with the attachment, which `sendMessage({attachment})` takes;
   * a file the server rejected throws `attachment_rejected`.
   */
  async uploadAttachment(file: Blob & { name?: string }, options: UploadOptions): Promise<Attachment> {
    const fileName = options.fileName ?? (file.name || "attachment");
    const contentType = options.contentType ?? file.type;
    const ticket = await this.request("createUpload", {
      body: { conversationId: options.conversationId, fileName, contentType, size: file.size },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const form = new FormData();
    for (const [name, value] of Object.entries(ticket.upload.fields)) form.append(name, value);
    form.append("file", file, fileName); // last: S3 ignores the fields after the file
    const fetchImpl = this.options.fetch ?? globalThis.fetch.bind(globalThis);
    let uploaded: Response;
    try {
      uploaded = await fetchImpl(ticket.upload.url, {
        method: "POST",
        body: form,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      throw new MessagingApiError(0, "network_error", `the upload to storage failed: ${String(error)}`, error);
    }
    if (!uploaded.ok) {
      const text = await uploaded.text().catch(() => "");
      throw new MessagingApiError(uploaded.status, "upload_failed", `storage refused the upload (${uploaded.status})`, text);
    }
    const deadline = Date.now() + (this.options.uploadProcessingTimeoutMs ?? DEFAULT_UPLOAD_PROCESSING_TIMEOUT_MS);
    for (let poll = 0; ; poll += 1) {
      const attachment = await this.getAttachment(ticket.attachmentId);
      if (attachment.attachmentStatus === "rejected") {
        throw new MessagingApiError(422, "attachment_rejected", "the server rejected the file", attachment);
      }
      // Still "processing" at the deadline: sendMessage takes it anyway; attachment_ready follows once it is done.
      if (attachment.attachmentStatus === "ready" || Date.now() >= deadline) return attachment;
      await delay(Math.min(1000, 100 * 2 ** poll), options.signal);
    }
  }

  /** `GET /api/messages`: the seed's inbox, a page of conversations (the same entries as `loadConversations`). */
  listInbox(options: QueryOf<"listInbox"> = {}): Promise<ResponseOf<"listInbox">> {
    return this.request("listInbox", { query: options });
  }

  // --- REST or socket: changes of a message (docs/websocket.md, "Edits, deletions, reactions and quotes") --------
  // Each goes over the socket when it is open (answered by message_edited, message_removed, reaction_added,
  // reaction_removed), else over REST; either way the answer's event reaches `on()` handlers (and MessagingStore),
  // and the promise resolves with the message as it is after the change (keep the highest `version` per id).
  // All four are idempotent (the same text again, a reaction already there or gone, a second deletion change
  // nothing), so REST retries them.

  /** The sender replaces a message's text (within the edit window; `edit_window_passed` after it). */
  editMessage(messageId: string, content: string, options: SendOptions = {}): Promise<MessageChange> {
    return this.change("edit_message", "message_edited", { messageId, content }, options, () =>
      this.request("editMessage", { path: { messageId }, body: { content } }),
    );
  }

  /** The sender deletes a message: it becomes a tombstone (`isDeleted`, `content: ""`). */
  deleteMessage(messageId: string, options: SendOptions = {}): Promise<MessageChange> {
    return this.change("delete_message", "message_removed", { messageId }, options, () =>
      this.request("deleteMessage", { path: { messageId } }),
    );
  }

  /** React to a message with an emoji (the caller's reaction; already there: nothing changes). */
  addReaction(messageId: string, emoji: string, options: SendOptions = {}): Promise<MessageChange> {
    return this.change("add_reaction", "reaction_added", { messageId, emoji }, options, () =>
      this.request("addReaction", { path: { messageId, emoji } }),
    );
  }

  /** Take the caller's reaction back. */
  removeReaction(messageId: string, emoji: string, options: SendOptions = {}): Promise<MessageChange> {
    return this.change("remove_reaction", "reaction_removed", { messageId, emoji }, options, () =>
      this.request("removeReaction", { path: { messageId, emoji } }),
    );
  }

  /** `presence_update` for these users on this connection (the partners of the list on screen, at most 49); each
   * call replaces the previous list. Resolves with who is online now. Needs the open socket. */
  watchPresence(userIds: string[]): Promise<ServerEventMap["presence_watched"]> {
    return this.ask<ServerEventMap["presence_watched"]>("watch_presence", { userIds });
  }

  // Later issues add their REST calls here, one line each on top of `request` (types come from the regenerated
  // src/generated/openapi.ts). GET, PUT and DELETE are retried after 429 (Retry-After), 502/503/504 and network
  // failures; the one POST, a report, is too, because the server keeps one report per reporter and message.

  // --- REST: search (README "GET /api/messages/search") ----------------------------------------------------------

  /** Messages of the caller's conversations (or of one: `conversationId`) that contain every word of `q`, newest
   * first, with the `highlights` of the words in `content`. The index is written about a second after a send. A
   * page may hold fewer than `limit` results and still have a `nextCursor`: follow it (as `cursor`) until null. */
  search(q: string, options: SearchOptions = {}): Promise<SearchPage> {
    return this.request("searchMessages", { query: { ...options, q } });
  }

  // --- REST: the caller's own settings of a conversation, folders and message requests ---------------------------
  // `loadConversations({folder: "archived" | "requests"})` lists the other folders (default `inbox`).

  /** Change the caller's own settings of a conversation (what is left out stays as it is); resolves with all of
   * them. The caller's other connections get `conversation_updated`. */
  updateConversationSettings(conversationId: string, settings: ConversationSettingsChange): Promise<ConversationSettingsResult> {
    return this.request("updateConversationSettings", { path: { conversationId }, body: settings });
  }

  /** Move a conversation to `folder: "archived"` (it comes back to the inbox when the other participant writes). */
  archiveConversation(conversationId: string): Promise<ConversationSettingsResult> {
    return this.updateConversationSettings(conversationId, { archived: true });
  }

  /** Back to the inbox. */
  unarchiveConversation(conversationId: string): Promise<ConversationSettingsResult> {
    return this.updateConversationSettings(conversationId, { archived: false });
  }

  /** No `new_message_notification`, push or digest for this conversation until `until` (a Date or ISO-8601 with a
   * time zone); without it, until `unmuteConversation`. It stays in its folder and still counts unread. */
  muteConversation(conversationId: string, until?: Date | string): Promise<ConversationSettingsResult> {
    const mutedUntil = until === undefined ? MUTED_UNTIL_UNMUTED : until instanceof Date ? until.toISOString() : until;
    return this.updateConversationSettings(conversationId, { mutedUntil });
  }

  unmuteConversation(conversationId: string): Promise<ConversationSettingsResult> {
    return this.updateConversationSettings(conversationId, { mutedUntil: null });
  }

  /** Accept a message request waiting for the caller (`folder: "requests"`): it moves to the inbox, and the
   * requester sees the caller's presence, typing and receipts from then on. (Replying accepts it too.) */
  acceptRequest(conversationId: string): Promise<ConversationSettingsResult> {
    return this.updateConversationSettings(conversationId, { accepted: true });
  }

  /** Decline a message request: declining is blocking its requester (the request's `otherParticipant.id`), so
   * the request leaves `requests` for `archived` and no message gets through; `unblockUser` undoes it. */
  declineRequest(requesterId: string): Promise<BlockResult> {
    return this.blockUser(requesterId);
  }

  // --- REST: blocking (README "Blocking") -------------------------------------------------------------------------

  /** Block a user: no messages either way, no typing or presence; `{block}` (the same when already blocked). */
  blockUser(userId: string): Promise<BlockResult> {
    return this.request("blockUser", { path: { userId } });
  }

  /** Unblock a user (`{userId, blocked: false}`; unblocking one not blocked changes nothing). */
  unblockUser(userId: string): Promise<UnblockResult> {
    return this.request("unblockUser", { path: { userId } });
  }

  /** A page of the users the caller blocked; `nextCursor` (as `cursor`) for the next. */
  listBlocks(options: ListBlocksOptions = {}): Promise<BlockPage> {
    return this.request("listBlocks", { query: options });
  }

  // --- REST: reports (README "Reports and moderation") ----------------------------------------------------------

  /** Report another participant's message to the moderators: `reason` and, optionally, `details` (at most 1,000
   * characters). Reporting the same message again answers the same report, so retries are safe. */
  reportMessage(messageId: string, report: ReportInput): Promise<ReportResult> {
    return this.request("reportMessage", { path: { messageId }, body: report, idempotent: true });
  }

  // --- REST: notification preferences (README "Offline notifications") ----------------------------------------

  /** The caller's email, push and quiet-hours preferences (defaults filled in). */
  getNotificationPreferences(): Promise<NotificationPreferences> {
    return this.request("getNotificationPreferences");
  }

  /** Replace the whole set: what `prefs` leaves out takes its default (`{}` resets everything), so change one
   * field by sending back what `getNotificationPreferences` gave with it changed. Resolves with the stored set. */
  setNotificationPreferences(prefs: NotificationPreferencesInput): Promise<NotificationPreferences> {
    return this.request("putNotificationPreferences", { body: prefs });
  }

  // --- REST: Web Push (README "Web Push") -------------------------------------------------------------------------

  /** The server's VAPID key: `applicationServerKey` of `pushManager.subscribe` (decoded from base64url). */
  getVapidPublicKey(): Promise<VapidPublicKey> {
    return this.request("getVapidPublicKey");
  }

  /** Register a browser's push subscription: `subscription.toJSON() as PushSubscriptionInput` (the DOM's type
   * marks every field optional). Resolves with its `{id}`, the same id for the same endpoint (its keys updated):
   * call it on every page load. */
  registerPushSubscription(subscription: PushSubscriptionInput): Promise<PushSubscriptionResult> {
    return this.request("putPushSubscription", { body: subscription });
  }

  /** Forget a push subscription of the caller's (on logout); `{id}`. */
  unregisterPushSubscription(subscriptionId: string): Promise<PushSubscriptionResult> {
    return this.request("deletePushSubscription", { path: { subscriptionId } });
  }

  // --- real time ---------------------------------------------------------------------------------------------------

  /** Subscribe to a server event (docs/asyncapi.yaml) or to `connected` / `disconnected` / `synced`. Returns the
   * unsubscribe function. Messages reach `message_received` once each, whether live, through catch-up or both. */
  on<E extends ClientEventName>(event: E, handler: EventHandler<E>): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler as (data: never) => void);
    return () => {
      set.delete(handler as (data: never) => void);
    };
  }

  /**
   * Open the socket and keep it open (reconnecting with backoff) until `disconnect()`. The first call takes a sync
   * cursor first (unless `syncCursor` was given), so that nothing sent from then on is missed. Resolves once open.
   */
  connect(): Promise<void> {
    const opened = deferred<void>();
    if (this.connection.isOpen) return Promise.resolve();
    this.connectWaiters.push(opened);
    if (!this.wantConnected) {
      this.wantConnected = true;
      void (async () => {
        if (this.cursor === undefined) {
          try {
            this.cursor = (await this.sync()).nextCursor;
          } catch {
            // catch-up takes one once the socket is open
          }
        }
        if (this.wantConnected) this.connection.start();
      })();
    }
    return opened.promise;
  }

  /** Close the socket for good (rooms are kept for the next connect). Queued sends go on over REST. */
  disconnect(): void {
    this.wantConnected = false;
    for (const waiter of this.connectWaiters.splice(0)) {
      waiter.reject(new MessagingApiError(0, "disconnected", "disconnect() was called"));
    }
    this.connection.stop();
  }

  /** Receive a conversation's events (`message_received`, typing, receipts) on this connection, now and after
   * every reconnect. Resolves once the server confirms (`conversation_joined`). */
  joinConversation(conversationId: string): Promise<void> {
    this.rooms.add(conversationId);
    if (this.joined.has(conversationId)) return Promise.resolve();
    let waiter = this.joinWaiters.get(conversationId);
    if (!waiter) {
      waiter = deferred<void>();
      this.joinWaiters.set(conversationId, waiter);
      if (this.connection.isOpen) this.sendJoin(conversationId);
    }
    return waiter.promise;
  }

  /** Stop receiving a conversation's room events. */
  async leaveConversation(conversationId: string): Promise<void> {
    this.rooms.delete(conversationId);
    this.joined.delete(conversationId);
    this.stopTyping(conversationId);
    this.joinWaiters.get(conversationId)?.resolve();
    this.joinWaiters.delete(conversationId);
    if (!this.connection.isOpen) return;
    await this.ask("leave_conversation", { conversationId }).catch(() => undefined);
  }

  /** The user is typing: `typing_start` at most every half typing timeout, and `typing_stop` by itself once
   * startTyping has not been called for the server's timeout (`user_typing.timeoutMs`). */
  startTyping(conversationId: string): void {
    const state = this.typingOut.get(conversationId) ?? { sentAt: 0, timer: undefined };
    this.typingOut.set(conversationId, state);
    const now = Date.now();
    if (now - state.sentAt >= this.typingTimeoutMs / 2 && this.connection.send({ action: "typing_start", conversationId })) {
      state.sentAt = now;
    }
    clearTimeout(state.timer);
    state.timer = setTimeout(() => this.stopTyping(conversationId), this.typingTimeoutMs);
  }

  /** The user stopped typing (sent the message, cleared the input, left): `typing_stop` if a start was sent. */
  stopTyping(conversationId: string): void {
    const state = this.typingOut.get(conversationId);
    if (!state) return;
    clearTimeout(state.timer);
    this.typingOut.delete(conversationId);
    if (state.sentAt) this.connection.send({ action: "typing_stop", conversationId });
  }

  /** Send any client action of docs/asyncapi.yaml as is; false when the socket is not open. Prefer the methods:
   * they queue, retry and de-duplicate. */
  send<A extends ClientAction>(action: A, fields: ClientActionMap[A], requestId?: string): boolean {
    return this.connection.send({ action, ...fields, ...(requestId === undefined ? {} : { requestId }) });
  }

  /**
   * Catch up from the stored cursor: `GET /api/messages/sync?since=` page by page while `hasMore`. Each message not
   * delivered yet goes to `message_received` (oldest first); then `synced` gets them all with the conversations
   * they touched. Runs after every (re)connect by itself.
   */
  catchUp(): Promise<ClientEventMap["synced"]> {
    const run = this.catchUpChain.then(() => this.runCatchUp());
    this.catchUpChain = run.catch(() => undefined);
    return run;
  }

  // --- internals: message changes ---------------------------------------------------------------------------------

  private async change(
    action: "edit_message" | "delete_message" | "add_reaction" | "remove_reaction",
    answer: MessageChangeEvent,
    fields: Record<string, unknown>,
    options: SendOptions,
    overRest: () => Promise<MessageChange>,
  ): Promise<MessageChange> {
    const via = options.via ?? "auto";
    if (via === "socket" || (via === "auto" && this.connection.isOpen)) {
      try {
        const { requestId: _requestId, ...changed } = await this.ask<ServerEventMap[MessageChangeEvent]>(action, fields);
        return changed; // its event went to the handlers as it came
      } catch (error) {
        if (via === "socket" || !(error instanceof MessagingApiError) || !error.retryable) throw error;
      }
    }
    const changed = await overRest();
    this.emit(answer, changed);
    return changed;
  }

  // --- internals: catch-up ---------------------------------------------------------------------------------------

  private async runCatchUp(): Promise<ClientEventMap["synced"]> {
    if (this.cursor === undefined) {
      this.cursor = (await this.sync()).nextCursor;
      return { messages: [], conversations: [] };
    }
    const missed: Message[] = [];
    const conversations = new Map<string, EnrichedConversation>();
    for (;;) {
      const page = await this.sync({ since: this.cursor });
      for (const message of page.messages) {
        if (this.deliverMessage(message, false)) missed.push(message);
      }
      for (const conversation of page.conversations) conversations.set(conversation.id, conversation);
      this.cursor = page.nextCursor;
      if (!page.hasMore) break;
    }
    const synced = { messages: missed, conversations: [...conversations.values()] };
    this.emit("synced", synced);
    return synced;
  }

  private catchUpAfterOpen(): void {
    this.catchUp().then(
      () => {
        this.catchUpAttempt = 0;
      },
      () => {
        // Sync failed (REST down for longer than its retries): again later while the socket stays open.
        const wait = backoffDelay(this.catchUpAttempt++, this.options.reconnect || {}, this.options.random);
        setTimeout(() => {
          if (this.connection.isOpen) this.catchUpAfterOpen();
        }, wait);
      },
    );
  }

  /** Catch up once the rooms of this open have answered their joins (at once without rooms): a message committed
   * before a join is then in the sync, one committed after it reaches the room (the send reads the room after its
   * commit). Bounded: a join whose answer is lost does not hold the catch-up back for more than REJOIN_WAIT_MS. */
  private catchUpWhenRejoined(): void {
    clearTimeout(this.rejoinTimer);
    this.rejoinTimer = undefined;
    if (this.rejoining.size === 0) return this.catchUpAfterOpen();
    this.rejoinTimer = setTimeout(() => {
      this.rejoinTimer = undefined;
      this.rejoining.clear();
      if (this.connection.isOpen) this.catchUpAfterOpen();
    }, REJOIN_WAIT_MS);
  }

  private rejoined(conversationId: string): void {
    if (!this.rejoining.delete(conversationId) || this.rejoining.size > 0 || this.rejoinTimer === undefined) return;
    clearTimeout(this.rejoinTimer);
    this.rejoinTimer = undefined;
    if (this.connection.isOpen) this.catchUpAfterOpen();
  }

  /** Hand a message to `message_received` unless it was delivered already or is one of this client's own sends
   * (those are reported by `message_sent`). True when handed over. */
  private deliverMessage(message: Message, live: boolean): boolean {
    if (message.clientMessageId && this.ownClientMessageIds.has(message.clientMessageId)) {
      this.delivered.add(message.id);
      return false;
    }
    if (!this.delivered.add(message.id)) return false;
    if (live) this.endTyping(message.conversationId, message.senderId);
    this.emit("message_received", message);
    return true;
  }

  // --- internals: sending ----------------------------------------------------------------------------------------

  private attemptSend(entry: OutboxEntry): void {
    if (!this.outbox.has(entry.clientMessageId) || entry.inFlight) return;
    clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.attempts += 1;
    if (entry.via !== "rest" && this.connection.isOpen) {
      entry.inFlight = "socket";
      this.connection.send({ action: "new_message", ...entry.body, requestId: entry.clientMessageId });
      entry.timer = setTimeout(() => {
        // No answer: the frame or its answer was lost. The same clientMessageId over REST cannot store it twice.
        entry.inFlight = null;
        if (entry.via === "auto") this.sendOverRest(entry);
        else this.retryLater(entry);
      }, this.options.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS);
    } else if (entry.via !== "socket") {
      this.sendOverRest(entry);
    } // socket only and closed: sent when it opens
  }

  private sendOverRest(entry: OutboxEntry): void {
    entry.inFlight = "rest";
    this.rest
      .call("sendMessage", { body: entry.body, idempotent: true })
      .then(({ status, data }) => {
        entry.inFlight = null;
        this.sent(entry.clientMessageId, { ...data, clientMessageId: entry.clientMessageId, duplicate: status === 200 });
      })
      .catch((error: unknown) => {
        entry.inFlight = null;
        this.sendFailed(entry, error);
      });
  }

  private sendFailed(entry: OutboxEntry, error: unknown): void {
    if (!this.outbox.has(entry.clientMessageId)) return;
    if (error instanceof MessagingApiError && error.retryable) return this.retryLater(entry, error.retryAfter);
    this.outbox.delete(entry.clientMessageId);
    clearTimeout(entry.timer);
    entry.done.reject(error);
  }

  /** Keep it queued: again after a backoff, or as soon as the socket opens. */
  private retryLater(entry: OutboxEntry, retryAfterSeconds?: number): void {
    clearTimeout(entry.timer);
    const wait =
      retryAfterSeconds !== undefined
        ? retryAfterSeconds * 1000
        : backoffDelay(entry.attempts - 1, this.options.reconnect || {}, this.options.random);
    entry.timer = setTimeout(() => this.attemptSend(entry), wait);
  }

  private sent(clientMessageId: string, sent: SentMessage): void {
    const entry = this.outbox.get(clientMessageId);
    const first = this.delivered.add(sent.message.id);
    if (entry) {
      this.outbox.delete(clientMessageId);
      clearTimeout(entry.timer);
      entry.done.resolve(sent);
    }
    if (entry || first) this.emit("message_sent", sent);
  }

  // --- internals: socket frames ------------------------------------------------------------------------------------

  private onOpen(reconnected: boolean): void {
    this.lastError = null;
    this.joined.clear();
    this.rejoining = new Set(this.rooms);
    for (const conversationId of this.rooms) this.sendJoin(conversationId);
    for (const entry of this.outbox.values()) {
      if (entry.inFlight === null) this.attemptSend(entry); // same clientMessageId: a stored one answers duplicate
    }
    for (const waiter of this.connectWaiters.splice(0)) waiter.resolve();
    this.emit("connected", { reconnected });
    this.catchUpWhenRejoined();
  }

  private onClose(info: ClientEventMap["disconnected"]): void {
    this.joined.clear();
    this.rejoining.clear();
    clearTimeout(this.rejoinTimer);
    this.rejoinTimer = undefined;
    this.joinRequests.clear();
    for (const [requestId, waiter] of this.answers) {
      clearTimeout(waiter.timer);
      waiter.reject(new MessagingApiError(0, "network_error", "the socket closed before answering"));
      this.answers.delete(requestId);
    }
    for (const state of this.typingOut.values()) clearTimeout(state.timer);
    this.typingOut.clear();
    if (info.code !== 1000) {
      this.lastError = new MessagingApiError(0, "network_error", `the socket closed (${info.code}${info.reason ? `: ${info.reason}` : ""})`);
    }
    // Sends the socket took but never answered: over REST now (the same clientMessageId stores them once).
    for (const entry of this.outbox.values()) {
      if (entry.inFlight !== "socket") continue;
      entry.inFlight = null;
      clearTimeout(entry.timer);
      if (entry.via === "socket") this.retryLater(entry);
      else this.attemptSend(entry);
    }
    this.emit("disconnected", info);
  }

  private sendJoin(conversationId: string): void {
    const requestId = this.nextRequestId();
    this.joinRequests.set(requestId, conversationId);
    this.connection.send({ action: "join_conversation", conversationId, requestId });
  }

  /** Send an action and wait for the answer that echoes its requestId (or the error that does). */
  private ask<T>(action: ClientAction, fields: Record<string, unknown>): Promise<T> {
    const requestId = this.nextRequestId();
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.answers.delete(requestId);
        reject(new MessagingApiError(0, "timeout", `no answer to ${action}`));
      }, this.options.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS);
      this.answers.set(requestId, { resolve: resolve as (data: unknown) => void, reject, timer });
      if (!this.connection.send({ action, ...fields, requestId })) {
        clearTimeout(timer);
        this.answers.delete(requestId);
        reject(new MessagingApiError(0, "not_connected", `${action} needs an open socket`));
      }
    });
  }

  private nextRequestId(): string {
    this.requestSeq += 1;
    return `r${this.requestSeq}`;
  }

  private answer(data: { requestId?: string }): void {
    const waiter = data.requestId === undefined ? undefined : this.answers.get(data.requestId);
    if (!waiter || data.requestId === undefined) return;
    clearTimeout(waiter.timer);
    this.answers.delete(data.requestId);
    waiter.resolve(data);
  }

  private onFrame(event: string, data: unknown): void {
    switch (event) {
      case "conversation_joined": {
        const joined = data as ServerEventMap["conversation_joined"];
        if (joined.requestId) this.joinRequests.delete(joined.requestId);
        if (this.rooms.has(joined.conversationId)) this.joined.add(joined.conversationId);
        this.rejoined(joined.conversationId);
        this.joinWaiters.get(joined.conversationId)?.resolve();
        this.joinWaiters.delete(joined.conversationId);
        return this.emit(event, joined);
      }
      case "conversation_left":
      case "pong":
      case "presence_watched":
      case "message_edited":
      case "message_removed":
      case "reaction_added":
      case "reaction_removed":
        this.answer(data as { requestId?: string });
        return this.emit(event, data as never);
      case "read_updated":
        this.answer(data as { requestId?: string });
        return this.emit(event, data as ServerEventMap["read_updated"]);
      case "message_sent": {
        const answer = data as ServerEventMap["message_sent"];
        const clientMessageId = answer.clientMessageId ?? answer.message.clientMessageId ?? "";
        const { requestId: _requestId, ...sent } = answer;
        return this.sent(clientMessageId, { ...sent, clientMessageId });
      }
      case "message_received":
        this.deliverMessage(data as Message, true);
        return;
      case "new_message_notification": {
        const notice = data as ServerEventMap["new_message_notification"];
        if (this.notified.add(notice.messageId)) this.emit(event, notice);
        return;
      }
      case "message_read_update": {
        const update = data as ServerEventMap["message_read_update"];
        const key = [update.conversationId, update.readerId, update.lastReadMessageId, update.readAt].join("\u0000");
        if (this.readUpdates.add(key)) this.emit(event, update);
        return;
      }
      case "user_typing": {
        const typing = data as ServerEventMap["user_typing"];
        this.typingTimeoutMs = typing.timeoutMs;
        const key = typingKey(typing.conversationId, typing.userId);
        const entry = this.typingIn.get(key);
        if (entry) clearTimeout(entry.timer);
        const timer = setTimeout(() => this.endTyping(typing.conversationId, typing.userId), typing.timeoutMs);
        this.typingIn.set(key, { conversationId: typing.conversationId, userId: typing.userId, timer });
        return this.emit(event, typing);
      }
      case "user_stopped_typing": {
        const stopped = data as ServerEventMap["user_stopped_typing"];
        return this.endTyping(stopped.conversationId, stopped.userId);
      }
      case "error":
        return this.onServerError(data as ServerEventMap["error"]);
      default:
        // presence_update, attachment_ready, notification, and events added to the protocol later: as they come.
        return this.emit(event as ClientEventName, data as never);
    }
  }

  /** `user_stopped_typing`, once per typing spell: when the server says so, when the typist's message arrives, or
   * when `timeoutMs` passed without another `user_typing` (a closed tab never says it stopped). */
  private endTyping(conversationId: string, userId: string): void {
    const key = typingKey(conversationId, userId);
    const entry = this.typingIn.get(key);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.typingIn.delete(key);
    this.emit("user_stopped_typing", { conversationId, userId });
  }

  private onServerError(error: ServerEventMap["error"]): void {
    const expired = error.code === "token_expired";
    const requestId = error.requestId;
    const failure = new MessagingApiError(0, error.code, error.message, error.details, retryAfterOf(error.details));
    if (requestId !== undefined) {
      const entry = this.outbox.get(requestId);
      const joining = this.joinRequests.get(requestId);
      const waiter = this.answers.get(requestId);
      if (entry && entry.inFlight === "socket") {
        entry.inFlight = null;
        clearTimeout(entry.timer);
        if (!expired) this.sendFailed(entry, failure); // expired: sent again on the fresh connection
      } else if (joining !== undefined) {
        this.joinRequests.delete(requestId);
        this.rejoined(joining);
        if (!expired) {
          this.rooms.delete(joining);
          this.joinWaiters.get(joining)?.reject(failure);
          this.joinWaiters.delete(joining);
        }
      } else if (waiter) {
        clearTimeout(waiter.timer);
        this.answers.delete(requestId);
        waiter.reject(failure);
      }
    }
    // Every action of this connection fails from now on: a new one with a fresh token.
    if (expired) this.connection.restart(true);
    this.emit("error", error);
  }

  private emit<E extends ClientEventName>(event: E, data: ClientEventMap[E]): void {
    const set = this.handlers.get(event);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        (handler as EventHandler<E>)(data);
      } catch (error) {
        (this.options.onHandlerError ?? ((e, name) => console.error(`${name} handler failed`, e)))(error, event);
      }
    }
  }
}
