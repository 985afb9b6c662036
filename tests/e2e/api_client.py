"""The REST API as one user of the running dev stack sees it: one method per thing a person does."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests

TIMEOUT_SECONDS = 10


@dataclass
class Caller:
    """Real HTTP calls to ``api_url`` with ``token`` (no token: an anonymous caller)."""

    api_url: str
    token: str | None = None
    http: requests.Session = field(default_factory=requests.Session, repr=False)

    def request(self, method: str, path: str, body: Any = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return self.http.request(method, self.api_url + path, json=body, headers=headers, timeout=TIMEOUT_SECONDS)

    def open_pattern_conversation(self, pattern_id: str) -> requests.Response:
        return self.request("GET", f"/api/messages/pattern/{pattern_id}")

    def send(self, conversation_id: str, content: str) -> requests.Response:
        return self.request("POST", "/api/messages", {"conversationId": conversation_id, "content": content})

    def send_to(self, recipient_id: str, content: str) -> requests.Response:
        return self.request("POST", "/api/messages", {"recipientId": recipient_id, "content": content})

    def send_photo(self, conversation_id: str, png: bytes, file_name: str, caption: str = "") -> requests.Response:
        """A photo message: the presigned POST, the file straight to the bucket, then the message with it."""
        size = len(png)
        ticket = json_of(
            self.request(
                "POST",
                "/api/attachments",
                {"conversationId": conversation_id, "fileName": file_name, "contentType": "image/png", "size": size},
            ),
            201,
        )
        upload = ticket["upload"]
        stored = requests.post(
            upload["url"], data=upload["fields"], files={"file": (file_name, png, "image/png")}, timeout=TIMEOUT_SECONDS
        )
        stored.raise_for_status()
        body = {
            "conversationId": conversation_id,
            "content": caption,
            "attachment": {"attachmentId": ticket["attachmentId"]},
        }
        return self.request("POST", "/api/messages", body)

    def list_conversations(self) -> requests.Response:
        return self.request("GET", "/api/messages/conversations")

    def open_conversation(self, conversation_id: str) -> requests.Response:
        return self.request("GET", f"/api/messages?conversationId={conversation_id}")

    def mark_read(self, message_id: str) -> requests.Response:
        return self.request("PUT", f"/api/messages/{message_id}/read", {})

    def edit(self, message_id: str, content: str) -> requests.Response:
        return self.request("PATCH", f"/api/messages/{message_id}", {"content": content})

    def delete(self, message_id: str) -> requests.Response:
        return self.request("DELETE", f"/api/messages/{message_id}")

    def react(self, message_id: str, path_segment: str, *, add: bool = True) -> requests.Response:
        """``path_segment``: the emoji as it goes into the URL (percent-encoded UTF-8, or not)."""
        return self.request("PUT" if add else "DELETE", f"/api/messages/{message_id}/reactions/{path_segment}")


def json_of(response: requests.Response, status: int) -> dict[str, Any]:
    """The body of a response that must have ``status`` (the body is in the failure message otherwise)."""
    assert response.status_code == status, (
        f"{response.request.method} {response.url}: {response.status_code} {response.text}"
    )
    return response.json()


def conversation_in(listing: dict[str, Any], conversation_id: str) -> dict[str, Any]:
    """One conversation of a ``/api/messages/conversations`` body."""
    matches = [c for c in listing["conversations"] if c["id"] == conversation_id]
    assert matches, f"{conversation_id} not in {[c['id'] for c in listing['conversations']]}"
    return matches[0]
