"""Turning what a client sent into validated models: JSON text and pydantic validation, for HTTP and socket."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from chalicelib.errors import ErrorCode, InvalidRequest

P = TypeVar("P", bound=BaseModel)


def validation_details(error: ValidationError) -> list[dict[str, Any]]:
    """Field-level reasons, without echoing the (possibly large or private) input back."""
    return [
        {"field": ".".join(str(part) for part in e["loc"]) or "body", "message": e["msg"], "type": e["type"]}
        for e in error.errors(include_url=False, include_input=False, include_context=False)
    ]


def parse(model: type[P], data: Any) -> P:
    """Validate ``data`` into ``model``; InvalidRequest with field details when it does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest("the request is not valid", details=validation_details(exc)) from exc


def loads_json(raw: bytes, *, what: str) -> Any:
    """Parse UTF-8 JSON text; InvalidRequest (``invalid_json``) for anything that is not valid Unicode JSON.

    JSON's ``\\ud800`` escapes can smuggle lone surrogates past the UTF-8 check; nothing can store them, so
    they are refused here rather than failing a write later.
    """
    try:
        value = json.loads(raw.decode("utf-8"))
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeError as exc:
        raise InvalidRequest(f"the {what} is not valid Unicode", code=ErrorCode.INVALID_JSON) from exc
    except (ValueError, RecursionError) as exc:
        raise InvalidRequest(f"the {what} is not valid JSON", code=ErrorCode.INVALID_JSON) from exc
    return value
