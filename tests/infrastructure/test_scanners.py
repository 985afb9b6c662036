"""The security scanners of `make scan`: checkov over the infrastructure template, bandit over the app's code.

Each skip says why (``.checkov.yaml`` comments, ``# nosec <id> # <reason>``); these tests hold that line, and show
that the scanners still fail what is not skipped (the packaged SAM template: test_package.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from infrastructure.deploy import ROOT, TEMPLATE
from tests.infrastructure.support import checkov

BANDIT = Path(sys.executable).with_name("bandit")
CHECKOV_CONFIG = ROOT / ".checkov.yaml"


def test_checkov_passes_the_infrastructure_template() -> None:
    report = checkov(TEMPLATE)

    assert report["results"]["failed_checks"] == [], [
        (c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]
    ]
    assert report["summary"]["passed"] >= 18


def test_checkov_still_fails_what_is_not_skipped(tmp_path: Path) -> None:
    # A bucket without public-access block or encryption, a table without point-in-time recovery.
    careless = tmp_path / "careless.yaml"
    careless.write_text(
        "Resources:\n"
        "  Bucket: {Type: AWS::S3::Bucket}\n"
        "  Table:\n"
        "    Type: AWS::DynamoDB::Table\n"
        "    Properties:\n"
        "      KeySchema: [{AttributeName: id, KeyType: HASH}]\n"
        "      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]\n"
        "      BillingMode: PAY_PER_REQUEST\n"
    )

    failed = {check["check_id"] for check in checkov(careless)["results"]["failed_checks"]}

    assert {"CKV_AWS_28", "CKV_AWS_53", "CKV_AWS_54"} <= failed  # PITR, public-access block settings


def test_every_checkov_skip_says_why() -> None:
    lines = CHECKOV_CONFIG.read_text().splitlines()
    skips = yaml.safe_load(CHECKOV_CONFIG.read_text())["skip-check"]
    assert skips, "no skips at all: drop this test's premise"
    for check in skips:
        (index,) = [i for i, line in enumerate(lines) if line.strip() == f"- {check}"]
        # the comment block right above the skip (or above the group of skips it belongs to) gives the reason
        above = lines[:index]
        while above and re.fullmatch(r"\s*- CKV_\w+", above[-1]):
            above.pop()
        assert above and above[-1].strip().startswith("#") and len(above[-1]) > 30, f"{check}: no reason above it"


def test_bandit_passes_the_app() -> None:
    result = subprocess.run(
        [str(BANDIT), "-q", "-r", "chalicelib", "app.py"], cwd=ROOT, capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_nosec_names_its_check_and_its_reason() -> None:
    for path in [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "nosec" in line:
                assert re.search(r"# nosec B\d{3} # \w.{8,}", line), f"{path.relative_to(ROOT)}:{number}: {line}"


def test_bandit_still_flags_what_has_no_nosec(tmp_path: Path) -> None:
    careless = tmp_path / "careless.py"
    careless.write_text('import subprocess\nPASSWORD = "hunter2"\nsubprocess.call("ls " + input(), shell=True)\n')

    result = subprocess.run([str(BANDIT), "-q", str(careless)], capture_output=True, text=True, check=False)

    assert result.returncode == 1 and "B602" in result.stdout and "B105" in result.stdout
