"""Send the webhook events in the dead-letter queue again: ``make webhooks-replay STAGE=dev``.

SQS's StartMessageMoveTask would do this on AWS, but moto lacks it, so the same code runs everywhere: receive from
``<WEBHOOK_QUEUE>-dead``, send each body unchanged to ``WEBHOOK_QUEUE`` (its event keeps its ``webhook-id``: the
platform deduplicates a replay of something it did get), then delete it from the dead letters. A message is deleted
only after its copy was accepted, so an interrupted replay sends some events twice, never loses one.

The queue names come from the stage's ``.chalice/config.json`` (``WEBHOOK_QUEUE``), else the default naming;
``STAGE=local`` replays the dev stack's queues (``AWS_ENDPOINT_URL_SQS`` pointing at its moto).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from infrastructure.policy import load_config

WAIT_SECONDS = 1


def queue_name(stage: str) -> str:
    if stage in ("local", "test"):
        return os.environ.get("WEBHOOK_QUEUE") or f"crochet-messaging-{stage}-webhooks"
    config = load_config()
    scoped = config["stages"].get(stage)
    if scoped is None:
        raise SystemExit(f"no stage {stage!r} in .chalice/config.json")
    environment = {**config.get("environment_variables", {}), **scoped.get("environment_variables", {})}
    return str(environment.get("WEBHOOK_QUEUE") or f"crochet-messaging-{stage}-webhooks")


def replay(sqs: Any, queue: str, limit: int | None = None) -> int:
    """Move up to ``limit`` (all: None) messages from ``queue``'s dead letters back to it; how many moved."""
    target = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    dead = sqs.get_queue_url(QueueName=f"{queue}-dead")["QueueUrl"]
    moved = 0
    while limit is None or moved < limit:
        batch = min(10, limit - moved) if limit is not None else 10
        received = sqs.receive_message(
            QueueUrl=dead, MaxNumberOfMessages=batch, WaitTimeSeconds=WAIT_SECONDS, VisibilityTimeout=60
        ).get("Messages", [])
        if not received:
            break
        for message in received:
            sqs.send_message(QueueUrl=target, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=dead, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infrastructure.webhooks_replay", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--stage", required=True)
    parser.add_argument("--limit", type=int, default=None, help="at most this many (default: all)")
    args = parser.parse_args(argv)
    import boto3

    if args.stage == "local" and not os.environ.get("AWS_ENDPOINT_URL_SQS"):
        # The dev stack's moto (dev/stack.py), with its fake credentials: never real AWS for the local stage.
        os.environ["AWS_ENDPOINT_URL_SQS"] = f"http://127.0.0.1:{os.environ.get('DEV_AWS_PORT') or 8002}"
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    queue = queue_name(args.stage)
    moved = replay(boto3.client("sqs", region_name=region), queue, args.limit)
    print(f"replayed {moved} webhook event(s) from {queue}-dead to {queue}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
