"""Settings fail closed: outside the local stack no secret means no start, and JWKS mode needs an audience."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.settings import DEV_JWT_SECRET, ConfigurationError, get_settings

ROOT = Path(__file__).resolve().parents[2]
SECRET_VARIABLES = ("JWT_SECRET", "JWT_SECRET_SSM_PARAMETER", "JWT_JWKS_URL", "JWT_AUDIENCE", "CURSOR_SECRET")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No secret of any kind configured; settings rebuilt by each test and again after it."""
    for name in (*SECRET_VARIABLES, "AWS_LAMBDA_FUNCTION_NAME", "AWS_CHALICE_CLI_MODE"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.mark.parametrize("stage", ["local", "test"])
def test_the_local_stack_runs_on_the_development_secret(env: pytest.MonkeyPatch, stage: str) -> None:
    env.setenv("STAGE", stage)

    assert get_settings().jwt_secret == DEV_JWT_SECRET


@pytest.mark.parametrize(
    ("stage", "in_lambda"), [("dev", False), ("prod", False), ("staging", True), ("local", True), ("test", True)]
)
def test_anywhere_else_no_secret_is_a_startup_error(env: pytest.MonkeyPatch, stage: str, in_lambda: bool) -> None:
    env.setenv("STAGE", stage)
    if in_lambda:
        env.setenv("AWS_LAMBDA_FUNCTION_NAME", f"crochet-messaging-{stage}")

    with pytest.raises(ConfigurationError, match="names no JWT secret"):
        get_settings()


def test_nor_does_chalices_cli_import_a_stage_without_a_secret(env: pytest.MonkeyPatch) -> None:
    # `chalice package` / `chalice deploy` import app.py with the stage's variables: a plain `chalice deploy`
    # of a stage that names no secret stops here.
    env.setenv("STAGE", "staging")
    env.setenv("AWS_CHALICE_CLI_MODE", "true")

    with pytest.raises(ConfigurationError):
        get_settings()


def test_the_cli_imports_a_stage_that_names_its_ssm_secret_without_fetching_it(env: pytest.MonkeyPatch) -> None:
    env.setenv("STAGE", "prod")
    env.setenv("AWS_CHALICE_CLI_MODE", "true")
    env.setenv("JWT_SECRET_SSM_PARAMETER", "/crochet-messaging/prod/jwt-secret")

    assert get_settings().jwt_secret is None


def test_the_public_development_secret_is_refused_outside_the_local_stack(env: pytest.MonkeyPatch) -> None:
    env.setenv("STAGE", "dev")
    env.setenv("JWT_SECRET", DEV_JWT_SECRET)

    with pytest.raises(ConfigurationError, match="public development"):
        get_settings()


def test_a_deployed_stage_with_its_own_secret_starts(env: pytest.MonkeyPatch) -> None:
    env.setenv("STAGE", "prod")
    env.setenv("AWS_LAMBDA_FUNCTION_NAME", "crochet-messaging-prod")
    env.setenv("JWT_SECRET", "a-real-secret-0123456789-0123456789-0123456789")

    assert get_settings().jwt_secret == "a-real-secret-0123456789-0123456789-0123456789"


@pytest.mark.parametrize("stage", ["local", "prod"])
def test_jwks_mode_without_an_audience_refuses_to_start(env: pytest.MonkeyPatch, stage: str) -> None:
    env.setenv("STAGE", stage)
    env.setenv("JWT_JWKS_URL", "https://idp.example/.well-known/jwks.json")
    env.setenv("CURSOR_SECRET", "cursor-secret-0123456789-0123456789")

    with pytest.raises(ConfigurationError, match="JWT_AUDIENCE"):
        get_settings()

    env.setenv("JWT_AUDIENCE", "crochet-messaging")
    get_settings.cache_clear()
    assert get_settings().jwt_audience == "crochet-messaging"


def test_jwks_mode_needs_its_own_cursor_secret(env: pytest.MonkeyPatch) -> None:
    env.setenv("STAGE", "prod")
    env.setenv("JWT_JWKS_URL", "https://idp.example/.well-known/jwks.json")
    env.setenv("JWT_AUDIENCE", "crochet-messaging")

    with pytest.raises(ConfigurationError, match="CURSOR_SECRET"):
        get_settings()


def test_a_lambda_without_a_secret_fails_its_cold_start() -> None:
    """Finding 14 as it happened: a function with no secret configured imported fine and ran on the dev secret."""
    environment = {
        "PATH": os.environ["PATH"],
        "STAGE": "staging",
        "AWS_LAMBDA_FUNCTION_NAME": "crochet-messaging-staging",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    completed = subprocess.run(
        [sys.executable, "-c", "import app"], cwd=ROOT, env=environment, capture_output=True, text=True, check=False
    )

    assert completed.returncode != 0
    assert "ConfigurationError: stage 'staging' names no JWT secret" in completed.stderr


def test_the_default_cors_origins_cover_a_frontend_dev_server_by_either_name(env: pytest.MonkeyPatch) -> None:
    env.delenv("ALLOWED_ORIGINS", raising=False)
    origins = get_settings().allowed_origins
    assert "http://localhost:3000" in origins
    assert "http://127.0.0.1:3000" in origins  # the same server, a different origin to the browser's CORS check
