"""API Gateway's own answers (no route, throttled, too large, its errors) in the service's one error shape."""

from __future__ import annotations

import json

import boto3
from moto import mock_aws

from chalicelib.errors import ErrorCode
from infrastructure.gateway_responses import GATEWAY_RESPONSES, NO_ROUTE, apply, sam_resources

ORIGINS = ["https://crochet.example"]


def test_every_body_is_the_error_shape_with_a_documented_code_and_echoes_nothing() -> None:
    for response in GATEWAY_RESPONSES:
        body = json.loads(response.body)
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
        assert body["error"]["code"] in {str(code) for code in ErrorCode}
        assert "$" not in response.body  # no $context variable: nothing the client sent comes back
    assert (NO_ROUTE.status, NO_ROUTE.code) == (404, ErrorCode.NOT_FOUND)


def test_the_sam_template_gets_one_resource_per_response_on_the_rest_api() -> None:
    resources = sam_resources("RestAPI", ORIGINS)

    assert len(resources) == len(GATEWAY_RESPONSES)
    missing = resources["GatewayResponseMissingAuthenticationToken"]["Properties"]
    assert missing["RestApiId"] == {"Ref": "RestAPI"} and missing["StatusCode"] == "404"
    assert missing["ResponseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"] == (
        "'https://crochet.example'"
    )
    assert json.loads(missing["ResponseTemplates"]["application/json"])["error"]["code"] == "not_found"


@mock_aws
def test_apply_puts_them_on_a_rest_api() -> None:
    apigateway = boto3.client("apigateway", region_name="us-east-1")
    api = apigateway.create_rest_api(name="crochet-messaging")["id"]

    apply(apigateway, api, ["http://localhost:3000", "http://127.0.0.1:3000"])

    answered = {item["responseType"]: item for item in apigateway.get_gateway_responses(restApiId=api)["items"]}
    missing = answered["MISSING_AUTHENTICATION_TOKEN"]
    assert missing["statusCode"] == "404"
    assert json.loads(missing["responseTemplates"]["application/json"]) == json.loads(NO_ROUTE.body)
    assert missing["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"] == "'*'"
