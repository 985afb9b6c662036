"""Client frames: ``{"action": NAME, ...fields}`` (API Gateway routes on ``$request.body.action``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import StrictBool, StringConstraints

from chalicelib.schemas.base import OpaqueId, RequestModel

RequestId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


class ConversationFrame(RequestModel):
    """``join_conversation``, ``leave_conversation``, ``typing_start``, ``typing_stop``."""

    conversation_id: OpaqueId


class ReadFrame(RequestModel):
    """``message_read``: the same as ``PUT /api/messages/{messageId}/read``."""

    message_id: OpaqueId
    mark_conversation: StrictBool = False


class PingFrame(RequestModel):
    """``ping``: keeps API Gateway's 10-minute idle timeout at bay."""
