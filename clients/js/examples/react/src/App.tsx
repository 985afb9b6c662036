// The seed's frontend on @crochet-messaging/client/react: MessagingProvider in the layout, MessageNotifications in the
// header, MessageCreatorButton on a pattern, MessagingInterface (conversation list + chat). Each component only
// calls useMessaging() / useWebSocket(); the package keeps the state current.

import { useEffect, useRef, useState, type FormEvent } from "react";
import {
  MessagingProvider,
  useMessaging,
  useMessagingClient,
  useWebSocket,
  type ChatMessage,
} from "@crochet-messaging/client/react";
import type { EnrichedConversation, MessagingClientOptions } from "@crochet-messaging/client";

export interface DemoUser {
  id: string;
  name: string;
  token: string;
}

export interface DemoConfig {
  apiUrl: string;
  wsUrl: string;
  users: DemoUser[];
  patterns: { id: string; title: string; creatorId: string }[];
  purchases: { patternId: string; userId: string }[];
  /** More MessagingClient options (e.g. `reconnect`), for tests. */
  client?: Partial<MessagingClientOptions>;
}

export function App({ config, me }: { config: DemoConfig; me: DemoUser }) {
  const nameOf = (id: string) => config.users.find((user) => user.id === id)?.name ?? id;
  return (
    <MessagingProvider key={me.id} {...config.client} apiUrl={config.apiUrl} wsUrl={config.wsUrl} token={me.token}>
      <header>
        <h1>Crochet messages</h1>
        <span className="me">{me.name}</span>
        <MessageNotifications />
      </header>
      <section className="patterns">
        {config.purchases
          .filter((purchase) => purchase.userId === me.id)
          .map((purchase) => config.patterns.find((pattern) => pattern.id === purchase.patternId))
          .map(
            (pattern) =>
              pattern && (
                <MessageCreatorButton
                  key={pattern.id}
                  patternId={pattern.id}
                  creatorId={pattern.creatorId}
                  creatorName={nameOf(pattern.creatorId)}
                  patternName={pattern.title}
                />
              ),
          )}
      </section>
      <MessagingInterface meId={me.id} nameOf={nameOf} />
    </MessagingProvider>
  );
}

/** Header: connection state, total unread, and a toast for messages in conversations that are not open. */
function MessageNotifications() {
  const { unreadCount, isConnected, currentConversation } = useMessaging();
  const [toast, setToast] = useState<string | null>(null);
  const openId = currentConversation?.conversation.id;
  const { connectionError } = useWebSocket({
    onNewMessageNotification: (notice) => {
      if (notice.conversationId !== openId) setToast(`${notice.sender.name}: ${notice.preview}`);
    },
  });
  useEffect(() => {
    if (!toast) return;
    const timer = setTimeout(() => setToast(null), 4000);
    return () => clearTimeout(timer);
  }, [toast]);
  return (
    <div className="notifications">
      <span id="connection-status" data-state={isConnected ? "online" : "offline"} title={connectionError?.message}>
        {isConnected ? "online" : "reconnecting…"}
      </span>
      <span className="unread" data-testid="unread-count">
        {unreadCount}
      </span>
      {toast && (
        <div className="toast" role="status">
          {toast}
        </div>
      )}
    </div>
  );
}

/** On a pattern page: get or create the conversation with its creator, then open it. */
function MessageCreatorButton(props: { patternId: string; creatorId: string; creatorName: string; patternName: string }) {
  const { createPatternConversation, loadConversation } = useMessaging();
  const [error, setError] = useState<string | null>(null);
  const open = async () => {
    try {
      const conversation = await createPatternConversation(props.patternId, props.creatorId);
      await loadConversation(conversation.id);
    } catch (failure) {
      setError(String((failure as Error).message));
    }
  };
  return (
    <button type="button" onClick={() => void open()} title={error ?? undefined}>
      Ask {props.creatorName} about {props.patternName}
    </button>
  );
}

const topicOf = (conversation: EnrichedConversation) => conversation.pattern?.title ?? conversation.title ?? "Direct message";

function MessagingInterface({ meId, nameOf }: { meId: string; nameOf: (id: string) => string }) {
  const { conversations, currentConversation, loadConversation } = useMessaging();
  const openId = currentConversation?.conversation.id;
  return (
    <main>
      <nav className="conversations" aria-label="Conversations">
        {conversations.map((conversation) => (
          <button
            type="button"
            key={conversation.id}
            className={`conversation${conversation.id === openId ? " active" : ""}`}
            data-conversation-id={conversation.id}
            onClick={() => void loadConversation(conversation.id)}
          >
            <span className="topic">{topicOf(conversation)}</span>
            <span className="who">{conversation.otherParticipant.name}</span>
            <span className="preview">{conversation.lastMessage?.content ?? ""}</span>
            {conversation.unreadCount > 0 && <span className="badge">{conversation.unreadCount}</span>}
          </button>
        ))}
      </nav>
      {currentConversation ? <Chat meId={meId} nameOf={nameOf} /> : <p className="empty">Pick a conversation.</p>}
    </main>
  );
}

function Chat({ meId, nameOf }: { meId: string; nameOf: (id: string) => string }) {
  const { currentConversation, typingUsers, sendMessage, markAsRead, startTyping, stopTyping } = useMessaging();
  const client = useMessagingClient();
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const reported = useRef<string | null>(null);
  const list = useRef<HTMLOListElement>(null);
  const conversation = currentConversation!.conversation;
  const messages = currentConversation!.messages;

  // Messages on screen are read: report the newest incoming unread one (a read position covers the ones before).
  const newestUnread = [...messages].reverse().find((m) => m.id && m.senderId !== meId && !m.isRead)?.id;
  useEffect(() => {
    if (!newestUnread || reported.current === newestUnread || document.visibilityState !== "visible") return;
    reported.current = newestUnread;
    markAsRead(newestUnread).catch((failure: unknown) => setError(String(failure)));
  }, [newestUnread, markAsRead]);

  // The newest message in view.
  useEffect(() => {
    list.current?.scrollTo({ top: list.current.scrollHeight });
  }, [messages.length]);

  const typing = typingUsers.filter((t) => t.conversationId === conversation.id && t.userId !== meId);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const content = text.trim();
    if (!content) return;
    setText("");
    stopTyping();
    sendMessage(content).catch((failure: unknown) => setError(String((failure as Error).message)));
  };
  const sendPhoto = async (file: File) => {
    try {
      const attachment = await client.uploadAttachment(file, { conversationId: conversation.id });
      await sendMessage({ conversationId: conversation.id, content: text.trim(), attachment });
      setText("");
    } catch (failure) {
      setError(String((failure as Error).message));
    }
  };
  const other = conversation.otherParticipant;
  return (
    <section className="chat" data-conversation-id={conversation.id}>
      <h2 id="chat-title">{topicOf(conversation)}</h2>
      <p id="chat-presence">
        {other.name} · {other.online ? "online" : `last seen ${other.lastSeenAt ?? "never"}`}
      </p>
      <ol id="message-list" ref={list}>
        {messages.map((message) => (
          <MessageItem key={message.key} message={message} mine={message.senderId === meId} />
        ))}
      </ol>
      <p id="typing-indicator" hidden={typing.length === 0}>
        {typing.map((t) => nameOf(t.userId)).join(", ")} is typing…
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <form id="composer" onSubmit={submit}>
        <input
          id="message-input"
          value={text}
          placeholder="Write a message"
          autoComplete="off"
          onChange={(event) => {
            setText(event.target.value);
            if (event.target.value.trim()) startTyping();
            else stopTyping();
          }}
          onBlur={() => stopTyping()}
        />
        <input
          id="photo-input"
          type="file"
          accept="image/*"
          onChange={(event) => {
            const file = event.target.files?.[0];
            event.target.value = "";
            if (file) void sendPhoto(file);
          }}
        />
        <button type="submit">Send</button>
      </form>
    </section>
  );
}

/** One message: its photo, text, receipt; "edited" and a tombstone; reactions (🧶 toggles ours); edit and delete of
 * our own (the store keeps the highest version of each message, so events in any order show the latest). */
function MessageItem({ message, mine }: { message: ChatMessage; mine: boolean }) {
  const { editMessage, deleteMessage, addReaction, removeReaction, client } = useMessaging();
  const me = client.userId;
  const receipt =
    message.delivery === "pending" ? "Sending…" : message.delivery === "failed" ? "Failed" : message.isRead ? "Read" : "Sent";
  const yarn = message.reactions.find((reaction) => reaction.emoji === "🧶");
  const reacted = Boolean(me && yarn?.userIds.includes(me));
  const stored = message.id !== undefined && message.delivery === "sent" && !message.isDeleted;
  const edit = () => {
    const content = window.prompt("Edit your message", message.content);
    if (content && content !== message.content && message.id) void editMessage(message.id, content).catch(() => undefined);
  };
  return (
    <li
      className={`message ${mine ? "mine" : "theirs"}${message.isDeleted ? " deleted" : ""}`}
      data-message-id={message.id}
      data-delivery={message.delivery}
      data-version={message.version}
    >
      {message.isDeleted ? (
        <span className="tombstone">message deleted</span>
      ) : (
        <>
          {message.attachmentType === "image" &&
            (message.thumbnailUrl ? (
              <img className="thumbnail" src={message.thumbnailUrl} alt={message.attachmentName ?? "photo"} />
            ) : (
              <span className="photo placeholder">{message.attachmentStatus === "rejected" ? "rejected" : "processing…"}</span>
            ))}
          {message.content && <span className="content">{message.content}</span>}
          {message.editedAt && <span className="edited">edited</span>}
          {message.reactions.map((reaction) => (
            <span key={reaction.emoji} className="reaction" data-emoji={reaction.emoji}>
              {reaction.emoji} {reaction.count}
            </span>
          ))}
        </>
      )}
      {mine && <span className="receipt">{receipt}</span>}
      {stored && message.id && (
        <span className="actions">
          <button
            type="button"
            className="react"
            onClick={() => void (reacted ? removeReaction(message.id!, "🧶") : addReaction(message.id!, "🧶")).catch(() => undefined)}
          >
            {reacted ? "Un-🧶" : "🧶"}
          </button>
          {mine && (
            <button type="button" className="edit" onClick={edit}>
              Edit
            </button>
          )}
          {mine && (
            <button type="button" className="delete" onClick={() => void deleteMessage(message.id!).catch(() => undefined)}>
              Delete
            </button>
          )}
        </span>
      )}
    </li>
  );
}
