"""Chalice entry point: registers the blueprints and the three WebSocket handlers.

The WebSocket handlers must live on ``app`` (Chalice does not wrap them on blueprints); each one hands
the raw API Gateway event to ``chalicelib.ws``.
"""

import gc

# The imports below create objects that live as long as the container; collecting while they are created only
# walks them again and again (about a tenth of the cold start, measured by ``make bench``). Freeze them at the end.
gc.disable()

from typing import Any  # noqa: E402

from chalice import Chalice  # noqa: E402
from chalice.app import S3Event, WebsocketEvent  # noqa: E402

from chalicelib import logs  # noqa: E402
from chalicelib.api import attachments, internal, messages  # noqa: E402
from chalicelib.realtime import uploads  # noqa: E402
from chalicelib.settings import get_settings  # noqa: E402
from chalicelib.ws import handlers as socket  # noqa: E402

logs.configure()
app = Chalice(app_name="crochet-messaging", configure_logs=False)
app.experimental_feature_flags.update(["WEBSOCKETS"])
app.register_blueprint(messages.blueprint, url_prefix="/api")
app.register_blueprint(attachments.blueprint, url_prefix="/api")
app.register_blueprint(internal.blueprint, url_prefix="/api")


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
    logs.clear()
    logs.bind(route="s3:ObjectCreated", bucket=event.bucket)
    uploads.on_uploaded(event.key)


# What the imports created lives until the container ends: keep it out of every later collection, which then
# walks only what requests allocate.
gc.freeze()
gc.enable()
