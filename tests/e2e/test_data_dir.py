"""The dev stack keeps its data between runs (``DEV_DATA_DIR``), and ``make dev-reset`` empties it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from chalicelib.domain.ids import conversation_id_for
from dev.seed import ALICE, BOB, CAROL, OPENING_MESSAGE
from dev.stack import PORT_VARIABLES
from tests.e2e.api_client import json_of
from tests.e2e.conftest import ROOT, RunningStack, free_port, start_stack

pytestmark = pytest.mark.e2e

OPENING = conversation_id_for(BOB, ALICE, None)
NOTE = "Carol's question survives a restart"


def s3_of(stack: RunningStack) -> object:
    return boto3.client("s3", endpoint_url=stack.aws_url, region_name="us-east-1")


def contents(stack: RunningStack, user: str, conversation_id: str) -> list[str]:
    return [m["content"] for m in json_of(stack.caller(user).open_conversation(conversation_id), 200)["messages"]]


def make_dev_reset(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEV_DATA_DIR": str(data_dir)}
    return subprocess.run(["make", "-s", "dev-reset"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_a_restarted_stack_has_its_data_and_dev_reset_empties_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "kept"
    with start_stack(tmp_path / "first", DEV_DATA_DIR=str(data_dir)) as first:
        sent = json_of(first.caller(CAROL).send_to(BOB, NOTE), 201)
        conversation_id = sent["conversation"]["id"]
        bucket = first.ready["attachmentsBucket"]
        s3_of(first).put_object(
            Bucket=bucket, Key="kept/notes.txt", Body=b"granny squares", ContentType="text/plain", Tagging="state=ready"
        )
        # A second stack on the same folder would lose one of the two runs' data: it refuses, naming the first.
        env = {**first.env, **{name: str(free_port()) for name in PORT_VARIABLES}}
        refused = subprocess.run(
            [sys.executable, "-m", "dev.stack"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert refused.returncode == 1
        assert f"pid {first.ready['pid']}" in refused.stderr
        reset_while_running = make_dev_reset(data_dir)
        assert reset_while_running.returncode != 0
        assert "stop it first" in reset_while_running.stderr
    assert "dev.stack: saved" in first.output()

    with start_stack(tmp_path / "second", DEV_DATA_DIR=str(data_dir)) as second:
        assert contents(second, BOB, conversation_id) == [NOTE]
        # The demo seeding found its opening message and did not send it again.
        assert contents(second, ALICE, OPENING) == [OPENING_MESSAGE["content"]]
        kept = s3_of(second).get_object(Bucket=bucket, Key="kept/notes.txt")
        assert (kept["Body"].read(), kept["ContentType"]) == (b"granny squares", "text/plain")
        tags = s3_of(second).get_object_tagging(Bucket=bucket, Key="kept/notes.txt")["TagSet"]
        assert tags == [{"Key": "state", "Value": "ready"}]
        assert second.ready["loaded"]["items"] > 0

    reset = make_dev_reset(data_dir)
    assert reset.returncode == 0, reset.stderr
    assert f"emptied {data_dir}" in reset.stdout

    with start_stack(tmp_path / "third", DEV_DATA_DIR=str(data_dir)) as third:
        assert third.ready["loaded"]["items"] == 0
        response = third.caller(BOB).open_conversation(conversation_id)
        assert json_of(response, 404)["error"]["code"] == "not_found"
        assert contents(third, ALICE, OPENING) == [OPENING_MESSAGE["content"]]  # the demo data is back
        assert "Contents" not in s3_of(third).list_objects_v2(Bucket=bucket)


def test_a_stack_with_data_dir_off_keeps_nothing(tmp_path: Path) -> None:
    with start_stack(tmp_path, DEV_DATA_DIR="off") as stack:
        assert stack.ready["dataDir"] is None
        json_of(stack.caller(CAROL).send_to(BOB, NOTE), 201)
    assert not (tmp_path / "data").exists()
    assert "saved" not in stack.output()
