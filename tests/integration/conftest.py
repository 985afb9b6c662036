"""Handlers against moto: tables created fresh per test, a Chalice test client, factories."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import botocore.client
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib import bootstrap
from chalicelib.adapters.dynamodb.tables import create_tables, reset_connections
from chalicelib.adapters.files import S3Files
from chalicelib.adapters.queues import SqsQueue, digest_queues, push_queues, upload_failure_queues, webhook_queues
from chalicelib.auth.tokens import issue_token
from chalicelib.bootstrap import Services
from chalicelib.services import suspensions
from chalicelib.settings import get_settings
from dev.moto_isolation import isolate_transactions, serialized

# Concurrency tests rely on DynamoDB's transaction isolation, which moto lacks without this.
isolate_transactions()


# Clients built after ``import moto`` are intercepted whenever a mock is active, so PynamoDB's cached
# clients are reset once (in case anything touched a model earlier), not per test: building botocore
# clients is the slowest part of a test's setup.
reset_connections()


# One S3 adapter for the bucket's setup: building boto3 clients is slow, and they follow mock_aws() anyway.
BUCKET = S3Files(get_settings())
UPLOAD_FAILURES = SqsQueue(get_settings(), get_settings().upload_failures_queue)
# Every queue an @app.on_sqs_message handler reads, as the template declares them (dev.queues.sources finds them all).
QUEUES = (
    (UPLOAD_FAILURES, upload_failure_queues),
    (SqsQueue(get_settings(), get_settings().push_queue), push_queues),
    (SqsQueue(get_settings(), get_settings().digest_queue), digest_queues),
    (SqsQueue(get_settings(), get_settings().webhook_queue), webhook_queues),
)


@pytest.fixture(autouse=True)
def environment_restored() -> Iterator[None]:
    """Each test leaves the environment as it found it. Chalice's test client swaps ``os.environ`` for the stage's
    variables around each request, so requests made from several threads at once can leave the dev stage's
    variables behind (its bucket, its stage), which settings built later would read."""
    saved = dict(os.environ)
    yield
    if dict(os.environ) != saved:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
        get_settings()


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        create_tables()
        BUCKET.ensure_bucket(get_settings().allowed_origins)
        for queue, shape in QUEUES:
            queue.ensure(shape(get_settings()))
        suspensions.ACTIVE.reset()  # fresh tables: nobody is suspended
        yield


@pytest.fixture
def client(aws: None) -> Iterator[Client]:
    from app import app

    with Client(app) as test_client:
        yield test_client


@pytest.fixture
def install_services() -> Iterator[Callable[..., Services]]:
    """``install_services(connections=fake, ...)``: the app runs on these adapters for this test (bootstrap.build),
    and on the real ones again afterwards."""

    def install(**adapters: Any) -> Services:
        built = bootstrap.build(**adapters)
        bootstrap.install(built)
        return built

    yield install
    bootstrap.install(None)


def token_for(user_id: str, **claims: Any) -> str:
    return issue_token(user_id, secret=get_settings().jwt_secret, **claims)


def auth(user_id: str, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(user_id, **claims)}", "Content-Type": "application/json"}


SERVICE_HEADERS = {"Content-Type": "application/json"}


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str]


class Api:
    """The REST API as a test reads it: one call a line, JSON in and out."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def call(
        self, method: str, path: str, user: str | None = None, body: Any = None, headers: dict[str, str] | None = None
    ) -> Response:
        sent = dict(auth(user) if user else {"Content-Type": "application/json"})
        sent.update(headers or {})
        payload = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
        response = getattr(self.client.http, method.lower())(path, headers=sent, body=payload)
        parsed = json.loads(response.body) if response.body else None
        return Response(response.status_code, parsed, dict(response.headers))

    def service(self, method: str, path: str, body: Any = None) -> Response:
        headers = {"Authorization": f"Bearer {token_for('platform', role='service')}"}
        return self.call(method, path, body=body, headers=headers)

    # The platform's side (service role).
    def user(self, user_id: str, name: str | None = None, *, accepts_direct_messages: bool | None = None) -> Response:
        body: dict[str, Any] = {"name": name or user_id.title()}
        if accepts_direct_messages is not None:
            body["acceptsDirectMessages"] = accepts_direct_messages
        response = self.service("PUT", f"/api/internal/users/{user_id}", body)
        assert response.status == 200, response.body
        return response

    def pattern(self, pattern_id: str, creator_id: str, title: str = "Granny Square Blanket") -> Response:
        response = self.service(
            "PUT", f"/api/internal/patterns/{pattern_id}", {"creatorId": creator_id, "title": title}
        )
        assert response.status == 200, response.body
        return response

    def purchase(self, pattern_id: str, user_id: str) -> Response:
        response = self.service("PUT", f"/api/internal/purchases/{pattern_id}/{user_id}")
        assert response.status == 200, response.body
        return response

    # A user's side.
    def send(self, user: str, **body: Any) -> Response:
        body.setdefault("content", "hello")
        return self.call("POST", "/api/messages", user, body)

    def conversations(self, user: str, query: str = "") -> Response:
        return self.call("GET", f"/api/messages/conversations{query}", user)

    def conversation(self, user: str, conversation_id: str, query: str = "") -> Response:
        return self.call("GET", f"/api/messages?conversationId={conversation_id}{query}", user)

    def mark_read(self, user: str, message_id: str, whole: bool = False) -> Response:
        return self.call("PUT", f"/api/messages/{message_id}/read", user, {"markConversation": whole})


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


@pytest.fixture
def marketplace(api: Api) -> Api:
    """Alice (creator of pattern p1), Bob (bought p1), Carol (a stranger), Dave (creator of p2).

    The two creators take direct messages from everyone (``acceptsDirectMessages``), so a stranger's message lands
    in their inbox as before message requests existed; ``requests_market`` has a creator who does not."""
    api.pattern("p1", "alice", "Granny Square Blanket")
    api.pattern("p2", "dave", "Amigurumi Fox")
    for user in ("alice", "bob", "carol", "dave"):
        api.user(user, accepts_direct_messages=True if user in ("alice", "dave") else None)
    api.purchase("p1", "bob")
    return api


class DynamoCalls:
    """Counts DynamoDB API calls (round trips) made through botocore, by operation."""

    def __init__(self) -> None:
        self.operations: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.operations.values())

    def reset(self) -> None:
        self.operations.clear()


@pytest.fixture
def dynamo_calls(monkeypatch: pytest.MonkeyPatch) -> DynamoCalls:
    calls = DynamoCalls()
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            calls.operations[operation_name] += 1
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    return calls


@pytest.fixture
def sockets(client: Client) -> Any:
    from tests.integration.sockets import Sockets

    return Sockets(client)


@pytest.fixture
def uploads(marketplace: Api, sockets: Any) -> Any:
    """bob's conversation with alice about p1 opened, and the client side of uploads into it."""
    from tests.integration.test_attachments import Uploads

    marketplace.send("bob", recipientId="alice", patternId="p1", content="my progress so far")
    return Uploads(marketplace, sockets)


@pytest.fixture
def settings_of_the_tests() -> None:
    """Settings from the tests' environment, built now, outside any request: Chalice's test client runs requests
    with the dev stage's variables, so settings first built inside one (after a test cleared them) would name the dev
    stage's bucket. The upload suites use it for every test (``pytest.mark.usefixtures``)."""
    get_settings.cache_clear()
    get_settings()


@dataclass
class StreamDrain:
    """The messages stream as ``make dev`` reads it (dev/streams.py's poller, the app's ``on_message_stream``):
    ``drain()`` hands every record written so far to the handler and returns how many it handled."""

    poller: Any
    source: Any

    def drain(self, max_polls: int = 100) -> int:
        handled = 0
        for _ in range(max_polls):
            outcome = self.poller.poll_once(self.source)
            handled += outcome.handled
            if not outcome.received:
                return handled
        raise AssertionError("the stream did not run dry")


@pytest.fixture
def message_stream(aws: None) -> StreamDrain:
    import boto3

    from app import app
    from chalicelib.adapters.queues import stream_failure_queue
    from dev.streams import StreamPoller, sources

    settings = get_settings()
    failures = SqsQueue(settings, settings.stream_failures_queue).ensure(stream_failure_queue(settings))
    region = settings.region
    (source,) = sources(app, boto3.client("dynamodb", region_name=region), failure_queue_url=failures)
    poller = StreamPoller(
        app,
        [source],
        streams=boto3.client("dynamodbstreams", region_name=region),
        sqs=boto3.client("sqs", region_name=region),
        stage="test",
        region=region,
        lock=serialized,
    )
    return StreamDrain(poller, source)
