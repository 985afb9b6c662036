"""Chalice entry point: registers the blueprints and the three WebSocket handlers.

The WebSocket handlers must live on ``app`` (Chalice does not wrap them on blueprints); each one hands
the raw API Gateway event to ``chalicelib.ws``.
"""

from typing import Any

import boto3
from chalice import Chalice
from chalice.app import S3Event, WebsocketEvent

from chalicelib import logs
from chalicelib.api import attachments, internal, messages
from chalicelib.realtime import uploads
from chalicelib.settings import get_settings
from chalicelib.ws import handlers as socket

logs.configure()
app = Chalice(app_name="crochet-messaging", configure_logs=False)
app.experimental_feature_flags.update(["WEBSOCKETS"])
app.websocket_api.session = boto3.session.Session()
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
