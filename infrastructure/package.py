"""``chalice package`` for a stage: a SAM template (``sam.yaml``) and the zips, in a build folder.

    python -m infrastructure.package --stage dev --out build/package/dev     # make package STAGE=dev

This is Chalice's own ``package`` command with one template generator adjusted for what Chalice leaves
out of CloudFormation output:

* ``WEBSOCKET_API_ID`` is ``!Ref WebsocketAPI`` in every function's environment: in a CloudFormation
  deployment the REST handlers know the WebSocket API from the first deploy (no second pass needed);
* the roles' policy is ``infrastructure/policy.py``'s rendering with the ``@connections`` grant on that API
  (``!Sub ...:${WebsocketAPI}/<stage>/POST/@connections/*``), not on any API;
* API Gateway's own answers (no such route, throttled, too large) in the one error shape
  (``infrastructure/gateway_responses.py``): an unknown route is 404 ``not_found``, never a 403 quoting the token;
* stage throttling on the REST API (``MethodSettings``) and the WebSocket stage (``DefaultRouteSettings``),
  the values ``infrastructure/deploy.py`` applies after ``chalice deploy``;
* checkov's one per-resource exception, in the resource's ``Metadata``: no dead-letter queue (CKV_AWS_116) for
  the functions API Gateway or an SQS event source invokes synchronously (a DLQ only ever receives failed
  asynchronous invocations; an SQS consumer's failures go to its queue's redrive);
* the REST handler's log group: Chalice names it after a function name it then changes (``${ApiHandler}``
  instead of ``${APIHandler}``), so its retention would apply to nothing;
* ``on_upload``'s asynchronous invocations (``deploy.ASYNC_INVOKE``): its dead-letter queue (``DeadLetterQueue``,
  the stage's upload-failures queue of the infrastructure stack) and retry policy (``EventInvokeConfig``);
* the messages stream's event source (``deploy.STREAM_SOURCES``): the stream imported from the infrastructure
  stack's export (Chalice needs the ARN literally, and it exists only once that stack created the table), retries,
  bisect-on-error, record age, the stream-failures queue as on-failure destination, partial batch responses;
* ``@app.on_s3_event`` on a bucket of another stack: Chalice refuses it ("CloudFormation does not support
  modifying the event notifications of existing buckets"). The template gets the permission for S3 to
  invoke the function and the notification to configure in ``Metadata.S3Notifications`` and the
  ``<Function>Arn`` output; after deploying the template, set it once with
  ``aws s3api put-bucket-notification-configuration`` (see infrastructure/README.md).

Log retention comes from ``log_retention_in_days`` in ``.chalice/config.json`` (Chalice writes the log groups).
A stage that names no JWT secret is refused before anything is built, as ``make deploy`` refuses it.

The zips are rewritten as ``infrastructure/lambda_zips.py`` describes (unchecked-hash bytecode for the runtime's
Python, the runtime's own boto3/botocore/s3transfer left out of the layer), the same zips ``make deploy`` ships.
``--chalice-zips`` keeps Chalice's zips as they are (for ``make bench``'s before/after cold start only);
``--project-dir`` packages another project (``bench/cold_start.py``'s copy of this one, and its bare Chalice app,
which has no ``chalicelib`` and so no secret to check).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import botocore.session
from chalice import package as chalice_package
from chalice.cli import factory as chalice_factory
from chalice.utils import to_cfn_resource_name

from infrastructure import gateway_responses, policy
from infrastructure.deploy import (
    ASYNC_INVOKE,
    ROOT,
    STREAM_SOURCES,
    DeployError,
    Project,
    check_no_dev_secret,
    stream_source_properties,
    throttling,
)
from infrastructure.lambda_zips import lean_zips

SYNCHRONOUS_DLQ = (
    "invoked synchronously by API Gateway (REST and WebSocket routes): a dead-letter queue only ever receives "
    "failed asynchronous invocations, and the caller gets the error"
)
SQS_REDRIVE = (
    "invoked synchronously by its SQS event source mapping: a message it fails on returns to its queue, whose "
    "redrive policy moves it to a dead-letter queue after five receives"
)

STREAM_DESTINATION = (
    "invoked synchronously by its DynamoDB stream event source mapping, whose on-failure destination (the "
    "stream-failures queue) receives what it gave up on; a function DLQ would never receive anything"
)


class StageTemplateGenerator(chalice_package.SAMTemplateGenerator):
    """Chalice's SAM generator, plus what this app needs from a CloudFormation deployment (module docstring)."""

    def generate(self, resources: list[Any]) -> dict[str, Any]:
        self._invoked_by_events: set[str] = set()  # filled while Chalice generates the S3 notifications
        template = super().generate(resources)
        resources_by_name = template["Resources"]
        for name, resource in resources_by_name.items():
            if resource["Type"] == "AWS::Serverless::Function" and name not in self._invoked_by_events:
                skips = resource.setdefault("Metadata", {}).setdefault("checkov", {}).setdefault("skip", [])
                events = resource.get("Properties", {}).get("Events", {}).values()
                types = {event.get("Type") for event in events}
                comment = (
                    STREAM_DESTINATION if "DynamoDB" in types else SQS_REDRIVE if "SQS" in types else SYNCHRONOUS_DLQ
                )
                skips.append({"id": "CKV_AWS_116", "comment": comment})
        # Chalice names the REST handler's log group after ``ApiHandler``, then renames the function to
        # ``APIHandler``: the group's ``!Sub /aws/lambda/${ApiHandler}`` points at nothing (cfn-lint E1019).
        for resource in resources_by_name.values():
            if resource["Type"] == "AWS::Logs::LogGroup":
                name = resource["Properties"]["LogGroupName"]
                if name == {"Fn::Sub": "/aws/lambda/${ApiHandler}"} and "ApiHandler" not in resources_by_name:
                    resource["Properties"]["LogGroupName"] = {"Fn::Sub": "/aws/lambda/${APIHandler}"}
        limits = throttling(self._config.chalice_stage)
        if "WebsocketAPI" in resources_by_name:
            for resource in resources_by_name.values():
                if resource["Type"] == "AWS::Serverless::Function":
                    variables = resource["Properties"].setdefault("Environment", {}).setdefault("Variables", {})
                    variables["WEBSOCKET_API_ID"] = {"Ref": "WebsocketAPI"}
            scoped = policy.cloudformation(policy.load_config(), self._config.chalice_stage)
            for resource in resources_by_name.values():
                if resource["Type"] == "AWS::IAM::Role":
                    for inline in resource["Properties"].get("Policies", []):
                        inline["PolicyDocument"] = scoped
        if "RestAPI" in resources_by_name:
            allowed = self._config.environment_variables.get("ALLOWED_ORIGINS", "")
            origins = [origin.strip() for origin in allowed.split(",") if origin.strip()]
            resources_by_name.update(gateway_responses.sam_resources("RestAPI", origins))
            resources_by_name["RestAPI"]["Properties"]["MethodSettings"] = [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingBurstLimit": limits["rest"].burst,
                    "ThrottlingRateLimit": float(limits["rest"].rate),
                }
            ]
        environment = self._config.environment_variables
        for resource_name, settings in ASYNC_INVOKE.items():
            function = resources_by_name.get(to_cfn_resource_name(resource_name))
            if function is None:
                continue
            queue = environment[settings.dead_letter_queue_variable]
            function["Properties"]["DeadLetterQueue"] = {
                "Type": "SQS",
                "TargetArn": {"Fn::Sub": f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:{queue}"},
            }
            function["Properties"]["EventInvokeConfig"] = {
                "MaximumRetryAttempts": settings.max_retries,
                "MaximumEventAgeInSeconds": settings.max_event_age_seconds,
            }
        stage = self._config.chalice_stage
        for resource_name, source in STREAM_SOURCES.items():
            function = resources_by_name.get(to_cfn_resource_name(resource_name))
            if function is None:
                continue
            for event in function["Properties"].get("Events", {}).values():
                if event.get("Type") != "DynamoDB":
                    continue
                properties = event["Properties"]
                properties["Stream"] = {"Fn::ImportValue": source.stream_arn_export.format(stage=stage)}
                queue = {"Fn::ImportValue": source.failure_queue_arn_export.format(stage=stage)}
                properties.update(stream_source_properties(source, queue))
                properties["DestinationConfig"] = {"OnFailure": {"Type": "SQS", "Destination": queue}}
        for resource in resources_by_name.values():
            if resource["Type"] == "AWS::ApiGatewayV2::Stage":
                resource["Properties"]["DefaultRouteSettings"] = {
                    "ThrottlingBurstLimit": limits["websocket"].burst,
                    "ThrottlingRateLimit": float(limits["websocket"].rate),
                }
        return template

    def _generate_s3bucketnotification(self, resource: Any, template: dict[str, Any]) -> None:
        function = to_cfn_resource_name(resource.lambda_function.resource_name)
        self._invoked_by_events.add(function)
        template["Resources"][f"{function}S3InvokePermission"] = {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "FunctionName": {"Ref": function},
                "Action": "lambda:InvokeFunction",
                "Principal": self._options.service_principal("s3"),
                "SourceArn": {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{resource.bucket}"},
                "SourceAccount": {"Ref": "AWS::AccountId"},
            },
        }
        template["Outputs"][f"{function}Arn"] = {"Value": {"Fn::GetAtt": [function, "Arn"]}}
        notifications = template.setdefault("Metadata", {}).setdefault("S3Notifications", [])
        notifications.append(
            {
                "Bucket": resource.bucket,
                "Events": list(resource.events),
                "Prefix": resource.prefix,
                "Suffix": resource.suffix,
                "FunctionArnOutput": f"{function}Arn",
            }
        )


@contextmanager
def stage_generator() -> Iterator[None]:
    """For one command, the packager Chalice's CLI builds renders its template with our generator."""
    original = chalice_factory.create_app_packager

    def create_app_packager(config: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
        packager = original(config, options, *args, **kwargs)
        packager._templater = StageTemplateGenerator(config, options)
        return packager

    chalice_factory.create_app_packager = create_app_packager
    try:
        yield
    finally:
        chalice_factory.create_app_packager = original


def package(stage: str, out: Path, *, lean: bool = True, project_dir: Path = ROOT) -> Path:
    """Run ``chalice package`` for the stage into ``out``; returns the template's path.

    ``lean=False`` leaves Chalice's zips as Chalice makes them (the benchmark's "before").
    """
    from chalice.cli import cli

    with stage_generator(), lean_zips() if lean else _unchanged():
        cli.main(
            args=[
                "--project-dir",
                str(project_dir),
                "package",
                "--stage",
                stage,
                "--pkg-format",
                "cloudformation",
                "--template-format",
                "yaml",
                str(out.resolve()),
            ],
            prog_name="chalice",
            obj={},
            standalone_mode=False,
        )
    return out / "sam.yaml"


@contextmanager
def _unchanged() -> Iterator[None]:
    yield


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infrastructure.package", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--out", type=Path, help="default: build/package/<stage>")
    parser.add_argument("--chalice-zips", action="store_true", help="leave Chalice's zips unchanged (benchmarks)")
    parser.add_argument("--project-dir", type=Path, default=ROOT, help="the Chalice project (default: this one)")
    args = parser.parse_args(argv)
    if not botocore.session.get_session().get_config_variable("region"):
        os.environ["AWS_DEFAULT_REGION"] = "us-east-1"  # only shapes service principals' names; no AWS call is made
    out = args.out or ROOT / "build" / "package" / args.stage
    try:
        if (args.project_dir / "chalicelib").is_dir():  # this app (or bench/cold_start.py's copy of it)
            check_no_dev_secret(Project(args.project_dir), args.stage)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    template = package(args.stage, out, lean=not args.chalice_zips, project_dir=args.project_dir)
    for artifact in sorted(out.glob("*.zip")):
        print(
            f"{artifact.relative_to(ROOT) if artifact.is_relative_to(ROOT) else artifact}: "
            f"{artifact.stat().st_size / 1e6:.2f} MB"
        )
    print(f"template: {template}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
