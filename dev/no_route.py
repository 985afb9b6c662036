"""The local REST API answers a request no route matches as API Gateway does once its gateway responses are set.

Chalice's local server answers like a bare API Gateway: ``403 {"message": "Missing Authentication Token"}``, and
with an ``Authorization`` header a message quoting that header, bearer token included. Deployed stages replace
those answers with ``infrastructure/gateway_responses.py`` (``make package`` and ``make deploy`` both): the
service's one error shape, 404 ``not_found``, nothing echoed. This handler gives the dev stack the same answer,
so a frontend meets locally what it meets on AWS.
"""

from __future__ import annotations

import functools
from typing import Any

from chalice.local import ChaliceRequestHandler, ForbiddenError, LocalDevServer, LocalGatewayException

from infrastructure.gateway_responses import NO_ROUTE, parameters

# The two bodies Chalice's local gateway answers with when no route matches (chalice/local.py, handle_request).
_NO_ROUTE_BODIES = (b'{"message": "Missing Authentication Token"}', b'{"message": "Authorization header requires')


class NoRouteHandler(ChaliceRequestHandler):
    """Chalice's request handler, with the deployed stages' answer for an unknown route."""

    def _send_error_response(self, error: LocalGatewayException) -> None:
        if isinstance(error, ForbiddenError) and (error.body or b"").startswith(_NO_ROUTE_BODIES):
            headers: dict[str, Any] = {"x-amzn-ErrorType": "NotFoundException"}
            for name, value in parameters(_allowed_origins()).items():
                headers[name.removeprefix("gatewayresponse.header.")] = value.strip("'")
            self._send_http_response(NO_ROUTE.status, headers, NO_ROUTE.body)
            return
        super()._send_error_response(error)


def _allowed_origins() -> list[str]:
    from chalicelib.settings import get_settings

    return list(get_settings().allowed_origins)


def answer_unknown_routes(server: LocalDevServer, app: Any, config: Any) -> None:
    """Make ``server`` (``chalice.local.create_local_server``'s) answer unknown routes with ``NO_ROUTE``."""
    server.server.RequestHandlerClass = functools.partial(NoRouteHandler, app_object=app, config=config)
