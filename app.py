"""Chalice entry point: registers the blueprints, the three WebSocket handlers, the S3 upload handler, the consumer
of its dead-letter queue and the consumer of the messages table's stream.

The WebSocket handlers must live on ``app`` (Chalice does not wrap them on blueprints); each hands the raw API
Gateway event to ``chalicelib.entrypoints.ws``. Use cases and adapters are built on first use by
``chalicelib.bootstrap``, once per container.

Every function of the package runs this module, but each one's init (Lambda's init phase, ``bench/cold_start.py``)
imports only its own entry module, which loads the use cases its handler calls (``bootstrap.preload``): the
webhook consumer never loads the REST blueprints and wire models, the socket functions never load the upload
consumers. Lambda names the function it starts in ``_HANDLER``; where that is unset (``chalice package`` and
``deploy``, the dev stack, the tests) every blueprint is registered and every entry module imported.
"""

import gc

# The imports below create objects that live as long as the container; collecting while they are created only
# walks them again and again (about a tenth of the cold start, measured by ``make bench``). Freeze them at the end.
gc.disable()

import importlib  # noqa: E402
import os  # noqa: E402
from typing import Any  # noqa: E402

from chalice.app import Chalice, DynamoDBEvent, S3Event, SQSEvent, WebsocketEvent  # noqa: E402

from chalicelib import logs  # noqa: E402
from chalicelib.settings import get_settings  # noqa: E402

# Lambda names the function it starts in ``_HANDLER`` ("app.on_webhook"): each function's init imports its own entry
# point only (the REST function: the blueprints), not the wire models and use cases of the others. Where it is unset
# (chalice package and deploy, the dev stack, the tests) every entry point is imported and every blueprint registered.
_STARTING = os.environ.get("_HANDLER", "")
REST = "app.app"
# Each handler's entry module; the handlers import theirs again when called (a dictionary lookup once imported).
ENTRY_MODULES = {
    "app.connect": "chalicelib.entrypoints.ws.dispatcher",
    "app.message": "chalicelib.entrypoints.ws.dispatcher",
    "app.disconnect": "chalicelib.entrypoints.ws.dispatcher",
    "app.on_upload": "chalicelib.entrypoints.uploads",
    "app.on_upload_failure": "chalicelib.entrypoints.upload_failures",
    "app.on_webhook": "chalicelib.entrypoints.webhooks",
    "app.on_email_digest": "chalicelib.entrypoints.digests",
    "app.on_push": "chalicelib.entrypoints.push_queue",
    "app.on_message_stream": "chalicelib.entrypoints.message_stream",
}


def _starts(handler: str) -> bool:
    return not _STARTING or handler == _STARTING


logs.configure()
app = Chalice(app_name="crochet-messaging", configure_logs=False)
app.experimental_feature_flags.update(["WEBSOCKETS"])
if _starts(REST):
    from chalicelib.entrypoints.http import (
        attachments,
        docs,
        internal,
        me,
        messages,
        moderation,
    )
    from chalicelib.entrypoints.http import notifications as notification_routes
    from chalicelib.entrypoints.http import push as push_routes

    for blueprint in (
        messages.blueprint,
        attachments.blueprint,
        internal.blueprint,
        docs.blueprint,
        me.blueprint,
        moderation.blueprint,
        notification_routes.blueprint,
        push_routes.blueprint,
    ):
        app.register_blueprint(blueprint, url_prefix="/api")
for _handler, _module in ENTRY_MODULES.items():
    if _starts(_handler):
        importlib.import_module(_module)
if _starts("app.message"):
    from chalicelib.entrypoints.ws import dispatcher

    dispatcher.preload_frames()


@app.on_ws_connect()
def connect(event: WebsocketEvent) -> dict[str, Any]:
    from chalicelib.entrypoints.ws import dispatcher

    return dispatcher.on_connect(event.to_dict())


@app.on_ws_message()
def message(event: WebsocketEvent) -> dict[str, Any]:
    from chalicelib.entrypoints.ws import dispatcher

    return dispatcher.on_message(event.to_dict())


@app.on_ws_disconnect()
def disconnect(event: WebsocketEvent) -> dict[str, Any]:
    from chalicelib.entrypoints.ws import dispatcher

    return dispatcher.on_disconnect(event.to_dict())


@app.on_s3_event(
    bucket=get_settings().attachments_bucket,
    events=["s3:ObjectCreated:*"],
    prefix="conversations/",
    suffix="/original",
)
def on_upload(event: S3Event) -> None:
    from chalicelib.entrypoints import uploads

    uploads.on_uploaded(event.bucket, event.key)


# on_upload's dead-letter queue (infrastructure/README.md): what processing could not finish is rejected and its room
# told. One message per invocation (a poison message never drags others to the queue's own dead letters); at most two
# at once, within the function's reserved concurrency.
@app.on_sqs_message(queue=get_settings().upload_failures_queue, batch_size=1, maximum_concurrency=2)
def on_upload_failure(event: SQSEvent) -> None:
    from chalicelib.entrypoints import upload_failures

    upload_failures.on_messages(record.to_dict() for record in event)


# Issue 18: webhook events to the platform, one per invocation; a failed attempt sets its own backoff
# (ChangeMessageVisibility) and raises, so the queue keeps it until its redrive moves it to the dead letters.
@app.on_sqs_message(queue=get_settings().webhook_queue, batch_size=1, maximum_concurrency=2)
def on_webhook(event: SQSEvent) -> None:
    from chalicelib.entrypoints import webhooks

    webhooks.on_messages(record.to_dict() for record in event)


# Issue 18: email digest windows (delayed messages, chained past SQS's 900 s), one per invocation, idempotent.
@app.on_sqs_message(queue=get_settings().digest_queue, batch_size=1, maximum_concurrency=2)
def on_email_digest(event: SQSEvent) -> None:
    from chalicelib.entrypoints import digests

    digests.on_messages(record.to_dict() for record in event)


# Web Push (chalicelib/entrypoints/push_queue.py): one push job per invocation (a job retried after a 429 or 5xx
# never drags others along); at most five at once, within the function's reserved concurrency.
@app.on_sqs_message(queue=get_settings().push_queue, batch_size=1, maximum_concurrency=5)
def on_push(event: SQSEvent) -> None:
    from chalicelib.entrypoints import push_queue

    push_queue.on_messages(record.to_dict() for record in event)


# The messages table's stream: one reader, fanning out to the consumers listed in chalicelib/entrypoints/
# message_stream.py (search indexing, notifications). Retries, bisect-on-error, the on-failure queue and partial batch
# responses are the event source mapping's (infrastructure/deploy.py STREAM_SOURCES; Chalice has no setting for them).
@app.on_dynamodb_record(stream_arn=get_settings().messages_stream_arn, batch_size=100, starting_position="LATEST")
def on_message_stream(event: DynamoDBEvent) -> dict[str, Any]:
    from chalicelib.entrypoints import message_stream

    return message_stream.on_records(record.to_dict() for record in event)


# What the imports created lives until the container ends: keep it out of every later collection, which then
# walks only what requests allocate.
gc.freeze()
gc.enable()
