"""Alarms where people look and the dashboard: what each alarm watches, where it notifies, how
it is turned off; the dashboard's body and URL; the stack stays under CloudFormation's limit."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from nami_action.compile import CodeLocation, compile_config
from nami_action.compile.dashboard import dashboard_url
from nami_action.config import Config, load_config
from nami_action.errors import ConfigError

HERE = Path(__file__).parent
EVERYTHING = HERE / "everything" / "nami.yaml"
EXAMPLE = HERE.parents[1] / "examples" / "nami.yaml"
CODE = CodeLocation("artifacts-bucket", "nami/artifacts/" + "0" * 64 + ".zip")
TOPIC = "arn:aws:sns:eu-central-1:123456789012:oncall"
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
STACK_RESOURCE_LIMIT = 500


def compiled(config: Config) -> dict[str, dict[str, Any]]:
    code = dict.fromkeys(config.pipelines, CODE)
    return {name: json.loads(text) for name, text in compile_config(config, code).items()}


@pytest.fixture(scope="module")
def every() -> dict[str, dict[str, Any]]:
    return compiled(load_config(EVERYTHING))


def alarms_of(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def test_every_alarm_notifies_the_own_topic_and_the_existing_one_on_alarm_and_ok(
    every: dict[str, Any],
) -> None:
    alarms = alarms_of(every["every-gh"])
    assert sorted(alarms) == [
        "BacklogAgeAlarm",
        "ConsumerErrorsAlarm",
        "ConsumerThrottlesAlarm",
        "DeadLetterAlarm",
        "Ingress4xxAlarm",
        "Ingress5xxAlarm",
        "RejectedAlarm",
    ]
    for props in alarms.values():
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}, TOPIC]
        assert props["OKActions"] == props["AlarmActions"]
        assert props["TreatMissingData"] == "notBreaching"


def test_without_a_topic_alarms_go_to_the_pipelines_own_topic_only() -> None:
    template = compiled(load_config(EXAMPLE))["acme-webhooks-github"]
    for props in alarms_of(template).values():
        assert props["AlarmActions"] == props["OKActions"] == [{"Ref": "AlarmTopic"}]


def test_consumer_alarms_watch_the_function_with_their_thresholds(every: dict[str, Any]) -> None:
    alarms = alarms_of(every["every-gh"])
    for logical_id, metric, threshold in (
        ("ConsumerErrorsAlarm", "Errors", 2.0),
        ("ConsumerThrottlesAlarm", "Throttles", 5.0),
    ):
        props = alarms[logical_id]
        assert (props["Namespace"], props["MetricName"], props["Statistic"]) == (
            "AWS/Lambda",
            metric,
            "Sum",
        )
        assert props["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "Consumer"}}]
        assert (props["Period"], props["Threshold"]) == (60, threshold)


def test_ingress_alarms_are_rates_of_the_rest_apis_stage(every: dict[str, Any]) -> None:
    alarms = alarms_of(every["every-gh"])
    for logical_id, metric, percent in (
        ("Ingress5xxAlarm", "5XXError", 0.5),
        ("Ingress4xxAlarm", "4XXError", 20.0),
    ):
        props = alarms[logical_id]
        queries = {query["Id"]: query for query in props["Metrics"]}
        for query_id, name in (("errors", metric), ("requests", "Count")):
            stat = queries[query_id]["MetricStat"]
            # REST APIs publish by ApiName (the RestApi's Name: the stack name) and Stage.
            assert stat["Metric"] == {
                "Namespace": "AWS/ApiGateway",
                "MetricName": name,
                "Dimensions": [
                    {"Name": "ApiName", "Value": "every-gh"},
                    {"Name": "Stage", "Value": "live"},
                ],
            }
            assert (stat["Stat"], stat["Period"]) == ("Sum", 300)
        rate = queries["rate"]
        assert "100 * FILL(errors, 0) / FILL(requests, 1)" in rate["Expression"]
        assert rate["Expression"].startswith("IF(FILL(requests, 0) >= 10,")
        assert props["Threshold"] == percent
    api = every["every-gh"]["Resources"]["Api"]["Properties"]
    assert api["Name"] == "every-gh"


def test_switched_off_alarms_are_not_compiled_but_the_promised_ones_stay(
    every: dict[str, Any],
) -> None:
    assert sorted(alarms_of(every["every-std"])) == [
        "BacklogAgeAlarm",
        "DeadLetterAlarm",
        "RejectedAlarm",
    ]


def test_defaults_alarm_on_any_error_throttle_and_on_1_and_10_percent() -> None:
    alarms = alarms_of(compiled(load_config(EXAMPLE))["acme-webhooks-github"])
    thresholds = {
        logical_id: alarms[logical_id]["Threshold"]
        for logical_id in (
            "ConsumerErrorsAlarm",
            "ConsumerThrottlesAlarm",
            "Ingress5xxAlarm",
            "Ingress4xxAlarm",
        )
    }
    assert thresholds == {
        "ConsumerErrorsAlarm": 1.0,
        "ConsumerThrottlesAlarm": 1.0,
        "Ingress5xxAlarm": 1.0,
        "Ingress4xxAlarm": 10.0,
    }


def test_https_subscriptions_hold_references_never_the_url(every: dict[str, Any]) -> None:
    resources = every["every-gh"]["Resources"]
    https = sorted(
        resource["Properties"]["Endpoint"]
        for resource in resources.values()
        if resource["Type"] == "AWS::SNS::Subscription"
        and resource["Properties"]["Protocol"] == "https"
    )
    assert https == [
        "https://alarms.example.com/nami",
        "{{resolve:secretsmanager:every/pagerduty-url}}",
    ]


def test_dashboard_body_is_json_once_substituted(every: dict[str, Any]) -> None:
    dashboard = every["every-gh"]["Resources"]["Dashboard"]
    assert dashboard["Type"] == "AWS::CloudWatch::Dashboard"
    props = dashboard["Properties"]
    assert props["DashboardName"] == {"Fn::Sub": "every-gh-${AWS::Region}"}
    text, variables = props["DashboardBody"]["Fn::Sub"]
    assert variables == {
        "DeadLetterQueueName": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]},
        "FunctionName": {"Ref": "Consumer"},
        "QueueName": {"Fn::GetAtt": ["Queue", "QueueName"]},
    }
    # Every placeholder is a variable or a pseudo parameter: Fn::Sub leaves nothing behind.
    placeholders = set(re.findall(r"\$\{([^}]+)\}", text))
    assert placeholders == {*variables, "AWS::Region"}
    filled = re.sub(r"\$\{([^}]+)\}", lambda m: f"value-of-{m.group(1)}", text)
    widgets = json.loads(filled)["widgets"]
    titles = [widget["properties"]["title"] for widget in widgets]
    assert titles == [
        "Ingress: requests and errors a minute",
        "Backlog: webhooks waiting and in flight",
        "Oldest waiting webhook (seconds)",
        "Dead-letter queue",
        "Outcomes a minute (Nami runtime)",
        "Consumer duration (ms)",
        "Consumer errors and throttles a minute",
    ]
    metrics = [tuple(m[:2]) for widget in widgets for m in widget["properties"]["metrics"]]
    outcomes = [name for namespace, name in metrics if namespace == "Nami"]
    assert outcomes == ["Handled", "Failed", "Rejected", "Malformed", "Duplicate"]
    assert ("AWS/SQS", "ApproximateAgeOfOldestMessage") in metrics
    assert ("AWS/Lambda", "Duration") in metrics
    positions = {(w["x"], w["y"]) for w in widgets}
    assert len(positions) == len(widgets)  # no two widgets on top of each other


def test_sqs_mode_dashboard_has_no_runtime_outcomes(every: dict[str, Any]) -> None:
    text = every["every-raw"]["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert '"Nami"' not in text[0]


def test_dashboard_false_compiles_none(every: dict[str, Any]) -> None:
    assert "Dashboard" not in every["every-std"]["Resources"]
    assert "Dashboard" in every["every-slack"]["Resources"]


def test_dashboard_url_names_region_and_dashboard() -> None:
    assert dashboard_url("acme-github", "eu-west-1") == (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
        "#dashboards:name=acme-github-eu-west-1"
    )


def test_largest_pipeline_stays_well_under_the_stack_resource_limit(tmp_path: Path) -> None:
    """The widest input validation admits: the deepest path (one API resource per segment),
    every subscription list at its maximum, dedupe, every alarm and the dashboard."""
    path = "/a" * 128
    emails = ", ".join(f"p{i}@example.com" for i in range(10))
    https = ", ".join(f"secretsmanager:url-{i}" for i in range(5))
    (tmp_path / "code").mkdir()
    config = tmp_path / "nami.yaml"
    config.write_text(
        "version: 1\nproject: big\npipelines:\n  p:\n"
        f"    path: {path}\n"
        "    verify: {scheme: github, secret: ssm:/big}\n"
        "    dedupe: {header: X-Id}\n"
        "    consumer: {code: code}\n"
        f"    alarms: {{email: [{emails}], https: [{https}], topic: {TOPIC}}}\n"
    )
    template = compiled(load_config(config))["big-p"]
    count = len(template["Resources"])
    assert count < STACK_RESOURCE_LIMIT // 2, count


@pytest.mark.parametrize(
    ("alarms", "message"),
    [
        ("{https: [https://hooks.slack.com/services/T/B/x]}", "cannot confirm an SNS"),
        ("{https: [https://events.pagerduty.com/integration/k/enqueue]}", "integration key"),
        ("{https: [http://alarms.example.com]}", "must be an `https://` URL"),
        ("{https: ['ssm:/oncall/url']}", "cannot resolve an SSM SecureString"),
        ("{topic: 'arn:aws:sns:eu-west-1:123456789012:oncall.fifo'}", "SNS standard topic"),
        ("{errors: true}", "or false to turn it off"),
        ("{ingress_4xx: 0}", "percentage above 0"),
        ("{email: [a@example.com, A@example.com]}", "duplicate alarm e-mail"),
    ],
)
def test_bad_alarm_settings_are_refused_at_their_place(
    tmp_path: Path, alarms: str, message: str
) -> None:
    (tmp_path / "code").mkdir()
    config = tmp_path / "nami.yaml"
    config.write_text(
        "version: 1\nproject: acme\npipelines:\n  p:\n"
        "    verify: {scheme: none}\n    consumer: {code: code}\n"
        f"    alarms: {alarms}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    problems = [str(problem) for problem in caught.value.problems]
    assert any(message in text and ":7:" in text for text in problems), problems
