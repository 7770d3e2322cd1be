"""Alarms and stages: moto's CloudFormation skips both, so these reads and writes are driven
against resources made directly on the moto server, with the declared values of a compiled
template (the stripe pipeline of examples/nami.yaml: throttling 200/400, DLQ alarm at 1)."""

from __future__ import annotations

from dataclasses import replace

from nami_action.aws import live
from nami_action.aws.session import Aws
from nami_action.drift.compare import compare
from nami_action.drift.declared import ALARM, declared_resources
from nami_action.drift.detect import direct_findings
from tests.drift.test_drift_pure import PSEUDO, physical_ids, stripe_template


def test_a_changed_alarm_threshold_is_found_and_put_back(aws: Aws) -> None:
    template = stripe_template()
    ids = physical_ids(template) | {"DeadLetterAlarm": "acme-webhooks-stripe-dlq-alarm"}
    (alarm,) = [
        d for d in declared_resources(template, ids, PSEUDO) if d.logical_id == "DeadLetterAlarm"
    ]
    assert live.read_live(aws, alarm) is None  # not there yet: deleted
    live.restore(aws, alarm, ["Threshold"])  # PutMetricAlarm with the whole declared alarm
    assert compare(alarm, live.read_live(aws, alarm)) == []

    cw = aws.client("cloudwatch")
    arguments = {k: v for k, v in alarm.raw.items() if k in live.PUT_METRIC_ALARM_FIELDS}
    cw.put_metric_alarm(**(arguments | {"AlarmName": alarm.physical_id, "Threshold": 25.0}))
    (finding,) = compare(alarm, live.read_live(aws, alarm))
    assert finding.summary() == "DeadLetterAlarm Threshold 1 -> 25"
    live.restore(aws, alarm, ["Threshold"])
    assert compare(alarm, live.read_live(aws, alarm)) == []
    found = cw.describe_alarms(AlarmNames=[alarm.physical_id])["MetricAlarms"][0]
    assert found["Dimensions"] == [{"Name": "QueueName", "Value": "acme-webhooks-stripe-dlq"}]


def test_stage_throttling_is_read_and_put_back(aws: Aws) -> None:
    gateway = aws.client("apigateway")
    api = gateway.create_rest_api(name="acme-webhooks-stripe")["id"]
    root = gateway.get_resources(restApiId=api)["items"][0]["id"]
    gateway.put_method(restApiId=api, resourceId=root, httpMethod="POST", authorizationType="NONE")
    gateway.put_integration(restApiId=api, resourceId=root, httpMethod="POST", type="MOCK")
    deployment = gateway.create_deployment(restApiId=api)["id"]
    gateway.create_stage(restApiId=api, stageName="live", deploymentId=deployment)
    template = stripe_template()
    ids = physical_ids(template) | {"Api": api}
    (stage,) = [d for d in declared_resources(template, ids, PSEUDO) if d.logical_id == "ApiStage"]
    stage = replace(stage, rest_api_id=api)

    gateway.update_stage(
        restApiId=api,
        stageName="live",
        patchOperations=[
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "5"},
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "200"},
        ],
    )
    (finding,) = compare(stage, live.read_live(aws, stage))
    assert finding.summary() == "ApiStage MethodSettings[*/*].ThrottlingBurstLimit 400 -> 5"
    live.restore(aws, stage, [finding.property])
    assert compare(stage, live.read_live(aws, stage)) == []


def test_a_pipelines_alarms_are_read_in_one_call(aws: Aws) -> None:
    template = stripe_template()
    ids = physical_ids(template)
    alarms = [d for d in declared_resources(template, ids, PSEUDO) if d.resource_type == ALARM]
    assert len(alarms) == 7
    for alarm in alarms[:-1]:
        live.restore(aws, alarm, ["Threshold"])  # the last one stays missing: deleted
    before = aws.calls["cloudwatch:DescribeAlarms"]
    found = direct_findings(aws, alarms)
    assert aws.calls["cloudwatch:DescribeAlarms"] == before + 1
    assert [(f.logical_id, f.kind) for f in found] == [(alarms[-1].logical_id, "deleted")]
