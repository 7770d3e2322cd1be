"""Why a template leaves out what a checkov CloudFormation check asks for, written into each
resource's Metadata (`checkov: {skip: [{id, comment}]}`, which checkov reads), so every skip
travels with the template and carries its reason. `make test` runs checkov on the compiled
templates of a config using every feature: any failure that is not skipped here fails it."""

from __future__ import annotations

from troposphere import AWSObject, Template

# check id -> the reason it does not apply to nami's resources
REASONS = {
    "CKV_AWS_26": "alarm notifications carry alarm states only; CloudWatch cannot publish to a "
    "topic encrypted with the AWS-managed aws/sns key, and a customer key is the user's choice",
    "CKV_AWS_27": "encrypted at rest with SSE-SQS (SqsManagedSseEnabled); a customer KMS key "
    "would need key grants for API Gateway, the ingest and the consumer functions",
    "CKV_AWS_28": "the dedupe table holds event ids with a TTL, no webhook data: losing it "
    "only lets a duplicate through within the window, a backup restores nothing useful",
    "CKV_AWS_59": "webhook senders cannot sign AWS requests: they prove themselves by the "
    "signature the consumer verifies (verify.scheme)",
    "CKV_AWS_73": "X-Ray would be billed per webhook; each request is identified by API "
    "Gateway's extendedRequestId, which the envelope and the access logs carry",
    "CKV_AWS_115": "the consumer's concurrency is capped by the event source mapping's "
    "ScalingConfig.MaximumConcurrency; reserved concurrency would take from the account's "
    "pool (the ingest function takes it when ingress_function.reserved_concurrency is set)",
    "CKV_AWS_116": "invoked synchronously (event source mapping, function URL): a Lambda "
    "dead-letter queue applies to asynchronous invocations only; failed webhooks go to the "
    "queue's own dead-letter queue",
    "CKV_AWS_117": "the functions call the user's endpoints and AWS APIs over the internet; "
    "a VPC would need NAT gateways nami does not create",
    "CKV_AWS_119": "encrypted with the AWS-managed key; the table holds event ids only",
    "CKV_AWS_120": "every POST must reach the queue: a cached answer would drop a webhook",
    "CKV_AWS_149": "the forward signing key is encrypted with the AWS-managed key; a customer "
    "key would need KMS grants for the deploy role and the function, and only the pipeline's "
    "own function may read the secret",
    "CKV_AWS_158": "encrypted by CloudWatch Logs by default; the logs hold no secrets (the "
    "runtime logs references, never values) and a customer key is the user's choice",
    "CKV_AWS_173": "the environment holds secret references only, resolved at cold start; "
    "Lambda encrypts it at rest with the AWS-managed key",
    "CKV_AWS_258": "webhook senders cannot sign AWS requests: the ingest function checks "
    "their signature before storing anything",
}
# resource type -> the checks of REASONS that checkov runs on it
BY_TYPE = {
    "AWS::ApiGateway::Method": ["CKV_AWS_59"],
    "AWS::ApiGateway::Stage": ["CKV_AWS_73", "CKV_AWS_120"],
    "AWS::DynamoDB::Table": ["CKV_AWS_28", "CKV_AWS_119"],
    "AWS::Lambda::Function": ["CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173"],
    "AWS::Lambda::Url": ["CKV_AWS_258"],
    "AWS::Logs::LogGroup": ["CKV_AWS_158"],
    "AWS::SNS::Topic": ["CKV_AWS_26"],
    "AWS::SecretsManager::Secret": ["CKV_AWS_149"],
    "AWS::SQS::Queue": ["CKV_AWS_27"],
}


def add_skips(template: Template) -> None:
    for resource in template.resources.values():
        checks = [c for c in BY_TYPE.get(resource.resource_type, []) if _applies(resource, c)]
        if checks:
            skip = [{"id": check, "comment": REASONS[check]} for check in checks]
            resource.Metadata = {"checkov": {"skip": skip}}


def _applies(resource: AWSObject, check: str) -> bool:
    # A function with reserved concurrency passes CKV_AWS_115: no skip to justify.
    return not (check == "CKV_AWS_115" and "ReservedConcurrentExecutions" in resource.properties)
