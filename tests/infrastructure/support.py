"""What the infrastructure tests share: the template (parsed and resolved), the Chalice config, stacks on moto."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from cfnlint.decode import decode_str
from pynamodb.models import Model

from chalicelib.adapters.dynamodb import ALL_MODELS
from chalicelib.settings import get_settings
from infrastructure.deploy import ROOT, TEMPLATE, stack_name

CONFIG = ROOT / ".chalice" / "config.json"
STAGES = ("dev", "prod")


def cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    """cfn-lint (the CLI of this environment) on one template."""
    executable = Path(sys.executable).with_name("cfn-lint")
    return subprocess.run([str(executable), str(path)], capture_output=True, text=True, check=False)


CHECKOV = ROOT / ".venv-scan" / "bin" / "checkov"


def checkov(path: Path) -> dict[str, Any]:
    """checkov's report on one CloudFormation / SAM template, with the project's skips (.checkov.yaml).

    checkov lives in its own virtualenv (``make scan`` creates it; see requirements-scan.txt)."""
    assert CHECKOV.exists(), f"{CHECKOV} is missing: run `make scan` (it creates .venv-scan from requirements-scan.txt)"
    result = subprocess.run(
        [str(CHECKOV), "--config-file", str(ROOT / ".checkov.yaml"), "-f", str(path), "--output", "json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode in (0, 1), result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain data, short-form tags (``!Sub``) in their long form (``Fn::Sub``)."""
    template, problems = decode_str(path.read_text())
    assert not problems, problems
    return json.loads(json.dumps(template))


def resolve(node: Any, template: dict[str, Any], parameters: dict[str, Any]) -> Any:
    """Evaluate the intrinsic functions this template uses (Ref to parameters, Sub, If, Equals, Join)."""
    if isinstance(node, list):
        return [resolve(item, template, parameters) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, value),) = node.items()
        if key == "Ref" and value in parameters:
            return parameters[value]
        if key == "Fn::Sub" and isinstance(value, str):
            for name, replacement in parameters.items():
                value = value.replace(f"${{{name}}}", str(replacement))
            return value
        if key == "Fn::If":
            condition, when_true, when_false = value
            chosen = when_true if resolve(template["Conditions"][condition], template, parameters) else when_false
            return resolve(chosen, template, parameters)
        if key == "Fn::Equals":
            left, right = resolve(value, template, parameters)
            return left == right
        if key == "Fn::Join":
            separator, items = value
            return separator.join(resolve(items, template, parameters))
    return {key: resolve(value, template, parameters) for key, value in node.items()}


def chalice_config() -> dict[str, Any]:
    return json.loads(CONFIG.read_text())


def stage_environment(stage: str) -> dict[str, str]:
    config = chalice_config()
    return {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}


def stage_parameters(stage: str) -> dict[str, Any]:
    """The template's parameters as infrastructure/deploy.py passes them for a stage of config.json."""
    origins = [origin.strip() for origin in stage_environment(stage)["ALLOWED_ORIGINS"].split(",")]
    return {"Stage": stage, "AllowedOrigins": origins}


def policy(stage: str) -> dict[str, Any]:
    return json.loads((ROOT / ".chalice" / chalice_config()["stages"][stage]["iam_policy_file"]).read_text())


def short_name(model: type[Model]) -> str:
    """``messages`` for the model whose table is ``<TABLE_PREFIX>messages``."""
    prefix = get_settings().table_prefix
    assert model.Meta.table_name.startswith(prefix), model.Meta.table_name
    return model.Meta.table_name[len(prefix) :]


def output_key(short: str) -> str:
    """The stack output naming a table: ``rate_limits`` -> ``RateLimitsTableName``."""
    return "".join(part.title() for part in short.split("_")) + "TableName"


def model_short_names() -> dict[str, type[Model]]:
    return {short_name(model): model for model in ALL_MODELS}


def template_tables(template: dict[str, Any], stage: str) -> dict[str, dict[str, Any]]:
    """Short table name -> the resolved properties of its AWS::DynamoDB::Table, for one stage."""
    parameters = stage_parameters(stage)
    prefix = f"crochet-messaging-{stage}-"
    tables = {}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::DynamoDB::Table":
            properties = resolve(resource["Properties"], template, parameters)
            assert properties["TableName"].startswith(prefix), properties["TableName"]
            tables[properties["TableName"][len(prefix) :]] = {**properties, "_resource": resource}
    return tables


def create_stack(cloudformation: Any, stage: str) -> dict[str, str]:
    """Create the template's stack for a stage of config.json (in whatever AWS the client talks to)."""
    parameters = stage_parameters(stage)
    cloudformation.create_stack(
        StackName=stack_name(stage),
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[
            {"ParameterKey": "Stage", "ParameterValue": stage},
            {"ParameterKey": "AllowedOrigins", "ParameterValue": ",".join(parameters["AllowedOrigins"])},
        ],
    )
    stack = cloudformation.describe_stacks(StackName=stack_name(stage))["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    return {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}
