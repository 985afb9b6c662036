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
//   folders              Inbox / Requests / Archived tabs (listConversations' folder), the requests' count
//   organizing           archive, mute, accept or decline a request, block (updateConversationSettings, blockUser)
//   reports              report someone else's message (reportMessage)
//   notifications        the preferences panel, and Web Push for this device (sw.js, putPushSubscription)
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
const PUSH_KEY = "crochet-messaging.push-subscription"; // + user id: the id putPushSubscription answered
const MUTED_FOREVER = "9999-12-31T23:59:59Z"; // "until I unmute"
const LIST_LIMIT = 30;
// A conversation to open once signed in: /?conversation=<id> (what a push notification's click opens).
const WANTED_CONVERSATION = new URLSearchParams(location.search).get("conversation");

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
  folder: "inbox", // the list's tab: inbox | requests | archived
  folderList: [], // the requests or archived tab's conversations (the inbox is the store's list)
  requestsCount: 0,
  requestIds: new Set(), // message requests waiting for me (the requests folder as last listed)
  settings: new Map(), // conversationId -> my settings as last answered (PUT, conversation_updated)
  blocked: new Set(), // the users I blocked
  reported: new Set(), // message ids I reported (this session)
  refreshing: 0,
  refreshTimer: null,
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
      if (isArchived(notice.conversationId)) refreshSoon(); // the other participant's message unarchives it
    }),
    client.on("message_received", (message) => {
      if (message.senderId !== app.me?.id && isArchived(message.conversationId)) refreshSoon();
    }),
    client.on("conversation_updated", ({ conversationId, settings }) => {
      const known = app.settings.get(conversationId);
      if (known?.archived === settings.archived && known?.mutedUntil === settings.mutedUntil) return; // our own change
      app.settings.set(conversationId, settings); // changed on another device of mine
      refreshSoon();
    }),
    client.on("error", (error) => showError(error)),
  ];
  app.store.start();
  ui.showSignIn(false);
  ui.setSignedIn(app.me.name, signOut);
  ui.setConnectionStatus("connecting", "connecting…");
  renderPatternActions();
  ui.setSearchAvailable("searchMessages" in OPERATIONS);
  ui.setPushStatus("");
  client.connect().catch(() => undefined);
  refreshFolders()
    .then(() => {
      watchInbox();
      if (WANTED_CONVERSATION && app.me?.id === userId) return openConversation(WANTED_CONVERSATION);
    })
    .catch(showError);
  loadBlocks().catch(showError);
  renewPushSubscription();
}

function signOut(showForm = true) {
  for (const off of app.unsubscribe.splice(0)) off();
  app.store?.dispose();
  app.client?.disconnect();
  clearTimeout(app.refreshTimer);
  Object.assign(app, { client: null, store: null, me: null, newestSeen: null, lastReadSent: null });
  Object.assign(app, { folder: "inbox", folderList: [], requestsCount: 0, requestIds: new Set() });
  Object.assign(app, { settings: new Map(), blocked: new Set(), reported: new Set() });
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
    renderList();
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
  if (current) renderChatActions();
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
    reported: Boolean(message.id && app.reported.has(message.id)),
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
      onReport: (m) => ui.openReportForm(m, { nameOf, onSubmit: (body) => report(m, body) }),
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

// --- folders: Inbox / Requests / Archived ---------------------------------------------------------------------------

// My settings of a conversation: the latest answer I got (a PUT, conversation_updated), else what the list says.
function settingsOf(conversation) {
  const settings = { ...conversation.settings, ...app.settings.get(conversation.id) };
  settings.isMuted = Boolean(settings.mutedUntil && new Date(settings.mutedUntil) > new Date());
  return settings;
}

// The freshest copy of a conversation: a list's entry (lists are loaded again after every change), else the open one.
function findConversation(conversationId) {
  const state = app.store?.getState();
  if (!state) return null;
  const listed = [...state.conversations, ...app.folderList].find((c) => c.id === conversationId);
  if (listed) return listed;
  return state.currentConversation?.conversation.id === conversationId ? state.currentConversation.conversation : null;
}

function isArchived(conversationId) {
  const conversation = findConversation(conversationId);
  return Boolean(conversation && settingsOf(conversation).archived);
}

// The tab's conversations: the inbox is the store's list (kept live by the socket) without what left it since; the
// other tabs are listed when shown and after each change.
function shownConversations() {
  const inFolder = (c) => {
    const settings = settingsOf(c);
    if (app.folder === "requests") return app.requestIds.has(c.id);
    if (app.folder === "archived") return settings.archived;
    return !settings.archived && !app.requestIds.has(c.id);
  };
  const source = app.folder === "inbox" ? app.store.getState().conversations : app.folderList;
  return source.filter(inFolder).map((c) => ({ ...c, settings: settingsOf(c) }));
}

function renderList() {
  if (!app.store) return;
  const state = app.store.getState();
  const openId = state.currentConversation?.conversation.id ?? null;
  const onOpen = (id) => openConversation(id).catch(showError);
  const emptyText = { inbox: "None yet", requests: "No message requests", archived: "Nothing archived" }[app.folder];
  ui.renderConversationList(shownConversations(), { meId: app.me.id, openId, totalUnread: state.unreadCount, onOpen, emptyText });
  ui.setFolder(app.folder, app.requestsCount, selectFolder);
  const inbox = state.conversations.filter((c) => !settingsOf(c).archived && !app.requestIds.has(c.id));
  ui.renderRecent(inbox, { meId: app.me.id, totalUnread: state.unreadCount, onOpen });
}

async function listFolder(folder) {
  const page = await app.client.request("listConversations", { query: { folder, limit: LIST_LIMIT } });
  return page.conversations;
}

// The inbox again (the store's list, totalUnread, requestsCount), and the requests and the shown tab. What the
// server answered is newer than the settings kept from earlier answers: those are dropped.
async function refreshFolders() {
  clearTimeout(app.refreshTimer); // this one brings what a pending refresh would
  const run = ++app.refreshing;
  const store = app.store;
  const page = await store.loadConversations({ limit: LIST_LIMIT });
  const requests = page.requestsCount || app.folder === "requests" ? await listFolder("requests") : [];
  const archived = app.folder === "archived" ? await listFolder("archived") : [];
  if (run !== app.refreshing || store !== app.store) return;
  for (const c of [...page.conversations, ...requests, ...archived]) app.settings.delete(c.id);
  app.requestsCount = page.requestsCount || 0;
  app.requestIds = new Set(requests.map((c) => c.id));
  app.folderList = app.folder === "requests" ? requests : archived;
  renderList();
  renderChatActions();
}

function refreshSoon() {
  clearTimeout(app.refreshTimer);
  app.refreshTimer = setTimeout(() => refreshFolders().catch(showError), 200);
}

function selectFolder(folder) {
  app.folder = folder;
  app.folderList = [];
  renderList();
  refreshFolders().catch(showError);
}

// --- organizing the open conversation: archive, mute, accept or decline, block ----------------------------------

function renderChatActions() {
  const open = app.store?.getState().currentConversation?.conversation;
  if (!open) return;
  const conversation = findConversation(open.id);
  const other = conversation.otherParticipant;
  ui.renderChatActions(
    {
      settings: settingsOf(conversation),
      blocked: app.blocked.has(other.id),
      request: app.requestIds.has(conversation.id),
      otherName: other.name,
    },
    {
      onArchive: (archived) => changeSettings(conversation.id, { archived }, archived ? "Archived" : "Back in the inbox"),
      onMute: (hours) => {
        const mutedUntil =
          hours === null ? null : hours === "forever" ? MUTED_FOREVER : new Date(Date.now() + Number(hours) * 3600e3).toISOString();
        changeSettings(conversation.id, { mutedUntil }, mutedUntil ? "Muted" : "Unmuted");
      },
      onAccept: () => changeSettings(conversation.id, { accepted: true }, `You can now talk with ${other.name}`),
      onDecline: () => block(other.id, conversation.id, `Declined: ${other.name} is blocked`),
      onBlock: () => block(other.id, conversation.id, `${other.name} is blocked`),
      onUnblock: () => unblock(other.id, conversation.id),
    },
  );
}

async function changeSettings(conversationId, body, done) {
  try {
    const { settings } = await app.client.request("updateConversationSettings", { path: { conversationId }, body });
    app.settings.set(conversationId, settings);
    if (body.accepted) app.requestIds.delete(conversationId);
    renderList();
    renderChatActions();
    ui.toast(done);
    await refreshFolders();
  } catch (error) {
    showError(error);
  }
}

async function loadBlocks() {
  const blocked = new Set();
  let cursor = null;
  for (let pages = 0; pages < 10; pages += 1) {
    const page = await app.client.request("listBlocks", { query: { limit: LIST_LIMIT, ...(cursor ? { cursor } : {}) } });
    for (const { userId } of page.blocks) blocked.add(userId);
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  app.blocked = blocked;
  renderChatActions();
}

async function block(userId, conversationId, done) {
  try {
    await app.client.request("blockUser", { path: { userId } });
    app.blocked.add(userId);
    renderChatActions();
    ui.toast(done);
    await refreshFolders(); // a declined request leaves requests for archived
  } catch (error) {
    showError(error);
  }
}

async function unblock(userId, conversationId) {
  try {
    await app.client.request("unblockUser", { path: { userId } });
    app.blocked.delete(userId);
    renderChatActions();
    ui.toast(`${nameOf(userId)} is unblocked`);
    if (app.store.getState().currentConversation?.conversation.id === conversationId) await openConversation(conversationId); // join its room again
  } catch (error) {
    showError(error);
  }
}

// --- reports ----------------------------------------------------------------------------------------------------------

async function report(message, body) {
  try {
    await app.client.request("reportMessage", { path: { messageId: message.id }, body });
    app.reported.add(message.id);
    app.rendered.messages.delete(message.key); // shown again, "Reported"
    const current = app.store.getState().currentConversation;
    if (current) renderMessages(current.messages);
    ui.toast("Thank you: the report was sent to the moderators.");
  } catch (error) {
    showError(error);
  }
}

// --- notifications: preferences, and Web Push on this device ---------------------------------------------------------

const preferencesDialog = document.querySelector("#preferences");

async function openPreferences() {
  if (!app.client) return;
  ui.setPreferencesStatus("");
  try {
    ui.fillPreferences(await app.client.request("getNotificationPreferences", {}));
    preferencesDialog.showModal();
  } catch (error) {
    showError(error);
  }
}

async function savePreferences() {
  ui.setPreferencesStatus("Saving…");
  try {
    const saved = await app.client.request("putNotificationPreferences", { body: ui.readPreferences() });
    ui.fillPreferences(saved);
    ui.setPreferencesStatus("Saved.");
  } catch (error) {
    ui.setPreferencesStatus(error?.code ? `Not saved: ${error.message}` : `Not saved: ${error?.message || error}`);
  }
}

// A promise that gives up after `ms` (a push service that never answers must not leave the button waiting).
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function base64UrlToBytes(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

const pushSupported = () => "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
const pushKey = () => `${PUSH_KEY}.${app.me?.id}`;

// Subscribe this browser (sw.js shows what arrives) and register the subscription with the API. Where there is no
// push service (headless browsers, some private windows) or the user says no, the panel says so.
async function startPush() {
  ui.setPushStatus("Asking this browser…", { busy: true });
  try {
    if (!pushSupported()) throw new Error("this browser has no Web Push");
    await within(navigator.serviceWorker.register("/sw.js"), 5000, "the service worker did not register");
    const permission = await within(Notification.requestPermission(), 8000, "no answer to the permission request");
    if (permission !== "granted") throw new Error("notifications are not allowed for this page");
    const registration = await within(navigator.serviceWorker.ready, 5000, "the service worker did not start");
    const { publicKey } = await app.client.request("getVapidPublicKey", {});
    const subscription = await within(
      registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(publicKey) }),
      8000,
      "the push service did not answer",
    );
    const { id } = await app.client.request("putPushSubscription", { body: subscription.toJSON() });
    localStorage.setItem(pushKey(), id);
    ui.setPushStatus("This device will be notified of new messages.", { subscribed: true });
  } catch (error) {
    console.warn(error);
    ui.setPushStatus(`Push notifications are not available here: ${error?.message || error}.`);
  }
}

async function stopPush() {
  ui.setPushStatus("Stopping…", { busy: true, subscribed: true });
  try {
    const registration = await navigator.serviceWorker.getRegistration("/");
    const subscription = await registration?.pushManager.getSubscription();
    await subscription?.unsubscribe();
    const id = localStorage.getItem(pushKey());
    if (id) await app.client.request("deletePushSubscription", { path: { subscriptionId: id } });
    localStorage.removeItem(pushKey());
    ui.setPushStatus("This device will not be notified.");
  } catch (error) {
    ui.setPushStatus(`Could not stop: ${error?.message || error}`, { subscribed: true });
  }
}

// On every page load: a subscription this browser still has is registered again (its keys may have changed).
async function renewPushSubscription() {
  try {
    if (!pushSupported() || !localStorage.getItem(pushKey())) return;
    const registration = await navigator.serviceWorker.getRegistration("/");
    const subscription = await registration?.pushManager.getSubscription();
    if (!subscription) return localStorage.removeItem(pushKey());
    const { id } = await app.client.request("putPushSubscription", { body: subscription.toJSON() });
    localStorage.setItem(pushKey(), id);
    ui.setPushStatus("This device will be notified of new messages.", { subscribed: true });
  } catch (error) {
    console.warn(error);
  }
}

document.querySelector("#preferences-button").addEventListener("click", () => openPreferences());
document.querySelector("#preferences-close").addEventListener("click", () => preferencesDialog.close());
document.querySelector("#preferences-form").addEventListener("submit", (event) => {
  event.preventDefault();
  savePreferences();
});
document.querySelector("#push-toggle").addEventListener("click", (event) => {
  if (event.currentTarget.dataset.subscribed === "true") stopPush();
  else startPush();
});

// A click on a notification while this page is open: sw.js asks it to open the conversation.
navigator.serviceWorker?.addEventListener("message", (event) => {
  if (event.data?.type === "open-conversation" && app.store) openConversation(event.data.conversationId).catch(showError);
});

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
