// MessagingStore: the seed's MessagingContext state without React (the React provider renders it; a plain page can
// subscribe to it the same way). Kept current by the client's events, merged so that every message shows once:
//
// - a conversation's list entry follows message_received, message_sent, new_message_notification, read_updated,
//   presence_update and catch-up (`synced`), whichever comes first; message_sent's conversation is not enriched, so
//   it is merged into the entry, never put in its place;
// - an optimistic message (delivery "pending", keyed by its clientMessageId) becomes the stored one when
//   message_sent (or the REST answer) brings it, or "failed" with the error; its `key` never changes;
// - edits, deletions and reactions (message_updated, message_deleted, reaction_updated, the answers to our own
//   changes, and the copies catch-up brings) keep the highest `version` per message id, whatever order they come
//   in; a deleted message stays in place as a tombstone, and the list's preview follows its conversation's last
//   message;
// - the list is one folder's (`loadConversations({ folder })`, inbox by default): a conversation archived or
//   unarchived (through the store's own calls, or `conversation_updated` from the caller's other devices) leaves
//   the list or joins it, a mute shows on its entry, and the counts are reloaded.

import { MessagingApiError } from "./errors.js";
import { newClientMessageId } from "./ids.js";
import type { MarkAsReadOptions, MessagingClient, ReadState, SendOptions } from "./client.js";
import type {
  ClientEventMap,
  ConversationDetail,
  ConversationFolder,
  ConversationPage,
  ConversationSettings,
  ConversationSettingsResult,
  EnrichedConversation,
  LoadConversationOptions,
  LoadConversationsOptions,
  Message,
  MessageChange,
  SendMessageInput,
  SentMessage,
  ServerEventMap,
} from "./types.js";

export type Delivery = "pending" | "sent" | "failed";

/** A message as a chat shows it: a stored one (`delivery: "sent"`), or one of ours on its way (`pending`, no `id`
 * yet) or refused (`failed`, with `error`). `key` is stable from the first render on (React `key`). */
export type ChatMessage = Omit<Message, "id" | "recipientId"> & {
  id?: string;
  recipientId?: string;
  key: string;
  delivery: Delivery;
  error?: MessagingApiError;
};

export interface CurrentConversation {
  conversation: EnrichedConversation;
  /** Oldest first. */
  messages: ChatMessage[];
  hasMoreBefore: boolean;
  hasMoreAfter: boolean;
}

export interface TypingUser {
  conversationId: string;
  userId: string;
}

export interface MessagingState {
  /** Most recent activity first. */
  conversations: EnrichedConversation[];
  /** Where `loadConversations({cursor})` continues the list; null when it is complete. */
  conversationsCursor: string | null;
  /** The open conversation and its messages (`loadConversation`), or null. */
  currentConversation: CurrentConversation | null;
  /** The caller's unread messages over all conversations (`totalUnread`). */
  unreadCount: number;
  isConnected: boolean;
  connectionError: MessagingApiError | null;
  /** Who is typing, in the conversations this client joined. */
  typingUsers: TypingUser[];
}

/** What `sendMessage` of the store takes: the client's input, its conversation defaulting to the open one. */
export type StoreSendInput = string | (SendMessageInput & { conversationId?: string | null });

/** The store's methods that `useMessaging()` hands out (bound): the seed's MessagingContext actions and the
 * message changes of issue 15. One list, so the hook, its type and the store cannot disagree. */
export const MESSAGING_ACTIONS = [
  "loadConversations",
  "loadConversation",
  "closeConversation",
  "sendMessage",
  "markAsRead",
  "createPatternConversation",
  "editMessage",
  "deleteMessage",
  "addReaction",
  "removeReaction",
  "reply",
  "startTyping",
  "stopTyping",
  "archiveConversation",
  "unarchiveConversation",
  "muteConversation",
  "unmuteConversation",
] as const satisfies readonly (keyof MessagingStore)[];

export type MessagingActions = Pick<MessagingStore, (typeof MESSAGING_ACTIONS)[number]>;

/** The methods `names` of `target`, bound to it (so they can be handed around as plain functions). */
export function bindMethods<T extends object, K extends keyof T>(target: T, names: readonly K[]): Pick<T, K> {
  const bound: Partial<Pick<T, K>> = {};
  for (const name of names) bound[name] = (target[name] as (...args: unknown[]) => unknown).bind(target) as T[K];
  return bound as Pick<T, K>;
}

/** The actions, bound to a store (what `useMessaging()` returns next to the state). */
export function bindActions(store: MessagingStore): MessagingActions {
  return bindMethods(store, MESSAGING_ACTIONS);
}

const initialState: MessagingState = {
  conversations: [],
  conversationsCursor: null,
  currentConversation: null,
  unreadCount: 0,
  isConnected: false,
  connectionError: null,
  typingUsers: [],
};

const activity = (conversation: EnrichedConversation) => conversation.lastMessageAt ?? conversation.updatedAt;
const byActivity = (a: EnrichedConversation, b: EnrichedConversation) => activity(b).localeCompare(activity(a));

export class MessagingStore {
  private state: MessagingState = initialState;
  private readonly listeners = new Set<() => void>();
  private unsubscribers: (() => void)[] = [];
  private readonly readAt = new Map<string, string>(); // conversationId -> the caller's latest read time
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private openRequest = 0;
  private folder: ConversationFolder = "inbox"; // the folder the list shows

  constructor(readonly client: MessagingClient) {}

  // --- the external-store contract (React's useSyncExternalStore) -----------------------------------------------

  getState = (): MessagingState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Follow the client's events (idempotent). */
  start(): void {
    if (this.unsubscribers.length) return;
    const on = <E extends keyof ClientEventMap>(event: E, handler: (data: ClientEventMap[E]) => void) =>
      this.unsubscribers.push(this.client.on(event, handler));
    on("connected", () => this.set({ isConnected: true, connectionError: null }));
    on("disconnected", () => this.set({ isConnected: false, connectionError: this.client.connectionError }));
    on("message_received", (message) => this.onMessage(message));
    on("message_sent", (sent) => this.onSent(sent));
    on("new_message_notification", (notice) => this.onNotification(notice));
    on("notification", (notice) => {
      if (!this.find(notice.conversationId)) this.refreshSoon();
    });
    on("read_updated", (read) => this.onReadUpdated(read));
    on("message_read_update", (update) => this.onReadUpdate(update));
    on("user_typing", () => this.set({ typingUsers: this.client.typingUsers() }));
    on("user_stopped_typing", () => this.set({ typingUsers: this.client.typingUsers() }));
    on("presence_update", (presence) => this.onPresence(presence));
    on("presence_watched", ({ presence }) => presence.forEach((watched) => this.onPresence(watched)));
    on("attachment_ready", ({ message }) => this.onChanged(message));
    on("message_updated", ({ message }) => this.onChanged(message));
    for (const answer of ["message_edited", "message_removed", "reaction_added", "reaction_removed"] as const) {
      on(answer, ({ message }) => this.onChanged(message));
    }
    on("message_deleted", (deleted) => this.onDeleted(deleted));
    on("reaction_updated", (update) => this.onReactions(update));
    on("synced", (synced) => this.onSynced(synced));
    on("conversation_updated", ({ conversationId, settings }) => this.onSettings(conversationId, settings));
    this.set({ isConnected: this.client.isConnected });
  }

  /** Stop following the client's events. */
  dispose(): void {
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    clearTimeout(this.refreshTimer);
  }

  // --- the seed's MessagingContext actions ---------------------------------------------------------------------------

  /** The first page of conversations (or the next one, with `cursor`: appended). */
  async loadConversations(options: LoadConversationsOptions = {}): Promise<ConversationPage> {
    if (!options.cursor) this.folder = options.folder ?? "inbox"; // the latest asked: what a refresh reloads
    const page = await this.client.loadConversations(options);
    const merged = options.cursor ? this.mergeConversations(page.conversations) : [...page.conversations];
    this.set({
      conversations: merged.sort(byActivity),
      conversationsCursor: page.nextCursor,
      unreadCount: page.totalUnread,
    });
    return page;
  }

  /**
   * Open a conversation: join its room first, then load its history (a message sent in between arrives live and is
   * kept once). With `before`/`after`, load another page of the open conversation instead (merged in).
   */
  async loadConversation(conversationId: string, options: LoadConversationOptions = {}): Promise<ConversationDetail> {
    const current = this.state.currentConversation;
    const paging = current?.conversation.id === conversationId && (options.before ?? options.after) !== undefined;
    const request = ++this.openRequest;
    if (!paging && current && current.conversation.id !== conversationId) {
      void this.client.leaveConversation(current.conversation.id);
    }
    if (!paging && current?.conversation.id !== conversationId) {
      const known = this.find(conversationId);
      this.set({
        currentConversation: known
          ? { conversation: known, messages: [], hasMoreBefore: false, hasMoreAfter: false }
          : null,
      });
    }
    // Joined before the history is read: a message sent in between arrives live and is kept once. (Offline, the
    // join waits for the connection, whose catch-up brings what was sent meanwhile.)
    const joined = this.client.joinConversation(conversationId).catch(() => undefined); // refused: so is the history
    if (this.client.isConnected) await joined;
    const detail = await this.client.loadConversation(conversationId, options);
    if (request !== this.openRequest && !paging) return detail; // another conversation was opened meanwhile
    const before = this.state.currentConversation;
    const kept = before?.conversation.id === conversationId ? before.messages : [];
    let messages = detail.messages.map((message) => this.chat(message));
    messages = mergeMessages(messages, kept);
    this.set({
      currentConversation: {
        conversation: detail.conversation,
        messages,
        hasMoreBefore: paging && options.after !== undefined ? (before?.hasMoreBefore ?? false) : detail.hasMoreBefore,
        hasMoreAfter: paging && options.before !== undefined ? (before?.hasMoreAfter ?? false) : detail.hasMoreAfter,
      },
      conversations: this.upsertConversation(detail.conversation),
    });
    return detail;
  }

  /** Archive a conversation: it leaves the inbox list (and its unread the badge) until the other participant writes. */
  archiveConversation(conversationId: string): Promise<ConversationSettingsResult> {
    return this.settled(conversationId, this.client.archiveConversation(conversationId));
  }

  /** Back to the inbox. */
  unarchiveConversation(conversationId: string): Promise<ConversationSettingsResult> {
    return this.settled(conversationId, this.client.unarchiveConversation(conversationId));
  }

  /** No notifications until `until` (without it: until unmuted); the entry's `settings.isMuted` shows it. */
  muteConversation(conversationId: string, until?: Date | string): Promise<ConversationSettingsResult> {
    return this.settled(conversationId, this.client.muteConversation(conversationId, until));
  }

  unmuteConversation(conversationId: string): Promise<ConversationSettingsResult> {
    return this.settled(conversationId, this.client.unmuteConversation(conversationId));
  }

  /** Close the open conversation (leaves its room). */
  closeConversation(): void {
    const current = this.state.currentConversation;
    this.openRequest += 1;
    if (current) void this.client.leaveConversation(current.conversation.id);
    this.set({ currentConversation: null });
  }

  /** Send to the open conversation (a string), or anywhere (`conversationId` or `recipientId`). Shown at once as
   * "pending", then as the stored message, or "failed". */
  sendMessage(input: StoreSendInput, options: SendOptions = {}): Promise<SentMessage> {
    const fields: SendMessageInput = typeof input === "string" ? { content: input } : { ...input };
    const current = this.state.currentConversation;
    if (!fields.conversationId && !fields.recipientId) {
      if (!current) return Promise.reject(new TypeError("sendMessage: no conversation is open; name one"));
      fields.conversationId = current.conversation.id;
    }
    const clientMessageId = fields.clientMessageId ?? newClientMessageId();
    if (current && fields.conversationId === current.conversation.id) {
      const me = this.client.userId ?? "";
      this.upsertCurrent({
        key: clientMessageId,
        clientMessageId,
        conversationId: current.conversation.id,
        senderId: me,
        content: fields.content ?? "",
        isRead: false,
        sentAt: new Date().toISOString(),
        version: 1,
        isDeleted: false,
        reactions: [],
        delivery: "pending",
        ...(fields.attachment && "attachmentType" in fields.attachment ? pickAttachment(fields.attachment) : {}),
      });
    }
    const sending = this.client.sendMessage({ ...fields, clientMessageId }, options);
    sending.then(
      (sent) => this.onSent(sent),
      (error: unknown) => {
        const failed = this.state.currentConversation?.messages.find((m) => m.key === clientMessageId);
        if (failed) {
          const reason = error instanceof MessagingApiError ? error : new MessagingApiError(0, "network_error", String(error));
          this.upsertCurrent({ ...failed, delivery: "failed", error: reason });
        }
      },
    );
    return sending;
  }

  /** Read up to this message (by default the open conversation's newest one). */
  markAsRead(messageId?: string, options: MarkAsReadOptions = {}): Promise<ReadState> {
    const current = this.state.currentConversation;
    const target = messageId ?? current?.messages.filter((m) => m.id).at(-1)?.id;
    if (!target) return Promise.reject(new TypeError("markAsRead: no message to read"));
    return this.client.markAsRead(target, options);
  }

  /** Get or create the conversation about a pattern with its creator; it is added to the list (not opened). */
  async createPatternConversation(patternId: string, creatorId?: string): Promise<EnrichedConversation> {
    const { conversation } = await this.client.createPatternConversation(patternId, creatorId);
    this.set({ conversations: this.upsertConversation(conversation) });
    return conversation;
  }

  /** Edit one of our messages; the open conversation and the list's preview show the new text. */
  editMessage(messageId: string, content: string, options?: SendOptions): Promise<MessageChange> {
    return this.client.editMessage(messageId, content, options).then((changed) => this.applied(changed));
  }

  /** Delete one of our messages: a tombstone in its place. */
  deleteMessage(messageId: string, options?: SendOptions): Promise<MessageChange> {
    return this.client.deleteMessage(messageId, options).then((changed) => this.applied(changed));
  }

  addReaction(messageId: string, emoji: string, options?: SendOptions): Promise<MessageChange> {
    return this.client.addReaction(messageId, emoji, options).then((changed) => this.applied(changed));
  }

  removeReaction(messageId: string, emoji: string, options?: SendOptions): Promise<MessageChange> {
    return this.client.removeReaction(messageId, emoji, options).then((changed) => this.applied(changed));
  }

  /** Reply to a message of the open conversation (it is quoted: `replyTo`). */
  reply(messageId: string, content: string, options?: SendOptions): Promise<SentMessage> {
    return this.sendMessage({ content, replyTo: { messageId } }, options);
  }

  startTyping(conversationId?: string): void {
    const id = conversationId ?? this.state.currentConversation?.conversation.id;
    if (id) this.client.startTyping(id);
  }

  stopTyping(conversationId?: string): void {
    const id = conversationId ?? this.state.currentConversation?.conversation.id;
    if (id) this.client.stopTyping(id);
  }

  // --- reducers ------------------------------------------------------------------------------------------------------

  private onMessage(message: Message): void {
    this.upsertCurrent(this.chat(message));
    this.touchConversation(message);
  }

  private onSent(sent: SentMessage): void {
    this.upsertCurrent(this.chat(sent.message));
    const known = this.find(sent.conversation.id);
    if (!known) {
      // A first message (to a recipientId): the list needs the enriched conversation.
      void this.client.loadConversation(sent.conversation.id, { limit: 1 }).then(
        ({ conversation }) => this.set({ conversations: this.upsertConversation(conversation) }),
        () => undefined,
      );
      return;
    }
    this.touchConversation(sent.message, sent.conversation);
  }

  private onNotification(notice: ServerEventMap["new_message_notification"]): void {
    const known = this.find(notice.conversationId);
    if (!known) return this.refreshSoon();
    const readAt = this.readAt.get(notice.conversationId);
    const stale = readAt !== undefined && notice.sentAt <= readAt; // read already (the read's answer came first)
    const updated: EnrichedConversation = {
      ...known,
      lastMessageId: notice.messageId,
      lastMessageAt: notice.sentAt,
      lastMessage: {
        id: notice.messageId,
        senderId: notice.sender.id,
        content: notice.preview,
        sentAt: notice.sentAt,
        ...(notice.attachmentType ? { attachmentType: notice.attachmentType } : {}),
      },
      ...(stale ? {} : { unreadCount: notice.unreadCount }),
    };
    this.set({
      conversations: this.upsertConversation(updated),
      ...(stale ? {} : { unreadCount: notice.totalUnread }),
    });
  }

  private onReadUpdated(read: ReadState): void {
    if (read.readAt) this.readAt.set(read.conversationId, read.readAt);
    const known = this.find(read.conversationId);
    this.set({
      unreadCount: read.totalUnread,
      ...(known ? { conversations: this.upsertConversation({ ...known, unreadCount: read.unreadCount }) } : {}),
    });
    this.markRead(read.conversationId, (m) => m.senderId !== this.client.userId, read.lastReadMessageId, read.readAt);
  }

  private onReadUpdate(update: ServerEventMap["message_read_update"]): void {
    const me = this.client.userId;
    if (update.readerId === me) {
      // Read on another device of ours: the counts follow when it read everything there is.
      const known = this.find(update.conversationId);
      if (known && known.lastMessageId === update.lastReadMessageId && known.unreadCount > 0) {
        this.set({
          unreadCount: Math.max(0, this.state.unreadCount - known.unreadCount),
          conversations: this.upsertConversation({ ...known, unreadCount: 0 }),
        });
      }
      this.markRead(update.conversationId, (m) => m.senderId !== me, update.lastReadMessageId, update.readAt);
    } else {
      this.markRead(update.conversationId, (m) => m.senderId === me, update.lastReadMessageId, update.readAt);
    }
  }

  /** A presence_update, or one user of a watch_presence answer (which has no lastSeenAt for a user never seen). */
  private onPresence(presence: { userId: string; online: boolean; lastSeenAt?: string }): void {
    const change = (conversation: EnrichedConversation): EnrichedConversation =>
      conversation.otherParticipant.id === presence.userId
        ? {
            ...conversation,
            otherParticipant: {
              ...conversation.otherParticipant,
              online: presence.online,
              ...(presence.lastSeenAt ? { lastSeenAt: presence.lastSeenAt } : {}),
            },
          }
        : conversation;
    const current = this.state.currentConversation;
    this.set({
      conversations: this.state.conversations.map(change),
      currentConversation: current ? { ...current, conversation: change(current.conversation) } : null,
    });
  }

  /** A message in a newer version (edited, deleted, reacted to, processed, its quote changed). */
  private onChanged(message: Message): void {
    this.upsertCurrent(this.chat(message));
    this.previewChanged(message.conversationId, message.id, {
      content: message.content,
      ...(message.editedAt ? { editedAt: message.editedAt } : {}),
      ...(message.isDeleted ? { isDeleted: true } : {}),
    });
  }

  private applied(changed: MessageChange): MessageChange {
    this.onChanged(changed.message);
    return changed;
  }

  private onDeleted(deleted: ServerEventMap["message_deleted"]): void {
    const known = this.currentMessage(deleted.conversationId, deleted.messageId);
    if (known && known.version <= deleted.version) {
      const tombstone: ChatMessage = { ...withoutAttachment(known), content: "", isDeleted: true, deletedAt: deleted.deletedAt, reactions: [], version: deleted.version };
      delete tombstone.replyTo;
      this.upsertCurrent(tombstone);
    }
    this.previewChanged(deleted.conversationId, deleted.messageId, { content: "", isDeleted: true });
  }

  private onReactions(update: ServerEventMap["reaction_updated"]): void {
    const known = this.currentMessage(update.conversationId, update.messageId);
    if (known && known.version <= update.version) this.upsertCurrent({ ...known, reactions: update.reactions, version: update.version });
  }

  private currentMessage(conversationId: string, messageId: string): ChatMessage | undefined {
    const current = this.state.currentConversation;
    if (current?.conversation.id !== conversationId) return undefined;
    return current.messages.find((m) => m.id === messageId);
  }

  /** The list entry whose last message this is shows it as it is now. */
  private previewChanged(conversationId: string, messageId: string, fields: Partial<NonNullable<EnrichedConversation["lastMessage"]>>): void {
    const known = this.find(conversationId);
    if (!known?.lastMessage || known.lastMessage.id !== messageId) return;
    const lastMessage = { ...known.lastMessage, ...fields };
    if (!fields.isDeleted) delete lastMessage.isDeleted;
    if (fields.isDeleted) delete lastMessage.attachmentType;
    this.set({ conversations: this.upsertConversation({ ...known, lastMessage }) });
  }

  private onSynced({ conversations }: ClientEventMap["synced"]): void {
    let total = this.state.unreadCount;
    let unknown = false;
    let list = this.state.conversations;
    for (const conversation of conversations) {
      const known = list.find((c) => c.id === conversation.id);
      if (known) total += conversation.unreadCount - known.unreadCount;
      else unknown = true;
      list = upsert(list, conversation);
    }
    const current = this.state.currentConversation;
    const fresh = current && conversations.find((c) => c.id === current.conversation.id);
    this.set({
      conversations: list.sort(byActivity),
      unreadCount: Math.max(0, total),
      ...(current && fresh ? { currentConversation: { ...current, conversation: fresh } } : {}),
    });
    if (unknown) this.refreshSoon(); // its unread messages are in totalUnread, which only the list brings
  }

  // --- helpers ---------------------------------------------------------------------------------------------------------

  private chat(message: Message): ChatMessage {
    return { ...message, key: message.clientMessageId ?? message.id, delivery: "sent" };
  }

  private async settled(
    conversationId: string,
    change: Promise<ConversationSettingsResult>,
  ): Promise<ConversationSettingsResult> {
    const result = await change;
    this.onSettings(conversationId, result.settings);
    return result;
  }

  /** A conversation's new settings: on its entry and the open conversation; out of a list of another folder (in
   * when it now belongs to this one); the counts reloaded when it changed folders (`totalUnread` is the inbox's). */
  private onSettings(conversationId: string, settings: ConversationSettings): void {
    const known = this.find(conversationId);
    const current = this.state.currentConversation;
    const moved = known !== undefined && known.settings.archived !== settings.archived;
    const belongs = settings.archived ? this.folder === "archived" : this.folder !== "archived";
    const patch: Partial<MessagingState> = {};
    if (current?.conversation.id === conversationId) {
      patch.currentConversation = { ...current, conversation: { ...current.conversation, settings } };
    }
    if (known && belongs) {
      patch.conversations = this.state.conversations.map((c) => (c.id === conversationId ? { ...c, settings } : c));
    } else if (known) {
      patch.conversations = this.state.conversations.filter((c) => c.id !== conversationId);
    }
    this.set(patch);
    if (moved || (!known && belongs)) this.refreshSoon();
  }

  private find(conversationId: string): EnrichedConversation | undefined {
    return this.state.conversations.find((conversation) => conversation.id === conversationId);
  }

  /** Put a message into the open conversation (replacing the copy with its id or clientMessageId). */
  private upsertCurrent(message: ChatMessage): void {
    const current = this.state.currentConversation;
    if (!current || current.conversation.id !== message.conversationId) return;
    this.set({ currentConversation: { ...current, messages: mergeMessages(current.messages, [message]) } });
  }

  /** The list entry of a message's conversation shows it as its newest (a not-enriched conversation merged in). */
  private touchConversation(message: Message, conversation?: ServerEventMap["message_sent"]["conversation"]): void {
    const known = this.find(message.conversationId);
    if (!known) return this.refreshSoon();
    if (known.lastMessageAt && known.lastMessageAt > message.sentAt) return; // an older one, from catch-up
    const { participantIds: _ids, ...fields } = conversation ?? { participantIds: [] };
    const updated: EnrichedConversation = {
      ...known,
      ...fields,
      lastMessageId: message.id,
      lastMessageAt: message.sentAt,
      lastMessage: {
        id: message.id,
        senderId: message.senderId,
        content: message.content,
        sentAt: message.sentAt,
        ...(message.attachmentType ? { attachmentType: message.attachmentType } : {}),
      },
    };
    const current = this.state.currentConversation;
    this.set({
      conversations: this.upsertConversation(updated),
      ...(current?.conversation.id === updated.id
        ? { currentConversation: { ...current, conversation: { ...current.conversation, ...fields, lastMessageId: message.id, lastMessageAt: message.sentAt } } }
        : {}),
    });
  }

  private markRead(
    conversationId: string,
    whose: (message: ChatMessage) => boolean,
    lastReadMessageId: string | null,
    readAt: string | null,
  ): void {
    const current = this.state.currentConversation;
    if (!current || current.conversation.id !== conversationId || !readAt) return;
    const upTo = current.messages.findIndex((m) => m.id === lastReadMessageId);
    let changed = false;
    const messages = current.messages.map((message, index) => {
      if (message.isRead || !message.id || !whose(message)) return message;
      if (upTo >= 0 ? index > upTo : message.sentAt > readAt) return message;
      changed = true;
      return { ...message, isRead: true, readAt };
    });
    if (changed) this.set({ currentConversation: { ...current, messages } });
  }

  private upsertConversation(conversation: EnrichedConversation): EnrichedConversation[] {
    return upsert(this.state.conversations, conversation).sort(byActivity);
  }

  private mergeConversations(page: EnrichedConversation[]): EnrichedConversation[] {
    return page.reduce(upsert, this.state.conversations);
  }

  /** A conversation the list does not know yet: reload its first page (once for a burst of events). */
  private refreshSoon(): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      this.loadConversations({ folder: this.folder }).catch(() => undefined);
    }, 50);
  }

  private set(patch: Partial<MessagingState>): void {
    this.state = { ...this.state, ...patch };
    for (const listener of [...this.listeners]) listener();
  }
}

function upsert(list: EnrichedConversation[], conversation: EnrichedConversation): EnrichedConversation[] {
  const index = list.findIndex((c) => c.id === conversation.id);
  if (index < 0) return [...list, conversation];
  const copy = [...list];
  copy[index] = conversation;
  return copy;
}

const ATTACHMENT_FIELDS = ["attachmentId", "attachmentType", "attachmentName", "attachmentSize", "attachmentStatus", "attachmentUrl", "thumbnailUrl", "width", "height"] as const;

function withoutAttachment(message: ChatMessage): ChatMessage {
  const copy = { ...message };
  for (const field of ATTACHMENT_FIELDS) delete copy[field];
  return copy;
}

function pickAttachment(attachment: object): Partial<ChatMessage> {
  const source = attachment as Partial<ChatMessage>;
  const picked: Partial<ChatMessage> = {};
  for (const field of ATTACHMENT_FIELDS) {
    if (source[field] !== undefined) (picked as Record<string, unknown>)[field] = source[field];
  }
  return picked;
}

/** Messages by id or clientMessageId (a later copy replaces an earlier one, keeping its `key`, unless its `version`
 * is lower: the highest version per id wins, an equal one replaces), oldest first. */
export function mergeMessages(existing: ChatMessage[], incoming: ChatMessage[]): ChatMessage[] {
  const result = [...existing];
  for (const message of incoming) {
    const index = result.findIndex(
      (m) =>
        (message.id !== undefined && m.id === message.id) ||
        (message.clientMessageId !== undefined && m.clientMessageId === message.clientMessageId),
    );
    if (index < 0) {
      result.push(message);
      continue;
    }
    const previous = result[index] as ChatMessage;
    if (previous.delivery === "sent" && message.delivery === "pending") continue; // never back to pending
    if (previous.delivery === "sent" && message.delivery === "sent" && message.version < previous.version) continue; // an older copy
    if (previous.delivery === "sent" && message.delivery === "failed") continue; // stored after all
    const merged: ChatMessage = { ...previous, ...message, key: previous.key };
    if (merged.delivery === "sent") delete merged.error;
    result[index] = merged;
  }
  // Stored messages by time; ours still pending stay at the end, in the order they were written.
  const stored = result.filter((m) => m.delivery === "sent").sort((a, b) => a.sentAt.localeCompare(b.sentAt));
  return [...stored, ...result.filter((m) => m.delivery !== "sent")];
}
