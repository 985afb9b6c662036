// Names for the generated types (src/generated/, made from docs/openapi.json and docs/asyncapi.yaml by
// scripts/generate.mjs). Nothing here describes a field by hand: a field added to the API appears here on the next
// `npm run generate`.

import type { components, operations } from "./generated/openapi.js";
import type { ServerEventMap, ClientActionMap } from "./generated/events.js";
import type { OperationId } from "./generated/operations.js";

export type { ServerEventMap, ClientActionMap, OperationId };

type Schemas = components["schemas"];

/** The seed's Message, as REST and the socket show it. */
export type Message = Schemas["MessageOut"];
/** A conversation as `POST /api/messages` and `message_sent` return it (not enriched). */
export type Conversation = Schemas["ConversationOut"];
/** A conversation with the caller's `unreadCount`, `lastMessage`, `participants`, `otherParticipant` (presence). */
export type EnrichedConversation = Schemas["EnrichedConversationOut"];
export type Participant = Schemas["ParticipantOut"];
export type Attachment = Schemas["AttachmentOut"];
export type AttachmentRef = Schemas["AttachmentRef"];
export type ErrorCode = Schemas["ErrorCode"];

// --- per-operation helpers: what goes in and what comes out of an operationId ------------------------------------

type Operation<O extends OperationId> = operations[O];
type Parameters<O extends OperationId> = Operation<O>["parameters"];

/** The path parameters of an operation (`{}` when it has none). */
export type PathOf<O extends OperationId> = Parameters<O> extends { path: infer P } ? NonNullable<P> : never;
/** The query parameters of an operation. */
export type QueryOf<O extends OperationId> = Parameters<O> extends { query?: infer Q } ? NonNullable<Q> : never;
/** The JSON request body of an operation. */
export type BodyOf<O extends OperationId> =
  NonNullable<Operation<O>["requestBody"]> extends { content: { "application/json": infer B } } ? B : never;

type Success = 200 | 201 | 202 | 204;
type JsonOf<R> = R extends { content: { "application/json": infer B } } ? B : undefined;
/** What an operation answers when it succeeds (every 2xx, as a union). */
export type ResponseOf<O extends OperationId> = {
  [S in keyof Operation<O>["responses"] & Success]: JsonOf<Operation<O>["responses"][S]>;
}[keyof Operation<O>["responses"] & Success];

// --- the calls of MessagingClient -------------------------------------------------------------------------------

/** `GET /api/messages/conversations`: a page of conversations, `nextCursor`, `totalUnread`. */
export type ConversationPage = ResponseOf<"listConversations">;
/** `GET /api/messages/conversations/{id}`: a conversation and one page of its history. */
export type ConversationDetail = ResponseOf<"getConversation">;
export type LoadConversationsOptions = QueryOf<"listConversations">;
export type LoadConversationOptions = QueryOf<"getConversation">;
export type SyncOptions = QueryOf<"syncChanges">;
export type SyncPage = ResponseOf<"syncChanges">;
export type ReadReceipt = ResponseOf<"markRead">;
export type PatternConversation = ResponseOf<"getPatternConversation">;
export type UploadTicket = ResponseOf<"createUpload">;
/** What an edit, a deletion or a reaction answers (REST and socket alike): the message after the change. */
export type MessageChange = ResponseOf<"editMessage">;
/** The socket's answers to the four changes of a message; `on()` handlers get them for REST calls too. */
export type MessageChangeEvent = "message_edited" | "message_removed" | "reaction_added" | "reaction_removed";

/** `GET /api/messages/search`: what `search(q, options)` takes besides `q` (`conversationId`, `limit`, `cursor`). */
export type SearchOptions = Omit<QueryOf<"searchMessages">, "q">;
/** A page of search results (`message`, `conversation`, `highlights`), newest first, and `nextCursor`. */
export type SearchPage = ResponseOf<"searchMessages">;
/** A list folder of `loadConversations({folder})`: `inbox` (the default), `archived`, `requests`. */
export type ConversationFolder = NonNullable<LoadConversationsOptions["folder"]>;
/** The caller's own settings of a conversation (`archived`, `mutedUntil`, `isMuted`), as every enriched one has. */
export type ConversationSettings = Schemas["ConversationSettingsOut"];
/** `PUT .../settings`: what to change (`archived`, `mutedUntil`, `accepted: true`); what is left out stays. */
export type ConversationSettingsChange = BodyOf<"updateConversationSettings">;
/** What `PUT .../settings` answers: `{settings}` after the change. */
export type ConversationSettingsResult = ResponseOf<"updateConversationSettings">;
/** `PUT /api/me/blocks/{userId}`: `{block: {userId, blockedAt}}` (the same when already blocked). */
export type BlockResult = ResponseOf<"blockUser">;
/** `DELETE /api/me/blocks/{userId}`: `{userId, blocked: false}`. */
export type UnblockResult = ResponseOf<"unblockUser">;
export type ListBlocksOptions = QueryOf<"listBlocks">;
/** `GET /api/me/blocks`: the users the caller blocked, a page, and `nextCursor`. */
export type BlockPage = ResponseOf<"listBlocks">;
/** `POST /api/messages/{id}/report`: `reason` and, optionally, `details` (the reporter's words). */
export type ReportInput = BodyOf<"reportMessage">;
/** What a report answers: `{report: {id, messageId, conversationId, reason, status, createdAt}}`. */
export type ReportResult = ResponseOf<"reportMessage">;
/** The caller's notification preferences: `email`, `push`, `quietHours` (every field, defaults filled in). */
export type NotificationPreferences = ResponseOf<"getNotificationPreferences">;
/** The whole set `setNotificationPreferences` stores: what is left out takes its default. */
export type NotificationPreferencesInput = BodyOf<"putNotificationPreferences">;
/** `GET /api/push/vapid-public-key`: `{publicKey}` (base64url), the `applicationServerKey` of a push subscription. */
export type VapidPublicKey = ResponseOf<"getVapidPublicKey">;
/** `PUT /api/push/subscriptions`: what `PushSubscription.toJSON()` gives (`endpoint`, `keys`, `expirationTime`). */
export type PushSubscriptionInput = BodyOf<"putPushSubscription">;
/** A registered push subscription's `{id}` (what `unregisterPushSubscription` takes). */
export type PushSubscriptionResult = ResponseOf<"putPushSubscription">;

/** What `sendMessage` takes: the fields of `POST /api/messages`; `clientMessageId` is generated when left out, and
 * `attachment` may be what `uploadAttachment` resolved with (only its `attachmentId` is sent). */
export type SendMessageInput = Omit<BodyOf<"sendMessage">, "attachment" | "clientMessageId"> & {
  attachment?: AttachmentRef | null;
  clientMessageId?: string;
};

/** A stored message and its conversation, as `POST /api/messages` and the socket's `message_sent` answer;
 * `duplicate` when the server already had this `clientMessageId` (a retry). */
export interface SentMessage {
  message: Message;
  conversation: Conversation;
  clientMessageId: string;
  duplicate: boolean;
}

// --- real time ----------------------------------------------------------------------------------------------------

export type ServerEventName = keyof ServerEventMap;
export type ClientAction = keyof ClientActionMap;

/** What the client adds to the server's events. */
export interface ConnectionEvents {
  /** The socket is open (again): rooms are being re-joined, queued sends re-sent, and catch-up has started. */
  connected: { reconnected: boolean };
  /** The socket closed; `willReconnect` unless `disconnect()` was called. */
  disconnected: { code: number; reason: string; willReconnect: boolean; retryInMs: number | null };
  /** A catch-up after a (re)connect finished: the messages missed meanwhile (each already delivered once to
   * `message_received`) and the conversations they touched, enriched (with `unreadCount`). */
  synced: { messages: Message[]; conversations: EnrichedConversation[] };
}

/** Every event `MessagingClient.on` accepts, with its data: the server's, except that `message_sent` reports every
 * send of this client, over the socket or REST (so its clientMessageId is always there), plus ConnectionEvents. */
export type ClientEventMap = Omit<ServerEventMap, "message_sent"> & { message_sent: SentMessage } & ConnectionEvents;
export type ClientEventName = keyof ClientEventMap;
export type EventHandler<E extends ClientEventName> = (data: ClientEventMap[E]) => void;

/** The part of the browser's WebSocket the client uses (the `ws` package's WebSocket fits too). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;
