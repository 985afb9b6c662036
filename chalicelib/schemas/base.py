"""Shared configuration of wire models."""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from chalicelib.domain.ids import ENTITY_ID_PATTERN

EntityId = Annotated[str, StringConstraints(pattern=ENTITY_ID_PATTERN)]
OpaqueId = Annotated[str, StringConstraints(min_length=1, max_length=256)]
# ISO-8601 UTC with milliseconds and a Z (domain.clock.iso): "2026-11-24T10:15:30.123Z".
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class RequestModel(BaseModel):
    """A client's input: unknown fields are refused (no mass assignment)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", defer_build=True)


def _is_none(value: Any) -> bool:
    return value is None


class ResponseModel(BaseModel):
    """Our output, camelCase. An optional field (default None) is left out while empty; a required one that may be
    null (``nextCursor`` at the end of a list) is always there."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, defer_build=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # Set before the (deferred) serializer is built: pydantic-core then skips the field itself, as fast as
        # exclude_none, without dropping the required-nullable fields exclude_none would drop too.
        for field in cls.model_fields.values():
            if field.default is None and not field.is_required():
                field.exclude_if = _is_none

    def wire(self) -> dict[str, Any]:
        """The JSON-ready body."""
        return self.model_dump(mode="json", by_alias=True)
