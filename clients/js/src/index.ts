// @crochet-messaging/client: the REST API and the WebSocket protocol of crochet-messaging, typed from the contracts
// (docs/openapi.json, docs/asyncapi.yaml). React hooks: @crochet-messaging/client/react.

export { MessagingClient } from "./client.js";
export type {
  MarkAsReadOptions,
  MessagingClientOptions,
  ReadState,
  SendOptions,
  Transport,
  UploadOptions,
} from "./client.js";
export { MessagingStore, MESSAGING_ACTIONS, bindActions, mergeMessages } from "./store.js";
export type { ChatMessage, CurrentConversation, Delivery, MessagingActions, MessagingState, StoreSendInput, TypingUser } from "./store.js";
export { MessagingApiError } from "./errors.js";
export type { ClientErrorCode } from "./errors.js";
export { backoffDelay } from "./backoff.js";
export type { BackoffOptions } from "./backoff.js";
export { newClientMessageId } from "./ids.js";
export type { GetToken } from "./tokens.js";
export { RestClient } from "./rest.js";
export type { Answer, CallInput, RetryOptions } from "./rest.js";
export { OPERATIONS } from "./generated/operations.js";
export { SERVER_EVENTS, CLIENT_ACTIONS } from "./generated/events.js";
export type * from "./types.js";
export type { components, operations, paths } from "./generated/openapi.js";
