"""The alarms in infrastructure/template.yaml watch what the app really emits (chalicelib/metrics.py) and the
functions and queue the stage really has, and all of them notify the stage's alarm topic."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import metrics
from tests.infrastructure.support import STAGES, load_template, resolve, stage_parameters
from tests.infrastructure.test_config import FUNCTIONS


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def alarms(template: dict[str, Any], stage: str) -> dict[str, dict[str, Any]]:
    """Alarm resource name -> its properties, resolved for a stage."""
    return {
        name: resolve(resource["Properties"], template, stage_parameters(stage))
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def stats(alarm: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Metric id -> the metric of a metric-math alarm."""
    return {query["Id"]: query["MetricStat"]["Metric"] for query in alarm["Metrics"] if "MetricStat" in query}


@pytest.mark.parametrize("stage", STAGES)
def test_there_are_alarms_on_the_error_rate_failed_invocations_and_dead_letters(
    template: dict[str, Any], stage: str
) -> None:
    found = alarms(template, stage)

    assert set(found) == {
        "ErrorRateAlarm",
        "LambdaErrorsAlarm",
        "UploadDeadLettersAlarm",
        "DigestDeadLettersAlarm",
        "WebhookDeadLettersAlarm",
        "StreamFailuresAlarm",
        "PushDeadLettersAlarm",
    }
    assert {alarm["AlarmName"] for alarm in found.values()} == {
        f"crochet-messaging-{stage}-error-rate",
        f"crochet-messaging-{stage}-lambda-errors",
        f"crochet-messaging-{stage}-upload-dead-letters",
        f"crochet-messaging-{stage}-email-digest-dead-letters",
        f"crochet-messaging-{stage}-webhook-dead-letters",
        f"crochet-messaging-{stage}-push-dead-letters",
        f"crochet-messaging-{stage}-stream-failures",
    }


def test_every_alarm_notifies_the_stages_topic_both_ways(template: dict[str, Any]) -> None:
    topic = template["Resources"]["AlarmTopic"]
    assert topic["Type"] == "AWS::SNS::Topic"
    assert template["Outputs"]["AlarmTopicArn"]["Value"] == {"Ref": "AlarmTopic"}
    for name, alarm in alarms(template, "prod").items():
        assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": "AlarmTopic"}], name
        assert alarm["ActionsEnabled"] is True and alarm["TreatMissingData"] == "notBreaching", name
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail" and subscription["Properties"]["Protocol"] == "email"


@pytest.mark.parametrize("stage", STAGES)
def test_the_error_rate_is_handler_errors_over_invocations_as_the_app_counts_them(
    template: dict[str, Any], stage: str
) -> None:
    alarm = alarms(template, stage)["ErrorRateAlarm"]
    metric = stats(alarm)

    assert {query["MetricName"] for query in metric.values()} == {metrics.HANDLER_ERRORS, metrics.INVOCATIONS}
    for query in metric.values():
        assert query["Namespace"] == metrics.NAMESPACE
        assert query["Dimensions"] == [{"Name": "stage", "Value": stage}]  # the EMF document's one dimension set
    (expression,) = [query for query in alarm["Metrics"] if "Expression" in query]
    assert expression["ReturnData"] is True
    assert expression["Expression"] == "IF(invocations >= 20, 100 * errors / invocations, 0)"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 5)
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (3, 2)


def test_the_emf_document_has_the_dimension_the_alarms_filter_on() -> None:
    metrics.begin()
    metrics.count(metrics.INVOCATIONS)
    metrics.answered(500)

    document = metrics.document("prod", at_ms=0)

    assert document is not None and document["stage"] == "prod"
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["stage"]]
    assert document[metrics.HANDLER_ERRORS] == document[metrics.INVOCATIONS] == 1


@pytest.mark.parametrize("stage", STAGES)
def test_failed_invocations_are_summed_over_exactly_the_stages_functions(template: dict[str, Any], stage: str) -> None:
    alarm = alarms(template, stage)["LambdaErrorsAlarm"]
    metric = stats(alarm)

    assert {query["Namespace"] for query in metric.values()} == {"AWS/Lambda"}
    assert {query["MetricName"] for query in metric.values()} == {"Errors"}
    names = {query["Dimensions"][0]["Value"] for query in metric.values()}
    # The names `chalice deploy` gives the app's functions (infrastructure/deploy.py deployed_functions).
    expected = {f"crochet-messaging-{stage}" + ("" if name == "api_handler" else f"-{name}") for name in FUNCTIONS}
    assert names == expected
    (expression,) = [query["Expression"] for query in alarm["Metrics"] if "Expression" in query]
    assert expression == f"SUM([{', '.join(metric)}])"


@pytest.mark.parametrize("stage", STAGES)
def test_dead_letters_are_watched_on_the_upload_functions_queue(template: dict[str, Any], stage: str) -> None:
    alarm = alarms(template, stage)["UploadDeadLettersAlarm"]

    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["Statistic"]) == (
        "GreaterThanOrEqualToThreshold",
        1,
        "Maximum",
    )
    (dimension,) = alarm["Dimensions"]
    assert dimension["Name"] == "QueueName"
    # Every dead-letter queue this template creates is watched (today: the last queue of the upload failures).
    queues = {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::SQS::Queue"
        and (
            name.lower().endswith(("dlq", "deadletterqueue", "deadletters"))
            or str(resolve(resource.get("Properties", {}).get("QueueName", ""), template, stage_parameters(stage)))
            .lower()
            .endswith("-dlq")
        )
    }
    watched = [alarm["Dimensions"][0]["Value"] for alarm in alarms(template, stage).values() if "Dimensions" in alarm]
    for name in queues:
        assert {"Fn::GetAtt": [name, "QueueName"]} in watched, f"no alarm on {name}"
    assert dimension["Value"] == {"Fn::GetAtt": ["UploadFailuresDeadLetterQueue", "QueueName"]}
    # Issue 18's dead letters: email digests and webhook events.
    assert {"Fn::GetAtt": ["DigestDeadLetterQueue", "QueueName"]} in watched
    assert {"Fn::GetAtt": ["WebhookDeadLetterQueue", "QueueName"]} in watched


@pytest.mark.parametrize("stage", STAGES)
def test_what_the_messages_stream_gave_up_on_is_watched(template: dict[str, Any], stage: str) -> None:
    alarm = alarms(template, stage)["StreamFailuresAlarm"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["Statistic"]) == (
        "GreaterThanOrEqualToThreshold",
        1,
        "Maximum",
    )
    (dimension,) = alarm["Dimensions"]
    assert dimension == {"Name": "QueueName", "Value": {"Fn::GetAtt": ["StreamFailuresQueue", "QueueName"]}}
