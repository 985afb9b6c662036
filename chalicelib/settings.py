"""Every setting, read once from environment variables, with local defaults.

Nothing else in the package reads ``os.environ``: change a setting here and everything follows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

# Documented development secret: 32+ bytes so PyJWT's minimum key length holds. Public, so only the local stack
# and the tests may ever use it: anywhere else a missing secret is a ConfigurationError (see ``_load``).
DEV_JWT_SECRET = "crochet-messaging-dev-secret-change-me-0123456789"  # nosec B105 # public on purpose, local only
# Stages that run on this machine (``make dev``, the tests): the only ones the development secret is allowed in.
LOCAL_STAGES = frozenset({"local", "test"})


class ConfigurationError(RuntimeError):
    """The environment cannot run the service safely; raised at startup (cold start), never per request."""


# The browsers' push services (RFC 8030): Chrome, Edge's Chromium, Opera and Samsung Internet (FCM), Firefox
# (Mozilla autopush), Edge and Windows (WNS), Safari on macOS and iOS (Apple). ``*.`` matches any subdomain.
DEFAULT_PUSH_ALLOWED_HOSTS = (
    "fcm.googleapis.com,updates.push.services.mozilla.com,*.notify.windows.com,web.push.apple.com"
)

# The reactions offered by default: a chat's usual dozen, with yarn for a crochet marketplace.
DEFAULT_REACTION_EMOJI = "👍,❤️,😂,😮,😢,🙏,🎉,🔥,👏,😍,✨,🧶"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _rate(raw: str | None, default: str) -> tuple[int, int]:
    """``"10/2"``: 10 requests per 2-second window."""
    count, _, seconds = (raw or default).partition("/")
    return int(count), max(int(seconds or 1), 1)


def _list(raw: str | None, default: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in (raw if raw not in (None, "") else default).split(",") if item.strip())


@dataclass(frozen=True)
class Settings:
    """Runtime configuration of the service."""

    stage: str
    region: str
    table_prefix: str
    jwt_secret: str | None
    jwt_jwks_url: str | None
    jwt_issuer: str | None
    jwt_audience: str | None
    jwt_leeway_seconds: int
    cursor_secret: str
    message_max_chars: int
    message_edit_window_seconds: int
    reaction_emoji: tuple[str, ...]
    message_max_reactions: int
    presence_watch_max: int
    conversations_page_max: int
    conversations_page_default: int
    search_page_max: int
    search_page_default: int
    messages_page_max: int
    messages_page_default: int
    idempotency_ttl_seconds: int
    send_max_attempts: int
    websocket_management_url: str | None
    websocket_api_id: str | None
    websocket_stage: str | None
    connection_ttl_seconds: int
    connect_grace_seconds: int  # a connection this young that a post calls gone is kept ($connect may be running)
    max_rooms_per_connection: int
    max_connections_per_user: int
    max_frame_bytes: int
    typing_timeout_ms: int
    feed_ttl_seconds: int
    sync_page_max: int
    sync_page_default: int
    sync_lookback_ms: int
    page_max_bytes: int
    attachments_bucket: str
    allowed_origins: tuple[str, ...]
    image_types: tuple[str, ...]
    file_types: tuple[str, ...]
    image_max_bytes: int
    file_max_bytes: int
    upload_url_ttl_seconds: int
    download_url_ttl_seconds: int
    thumbnail_max_px: int
    rate_limits: dict[str, tuple[int, int]]  # action -> (requests, per seconds)
    image_max_pixels: int  # one frame (domain.images.ImageLimits)
    image_max_frames: int  # an animated GIF's frames
    image_max_animation_pixels: int  # frames x width x height of an animated GIF
    upload_failures_queue: str  # SQS queue of uploads whose processing failed (on_upload's dead-letter queue)
    # Offline notifications (issue 18): email digests and webhooks to the platform.
    notify_app_url: str  # the web app: digest links are NOTIFY_APP_URL + /messages/<conversationId>
    notify_api_url: str  # this API's public base URL: the unsubscribe link is NOTIFY_API_URL + /api/notifications/...
    notify_email_from: str  # the digests' From (an SES-verified identity)
    notify_email_delay_seconds: int | None  # overrides every user's delay (dev, tests)
    digest_queue: str  # SQS queue of digest windows (delayed messages) -> on_email_digest
    webhook_queue: str  # SQS queue of webhook events -> on_webhook
    webhook_url: str | None  # where events are POSTed (None: no webhooks)
    webhook_secret: str | None  # comma-separated signing secrets (the first is the current one)
    webhook_secret_ssm_parameter: str | None  # the secrets as an SSM SecureString (read once by the sender)
    webhook_retry_seconds: tuple[int, ...]  # waits between attempts; then the dead-letter queue
    webhook_timeout_seconds: int
    # The messages table's stream, which on_message_stream consumes (infrastructure/deploy.py records it from the
    # infrastructure stack; locally the dev stack's poller reads the table's own, whatever this says).
    messages_stream_arn: str
    stream_failures_queue: str  # SQS queue the stream's event source sends what it gave up on (on-failure destination)
    # Moderation (issue 16).
    moderation_access_days: int = 30  # a resolved report's conversation stays readable this long
    moderation_context_messages: int = 10  # messages shown on each side of a reported one
    moderation_page_max: int = 50  # reports and audit entries per page
    suspension_max_days: int = 365
    suspension_refresh_seconds: int = 10  # how stale a container's list of suspended users may be (REST)
    # Web Push (issue 18): where subscriptions may point, the queue of pushes, the VAPID key and the requests.
    push_allowed_hosts: tuple[str, ...] = ()
    push_insecure_hosts: tuple[str, ...] = ()
    push_queue: str = ""
    vapid_private_key: str | None = None
    vapid_private_key_ssm_parameter: str | None = None
    vapid_subject: str = ""
    push_ttl_seconds: int = 86400
    push_max_subscriptions: int = 10
    push_timeout_seconds: int = 10
    local_stack: bool = False  # is_local() when the settings were read (the tests' client swaps the environment)

    def table_name(self, short_name: str) -> str:
        """The stage's DynamoDB table name for a table's short name (``messages`` …)."""
        return f"{self.table_prefix}{short_name}"


def _ssm_secret(name: str, region: str) -> str:
    """A SecureString parameter's value: one GetParameter per cold start (boto3 comes with Lambda)."""
    import boto3

    response = boto3.client("ssm", region_name=region).get_parameter(Name=name, WithDecryption=True)
    return str(response["Parameter"]["Value"])


def is_local(env: Mapping[str, str]) -> bool:
    """True on this machine only: a local stage (``make dev``, the tests) and not inside Lambda."""
    return env.get("STAGE", "local") in LOCAL_STAGES and not env.get("AWS_LAMBDA_FUNCTION_NAME")


def _secrets(env: Mapping[str, str], region: str) -> tuple[str | None, str]:
    """The HS256 key (None in JWKS mode, or while Chalice's CLI imports the app) and the cursor key.

    Fails closed: outside the local stack a missing secret is a ConfigurationError, never the public
    development secret, and JWKS mode needs ``JWT_AUDIENCE`` (else tokens minted for any other client of the
    same identity provider would be accepted) and its own ``CURSOR_SECRET``.
    """
    stage = env.get("STAGE", "local")
    ssm_parameter = env.get("JWT_SECRET_SSM_PARAMETER") or None
    jwks_url = env.get("JWT_JWKS_URL") or None
    # `chalice deploy` / `chalice package` import app.py with the stage's variables (and AWS_CHALICE_CLI_MODE
    # set): no secret is fetched then, but the stage must still name one.
    packaging = bool(env.get("AWS_CHALICE_CLI_MODE"))
    jwt_secret = env.get("JWT_SECRET") or None
    if jwks_url and not env.get("JWT_AUDIENCE"):
        raise ConfigurationError(
            "JWT_JWKS_URL is set without JWT_AUDIENCE: set JWT_AUDIENCE to this API's client id / audience, or "
            "tokens the identity provider issued to any other application would be accepted"
        )
    if jwt_secret is None and ssm_parameter is None and jwks_url is None:
        if not is_local(env):
            raise ConfigurationError(
                f"stage {stage!r} names no JWT secret: set JWT_SECRET_SSM_PARAMETER (an SSM SecureString), "
                "JWT_SECRET or JWT_JWKS_URL; the development secret is only for the local stack"
            )
        jwt_secret = DEV_JWT_SECRET
    elif jwt_secret is None and ssm_parameter and not packaging:
        jwt_secret = _ssm_secret(ssm_parameter, region)
    if jwt_secret == DEV_JWT_SECRET and not is_local(env):
        raise ConfigurationError(f"stage {stage!r} is configured with the public development JWT secret")
    cursor_secret = env.get("CURSOR_SECRET") or jwt_secret or ""
    if not cursor_secret and not (ssm_parameter and packaging):
        raise ConfigurationError("CURSOR_SECRET must be set when JWT_SECRET is not (JWKS mode)")
    return jwt_secret, cursor_secret


def _load() -> Settings:
    env = os.environ
    stage = env.get("STAGE", "local")
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    jwt_secret, cursor_secret = _secrets(env, region)
    return Settings(
        stage=stage,
        region=region,
        table_prefix=env.get("TABLE_PREFIX", f"crochet-messaging-{stage}-"),
        jwt_secret=jwt_secret,
        jwt_jwks_url=env.get("JWT_JWKS_URL") or None,
        jwt_issuer=env.get("JWT_ISSUER") or None,
        jwt_audience=env.get("JWT_AUDIENCE") or None,
        jwt_leeway_seconds=_int("JWT_LEEWAY_SECONDS", 30),
        cursor_secret=cursor_secret,
        message_max_chars=_int("MESSAGE_MAX_CHARS", 5000),
        # WhatsApp's 15 minutes; Gitter allows 10, Zulip and Rocket.Chat make it configurable.
        message_edit_window_seconds=_int("MESSAGE_EDIT_WINDOW_SECONDS", 15 * 60),
        reaction_emoji=_list(env.get("REACTION_EMOJI"), DEFAULT_REACTION_EMOJI),
        # Distinct emoji on one message (Stream and Sendbird allow around 20 kinds).
        message_max_reactions=_int("MESSAGE_MAX_REACTIONS", 20),
        # A watch list is replaced in one transaction: 1 connection + at most 2 x 49 profiles + the rate counter
        # <= 100 items.
        presence_watch_max=min(_int("PRESENCE_WATCH_MAX", 49), 49),
        conversations_page_max=_int("CONVERSATIONS_PAGE_MAX", 30),
        conversations_page_default=_int("CONVERSATIONS_PAGE_DEFAULT", 20),
        # Results of one search page; the index Query reads at most 50 items a page (services/search.py).
        search_page_max=min(_int("SEARCH_PAGE_MAX", 50), 50),
        search_page_default=_int("SEARCH_PAGE_DEFAULT", 20),
        messages_page_max=_int("MESSAGES_PAGE_MAX", 100),
        messages_page_default=_int("MESSAGES_PAGE_DEFAULT", 50),
        idempotency_ttl_seconds=_int("IDEMPOTENCY_TTL_SECONDS", 24 * 3600),
        send_max_attempts=_int("SEND_MAX_ATTEMPTS", 8),
        websocket_management_url=env.get("WEBSOCKET_MANAGEMENT_URL") or None,
        websocket_api_id=env.get("WEBSOCKET_API_ID") or None,
        websocket_stage=env.get("WEBSOCKET_STAGE") or None,
        # API Gateway closes a connection after 2 hours at the latest; a little slack for clock skew.
        connection_ttl_seconds=_int("CONNECTION_TTL_SECONDS", 2 * 3600 + 300),
        # API Gateway answers 410 to posts until $connect returns (its integration timeout is 29 s).
        connect_grace_seconds=_int("CONNECT_GRACE_SECONDS", 30),
        max_rooms_per_connection=_int("MAX_ROOMS_PER_CONNECTION", 20),
        # Tabs and devices of one user at once; each one costs a post per event that reaches the user. 0: no cap.
        max_connections_per_user=_int("MAX_CONNECTIONS_PER_USER", 10),
        max_frame_bytes=_int("MAX_FRAME_BYTES", 128 * 1024),
        typing_timeout_ms=_int("TYPING_TIMEOUT_MS", 2000),
        feed_ttl_seconds=_int("FEED_TTL_SECONDS", 30 * 24 * 3600),
        sync_page_max=_int("SYNC_PAGE_MAX", 50),
        sync_page_default=_int("SYNC_PAGE_DEFAULT", 50),
        sync_lookback_ms=_int("SYNC_LOOKBACK_MS", 5000),
        # A history or sync page stops growing past this much JSON: with the escaping Lambda adds to the body,
        # the response stays under Lambda's 6 MB payload limit (a 502 otherwise).
        page_max_bytes=_int("PAGE_MAX_BYTES", 4_000_000),
        attachments_bucket=env.get("ATTACHMENTS_BUCKET", f"crochet-messaging-{stage}-attachments"),
        allowed_origins=_list(
            # A frontend's dev server on port 3000 is opened as localhost or as 127.0.0.1: two origins to a browser.
            env.get("ALLOWED_ORIGINS"),
            "http://localhost:3000,http://127.0.0.1:3000,http://127.0.0.1:8000",
        ),
        image_types=_list(env.get("ATTACHMENT_IMAGE_TYPES"), "image/jpeg,image/png,image/webp,image/gif,image/heic"),
        file_types=_list(env.get("ATTACHMENT_FILE_TYPES"), "application/pdf,text/plain,application/zip"),
        image_max_bytes=_int("ATTACHMENT_IMAGE_MAX_BYTES", 10 * 1024 * 1024),
        file_max_bytes=_int("ATTACHMENT_FILE_MAX_BYTES", 25 * 1024 * 1024),
        upload_url_ttl_seconds=_int("UPLOAD_URL_TTL_SECONDS", 300),
        download_url_ttl_seconds=_int("DOWNLOAD_URL_TTL_SECONDS", 900),
        thumbnail_max_px=_int("THUMBNAIL_MAX_PX", 320),
        # Near the hosted chat APIs: 5 sends/s sustained with bursts of 10, conversation creation and
        # uploads per minute. "0/1" switches a limit off.
        rate_limits={
            "send": _rate(env.get("RATE_LIMIT_SEND"), "10/2"),
            "conversation": _rate(env.get("RATE_LIMIT_CONVERSATION"), "20/60"),
            "presign": _rate(env.get("RATE_LIMIT_PRESIGN"), "30/60"),
            # Socket actions, per user across all of their connections (near Sendbird's 3 receipts/s), and the
            # GETs that read most (Stream's 60 per minute per user and endpoint).
            "room": _rate(env.get("RATE_LIMIT_ROOM"), "30/10"),
            "typing": _rate(env.get("RATE_LIMIT_TYPING"), "20/10"),
            "read": _rate(env.get("RATE_LIMIT_READ"), "30/10"),
            "ping": _rate(env.get("RATE_LIMIT_PING"), "30/60"),
            "sync": _rate(env.get("RATE_LIMIT_SYNC"), "60/60"),
            "history": _rate(env.get("RATE_LIMIT_HISTORY"), "60/60"),
            # Changing a stored message (edits and deletions, reactions; REST and socket alike) and replacing a
            # connection's presence watch list (a client sends one per inbox page it shows).
            "edit": _rate(env.get("RATE_LIMIT_EDIT"), "20/10"),
            "reaction": _rate(env.get("RATE_LIMIT_REACTION"), "30/10"),
            "presence": _rate(env.get("RATE_LIMIT_PRESENCE"), "30/60"),
            # Message search: an expensive read (a Query and a BatchGetItem of up to 100 items), as Stream limits it.
            "search": _rate(env.get("RATE_LIMIT_SEARCH"), "30/60"),
            "settings": _rate(env.get("RATE_LIMIT_SETTINGS"), "30/60"),
            "block": _rate(env.get("RATE_LIMIT_BLOCK"), "20/60"),
            # Reporting messages (issue 16): enough for a real harassment episode, not for flooding moderators.
            "report": _rate(env.get("RATE_LIMIT_REPORT"), "20/3600"),
        },
        # What an image may cost to decode, checked on its headers before decoding (chalicelib/domain/images.py).
        image_max_pixels=_int("IMAGE_MAX_PIXELS", 40_000_000),
        image_max_frames=_int("IMAGE_MAX_FRAMES", 300),
        image_max_animation_pixels=_int("IMAGE_MAX_ANIMATION_PIXELS", 50_000_000),
        upload_failures_queue=env.get("UPLOAD_FAILURES_QUEUE") or f"crochet-messaging-{stage}-upload-failures",
        notify_app_url=(env.get("NOTIFY_APP_URL") or "http://127.0.0.1:8004").rstrip("/"),
        notify_api_url=(env.get("NOTIFY_API_URL") or env.get("NOTIFY_APP_URL") or "http://127.0.0.1:8000").rstrip("/"),
        notify_email_from=env.get("NOTIFY_EMAIL_FROM") or "notifications@crochet-messaging.local",
        notify_email_delay_seconds=_int("NOTIFY_EMAIL_DELAY_SECONDS", -1)
        if env.get("NOTIFY_EMAIL_DELAY_SECONDS")
        else None,
        digest_queue=env.get("DIGEST_QUEUE") or f"crochet-messaging-{stage}-email-digests",
        webhook_queue=env.get("WEBHOOK_QUEUE") or f"crochet-messaging-{stage}-webhooks",
        webhook_url=env.get("WEBHOOK_URL") or None,
        webhook_secret=env.get("WEBHOOK_SECRET") or None,
        webhook_secret_ssm_parameter=env.get("WEBHOOK_SECRET_SSM_PARAMETER") or None,
        # Standard Webhooks' schedule (27.6 hours of retries; domain.webhooks).
        webhook_retry_seconds=tuple(
            int(s) for s in _list(env.get("WEBHOOK_RETRY_SECONDS"), "5,300,1800,7200,18000,36000,36000")
        ),
        webhook_timeout_seconds=_int("WEBHOOK_TIMEOUT_SECONDS", 10),
        messages_stream_arn=env.get("MESSAGES_STREAM_ARN")
        or _unrecorded_stream_arn(region, env.get("TABLE_PREFIX", f"crochet-messaging-{stage}-")),
        stream_failures_queue=env.get("STREAM_FAILURES_QUEUE") or f"crochet-messaging-{stage}-stream-failures",
        moderation_access_days=_int("MODERATION_ACCESS_DAYS", 30),
        moderation_context_messages=_int("MODERATION_CONTEXT_MESSAGES", 10),
        moderation_page_max=_int("MODERATION_PAGE_MAX", 50),
        suspension_max_days=_int("SUSPENSION_MAX_DAYS", 365),
        suspension_refresh_seconds=_int("SUSPENSION_REFRESH_SECONDS", 10),
        # The browsers' push services (domain.push.DEFAULT_ALLOWED_HOSTS); http only for PUSH_INSECURE_HOSTS.
        push_allowed_hosts=_list(env.get("PUSH_ALLOWED_HOSTS"), DEFAULT_PUSH_ALLOWED_HOSTS),
        push_insecure_hosts=_list(env.get("PUSH_INSECURE_HOSTS"), ""),
        push_queue=env.get("PUSH_QUEUE") or f"crochet-messaging-{stage}-push",
        vapid_private_key=env.get("VAPID_PRIVATE_KEY") or None,
        vapid_private_key_ssm_parameter=env.get("VAPID_PRIVATE_KEY_SSM_PARAMETER") or None,
        vapid_subject=env.get("VAPID_SUBJECT") or "mailto:notifications@crochet.example",
        # A chat notification older than a day is no longer worth showing.
        push_ttl_seconds=_int("PUSH_TTL_SECONDS", 24 * 3600),
        push_max_subscriptions=_int("PUSH_MAX_SUBSCRIPTIONS", 10),
        push_timeout_seconds=_int("PUSH_TIMEOUT_SECONDS", 10),
        local_stack=is_local(env),
    )


def _unrecorded_stream_arn(region: str, table_prefix: str) -> str:
    """A stand-in for the messages stream's ARN until one is recorded: Chalice needs a literal to register the
    handler; ``make deploy`` records the real one before ``chalice deploy``, ``make package`` replaces it with the
    infrastructure stack's export, and the dev stack reads the table's own."""
    return f"arn:aws:dynamodb:{region}:000000000000:table/{table_prefix}messages/stream/unrecorded"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (built on first use, once per cold start)."""
    return _load()
