"""Client frames: ``{"action": NAME, ...fields}`` (API Gateway routes on ``$request.body.action``)."""

from typing import Annotated, Any

from pydantic import Field, StrictBool, StringConstraints, field_validator

from chalicelib.schemas.base import EntityId, OpaqueId, RequestModel
from chalicelib.schemas.requests import EditMessageRequest
from chalicelib.settings import get_settings

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


class EditFrame(EditMessageRequest):
    """``edit_message``: the same as ``PATCH /api/messages/{messageId}``."""

    message_id: OpaqueId


class MessageFrame(RequestModel):
    """``delete_message``: the same as ``DELETE /api/messages/{messageId}``."""

    message_id: OpaqueId


class ReactionFrame(RequestModel):
    """``add_reaction`` / ``remove_reaction``: the same as ``PUT`` / ``DELETE
    /api/messages/{messageId}/reactions/{emoji}`` (the emoji as text, not URL-encoded)."""

    message_id: OpaqueId
    emoji: Annotated[str, StringConstraints(min_length=1, max_length=32)]


def _document_watch_max(schema: dict[str, Any]) -> None:
    schema["maxItems"] = get_settings().presence_watch_max


class WatchPresenceFrame(RequestModel):
    """``watch_presence``: the users whose ``presence_update`` this connection receives from now on (replacing its
    previous list). Users the caller shares no conversation with are ignored."""

    user_ids: list[EntityId] = Field(json_schema_extra=_document_watch_max)

    @field_validator("user_ids")
    @classmethod
    def _at_most(cls, value: list[str]) -> list[str]:
        maximum = get_settings().presence_watch_max
        if len(value) > maximum:
            raise ValueError(f"watch at most {maximum} users")
        return list(dict.fromkeys(value))
