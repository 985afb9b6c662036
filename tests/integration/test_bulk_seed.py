"""``bench/seed.py``, the seeder of ``make bench``'s sizes and of ``DEV_SEED=large``: what it puts into moto's tables
reads back through the API as the same sends would have left it, a send afterwards carries on from it, growing again
to the same size adds nothing, and the chat's room (joined connections) survives a grown history."""

from __future__ import annotations

from bench import seed
from chalicelib.adapters.dynamodb import Conversation
from tests.integration.conftest import Api

CONTENT = "message {} about the border of the blanket"


def test_seeded_data_reads_back_as_sends_leave_it_and_growing_again_adds_nothing(api: Api) -> None:
    world = seed.start()
    Conversation(world.chat_id).update(actions=[Conversation.room.add({"conn-joined-before"})])

    assert seed.grow_inbox(world, 3) > 0
    assert seed.grow_history(world, 30) > 0

    listed = api.conversations("alice").body
    assert len(listed["conversations"]) == 4
    # One unread message from each partner; bob wrote the chat's odd messages (15 of 30), alice the even ones.
    assert listed["totalUnread"] == 3 + 15
    assert api.conversations("bob").body["totalUnread"] == 15
    detail = api.conversation("alice", world.chat_id, "&limit=5").body
    assert [m["content"] for m in detail["messages"]] == [CONTENT.format(seq) for seq in range(26, 31)]
    assert detail["conversation"]["unreadCount"] == 15
    assert "conn-joined-before" in (Conversation.get(world.chat_id, consistent_read=True).room or set())

    assert api.send("bob", conversationId=world.chat_id, content="after the seed").status == 201
    after = api.conversation("alice", world.chat_id, "&limit=2").body
    assert [m["content"] for m in after["messages"]] == [CONTENT.format(30), "after the seed"]
    assert after["conversation"]["unreadCount"] == 16

    again = seed.World().observe()
    assert (again.partners, again.history) == (3, 31)
    assert seed.grow_inbox(again, 3) == 0
    assert seed.grow_history(again, 31) == 0
    assert api.conversations("alice").body["totalUnread"] == 3 + 16
    assert seed.feed_size("alice") == 3 + 31
