// A small client written against the types openapi-typescript generates from docs/openapi.json into
// generated.d.ts (make typecheck-openapi). It is never run: tsc checks it, so a change to the document that would
// break a client relying on these types fails make test. Each `@ts-expect-error` is a claim too: it fails if the
// line below it stops being an error.
import type { components, operations } from "./generated";

type Schemas = components["schemas"];
type Json<R> = R extends { content: { "application/json": infer Body } } ? Body : never;
type Responses<Op extends keyof operations> = operations[Op]["responses"];
type Body<Op extends keyof operations> = Json<NonNullable<operations[Op]["requestBody"]>>;

export type SendMessage = Body<"sendMessage">;
export type Sent = Json<Responses<"sendMessage">[201]>;
export type ConversationPage = Json<Responses<"listConversations">[200]>;
export type ConversationDetail = Json<Responses<"getConversation">[200]>;
export type ApiError = Json<Responses<"sendMessage">[400]>;

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiError,
  ) {
    super(body.error.message);
  }
}

async function call<T>(token: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new ApiFailure(response.status, (await response.json()) as ApiError);
  return (await response.json()) as T;
}

export const sendMessage = (token: string, body: SendMessage): Promise<Sent> =>
  call(token, "POST", "/api/messages", body);

export const listConversations = (token: string, cursor?: string): Promise<ConversationPage> =>
  call(token, "GET", `/api/messages/conversations${cursor === undefined ? "" : `?cursor=${encodeURIComponent(cursor)}`}`);

export const getConversation = (token: string, conversationId: string): Promise<ConversationDetail> =>
  call(token, "GET", `/api/messages/conversations/${encodeURIComponent(conversationId)}`);

// A send needs only where it goes and what it says.
export async function reply(token: string, conversationId: string): Promise<string> {
  const sent = await sendMessage(token, { conversationId, content: "Row 3 is a magic ring" });
  // An optional field is left out when empty: possibly undefined, never null.
  const readAt: string | undefined = sent.message.readAt;
  // @ts-expect-error readAt may be undefined
  sent.message.readAt.length;
  return readAt ?? `unread since ${sent.message.sentAt}`;
}

// Fields with a default may be left out: a photo alone, a read receipt with no options.
export const photo: SendMessage = { conversationId: "conv_1", attachment: { attachmentId: "att_1" } };
export const receipt: Body<"markRead"> = {};

// A send names its conversation or its recipient, nothing else (the sender is the token's user).
export const refused: SendMessage = {
  conversationId: "conv_1",
  content: "hi",
  // @ts-expect-error unknown fields are refused
  senderId: "mallory",
};

// Every page: nextCursor is always there, and null on the last one.
export async function everyConversation(token: string): Promise<Schemas["EnrichedConversationOut"][]> {
  const all: Schemas["EnrichedConversationOut"][] = [];
  let cursor: string | undefined;
  do {
    const page = await listConversations(token, cursor);
    all.push(...page.conversations);
    // @ts-expect-error nextCursor may be null
    const next: string = page.nextCursor;
    cursor = page.nextCursor ?? undefined;
    void next;
  } while (cursor !== undefined);
  return all;
}

// Error codes are an enum: a client can switch on them, and a misspelt one does not compile.
export function advice(error: unknown): string {
  if (!(error instanceof ApiFailure)) return "Something went wrong";
  const code: Schemas["ErrorCode"] = error.body.error.code;
  switch (code) {
    case "rate_limited":
      return "Slow down a little";
    case "purchase_required":
      return "Buy the pattern to message its creator";
    case "temporarily_unavailable":
    case "contention":
      return "Try again";
    default:
      return error.body.error.message;
  }
}
// @ts-expect-error not an error code
export const misspelt: Schemas["ErrorCode"] = "rate_limitted";

// A conversation and a page of its history.
export async function transcript(token: string, conversationId: string): Promise<string[]> {
  const detail = await getConversation(token, conversationId);
  const title: string | undefined = detail.conversation.title;
  const lines = detail.messages.map((message) => `${message.senderId}: ${message.content}`);
  return [title ?? detail.conversation.id, ...lines, ...(detail.hasMoreBefore ? ["(older messages)"] : [])];
}

// A message's life after it was sent: edits, tombstones, reactions, quotes. Clients keep the highest version.
export type Changed = Json<Responses<"editMessage">[200]>;
export const editMessage = (token: string, messageId: string, content: string): Promise<Changed> =>
  call(token, "PATCH", `/api/messages/${encodeURIComponent(messageId)}`, { content } satisfies Body<"editMessage">);
export const react = (token: string, messageId: string, emoji: string): Promise<Changed> =>
  call(token, "PUT", `/api/messages/${encodeURIComponent(messageId)}/reactions/${encodeURIComponent(emoji)}`);

export function newer(held: Schemas["MessageOut"], arrived: Schemas["MessageOut"]): Schemas["MessageOut"] {
  return arrived.version > held.version ? arrived : held;
}

export function shown(message: Schemas["MessageOut"]): string {
  if (message.isDeleted) return "message deleted";
  const reactions = message.reactions.map((r) => `${r.emoji} ${r.count}`).join(" ");
  const quote = message.replyTo ? (message.replyTo.isDeleted ? "> (deleted)\n" : `> ${message.replyTo.content}\n`) : "";
  // @ts-expect-error replyTo is left out when the message quotes nothing
  message.replyTo.content;
  return `${quote}${message.content}${message.editedAt ? " (edited)" : ""}${reactions ? ` [${reactions}]` : ""}`;
}
