"""The whole service on one machine: moto for AWS, Chalice's local server for the REST API, a local WebSocket
gateway (dev/ws_gateway.py) for the real-time half, S3 upload events (dev/s3_events.py), SQS event sources
(dev/queues.py), the messages table's stream (dev/streams.py), demo data, tokens, and the browser reference client
(dev/web/, served by dev/web_server.py).

``make dev`` runs ``python -m dev.stack``. The app code stays production code: the only things pointing it
at moto are the standard ``AWS_ENDPOINT_URL_DYNAMODB`` / ``_DYNAMODB_STREAMS`` / ``_S3`` / ``_SQS`` variables set
here, and at the local gateway ``WEBSOCKET_MANAGEMENT_URL`` (``dev.ws_gateway.configure_app_environment``).

moto runs with ``dev/moto_patches.py`` (self-checked at startup; ``DEV_MOTO_PATCHES=off`` runs it as it ships), so
requests cost the same whatever the data holds. The data lives in ``DEV_DATA_DIR`` between runs
(``dev/data_dir.py``); ``DEV_SEED=large`` adds a realistic data set (``dev/seed.py``).
Ctrl-C or SIGTERM stops everything, saves the data and exits 0.
"""

from __future__ import annotations

import argparse
import errno
import gc
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from dev.data_dir import DataDir, DataDirInUse, Report, data_dir_from_environ
from dev.seed import (
    OPENING_MESSAGE,
    OPENING_SENDER,
    PATTERNS,
    PURCHASES,
    USERS,
    LargeSeed,
    SeedError,
    SeedPlan,
    plan_from_environ,
    seed,
    seed_large,
)

if TYPE_CHECKING:
    from chalice.local import LocalDevServer
    from moto.server import ThreadedMotoServer

    from dev.push_receiver import LocalPushService
    from dev.queues import QueuePoller
    from dev.s3_events import Invocation, S3EventEmulator
    from dev.streams import StreamPoller
    from dev.web_server import WebClientServer
    from dev.webhook_receiver import WebhookReceiver
    from dev.ws_gateway import Limits, LocalWebSocketGateway

# chalicelib, app, moto and dev.ws_gateway are imported inside functions on purpose: settings and table names must
# see the environment this module sets up, and a taken port should be reported before any slow import.

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
READY_FILE_ENV = "DEV_READY_FILE"
USER_TOKEN_TTL_SECONDS = 12 * 3600
SERVICE_TOKEN_TTL_SECONDS = 10 * 60
MOTO_START_TIMEOUT_SECONDS = 15
SHUTDOWN_TIMEOUT_SECONDS = 10
TOKEN_USERS = ("alice", "bob")  # printed in the banner and written to the ready file
MODERATOR = "moderator"  # the id of the demo moderator (its token: "role": "moderator")
MOTO_PATCHES_ENV = "DEV_MOTO_PATCHES"
WEBHOOK_RECEIVER_ENV = "DEV_WEBHOOK_RECEIVER"
# The local receiver's secret (public, like the dev JWT secret): Standard Webhooks' whsec_ form of
# "crochet-messaging-dev-webhook-secret".
DEV_WEBHOOK_SECRET = "whsec_Y3JvY2hldC1tZXNzYWdpbmctZGV2LXdlYmhvb2stc2VjcmV0"  # nosec B105 # public, local only


class StackError(Exception):
    """Why the stack cannot run, worded for the developer (printed without a traceback)."""


class StopRequested(BaseException):
    """Raised in the main thread by the SIGINT/SIGTERM handler (BaseException, like KeyboardInterrupt, so that
    no ``except Exception`` on the way swallows it)."""


@dataclass(frozen=True)
class Port:
    """A port the stack listens on, and the variable that moves it."""

    service: str
    env_var: str
    number: int


@dataclass(frozen=True)
class Ports:
    """Every port the stack listens on."""

    api: Port
    aws: Port
    ws: Port
    ws_management: Port
    web: Port
    # Issue 18: the local webhook receiver (dev/webhook_receiver.py), unless DEV_WEBHOOK_RECEIVER=off.
    webhook: Port = Port("webhook receiver", "DEV_WEBHOOK_PORT", 8006)

    def all(self) -> tuple[Port, ...]:
        return self.api, self.aws, self.ws, self.ws_management, self.web, self.webhook


def configured_ports(environ: Mapping[str, str]) -> Ports:
    """The ports from ``DEV_API_PORT``, ``DEV_AWS_PORT``, ``DEV_WS_PORT``, ``DEV_WS_MANAGEMENT_PORT``,
    ``DEV_WEB_PORT`` and ``DEV_WEBHOOK_PORT``."""

    def read(service: str, env_var: str, default: int) -> Port:
        raw = environ.get(env_var) or str(default)
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise StackError(f"{env_var}={raw!r} is not a port number (1-65535)")
        return Port(service, env_var, int(raw))

    ports = Ports(
        read("REST API", "DEV_API_PORT", 8000),
        read("moto, the AWS endpoint", "DEV_AWS_PORT", 8002),
        read("WebSocket API", "DEV_WS_PORT", 8001),
        read("WebSocket @connections API", "DEV_WS_MANAGEMENT_PORT", 8003),
        read("browser client", "DEV_WEB_PORT", 8004),
        read("webhook receiver", "DEV_WEBHOOK_PORT", 8006),
    )
    numbers = [port.number for port in ports.all()]
    if len(set(numbers)) < len(numbers):
        listed = ", ".join(f"{port.env_var}={port.number}" for port in ports.all())
        raise StackError(f"two services cannot share a port: {listed}")
    return ports


# Every variable that names a port of the stack, for what starts stacks side by side (the e2e suite, the benches):
# one list, so a port a later issue adds gets a free port there too (the push service falls back by itself).
PORT_VARIABLES: tuple[str, ...] = tuple(port.env_var for port in configured_ports({}).all())


def port_taken(port: int, host: str = HOST) -> bool:
    """True when something already listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Every server binds with SO_REUSEADDR: probing the same way keeps a port in TIME_WAIT (a stack
        # that just stopped) from reading as taken.
        if os.name == "posix":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
        return False


def ports_taken_message(ports: list[Port]) -> str:
    lines = [f"  {p.number} ({p.service}): stop what holds it, or set {p.env_var}=<another port>" for p in ports]
    return f"cannot start, port{'s' if len(ports) > 1 else ''} already in use on {HOST}:\n" + "\n".join(lines)


def check_ports(ports: tuple[Port, ...]) -> None:
    """Refuse to start, naming every taken port and its variable, before anything is started."""
    taken = [port for port in ports if port_taken(port.number)]
    if taken:
        raise StackError(ports_taken_message(taken))


def configure_environment(environ: MutableMapping[str, str], aws_port: int) -> None:
    """Point boto at moto with fake credentials; keep the developer's region, stage and JWT secret."""
    from dev.moto_cors import disable_global_cors

    disable_global_cors(environ)  # moto then applies the bucket's CORS rule, as S3 does (dev/moto_cors.py)
    endpoint = f"http://{HOST}:{aws_port}"
    environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
    environ["AWS_ENDPOINT_URL_S3"] = endpoint
    environ["AWS_ENDPOINT_URL_SQS"] = endpoint
    environ["AWS_ENDPOINT_URL_SESV2"] = endpoint  # email digests (issue 18): the mail shows at /outbox
    # AWS_ENDPOINT_URL_DYNAMODB does not cover Streams; and botocore sends ARN-bearing Streams calls to an
    # account-based endpoint unless told not to (moto answers neither otherwise).
    environ["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] = endpoint
    environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
    environ["AWS_ACCESS_KEY_ID"] = "testing"
    environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    # A real session token or profile must neither travel to moto nor make botocore look for a profile.
    for variable in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        environ.pop(variable, None)
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    environ.setdefault("AWS_REGION", region)
    environ.setdefault("AWS_DEFAULT_REGION", region)
    environ.setdefault("STAGE", "local")
    # Importing the settings module reads nothing: Settings are built on first get_settings().
    from chalicelib.settings import DEV_JWT_SECRET

    environ["JWT_SECRET"] = environ.get("JWT_SECRET") or DEV_JWT_SECRET


def configure_notifications(environ: MutableMapping[str, str], ports: Ports) -> None:
    """Issue 18 on the dev stack: digest links to the browser client, the unsubscribe link to the REST API, and, unless
    the developer set ``WEBHOOK_URL`` (or ``DEV_WEBHOOK_RECEIVER=off``), webhooks to the local receiver on
    ``DEV_WEBHOOK_PORT`` with the documented dev secret."""
    environ.setdefault("NOTIFY_APP_URL", f"http://{HOST}:{ports.web.number}")
    environ.setdefault("NOTIFY_API_URL", f"http://{HOST}:{ports.api.number}")
    receiver = (environ.get(WEBHOOK_RECEIVER_ENV) or "on").strip().lower()
    if receiver not in ("on", "off"):
        raise StackError(f"{WEBHOOK_RECEIVER_ENV}={receiver!r}: use on (the default) or off")
    if environ.get("WEBHOOK_URL") or receiver == "off":
        environ[WEBHOOK_RECEIVER_ENV] = "off"
        return
    environ[WEBHOOK_RECEIVER_ENV] = "on"
    environ["WEBHOOK_URL"] = f"http://{HOST}:{ports.webhook.number}/"
    environ["WEBHOOK_SECRET"] = environ.get("WEBHOOK_SECRET") or DEV_WEBHOOK_SECRET


def mint(user_id: str, *, role: str | None = None, ttl_seconds: int = USER_TOKEN_TTL_SECONDS) -> str:
    """A token the running app accepts (signed with its configured secret)."""
    from chalicelib.auth.tokens import issue_token
    from chalicelib.settings import get_settings

    return issue_token(user_id, secret=get_settings().jwt_secret, role=role, ttl_seconds=ttl_seconds)


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise StopRequested(signal.Signals(signum).name)


def ws_management_url(ports: Ports) -> str:
    """Where the local gateway serves the ``@connections`` API (boto3's ``endpoint_url``)."""
    return f"http://{HOST}:{ports.ws_management.number}"


class Stack:
    """moto (with S3 upload events and SQS event sources), the WebSocket gateway, the REST API and the browser
    client: started in order, stopped in reverse (whatever was reached)."""

    def __init__(
        self,
        ports: Ports,
        ready_file: Path | None,
        ws_limits: Limits,
        s3_event_delay: float = 0.0,
        *,
        data_dir: Path | None = None,
        seed_plan: SeedPlan | None = None,
        moto_patches: bool = True,
    ) -> None:
        self.ports = ports
        self.s3_event_delay = s3_event_delay
        self.api, self.aws = ports.api, ports.aws
        self.ready_file = ready_file
        self.ws_limits = ws_limits
        self.api_url = f"http://{HOST}:{ports.api.number}"
        self.aws_url = f"http://{HOST}:{ports.aws.number}"
        self.ws_url = f"ws://{HOST}:{ports.ws.number}"
        self.ws_management_url = ws_management_url(ports)
        self.web_url = f"http://{HOST}:{ports.web.number}"
        self.webhook_receiver: WebhookReceiver | None = None  # issue 18, unless DEV_WEBHOOK_RECEIVER=off
        self._moto: ThreadedMotoServer | None = None
        self._s3_events: S3EventEmulator | None = None
        self._queues: QueuePoller | None = None
        self._streams: StreamPoller | None = None
        self.stream_failures_url = ""  # the stream consumers' on-failure queue on moto, once created
        self.push_receiver: LocalPushService | None = None  # dev/push_receiver.py, the local push service
        self.upload_failures_url = ""  # on_upload's dead-letter queue on moto, once created
        self._gateway: LocalWebSocketGateway | None = None
        self._api_server: LocalDevServer | None = None
        self._api_thread: threading.Thread | None = None
        self._web: WebClientServer | None = None
        self.data_dir = DataDir(data_dir) if data_dir is not None else None
        self.seed_plan = seed_plan or SeedPlan()
        self.moto_patches = moto_patches
        self.patch_checks: list[str] = []
        self.loaded: Report | None = None  # set once the data folder was read: only then may it be written
        self.saved: Report | None = None
        self.large_seed: LargeSeed | None = None

    def start(self) -> dict[str, str]:
        """Start moto, create the tables and the bucket, load the data folder, emulate S3 upload events, open the
        WebSocket gateway, serve the API, seed, serve the browser client; returns the demo tokens."""
        if self.ready_file:
            self.ready_file.unlink(missing_ok=True)  # a stale file from a crashed run must not read as ready
        if self.data_dir is not None:
            try:
                self.data_dir.claim()
            except DataDirInUse as exc:
                self.data_dir = None  # not ours: never written by this run
                raise StackError(str(exc)) from None
        self._start_moto()
        from chalicelib.adapters.dynamodb.tables import create_tables
        from chalicelib.adapters.files import S3Files
        from chalicelib.adapters.queues import SqsQueue, push_queues, stream_failure_queue, upload_failure_queues
        from chalicelib.settings import get_settings

        create_tables()
        # the same definition as deploy: private, CORS, lifecycle
        S3Files(get_settings()).ensure_bucket(get_settings().allowed_origins)
        # on_upload's dead-letter queue and its own, as infrastructure/template.yaml declares them
        self.upload_failures_url = SqsQueue(get_settings(), get_settings().upload_failures_queue).ensure(
            upload_failure_queues(get_settings())
        )
        # the messages stream's on-failure destination, as the template declares it
        self.stream_failures_url = SqsQueue(get_settings(), get_settings().stream_failures_queue).ensure(
            stream_failure_queue(get_settings())
        )
        self._ensure_notifications()
        # the Web Push queue and its dead letters (on_push consumes it), as the template declares them
        SqsQueue(get_settings(), get_settings().push_queue).ensure(push_queues(get_settings()))
        self._load_data()
        self._start_push_receiver()
        self._start_queues()
        self._start_streams()  # after loading: what the data folder held is indexed already (its index is saved too)
        self._start_s3_events()  # after loading: reloaded uploads are not processed again
        self._start_gateway()
        self._serve_api()
        service_token = mint("platform", role="service", ttl_seconds=SERVICE_TOKEN_TTL_SECONDS)
        seed(self.api_url, service_token=service_token, user_token=mint)
        if self.seed_plan.large:
            self.large_seed = seed_large(self.seed_plan)
        # What moto holds now lives as long as the stack: keep it out of every later full collection, which would
        # otherwise walk hundreds of thousands of items and stall a request (the Lambda's heap never holds them).
        gc.collect()
        gc.freeze()
        self._serve_web_client()
        # A moderator's token too (issue 16: the /api/moderation routes), printed and in the ready file like the others.
        return {**{user: mint(user) for user in TOKEN_USERS}, MODERATOR: mint(MODERATOR, role="moderator")}

    def _ensure_notifications(self) -> None:
        """Issue 18: the digest and webhook queues as the template declares them, the digests' SES identity, and the
        local webhook receiver that ``WEBHOOK_URL`` points at (configure_notifications)."""
        from chalicelib.adapters.email import SesMailer
        from chalicelib.adapters.queues import SqsQueue, digest_queues, webhook_queues
        from chalicelib.settings import get_settings
        from dev.webhook_receiver import WebhookReceiver

        settings = get_settings()
        SqsQueue(settings, settings.digest_queue).ensure(digest_queues(settings))
        SqsQueue(settings, settings.webhook_queue).ensure(webhook_queues(settings))
        SesMailer(settings).ensure_identity(settings.notify_email_from)
        if os.environ.get(WEBHOOK_RECEIVER_ENV) == "on":
            receiver = WebhookReceiver(HOST, self.ports.webhook.number, os.environ.get("WEBHOOK_SECRET", ""))
            try:
                receiver.start()
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise StackError(ports_taken_message([self.ports.webhook])) from None
                raise
            self.webhook_receiver = receiver

    def _start_push_receiver(self) -> None:
        from chalicelib.adapters.webpush import VapidKey
        from chalicelib.settings import get_settings
        from dev.push_receiver import LocalPushService, push_port

        try:
            port = push_port(os.environ)
        except ValueError as exc:
            raise StackError(str(exc)) from None
        if port_taken(port):
            if os.environ.get("DEV_PUSH_PORT"):
                raise StackError(f"port {port} (the local push service) is taken: set DEV_PUSH_PORT to another")
            port = 0  # the default is taken (another stack: tests, benches): any free port, named in the ready file
        public_key = VapidKey.from_private_value(get_settings().vapid_private_key or "").public_key
        self.push_receiver = LocalPushService(port, public_key)
        self.push_receiver.start()

    def _s3(self) -> Any:
        import boto3

        from chalicelib.settings import get_settings

        return boto3.client("s3", region_name=get_settings().region)  # AWS_ENDPOINT_URL_S3: this stack's moto

    def _load_data(self) -> None:
        if self.data_dir is None:
            return
        from chalicelib.settings import get_settings

        settings = get_settings()
        try:
            self.loaded = self.data_dir.load(region=settings.region, s3=self._s3(), bucket=settings.attachments_bucket)
        except (OSError, ValueError, KeyError) as exc:
            raise StackError(
                f"cannot load the data folder {self.data_dir.path}: {exc}. Move it aside, or make dev-reset to start "
                "empty"
            ) from None

    def _save_data(self) -> None:
        if self.data_dir is None or self.loaded is None or self._moto is None:
            return
        from chalicelib.adapters.dynamodb import ALL_MODELS
        from chalicelib.settings import get_settings

        settings = get_settings()
        tables = [model.Meta.table_name for model in ALL_MODELS]
        self.saved = self.data_dir.save(
            region=settings.region, s3=self._s3(), bucket=settings.attachments_bucket, tables=tables
        )

    def _start_moto(self) -> None:
        from moto.server import ThreadedMotoServer

        from dev.moto_cors import enforce_bucket_cors
        from dev.moto_isolation import isolate_transactions

        if self.moto_patches:
            from dev import moto_patches

            try:
                self.patch_checks = moto_patches.apply()  # before the isolation lock, which then wraps them
            except moto_patches.PatchBroken as exc:
                raise StackError(str(exc)) from None
        isolate_transactions()
        enforce_bucket_cors()
        moto = ThreadedMotoServer(ip_address=HOST, port=self.aws.number, verbose=False)
        # start() waits forever when its server thread cannot bind (the port was taken after our check),
        # so it runs in a helper thread we can stop waiting for.
        starter = threading.Thread(target=moto.start, name="moto-start", daemon=True)
        starter.start()
        starter.join(MOTO_START_TIMEOUT_SECONDS)
        if starter.is_alive():
            raise StackError(ports_taken_message([self.aws]))
        self._moto = moto

    def _start_s3_events(self) -> None:
        """Invoke the app's ``on_upload`` after uploads, as S3 does on AWS (moto invokes no Lambda), with the
        function's timeout (the dev stage's), Lambda's retries and dead-letter queue as deploy configures them."""
        import boto3

        from app import app
        from chalicelib.settings import get_settings
        from dev.s3_events import S3EventEmulator

        self._s3_events = S3EventEmulator(
            app,
            stage=os.environ["STAGE"],
            region=get_settings().region,
            delay_seconds=self.s3_event_delay,
            invocations=async_invocations(self.upload_failures_url),
            sqs=boto3.client("sqs", region_name=get_settings().region),
        )
        self._s3_events.start()

    def _start_queues(self) -> None:
        """Invoke the app's ``@app.on_sqs_message`` handlers for their queues' messages, as Lambda does on AWS."""
        import boto3

        from app import app
        from chalicelib.settings import get_settings
        from dev.queues import QueuePoller, sources

        client = boto3.client("sqs", region_name=get_settings().region)
        self._queues = QueuePoller(
            app, sources(app, client), client=client, stage=os.environ["STAGE"], region=get_settings().region
        )
        self._queues.start()

    def _start_streams(self) -> None:
        """Invoke the app's ``@app.on_dynamodb_record`` handlers for their streams' records, as Lambda does on AWS."""
        import boto3

        from app import app
        from chalicelib.settings import get_settings
        from dev.moto_isolation import serialized
        from dev.streams import StreamPoller, sources

        region = get_settings().region
        self._streams = StreamPoller(
            app,
            sources(app, boto3.client("dynamodb", region_name=region), failure_queue_url=self.stream_failures_url),
            streams=boto3.client("dynamodbstreams", region_name=region),  # AWS_ENDPOINT_URL_DYNAMODB_STREAMS
            sqs=boto3.client("sqs", region_name=region),
            stage=os.environ["STAGE"],
            region=region,
            lock=serialized,
        )
        self._streams.start()

    def _start_gateway(self) -> None:
        from app import app
        from dev.ws_gateway import LocalWebSocketGateway, PortInUse

        # Kept before start(): stop() must undo a start that a signal interrupted half-way.
        self._gateway = LocalWebSocketGateway(
            app,
            host=HOST,
            port=self.ports.ws.number,
            management_port=self.ports.ws_management.number,
            stage=os.environ["STAGE"],
            limits=self.ws_limits,
        )
        try:
            self._gateway.start()
        except PortInUse as exc:  # taken after our check
            taken = [port for port in self.ports.all() if port.number == exc.port]
            raise StackError(ports_taken_message(taken)) from None

    def _serve_api(self) -> None:
        from chalice.config import Config
        from chalice.deploy.validate import validate_routes
        from chalice.local import create_local_server

        from app import app
        from dev.no_route import answer_unknown_routes

        validate_routes(app.routes)  # what `chalice local` checks: routes `chalice deploy` would refuse
        config = Config.create(chalice_stage=os.environ["STAGE"], app_name=app.app_name, project_dir=str(ROOT))
        try:
            # Chalice's ThreadedHTTPServer: one thread per connection, and a thread-local current_request.
            self._api_server = create_local_server(app, config, HOST, self.api.number)
            answer_unknown_routes(self._api_server, app, config)  # API Gateway's answer once deployed: 404 not_found
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StackError(ports_taken_message([self.api])) from None
            raise
        # serve_forever of the underlying server: LocalDevServer's own would print a second banner.
        self._api_thread = threading.Thread(target=self._api_server.server.serve_forever, name="rest-api", daemon=True)
        self._api_thread.start()

    def web_client_config(self) -> dict[str, Any]:
        """What the browser client reads from ``/config.json``: where the services are, who the demo users are, with
        a dev token each (any user can be picked in the page)."""
        from chalicelib.settings import get_settings

        return {
            "apiUrl": self.api_url,
            "wsUrl": self.ws_url,
            "awsEndpoint": self.aws_url,
            "stage": os.environ["STAGE"],
            "typingTimeoutMs": get_settings().typing_timeout_ms,
            "reactionEmoji": list(get_settings().reaction_emoji),
            "presenceWatchMax": get_settings().presence_watch_max,
            "users": [{"id": user, "name": name, "token": mint(user)} for user, name in USERS.items()],
            "patterns": [{"id": p.id, "title": p.title, "creatorId": p.creator_id} for p in PATTERNS],
            "purchases": [{"patternId": pattern, "userId": buyer} for pattern, buyer in PURCHASES],
        }

    def _serve_web_client(self) -> None:
        from chalicelib.settings import get_settings
        from dev.web_server import WebClientServer, WebPortInUse

        self._web = WebClientServer(HOST, self.ports.web.number, self.web_client_config(), get_settings().region)
        try:
            self._web.start()
        except WebPortInUse:  # taken after our check
            self._web = None
            raise StackError(ports_taken_message([self.ports.web])) from None

    def write_ready_file(self, tokens: dict[str, str]) -> None:
        """Publish the URLs and tokens atomically, so a reader never sees half a file."""
        if not self.ready_file:
            return
        from chalicelib.settings import get_settings

        ready = {
            "apiUrl": self.api_url,
            "awsEndpoint": self.aws_url,
            "wsUrl": self.ws_url,
            "wsManagementUrl": self.ws_management_url,
            "webUrl": self.web_url,
            "outboxUrl": f"{self.web_url}/outbox",
            "webhookReceiverUrl": self.webhook_receiver.url if self.webhook_receiver else None,
            "pushUrl": self.push_receiver.url if self.push_receiver else None,
            "attachmentsBucket": get_settings().attachments_bucket,
            "stage": os.environ["STAGE"],
            "pid": os.getpid(),
            "tokens": tokens,
            "dataDir": str(self.data_dir.path) if self.data_dir else None,
            "loaded": self.loaded.__dict__ if self.loaded else None,
            "seed": {
                "conversations": self.seed_plan.conversations,
                "messages": self.seed_plan.messages,
                "items": self.large_seed.items if self.large_seed else 0,
                "seconds": round(self.large_seed.seconds, 2) if self.large_seed else 0.0,
                "cpuSeconds": round(self.large_seed.cpu_seconds, 2) if self.large_seed else 0.0,
            },
            "motoPatches": self.patch_checks if self.moto_patches else "off",
        }
        partial = self.ready_file.with_name(self.ready_file.name + ".partial")
        partial.write_text(json.dumps(ready, indent=2) + "\n")
        partial.replace(self.ready_file)

    def stop(self) -> None:
        """Stop what was started, in reverse order; safe after a partial start."""
        if self.ready_file:
            self.ready_file.unlink(missing_ok=True)
        if self._web is not None:
            self._web.stop()
        if self._api_server is not None:
            if self._api_thread is not None:
                self._api_server.shutdown()  # returns once serve_forever has left its loop
                self._api_thread.join(SHUTDOWN_TIMEOUT_SECONDS)
            self._api_server.server.server_close()
        if self._s3_events is not None:
            self._s3_events.stop()  # waits for running handlers, which still post attachment_ready to the gateway
        if self._queues is not None:
            self._queues.stop()  # likewise
        if self._streams is not None:
            self._streams.stop()
        if self.webhook_receiver is not None:
            self.webhook_receiver.stop()
        if self.push_receiver is not None:
            self.push_receiver.stop()
        if self._gateway is not None:
            self._gateway.stop()  # before moto: each socket's $disconnect still writes to DynamoDB
        try:
            self._save_data()  # after the gateway: no connection outlives the run in the saved data
        finally:
            if self.data_dir is not None:
                self.data_dir.release()
            if self._moto is not None:
                self._moto.stop()


def async_invocations(dead_letter_queue_url: str) -> dict[str, Invocation]:
    """How Lambda runs the functions S3 invokes: the dev stage's timeout and memory (.chalice/config.json), and the
    retries and dead-letter queue infrastructure/deploy.py gives them (ASYNC_INVOKE)."""
    from dev.s3_events import Invocation
    from infrastructure.deploy import ASYNC_INVOKE, Project

    functions = Project(ROOT).stage("dev").get("lambda_functions", {})
    return {
        name: Invocation(
            timeout_seconds=float(functions.get(name, {}).get("lambda_timeout", 60)),
            memory_mb=int(functions.get(name, {}).get("lambda_memory_size", 128)),
            max_retries=settings.max_retries,
            dead_letter_queue_url=dead_letter_queue_url,
        )
        for name, settings in ASYNC_INVOKE.items()
    }


def banner(stack: Stack, tokens: dict[str, str]) -> str:
    """What the developer needs: where things listen, who exists, tokens, a first request."""
    from chalicelib.settings import get_settings

    users = ", ".join(f"{user} ({name})" for user, name in USERS.items())
    patterns = ", ".join(f"{p.id} (by {p.creator_id})" for p in PATTERNS)
    purchases = "; ".join(f"{buyer} bought {pattern}" for pattern, buyer in PURCHASES)
    exports = "\n".join(f"  export {user.upper()}_TOKEN={token}" for user, token in tokens.items())
    delay = f", {stack.s3_event_delay:g} s late (DEV_S3_EVENT_DELAY_SECONDS)" if stack.s3_event_delay else ""
    if stack.data_dir is None:
        data = "not kept (DEV_DATA_DIR=off)"
    else:
        loaded = stack.loaded.describe() if stack.loaded and stack.loaded.tables else "nothing yet"
        data = f"{stack.data_dir.path}: loaded {loaded}; saved on exit (make dev-reset empties it)"
    large = ""
    if stack.large_seed is not None:
        large = (
            f"\n            DEV_SEED=large: alice has {stack.seed_plan.conversations:,} conversations, "
            f"{stack.seed_plan.messages:,} messages with bob about the blanket "
            f"({stack.large_seed.items:,} items written in {stack.large_seed.seconds:.1f} s)"
        )
    patches = (
        "as it ships (DEV_MOTO_PATCHES=off: slow as data grows)"
        if not stack.moto_patches
        else (f"without its table-size costs (dev/moto_patches.py: {len(stack.patch_checks)} self-checks passed)")
    )
    override = os.environ.get("NOTIFY_EMAIL_DELAY_SECONDS")
    digest_delay = (
        f" (NOTIFY_EMAIL_DELAY_SECONDS={override})" if override else " (after each user's delay, 10 min by default)"
    )
    if stack.webhook_receiver is not None:
        webhooks = (
            f"signed events go to the local receiver {stack.webhook_receiver.url} (verified; GET lists them;"
            " DEV_WEBHOOK_RECEIVER=off or WEBHOOK_URL=... to change)"
        )
    else:
        webhooks = f"signed events go to {os.environ.get('WEBHOOK_URL') or 'nowhere (no WEBHOOK_URL)'}"
    push = "not started"
    if stack.push_receiver is not None:
        push = (
            f"pushes to offline users go through sqs://{get_settings().push_queue} (on_push); a local push service\n"
            f"              at {stack.push_receiver.url} (POST /subscriptions, GET /push: dev/push_receiver.py)"
        )
    return f"""
crochet-messaging dev stack is running (stage {os.environ["STAGE"]}). Ctrl-C stops it.

  Web client  {stack.web_url}/   (the browser reference client: pick alice, bob or carol)
  REST API    {stack.api_url}/api/...
  WebSocket   {stack.ws_url}/?token=<JWT>   (@connections API: {stack.ws_management_url})
  moto (AWS)  {stack.aws_url}   (the DynamoDB, S3 and SQS endpoint; {patches})
  Data        {data}
  Uploads     s3://{get_settings().attachments_bucket}: each upload runs the app's on_upload, as S3 does on AWS{delay}
              (CORS allows {", ".join(get_settings().allowed_origins)})
  Failures    uploads whose processing fails for good go to sqs://{get_settings().upload_failures_queue},
              whose messages run the app's on_upload_failure, as Lambda does on AWS
  Stream      the messages table's stream runs the app's on_message_stream (search indexing), as Lambda does on
              AWS; what it gives up on goes to sqs://{get_settings().stream_failures_queue}
  Mail        email digests (SES on moto) show at {stack.web_url}/outbox{digest_delay}
  Webhooks    {webhooks}
  Web Push    {push}

Demo data   users {users}
            patterns {patterns}
            {purchases}; {OPENING_SENDER} wrote {OPENING_MESSAGE["recipientId"]} a first message{large}

Tokens, valid 12 h (for anyone else: make token USER=carol; short-lived: make token USER=bob TTL=60):
{exports}

Try:
  curl -s -H "Authorization: Bearer $ALICE_TOKEN" {stack.api_url}/api/messages/conversations
  curl -s -H "Authorization: Bearer $MODERATOR_TOKEN" {stack.api_url}/api/moderation/reports
  .venv/bin/python -m websockets "{stack.ws_url}/?token=$ALICE_TOKEN"   then type: {{"action": "ping"}}
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dev.stack", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--ready-file",
        type=Path,
        default=os.environ.get(READY_FILE_ENV) or None,
        help=f"write JSON (URLs, tokens) here once serving; removed on exit (env: {READY_FILE_ENV})",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Raising from the handler unwinds whatever startup step is running, and the finally below stops
    # exactly what was started, so a signal during startup leaves nothing behind either.
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    stack: Stack | None = None
    code = 0
    try:
        if os.environ.get("JWT_JWKS_URL"):
            raise StackError("JWT_JWKS_URL is set: the dev stack signs its own HS256 tokens; unset it to run locally")
        ports = configured_ports(os.environ)
        check_ports(ports.all())
        from dev.s3_events import delay_from_environ
        from dev.web_server import allow_browser_origins
        from dev.ws_gateway import Limits, configure_app_environment

        try:
            ws_limits = Limits.from_environ(os.environ)
            s3_event_delay = delay_from_environ(os.environ)
            seed_plan = plan_from_environ(os.environ)
        except ValueError as exc:
            raise StackError(str(exc)) from None
        patches = (os.environ.get(MOTO_PATCHES_ENV) or "on").strip().lower()
        if patches not in ("on", "off"):
            raise StackError(f"{MOTO_PATCHES_ENV}={patches!r}: use on (the default) or off")
        configure_environment(os.environ, ports.aws.number)
        configure_notifications(os.environ, ports)
        from dev.push_receiver import configure_push_environment

        configure_push_environment(os.environ, data_dir_from_environ(os.environ))
        configure_app_environment(os.environ, ws_management_url(ports))
        allow_browser_origins(os.environ, HOST, ports.web.number)
        logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(levelname)s %(name)s: %(message)s")
        # One line per DynamoDB call drowns the request log; websockets repeats what the gateway logs.
        for chatty in ("werkzeug", "botocore", "pynamodb", "websockets"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
        stack = Stack(
            ports,
            args.ready_file,
            ws_limits,
            s3_event_delay,
            data_dir=data_dir_from_environ(os.environ),
            seed_plan=seed_plan,
            moto_patches=patches == "on",
        )
        tokens = stack.start()
        print(banner(stack, tokens), flush=True)
        stack.write_ready_file(tokens)
        # Until a signal handler raises StopRequested. Woken twice a second: the kernel may deliver SIGTERM to any of
        # the stack's threads, and Python runs its handler only when the main thread executes bytecode, which a wait
        # without a timeout never does again (the stack then ignored SIGTERM now and then and was killed).
        idle = threading.Event()
        while not idle.wait(0.5):
            pass
    except StopRequested:
        pass
    except StackError as error:
        print(f"dev.stack: {error}", file=sys.stderr, flush=True)
        code = 1
    except SeedError as error:
        print(f"dev.stack: seeding the demo data failed: {error}", file=sys.stderr, flush=True)
        code = 1
    finally:
        # A second Ctrl-C must not interrupt the cleanup half-way.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if stack is not None:
            stack.stop()
    if stack is not None and stack.saved is not None and stack.data_dir is not None:
        print(f"dev.stack: saved {stack.saved.describe()} to {stack.data_dir.path}", flush=True)
    if code == 0:
        print("dev.stack: stopped", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
