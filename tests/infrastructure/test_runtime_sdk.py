"""The app on the Lambda runtime's SDK: the layer ships no boto3/botocore (``infrastructure/lambda_zips.py``), so the
functions run on whatever SDK the runtime carries, which AWS updates on its own schedule (it only moves forward).
This runs the suites that exercise the SDK (DynamoDB transactions and batches, S3 presigned POST and GET,
``@connections`` delivery, sync) on the oldest SDK the project supports, ``RUNTIME_SDK_MINIMUM``, installed from
PyPI the way the runtime holds it (boto3, botocore, s3transfer and their dependencies, ahead of everything else).

Marked ``package``: it needs PyPI, like ``chalice package``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infrastructure.deploy import ROOT
from infrastructure.lambda_zips import RUNTIME_SDK_MINIMUM

pytestmark = pytest.mark.package

SUITES = (
    "tests/integration/test_send.py",
    "tests/integration/test_websocket.py",
    "tests/integration/test_attachments.py",
    "tests/integration/test_sync.py",
)


@pytest.fixture(scope="module")
def oldest_sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("runtime-sdk")
    pins = [f"{name}=={version}" for name, version in RUNTIME_SDK_MINIMUM.items()]
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    result = subprocess.run(
        [*pip, "--target", str(target), *pins],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return target


def test_the_app_runs_on_the_oldest_runtime_sdk_it_supports(oldest_sdk: Path) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "import boto3, botocore; print(boto3.__version__, botocore.__version__)"],
        env={**os.environ, "PYTHONPATH": str(oldest_sdk)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.split() == [RUNTIME_SDK_MINIMUM["boto3"], RUNTIME_SDK_MINIMUM["botocore"]]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUITES],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(oldest_sdk)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " failed" not in result.stdout
