"""A change of ingress kind on the moto server: the old endpoint stays live beside the new one
until CloudWatch shows it quiet, and the endpoint is derived from the API of the current kind."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from nami_action.apply import endpoint_url
from nami_action.aws import stacks as cfn
from nami_action.aws.session import Aws
from nami_action.render.markdown import plan_markdown
from nami_action.render.text import plan_text

from .support import FaultProxy, Project
from .test_deploy import deploy_project, fresh_aws, outcomes, plan_run


def seed_requests(aws: Aws, api_name: str, count: float, ago: timedelta) -> None:
    """API Gateway's request count for a REST API, as CloudWatch would hold it. Moto's
    CloudWatch returns exactly the datapoints put into it (its API Gateway publishes none), so
    this is how a test gives an old endpoint traffic."""
    aws.client("cloudwatch").put_metric_data(
        Namespace="AWS/ApiGateway",
        MetricData=[
            {
                "MetricName": "Count",
                "Dimensions": [
                    {"Name": "ApiName", "Value": api_name},
                    {"Name": "Stage", "Value": "live"},
                ],
                "Timestamp": datetime.now(UTC) - ago,
                "Value": count,
                "Unit": "Count",
            }
        ],
    )


def set_stripe(project: Project, written: str, extra: str) -> None:
    """nami.yaml as first written, with `extra` lines in the stripe pipeline."""
    stripe = "      max_concurrency: 20\n"
    project.config.write_text(written.replace(stripe, f"{stripe}{extra}\n"))


def waiting(aws: Aws, queue_url: str) -> int:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_an_ingress_change_keeps_the_old_endpoint_until_it_is_quiet(
    project: Project, emulator: str, aws: Aws
) -> None:
    written = project.config.read_text()
    deploy_project(project, emulator)
    rest_url = endpoint_url(aws, "shop-stripe", "/stripe", "rest")
    assert rest_url is not None and rest_url.endswith("/live/stripe")
    before = cfn.stack_resources(aws, "shop-stripe") or {}
    queue = before["Queue"]
    for number in range(3):  # webhooks waiting in the queue through every deploy below
        aws.client("sqs").send_message(QueueUrl=queue, MessageBody=f"webhook {number}")
    # Senders called the REST endpoint 132 times three hours ago.
    seed_requests(aws, "shop-stripe", 132, timedelta(hours=3))

    set_stripe(project, written, "    ingress: http")
    plan = plan_run(project, fresh_aws(emulator)).plan
    (stripe,) = plan.changed
    kinds = {w.kind: w for w in stripe.warnings}
    assert "from `rest` to `http`" in kinds["endpoint-changed"].message
    live = kinds["endpoint-live"].message
    assert f"old `rest` endpoint {rest_url} still live: 132 requests in the last 7d" in live
    assert "retired when quiet for 7d" in live
    assert not any(w.loses_messages for w in stripe.warnings)  # no --force needed
    assert live in plan_text(plan) and live in plan_markdown(plan)

    result, _ = deploy_project(project, emulator)
    assert outcomes(result)["stripe"] == "updated"
    after = cfn.stack_resources(aws, "shop-stripe") or {}
    # The REST API is the same one (same id, so the same URL), beside the new kind's resources.
    assert after["Api"] == before["Api"] and after["Queue"] == queue
    assert endpoint_url(aws, "shop-stripe", "/stripe", "rest") == rest_url
    deployed = cfn.deployed_template(aws, "shop-stripe") or {}
    assert deployed["Metadata"]["Nami"]["retiring_ingress"] == ["rest"]
    # moto's API Gateway does not forward to SQS (DESIGN.md, measured gaps): that the old URL
    # still stores webhooks is its integration, which still names this pipeline's one queue.
    integration = deployed["Resources"]["ApiPostMethod"]["Properties"]["Integration"]
    assert integration["Uri"]["Fn::Sub"][1]["QueueName"] == {"Fn::GetAtt": ["Queue", "QueueName"]}
    assert "HttpApiQueueIntegration" in deployed["Resources"]
    assert waiting(aws, queue) == 3

    # A later plan while it still gets requests: nothing to change, the endpoint stays live.
    plan = plan_run(project, fresh_aws(emulator)).plan
    (stripe,) = [p for p in plan.pipelines if p.pipeline == "stripe"]
    assert stripe.action == "none"
    assert [w.kind for w in stripe.warnings] == ["endpoint-live"]

    # Quiet for the period (1h here; the requests were 3 hours ago): this deploy retires it.
    set_stripe(project, written, "    ingress: http\n    ingress_retire_after: 1h")
    plan = plan_run(project, fresh_aws(emulator)).plan
    (stripe,) = plan.changed
    (retired,) = [w for w in stripe.warnings if w.kind == "endpoint-retired"]
    assert f"old `rest` endpoint {rest_url} had no request in the last 1h" in retired.message
    assert not retired.loses_messages
    result, _ = deploy_project(project, emulator)
    assert outcomes(result)["stripe"] == "updated"
    resources = cfn.stack_resources(aws, "shop-stripe") or {}
    assert "Api" not in resources and resources["Queue"] == queue
    assert (
        "retiring_ingress"
        not in (cfn.deployed_template(aws, "shop-stripe") or {})["Metadata"]["Nami"]
    )
    assert waiting(aws, queue) == 3
    # moto's CloudFormation skips AWS::ApiGatewayV2::* silently (DESIGN.md, measured gaps), so
    # the HTTP API has no physical id here and no URL can be derived; on AWS, HttpApi's id
    # gives https://<id>.execute-api.<region>.amazonaws.com/live/stripe.
    http_url = endpoint_url(aws, "shop-stripe", "/stripe", "http")
    if "HttpApi" in resources:
        assert http_url is not None and http_url != rest_url
    else:
        assert http_url is None


def test_an_old_endpoint_whose_traffic_cannot_be_read_is_kept(
    project: Project, emulator: str, aws: Aws, proxy: FaultProxy, proxied_aws: Aws
) -> None:
    """CloudWatch refusing the read (here: access denied, injected by the proxy) must not
    retire an endpoint that senders may still call: it stays, and the plan says why."""
    written = project.config.read_text()
    deploy_project(project, emulator)
    set_stripe(project, written, "    ingress: http")  # no requests seeded: quiet, if readable
    proxy.fail("GetMetricData", 403, "<Error><Code>AccessDenied</Code></Error>", times=5)
    run = plan_run(project, proxied_aws)
    (stripe,) = run.plan.changed
    (kept,) = [w for w in stripe.warnings if w.kind == "endpoint-live"]
    assert "is kept, still writing into the queue: its traffic cannot be read" in kept.message
    assert proxy.seen["GetMetricData"] >= 1  # (the cost estimate reads CloudWatch too)
    template = json.loads(run.templates["stripe"])
    assert template["Metadata"]["Nami"]["retiring_ingress"] == ["rest"]
    assert "ApiPostMethod" in template["Resources"]


@pytest.mark.parametrize("status", ["InternalError", "Forbidden"])
def test_an_old_endpoint_whose_count_came_back_incomplete_is_kept(
    status: str, project: Project, emulator: str, proxy: FaultProxy, proxied_aws: Aws
) -> None:
    """GetMetricData answers 200 yet reports the metric as not read (its StatusCode): the
    endpoint stays, as for a refused call. The emulator always says Complete: the proxy
    answers instead (boto3 speaks CloudWatch's JSON protocol here)."""
    written = project.config.read_text()
    deploy_project(project, emulator)
    set_stripe(project, written, "    ingress: http")
    answer = {"MetricDataResults": [{"Id": "q0", "StatusCode": status}], "Messages": []}
    body = json.dumps(answer)
    proxy.fail("GetMetricData", 200, body, times=5, content_type="application/x-amz-json-1.0")
    run = plan_run(project, proxied_aws)
    (stripe,) = run.plan.changed
    (kept,) = [w for w in stripe.warnings if w.kind == "endpoint-live"]
    assert f"its traffic cannot be read (CloudWatch answered {status}" in kept.message
    assert json.loads(run.templates["stripe"])["Metadata"]["Nami"]["retiring_ingress"] == ["rest"]


def test_a_function_url_endpoint_is_read_from_lambda(aws: Aws) -> None:
    """On AWS the stack's IngestFunction has a URL; moto's CloudFormation skips
    AWS::Lambda::Url, so the URL is made here with Lambda's own API."""
    import io
    import zipfile

    from nami_action.aws.function_urls import function_url

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handle(event, context):\n    return None\n")
    role = aws.client("iam").create_role(
        RoleName="ingest", AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}'
    )["Role"]["Arn"]
    lam = aws.client("lambda")
    lam.create_function(
        FunctionName="shop-slack-ingest",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handle",
        Code={"ZipFile": buffer.getvalue()},
    )
    assert function_url(aws, "shop-slack-ingest") is None
    made = lam.create_function_url_config(FunctionName="shop-slack-ingest", AuthType="NONE")
    assert function_url(aws, "shop-slack-ingest") == made["FunctionUrl"]


def three_kinds(project: Project) -> None:
    """github stays REST, stripe becomes `http`, orders `function-url`."""
    project.config.write_text(
        project.config.read_text()
        .replace("      max_concurrency: 20\n", "      max_concurrency: 20\n    ingress: http\n")
        .replace(
            "      max_concurrency: 2\n", "      max_concurrency: 2\n    ingress: function-url\n"
        )
    )


def test_the_logging_role_warning_is_for_rest_stages_only(project: Project, aws: Aws) -> None:
    """HTTP APIs and function URLs do not use API Gateway's account CloudWatch role."""
    three_kinds(project)
    plan = plan_run(project, fresh_aws(emulator_of(aws))).plan
    warned = {p.pipeline: [w.kind for w in p.warnings] for p in plan.pipelines}
    assert warned == {"github": ["logging-role-missing"], "stripe": [], "orders": []}


def emulator_of(aws: Aws) -> str:
    assert aws.target.endpoint_url is not None
    return aws.target.endpoint_url


def test_the_plan_states_the_ingest_cap_and_the_unverified_kind(project: Project, aws: Aws) -> None:
    """A function URL is capped by default (forged requests invoke Lambda too); `http` is
    marked unverified until `make aws-smoke` passed on AWS. Both in every rendering."""
    three_kinds(project)
    plan = plan_run(project, fresh_aws(emulator_of(aws))).plan
    said = {p.pipeline: p.ingress for p in plan.pipelines}
    assert said["github"] == ""
    assert "not yet verified on AWS" in said["stripe"]
    assert "shows the sender SQS's error text" in said["stripe"]
    assert "at most 10 requests at once" in said["orders"]
    text, markdown = plan_text(plan), plan_markdown(plan)
    for note in (said["stripe"], said["orders"]):
        assert note in text and note in markdown
    template = plan_run(project, fresh_aws(emulator_of(aws))).templates["orders"]
    ingest = json.loads(template)["Resources"]["IngestFunction"]["Properties"]
    assert ingest["ReservedConcurrentExecutions"] == 10
