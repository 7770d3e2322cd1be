"""`routes:` from nami.yaml to the template: mistakes reported where they are written, the
matching rules, a cfn-lint clean template where each route has its own queue, DLQ, function
and alarms, and a router that may send only to its routes' queues (and its own)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from nami_action.compile import CodeLocation, compile_config
from nami_action.compile.limits import resource_count
from nami_action.config import load_config
from nami_action.config.routes import logical_prefix, route_pipelines, routes_summary
from nami_action.cost.estimate import pipeline_cost
from nami_action.cost.model import Assumptions, estimate, inputs_from_pipeline
from nami_action.cost.prices import prices_for
from nami_action.errors import ConfigError
from nami_action.measure import COMPILER
from nami_action.plan.changes import setting_changes
from nami_action.plan.model import PipelinePlan, Plan, PlanCost
from nami_action.render.markdown import plan_markdown
from nami_action.render.text import plan_text
from nami_action.runtime.router import route_queue_url
from nami_action.runtime.routing import RouteTest, matched_routes
from nami_action.runtime.webhook import Headers, Webhook
from tests.cfn_lint import assert_templates_lint_clean
from tests.plan.test_comment_in_nami_terms import compiled

CODE = CodeLocation("artifacts-bucket", "nami/artifacts/" + "0" * 64 + ".zip")


def problems(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "consumers" / "billing").mkdir(parents=True, exist_ok=True)
    (tmp_path / "consumers" / "billing" / "handler.py").write_text("def handle(w): pass\n")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [f"{p.line}:{p.column} {p.message}" for p in caught.value.problems]


def test_mistakes_are_reported_where_they_are_written(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
version: 1
project: acme
pipelines:
  a:
    verify: {scheme: none}
    consumer: {code: consumers/billing}
    routes:
      one: {match: {json: $.type, prefix: x., equals: y}, consumer: {code: consumers/billing}}
      four: {match: default, forward: {url: "https://a.example/x"}, consumer: {code: nope}}
      five: {match: default, forward: {url: "https://a.example/x"}}
  b:
    verify: {scheme: none}
    consumer: {code: consumers/billing}
    unrouted: drop
""",
    )
    assert found == [
        "6:22 pipeline `a`: a pipeline with `routes` has no handler of its own: give each route "
        "its `consumer.code` or `forward`",
        "8:20 pipeline `a`: set exactly one test: `equals`, `prefix`, `in` or `exists`",
        "9:13 pipeline `a`: route `four` needs exactly one of `consumer.code` (your handler) or "
        "`forward` (an existing HTTP endpoint)",
        "9:86 pipeline `a` route `four`: consumer.code `nope` does not exist (relative to "
        "nami.yaml's folder)",
        "10:21 pipeline `a`: only one route can be `default` (`four` already is)",
        "14:15 pipeline `b`: `unrouted` says what happens to webhooks no route matched: it "
        "needs `routes`",
    ]


def test_schema_mistakes_in_routes_are_located(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
version: 1
project: acme
pipelines:
  a:
    verify: {scheme: none}
    routes:
      two: {match: {json: "type", in: [a]}, forward: {url: "https://a.example/x"}}
      three: {match: defualt, forward: {url: "https://a.example/x"}}
      four: {match: {header: X-A, exist: true}, forward: {url: "https://a.example/x"}}
      Six: {match: default}
""",
    )
    text = "\n".join(found)
    assert "7:27 `pipelines.a.routes.two.match.json`: must be a JSON path like `$.type`" in text
    assert "8:22 `pipelines.a.routes.three.match`: write `default`" in text
    assert "9:35 unknown key `exist`" in text
    assert "10:7 `Six`: use lowercase letters, digits and hyphens" in text
    assert len(found) == 4


def test_a_route_name_that_makes_a_queue_name_too_long_is_refused(tmp_path: Path) -> None:
    route = "r" * 40
    found = problems(
        tmp_path,
        f"""\
version: 1
project: {"p" * 30}
pipelines:
  stripe:
    verify: {{scheme: none}}
    routes:
      {route}: {{match: default, forward: {{url: "https://a.example/x"}}}}
""",
    )
    assert found == [
        f"7:7 pipeline `stripe`: route `{route}`'s dead-letter queue would be "
        f"`{'p' * 30}-stripe_{route}-dlq` (82 characters); SQS allows 80: shorten the route, "
        "pipeline or project name"
    ]


def test_a_route_queue_smaller_than_the_pipelines_is_refused_at_its_key(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
version: 1
project: acme
pipelines:
  stripe:
    verify: {scheme: none}
    queue: {max_message_size: 512KiB}
    routes:
      big: {match: default, forward: {url: "https://a.example/x"}, queue: {max_message_size: 1MiB}}
      small:
        match: {json: $.type, prefix: x.}
        forward: {url: "https://a.example/x"}
        queue: {max_message_size: 256KiB}
""",
    )
    assert found == [
        "12:35 pipeline `stripe`: route `small`'s queue takes at most 262144 bytes but the "
        "pipeline's queue takes 524288: a larger webhook could never reach the route; set it "
        "to at least 524288"
    ]


def test_a_header_route_is_refused_on_ingress_http_where_it_is_written(tmp_path: Path) -> None:
    # An HTTP API carries only the headers it maps, and a route's header is often absent:
    # what the API does then is not yet verified on AWS, so such a route is refused.
    found = problems(
        tmp_path,
        """\
version: 1
project: acme
pipelines:
  stripe:
    ingress: http
    verify: {scheme: none}
    routes:
      audit: {match: {header: X-Audit, exists: true}, forward: {url: "https://a.example/x"}}
      rest: {match: {json: $.type, prefix: x.}, forward: {url: "https://a.example/x"}}
""",
    )
    assert found == [
        "8:31 pipeline `stripe`: route `audit`: `http` does not carry a header for routing "
        "yet: match on a JSON path, or use `rest` or `function-url`"
    ]


def test_a_route_inherits_the_pipeline_settings_and_overrides_its_own(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
version: 1
project: acme
defaults:
  consumer: {memory: 512}
pipelines:
  a:
    verify: {scheme: none}
    routes:
      one: {match: default, forward: {url: "https://a.example/x"}, queue: {visibility_timeout: 1s}}
""",
    )
    # The route's own key is blamed, at the route: its delivery timeout is 30 s and more.
    assert len(found) == 1 and found[0].startswith("9:96 pipeline `a`: route `one`: must be at")


def webhook(body: object, **headers: str) -> Webhook:
    return Webhook(
        id="w1",
        received_at=datetime.now(UTC),
        source_ip="203.0.113.9",
        method="POST",
        path="/stripe",
        query={},
        headers=Headers(headers),
        body=json.dumps(body).encode(),
    )


def test_matching_reads_headers_and_json_paths() -> None:
    routes = [
        RouteTest("invoices", json_path="$.type", test="prefix", value="invoice."),
        RouteTest("live", json_path="$.livemode", test="equals", value="true"),
        RouteTest("customers", json_path="$.type", test="in", value=("customer.created",)),
        RouteTest("github", header="X-GitHub-Event", test="exists", value=True),
        RouteTest("unsigned", header="Stripe-Signature", test="exists", value=False),
        RouteTest("first", json_path="$.items[0].id", test="equals", value="42"),
        RouteTest("rest", default=True),
    ]
    signed = {"Stripe-Signature": "t=1"}
    assert matched_routes(routes, webhook({"type": "invoice.paid"}, **signed)) == ["invoices"]
    assert matched_routes(
        routes, webhook({"type": "invoice.paid", "livemode": True}, **signed)
    ) == ["invoices", "live"]
    assert matched_routes(routes, webhook({"type": "customer.created"}, **signed)) == ["customers"]
    assert matched_routes(routes, webhook({}, **{"x-github-event": "push", **signed})) == ["github"]
    assert matched_routes(routes, webhook({"type": "x"})) == ["unsigned"]
    assert matched_routes(routes, webhook({"items": [{"id": 42}]}, **signed)) == ["first"]
    assert matched_routes(routes, webhook({"type": {"nested": 1}}, **signed)) == ["rest"]
    assert matched_routes(routes, webhook("not an object", **signed)) == ["rest"]
    assert matched_routes(routes[:1], webhook({"type": "charge"})) == []  # no default: none


def test_numbers_compare_as_they_parse_and_null_is_absent_as_the_manual_says() -> None:
    raw = replace(webhook({}), body=b'{"amount": 1e3, "count": 42, "note": null}')
    routes = [
        RouteTest("as-written", json_path="$.amount", test="equals", value="1e3"),
        RouteTest("as-parsed", json_path="$.amount", test="equals", value="1000.0"),
        RouteTest("whole", json_path="$.count", test="equals", value="42"),
        RouteTest("note", json_path="$.note", test="exists", value=True),
        RouteTest("no-note", json_path="$.note", test="exists", value=False),
    ]
    assert matched_routes(routes, raw) == ["as-parsed", "whole", "no-note"]


def test_written_routes_match_as_the_runtime_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "nami.yaml"
    path.write_text(
        """\
version: 1
project: acme
pipelines:
  a:
    verify: {scheme: none}
    routes:
      one: {match: {header: X-Event, equals: push}, forward: {url: "https://a.example/x"}}
      two: {match: {json: $.type, in: [a, b]}, forward: {url: "https://a.example/y"}}
"""
    )
    config = load_config(path)
    template = json.loads(compile_config(config, {"a": CODE}, use_cache=False)["acme-a"])
    settings = json.loads(
        template["Resources"]["Consumer"]["Properties"]["Environment"]["Variables"]["NAMI_CONFIG"]
    )
    routes = [RouteTest.from_json(r) for r in settings["routes"]]
    assert matched_routes(routes, webhook({"type": "b"}, **{"x-event": "push"})) == ["one", "two"]
    assert settings["unrouted"] == "keep"


CONFIG = """\
version: 1
project: acme
region: us-east-1
pipelines:
  stripe:
    verify: {scheme: stripe, secret: ssm:/acme/stripe}
    dedupe: {json_path: $.id}
    alarms: {email: [ops@acme.example]}
    routes:
      billing: {match: {json: $.type, prefix: "invoice."},
                consumer: {code: consumers/billing, max_concurrency: 3}}
      crm:     {match: {json: $.type, in: [customer.created, customer.updated]},
                forward: {url: https://crm.acme.com/hooks, rate: 5/s}}
      rest:    {match: default, forward: {url: https://api.acme.com/webhooks/stripe},
                queue: {max_receive_count: 8}}
"""


@pytest.fixture
def template(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "consumers" / "billing").mkdir(parents=True)
    (tmp_path / "consumers" / "billing" / "handler.py").write_text("def handle(w): pass\n")
    path = tmp_path / "nami.yaml"
    path.write_text(CONFIG)
    config = load_config(path)
    return dict(
        json.loads(compile_config(config, {"stripe": CODE}, use_cache=False)["acme-stripe"])
    )


def test_the_template_passes_cfn_lint(template: dict[str, Any], tmp_path: Path) -> None:
    assert_templates_lint_clean({"stripe": template}, tmp_path)


def test_each_route_has_its_own_queue_dead_letter_queue_function_and_alarms(
    template: dict[str, Any],
) -> None:
    resources = template["Resources"]
    for prefix in ("RouteBilling", "RouteCrm", "RouteRest"):
        for suffix, kind in (
            ("Queue", "AWS::SQS::Queue"),
            ("DeadLetterQueue", "AWS::SQS::Queue"),
            ("Consumer", "AWS::Lambda::Function"),
            ("ConsumerEventSource", "AWS::Lambda::EventSourceMapping"),
            ("DeadLetterAlarm", "AWS::CloudWatch::Alarm"),
            ("BacklogAgeAlarm", "AWS::CloudWatch::Alarm"),
        ):
            assert resources[prefix + suffix]["Type"] == kind
    queues = {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::SQS::Queue"}
    assert queues["RouteCrmQueue"]["QueueName"] == "acme-stripe_crm"
    assert queues["RouteCrmDeadLetterQueue"]["QueueName"] == "acme-stripe_crm-dlq"
    assert queues["RouteRestQueue"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["RouteRestDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 8,
    }
    mapping = resources["RouteBillingConsumerEventSource"]["Properties"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 3}
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["RouteBillingQueue", "Arn"]}
    alarm = resources["RouteCrmDeadLetterAlarm"]["Properties"]
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]  # the pipeline's one topic
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["RouteCrmDeadLetterQueue", "QueueName"]}}
    ]
    billing = json.loads(
        resources["RouteBillingConsumer"]["Properties"]["Environment"]["Variables"]["NAMI_CONFIG"]
    )
    # Verified once, by the router; the route dedupes on its own and runs its folder's code.
    assert billing["verify"] is None
    assert billing["dedupe"] == {"header": None, "json_path": "$.id", "window": 86400}
    assert (billing["code"], billing["pipeline"], billing["stack"]) == (
        "routes/billing",
        "stripe/billing",
        "acme-stripe_billing",
    )


def test_the_router_may_send_only_to_its_routes_queues(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    statements = resources["ConsumerRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    sends = [
        r["Fn::GetAtt"][0]
        for s in statements
        if "sqs:SendMessage" in s["Action"]
        for r in s["Resource"]
    ]
    assert sorted(sends) == [
        "DeadLetterQueue",  # rejected, malformed and unrouted webhooks
        "Queue",  # a copy put back for the routes a failed send still owes
        "RouteBillingQueue",
        "RouteCrmQueue",
        "RouteRestQueue",
    ]
    variables = resources["Consumer"]["Properties"]["Environment"]["Variables"]
    assert variables["NAMI_QUEUE_URL"] == {"Ref": "Queue"}
    # The router finds each route's queue by name from its own: the names the template gives.
    inbox = resources["Queue"]["Properties"]["QueueName"]
    for route in ("billing", "crm", "rest"):
        queue = resources[logical_prefix(route) + "Queue"]["Properties"]["QueueName"]
        assert route_queue_url(inbox, route) == queue
    router = json.loads(variables["NAMI_CONFIG"])
    assert router["verify"]["scheme"] == "stripe"  # the one place it is verified
    # A route's function reads and deletes its own queue only.
    billing = resources["RouteBillingConsumerRole"]["Properties"]["Policies"][0]
    reads = [
        s["Resource"]
        for s in billing["PolicyDocument"]["Statement"]
        if "sqs:ReceiveMessage" in s["Action"]
    ]
    assert reads == [[{"Fn::GetAtt": ["RouteBillingQueue", "Arn"]}]]


def test_the_plan_shows_each_route_and_its_cost(tmp_path: Path, template: dict[str, Any]) -> None:
    config = load_config(tmp_path / "nami.yaml")
    lines = routes_summary(config.pipelines["stripe"].spec)
    assert lines == [
        'route billing: json $.type prefix "invoice." -> handler in consumers/billing, at most '
        "3 at once",
        'route crm: json $.type in ["customer.created", "customer.updated"] -> forward to '
        "https://crm.acme.com/hooks, at most 5/s, 10 in flight; a backlog of 100,000 drains in "
        "about 5 h 33 m at 5/s",
        "route rest: default -> forward to https://api.acme.com/webhooks/stripe, no rate bound, "
        "10 in flight; a backlog of 100,000 drains in about 16 m 40 s at 10 at a time, 100 ms each",
        "unrouted: kept in the dead-letter queue (alarmed)",
    ]
    prices = prices_for("us-east-1")
    assert prices is not None
    assumptions = Assumptions(duration_ms=100)
    cost = pipeline_cost(None, template, prices, assumptions, 2_000_000)
    assert cost.after is not None and set(cost.routes) == {"billing", "crm", "rest"}
    # Each route is priced on its own settings (crm's 5/s pacing holds its invocations 2 s),
    # with no endpoint of its own; the pipeline adds the router path, the dearest route per
    # webhook, and every route's fixed costs (idle polling of its queue, a forward's secret).
    crm = cost.routes["crm"]
    assert crm.per_million > cost.routes["rest"].per_million
    assert cost.after.per_million_parts["routes"] == pytest.approx(crm.per_million)
    assert cost.after.fixed_parts["routes"] == pytest.approx(
        sum(line.fixed_monthly for line in cost.routes.values())
    )
    routeless = estimate(inputs_from_pipeline(config.pipelines["stripe"].spec), prices, assumptions)
    assert cost.after.per_million == pytest.approx(routeless.per_million + crm.per_million)
    plan = Plan(
        "acme",
        "nami.yaml",
        "us-east-1",
        [PipelinePlan("stripe", "acme-stripe", "create", routes=lines, cost=cost)],
        cost=PlanCost(region="us-east-1", prices_read="2026-01-01", assumptions="x"),
    )
    text = plan_text(plan)
    assert f"    {lines[0]}" in text
    assert "  stripe route crm: $" in text and "per million webhooks it gets" in text
    markdown = plan_markdown(plan)
    assert "route billing: json $.type prefix" in markdown
    assert "stripe route crm" in markdown
    assert Plan.from_dict(plan.to_dict()).pipelines[0].cost == cost  # JSON round trip


def test_too_many_routes_for_one_stack_are_refused_at_the_routes(tmp_path: Path) -> None:
    def config(count: int) -> str:
        routes = "".join(
            f"      r{i}: {{match: {{header: X-R, equals: '{i}'}}, "
            f"forward: {{url: 'https://a.example/{i}'}}}}\n"
            for i in range(count)
        )
        return (
            "version: 1\nproject: acme\npipelines:\n  hook:\n    verify: {scheme: none}\n"
            f"    routes:\n{routes}"
        )

    path = tmp_path / "nami.yaml"
    path.write_text(config(30))
    fits = load_config(path, measure=COMPILER)
    assert resource_count(fits, fits.pipelines["hook"]) is not None
    path.write_text(config(45))
    with pytest.raises(ConfigError) as caught:
        load_config(path, measure=COMPILER)
    (found,) = [f"{p.line}:{p.column} {p.message}" for p in caught.value.problems]
    assert found.startswith("6:5 pipeline `hook`: its stack would hold more than 500 resources")
    assert "up to 15 per route" in found and "split the routes over two pipelines" in found


def test_the_dashboard_shows_the_router_and_each_route(template: dict[str, Any]) -> None:
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    graphs = {
        w["properties"]["title"]: w["properties"]["metrics"] for w in json.loads(body)["widgets"]
    }
    outcomes = [m[1] for m in graphs["Outcomes a minute (Nami runtime)"]]
    assert outcomes == ["Routed", "Unrouted", "Failed", "Rejected", "Malformed"]
    waiting = [m[3] for m in graphs["Routes: webhooks waiting"]]
    assert waiting == ["acme-stripe_billing", "acme-stripe_crm", "acme-stripe_rest"]
    queues = template["Resources"]
    assert [
        queues[p + "Queue"]["Properties"]["QueueName"]
        for p in ("RouteBilling", "RouteCrm", "RouteRest")
    ] == waiting
    delivered = [(m[1], m[3]) for m in graphs["Routes: delivered a minute"]]
    assert delivered == [
        ("Handled", "acme-stripe_billing"),
        ("Forwarded", "acme-stripe_crm"),
        ("Forwarded", "acme-stripe_rest"),
    ]


def test_dedupe_happens_in_each_route_not_in_the_router(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    tables = sorted(k for k, v in resources.items() if v["Type"] == "AWS::DynamoDB::Table")
    assert tables == ["RouteBillingDedupeTable", "RouteCrmDedupeTable", "RouteRestDedupeTable"]
    router = resources["Consumer"]["Properties"]["Environment"]["Variables"]
    assert "NAMI_DEDUPE_TABLE" not in router
    assert json.loads(router["NAMI_CONFIG"])["dedupe"] is None
    statements = resources["ConsumerRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    assert "dynamodb" not in json.dumps(statements)


def test_an_environment_overrides_a_route_key_by_key(tmp_path: Path) -> None:
    path = tmp_path / "nami.yaml"
    path.write_text(
        """\
version: 1
project: acme
pipelines:
  stripe:
    verify: {scheme: none}
    routes:
      crm:
        match: {json: $.type, prefix: customer.}
        forward: {url: "https://crm.example/h", rate: 5/s}
environments:
  staging:
    overrides:
      pipelines:
        stripe:
          routes:
            crm: {forward: {url: "https://crm-staging.example/h"}}
  production: {}
"""
    )
    staging = load_config(path, env="staging").pipelines["stripe"].spec.routes
    production = load_config(path, env="production").pipelines["stripe"].spec.routes
    assert staging is not None and production is not None
    assert staging["crm"].forward is not None and production["crm"].forward is not None
    assert staging["crm"].forward.url == "https://crm-staging.example/h"
    assert staging["crm"].forward.rate == 5.0  # the rest of the route as written
    assert staging["crm"].match == production["crm"].match
    assert production["crm"].forward.url == "https://crm.example/h"


def test_a_routes_environment_is_held_to_lambdas_4_kb_where_it_is_written(
    tmp_path: Path,
) -> None:
    (tmp_path / "consumers" / "billing").mkdir(parents=True)
    (tmp_path / "consumers" / "billing" / "handler.py").write_text("def handle(w): pass\n")
    path = tmp_path / "nami.yaml"
    path.write_text(
        f"""\
version: 1
project: acme
pipelines:
  stripe:
    verify: {{scheme: none}}
    consumer: {{environment: {{SHARED: "{"s" * 2000}"}}}}
    routes:
      billing:
        match: default
        consumer: {{code: consumers/billing, environment: {{OWN: "{"o" * 2500}"}}}}
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, measure=COMPILER)
    (found,) = [f"{p.line}:{p.column} {p.message}" for p in caught.value.problems]
    assert found.startswith(
        "10:45 pipeline `stripe` route `billing`: the consumer's environment would be"
    )
    # The route's variables are the pipeline's and its own, merged key by key.
    path.write_text(path.read_text().replace('"' + "s" * 2000 + '"', "s").replace("o" * 2500, "o"))
    (route,) = route_pipelines(load_config(path).pipelines["stripe"]).values()
    assert route.spec.consumer.environment == {"SHARED": "s", "OWN": "o"}


def test_a_routes_changed_setting_opens_its_pipeline_in_the_pr_comment(
    routes_project: Callable[..., Path],
) -> None:
    """Issue 24's example: `routes.crm.forward.rate: 50/s → 10/s`, read from what the two
    compiled templates record, as the plan reads the deployed one."""
    config = routes_project("https://crm.example.com")
    before = compiled(config)["stripe"]
    config.write_text(config.read_text().replace("rate: 50/s", "rate: 10/s"))
    after = compiled(config)["stripe"]

    changes, note = setting_changes(before, after)

    assert note == ""
    assert [(c.key, c.before, c.after) for c in changes] == [
        ("routes.crm.forward.rate", "50/s", "10/s")
    ]


def test_the_router_reads_only_the_verify_secret_and_each_route_its_own(tmp_path: Path) -> None:
    """The router's function gets what routing needs (NAMI_CONFIG, its queue, its DLQ), not the
    handlers' `consumer.environment`, secret or not: that is each route's."""
    for folder in ("billing", "crm"):
        (tmp_path / "consumers" / folder).mkdir(parents=True)
        (tmp_path / "consumers" / folder / "handler.py").write_text("def handle(w): pass\n")
    path = tmp_path / "nami.yaml"
    path.write_text("""\
version: 1
project: acme
pipelines:
  stripe:
    verify: {scheme: stripe, secret: ssm:/acme/stripe}
    consumer: {environment: {DB_PASSWORD: "ssm:/acme/db", DB_HOST: db.internal}}
    routes:
      billing: {match: {json: $.type, prefix: "invoice."},
                consumer: {code: consumers/billing, environment: {LEDGER: "ssm:/acme/ledger"}}}
      crm: {match: default, consumer: {code: consumers/crm}}
""")
    compiled = compile_config(load_config(path), {"stripe": CODE}, use_cache=False)
    resources = json.loads(compiled["acme-stripe"])["Resources"]

    def variables(function: str) -> dict[str, Any]:
        return dict(resources[function]["Properties"]["Environment"]["Variables"])

    def nami_config(function: str) -> dict[str, Any]:
        return dict(json.loads(variables(function)["NAMI_CONFIG"]))

    def policy(role: str) -> str:
        return json.dumps(resources[role]["Properties"]["Policies"])

    assert nami_config("Consumer")["secrets"] == {}
    assert "/acme/stripe" in policy("ConsumerRole")
    assert "/acme/db" not in policy("ConsumerRole")
    assert "/acme/ledger" not in policy("ConsumerRole")
    assert nami_config("RouteBillingConsumer")["secrets"] == {
        "DB_PASSWORD": "ssm:/acme/db",
        "LEDGER": "ssm:/acme/ledger",
    }
    assert "/acme/ledger" in policy("RouteBillingConsumerRole")
    assert nami_config("RouteCrmConsumer")["secrets"] == {"DB_PASSWORD": "ssm:/acme/db"}
    assert "/acme/db" in policy("RouteCrmConsumerRole")
    assert sorted(variables("Consumer")) == [
        "NAMI_CONFIG",
        "NAMI_DEAD_LETTER_QUEUE_URL",
        "NAMI_QUEUE_URL",
    ]
    assert variables("RouteBillingConsumer")["DB_HOST"] == "db.internal"
    assert variables("RouteCrmConsumer")["DB_HOST"] == "db.internal"


def two_routes(first: str, second: str) -> str:
    return f"""\
version: 1
project: acme
pipelines:
  p:
    verify: {{scheme: none}}
    routes:
      {first}: {{match: default, consumer: {{code: consumers/billing}}}}
      {second}: {{match: {{json: $.t, equals: x}}, consumer: {{code: consumers/billing}}}}
"""


def test_routes_whose_ids_would_collide_are_refused_before_compile(tmp_path: Path) -> None:
    """`RouteA` + `DeadLetterQueue` is `RouteADeadLetter` + `Queue`: the compiler would fail
    on a duplicate id, so validate refuses it, at the later route."""
    found = problems(tmp_path, two_routes("a", "a-dead-letter"))
    assert found == [
        "8:22 pipeline `p`: route `a-dead-letter` and route `a` would share CloudFormation ids "
        "(RouteADeadLetter... and RouteA...): rename one"
    ]


def test_routes_whose_queue_names_would_collide_are_refused(tmp_path: Path) -> None:
    """Route `x`'s dead-letter queue is `acme-p_x-dlq`, and so is route `x-dlq`'s queue."""
    found = problems(tmp_path, two_routes("x", "x-dlq"))
    assert (
        "8:7 the queue of route `x-dlq` of `p` would be named `acme-p_x-dlq`, as the dead-letter "
        "queue of route `x` of `p` is: a queue name is one queue in an account and region; "
        "rename one of them"
    ) in found


@pytest.mark.parametrize("names", [("a", "ab"), ("a", "a-2"), ("billing", "crm")])
def test_routes_whose_names_only_look_alike_are_compiled(
    tmp_path: Path, names: tuple[str, str]
) -> None:
    """`RouteA` and `RouteAb` (or `RouteA2`) share a start but no id: every id after a prefix
    begins with a capital. Both compile, and every queue has a name of its own."""
    (tmp_path / "consumers" / "billing").mkdir(parents=True)
    (tmp_path / "consumers" / "billing" / "handler.py").write_text("def handle(w): pass\n")
    (tmp_path / "nami.yaml").write_text(two_routes(*names))
    config = load_config(tmp_path / "nami.yaml")
    template = json.loads(compile_config(config, {"p": CODE}, use_cache=False)["acme-p"])
    queues = [
        r["Properties"]["QueueName"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SQS::Queue"
    ]
    assert len(queues) == 6 and len(set(queues)) == 6
