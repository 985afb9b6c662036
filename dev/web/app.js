// The browser reference client: state, and how the protocol drives it. Read it top to bottom:
//
//   start(user)           sync cursor for "now", conversation list, socket
//   openConversation(id)  history over REST, then join_conversation for live events
//   send / sendPhoto      new_message over the socket (REST when it is down), photos via a presigned POST
//   reading               message_read once incoming messages are on screen
//   typing                typing_start / typing_stop, throttled
//   a message's life      reply (replyTo), edit_message, delete_message, add_reaction / remove_reaction
//   presence              watch_presence for the partners of the listed conversations
//   server events         one handler per event of docs/websocket.md (keep the highest version per message)
//   reconnect             re-join, then GET /api/messages/sync from the stored cursor
//
// The dev stack serves config.json: the API and WebSocket URLs and a dev token per demo user.

import { Api, uploadToS3 } from "./api.js";
import { Socket } from "./socket.js";
import * as ui from "./ui.js";

const config = await (await fetch("config.json", { cache: "no-store" })).json();

const state = {
  me: null, // {id, name, token}
  api: null,
  socket: null,
  conversations: new Map(), // id -> enriched conversation, as in GET /api/messages/conversations
  totalUnread: 0,
  openId: null, // the conversation on screen
  messages: [], // its messages, oldest first (server messages and our own still pending)
  previews: new Map(), // clientMessageId -> object URL of a photo we sent (shown until the thumbnail exists)
  outbox: new Map(), // clientMessageId -> new_message frame sent but not yet answered (re-sent after a reconnect)
  syncCursor: null, // where GET /api/messages/sync continues after a reconnect
  newestSeen: null, // newest incoming message seen on screen, not yet reported read
  lastReadSent: null,
  typingSentAt: 0,
  typingStopTimer: null,
  typingHideTimer: null,
  composing: { mode: "new", message: null }, // or "reply" / "edit" with the message it is about
};

// Re-send typing_start a little before the server's indicator timeout (timeoutMs) lapses; stop after an idle pause.
const TYPING_REPEAT_MS = Math.max(500, Math.round(config.typingTimeoutMs * 0.75));
const TYPING_IDLE_MS = 1500;

// A few of the server's allowed reactions (REACTION_EMOJI) under each message; every allowed one is accepted.
const PREFERRED_REACTIONS = ["👍", "❤️", "🧶"];
const allowedReactions = config.reactionEmoji || [];
const preferred = PREFERRED_REACTIONS.filter((emoji) => allowedReactions.includes(emoji));
const OFFERED_REACTIONS = preferred.length ? preferred : allowedReactions.slice(0, 3);

const userById = (id) => config.users.find((user) => user.id === id);
const nameOf = (id) => userById(id)?.name || id;
const newClientMessageId = () => `web-${crypto.randomUUID()}`;

// --- start and switch users -------------------------------------------------------------------------------------

async function start(userId) {
  stop();
  state.me = userById(userId) || config.users[0];
  history.replaceState(null, "", `?user=${encodeURIComponent(state.me.id)}`);
  ui.renderUserPicker(config.users, state.me.id, (id) => start(id).catch(showError));
  state.api = new Api(config.apiUrl, state.me.token);
  // A sync cursor taken before loading anything: after a reconnect, sync returns everything sent since this moment.
  state.syncCursor = (await state.api.sync()).nextCursor;
  await loadConversations();
  renderPatternActions();
  connectSocket();
}

function stop() {
  state.socket?.close();
  state.socket = null;
  Object.assign(state, { conversations: new Map(), openId: null, messages: [], newestSeen: null, lastReadSent: null });
  ui.showConversation(null);
  ui.setTyping(null);
}

async function loadConversations() {
  const page = await state.api.listConversations();
  state.conversations = new Map(page.conversations.map((conversation) => [conversation.id, conversation]));
  state.totalUnread = page.totalUnread;
  renderList();
  watchInbox();
}

// Online dots for every listed conversation, not only the open one: watch_presence replaces this connection's list
// and is answered with everyone's presence now; presence_update keeps it current.
function watchInbox() {
  const partners = [...new Set([...state.conversations.values()].map((c) => c.otherParticipant.id))];
  state.socket?.send("watch_presence", { userIds: partners.slice(0, config.presenceWatchMax || 49) });
}

function setPresence(userId, online, lastSeenAt) {
  for (const conversation of state.conversations.values()) {
    if (conversation.otherParticipant.id !== userId) continue;
    Object.assign(conversation.otherParticipant, { online, ...(lastSeenAt && { lastSeenAt }) });
    if (conversation.id === state.openId) ui.showConversation(conversation);
  }
  renderList();
}

function renderList() {
  const sorted = [...state.conversations.values()].sort((a, b) =>
    (b.lastMessageAt || b.updatedAt).localeCompare(a.lastMessageAt || a.updatedAt),
  );
  ui.renderConversationList(sorted, {
    meId: state.me.id,
    openId: state.openId,
    totalUnread: state.totalUnread,
    onOpen: (id) => openConversation(id).catch(showError),
  });
}

// Buyers can ask a pattern's creator: GET /api/messages/pattern/{patternId} gets or creates that conversation.
function renderPatternActions() {
  const actions = config.purchases
    .filter((purchase) => purchase.userId === state.me.id)
    .map((purchase) => {
      const pattern = config.patterns.find((p) => p.id === purchase.patternId);
      return { patternId: pattern.id, title: pattern.title, creatorName: nameOf(pattern.creatorId) };
    });
  ui.renderPatternActions(actions, (patternId) => openPatternConversation(patternId).catch(showError));
}

async function openPatternConversation(patternId) {
  const { conversation } = await state.api.openPatternConversation(patternId);
  state.conversations.set(conversation.id, { ...state.conversations.get(conversation.id), ...conversation });
  await openConversation(conversation.id);
}

// --- the open conversation ---------------------------------------------------------------------------------------

async function openConversation(conversationId) {
  if (state.openId && state.openId !== conversationId) {
    stopTyping();
    state.socket.send("leave_conversation", { conversationId: state.openId });
  }
  Object.assign(state, { openId: conversationId, messages: [], newestSeen: null, lastReadSent: null });
  compose("new");
  ui.setJoined(false);
  ui.setTyping(null);
  ui.renderMessages([], renderOptions());
  // Join first, then load the history: a message sent in between arrives live (message_received) and is not
  // missed; one that is in both is kept once (by id).
  state.socket.send("join_conversation", { conversationId, requestId: `join-${conversationId}` });
  const detail = await state.api.openConversation(conversationId);
  if (state.openId !== conversationId) return; // another conversation was opened meanwhile
  const arrivedMeanwhile = state.messages;
  state.messages = detail.messages;
  state.conversations.set(conversationId, detail.conversation);
  ui.showConversation(detail.conversation);
  ui.renderMessages(state.messages, renderOptions());
  for (const message of arrivedMeanwhile) upsertMessage(message);
  renderList();
  document.querySelector("#message-input").focus();
}

function renderOptions(message) {
  return {
    meId: state.me.id,
    previewUrl: message?.clientMessageId ? state.previews.get(message.clientMessageId) : undefined,
    onObserve: observeForReading,
    nameOf,
    reactionEmoji: OFFERED_REACTIONS,
    actions: {
      onReply: (m) => compose("reply", m),
      onEdit: (m) => compose("edit", m),
      onDelete: deleteMessage,
      onReact: react,
    },
  };
}

// Add or replace one message of the open conversation; others are ignored (the list shows their previews).
// De-duplicated by id (sync and live delivery can overlap) or by clientMessageId (our pending copy). Events and sync
// can arrive in any order: a message older than the one shown (a lower version) is ignored.
function upsertMessage(message) {
  if (message.conversationId !== state.openId) return;
  const index = state.messages.findIndex(
    (m) =>
      (message.id && m.id === message.id) || (message.clientMessageId && m.clientMessageId === message.clientMessageId),
  );
  const current = index >= 0 ? state.messages[index] : null;
  if (current?.version && message.version && message.version < current.version) return;
  // A stored message replaces the one shown whole (a tombstone has no attachment left); a pending copy is merged.
  const stored = current && !(current.id && message.version) ? { ...current, ...message } : message;
  if (index >= 0) state.messages[index] = stored;
  else state.messages.push(stored);
  ui.upsertMessage(stored, renderOptions(stored));
  if (stored.thumbnailUrl && state.previews.has(stored.clientMessageId)) {
    URL.revokeObjectURL(state.previews.get(stored.clientMessageId)); // the server's thumbnail replaced it
    state.previews.delete(stored.clientMessageId);
  }
}

// A change of a message: what the list shows of it follows when it is the conversation's last message.
function messageChanged(message) {
  upsertMessage(message);
  previewChanged(message);
}

function previewChanged(message) {
  const conversation = state.conversations.get(message.conversationId);
  if (conversation?.lastMessage?.id !== message.id) return;
  Object.assign(conversation.lastMessage, {
    content: message.content,
    editedAt: message.editedAt,
    isDeleted: message.isDeleted || undefined,
  });
  renderList();
}

// The list shows each conversation's newest message.
function updatePreview(message) {
  const conversation = state.conversations.get(message.conversationId);
  if (!conversation) return;
  conversation.lastMessage = {
    id: message.id,
    senderId: message.senderId,
    content: message.content,
    sentAt: message.sentAt,
    attachmentType: message.attachmentType,
  };
  conversation.lastMessageAt = message.sentAt;
  renderList();
}

// --- sending -------------------------------------------------------------------------------------------------------

// The clientMessageId makes sending idempotent: a retry of the same message (after a reconnect, or over REST) is
// answered with the original message and stores nothing twice.
async function send({ conversationId, clientMessageId, content, attachmentId, replyTo }) {
  const message = {
    conversationId,
    content,
    clientMessageId,
    ...(attachmentId && { attachment: { attachmentId } }),
    ...(replyTo && { replyTo: { messageId: replyTo.id } }),
  };
  // new_message is answered with message_sent (matched by clientMessageId); an error echoes the requestId. Until
  // then it stays in the outbox: if the socket drops first, it is sent again once reconnected.
  const frame = { ...message, requestId: clientMessageId };
  state.outbox.set(clientMessageId, frame);
  if (state.socket.send("new_message", frame)) return;
  // Socket down: POST /api/messages stores the very same message.
  state.outbox.delete(clientMessageId);
  try {
    const { message: sent } = await state.api.sendMessage(message);
    onMessageSent({ message: sent });
  } catch (error) {
    markFailed(clientMessageId);
    showError(error);
  }
}

function sendText(content) {
  const { mode, message } = state.composing;
  compose("new");
  if (mode === "edit") return editMessage(message, content);
  const replyTo = mode === "reply" ? message : null;
  const clientMessageId = newClientMessageId();
  showPending({ clientMessageId, content, replyTo });
  send({ conversationId: state.openId, clientMessageId, content, replyTo });
}

// --- a message's life: reply, edit, delete, react ----------------------------------------------------------------

// The composer writes a new message, a reply quoting one (replyTo), or a new text for one of ours.
function compose(mode, message = null) {
  state.composing = { mode, message };
  const input = document.querySelector("#message-input");
  if (mode === "edit") input.value = message.content;
  const text =
    mode === "reply"
      ? `Replying to ${nameOf(message.senderId)}: ${message.content.slice(0, 60) || "a photo"}`
      : mode === "edit"
        ? "Editing your message"
        : "";
  ui.setComposerMode(mode, { text, onCancel: () => compose("new") });
  if (mode !== "new") input.focus();
}

// Each change goes over the socket when it is open (answered by its own event), else through its REST twin, which
// answers the same message.
function change(action, fields, rest) {
  if (state.socket.send(action, { ...fields, requestId: `${action}-${fields.messageId}` })) return;
  rest().then(({ message }) => messageChanged(message), showError);
}

function editMessage(message, content) {
  if (content === message.content) return;
  change("edit_message", { messageId: message.id, content }, () => state.api.editMessage(message.id, content));
}

function deleteMessage(message) {
  change("delete_message", { messageId: message.id }, () => state.api.deleteMessage(message.id));
}

function react(message, emoji, add) {
  change(add ? "add_reaction" : "remove_reaction", { messageId: message.id, emoji }, () =>
    state.api.react(message.id, emoji, add),
  );
}

// A photo: (1) POST /api/attachments for a presigned POST, (2) the browser uploads straight to S3, (3) the message
// carries {attachmentId}. The server makes a metadata-free copy and a thumbnail after the upload (S3 event): the
// message comes back with thumbnailUrl, or as "processing" until attachment_ready.
async function sendPhoto(file, caption) {
  const conversationId = state.openId;
  const clientMessageId = newClientMessageId();
  state.previews.set(clientMessageId, URL.createObjectURL(file));
  showPending({ clientMessageId, content: caption, attachmentType: "image", uploading: true });
  try {
    const ticket = await state.api.requestUpload(conversationId, file);
    await uploadToS3(ticket.upload, file);
    showPending({ clientMessageId, content: caption, attachmentType: "image" });
    await send({ conversationId, clientMessageId, content: caption, attachmentId: ticket.attachmentId });
  } catch (error) {
    markFailed(clientMessageId);
    showError(error);
  }
}

function showPending({ clientMessageId, content, attachmentType, uploading = false, replyTo = null }) {
  upsertMessage({
    clientMessageId,
    conversationId: state.openId,
    senderId: state.me.id,
    content,
    attachmentType,
    ...(replyTo && {
      replyTo: { id: replyTo.id, senderId: replyTo.senderId, content: replyTo.content, isDeleted: false },
    }),
    sentAt: new Date().toISOString(),
    pending: true,
    uploading,
  });
}

function markFailed(clientMessageId) {
  state.outbox.delete(clientMessageId);
  const message = state.messages.find((m) => m.clientMessageId === clientMessageId);
  if (message) upsertMessage({ ...message, pending: false, failed: true });
}

// --- reading -------------------------------------------------------------------------------------------------------

// Incoming unread messages are watched; once one is on screen (and the tab is visible), message_read reports the
// newest one seen. Receipts are a read position: reading a message reads everything before it.
const readObserver = new IntersectionObserver(
  (entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      readObserver.unobserve(entry.target);
      noteSeen(entry.target.dataset.messageId);
    }
  },
  { root: document.querySelector("#message-list"), threshold: 0.5 },
);

function observeForReading(node, message) {
  if (message.id && message.senderId !== state.me.id && !message.isRead) readObserver.observe(node);
}

function position(messageId) {
  return state.messages.findIndex((m) => m.id === messageId);
}

function noteSeen(messageId) {
  if (position(messageId) > position(state.newestSeen)) state.newestSeen = messageId;
  reportRead();
}

function reportRead() {
  const messageId = state.newestSeen;
  if (!messageId || document.visibilityState !== "visible") return;
  if (position(messageId) <= position(state.lastReadSent)) return;
  state.lastReadSent = messageId;
  if (!state.socket.send("message_read", { messageId })) {
    state.api.markRead(messageId).then(onReadUpdated, showError); // the REST twin answers the same fields
  }
}

document.addEventListener("visibilitychange", reportRead);

// --- typing --------------------------------------------------------------------------------------------------------

function onComposerInput(text) {
  if (!state.openId) return;
  clearTimeout(state.typingStopTimer);
  if (!text) return stopTyping();
  if (Date.now() - state.typingSentAt > TYPING_REPEAT_MS) {
    state.socket.send("typing_start", { conversationId: state.openId });
    state.typingSentAt = Date.now();
  }
  state.typingStopTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  clearTimeout(state.typingStopTimer);
  if (!state.typingSentAt || !state.openId) return;
  state.typingSentAt = 0;
  state.socket.send("typing_stop", { conversationId: state.openId });
}

// --- server events (docs/websocket.md, "Server events") -------------------------------------------------------------

const events = {
  // Answers to our own actions.
  conversation_joined({ conversationId }) {
    if (conversationId === state.openId) ui.setJoined(true);
  },
  message_sent: onMessageSent,
  read_updated: onReadUpdated,
  pong() {},
  message_edited: ({ message }) => messageChanged(message),
  message_removed: ({ message }) => messageChanged(message),
  reaction_added: ({ message }) => messageChanged(message),
  reaction_removed: ({ message }) => messageChanged(message),
  presence_watched({ presence }) {
    for (const { userId, online, lastSeenAt } of presence) setPresence(userId, online, lastSeenAt);
  },

  // Someone else changed a message: an edit (or a reply whose quoted message changed), a deletion, a reaction.
  message_updated: ({ message }) => messageChanged(message),
  message_deleted({ conversationId, messageId, deletedAt, version }) {
    const shown = state.messages.find((m) => m.id === messageId);
    const tombstone = { isDeleted: true, deletedAt, version, content: "", reactions: [] };
    // Only what a tombstone keeps (no attachment, no quote); a message not on screen only changes the list's preview.
    if (shown) {
      const { id, senderId, recipientId, sentAt, isRead, readAt, clientMessageId } = shown;
      upsertMessage({ id, conversationId, senderId, recipientId, sentAt, isRead, readAt, clientMessageId, ...tombstone });
    }
    previewChanged({ id: messageId, conversationId, ...tombstone });
  },
  reaction_updated({ conversationId, messageId, reactions, version }) {
    const shown = state.messages.find((m) => m.id === messageId);
    if (shown) messageChanged({ ...shown, conversationId, reactions, version });
  },

  // A message in a conversation this connection joined (not the one that sent it).
  message_received(message) {
    upsertMessage(message);
    if (message.conversationId === state.openId && message.senderId !== state.me.id) hideTyping();
    updatePreview(message);
  },

  // To every connection of the recipient, joined or not: badges, previews, the total.
  new_message_notification(notice) {
    const conversation = state.conversations.get(notice.conversationId);
    if (!conversation) return void loadConversations().catch(showError); // a conversation we have not listed yet
    conversation.unreadCount = notice.unreadCount;
    state.totalUnread = notice.totalUnread;
    updatePreview({
      id: notice.messageId,
      conversationId: notice.conversationId,
      senderId: notice.sender.id,
      content: notice.preview,
      sentAt: notice.sentAt,
      attachmentType: notice.attachmentType,
    });
  },

  // Someone wrote to us first in a new conversation.
  notification(notice) {
    if (notice.type === "conversation_opened") loadConversations().catch(showError);
  },

  // The other participant read our messages up to lastReadMessageId. (Our own reads come back as read_updated.)
  message_read_update({ conversationId, readerId, lastReadMessageId, readAt }) {
    if (readerId === state.me.id || conversationId !== state.openId) return;
    const upTo = position(lastReadMessageId);
    state.messages.forEach((message, index) => {
      if (message.senderId !== state.me.id || !message.id || message.isRead) return;
      // Everything up to that message is read (by position; by time if it is not on screen).
      if (upTo >= 0 ? index <= upTo : message.sentAt <= readAt) upsertMessage({ ...message, isRead: true });
    });
  },

  user_typing({ conversationId, userId, timeoutMs }) {
    if (conversationId !== state.openId || userId === state.me.id) return;
    ui.setTyping(`${nameOf(userId)} is typing…`);
    // No typing_stop may ever come (a closed tab): the indicator expires by itself after timeoutMs.
    clearTimeout(state.typingHideTimer);
    state.typingHideTimer = setTimeout(hideTyping, timeoutMs);
  },
  user_stopped_typing({ conversationId }) {
    if (conversationId === state.openId) hideTyping();
  },

  // A user's first connection opened or their last one closed (sent to connections joined to a conversation
  // with them, and to those watching them: watch_presence).
  presence_update({ userId, online, lastSeenAt }) {
    setPresence(userId, online, lastSeenAt);
  },

  // An image sent before its processing finished now has its URLs (or was rejected).
  attachment_ready({ message }) {
    upsertMessage(message);
  },

  error({ code, message, action, requestId }) {
    if (action === "new_message" && requestId) markFailed(requestId);
    showError({ code, message });
  },
};

function onMessageSent({ message }) {
  state.outbox.delete(message.clientMessageId);
  // Replaces our pending copy (same clientMessageId) with the stored message: id, sentAt, attachment state.
  upsertMessage({ ...message, pending: false, failed: false, uploading: false });
  updatePreview(message);
}

function onReadUpdated({ conversationId, unreadCount, totalUnread }) {
  const conversation = state.conversations.get(conversationId);
  if (conversation) conversation.unreadCount = unreadCount;
  state.totalUnread = totalUnread;
  renderList();
}

function hideTyping() {
  clearTimeout(state.typingHideTimer);
  ui.setTyping(null);
}

// --- the socket, reconnect and catch-up ----------------------------------------------------------------------------

function connectSocket() {
  const socket = new Socket(config.wsUrl, state.me.token);
  state.socket = socket;
  for (const [event, handler] of Object.entries(events)) socket.on(event, handler);
  socket.on("open", ({ reconnected }) => onSocketOpen(socket, reconnected).catch(showError));
  socket.on("close", ({ retryInMs }) => {
    ui.setJoined(false);
    if (retryInMs === null) ui.setConnectionStatus("offline", "offline");
    else ui.setConnectionStatus("reconnecting", `reconnecting in ${Math.ceil(retryInMs / 1000)} s`);
  });
  ui.setConnectionStatus("connecting", "connecting…");
  socket.connect();
}

async function onSocketOpen(socket, reconnected) {
  ui.setConnectionStatus("online", "online");
  watchInbox(); // a new connection watches nobody yet
  // A new connection is in no room: join the open conversation again.
  if (state.openId) {
    socket.send("join_conversation", { conversationId: state.openId, requestId: `join-${state.openId}` });
  }
  if (!reconnected) return;
  // Sends the old socket never answered: same clientMessageId, so one that was stored is answered as a duplicate.
  for (const frame of state.outbox.values()) socket.send("new_message", frame);
  await catchUp();
}

// GET /api/messages/sync from the stored cursor, page by page while hasMore: the messages sent while we were away,
// oldest first (delivery is at least once: upsertMessage de-duplicates by id).
async function catchUp() {
  const missed = [];
  let hasMore = true;
  while (hasMore) {
    const page = await state.api.sync(state.syncCursor);
    missed.push(...page.messages);
    state.syncCursor = page.nextCursor; // stored for the next reconnect
    hasMore = page.hasMore;
  }
  // page.conversations has the touched conversations enriched (unreadCount, lastMessage) for clients that keep a
  // cache; this one simply reloads its list, which also brings the exact totalUnread. Before showing the missed
  // messages: showing them reads them, and the read must not be overwritten by an older list.
  await loadConversations();
  for (const message of missed) upsertMessage(message); // only the open conversation's are shown
}

// --- wiring --------------------------------------------------------------------------------------------------------

function showError(error) {
  console.error(error);
  ui.toast(error.code ? `${error.code}: ${error.message}` : String(error.message || error));
}

const input = document.querySelector("#message-input");
input.addEventListener("input", () => onComposerInput(input.value.trim()));
input.addEventListener("blur", stopTyping);

document.querySelector("#composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const content = input.value.trim();
  if (!content || !state.openId) return;
  input.value = "";
  stopTyping();
  sendText(content);
});

document.querySelector("#photo-input").addEventListener("change", (event) => {
  const [file] = event.target.files;
  event.target.value = ""; // the same file can be picked again
  if (!file || !state.openId) return;
  const caption = input.value.trim();
  input.value = "";
  stopTyping();
  sendPhoto(file, caption);
});

// For poking at the client from the browser console (and for the e2e test): devClient.socket.close(), ...
window.devClient = { config, state, start, catchUp };

start(new URLSearchParams(location.search).get("user") || config.users[0].id).catch(showError);
