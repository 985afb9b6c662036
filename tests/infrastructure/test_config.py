""".chalice/config.json: the dev and prod stages, as Chalice resolves them for each of the app's functions."""

from __future__ import annotations

import re
from typing import Any

import pytest
from chalice.config import Config
from chalice.deploy import models
from chalice.deploy.appgraph import ApplicationGraphBuilder, DependencyBuilder

from chalicelib.adapters.queues import digest_queues, push_queues, upload_failure_queues, webhook_queues
from chalicelib.settings import get_settings
from infrastructure.deploy import ROOT, Project
from tests.infrastructure.support import STAGES, chalice_config, stage_environment

FUNCTIONS = {
    "api_handler",
    "websocket_connect",
    "websocket_message",
    "websocket_disconnect",
    "on_upload",
    "on_upload_failure",
    "on_email_digest",
    "on_webhook",
    "on_push",
    "on_message_stream",
}
# CloudWatch Logs accepts only these retention periods.
RETENTION_DAYS = frozenset(
    (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
)


def functions(stage: str) -> dict[str, models.LambdaFunction]:
    """The Lambda functions ``chalice deploy --stage`` would create, with their resolved settings."""
    from app import app

    config = Config(
        chalice_stage=stage,
        user_provided_params={"chalice_app": app, "project_dir": str(ROOT)},
        config_from_disk=chalice_config(),
    )
    resources = DependencyBuilder().build_dependencies(ApplicationGraphBuilder().build(config, stage))
    return {r.resource_name: r for r in resources if isinstance(r, models.LambdaFunction)}


def test_the_stages_are_dev_and_prod() -> None:
    assert set(chalice_config()["stages"]) == set(STAGES)


def test_dependencies_go_to_chalices_automatic_layer() -> None:
    config = chalice_config()
    assert all(config["stages"][stage].get("automatic_layer", config.get("automatic_layer")) for stage in STAGES)


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_of_the_app_has_its_own_memory_and_timeout(stage: str) -> None:
    configured = chalice_config()["stages"][stage]["lambda_functions"]
    built = functions(stage)
    # Chalice ignores settings for names it does not build: a renamed handler would silently lose them.
    assert set(built) == FUNCTIONS == set(configured)
    for name, function in built.items():
        assert function.memory_size == configured[name]["lambda_memory_size"], name
        assert function.timeout == configured[name]["lambda_timeout"], name
        assert 128 <= function.memory_size <= 10240 and 1 <= function.timeout <= 900, name
    assert built["api_handler"].timeout <= 29, "API Gateway stops waiting for REST integrations after 29 s"


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_has_a_reserved_concurrency_cap(stage: str) -> None:
    """A flood (or an image bomb) is capped per function (checkov CKV_AWS_115), and one function cannot starve
    the others of the account's concurrency."""
    configured = chalice_config()["stages"][stage]["lambda_functions"]
    for name, function in functions(stage).items():
        assert function.reserved_concurrency == configured[name]["reserved_concurrency"] >= 1, name


def test_both_stages_together_leave_the_account_its_unreserved_minimum() -> None:
    # Lambda refuses a reservation that leaves fewer than 100 unreserved executions (default quota: 1,000).
    reserved = sum(
        function["reserved_concurrency"]
        for stage in STAGES
        for function in chalice_config()["stages"][stage]["lambda_functions"].values()
    )
    assert reserved <= 1000 - 100


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_runs_with_the_stages_policy_file_and_log_retention(stage: str) -> None:
    stage_config = chalice_config()["stages"][stage]
    assert stage_config["autogen_policy"] is False
    assert stage_config["iam_policy_file"] == f"policy-{stage}.json"
    assert (ROOT / ".chalice" / stage_config["iam_policy_file"]).is_file()
    for name, function in functions(stage).items():
        assert isinstance(function.role, models.ManagedIAMRole), name
        assert isinstance(function.role.policy, models.FileBasedIAMPolicy), name
        assert function.role.policy.filename == str(ROOT / ".chalice" / f"policy-{stage}.json"), name
        assert function.log_group is not None and function.log_group.retention_in_days in RETENTION_DAYS, name
        assert Project().log_retention_days(stage, name) == function.log_group.retention_in_days, name


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_gets_the_stages_environment(stage: str) -> None:
    environment = stage_environment(stage)
    stage_config = chalice_config()["stages"][stage]
    assert environment["STAGE"] == stage
    assert environment["TABLE_PREFIX"] == f"crochet-messaging-{stage}-"
    assert environment["ATTACHMENTS_BUCKET"] == f"crochet-messaging-{stage}-attachments"
    assert all(re.fullmatch(r"https?://[^/,\s]+", o) for o in environment["ALLOWED_ORIGINS"].split(",")), "origins"
    assert environment["WEBSOCKET_STAGE"] == stage_config["api_gateway_stage"]
    assert re.fullmatch(r"[a-z0-9]{10}", environment.get("WEBSOCKET_API_ID", "0123456789")), "set by deploy.py"
    assert "WEBSOCKET_MANAGEMENT_URL" not in environment, "it would override the API id (local stack only)"
    for name, function in functions(stage).items():
        assert function.environment_variables == environment, name


@pytest.mark.parametrize("stage", STAGES)
def test_no_secret_is_written_in_the_configuration(stage: str) -> None:
    environment = stage_environment(stage)
    assert "JWT_SECRET" not in environment and "CURSOR_SECRET" not in environment
    assert environment["JWT_SECRET_SSM_PARAMETER"] == f"/crochet-messaging/{stage}/jwt-secret"


def _all_values(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [value for item in node.values() for value in _all_values(item)]
    if isinstance(node, list):
        return [value for item in node for value in _all_values(item)]
    return [str(node)]


def test_nothing_in_the_configuration_looks_like_a_secret() -> None:
    for value in _all_values(chalice_config()):
        assert not re.search(r"(?i)secret-?[a-z0-9]{16,}|[A-Za-z0-9+/_-]{40,}", value), value


@pytest.mark.parametrize("stage", STAGES)
def test_the_upload_function_and_its_failure_consumer_have_reserved_concurrency(stage: str) -> None:
    # Image processing is the costly function (red-team finding 1): a burst of uploads may use this much of the
    # account's concurrency and no more; S3's events wait in Lambda's queue meanwhile (throttles are not failures).
    built = functions(stage)
    assert 1 <= built["on_upload"].reserved_concurrency <= 10
    assert 1 <= built["on_upload"].timeout <= 60
    # The consumer's event source runs at most maximum_concurrency (app.py) at once: reserving less would throttle
    # deliveries, and throttled deliveries count towards the queue's maxReceiveCount.
    assert built["on_upload_failure"].reserved_concurrency >= 2


@pytest.mark.parametrize("stage", STAGES)
def test_the_failure_consumer_finishes_within_its_queues_visibility_timeout(stage: str) -> None:
    # Lambda refuses an SQS event source whose function may run longer than the queue's visibility timeout; AWS
    # advises six times the timeout.
    queue = upload_failure_queues(get_settings())
    assert functions(stage)["on_upload_failure"].timeout * 6 <= queue.visibility_timeout_seconds
    assert stage_environment(stage)["UPLOAD_FAILURES_QUEUE"] == f"crochet-messaging-{stage}-upload-failures"


@pytest.mark.parametrize("stage", STAGES)
def test_the_notification_consumers_fit_their_queues(stage: str) -> None:
    """Issue 18: on_email_digest and on_webhook finish within their queues' visibility (6x), reserve at least what
    their event sources may run at once (app.py's maximum_concurrency, 2), and read the stage's queue names."""
    built = functions(stage)
    settings = get_settings()
    for name, shape in (("on_email_digest", digest_queues(settings)), ("on_webhook", webhook_queues(settings))):
        assert built[name].timeout * 6 <= shape.visibility_timeout_seconds, name
        assert built[name].reserved_concurrency >= 2, name
    environment = stage_environment(stage)
    assert environment["DIGEST_QUEUE"] == f"crochet-messaging-{stage}-email-digests"
    assert environment["WEBHOOK_QUEUE"] == f"crochet-messaging-{stage}-webhooks"
    assert environment["WEBHOOK_SECRET_SSM_PARAMETER"].startswith("/")


@pytest.mark.parametrize("stage", STAGES)
def test_the_push_consumer_finishes_within_its_queues_visibility_timeout(stage: str) -> None:
    queue = push_queues(get_settings())
    built = functions(stage)["on_push"]
    assert built.timeout * 6 <= queue.visibility_timeout_seconds
    assert built.reserved_concurrency >= 5  # app.py's maximum_concurrency: throttled deliveries count as receives
    environment = stage_environment(stage)
    assert environment["PUSH_QUEUE"] == f"crochet-messaging-{stage}-push"
    assert environment["VAPID_PRIVATE_KEY_SSM_PARAMETER"] == f"/crochet-messaging/{stage}/vapid-key"
