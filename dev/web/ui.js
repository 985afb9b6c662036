// Rendering only: DOM in, DOM out, no protocol and no state of its own (app.js owns both).

const $ = (selector) => document.querySelector(selector);

// A small element builder: el("li", {class: "x", dataset: {id: "1"}}, "text", child).
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

function clock(iso) {
  return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
}

export function conversationTitle(conversation) {
  return conversation.title || conversation.pattern?.title || "Direct message";
}

export function presenceText(participant) {
  if (participant.online) return "online";
  return participant.lastSeenAt ? `last seen ${clock(participant.lastSeenAt)}` : "offline";
}

// --- header ---

// The sign-in step: a demo user of the dev stack (its dev token), or any JWT pasted in.
export function showSignIn(visible, users = [], onSignIn = () => undefined) {
  const form = $("#sign-in");
  form.hidden = !visible;
  $(".layout").hidden = visible;
  $("#signed-in").hidden = visible;
  $(".notifications").hidden = visible;
  $("#preferences-button").hidden = visible;
  $("#search-form").hidden = true; // shown again once signed in, when the API has search
  if (!visible) return;
  $("#sign-in-users").replaceChildren(
    ...users.map((user) =>
      el(
        "li",
        {},
        el(
          "button",
          { type: "button", class: "sign-in-user", dataset: { userId: user.id }, onclick: () => onSignIn({ userId: user.id, token: user.token }) },
          `Sign in as ${user.name}`,
        ),
      ),
    ),
  );
  form.onsubmit = (event) => {
    event.preventDefault();
    const token = $("#sign-in-token").value.trim();
    if (token) onSignIn({ token });
  };
}

export function setSignedIn(name, onSignOut) {
  $("#signed-in-name").textContent = name;
  $("#sign-out").onclick = () => onSignOut();
}

export function setConnectionStatus(state, text) {
  const status = $("#connection-status");
  status.dataset.state = state;
  status.textContent = text;
}

let toastTimer = null;
export function toast(text) {
  const node = $("#toast");
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (node.hidden = true), 6000);
}

// --- sidebar ---

export function renderPatternActions(actions, onOpen) {
  $("#pattern-actions").replaceChildren(
    ...actions.map((action) =>
      el(
        "button",
        {
          class: "pattern-action",
          type: "button",
          dataset: { patternId: action.patternId },
          onclick: () => onOpen(action.patternId),
        },
        `Ask ${action.creatorName} about ${action.title}`,
      ),
    ),
  );
}

function preview(conversation, meId) {
  const last = conversation.lastMessage;
  if (!last) return "No messages yet";
  const text = last.isDeleted
    ? "message deleted"
    : last.content || (last.attachmentType === "image" ? "Photo" : last.attachmentType ? "File" : "");
  return last.senderId === meId ? `You: ${text}` : text;
}

export function renderConversationList(conversations, { meId, openId, totalUnread, onOpen, emptyText = "None yet" }) {
  const items = conversations.map((conversation) => {
    const other = conversation.otherParticipant;
    const unread = conversation.unreadCount || 0;
    return el(
      "li",
      {},
      el(
        "button",
        {
          type: "button",
          class: `conversation${conversation.id === openId ? " active" : ""}`,
          dataset: { conversationId: conversation.id },
          onclick: () => onOpen(conversation.id),
        },
        el(
          "span",
          { class: "avatar" },
          other.name.slice(0, 1),
          el("span", { class: `dot ${other.online ? "online" : "offline"}`, title: presenceText(other) }),
        ),
        el(
          "span",
          { class: "summary" },
          el(
            "span",
            { class: "line" },
            el("strong", { class: "name" }, other.name),
            conversation.settings?.isMuted
              ? el("span", { class: "muted-icon", title: "Muted", role: "img", "aria-label": "Muted" }, "🔕")
              : null,
            el("time", {}, clock(conversation.lastMessageAt)),
          ),
          el("span", { class: "topic" }, conversationTitle(conversation)),
          el(
            "span",
            { class: "line" },
            el("span", { class: "preview" }, preview(conversation, meId)),
            unread > 0 ? el("span", { class: "badge", title: `${unread} unread` }, String(unread)) : null,
          ),
        ),
      ),
    );
  });
  $("#conversation-list").replaceChildren(
    ...(items.length ? items : [el("li", { class: "no-conversations" }, emptyText)]),
  );
  const total = $("#total-unread");
  total.hidden = !totalUnread;
  total.textContent = String(totalUnread || 0);
  document.title = `${totalUnread ? `(${totalUnread}) ` : ""}crochet-messaging · dev client`;
}

// The header's MessageNotifications: the unread total, and the most recent conversations one click away.
const RECENT_COUNT = 5;
export function renderRecent(conversations, { meId, totalUnread, onOpen }) {
  const button = $("#notifications-button");
  const badge = $("#notifications-count");
  badge.hidden = !totalUnread;
  badge.textContent = String(totalUnread || 0);
  button.setAttribute("aria-label", `Messages${totalUnread ? `, ${totalUnread} unread` : ""}`);
  const menu = $("#notifications-menu");
  const recent = conversations.slice(0, RECENT_COUNT).map((conversation) =>
    el(
      "li",
      {},
      el(
        "button",
        {
          type: "button",
          class: `recent${conversation.unreadCount ? " unread" : ""}`,
          dataset: { conversationId: conversation.id },
          onclick: () => {
            menu.hidden = true;
            button.setAttribute("aria-expanded", "false");
            onOpen(conversation.id);
          },
        },
        el("strong", {}, conversation.otherParticipant.name),
        el("span", { class: "topic" }, conversationTitle(conversation)),
        el("span", { class: "preview" }, preview(conversation, meId)),
        conversation.unreadCount ? el("span", { class: "badge" }, String(conversation.unreadCount)) : null,
      ),
    ),
  );
  menu.replaceChildren(...(recent.length ? recent : [el("li", { class: "no-conversations" }, "No messages yet")]));
  button.onclick = () => {
    menu.hidden = !menu.hidden;
    button.setAttribute("aria-expanded", String(!menu.hidden));
  };
}

// --- search ---

export function setSearchAvailable(available) {
  $("#search-form").hidden = !available;
}

export function renderSearchResults(results, { nameOf, onOpen } = {}) {
  const list = $("#search-results");
  list.hidden = results === null;
  if (results === null) return list.replaceChildren();
  const items = results.map(({ message, conversation, highlights }) => {
    const text = message.content;
    const parts = [];
    let at = 0;
    for (const { start, end } of highlights || []) {
      parts.push(text.slice(at, start), el("mark", {}, text.slice(start, end)));
      at = end;
    }
    parts.push(text.slice(at));
    return el(
      "li",
      {},
      el(
        "button",
        { type: "button", class: "search-result", dataset: { conversationId: conversation.id, messageId: message.id }, onclick: () => onOpen(conversation.id) },
        el("strong", {}, nameOf(message.senderId)),
        el("span", { class: "topic" }, conversationTitle(conversation)),
        el("span", { class: "snippet" }, ...parts),
      ),
    );
  });
  list.replaceChildren(...(items.length ? items : [el("li", { class: "no-conversations" }, "No messages found")]));
}

// --- narrow screens: the list or the chat, one at a time ---

export function showChatOnNarrowScreens(chat) {
  document.body.dataset.view = chat ? "chat" : "list";
}

// --- the open conversation ---

export function showConversation(conversation) {
  $("#empty-state").hidden = conversation !== null;
  $("#chat").hidden = conversation === null;
  if (!conversation) return;
  $("#chat-title").textContent = conversationTitle(conversation);
  $("#chat-with").textContent = conversation.otherParticipant.name;
  const presence = $("#chat-presence");
  presence.textContent = presenceText(conversation.otherParticipant);
  presence.dataset.online = String(Boolean(conversation.otherParticipant.online));
}

export function setJoined(joined) {
  $("#chat").dataset.joined = String(joined);
}

function receipt(message) {
  if (message.failed) return el("span", { class: "receipt failed" }, "Not sent");
  if (message.pending) return el("span", { class: "receipt" }, message.uploading ? "Uploading…" : "Sending…");
  return el("span", { class: `receipt${message.isRead ? " read" : ""}` }, message.isRead ? "Read" : "Sent");
}

// What an attachment looks like in each of its states (README.md, "Attachments").
function attachmentBlock(message, previewUrl) {
  if (message.thumbnailUrl) {
    // Ready: a presigned thumbnail (JPEG, longest side 320 px) linking to the full, metadata-free image.
    return el(
      "a",
      { class: "photo", href: message.attachmentUrl, target: "_blank", rel: "noopener" },
      reserveSize(
        el("img", { class: "thumbnail", src: message.thumbnailUrl, alt: message.attachmentName || "photo" }),
        message,
      ),
    );
  }
  if (message.attachmentStatus === "rejected")
    return el("p", { class: "attachment-note" }, "This photo could not be read.");
  if (message.attachmentType === "file" && message.attachmentUrl) {
    return el("a", { class: "file", href: message.attachmentUrl }, `File: ${message.attachmentName || "download"}`);
  }
  if (message.attachmentType === "image" || previewUrl) {
    // Uploading or processing: the sender sees the local file, the recipient a placeholder, until attachment_ready.
    const label = message.pending ? "uploading…" : "processing…";
    return el(
      "div",
      { class: `photo processing${previewUrl ? "" : " placeholder"}` },
      previewUrl ? el("img", { class: "local-preview", src: previewUrl, alt: "your photo" }) : null,
      el("span", { class: "attachment-note" }, label),
    );
  }
  return null;
}

// A thumbnail's box is reserved before it loads (no scroll jump while images load): the image's size fitted into
// the bubble, its aspect ratio kept when a narrow screen shrinks it. (Set through the CSSOM: the page's CSP allows
// no inline style attributes.)
const PHOTO_BOX_PX = 240;
function reserveSize(img, { width, height }) {
  const [w, h] = width && height ? [width, height] : [4, 3];
  const scale = Math.min(PHOTO_BOX_PX / w, PHOTO_BOX_PX / h, width ? 1 : Infinity);
  img.style.width = `${Math.round(w * scale)}px`;
  img.style.aspectRatio = `${w} / ${h}`;
  return img;
}

// What a reply quotes, as the server shows it now (README.md, "A message's life").
function quoteBlock(replyTo, nameOf) {
  if (!replyTo) return null;
  const text = replyTo.isDeleted
    ? "message deleted"
    : replyTo.content || (replyTo.attachmentType === "image" ? "Photo" : replyTo.attachmentType ? "File" : "");
  return el(
    "blockquote",
    { class: `quote${replyTo.isDeleted ? " deleted" : ""}`, dataset: { quoteId: replyTo.id } },
    el("strong", { class: "quote-sender" }, nameOf ? nameOf(replyTo.senderId) : replyTo.senderId),
    el("span", { class: "quote-content" }, text),
  );
}

// Reactions in the order they were first used; the caller's own are highlighted and clicking one toggles it.
function reactionsBlock(message, meId, onReact) {
  if (!message.reactions?.length) return null;
  return el(
    "div",
    { class: "reactions" },
    message.reactions.map((reaction) => {
      const mine = reaction.userIds.includes(meId);
      return el(
        "button",
        {
          type: "button",
          class: `reaction${mine ? " mine" : ""}`,
          dataset: { emoji: reaction.emoji },
          title: reaction.userIds.join(", "),
          onclick: onReact ? () => onReact(message, reaction.emoji, !mine) : undefined,
        },
        `${reaction.emoji} ${reaction.count}`,
      );
    }),
  );
}

// Reply to any stored message; react with one of the offered emoji; edit and delete one's own.
function actionsBlock(message, { meId, actions, reactionEmoji }) {
  if (!actions || !message.id || message.pending || message.isDeleted) return null;
  const mine = message.senderId === meId;
  const button = (label, name, onclick, extra = {}) =>
    el("button", { type: "button", class: `action ${name}`, title: extra.title || label, onclick, ...extra.attrs }, label);
  return el(
    "div",
    { class: "actions" },
    button("Reply", "reply", () => actions.onReply(message)),
    (reactionEmoji || []).map((emoji) =>
      button(emoji, "react", () => actions.onReact(message, emoji, true), {
        title: `React with ${emoji}`,
        attrs: { dataset: { emoji } },
      }),
    ),
    mine ? button("Edit", "edit", () => actions.onEdit(message)) : null,
    mine ? button("Delete", "delete", () => actions.onDelete(message)) : null,
    !mine && actions.onReport && !message.reported
      ? button("Report", "report", () => actions.onReport(message), { title: "Report this message" })
      : null,
    !mine && message.reported ? el("span", { class: "reported" }, "Reported") : null,
  );
}

export function messageElement(message, { meId, previewUrl, onObserve, actions, reactionEmoji, nameOf }) {
  const mine = message.senderId === meId;
  const classes = `message ${mine ? "mine" : "theirs"}${message.pending ? " pending" : ""}${message.isDeleted ? " deleted" : ""}`;
  const body = message.isDeleted
    ? [el("p", { class: "tombstone" }, "message deleted")]
    : [
        quoteBlock(message.replyTo, nameOf),
        attachmentBlock(message, previewUrl),
        message.content ? el("p", { class: "content" }, message.content) : null,
      ];
  const node = el(
    "li",
    {
      class: classes,
      dataset: {
        key: message.key || message.id || message.clientMessageId || "",
        sentAt: message.sentAt || "",
        messageId: message.id || "",
        clientMessageId: message.clientMessageId || "",
        version: String(message.version || 0),
      },
    },
    el("div", { class: "bubble" }, body),
    message.isDeleted ? null : reactionsBlock(message, meId, actions?.onReact),
    el(
      "div",
      { class: "meta" },
      el("time", {}, clock(message.sentAt)),
      message.editedAt && !message.isDeleted ? el("span", { class: "edited" }, "edited") : null,
      mine ? receipt(message) : null,
    ),
    actionsBlock(message, { meId, actions, reactionEmoji }),
  );
  if (onObserve) onObserve(node, message);
  return node;
}

// The composer's mode: a new message, a reply to one, or an edit of one's own (with a way back).
export function setComposerMode(mode, { text, onCancel } = {}) {
  const banner = $("#composer-mode");
  banner.hidden = mode === "new";
  banner.dataset.mode = mode;
  $("#composer-mode-text").textContent = text || "";
  $("#composer-mode-cancel").onclick = onCancel || null;
  $("#send-button").textContent = mode === "edit" ? "Save" : "Send";
}

// Put one message in the list: replace its element (same key: the optimistic copy and the stored message share
// it), or insert it in time order (pending ones at the end).
export function upsertMessage(message, options) {
  const list = $("#message-list");
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const node = messageElement(message, options);
  const existing = list.querySelector(`.message[data-key="${CSS.escape(node.dataset.key)}"]`);
  if (existing) existing.replaceWith(node);
  else {
    const later = message.pending
      ? null
      : [...list.querySelectorAll(".message")].find((other) => other.classList.contains("pending") || other.dataset.sentAt > node.dataset.sentAt);
    list.insertBefore(node, later || null);
  }
  if (nearBottom || message.senderId === options.meId) list.scrollTop = list.scrollHeight;
}

export function removeMessage(key) {
  $("#message-list").querySelector(`.message[data-key="${CSS.escape(key)}"]`)?.remove();
}

export function renderMessages(messages, options) {
  const list = $("#message-list");
  list.replaceChildren(...messages.map((message) => messageElement(message, options)));
  refreshDaySeparators();
  list.scrollTop = list.scrollHeight;
}

// Pinned to the newest message while the reader is at the bottom: when the list's box changes (a header that
// wraps, the typing line, a narrow screen turning), it stays at the bottom.
const messageList = $("#message-list");
let pinned = true;
messageList.addEventListener("scroll", () => {
  pinned = messageList.scrollHeight - messageList.scrollTop - messageList.clientHeight < 8;
});
new ResizeObserver(() => {
  if (pinned) messageList.scrollTop = messageList.scrollHeight;
}).observe(messageList);

export function scrollToNewest() {
  const list = $("#message-list");
  list.scrollTop = list.scrollHeight;
}

// A date line above the first message of each day ("Today", "Yesterday", or the date), in the reader's time zone.
function dayLabel(iso) {
  const day = new Date(iso);
  const today = new Date();
  const yesterday = new Date(today);
  yesterday.setDate(today.getDate() - 1);
  if (day.toDateString() === today.toDateString()) return "Today";
  if (day.toDateString() === yesterday.toDateString()) return "Yesterday";
  return day.toLocaleDateString([], { weekday: "short", day: "numeric", month: "short", year: "numeric" });
}

export function refreshDaySeparators() {
  const list = $("#message-list");
  const bottom = list.scrollHeight - list.scrollTop - list.clientHeight;
  for (const separator of list.querySelectorAll(".day-separator")) separator.remove();
  let previous = null;
  for (const node of list.querySelectorAll(".message")) {
    const sentAt = node.dataset.sentAt;
    if (!sentAt) continue;
    const day = new Date(sentAt).toDateString();
    if (day !== previous) node.before(el("li", { class: "day-separator", role: "separator" }, el("span", {}, dayLabel(sentAt))));
    previous = day;
  }
  list.scrollTop = list.scrollHeight - list.clientHeight - bottom; // the same distance from the bottom as before
}

export function setTyping(text) {
  const node = $("#typing-indicator");
  node.hidden = !text;
  node.textContent = text || "";
}

// --- folders, the open conversation's settings (issue 16) ---

// The list's tabs: Inbox, Requests (with the waiting requests' count), Archived.
export function setFolder(folder, requestsCount, onSelect) {
  for (const tab of document.querySelectorAll(".folder-tab")) {
    tab.setAttribute("aria-selected", String(tab.dataset.folder === folder));
    tab.onclick = () => onSelect(tab.dataset.folder);
  }
  const count = $("#requests-count");
  count.hidden = !requestsCount;
  count.textContent = String(requestsCount || 0);
}

function mutedText(settings) {
  if (!settings?.isMuted) return null;
  const until = new Date(settings.mutedUntil);
  if (until.getFullYear() > 9000) return "Muted until you unmute it";
  return `Muted until ${until.toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" })}`;
}

// The header's actions for the open conversation: accept/decline (a request waiting for me), archive, mute, block;
// and a line saying what state it is in (blocked, muted, a request).
export function renderChatActions({ settings, blocked, request, otherName }, handlers) {
  // Called on every render of the store's state: only what changed is written (no relayout of the header).
  const show = (selector, visible) => {
    if ($(selector).hidden !== !visible) $(selector).hidden = !visible;
  };
  const text = (node, value) => {
    if (node.textContent !== value) node.textContent = value;
  };
  show("#accept-button", request);
  show("#decline-button", request && !blocked);
  show("#archive-button", !request);
  text($("#archive-button"), settings?.archived ? "Unarchive" : "Archive");
  $("#archive-button").onclick = () => handlers.onArchive(!settings?.archived);
  $("#accept-button").onclick = () => handlers.onAccept();
  $("#decline-button").onclick = () => handlers.onDecline();
  const mute = $("#mute-button");
  const options = $("#mute-options");
  text(mute, settings?.isMuted ? "Unmute" : "Mute");
  mute.onclick = () => {
    if (settings?.isMuted) return handlers.onMute(null);
    options.hidden = !options.hidden;
    mute.setAttribute("aria-expanded", String(!options.hidden));
  };
  for (const option of options.querySelectorAll(".mute-option")) {
    option.onclick = () => {
      options.hidden = true;
      mute.setAttribute("aria-expanded", "false");
      handlers.onMute(option.dataset.hours);
    };
  }
  const block = $("#block-button");
  text(block, blocked ? "Unblock" : "Block");
  block.onclick = () => (blocked ? handlers.onUnblock() : handlers.onBlock());
  const lines = [
    blocked ? `You blocked ${otherName}: no messages either way until you unblock them.` : null,
    request && !blocked ? `${otherName} wants to message you. Accept to reply, or decline (blocks them).` : null,
    mutedText(settings),
  ].filter(Boolean);
  const state = $("#chat-state");
  show("#chat-state", lines.length > 0);
  text(state, lines.join(" · "));
  state.dataset.blocked = String(Boolean(blocked));
  state.dataset.muted = String(Boolean(settings?.isMuted));
  $("#chat").dataset.blocked = String(Boolean(blocked));
  if ($("#message-input").disabled !== Boolean(blocked)) $("#message-input").disabled = Boolean(blocked);
  if ($("#send-button").disabled !== Boolean(blocked)) $("#send-button").disabled = Boolean(blocked);
}

// --- the report form ---

export function openReportForm(message, { nameOf, onSubmit }) {
  const dialog = $("#report-dialog");
  $("#report-quote").textContent = `${nameOf(message.senderId)}: ${message.content || "a photo"}`.slice(0, 200);
  $("#report-reason").value = "spam";
  $("#report-details").value = "";
  $("#report-cancel").onclick = () => dialog.close();
  $("#report-form").onsubmit = (event) => {
    event.preventDefault();
    const details = $("#report-details").value.trim();
    dialog.close();
    onSubmit({ reason: $("#report-reason").value, ...(details ? { details } : {}) });
  };
  dialog.showModal();
}

// --- the notification preferences panel ---

export function fillPreferences(preferences) {
  $("#pref-email-enabled").checked = preferences.email.enabled;
  $("#pref-email-delay").value = String(preferences.email.delayMinutes);
  $("#pref-push-enabled").checked = preferences.push.enabled;
  $("#pref-push-preview").checked = preferences.push.showPreview;
  const quiet = preferences.quietHours;
  $("#pref-quiet-enabled").checked = Boolean(quiet);
  $("#pref-quiet-start").value = quiet?.start || "22:00";
  $("#pref-quiet-end").value = quiet?.end || "07:00";
  $("#pref-quiet-zone").value = quiet?.timeZone || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export function readPreferences() {
  return {
    email: { enabled: $("#pref-email-enabled").checked, delayMinutes: Number($("#pref-email-delay").value) },
    push: { enabled: $("#pref-push-enabled").checked, showPreview: $("#pref-push-preview").checked },
    quietHours: $("#pref-quiet-enabled").checked
      ? { start: $("#pref-quiet-start").value, end: $("#pref-quiet-end").value, timeZone: $("#pref-quiet-zone").value.trim() }
      : null,
  };
}

export function setPreferencesStatus(text) {
  $("#preferences-status").textContent = text || "";
}

export function setPushStatus(text, { subscribed = false, busy = false } = {}) {
  $("#push-status").textContent = text || "";
  const toggle = $("#push-toggle");
  toggle.textContent = subscribed ? "Stop notifying me on this device" : "Notify me on this device";
  toggle.dataset.subscribed = String(subscribed);
  toggle.disabled = busy;
}
