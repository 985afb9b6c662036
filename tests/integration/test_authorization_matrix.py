"""OWASP API1 (object-level) and API3 (property-level) authorization, generated from the app's own tables.

Every REST route registered on ``app`` (``route_specs``) and every socket action in ``ACTIONS``
must have a row here: a new route or action without one fails ``test_every_route_and_action_has_a_row``.
Each REST row is exercised against real objects (a conversation between alice and bob about p1, a
message in it, attachments bob uploaded) by five kinds of caller, and rows that tell the two participants
apart (the sender's own message) by the other participant too; a stranger probing other users' ids
must get exactly the answer a missing id gets. API3: no response carries the server's internal
properties, and no request may set a server-owned one.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest

from app import app
from chalicelib.adapters.dynamodb import Attachment, Connection, Conversation, Message, UserProfile, rate_limits
from chalicelib.domain.connections import parse_connections, parse_room
from chalicelib.domain.ids import conversation_id_for, message_id_for, parse_message_id
from chalicelib.domain.notifications import unsubscribe_token
from chalicelib.entrypoints.http.routing import MODERATOR, PUBLIC, SERVICE, USER, route_specs
from chalicelib.entrypoints.ws.dispatcher import ACTIONS
from chalicelib.settings import get_settings
from tests.integration.conftest import Api, Response, token_for
from tests.integration.push_support import Browser
from tests.integration.sockets import Sockets
from tests.integration.uploads import pdf_upload_request, upload_pdf

ROUTE_AUTH = {route: spec.auth for route, spec in route_specs(app).items()}
ROUTES = set(ROUTE_AUTH)

# --- the callers ---------------------------------------------------------------------------------------

PARTICIPANT, STRANGER, ANONYMOUS, EXPIRED, SERVICE_ROLE = "participant", "stranger", "anonymous", "expired", "service"
CALLERS = (PARTICIPANT, STRANGER, ANONYMOUS, EXPIRED, SERVICE_ROLE)
MODERATOR_ROLE = "moderator"  # the sixth kind of caller (issue 16): test_route_answers_a_moderator
STRANGER_USER = "carol"  # a valid token, no conversation with alice or bob, did not buy p1
USERS = ("alice", "bob", STRANGER_USER, "dave")

Outcome = tuple[int, str | None]  # status and error code (None on success)

OK: Outcome = (200, None)
CREATED: Outcome = (201, None)
NOT_FOUND: Outcome = (404, "not_found")
UNAUTHORIZED: Outcome = (401, "unauthorized")
USERS_ONLY: Outcome = (403, "user_token_required")
SERVICE_ONLY: Outcome = (403, "service_role_required")
MODERATORS_ONLY: Outcome = (403, "moderator_role_required")
OWN_MESSAGE: Outcome = (403, "own_message")
PURCHASE_REQUIRED: Outcome = (403, "purchase_required")
INVALID_CURSOR: Outcome = (400, "invalid_cursor")
NOT_SENDER: Outcome = (403, "not_sender")
YARN = "%F0%9F%A7%B6"  # 🧶 as a URL path segment (percent-encoded UTF-8)

BLANKET = conversation_id_for("alice", "bob", "p1")
MISSING_CONVERSATION = conversation_id_for("nobody", "no-one", None)  # well-formed, never stored
MISSING_MESSAGE = message_id_for(MISSING_CONVERSATION, 1)
MISSING_ATTACHMENT = "att_AAAAAAAAAAAAAAAAAAAAAAAA"


MISSING_PUSH_SUBSCRIPTION = "psub_aaaaaaaaaaaaaaaaaaaaaaaaaa"


def push_subscription_body(endpoint: str = "https://fcm.googleapis.com/fcm/send/bobs-laptop") -> dict[str, Any]:
    """What a browser's ``PushSubscription.toJSON()`` gives."""
    return Browser(endpoint).subscription()


def expired_token(user_id: str, **claims: Any) -> str:
    """A token that is right in every way but its expiry (an hour ago, well beyond the leeway)."""
    now = int(time.time())
    payload = {"sub": user_id, "iat": now - 7200, "exp": now - 3600, **claims}
    return jwt.encode(payload, get_settings().jwt_secret, algorithm="HS256")


def outcome(response: Response) -> Outcome:
    code = response.body["error"]["code"] if response.status >= 400 and isinstance(response.body, dict) else None
    return response.status, code


# --- the world -----------------------------------------------------------------------------------------


class World:
    """Real objects of alice and bob that carol (and dave) have nothing to do with.

    The conversation and bob's first message exist from the start; the attachments are made when a
    test first asks for them (most tests do not).
    """

    def __init__(self, api: Api) -> None:
        self.api = api
        self.conversation_id = BLANKET
        # Taken before anything is sent: a sync from them sees everything that follows.
        self.sync_cursors = {user: api.call("GET", "/api/messages/sync", user).body["nextCursor"] for user in USERS}
        first = api.send("bob", recipientId="alice", patternId="p1", content="which hook for the border?")
        assert first.status == 201, first.body
        self.message_id: str = first.body["message"]["id"]  # bob -> alice, unread

    @functools.cached_property
    def sent_attachment_id(self) -> str:
        """Bob's PDF, part of a message of the conversation."""
        attachment_id = upload_pdf(self.api, "bob", self.conversation_id)
        body = {"conversationId": self.conversation_id, "content": "", "attachment": {"attachmentId": attachment_id}}
        sent = self.api.send("bob", **body)
        assert sent.status == 201, sent.body
        return attachment_id

    @functools.cached_property
    def pending_attachment_id(self) -> str:
        """Bob's upload into the conversation, not sent yet."""
        return upload_pdf(self.api, "bob", self.conversation_id)

    @functools.cached_property
    def report_id(self) -> str:
        """Alice's report of bob's first message (issue 16)."""
        response = self.api.call("POST", f"/api/messages/{self.message_id}/report", "alice", {"reason": "spam"})
        assert response.status == 201, response.body
        return str(response.body["report"]["id"])

    @functools.cached_property
    def push_subscription_id(self) -> str:
        """Bob's browser push subscription."""
        response = self.api.call("PUT", "/api/push/subscriptions", "bob", push_subscription_body())
        assert response.status == 201, response.body
        return str(response.body["id"])

    def message_count(self) -> int:
        return int(Conversation.get(self.conversation_id, consistent_read=True).message_count)


@pytest.fixture
def world(marketplace: Api) -> World:
    return World(marketplace)


# --- the REST matrix -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One route: who it is for, the request made with real objects, and what each caller kind gets."""

    auth: str
    path: Callable[[World], str]
    expect: tuple[Outcome, Outcome, Outcome, Outcome, Outcome]  # in the order of CALLERS
    body: Callable[[World], Any] | None = None
    participant: str = "bob"
    other: Outcome | None = None  # what the other participant gets, for rows where the two differ
    moderator: Outcome | None = None  # a "role": "moderator" token (issue 16); None: what the row's auth implies


#                participant, stranger,   anonymous,    expired,      service role
USER_ROUTE_OK = (OK, OK, UNAUTHORIZED, UNAUTHORIZED, USERS_ONLY)
OWN_OBJECT = (OK, NOT_FOUND, UNAUTHORIZED, UNAUTHORIZED, USERS_ONLY)
NEW_IN_OWN_OBJECT = (CREATED, NOT_FOUND, UNAUTHORIZED, UNAUTHORIZED, USERS_ONLY)
INTERNAL = (SERVICE_ONLY, SERVICE_ONLY, UNAUTHORIZED, UNAUTHORIZED, OK)
EVERYONE = (OK, OK, OK, OK, OK)
FOR_MODERATORS = (MODERATORS_ONLY, MODERATORS_ONLY, UNAUTHORIZED, UNAUTHORIZED, MODERATORS_ONLY)

MATRIX: dict[tuple[str, str], Row] = {
    ("GET", "/api/messages"): Row(USER, lambda w: f"/api/messages?conversationId={w.conversation_id}", OWN_OBJECT),
    ("POST", "/api/messages"): Row(
        USER,
        lambda w: "/api/messages",
        NEW_IN_OWN_OBJECT,
        lambda w: {"conversationId": w.conversation_id, "content": "x"},
    ),
    ("GET", "/api/messages/conversations"): Row(USER, lambda w: "/api/messages/conversations", USER_ROUTE_OK),
    ("GET", "/api/messages/conversations/{conversationId}"): Row(
        USER, lambda w: f"/api/messages/conversations/{w.conversation_id}", OWN_OBJECT
    ),
    ("PUT", "/api/messages/{messageId}/read"): Row(
        USER,
        lambda w: f"/api/messages/{w.message_id}/read",
        OWN_OBJECT,
        lambda w: {"markConversation": False},
        participant="alice",  # the recipient
    ),
    ("GET", "/api/messages/pattern/{patternId}"): Row(
        USER,
        lambda w: "/api/messages/pattern/p1",
        (OK, PURCHASE_REQUIRED, UNAUTHORIZED, UNAUTHORIZED, USERS_ONLY),
    ),
    ("GET", "/api/messages/sync"): Row(
        USER,
        lambda w: f"/api/messages/sync?since={w.sync_cursors['bob']}",  # bob's cursor: carol cannot replay it
        (OK, INVALID_CURSOR, UNAUTHORIZED, UNAUTHORIZED, USERS_ONLY),
    ),
    ("GET", "/api/messages/search"): Row(
        USER, lambda w: f"/api/messages/search?q=hook&conversationId={w.conversation_id}", OWN_OBJECT
    ),
    ("GET", "/api/openapi.json"): Row(PUBLIC, lambda w: "/api/openapi.json", EVERYONE),
    ("POST", "/api/attachments"): Row(
        USER, lambda w: "/api/attachments", NEW_IN_OWN_OBJECT, lambda w: pdf_upload_request(w.conversation_id)
    ),
    ("GET", "/api/attachments/{attachmentId}"): Row(
        USER, lambda w: f"/api/attachments/{w.sent_attachment_id}", OWN_OBJECT
    ),
    ("PATCH", "/api/messages/{messageId}"): Row(
        USER,
        lambda w: f"/api/messages/{w.message_id}",
        OWN_OBJECT,
        lambda w: {"content": "which hook for the border, please?"},
        other=NOT_SENDER,  # alice may not edit bob's message
    ),
    ("DELETE", "/api/messages/{messageId}"): Row(
        USER, lambda w: f"/api/messages/{w.message_id}", OWN_OBJECT, other=NOT_SENDER
    ),
    ("PUT", "/api/messages/{messageId}/reactions/{emoji}"): Row(
        USER, lambda w: f"/api/messages/{w.message_id}/reactions/{YARN}", OWN_OBJECT, participant="alice", other=OK
    ),
    ("DELETE", "/api/messages/{messageId}/reactions/{emoji}"): Row(
        USER, lambda w: f"/api/messages/{w.message_id}/reactions/{YARN}", OWN_OBJECT, participant="alice", other=OK
    ),
    ("PUT", "/api/messages/conversations/{conversationId}/settings"): Row(
        USER,
        lambda w: f"/api/messages/conversations/{w.conversation_id}/settings",
        OWN_OBJECT,
        lambda w: {"archived": True},
        other=OK,  # each participant's own settings
    ),
    # Anyone may block anyone (blocking a user one never met included): each caller blocks zed for the first time.
    ("PUT", "/api/me/blocks/{userId}"): Row(
        USER, lambda w: "/api/me/blocks/zed", (CREATED, CREATED, UNAUTHORIZED, UNAUTHORIZED, USERS_ONLY)
    ),
    ("DELETE", "/api/me/blocks/{userId}"): Row(USER, lambda w: "/api/me/blocks/zed", USER_ROUTE_OK),
    ("GET", "/api/me/blocks"): Row(USER, lambda w: "/api/me/blocks", USER_ROUTE_OK),
    # Reports and moderation (issue 16): the recipient reports the sender's message.
    ("POST", "/api/messages/{messageId}/report"): Row(
        USER,
        lambda w: f"/api/messages/{w.message_id}/report",
        NEW_IN_OWN_OBJECT,
        lambda w: {"reason": "spam"},
        participant="alice",
        other=OWN_MESSAGE,
    ),
    ("GET", "/api/moderation/reports"): Row(
        MODERATOR, lambda w: "/api/moderation/reports", FOR_MODERATORS, moderator=OK
    ),
    ("GET", "/api/moderation/reports/{reportId}"): Row(
        MODERATOR, lambda w: f"/api/moderation/reports/{w.report_id}", FOR_MODERATORS, moderator=OK
    ),
    ("POST", "/api/moderation/reports/{reportId}/resolution"): Row(
        MODERATOR,
        lambda w: f"/api/moderation/reports/{w.report_id}/resolution",
        FOR_MODERATORS,
        lambda w: {"action": "dismiss", "note": "not a scam"},
        moderator=OK,
    ),
    ("GET", "/api/moderation/audit"): Row(
        MODERATOR, lambda w: f"/api/moderation/audit?conversationId={w.conversation_id}", FOR_MODERATORS, moderator=OK
    ),
    ("PUT", "/api/internal/users/{userId}"): Row(
        SERVICE, lambda w: "/api/internal/users/zed", INTERNAL, lambda w: {"name": "Zed"}
    ),
    ("GET", "/api/push/vapid-public-key"): Row(USER, lambda w: "/api/push/vapid-public-key", USER_ROUTE_OK),
    # Everyone subscribes their own browsers: the stranger's is a subscription of the stranger's.
    ("PUT", "/api/push/subscriptions"): Row(
        USER,
        lambda w: "/api/push/subscriptions",
        (CREATED, CREATED, UNAUTHORIZED, UNAUTHORIZED, USERS_ONLY),
        lambda w: push_subscription_body(),
    ),
    ("DELETE", "/api/push/subscriptions/{subscriptionId}"): Row(
        USER, lambda w: f"/api/push/subscriptions/{w.push_subscription_id}", OWN_OBJECT
    ),
    ("PUT", "/api/internal/patterns/{patternId}"): Row(
        SERVICE, lambda w: "/api/internal/patterns/p9", INTERNAL, lambda w: {"creatorId": "zed", "title": "Doily"}
    ),
    ("PUT", "/api/internal/purchases/{patternId}/{userId}"): Row(
        SERVICE, lambda w: "/api/internal/purchases/p9/zed", INTERNAL
    ),
    # Issue 18: the caller's own preferences; the digest's one-click unsubscribe needs no login (its token is the
    # proof: tests/integration/test_notification_preferences.py refuses forged ones).
    ("GET", "/api/me/notification-preferences"): Row(USER, lambda w: "/api/me/notification-preferences", USER_ROUTE_OK),
    ("PUT", "/api/me/notification-preferences"): Row(
        USER, lambda w: "/api/me/notification-preferences", USER_ROUTE_OK, lambda w: {"email": {"delayMinutes": 5}}
    ),
    ("POST", "/api/notifications/unsubscribe"): Row(
        PUBLIC,
        lambda w: f"/api/notifications/unsubscribe?token={unsubscribe_token('zed', get_settings().cursor_secret)}",
        EVERYONE,
    ),
}


def caller_headers(kind: str, row: Row) -> dict[str, str]:
    """The Authorization header of a caller kind; an expired token is otherwise the best one the route takes."""
    service_route = row.auth == SERVICE
    tokens = {
        PARTICIPANT: lambda: token_for(row.participant),
        STRANGER: lambda: token_for(STRANGER_USER),
        EXPIRED: lambda: expired_token("platform", role="service") if service_route else expired_token(row.participant),
        SERVICE_ROLE: lambda: token_for("platform", role="service"),
        MODERATOR_ROLE: lambda: token_for("mod1", role="moderator"),
    }
    if row.auth == MODERATOR:
        tokens[EXPIRED] = lambda: expired_token("mod1", role="moderator")
    return {"Authorization": f"Bearer {tokens[kind]()}"} if kind in tokens else {}


def test_every_route_and_action_has_a_row() -> None:
    assert set(MATRIX) == set(ROUTES), "add a row to MATRIX for every route (and remove rows of removed routes)"
    assert set(SOCKET_MATRIX) == {*ACTIONS, "ping"}, "add a row to SOCKET_MATRIX for every socket action"
    assert {row.limit for row in SOCKET_MATRIX.values()} <= set(get_settings().rate_limits), "every action is limited"
    assert {route: row.auth for route, row in MATRIX.items()} == {route: ROUTE_AUTH[route] for route in MATRIX}


@pytest.mark.parametrize("route", sorted(ROUTES), ids=" ".join)
def test_route_answers_each_kind_of_caller(api: Api, world: World, route: tuple[str, str]) -> None:
    row = MATRIX.get(route)
    if row is None:
        pytest.fail(f"{route} has no row in MATRIX")
    method, _ = route
    body = row.body(world) if row.body else None

    observed = {
        kind: outcome(api.call(method, row.path(world), body=body, headers=caller_headers(kind, row)))
        for kind in CALLERS
    }

    assert observed == dict(zip(CALLERS, row.expect, strict=True))


def moderator_outcome(row: Row) -> Outcome:
    """What a moderator's token gets: the row's own answer, else what the route's kind of auth implies."""
    if row.moderator is not None:
        return row.moderator
    return {USER: USERS_ONLY, SERVICE: SERVICE_ONLY, PUBLIC: OK}[row.auth]


@pytest.mark.parametrize("route", sorted(ROUTES), ids=" ".join)
def test_route_answers_a_moderator(api: Api, world: World, route: tuple[str, str]) -> None:
    row = MATRIX.get(route)
    if row is None:
        pytest.fail(f"{route} has no row in MATRIX")
    body = row.body(world) if row.body else None

    response = api.call(route[0], row.path(world), body=body, headers=caller_headers(MODERATOR_ROLE, row))

    assert outcome(response) == moderator_outcome(row)


def test_a_moderator_reads_no_conversation_without_a_report() -> None:
    """Every moderator route takes a report (or lists reports and the audit log): none reads a conversation by its
    id, so a moderator reaches a conversation only through a report on it (test_moderation.py checks the window)."""
    moderator_paths = [path for (_, path), row in MATRIX.items() if row.auth == MODERATOR]
    assert moderator_paths and all("conversationId}" not in path for path in moderator_paths)
    assert all(path.startswith("/api/moderation/") for path in moderator_paths)


OTHER_ROWS = sorted(route for route, row in MATRIX.items() if row.other is not None)


@pytest.mark.parametrize("route", OTHER_ROWS, ids=" ".join)
def test_route_answers_the_other_participant(api: Api, world: World, route: tuple[str, str]) -> None:
    row = MATRIX[route]
    other = {"alice": "bob", "bob": "alice"}[row.participant]
    body = row.body(world) if row.body else None

    response = api.call(route[0], row.path(world), other, body)

    assert outcome(response) == row.other


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(lambda user, w: "/api/messages", id="GET /api/messages"),
        pytest.param(lambda user, w: "/api/messages/conversations", id="GET /api/messages/conversations"),
        pytest.param(lambda user, w: f"/api/messages/sync?since={w.sync_cursors[user]}", id="GET /api/messages/sync"),
    ],
)
def test_a_strangers_own_lists_show_nothing_of_other_users(
    api: Api, world: World, path: Callable[[str, World], str]
) -> None:
    digest = world.conversation_id.removeprefix("conv_")  # in the conversation's id and in its messages' ids
    seen = {}
    for user in ("bob", STRANGER_USER):
        response = api.call("GET", path(user, world), user)
        assert response.status == 200, response.body
        text = json.dumps(response.body)
        seen[user] = (digest in text, "alice" in text)

    assert seen == {"bob": (True, True), STRANGER_USER: (False, False)}


# --- API3: properties a caller may neither see nor set ---------------------------------------------

# Stored attributes that are the server's business: read state bookkeeping, rooms and presence sets,
# S3 keys, idempotency hashes. No response may carry them, under either spelling.
INTERNAL_PROPERTIES = {
    "version",  # a conversation's (a message's version is public: clients keep the highest)
    "replySeqs",
    "watching",
    "participantStates",
    "room",
    "messageCount",
    "recipientReceipt",
    "connectionIds",
    "watcherIds",
    "presenceExpiresAt",
    "claimName",
    "email",  # the platform's copy, for digests only (issue 18)
    "digestWindow",
    "claimPicture",
    "requestHash",
    "key",
    "displayKey",
    "thumbnailKey",
    "uploaderId",
    "declaredSize",
    "participantSettings",  # both participants' settings: each sees only their own, as ``settings``
    "folderAt",
    "awaiting",
    "isCreator",
    "blockedId",
}


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def is_message(value: dict[str, Any]) -> bool:
    return {"senderId", "recipientId", "sentAt"} <= set(value)


def keys_of(value: Any) -> set[str]:
    """Every object key anywhere in a JSON document (but a message's public ``version``)."""
    if isinstance(value, dict):
        own = set(value) - {"version"} if is_message(value) else set(value)
        return own | {key for item in value.values() for key in keys_of(item)}
    if isinstance(value, list):
        return {key for item in value for key in keys_of(item)}
    return set()


def test_participants_never_see_internal_properties(api: Api, world: World, sockets: Sockets) -> None:
    alice = sockets.connect("alice")
    sockets.send(alice, "join_conversation", conversationId=world.conversation_id)
    reads = [
        ("bob", "GET", f"/api/messages?conversationId={world.conversation_id}"),
        ("alice", "GET", "/api/messages"),
        ("alice", "GET", "/api/messages/conversations"),
        ("bob", "GET", "/api/messages/pattern/p1"),
        ("alice", "GET", f"/api/messages/sync?since={world.sync_cursors['alice']}"),
        ("alice", "GET", f"/api/attachments/{world.sent_attachment_id}"),
        ("alice", "PUT", f"/api/messages/{world.message_id}/read"),
    ]
    documents = []
    for user, method, path in reads:
        response = api.call(method, path, user, {} if method == "PUT" else None)
        assert response.status == 200, (path, response.body)
        documents.append(response.body)
    documents += [frame["data"] for frame in sockets.frames(alice)]  # the attachment message, pushed

    exposed = {key for document in documents for key in keys_of(document)}

    assert "attachmentUrl" in exposed and "participants" in exposed  # the documents are the full ones
    assert exposed & (INTERNAL_PROPERTIES | {snake(name) for name in INTERNAL_PROPERTIES}) == set()


MASS_ASSIGNMENT = [
    ("POST", "/api/messages", "senderId", "alice"),
    ("POST", "/api/messages", "id", MISSING_MESSAGE),
    ("POST", "/api/messages", "sentAt", "2000-01-01T00:00:00.000Z"),
    ("POST", "/api/messages", "isRead", True),
    ("POST", "/api/attachments", "key", f"conversations/{MISSING_CONVERSATION}/att_x/original"),
    ("POST", "/api/attachments", "uploaderId", "alice"),
    ("PUT", "/api/messages/{messageId}/read", "readerId", "alice"),
    ("PUT", "/api/messages/{messageId}/read", "readAt", "2000-01-01T00:00:00.000Z"),
    ("PATCH", "/api/messages/{messageId}", "senderId", "alice"),
    ("PATCH", "/api/messages/{messageId}", "version", 9),
    ("PATCH", "/api/messages/{messageId}", "editedAt", "2000-01-01T00:00:00.000Z"),
    ("PATCH", "/api/messages/{messageId}", "reactions", []),
    ("POST", "/api/messages", "reactions", [{"emoji": "🧶", "count": 9, "userIds": ["alice"]}]),
    ("POST", "/api/messages", "isDeleted", True),
    ("PUT", "/api/messages/conversations/{conversationId}/settings", "isMuted", True),
    ("PUT", "/api/messages/conversations/{conversationId}/settings", "request", False),
    ("POST", "/api/messages/{messageId}/report", "status", "resolved"),
    ("POST", "/api/messages/{messageId}/report", "reporterId", "bob"),
    ("PUT", "/api/push/subscriptions", "userId", "alice"),
    ("PUT", "/api/push/subscriptions", "id", MISSING_PUSH_SUBSCRIPTION),
]


def test_server_owned_properties_cannot_be_set(api: Api, world: World) -> None:
    before = (world.message_count(), Attachment.count())
    observed = {}
    for method, route, field, value in MASS_ASSIGNMENT:
        row = MATRIX[(method, route)]
        body = {**(row.body(world) if row.body else {}), field: value}
        response = api.call(method, row.path(world), row.participant, body)
        details = {d["field"] for d in response.body["error"].get("details", [])} if response.status >= 400 else set()
        observed[(route, field)] = (*outcome(response), field in details)

    assert observed == {(route, field): (400, "invalid_request", True) for _, route, field, _ in MASS_ASSIGNMENT}
    assert (world.message_count(), Attachment.count()) == before


# --- a stranger's probes look exactly like missing ids ------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """A request about one object id: the real one of alice and bob's, or one that does not exist."""

    method: str
    path: Callable[[str], str]
    real: Callable[[World], str]
    missing: str
    body: Callable[[str], Any] | None = None


PROBES = [
    pytest.param(
        Probe("GET", lambda i: f"/api/messages?conversationId={i}", lambda w: w.conversation_id, MISSING_CONVERSATION),
        id="conversation detail",
    ),
    pytest.param(
        Probe(
            "GET",
            lambda i: f"/api/messages?conversationId={i}&before={message_id_for(i, 2)}",
            lambda w: w.conversation_id,
            MISSING_CONVERSATION,
        ),
        id="conversation history page",
    ),
    pytest.param(
        Probe(
            "POST",
            lambda i: "/api/messages",
            lambda w: w.conversation_id,
            MISSING_CONVERSATION,
            lambda i: {"conversationId": i, "content": "intrusion", "clientMessageId": "probe-1"},
        ),
        id="send into a conversation",
    ),
    pytest.param(
        Probe(
            "PUT",
            lambda i: f"/api/messages/{i}/read",
            lambda w: w.message_id,
            MISSING_MESSAGE,
            lambda i: {"markConversation": False},
        ),
        id="mark a message read",
    ),
    pytest.param(
        Probe(
            "PUT",
            lambda i: f"/api/messages/conversations/{i}/settings",
            lambda w: w.conversation_id,
            MISSING_CONVERSATION,
            lambda i: {"archived": True, "mutedUntil": "2999-01-01T00:00:00Z"},
        ),
        id="change the settings of a conversation",
    ),
    pytest.param(
        Probe(
            "PUT",
            lambda i: f"/api/messages/{i}/read",
            lambda w: w.message_id,
            MISSING_MESSAGE,
            lambda i: {"markConversation": True},
        ),
        id="mark a conversation read",
    ),
    pytest.param(
        Probe(
            "PUT",
            lambda i: f"/api/messages/{i}/read",
            lambda w: message_id_for(w.conversation_id, 99),  # a real conversation, a message it does not have
            MISSING_MESSAGE,
            lambda i: {"markConversation": False},
        ),
        id="mark read past the end of a real conversation",
    ),
    pytest.param(
        Probe(
            "PATCH",
            lambda i: f"/api/messages/{i}",
            lambda w: w.message_id,
            MISSING_MESSAGE,
            lambda i: {"content": "intrusion"},
        ),
        id="edit a message",
    ),
    pytest.param(
        Probe(
            "PATCH",
            lambda i: f"/api/messages/{i}",
            lambda w: message_id_for(w.conversation_id, 99),
            MISSING_MESSAGE,
            lambda i: {"content": "intrusion"},
        ),
        id="edit past the end of a real conversation",
    ),
    pytest.param(
        Probe("DELETE", lambda i: f"/api/messages/{i}", lambda w: w.message_id, MISSING_MESSAGE),
        id="delete a message",
    ),
    pytest.param(
        Probe(
            "GET",
            lambda i: f"/api/messages/search?q=hook&conversationId={i}",
            lambda w: w.conversation_id,
            MISSING_CONVERSATION,
        ),
        id="search a conversation",
    ),
    pytest.param(
        Probe("PUT", lambda i: f"/api/messages/{i}/reactions/{YARN}", lambda w: w.message_id, MISSING_MESSAGE),
        id="react to a message",
    ),
    pytest.param(
        Probe("DELETE", lambda i: f"/api/messages/{i}/reactions/{YARN}", lambda w: w.message_id, MISSING_MESSAGE),
        id="take back a reaction",
    ),
    pytest.param(
        Probe(
            "POST",
            lambda i: "/api/attachments",
            lambda w: w.conversation_id,
            MISSING_CONVERSATION,
            lambda i: pdf_upload_request(i),
        ),
        id="upload into a conversation",
    ),
    pytest.param(
        Probe("GET", lambda i: f"/api/attachments/{i}", lambda w: w.pending_attachment_id, MISSING_ATTACHMENT),
        id="an upload not sent yet",
    ),
    pytest.param(
        Probe("GET", lambda i: f"/api/attachments/{i}", lambda w: w.sent_attachment_id, MISSING_ATTACHMENT),
        id="an attachment of a message",
    ),
    pytest.param(
        Probe(
            "POST",
            lambda i: f"/api/messages/{i}/report",
            lambda w: w.message_id,
            MISSING_MESSAGE,
            lambda i: {"reason": "spam"},
        ),
        id="report a message",
    ),
    pytest.param(
        Probe(
            "DELETE",
            lambda i: f"/api/push/subscriptions/{i}",
            lambda w: w.push_subscription_id,
            MISSING_PUSH_SUBSCRIPTION,
        ),
        id="remove a push subscription",
    ),
]


@pytest.mark.parametrize("probe", PROBES)
def test_a_strangers_probe_of_a_real_id_looks_like_a_missing_id(api: Api, world: World, probe: Probe) -> None:
    def ask(object_id: str) -> Response:
        body = probe.body(object_id) if probe.body else None
        return api.call(probe.method, probe.path(object_id), STRANGER_USER, body)

    real_id = probe.real(world)
    before = world.message_count()

    real, missing = ask(real_id), ask(probe.missing)

    assert outcome(missing) == NOT_FOUND
    assert (real.status, real.body) == (missing.status, missing.body)
    assert world.message_count() == before


def test_who_may_read_an_attachment(api: Api, world: World) -> None:
    readers = {
        (state, user): outcome(api.call("GET", f"/api/attachments/{attachment_id}", user))
        for state, attachment_id in (("sent", world.sent_attachment_id), ("pending", world.pending_attachment_id))
        for user in ("alice", "bob", STRANGER_USER, "dave")
    }

    assert readers == {
        ("sent", "alice"): OK,  # a participant, once it is part of a message
        ("sent", "bob"): OK,
        ("sent", STRANGER_USER): NOT_FOUND,
        ("sent", "dave"): NOT_FOUND,
        ("pending", "alice"): NOT_FOUND,  # before it is sent only its uploader sees it
        ("pending", "bob"): OK,
        ("pending", STRANGER_USER): NOT_FOUND,
        ("pending", "dave"): NOT_FOUND,
    }


# --- the socket matrix ---------------------------------------------------------------------------------


def render(frame: dict[str, Any]) -> str:
    """A server frame's event name; an error shows its code (``error:not_found``)."""
    return f"error:{frame['data']['code']}" if frame["event"] == "error" else frame["event"]


def rendered(sockets: Sockets, connection_id: str) -> list[str]:
    """What a connection received, one name a frame."""
    return [render(frame) for frame in sockets.frames(connection_id)]


@dataclass(frozen=True)
class SocketRow:
    """One action: its fields for a conversation and message id, and who gets what when each caller sends it."""

    fields: Callable[[str, str], dict[str, Any]]  # (conversation id, message id) -> frame fields
    participant: str  # who may do it: bob, or alice for reading bob's message
    answer: list[str]  # what the participant's connection gets
    witness: list[str]  # what the other participant's connection (joined to the room) gets
    stranger: list[str]  # what carol's connection gets (for a real and for a missing id alike)
    joined_first: bool = False  # the participant's connection joins the room before
    other: list[str] | None = None  # what the other participant's connection gets when it sends the action
    limit: str = ""  # the per-user rate limit that counts it (settings.rate_limits)


def in_conversation(conversation_id: str, message_id: str) -> dict[str, Any]:
    return {"conversationId": conversation_id}


REFUSED = ["error:not_found"]

SOCKET_MATRIX: dict[str, SocketRow] = {
    "ping": SocketRow(lambda c, m: {}, "bob", ["pong"], [], ["pong"], limit="ping"),
    "join_conversation": SocketRow(in_conversation, "bob", ["conversation_joined"], [], REFUSED, limit="room"),
    "leave_conversation": SocketRow(
        in_conversation, "bob", ["conversation_left"], [], REFUSED, joined_first=True, limit="room"
    ),
    "new_message": SocketRow(
        lambda c, m: {"conversationId": c, "content": "hello over the socket"},
        "bob",
        ["message_sent"],
        ["message_received", "new_message_notification"],
        REFUSED,
        limit="send",
    ),
    "message_read": SocketRow(
        lambda c, m: {"messageId": m}, "alice", ["read_updated"], ["message_read_update"], REFUSED, limit="read"
    ),
    "typing_start": SocketRow(in_conversation, "bob", [], ["user_typing"], REFUSED, limit="typing"),
    "typing_stop": SocketRow(in_conversation, "bob", [], ["user_stopped_typing"], REFUSED, limit="typing"),
    "edit_message": SocketRow(
        lambda c, m: {"messageId": m, "content": "which hook for the border, please?"},
        "bob",
        ["message_edited"],
        ["message_updated"],
        REFUSED,
        other=["error:not_sender"],
        limit="edit",
    ),
    "delete_message": SocketRow(
        lambda c, m: {"messageId": m},
        "bob",
        ["message_removed"],
        ["message_deleted"],
        REFUSED,
        other=["error:not_sender"],
        limit="edit",
    ),
    "add_reaction": SocketRow(
        lambda c, m: {"messageId": m, "emoji": "🧶"},
        "alice",
        ["reaction_added"],
        ["reaction_updated"],
        REFUSED,
        other=["reaction_added"],
        limit="reaction",
    ),
    # Nothing to take back: idempotent, and nobody is told about a change that did not happen.
    "remove_reaction": SocketRow(
        lambda c, m: {"messageId": m, "emoji": "🧶"},
        "alice",
        ["reaction_removed"],
        [],
        REFUSED,
        other=["reaction_removed"],
        limit="reaction",
    ),
    # Users one shares no conversation with are ignored: a stranger's watch is answered, and watches nobody.
    "watch_presence": SocketRow(
        lambda c, m: {"userIds": ["alice", "bob"]},
        "bob",
        ["presence_watched"],
        [],
        ["presence_watched"],
        other=["presence_watched"],
        limit="presence",
    ),
}
SOCKET_ACTIONS = sorted({*ACTIONS, "ping"})


def other_participant(user: str) -> str:
    return {"alice": "bob", "bob": "alice"}[user]


def socket_row(action: str) -> SocketRow:
    row = SOCKET_MATRIX.get(action)
    if row is None:
        pytest.fail(f"socket action {action!r} has no row in SOCKET_MATRIX")
    return row


@pytest.mark.parametrize("action", SOCKET_ACTIONS)
def test_socket_action_answers_participant_and_stranger(world: World, sockets: Sockets, action: str) -> None:
    row = socket_row(action)
    witness = sockets.connect(other_participant(row.participant))
    sockets.send(witness, "join_conversation", conversationId=world.conversation_id)
    actor, stranger = sockets.connect(row.participant), sockets.connect(STRANGER_USER)
    if row.joined_first:
        sockets.send(actor, "join_conversation", conversationId=world.conversation_id)
    sockets.clear()
    before = world.message_count()

    sockets.send(stranger, action, **row.fields(world.conversation_id, world.message_id))
    sockets.send(stranger, action, **row.fields(MISSING_CONVERSATION, MISSING_MESSAGE))
    strangers_view = sockets.frames(stranger)
    seen_after_stranger = rendered(sockets, witness)
    sockets.send(actor, action, **row.fields(world.conversation_id, world.message_id))

    assert rendered(sockets, stranger) == row.stranger * 2
    assert strangers_view[0] == strangers_view[1], "a real id must be refused exactly like a missing one"
    assert all(f["data"]["action"] == action for f in strangers_view if f["event"] == "error")
    assert seen_after_stranger == []
    assert rendered(sockets, actor) == row.answer
    assert rendered(sockets, witness) == row.witness
    assert world.message_count() == before + (1 if action == "new_message" else 0)


@pytest.mark.parametrize("action", sorted(a for a, row in SOCKET_MATRIX.items() if row.other is not None))
def test_socket_action_answers_the_other_participant(world: World, sockets: Sockets, action: str) -> None:
    row = socket_row(action)
    other = sockets.connect(other_participant(row.participant))
    sockets.clear()

    sockets.send(other, action, **row.fields(world.conversation_id, world.message_id))

    assert rendered(sockets, other) == row.other


@pytest.fixture
def exhausted(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], None]]:
    """``exhausted(user, limit)``: that limit is on (one per hour) and the user has used it up."""

    def use_up(user: str, limit: str) -> None:
        monkeypatch.setenv(f"RATE_LIMIT_{limit.upper()}", "1/3600")
        get_settings.cache_clear()
        rate_limits.spend(user, limit)

    yield use_up
    get_settings.cache_clear()


def stored_state(world: World, connection_id: str) -> tuple[Any, ...]:
    """What a socket action may change: messages, bob's message (its version grows with every change), alice's
    unread total, what the connection joined and watches."""
    connection = Connection.get(connection_id, consistent_read=True)
    stored = parse_message_id(world.message_id)
    assert stored is not None
    message = Message.get(*stored, consistent_read=True)
    return (
        world.message_count(),
        message.version,
        UserProfile.get("alice", consistent_read=True).total_unread,
        connection.rooms or set(),
        connection.watching or set(),
    )


@pytest.mark.parametrize("action", SOCKET_ACTIONS)
def test_socket_action_over_its_limit_is_refused_and_changes_nothing(
    world: World, sockets: Sockets, exhausted: Callable[[str, str], None], action: str
) -> None:
    row = socket_row(action)
    witness = sockets.connect(other_participant(row.participant))
    sockets.send(witness, "join_conversation", conversationId=world.conversation_id)
    actor = sockets.connect(row.participant)
    if row.joined_first:
        sockets.send(actor, "join_conversation", conversationId=world.conversation_id)
    sockets.clear()
    before = stored_state(world, actor)
    exhausted(row.participant, row.limit)

    sockets.send(actor, action, **row.fields(world.conversation_id, world.message_id))

    assert rendered(sockets, actor) == ["error:rate_limited"]
    [error] = sockets.events(actor, "error")
    assert error["action"] == action and error["details"]["retryAfter"] >= 1
    assert rendered(sockets, witness) == []
    assert stored_state(world, actor) == before


@pytest.mark.parametrize("action", SOCKET_ACTIONS)
def test_socket_action_after_the_token_expired_is_refused_and_closes_the_connection(
    world: World, sockets: Sockets, action: str
) -> None:
    row = socket_row(action)
    witness = sockets.connect(other_participant(row.participant))
    sockets.send(witness, "join_conversation", conversationId=world.conversation_id)
    actor = sockets.connect(row.participant)
    if row.joined_first:
        sockets.send(actor, "join_conversation", conversationId=world.conversation_id)
    sockets.clear()
    Connection(actor).update(actions=[Connection.token_expires_at.set("2000-01-01T00:00:00.000Z")])
    before = stored_state(world, actor)

    sockets.send(actor, action, **row.fields(world.conversation_id, world.message_id))

    assert rendered(sockets, actor) == ["error:token_expired"]
    assert sockets.was_closed(actor)
    assert rendered(sockets, witness) == []
    assert stored_state(world, actor) == before


# --- $connect and connections ------------------------------------------------------------------------


def test_connect_answers_each_kind_of_caller(marketplace: Api, sockets: Sockets) -> None:
    tokens = {
        PARTICIPANT: token_for("bob"),
        STRANGER: token_for(STRANGER_USER),
        ANONYMOUS: None,
        EXPIRED: expired_token("bob"),
        SERVICE_ROLE: token_for("platform", role="service"),
    }

    observed = {kind: sockets.connect_status(token) for kind, token in tokens.items()}

    assert observed == {PARTICIPANT: 200, STRANGER: 200, ANONYMOUS: 401, EXPIRED: 401, SERVICE_ROLE: 403}
    assert sorted(c.user_id for c in Connection.scan()) == ["bob", STRANGER_USER]


def test_connect_refuses_the_moderator_role(marketplace: Api, sockets: Sockets) -> None:
    assert sockets.connect_status(token_for("mod1", role="moderator")) == 403
    assert list(Connection.scan()) == []


def test_connect_over_the_connection_cap_is_refused_for_that_user_only(
    marketplace: Api, sockets: Sockets, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_CONNECTIONS_PER_USER", "2")
    get_settings.cache_clear()
    try:
        for _ in range(2):
            sockets.connect("bob")
        observed = {user: sockets.connect_status(token_for(user)) for user in ("bob", STRANGER_USER)}
    finally:
        get_settings.cache_clear()

    assert observed == {"bob": 429, STRANGER_USER: 200}


def dead_connection(sockets: Sockets, state: str, user: str, conversation_id: str) -> str:
    """A connection id a frame may still arrive on, though no live connection is stored under it."""
    if state == "never stored":
        return f"ghost-{user}="
    connection_id = sockets.connect(user)
    sockets.send(connection_id, "join_conversation", conversationId=conversation_id)
    if state == "closed":
        sockets.disconnect(connection_id)
    else:  # its TTL passed; DynamoDB has not swept the item yet
        past = datetime(2000, 1, 1, tzinfo=UTC)
        Connection(connection_id).update(actions=[Connection.expires_at.set(past)])
    return connection_id


DEAD_STATES = ("never stored", "closed", "expired")


@pytest.mark.parametrize("state", DEAD_STATES)
def test_frames_on_a_connection_that_is_not_live_are_refused(world: World, sockets: Sockets, state: str) -> None:
    witnesses = [sockets.connect(user) for user in ("alice", "bob")]
    for witness in witnesses:
        sockets.send(witness, "join_conversation", conversationId=world.conversation_id)
    dead = {user: dead_connection(sockets, state, user, world.conversation_id) for user in ("alice", "bob")}
    sockets.clear()
    before = (world.message_count(), UserProfile.get("alice").total_unread)

    for action in sorted(ACTIONS):  # each one as its participant would send it on a live connection
        row = socket_row(action)
        sockets.send(dead[row.participant], action, **row.fields(world.conversation_id, world.message_id))

    answers: dict[str, list[str]] = {}
    for connection_id in dead.values():
        for frame in sockets.frames(connection_id):
            answers.setdefault(frame["data"].get("action"), []).append(render(frame))
    assert answers == dict.fromkeys(sorted(ACTIONS), REFUSED)
    assert [rendered(sockets, witness) for witness in witnesses] == [[], []]
    assert (world.message_count(), UserProfile.get("alice").total_unread) == before  # nothing sent, nothing read


def test_a_ping_on_a_connection_that_is_not_live_is_refused(world: World, sockets: Sockets) -> None:
    dead = {state: dead_connection(sockets, state, "bob", world.conversation_id) for state in DEAD_STATES}
    sockets.clear()

    for connection_id in dead.values():
        sockets.send(connection_id, "ping")

    assert {state: rendered(sockets, cid) for state, cid in dead.items()} == dict.fromkeys(DEAD_STATES, REFUSED)


def test_presence_reaches_only_those_in_a_conversation_with_that_user(
    marketplace: Api, world: World, sockets: Sockets
) -> None:
    their_own = marketplace.send(STRANGER_USER, recipientId="dave", content="hi dave").body["conversation"]["id"]
    alice = sockets.connect("alice")
    sockets.send(alice, "join_conversation", conversationId=world.conversation_id)
    carol, dave = sockets.connect(STRANGER_USER), sockets.connect("dave")
    sockets.send(carol, "join_conversation", conversationId=world.conversation_id)  # refused: not hers
    for connection_id in (carol, dave):
        sockets.send(connection_id, "join_conversation", conversationId=their_own)
    sockets.clear()

    bob = sockets.connect("bob")
    sockets.disconnect(bob)

    assert [(u["userId"], u["online"]) for u in sockets.events(alice, "presence_update")] == [
        ("bob", True),
        ("bob", False),
    ]
    assert rendered(sockets, carol) == []
    assert rendered(sockets, dave) == []
    assert carol not in parse_room(Conversation.get(world.conversation_id).room)
    assert carol not in parse_connections(UserProfile.get("bob").watcher_ids)
