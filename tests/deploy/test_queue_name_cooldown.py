"""A create that fails because SQS still holds a just-deleted queue's name is run again.

The emulator has no such wait and its CloudFormation never rolls back, so the failure cannot be
produced end to end here: these tests pin the decision on the reason text CloudFormation
reports (as AWS words it) and the bounded wait-and-retry around one execution.
"""

from __future__ import annotations

from nami_action.apply import (
    DeployOptions,
    queue_deleted_recently,
    retry_while_queue_name_cools,
)
from nami_action.plan.model import Outcome

# What a stack event says on AWS when CreateQueue answers QueueDeletedRecently.
COOLING = (
    'Queue (AWS::SQS::Queue): CREATE_FAILED: Resource handler returned message: "You must wait '
    "60 seconds after deleting a queue before you can create another with the same name. "
    '(Service: Sqs, Status Code: 400, Request ID: 2b8f-example)" (RequestToken: 1a2b, '
    "HandlerErrorCode: GeneralServiceException)"
)
LEGACY = "Queue (AWS::SQS::Queue): CREATE_FAILED: AWS.SimpleQueueService.QueueDeletedRecently"
OTHER = "Consumer (AWS::Lambda::Function): CREATE_FAILED: Role is not authorized"


def test_the_reason_is_recognised_only_when_it_is_this_one() -> None:
    assert queue_deleted_recently(["stack ended in ROLLBACK_COMPLETE", COOLING])
    assert queue_deleted_recently([LEGACY])
    assert not queue_deleted_recently(["stack ended in ROLLBACK_COMPLETE", OTHER])
    assert not queue_deleted_recently([])


class Runs:
    """A sequence of execution results, and the waits taken between them."""

    def __init__(self, *results: tuple[Outcome, list[str]]) -> None:
        self.results = list(results)
        self.calls = 0
        self.waits = 0

    def attempt(self) -> tuple[Outcome, list[str]]:
        self.calls += 1
        return self.results.pop(0)

    def wait(self) -> None:
        self.waits += 1


def test_waits_then_creates() -> None:
    runs = Runs(("failed", ["stack ended in ROLLBACK_COMPLETE", COOLING]), ("created", []))
    assert retry_while_queue_name_cools(runs.attempt, runs.wait) == ("created", [])
    assert (runs.calls, runs.waits) == (2, 1)


def test_other_failures_are_not_retried() -> None:
    runs = Runs(("failed", [OTHER]), ("created", []))
    assert retry_while_queue_name_cools(runs.attempt, runs.wait) == ("failed", [OTHER])
    assert (runs.calls, runs.waits) == (1, 0)


def test_retries_are_bounded_and_the_last_reason_is_reported() -> None:
    runs = Runs(*[("failed", [COOLING])] * 5)
    assert retry_while_queue_name_cools(runs.attempt, runs.wait, attempts=3) == (
        "failed",
        [COOLING],
    )
    assert (runs.calls, runs.waits) == (3, 2)


def test_the_wait_outlasts_sqs_minute() -> None:
    assert DeployOptions().queue_cooldown_seconds > 60
