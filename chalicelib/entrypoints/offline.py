"""Issue 18's consumers of the messages table's stream (registered in ``message_stream.CONSUMERS``): from the batch's
decoded changes to queued work, after the send (the send gets no slower and no extra round trip).

* ``webhooks``: the events the changes make (``message.created``/``updated``/``deleted``, ``conversation.created``),
  queued for ``on_webhook``; their ids derive from the stream record, so a redelivered batch queues the same ids;
* ``email_digests``: a digest window for each new message's recipient (one conditional update per recipient; a
  window already open absorbs the message), queued for ``on_email_digest``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from chalicelib.bootstrap import services
from chalicelib.services.message_stream import MessageChange


def webhooks(changes: Sequence[MessageChange]) -> Iterable[str]:
    use_case = services().webhooks
    if use_case is not None:
        use_case.enqueue(changes)  # raises on failure: the whole batch comes back
    return []


def email_digests(changes: Sequence[MessageChange]) -> Iterable[str]:
    use_case = services().digests
    return use_case.schedule(changes) if use_case is not None else []
