"""``make webhooks-replay STAGE=...`` (infrastructure/webhooks_replay.py): the stage's queue names, and a replay on moto
that moves every dead letter back unchanged and leaves nothing behind."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from infrastructure import webhooks_replay
from tests.infrastructure.support import STAGES, stage_environment


@pytest.mark.parametrize("stage", STAGES)
def test_the_stage_names_its_webhook_queue(stage: str) -> None:
    assert webhooks_replay.queue_name(stage) == stage_environment(stage)["WEBHOOK_QUEUE"]


def test_main_replays_the_dead_letters_of_a_stage(capsys: pytest.CaptureFixture[str]) -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = webhooks_replay.queue_name("dev")
        target = sqs.create_queue(QueueName=queue)["QueueUrl"]
        dead = sqs.create_queue(QueueName=f"{queue}-dead")["QueueUrl"]
        bodies = [f'{{"webhookId": "evt_{n}", "body": "{{}}"}}' for n in range(13)]  # more than one receive's 10
        for body in bodies:
            sqs.send_message(QueueUrl=dead, MessageBody=body)

        assert webhooks_replay.main(["--stage", "dev"]) == 0

        moved = []
        while received := sqs.receive_message(QueueUrl=target, MaxNumberOfMessages=10).get("Messages", []):
            moved += [m["Body"] for m in received]
            sqs.delete_message_batch(
                QueueUrl=target,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
            )
        assert sorted(moved) == sorted(bodies)
        attributes = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["ApproximateNumberOfMessages"])
        assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert "replayed 13 webhook event(s)" in capsys.readouterr().out
