"""A request no route matches gets the one error shape through the running stack, as on AWS (red-team item 17)."""

from __future__ import annotations

import pytest
import requests

from dev.seed import ALICE
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/nope"), ("POST", "/api/messages/conversations/x/y/z"), ("GET", "/"), ("DELETE", "/api/me/x")],
)
@pytest.mark.parametrize("with_token", [False, True])
def test_an_unknown_route_is_404_not_found_and_echoes_nothing(
    stack: RunningStack, method: str, path: str, with_token: bool
) -> None:
    token = stack.ready["tokens"][ALICE]
    headers = {"Authorization": f"Bearer {token}"} if with_token else {}

    response = requests.request(method, stack.api_url + path, headers=headers, timeout=10)

    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"error": {"code": "not_found", "message": "no such route"}}
    assert token not in response.text and "Authorization" not in response.text


def test_a_known_route_is_still_answered_by_the_app(stack: RunningStack) -> None:
    response = requests.get(stack.api_url + "/api/messages/conversations", timeout=10)

    assert response.status_code == 401  # the app's own answer: no token
    assert response.json()["error"]["code"] != "not_found"
