"""Chalice entry point: registers the blueprints, the three WebSocket handlers, the S3 upload handler, the consumer
of its dead-letter queue and the consumer of the messages table's stream.

The WebSocket handlers must live on ``app`` (Chalice does not wrap them on blueprints); each hands the raw API
Gateway event to ``chalicelib.entrypoints.ws``. Use cases and adapters are built on first use by
``chalicelib.bootstrap``, once per container.
"""

import gc

# The imports below create objects that live as long as the container; collecting while they are created only
# walks them again and again (about a tenth of the cold start, measured by ``make bench``). Freeze them at the end.
gc.disable()

from typing import Any  # noqa: E402

from chalice.app import Chalice, DynamoDBEvent, S3Event, SQSEvent, WebsocketEvent  # noqa: E402

from chalicelib import logs  # noqa: E402
from chalicelib.entrypoints import digests as email_digests  # noqa: E402
from chalicelib.entrypoints import (  # noqa: E402
    message_stream,
    push_queue,
    upload_failures,
    uploads,
)
from chalicelib.entrypoints import webhooks as webhook_deliveries  # noqa: E402
from chalicelib.entrypoints.http import (  # noqa: E402
    attachments,
    docs,
    internal,
    me,
    messages,
    moderation,
)
from chalicelib.entrypoints.http import notifications as notification_routes  # noqa: E402
from chalicelib.entrypoints.http import push as push_routes  # noqa: E402
from chalicelib.entrypoints.ws import dispatcher as socket  # noqa: E402
from chalicelib.settings import get_settings  # noqa: E402

logs.configure()
app = Chalice(app_name="crochet-messaging", configure_logs=False)
app.experimental_feature_flags.update(["WEBSOCKETS"])
for blueprint in (
    messages.blueprint,
    attachments.blueprint,
    internal.blueprint,
    docs.blueprint,
    me.blueprint,
    moderation.blueprint,
):
    app.register_blueprint(blueprint, url_prefix="/api")
app.register_blueprint(notification_routes.blueprint, url_prefix="/api")
app.register_blueprint(push_routes.blueprint, url_prefix="/api")


@app.on_ws_connect()
def connect(event: WebsocketEvent) -> dict[str, Any]:
    return socket.on_connect(event.to_dict())


@app.on_ws_message()
def message(event: WebsocketEvent) -> dict[str, Any]:
    return socket.on_message(event.to_dict())


@app.on_ws_disconnect()
def disconnect(event: WebsocketEvent) -> dict[str, Any]:
    return socket.on_disconnect(event.to_dict())


@app.on_s3_event(
    bucket=get_settings().attachments_bucket,
    events=["s3:ObjectCreated:*"],
    prefix="conversations/",
    suffix="/original",
)
def on_upload(event: S3Event) -> None:
    uploads.on_uploaded(event.bucket, event.key)


# on_upload's dead-letter queue (infrastructure/README.md): what processing could not finish is rejected and its room
# told. One message per invocation (a poison message never drags others to the queue's own dead letters); at most two
# at once, within the function's reserved concurrency.
@app.on_sqs_message(queue=get_settings().upload_failures_queue, batch_size=1, maximum_concurrency=2)
def on_upload_failure(event: SQSEvent) -> None:
    upload_failures.on_messages(record.to_dict() for record in event)


# Issue 18: webhook events to the platform, one per invocation; a failed attempt sets its own backoff
# (ChangeMessageVisibility) and raises, so the queue keeps it until its redrive moves it to the dead letters.
@app.on_sqs_message(queue=get_settings().webhook_queue, batch_size=1, maximum_concurrency=2)
def on_webhook(event: SQSEvent) -> None:
    webhook_deliveries.on_messages(record.to_dict() for record in event)


# Issue 18: email digest windows (delayed messages, chained past SQS's 900 s), one per invocation, idempotent.
@app.on_sqs_message(queue=get_settings().digest_queue, batch_size=1, maximum_concurrency=2)
def on_email_digest(event: SQSEvent) -> None:
    email_digests.on_messages(record.to_dict() for record in event)


# Web Push (chalicelib/entrypoints/push_queue.py): one push job per invocation (a job retried after a 429 or 5xx
# never drags others along); at most five at once, within the function's reserved concurrency.
@app.on_sqs_message(queue=get_settings().push_queue, batch_size=1, maximum_concurrency=5)
def on_push(event: SQSEvent) -> None:
    push_queue.on_messages(record.to_dict() for record in event)


# The messages table's stream: one reader, fanning out to the consumers listed in chalicelib/entrypoints/
# message_stream.py (search indexing, notifications). Retries, bisect-on-error, the on-failure queue and partial batch
# responses are the event source mapping's (infrastructure/deploy.py STREAM_SOURCES; Chalice has no setting for them).
@app.on_dynamodb_record(stream_arn=get_settings().messages_stream_arn, batch_size=100, starting_position="LATEST")
def on_message_stream(event: DynamoDBEvent) -> dict[str, Any]:
    return message_stream.on_records(record.to_dict() for record in event)


# What the imports created lives until the container ends: keep it out of every later collection, which then
# walks only what requests allocate.
gc.freeze()
gc.enable()
