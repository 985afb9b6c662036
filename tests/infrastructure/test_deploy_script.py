"""infrastructure/deploy.py on moto, with a stand-in for the Chalice CLI that creates the APIs as Chalice does.

What is checked: the order (stack, then Chalice), the first deploy's second pass that hands the WebSocket API's
id to the functions (environment and policy), one pass afterwards, throttling, log retention, the refusals, and
that ``destroy`` removes what ``deploy`` made.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib import settings as app_settings
from chalicelib.adapters.dynamodb import ALL_MODELS
from infrastructure import deploy as script
from infrastructure import package as packaging
from infrastructure import policy
from infrastructure.deploy import ROOT, Aws, DeployError, Project

FUNCTIONS = (
    "api_handler",
    "websocket_connect",
    "websocket_message",
    "websocket_disconnect",
    "on_upload",
    "on_upload_failure",
    "on_message_stream",
)


class FakeChalice:
    """``chalice deploy`` / ``chalice delete``: APIs in moto, and Chalice's record in .chalice/deployed/."""

    def __init__(self, project: Project, region: str) -> None:
        self.project, self.region = project, region
        self.calls: list[list[str]] = []
        self.environments: list[dict[str, str]] = []  # the stage's variables at each deploy
        self.policies: list[dict[str, Any]] = []

    def __call__(self, arguments: Sequence[str]) -> None:
        command, _, stage = arguments
        self.calls.append(list(arguments))
        if command == "delete":
            self.project.deployed_path(stage).unlink()
            return
        self.environments.append(self.project.environment(stage))
        self.policies.append(json.loads(self.project.policy_path(stage).read_text()))
        if self.project.deployed(stage) is None:
            self._create(stage)

    def _create(self, stage: str) -> None:
        api_stage = self.project.api_gateway_stage(stage)
        rest = boto3.client("apigateway")
        rest_id = rest.create_rest_api(name=f"crochet-messaging-{stage}")["id"]
        root = rest.get_resources(restApiId=rest_id)["items"][0]["id"]
        rest.put_method(restApiId=rest_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
        rest.put_integration(restApiId=rest_id, resourceId=root, httpMethod="GET", type="MOCK")
        rest.create_deployment(restApiId=rest_id, stageName=api_stage)
        websocket = boto3.client("apigatewayv2")
        ws_id = websocket.create_api(
            Name=f"crochet-messaging-{stage}-websocket-api",
            ProtocolType="WEBSOCKET",
            RouteSelectionExpression="$request.body.action",
        )["ApiId"]
        websocket.create_stage(ApiId=ws_id, StageName=api_stage)
        functions = [
            {
                "name": name,
                "resource_type": "lambda_function",
                "lambda_arn": f"arn:aws:lambda:{self.region}:123456789012:function:crochet-messaging-{stage}"
                + ("" if name == "api_handler" else f"-{name}"),
            }
            for name in FUNCTIONS
        ]
        role = boto3.client("iam").create_role(RoleName=f"crochet-messaging-{stage}", AssumeRolePolicyDocument="{}")
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("app.py", "")
        for function in functions:
            boto3.client("lambda").create_function(
                FunctionName=function["lambda_arn"].split(":")[6],
                Runtime="python3.11",
                Role=role["Role"]["Arn"],
                Handler="app.app",
                Code={"ZipFile": package.getvalue()},
            )
        # Chalice creates the stream consumer's event source mapping from the ARN the app registers it with (the
        # stage's MESSAGES_STREAM_ARN, which deploy records before running Chalice): batch size and position only.
        boto3.client("lambda").create_event_source_mapping(
            EventSourceArn=self.project.environment(stage)["MESSAGES_STREAM_ARN"],
            FunctionName=f"crochet-messaging-{stage}-on_message_stream",
            BatchSize=100,
            StartingPosition="LATEST",
        )
        deployed = {
            "resources": [
                *functions,
                {
                    "name": "rest_api",
                    "resource_type": "rest_api",
                    "rest_api_id": rest_id,
                    "rest_api_url": f"https://{rest_id}.execute-api.{self.region}.amazonaws.com/{api_stage}/",
                },
                {
                    "name": "websocket_api",
                    "resource_type": "websocket_api",
                    "websocket_api_id": ws_id,
                    "websocket_api_url": f"wss://{ws_id}.execute-api.{self.region}.amazonaws.com/{api_stage}/",
                },
            ],
            "schema_version": "2.0",
            "backend": "api",
        }
        path = self.project.deployed_path(stage)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(deployed))


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A copy of the project's Chalice configuration and policies to deploy from."""
    (tmp_path / ".chalice").mkdir()
    for source in (ROOT / ".chalice").glob("*.json"):
        shutil.copy(source, tmp_path / ".chalice" / source.name)
    copy = Project(tmp_path)
    for stage in ("dev", "prod"):
        copy.set_environment(stage, "WEBSOCKET_API_ID", None)
        copy.write_policy(stage)
    return copy


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*AWS::(S3::BucketPolicy|CloudWatch::Alarm).*")
        yield Aws(boto3.session.Session())


@pytest.fixture
def websocket_stages(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """apigatewayv2 UpdateStage calls (moto does not implement it)."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(aws.client("apigatewayv2"), "update_stage", lambda **kwargs: calls.append(kwargs))
    return calls


def run_deploy(stage: str, aws: Aws, project: Project, chalice: FakeChalice, lines: list[str]) -> dict[str, str]:
    return script.deploy(
        stage, aws=aws, project=project, chalice=chalice, check_secret=lambda *_: None, out=lines.append
    )


def test_a_first_deploy_makes_the_stack_then_deploys_twice_to_hand_over_the_websocket_api(
    aws: Aws, project: Project, websocket_stages: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    chalice, lines = FakeChalice(project, aws.region), []
    function_updates: list[dict[str, Any]] = []  # moto does not keep a function's DeadLetterConfig
    lambda_client = aws.client("lambda")
    real_update = lambda_client.update_function_configuration
    monkeypatch.setattr(
        lambda_client,
        "update_function_configuration",
        lambda **kwargs: (function_updates.append(kwargs), real_update(**kwargs))[1],
    )

    urls = run_deploy("dev", aws, project, chalice, lines)

    stack = aws.client("cloudformation").describe_stacks(StackName="crochet-messaging-dev-infra")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert len(aws.client("dynamodb").list_tables()["TableNames"]) == len(ALL_MODELS)  # one per table model
    assert chalice.calls == [["deploy", "--stage", "dev"], ["deploy", "--stage", "dev"]]
    api_id = project.deployed(stage="dev")["resources"][-1]["websocket_api_id"]  # type: ignore[index]
    assert "WEBSOCKET_API_ID" not in chalice.environments[0]
    assert chalice.environments[1]["WEBSOCKET_API_ID"] == api_id == project.environment("dev")["WEBSOCKET_API_ID"]
    (grant,) = [s for s in chalice.policies[1]["Statement"] if s["Sid"] == "WebSocketDelivery"]
    assert grant["Resource"] == [  # post frames, close expired connections, ask whether one is still open
        f"arn:*:execute-api:*:*:{api_id}/dev/{method}/@connections/*" for method in ("POST", "DELETE", "GET")
    ]
    assert chalice.policies[1] == policy.render(project.config(), "dev")  # rendered, not edited by hand
    assert urls == {
        "rest": project.deployed("dev")["resources"][-2]["rest_api_url"],  # type: ignore[index]
        "websocket": f"wss://{api_id}.execute-api.us-east-1.amazonaws.com/dev/",
    }
    assert any(line.startswith("REST API:") for line in lines)

    secret = aws.client("ssm").get_parameter(Name="/crochet-messaging/dev/jwt-secret", WithDecryption=True)
    assert len(secret["Parameter"]["Value"]) >= 48
    rest_id = urls["rest"].split("//")[1].split(".")[0]
    settings = aws.client("apigateway").get_stage(restApiId=rest_id, stageName="dev")["methodSettings"]["*/*"]
    assert (settings["throttlingBurstLimit"], settings["throttlingRateLimit"]) == (40, 20.0)
    # An unknown route answers the one error shape (404 not_found), and a deployment after setting it makes it live.
    answers = aws.client("apigateway").get_gateway_responses(restApiId=rest_id)["items"]
    missing = next(answer for answer in answers if answer["responseType"] == "MISSING_AUTHENTICATION_TOKEN")
    assert missing["statusCode"] == "404"
    assert json.loads(missing["responseTemplates"]["application/json"])["error"]["code"] == "not_found"
    deployments = aws.client("apigateway").get_deployments(restApiId=rest_id)["items"]
    assert any(d.get("description") == "gateway responses (infrastructure/deploy.py)" for d in deployments)
    assert websocket_stages == [
        {
            "ApiId": api_id,
            "StageName": "dev",
            "DefaultRouteSettings": {"ThrottlingBurstLimit": 40, "ThrottlingRateLimit": 20.0},
        }
    ]
    groups = aws.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/crochet-messaging-dev")
    retention = {group["logGroupName"]: group.get("retentionInDays") for group in groups["logGroups"]}
    assert retention["/aws/lambda/crochet-messaging-dev"] == 14  # the REST handler's own group
    assert retention == {
        f"/aws/lambda/{name}": 14 for name in script.deployed_functions(project.deployed("dev")).values()
    }
    # on_upload: its failed or timed-out S3 events go, after one retry, to the upload-failures queue of the stack.
    queue_arn = aws.client("sqs").get_queue_attributes(
        QueueUrl=aws.client("sqs").get_queue_url(QueueName="crochet-messaging-dev-upload-failures")["QueueUrl"],
        AttributeNames=["QueueArn"],
    )["Attributes"]["QueueArn"]
    assert function_updates == [
        {"FunctionName": "crochet-messaging-dev-on_upload", "DeadLetterConfig": {"TargetArn": queue_arn}}
    ]
    invoke = aws.client("lambda").get_function_event_invoke_config(FunctionName="crochet-messaging-dev-on_upload")
    assert (invoke["MaximumRetryAttempts"], invoke["MaximumEventAgeInSeconds"]) == (1, 3600)


def test_a_later_deploy_knows_the_id_and_deploys_once(
    aws: Aws, project: Project, websocket_stages: list[dict[str, Any]]
) -> None:
    run_deploy("dev", aws, project, FakeChalice(project, aws.region), [])
    again = FakeChalice(project, aws.region)

    run_deploy("dev", aws, project, again, [])

    assert again.calls == [["deploy", "--stage", "dev"]]
    assert again.environments[0]["WEBSOCKET_API_ID"] == project.environment("dev")["WEBSOCKET_API_ID"]


def test_a_fresh_checkout_with_chalices_record_deploys_once(
    aws: Aws, project: Project, websocket_stages: list[dict[str, Any]]
) -> None:
    run_deploy("dev", aws, project, FakeChalice(project, aws.region), [])
    project.set_environment("dev", "WEBSOCKET_API_ID", None)  # config.json as committed, deployed/ kept
    project.write_policy("dev")
    again = FakeChalice(project, aws.region)

    run_deploy("dev", aws, project, again, [])

    assert again.calls == [["deploy", "--stage", "dev"]]
    assert "WEBSOCKET_API_ID" in again.environments[0]


def test_a_lost_deployment_record_is_refused_when_the_stage_exists(
    aws: Aws, project: Project, websocket_stages: list[dict[str, Any]]
) -> None:
    run_deploy("dev", aws, project, FakeChalice(project, aws.region), [])
    project.deployed_path("dev").unlink()
    again = FakeChalice(project, aws.region)

    with pytest.raises(DeployError, match="second copy of every API"):
        run_deploy("dev", aws, project, again, [])
    assert again.calls == []


def test_prod_needs_its_secret_before_anything_is_created(aws: Aws, project: Project) -> None:
    chalice = FakeChalice(project, aws.region)

    with pytest.raises(
        DeployError, match="put-parameter --type SecureString --name /crochet-messaging/prod/jwt-secret"
    ):
        run_deploy("prod", aws, project, chalice, [])
    assert chalice.calls == []
    assert aws.client("cloudformation").list_stacks()["StackSummaries"] == []


def test_a_stack_that_disagrees_with_the_configuration_stops_the_deploy(aws: Aws, project: Project) -> None:
    project.set_environment("dev", "ATTACHMENTS_BUCKET", "someone-elses-bucket")
    chalice = FakeChalice(project, aws.region)

    with pytest.raises(DeployError, match="AttachmentsBucketName"):
        run_deploy("dev", aws, project, chalice, [])
    assert chalice.calls == []


def test_destroy_removes_the_stage_with_its_data(
    aws: Aws, project: Project, websocket_stages: list[dict[str, Any]]
) -> None:
    run_deploy("dev", aws, project, FakeChalice(project, aws.region), [])
    aws.client("s3").put_object(Bucket="crochet-messaging-dev-attachments", Key="conversations/c/a/original", Body=b"x")
    chalice = FakeChalice(project, aws.region)

    script.destroy("dev", aws=aws, project=project, chalice=chalice, out=lambda _: None)

    assert chalice.calls == [["delete", "--stage", "dev"]]
    assert aws.client("dynamodb").list_tables()["TableNames"] == []
    assert aws.client("s3").list_buckets()["Buckets"] == []
    assert aws.client("ssm").describe_parameters()["Parameters"] == []
    groups = aws.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/crochet-messaging-dev")
    assert groups["logGroups"] == []
    assert "WEBSOCKET_API_ID" not in project.environment("dev")
    assert project.websocket_grant("dev") == "*"


def test_destroy_refuses_prod(aws: Aws, project: Project) -> None:
    chalice = FakeChalice(project, aws.region)
    with pytest.raises(DeployError, match="refusing to destroy prod"):
        script.destroy("prod", aws=aws, project=project, chalice=chalice, out=lambda _: None)
    assert chalice.calls == []


def test_a_first_deploy_renders_a_hand_edited_policy_again(
    aws: Aws, project: Project, websocket_stages: list[dict[str, Any]]
) -> None:
    project.policy_path("dev").write_text('{"Version": "2012-10-17", "Statement": []}')
    chalice = FakeChalice(project, aws.region)

    run_deploy("dev", aws, project, chalice, [])

    assert chalice.policies[0] == policy.render(project.config(), "dev", websocket_api="*")


@pytest.mark.parametrize("command", ["deploy", "package"])
def test_a_stage_that_names_no_secret_is_refused_by_deploy_and_package(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """Finding 14: only deploy.py checked; `make package` built a template that would run on the dev secret."""
    project.set_environment("dev", "JWT_SECRET_SSM_PARAMETER", None)
    if command == "deploy":
        with pytest.raises(DeployError, match="refuses the dev configuration: stage 'dev' names no JWT secret"):
            script.check_no_dev_secret(project, "dev")
        return
    built: list[str] = []
    monkeypatch.setattr(packaging, "Project", lambda root: project)
    monkeypatch.setattr(packaging, "package", lambda stage, out, **options: built.append(stage))

    assert packaging.main(["--stage", "dev", "--out", str(project.root / "out")]) == 2

    assert built == []
    assert "names no JWT secret" in capsys.readouterr().err


def test_an_unconfigured_jwt_secret_is_refused(aws: Aws, project: Project) -> None:
    project.set_environment("dev", "JWT_SECRET_SSM_PARAMETER", None)
    with pytest.raises(DeployError, match="neither JWT_SECRET_SSM_PARAMETER nor JWT_JWKS_URL"):
        run_deploy("dev", aws, project, FakeChalice(project, aws.region), [])


# --- the JWT secret comes from SSM (chalicelib/settings.py) --------------------------------------------------------


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_no_stage_would_run_on_the_public_development_secret(stage: str) -> None:
    script.check_no_dev_secret(Project(), stage)


def test_on_lambda_the_settings_read_the_secret_from_ssm(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in Project().environment("prod").items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "crochet-messaging-prod")
    with mock_aws():
        boto3.client("ssm").put_parameter(
            Name="/crochet-messaging/prod/jwt-secret", Type="SecureString", Value="from-ssm-" + "x" * 40
        )
        loaded = app_settings._load()
    assert loaded.jwt_secret == "from-ssm-" + "x" * 40
    assert loaded.cursor_secret == loaded.jwt_secret


def test_the_region_comes_from_aws_region_first_and_reaches_chalice(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert Aws().region == "eu-west-1"
    seen: list[dict[str, str]] = []
    commands: list[list[str]] = []

    def run(command: list[str], **kwargs: object) -> None:
        commands.append(command)
        seen.append(kwargs["env"])  # type: ignore[arg-type]

    monkeypatch.setattr(script.subprocess, "run", run)
    script.chalice_runner(Project(tmp_path), "eu-west-1")(["deploy", "--stage", "dev"])
    assert seen[0]["AWS_DEFAULT_REGION"] == seen[0]["AWS_REGION"] == "eu-west-1"
    # chalice deploy runs with the zips make package builds (bytecode, no SDK in the layer).
    assert commands == [[sys.executable, "-m", "infrastructure.lambda_zips", "deploy", "--stage", "dev"]]


def test_the_stream_consumer_gets_retries_bisect_a_failure_queue_and_partial_batch_responses(
    aws: Aws, project: Project, websocket_stages: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chalice creates the event source mapping with none of them; deploy sets them, on the stack's stream."""
    updates: list[dict[str, Any]] = []
    lambda_client = aws.client("lambda")
    real_update = lambda_client.update_event_source_mapping
    monkeypatch.setattr(
        lambda_client,
        "update_event_source_mapping",
        lambda **kwargs: (updates.append(kwargs), real_update(**kwargs))[1],
    )
    chalice = FakeChalice(project, aws.region)

    run_deploy("dev", aws, project, chalice, [])

    table = aws.client("dynamodb").describe_table(TableName="crochet-messaging-dev-messages")["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    stream_arn = table["LatestStreamArn"]
    # recorded before the first chalice deploy: Chalice registers the handler on the stack's stream
    assert chalice.environments[0]["MESSAGES_STREAM_ARN"] == stream_arn
    assert project.environment("dev")["MESSAGES_STREAM_ARN"] == stream_arn
    (mapping,) = lambda_client.list_event_source_mappings(FunctionName="crochet-messaging-dev-on_message_stream")[
        "EventSourceMappings"
    ]
    assert mapping["EventSourceArn"] == stream_arn
    queue_arn = aws.client("sqs").get_queue_attributes(
        QueueUrl=aws.client("sqs").get_queue_url(QueueName="crochet-messaging-dev-stream-failures")["QueueUrl"],
        AttributeNames=["QueueArn"],
    )["Attributes"]["QueueArn"]
    source = script.STREAM_SOURCES["on_message_stream"]
    assert updates == [
        {
            "UUID": mapping["UUID"],
            "MaximumRetryAttempts": source.max_retries,
            "MaximumRecordAgeInSeconds": source.max_record_age_seconds,
            "BisectBatchOnFunctionError": True,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "DestinationConfig": {"OnFailure": {"Destination": queue_arn}},
        }
    ]
    assert 0 < source.max_retries <= 10 and source.max_record_age_seconds <= 24 * 3600
