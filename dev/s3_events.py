"""S3 upload events for the dev stack: on AWS, S3 invokes the app's ``@app.on_s3_event`` Lambda; moto does not.

moto runs in the dev stack's own process, and every request that creates an object (PutObject, a presigned
POST, CompleteMultipartUpload, CopyObject) ends in one method, ``moto.s3.models.S3Backend.put_object``. Wrapping
it sees each new object. When the object matches one of the app's S3 event sources (bucket, ``events``,
``prefix``, ``suffix``: the app's own ``on_upload`` registration, so nothing is repeated here), the app's handler
is invoked the way Lambda invokes it: ``app.handler_map[name](event, context)`` with an S3 notification event
(``Records[0].s3.bucket.name`` / ``s3.object.key``, the key URL-encoded as S3 sends it).

Like S3's asynchronous invocation, the handler runs on a worker thread after the write, never inline in moto's
request thread: the upload is answered first, and the handler reads the object back through moto's HTTP API.
Lambda's handling of a failed asynchronous invocation is emulated too (``Invocation``, per handler: the dev stack
passes the function's configured timeout, infrastructure/deploy.py's retries and its dead-letter queue): a handler
that raises, or runs past its timeout, is logged as CloudWatch would show it and invoked again up to
``max_retries`` times; when the last attempt fails too, the event goes to the dead-letter queue on moto's SQS (the
message Lambda sends: the event as its body, ``RequestID`` / ``ErrorCode`` / ``ErrorMessage`` attributes), where
``dev/queues.py`` hands it to the queue's consumer. Python cannot stop a thread: a handler past its timeout is
abandoned, not killed, and what it still writes meets the conditions on the upload's record (first writer wins).

``DEV_S3_EVENT_DELAY_SECONDS`` (default 0) delays each invocation, as S3's notification latency does on AWS: with
a second or two, an image message is sent before its processing ends, so clients show the ``processing`` state
and then handle ``attachment_ready``.
"""

from __future__ import annotations

import concurrent.futures
import fnmatch
import functools
import inspect
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from chalice.app import S3EventConfig
from chalice.local import LambdaContext

if TYPE_CHECKING:
    from chalice import Chalice

logger = logging.getLogger(__name__)

WORKER_THREADS = 4
STOP_TIMEOUT_SECONDS = 10
DELAY_ENV = "DEV_S3_EVENT_DELAY_SECONDS"


@dataclass(frozen=True)
class Invocation:
    """How Lambda runs a function's asynchronous invocations: Chalice's and Lambda's defaults unless configured."""

    timeout_seconds: float = 60.0  # Chalice's default lambda_timeout
    memory_mb: int = 128
    max_retries: int = 2  # Lambda's default for asynchronous invocations
    dead_letter_queue_url: str | None = None  # where the event goes when the last attempt failed (None: dropped)
    retry_delay_seconds: float = 1.0  # Lambda waits about a minute, then two: shortened locally


Handler = Callable[[dict[str, Any], Any], Any]
ObjectCreated = Callable[[str, str, str, int, str], None]


@dataclass(frozen=True)
class Subscription:
    """One ``@app.on_s3_event`` registration: which objects invoke which handler."""

    handler_name: str
    bucket: str
    events: tuple[str, ...]
    prefix: str
    suffix: str

    def matches(self, bucket: str, key: str, event_name: str) -> bool:
        """S3's rule: same bucket, an event type the subscription lists (``s3:ObjectCreated:*``), prefix and suffix."""
        return (
            bucket == self.bucket
            and any(fnmatch.fnmatchcase(f"s3:{event_name}", pattern) for pattern in self.events)
            and key.startswith(self.prefix)
            and key.endswith(self.suffix)
        )


def delay_from_environ(environ: Mapping[str, str]) -> float:
    """``DEV_S3_EVENT_DELAY_SECONDS`` (seconds, >= 0); ValueError names a bad value."""
    raw = environ.get(DELAY_ENV) or "0"
    try:
        delay = float(raw)
    except ValueError:
        delay = -1.0
    if not 0 <= delay <= 60:
        raise ValueError(f"{DELAY_ENV}={raw!r} is not a number of seconds between 0 and 60")
    return delay


def subscriptions(app: Chalice) -> list[Subscription]:
    """The app's S3 event sources, as ``chalice deploy`` would configure the bucket's notifications."""
    return [
        Subscription(source.name, source.bucket, tuple(source.events), source.prefix or "", source.suffix or "")
        for source in app.event_sources
        if isinstance(source, S3EventConfig)
    ]


_sequencer = itertools.count(1)


def s3_event(bucket: str, key: str, event_name: str, *, size: int, etag: str, region: str) -> dict[str, Any]:
    """An S3 notification event with one record, shaped like the one S3 hands to Lambda."""
    now = time.time()
    event_time = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": event_time,
                "eventName": event_name,
                "userIdentity": {"principalId": "AWS:LOCALDEV"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": "LOCALDEV", "x-amz-id-2": "LOCALDEV"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "dev-stack",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "LOCALDEV"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        # S3 URL-encodes keys in events (spaces as '+'); the app decodes with unquote_plus.
                        "key": quote_plus(key, safe="/"),
                        "size": size,
                        "eTag": etag.strip('"'),
                        "sequencer": f"{next(_sequencer):016X}",
                    },
                },
            }
        ]
    }


# --- the moto hook -----------------------------------------------------------------------------------------------

_MARKER = "_wrapped_by_dev_s3_events"
_listener_lock = threading.Lock()
_listener: ObjectCreated | None = None


def _event_name(arguments: dict[str, Any]) -> str:
    """S3's event type for a ``put_object`` call, from how moto called it."""
    if arguments.get("disable_notification"):
        return "ObjectCreated:Copy"  # only CopyObject turns moto's own notifications off
    if arguments.get("multipart") is not None:
        return "ObjectCreated:CompleteMultipartUpload"
    return "ObjectCreated:Post" if arguments.get("request_method") == "POST" else "ObjectCreated:Put"


def _install_hook() -> None:
    """Wrap ``S3Backend.put_object`` once per process; the wrapper tells the current listener, if any."""
    from moto.s3.models import S3Backend

    original = S3Backend.put_object
    if getattr(original, _MARKER, False):
        return
    signature = inspect.signature(original)

    @functools.wraps(original)
    def put_object(self: S3Backend, *args: Any, **kwargs: Any) -> Any:
        created = original(self, *args, **kwargs)
        listener = _listener
        if listener is not None:
            arguments = signature.bind(self, *args, **kwargs).arguments
            try:
                listener(created.bucket_name, created.name, _event_name(arguments), created.size, created.etag)
            except Exception:  # never fail the upload itself
                logger.exception("S3 event for s3://%s/%s not scheduled", created.bucket_name, created.name)
        return created

    setattr(put_object, _MARKER, True)
    S3Backend.put_object = put_object  # type: ignore[method-assign]


class S3EventEmulator:
    """Invokes the app's S3 event handlers for the objects moto creates, between ``start()`` and ``stop()``."""

    def __init__(
        self,
        app: Chalice,
        *,
        stage: str,
        region: str,
        delay_seconds: float = 0.0,
        invocations: Mapping[str, Invocation] | None = None,
        sqs: Any = None,
    ) -> None:
        self.app = app
        self.stage = stage
        self.region = region
        self.delay_seconds = delay_seconds
        self.invocations = dict(invocations or {})  # handler name -> how it runs
        self.sqs = sqs  # the SQS client dead-letter queues are written with
        self._stopping = threading.Event()
        self.subscriptions = subscriptions(app)
        self._executor = concurrent.futures.ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="s3-event-lambda")
        self._in_flight: set[concurrent.futures.Future[None]] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start receiving moto's object writes (one emulator per process at a time)."""
        global _listener
        _install_hook()
        with _listener_lock:
            if _listener is not None:
                raise RuntimeError("another S3EventEmulator is running in this process")
            _listener = self._object_created
        names = ", ".join(f"{s.handler_name} (s3://{s.bucket}/{s.prefix}*{s.suffix})" for s in self.subscriptions)
        logger.info("S3 upload events emulated for %s", names or "no handler")

    def stop(self) -> None:
        """Stop listening, then wait (bounded) for the handlers already running; queued ones are dropped."""
        global _listener
        with _listener_lock:
            if _listener == self._object_created:
                _listener = None
        self._stopping.set()  # a delayed invocation still waiting runs now
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            running = set(self._in_flight)
        concurrent.futures.wait(running, timeout=STOP_TIMEOUT_SECONDS)

    def drain(self, timeout: float = STOP_TIMEOUT_SECONDS) -> bool:
        """Wait until every invocation scheduled so far has ended (retries included); False on timeout."""
        with self._lock:
            running = set(self._in_flight)
        _, pending = concurrent.futures.wait(running, timeout=timeout)
        return not pending

    def _object_created(self, bucket: str, key: str, event_name: str, size: int, etag: str) -> None:
        """Called in moto's request thread: schedule, never run, the matching handlers."""
        for subscription in self.subscriptions:
            if subscription.matches(bucket, key, event_name):
                event = s3_event(bucket, key, event_name, size=size, etag=etag, region=self.region)
                try:
                    future = self._executor.submit(self._invoke, subscription.handler_name, event)
                except RuntimeError:  # stop() shut the pool down while this upload was being written
                    logger.info("stack stopping: S3 event for %s dropped", key)
                    return
                with self._lock:
                    self._in_flight.add(future)
                future.add_done_callback(self._done)

    def _done(self, future: concurrent.futures.Future[None]) -> None:
        with self._lock:
            self._in_flight.discard(future)

    def _invoke(self, handler_name: str, event: dict[str, Any]) -> None:
        """One asynchronous Lambda invocation of the handler Chalice registered for the event source, with Lambda's
        retries and dead-letter queue."""
        settings = self.invocations.get(handler_name, Invocation())
        function_name = f"{self.app.app_name}-{self.stage}-{handler_name}"
        key = event["Records"][0]["s3"]["object"]["key"]
        if self.delay_seconds:
            self._stopping.wait(self.delay_seconds)
        error = ""
        for attempt in range(settings.max_retries + 1):
            if attempt:
                if self._stopping.wait(settings.retry_delay_seconds):
                    return  # the stack is stopping
                logger.info("%s: retry %d of %d for s3 key %s", function_name, attempt, settings.max_retries, key)
            started = time.monotonic()
            error = self._attempt(handler_name, function_name, event, settings)
            if self._stopping.is_set():
                return
            if not error:
                logger.info("%s handled %s in %.0f ms", function_name, key, (time.monotonic() - started) * 1000)
                return
            logger.error("%s failed for s3 key %s: %s", function_name, key, error)
        self._dead_letter(function_name, event, settings, error)

    def _attempt(self, handler_name: str, function_name: str, event: dict[str, Any], settings: Invocation) -> str:
        """Run the handler once within its timeout: what went wrong ('' when it returned)."""
        handler: Handler = self.app.handler_map[handler_name]
        context = LambdaContext(function_name, settings.memory_mb, int(settings.timeout_seconds * 1000))
        outcome: list[BaseException] = []
        finished = threading.Event()

        def run() -> None:
            try:
                handler(event, context)
            except BaseException as exc:  # what Lambda reports as the invocation's error
                logger.debug("%s raised", function_name, exc_info=True)
                outcome.append(exc)
            finally:
                finished.set()

        threading.Thread(target=run, name=f"{function_name}-attempt", daemon=True).start()
        deadline = time.monotonic() + settings.timeout_seconds
        while not finished.wait(min(0.2, max(deadline - time.monotonic(), 0))):
            if self._stopping.is_set():
                return ""  # the stack is stopping: nobody waits for this one any more
            if time.monotonic() >= deadline:
                return f"Task timed out after {settings.timeout_seconds:.2f} seconds"
        return f"{type(outcome[0]).__name__}: {outcome[0]}" if outcome else ""

    def _dead_letter(self, function_name: str, event: dict[str, Any], settings: Invocation, error: str) -> None:
        """What Lambda does with an event whose last attempt failed: send it to the function's dead-letter queue."""
        if settings.dead_letter_queue_url is None or self.sqs is None:
            logger.error("%s gave up on an event; no dead-letter queue: dropped", function_name)
            return
        if self._stopping.is_set():
            return
        self.sqs.send_message(
            QueueUrl=settings.dead_letter_queue_url,
            MessageBody=json.dumps(event),
            MessageAttributes={
                "RequestID": {"DataType": "String", "StringValue": str(uuid.uuid4())},
                "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                "ErrorMessage": {"DataType": "String", "StringValue": error[:1000] or "failed"},
            },
        )
        logger.warning(
            "%s gave up after %d attempt(s): event sent to its dead-letter queue",
            function_name,
            settings.max_retries + 1,
        )
