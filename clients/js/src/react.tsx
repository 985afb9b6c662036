// @crochet-messaging/client/react: the seed's MessagingProvider, useMessaging() and useWebSocket(), on top of
// MessagingClient (the protocol) and MessagingStore (the state). React is a peer dependency of this entry only.

import {
  createContext,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from "react";
import { MessagingClient, type MessagingClientOptions } from "./client.js";
import { MessagingStore, bindActions, bindMethods, type MessagingActions, type MessagingState } from "./store.js";
import type { MessagingApiError } from "./errors.js";
import type { ClientEventMap, ClientEventName, EventHandler, Message, ServerEventMap } from "./types.js";

interface Messaging {
  client: MessagingClient;
  store: MessagingStore;
}

const MessagingContext = createContext<Messaging | null>(null);

export interface MessagingProviderProps extends MessagingClientOptions {
  children?: ReactNode;
  /** Use this client instead of making one from the options (the options are then ignored). */
  client?: MessagingClient;
  /** Open the socket on mount, close it on unmount (default true). */
  autoConnect?: boolean;
  /** Load the first page of conversations on mount (default true). */
  loadOnMount?: boolean;
}

/**
 * Makes one MessagingClient from its props (read once: give the provider a `key` to start over with other URLs),
 * connects it while mounted and keeps the state of `useMessaging()` current. A changed `token` prop is used from the
 * next request on; `getToken` may be a new function on every render.
 */
export function MessagingProvider(props: MessagingProviderProps): ReactNode {
  const { children, client: given, autoConnect = true, loadOnMount = true, ...options } = props;
  const getTokenRef = useRef(options.getToken);
  getTokenRef.current = options.getToken;
  const [messaging] = useState<Messaging>(() => {
    const client =
      given ??
      new MessagingClient({
        ...options,
        ...(options.getToken ? { getToken: (context) => getTokenRef.current!(context) } : {}),
      });
    return { client, store: new MessagingStore(client) };
  });
  const { token } = options;
  useEffect(() => {
    if (token !== undefined) messaging.client.setToken(token);
  }, [messaging, token]);
  useEffect(() => {
    messaging.store.start();
    if (autoConnect) messaging.client.connect().catch(() => undefined); // disconnect() on unmount rejects it
    if (loadOnMount) messaging.store.loadConversations().catch((error: unknown) => console.error(error));
    return () => {
      if (autoConnect) messaging.client.disconnect();
      messaging.store.dispose();
    };
  }, [messaging, autoConnect, loadOnMount]);
  return <MessagingContext.Provider value={messaging}>{children}</MessagingContext.Provider>;
}

function useMessagingContext(hook: string): Messaging {
  const messaging = useContext(MessagingContext);
  if (!messaging) throw new Error(`${hook} must be used inside <MessagingProvider>`);
  return messaging;
}

/** The provider's MessagingClient (for calls the hooks do not wrap, e.g. `uploadAttachment`, `request`). */
export function useMessagingClient(): MessagingClient {
  return useMessagingContext("useMessagingClient").client;
}

/** The client's calls that `useMessaging()` hands out as they are (bound) next to the store's actions: search,
 * conversation settings and message requests, blocks, reports, notification preferences, Web Push. They keep no
 * state of their own: after archiving or accepting, `loadConversations({folder})` shows the folders anew. */
export const CLIENT_CALLS = [
  "search",
  "updateConversationSettings",
  "archiveConversation",
  "unarchiveConversation",
  "muteConversation",
  "unmuteConversation",
  "acceptRequest",
  "declineRequest",
  "blockUser",
  "unblockUser",
  "listBlocks",
  "reportMessage",
  "getNotificationPreferences",
  "setNotificationPreferences",
  "getVapidPublicKey",
  "registerPushSubscription",
  "unregisterPushSubscription",
] as const satisfies readonly (keyof MessagingClient)[];

export type MessagingClientCalls = Pick<MessagingClient, (typeof CLIENT_CALLS)[number]>;

function bindClientCalls(client: MessagingClient): MessagingClientCalls {
  return bindMethods(client, CLIENT_CALLS);
}

export interface MessagingContextValue extends MessagingState, MessagingActions, MessagingClientCalls {
  client: MessagingClient;
}

/** The seed's MessagingContext: `{conversations, currentConversation, unreadCount, isConnected, typingUsers, ...}`
 * and its actions (MESSAGING_ACTIONS: the seed's, plus edits, deletions, reactions and replies; and CLIENT_CALLS,
 * the client's later calls such as `search`); re-renders when the socket's events change any of it. */
export function useMessaging(): MessagingContextValue {
  const { client, store } = useMessagingContext("useMessaging");
  const state = useSyncExternalStore(store.subscribe, store.getState, store.getState);
  const actions = useMemo(() => ({ ...bindClientCalls(client), ...bindActions(store), client }), [client, store]);
  return { ...state, ...actions };
}

export interface UseWebSocketOptions {
  onMessageReceived?: (message: Message) => void;
  onNewMessageNotification?: (notification: ServerEventMap["new_message_notification"]) => void;
  onMessageReadUpdate?: (update: ServerEventMap["message_read_update"]) => void;
  onUserTyping?: (data: ServerEventMap["user_typing"]) => void;
  onUserStoppedTyping?: (data: ServerEventMap["user_stopped_typing"]) => void;
  /** Any other event of the protocol, by name (e.g. `presence_update`, `attachment_ready`, `connected`). */
  events?: { [E in ClientEventName]?: EventHandler<E> };
}

/** The seed's useWebSocket result: the connection's status and the client's real-time calls (bound). */
export interface UseWebSocketResult
  extends Pick<MessagingClient, "joinConversation" | "leaveConversation" | "sendMessage" | "startTyping" | "stopTyping"> {
  isConnected: boolean;
  connectionError: MessagingApiError | null;
  /** `MessagingClient.markAsRead`, under the seed's name. */
  markMessageAsRead: MessagingClient["markAsRead"];
}

const SEED_HANDLERS = {
  onMessageReceived: "message_received",
  onNewMessageNotification: "new_message_notification",
  onMessageReadUpdate: "message_read_update",
  onUserTyping: "user_typing",
  onUserStoppedTyping: "user_stopped_typing",
} as const satisfies Record<string, ClientEventName>;

/** The seed's useWebSocket: the provider's connection, its status, and handlers for its events (each message once;
 * the handlers may change on every render). */
export function useWebSocket(options: UseWebSocketOptions = {}): UseWebSocketResult {
  const { client, store } = useMessagingContext("useWebSocket");
  const latest = useRef(options);
  latest.current = options;
  useEffect(() => {
    const unsubscribe: (() => void)[] = [];
    for (const [option, event] of Object.entries(SEED_HANDLERS) as [keyof typeof SEED_HANDLERS, ClientEventName][]) {
      unsubscribe.push(client.on(event, (data) => (latest.current[option] as ((d: unknown) => void) | undefined)?.(data)));
    }
    const named = Object.keys(latest.current.events ?? {}) as ClientEventName[];
    for (const event of named) {
      unsubscribe.push(
        client.on(event, (data: ClientEventMap[typeof event]) =>
          (latest.current.events?.[event] as ((d: unknown) => void) | undefined)?.(data),
        ),
      );
    }
    return () => unsubscribe.forEach((off) => off());
    // The set of `events` names is read once per client; their handlers are always the latest.
  }, [client]);
  const isConnected = useSyncExternalStore(store.subscribe, () => store.getState().isConnected, () => false);
  const connectionError = useSyncExternalStore(store.subscribe, () => store.getState().connectionError, () => null);
  const actions = useMemo(
    () => ({
      joinConversation: client.joinConversation.bind(client),
      leaveConversation: client.leaveConversation.bind(client),
      sendMessage: client.sendMessage.bind(client),
      markMessageAsRead: client.markAsRead.bind(client),
      startTyping: client.startTyping.bind(client),
      stopTyping: client.stopTyping.bind(client),
    }),
    [client],
  );
  return { isConnected, connectionError, ...actions };
}

export type { MessagingState, MessagingActions, ChatMessage, CurrentConversation, TypingUser, Delivery, StoreSendInput } from "./store.js";
