from tests.integration.conftest import Api


def test_first_message_creates_conversation(marketplace: Api) -> None:
    sent = marketplace.send("bob", recipientId="alice", patternId="p1", content="Hi!")
    assert sent.status == 201, sent.body
    listed = marketplace.conversations("alice")
    assert listed.status == 200, listed.body
    assert listed.body["totalUnread"] == 1
