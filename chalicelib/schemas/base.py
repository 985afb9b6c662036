"""Shared configuration of wire models."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic.alias_generators import to_camel

from chalicelib.domain.ids import ENTITY_ID_PATTERN

EntityId = Annotated[str, StringConstraints(pattern=ENTITY_ID_PATTERN)]
OpaqueId = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class RequestModel(BaseModel):
    """A client's input: unknown fields are refused (no mass assignment)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", defer_build=True)


class ResponseModel(BaseModel):
    """Our output: camelCase, optional fields left out when empty."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, defer_build=True)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
