// The browser reference client, on the package: @crochet-messaging/client (clients/js, its built dist/ served at
// /sdk/ by dev/web_server.py). The protocol is the package's (reconnect, catch-up, the outbox, typing, each
// message once, the highest version per message); this file only turns MessagingStore's state into the page:
//
//   sign in              a demo user or a pasted token (no silent default user)
//   the store            MessagingStore: conversations, the open conversation, unread counts, typing, connection
//   render               the list, the header badge of recent conversations, the messages (date separators)
//   actions              send, photo (uploadAttachment), reply, edit, delete, react, read (on screen), typing
//   presence             watchPresence for the partners of the listed conversations
//   search               the search box, when the API has the search route (OPERATIONS.searchMessages)
//
// The dev stack serves config.json: the API and WebSocket URLs and a dev token per demo user.

import { MessagingClient, MessagingStore, OPERATIONS } from "/sdk/index.js";
import * as ui from "./ui.js";

const config = await (await fetch("config.json", { cache: "no-store" })).json();

// A few of the server's allowed reactions (REACTION_EMOJI) under each message; every allowed one is accepted.
const PREFERRED_REACTIONS = ["👍", "❤️", "🧶"];
const allowedReactions = config.reactionEmoji || [];
const preferred = PREFERRED_REACTIONS.filter((emoji) => allowedReactions.includes(emoji));
const OFFERED_REACTIONS = preferred.length ? preferred : allowedReactions.slice(0, 3);
const SESSION_KEY = "crochet-messaging.session";

const userById = (id) => config.users.find((user) => user.id === id);
const nameOf = (id) => userById(id)?.name || id;

const app = {
  me: null, // {id, name}
  client: null,
  store: null,
  unsubscribe: [],
  rendered: { conversations: null, openId: null, messages: new Map() }, // what is on screen (by identity)
  previews: new Map(), // clientMessageId -> object URL of a photo we sent (until the thumbnail exists)
  uploads: new Map(), // clientMessageId -> a photo still uploading (not in the store yet)
  composing: { mode: "new", message: null },
  newestSeen: null,
  lastReadSent: null,
};

// --- sign in ---------------------------------------------------------------------------------------------------------

// Who uses the page is always a choice: `?user=` (a demo user), the session kept from the last sign-in in this tab,
// or the sign-in form (a demo user or a pasted JWT).
function initialSession() {
  const fromUrl = new URLSearchParams(location.search).get("user");
  if (fromUrl && userById(fromUrl)) return { userId: fromUrl, token: userById(fromUrl).token };
  try {
    const kept = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    if (kept?.token) return kept;
  } catch {
    // nothing kept
  }
  return null;
}

function signIn(session) {
  signOut(false);
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  const client = new MessagingClient({
    apiUrl: config.apiUrl,
    wsUrl: config.wsUrl,
    token: session.token,
    typingTimeoutMs: config.typingTimeoutMs,
    uploadProcessingTimeoutMs: 0, // send a photo as soon as it is uploaded: attachment_ready brings its thumbnail
  });
  const userId = client.userId;
  app.me = { id: userId, name: nameOf(userId) };
  if (session.userId) history.replaceState(null, "", `?user=${encodeURIComponent(session.userId)}`);
  app.client = client;
  app.store = new MessagingStore(client);
  app.unsubscribe = [
    app.store.subscribe(render),
    client.on("connected", () => {
      ui.setConnectionStatus("online", "online");
      watchInbox();
    }),
    client.on("disconnected", ({ willReconnect, retryInMs }) => {
      ui.setJoined(false);
      if (!willReconnect) ui.setConnectionStatus("offline", "offline");
      else ui.setConnectionStatus("reconnecting", `reconnecting in ${Math.ceil((retryInMs || 0) / 1000)} s`);
    }),
    client.on("conversation_joined", ({ conversationId }) => {
      if (conversationId === app.store.getState().currentConversation?.conversation.id) ui.setJoined(true);
    }),
    client.on("new_message_notification", (notice) => {
      const open = app.store.getState().currentConversation?.conversation.id;
      if (notice.conversationId !== open) ui.toast(`${notice.sender.name}: ${notice.preview || "Photo"}`);
    }),
    client.on("error", (error) => showError(error)),
  ];
  app.store.start();
  ui.showSignIn(false);
  ui.setSignedIn(app.me.name, signOut);
  ui.setConnectionStatus("connecting", "connecting…");
  renderPatternActions();
  ui.setSearchAvailable("searchMessages" in OPERATIONS);
  client.connect().catch(() => undefined);
  app.store.loadConversations({ limit: 30 }).then(watchInbox, showError);
}

function signOut(showForm = true) {
  for (const off of app.unsubscribe.splice(0)) off();
  app.store?.dispose();
  app.client?.disconnect();
  Object.assign(app, { client: null, store: null, me: null, newestSeen: null, lastReadSent: null });
  app.rendered = { conversations: null, openId: null, messages: new Map() };
  ui.showConversation(null);
  ui.setTyping(null);
  if (showForm) {
    sessionStorage.removeItem(SESSION_KEY);
    history.replaceState(null, "", location.pathname);
    ui.setConnectionStatus("offline", "signed out");
    ui.showSignIn(true, config.users, signIn);
  }
}

// --- presence ----------------------------------------------------------------------------------------------------------

// Online dots for every listed conversation, not only the open one (the store applies the answer and the updates).
function watchInbox() {
  if (!app.client?.isConnected) return;
  const partners = [...new Set(app.store.getState().conversations.map((c) => c.otherParticipant.id))];
  app.client.watchPresence(partners.slice(0, config.presenceWatchMax || 49)).catch(() => undefined);
}

// --- render: the store's state into the page ----------------------------------------------------------------------------

function render() {
  const state = app.store.getState();
  const current = state.currentConversation;
  const openId = current?.conversation.id ?? null;
  if (state.conversations !== app.rendered.conversations || openId !== app.rendered.openId) {
    const known = new Set((app.rendered.conversations || []).map((c) => c.otherParticipant.id));
    const partnersChanged = state.conversations.some((c) => !known.has(c.otherParticipant.id));
    app.rendered.conversations = state.conversations;
    ui.renderConversationList(state.conversations, {
      meId: app.me.id,
      openId,
      totalUnread: state.unreadCount,
      onOpen: (id) => openConversation(id).catch(showError),
    });
    ui.renderRecent(state.conversations, { meId: app.me.id, totalUnread: state.unreadCount, onOpen: (id) => openConversation(id).catch(showError) });
    if (partnersChanged) watchInbox();
  }
  if (openId !== app.rendered.openId) {
    app.rendered.openId = openId;
    app.rendered.messages = new Map();
    ui.showConversation(current?.conversation ?? null);
    ui.renderMessages([], renderOptions());
  } else if (current) {
    ui.showConversation(current.conversation);
  }
  if (current) renderMessages(current.messages);
  const typing = state.typingUsers.filter((t) => t.conversationId === openId && t.userId !== app.me.id);
  ui.setTyping(typing.length ? `${typing.map((t) => nameOf(t.userId)).join(", ")} is typing…` : null);
}

// Only the messages whose object changed are rendered again (the store replaces what changed, keeps the rest).
function renderMessages(messages) {
  const shown = app.rendered.messages;
  const keys = new Set();
  for (const message of [...messages, ...app.uploads.values()]) {
    keys.add(message.key);
    if (shown.get(message.key) === message) continue;
    shown.set(message.key, message);
    ui.upsertMessage(view(message), renderOptions(message));
    const preview = app.previews.get(message.clientMessageId);
    if (preview && message.thumbnailUrl) {
      URL.revokeObjectURL(preview); // the server's thumbnail replaced it
      app.previews.delete(message.clientMessageId);
    }
  }
  for (const key of [...shown.keys()]) {
    if (!keys.has(key)) {
      ui.removeMessage(key);
      shown.delete(key);
    }
  }
  ui.refreshDaySeparators();
}

// What ui.js shows of a ChatMessage.
function view(message) {
  return {
    ...message,
    pending: message.delivery === "pending",
    failed: message.delivery === "failed",
    uploading: Boolean(message.uploading),
  };
}

function renderOptions(message) {
  return {
    meId: app.me?.id,
    previewUrl: message?.clientMessageId ? app.previews.get(message.clientMessageId) : undefined,
    onObserve: observeForReading,
    nameOf,
    reactionEmoji: OFFERED_REACTIONS,
    actions: {
      onReply: (m) => compose("reply", m),
      onEdit: (m) => compose("edit", m),
      onDelete: (m) => app.store.deleteMessage(m.id).catch(showError),
      onReact: (m, emoji, add) => (add ? app.store.addReaction(m.id, emoji) : app.store.removeReaction(m.id, emoji)).catch(showError),
    },
  };
}

// Buyers can ask a pattern's creator: createPatternConversation gets or creates that conversation.
function renderPatternActions() {
  const actions = config.purchases
    .filter((purchase) => purchase.userId === app.me.id)
    .map((purchase) => {
      const pattern = config.patterns.find((p) => p.id === purchase.patternId);
      return { patternId: pattern.id, title: pattern.title, creatorName: nameOf(pattern.creatorId) };
    });
  ui.renderPatternActions(actions, async (patternId) => {
    try {
      const conversation = await app.store.createPatternConversation(patternId);
      await openConversation(conversation.id);
    } catch (error) {
      showError(error);
    }
  });
}

// --- the open conversation ---------------------------------------------------------------------------------------------

async function openConversation(conversationId) {
  app.store.stopTyping();
  Object.assign(app, { newestSeen: null, lastReadSent: null });
  compose("new");
  ui.setJoined(false);
  ui.showChatOnNarrowScreens(true);
  await app.store.loadConversation(conversationId); // joins the room first, then reads the history
  if (app.store.getState().currentConversation?.conversation.id !== conversationId) return;
  ui.setJoined(app.client.joinedConversations.includes(conversationId) && app.client.isConnected);
  ui.scrollToNewest();
  document.querySelector("#message-input").focus();
}

// --- sending, a message's life ----------------------------------------------------------------------------------------

// The composer writes a new message, a reply quoting one (replyTo), or a new text for one of ours.
function compose(mode, message = null) {
  app.composing = { mode, message };
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

function sendText(content) {
  const { mode, message } = app.composing;
  compose("new");
  if (mode === "edit") {
    if (content !== message.content) app.store.editMessage(message.id, content).catch(showError);
    return;
  }
  const sending = mode === "reply" ? app.store.reply(message.id, content) : app.store.sendMessage(content);
  sending.catch(showError); // shown as "Not sent" by the store
}

// A photo: uploadAttachment (presigned POST straight to the bucket, then processed), then a message with it. Until
// the upload is done it is shown from the local file; then the store's optimistic copy takes over (same key).
async function sendPhoto(file, caption) {
  const conversationId = app.store.getState().currentConversation?.conversation.id;
  if (!conversationId) return;
  const clientMessageId = `web-${crypto.randomUUID()}`;
  app.previews.set(clientMessageId, URL.createObjectURL(file));
  const placeholder = {
    key: clientMessageId,
    clientMessageId,
    conversationId,
    senderId: app.me.id,
    content: caption,
    attachmentType: "image",
    sentAt: new Date().toISOString(),
    delivery: "pending",
    uploading: true,
    reactions: [],
    version: 0,
  };
  app.uploads.set(clientMessageId, placeholder);
  render();
  try {
    const attachment = await app.client.uploadAttachment(file, { conversationId });
    app.uploads.delete(clientMessageId);
    app.rendered.messages.delete(clientMessageId);
    await app.store.sendMessage({ conversationId, content: caption, attachment, clientMessageId });
  } catch (error) {
    const upload = app.uploads.get(clientMessageId);
    if (upload) app.uploads.set(clientMessageId, { ...upload, delivery: "failed", uploading: false });
    render();
    showError(error);
  }
}

// --- reading -----------------------------------------------------------------------------------------------------------

// Incoming unread messages are watched; once one is on screen (and the tab is visible), the newest one seen is
// reported read. Receipts are a read position: reading a message reads everything before it.
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
  if (message.id && message.senderId !== app.me?.id && !message.isRead) readObserver.observe(node);
}

function position(messageId) {
  return (app.store?.getState().currentConversation?.messages ?? []).findIndex((m) => m.id === messageId);
}

function noteSeen(messageId) {
  if (position(messageId) > position(app.newestSeen)) app.newestSeen = messageId;
  reportRead();
}

function reportRead() {
  const messageId = app.newestSeen;
  if (!app.store || !messageId || document.visibilityState !== "visible") return;
  if (position(messageId) <= position(app.lastReadSent)) return;
  app.lastReadSent = messageId;
  app.store.markAsRead(messageId).catch(showError);
}

document.addEventListener("visibilitychange", reportRead);

// --- search ------------------------------------------------------------------------------------------------------------

async function search(q) {
  if (!q) return ui.renderSearchResults(null);
  try {
    const { results } = await app.client.request("searchMessages", { query: { q, limit: 20 } });
    ui.renderSearchResults(results, { nameOf, onOpen: (id) => openConversation(id).catch(showError) });
  } catch (error) {
    showError(error);
  }
}

// --- wiring ------------------------------------------------------------------------------------------------------------

function showError(error) {
  console.warn(error);
  ui.toast(error?.code ? `${error.code}: ${error.message}` : String(error?.message || error));
}

const input = document.querySelector("#message-input");
input.addEventListener("input", () => {
  if (!app.store) return;
  if (input.value.trim()) app.store.startTyping();
  else app.store.stopTyping();
});
input.addEventListener("blur", () => app.store?.stopTyping());

document.querySelector("#composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const content = input.value.trim();
  if (!content || !app.store?.getState().currentConversation) return;
  input.value = "";
  sendText(content);
});

document.querySelector("#photo-input").addEventListener("change", (event) => {
  const [file] = event.target.files;
  event.target.value = ""; // the same file can be picked again
  if (!file || !app.store) return;
  const caption = input.value.trim();
  input.value = "";
  sendPhoto(file, caption);
});

document.querySelector("#search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  search(document.querySelector("#search-input").value.trim());
});

document.querySelector("#back-to-list").addEventListener("click", () => {
  app.store?.closeConversation();
  ui.showChatOnNarrowScreens(false);
});

// For poking at the client from the browser console (and for the e2e test): devClient.client.disconnect(), ...
window.devClient = {
  config,
  get client() {
    return app.client;
  },
  get store() {
    return app.store;
  },
  signIn,
  signOut,
};

const session = initialSession();
if (session) signIn(session);
else signOut(true);
