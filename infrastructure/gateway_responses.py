"""API Gateway's own answers, in the service's one error shape.

When no route matches, API Gateway answers by itself, before any Lambda runs: by default ``403 {"message":
"Missing Authentication Token"}`` — and with an ``Authorization`` header present its message quotes the header
back, bearer token included. Its throttling, oversized-request and internal errors have their own bodies too.
These gateway responses replace all of them with ``{"error": {"code", "message"}}`` and the documented codes;
``make package`` writes them into the SAM template, ``make deploy`` applies them to the deployed REST API, and the
dev stack answers unknown routes the same way (``dev/stack.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import ErrorCode


@dataclass(frozen=True)
class GatewayResponse:
    """One of API Gateway's response types, answered with a fixed status, code and message (never a context
    variable: nothing the client sent is echoed)."""

    response_type: str
    status: int
    code: ErrorCode
    message: str

    @property
    def body(self) -> str:
        return json.dumps({"error": {"code": str(self.code), "message": self.message}}, separators=(",", ":"))


GATEWAY_RESPONSES = (
    # No such resource or method: the same 404 as any missing id.
    GatewayResponse("MISSING_AUTHENTICATION_TOKEN", 404, ErrorCode.NOT_FOUND, "no such route"),
    GatewayResponse("RESOURCE_NOT_FOUND", 404, ErrorCode.NOT_FOUND, "no such route"),
    GatewayResponse("THROTTLED", 429, ErrorCode.RATE_LIMITED, "too many requests; retry shortly"),
    GatewayResponse("QUOTA_EXCEEDED", 429, ErrorCode.RATE_LIMITED, "too many requests; retry later"),
    GatewayResponse("REQUEST_TOO_LARGE", 413, ErrorCode.PAYLOAD_TOO_LARGE, "the request is too large"),
    GatewayResponse("DEFAULT_4XX", 400, ErrorCode.INVALID_REQUEST, "the request is not valid"),
    GatewayResponse("DEFAULT_5XX", 503, ErrorCode.TEMPORARILY_UNAVAILABLE, "temporarily unavailable, retry"),
)

NO_ROUTE = GATEWAY_RESPONSES[0]


def _cors_origin(allowed_origins: list[str]) -> str:
    """As the app's own CORS configuration: the one origin, or any when several are configured."""
    return allowed_origins[0] if len(allowed_origins) == 1 else "*"


def parameters(allowed_origins: list[str]) -> dict[str, str]:
    """Response headers of every gateway response: JSON, and readable by the frontend's origin (else the browser
    hides the error from the app)."""
    return {
        "gatewayresponse.header.Content-Type": "'application/json'",
        "gatewayresponse.header.Access-Control-Allow-Origin": f"'{_cors_origin(allowed_origins)}'",
    }


def sam_resources(rest_api: str, allowed_origins: list[str]) -> dict[str, Any]:
    """CloudFormation resources for the SAM template's REST API (logical id ``rest_api``)."""
    resources: dict[str, Any] = {}
    for response in GATEWAY_RESPONSES:
        logical_id = "GatewayResponse" + "".join(part.title() for part in response.response_type.split("_"))
        resources[logical_id] = {
            "Type": "AWS::ApiGateway::GatewayResponse",
            "Properties": {
                "RestApiId": {"Ref": rest_api},
                "ResponseType": response.response_type,
                "StatusCode": str(response.status),
                "ResponseParameters": parameters(allowed_origins),
                "ResponseTemplates": {"application/json": response.body},
            },
        }
    return resources


def apply(apigateway: Any, rest_api_id: str, allowed_origins: list[str]) -> None:
    """Put every gateway response on a deployed REST API (takes effect with the stage's next deployment, which
    ``chalice deploy`` makes; ``deploy.py`` runs this before it redeploys the stage)."""
    for response in GATEWAY_RESPONSES:
        apigateway.put_gateway_response(
            restApiId=rest_api_id,
            responseType=response.response_type,
            statusCode=str(response.status),
            responseParameters=parameters(allowed_origins),
            responseTemplates={"application/json": response.body},
        )
