"""One runtime Consumer per pipeline, built in-process from nami.yaml instead of NAMI_CONFIG.

The Lambda entry point reads one pipeline's settings from the environment; `nami dev` runs
several pipelines in one process, so it builds the same `Consumer` (verify, dedupe, the
per-webhook loop, batchItemFailures) from each PipelineConfig directly.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nami_action.config import PipelineConfig
from nami_action.config.models import is_secret_reference
from nami_action.dev.environ import PipelineEnviron, bound
from nami_action.dev.queue import DeadLetter, Store
from nami_action.errors import NamiError
from nami_action.runtime.config import DedupeConfig, RuntimeConfig, VerifyConfig
from nami_action.runtime.consumer import Consumer
from nami_action.runtime.deadletters import carried
from nami_action.runtime.dedupe import Markers
from nami_action.runtime.forward import Forwarder
from nami_action.runtime.router import Router, no_handler
from nami_action.runtime.verify import (
    DEFAULT_TOLERANCE,
    UNSIGNED_BY_SECRET,
    VerifySettings,
    secret_problem,
)

SECRET_ENV_PREFIX = "NAMI_DEV_SECRET_"
PREVIOUS_ENV_PREFIX = "NAMI_DEV_PREVIOUS_SECRET_"

# Code folders put on sys.path so far: their modules are forgotten before another folder's
# handler is imported, so two pipelines may both have a `handler.py`.
_CODE_DIRS: list[Path] = []


class DevError(NamiError):
    """`nami dev` cannot start as configured."""


@dataclass(frozen=True)
class DevConsumer:
    pipeline: PipelineConfig
    consumer: Consumer
    warnings: tuple[str, ...]


def secret_env_name(pipeline: str, prefix: str = SECRET_ENV_PREFIX) -> str:
    """NAMI_DEV_SECRET_<PIPELINE>, upper case, hyphens as underscores."""
    return prefix + pipeline.upper().replace("-", "_")


def dev_secret(
    pipeline: str,
    given: Mapping[str, str],
    env: Mapping[str, str],
    prefix: str = SECRET_ENV_PREFIX,
) -> str | None:
    """The signing secret from --secret, else from the environment, else None. With
    PREVIOUS_ENV_PREFIX: the previous secret of a rotation (a second --secret)."""
    return given.get(pipeline) or env.get(secret_env_name(pipeline, prefix)) or None


@dataclass(frozen=True)
class DevSecrets:
    """A pipeline's dev secrets: the current one, and the previous one during a rotation."""

    current: str | None
    previous: str | None = None


class StoreDeadLetters:
    """The runtime's DeadLetters in the dev database: rejected and malformed webhooks are kept
    in `dead_letters` with the outcome and reason, as the Lambda puts them in the SQS DLQ."""

    def __init__(self, store: Store, pipeline: str) -> None:
        self._store = store
        self._pipeline = pipeline

    def send(self, record: Mapping[str, Any], outcome: str, reason: str) -> None:
        body = record.get("body")
        if not isinstance(body, str):
            raise ValueError("the record has no body to move")
        attributes = record.get("attributes") or {}
        count = str(attributes.get("ApproximateReceiveCount", "1"))
        sent_ms = str(attributes.get("SentTimestamp", ""))
        now = time.time()
        letter = DeadLetter(
            str(record.get("messageId", "")),
            body,
            int(count) if count.isdigit() else 1,
            outcome,
            reason,
            carried(record) or None,  # a put-back copy's owed routes, as SqsDeadLetters keeps
        )
        sent_at = int(sent_ms) / 1000 if sent_ms.isdigit() else now
        self._store.add_dead_letter(self._pipeline, letter, sent_at, now)


@dataclass(frozen=True)
class DevSinks:
    """Where a dev consumer's output goes: runtime log lines, and handler tracebacks."""

    emit: Callable[[str], None]
    traceback: Callable[[str], None]


def build_consumer(
    pipeline: PipelineConfig,
    base_dir: Path,
    secrets: DevSecrets,
    markers: Markers | None,
    sinks: DevSinks,
    store: Store,
    environ: PipelineEnviron,
    forwarder: Forwarder | None = None,
    router: Router | None = None,
) -> DevConsumer:
    """The pipeline's Consumer: its handler, with `forward:` the given Forwarder, with
    `routes:` the given Router (a route is a pipeline named `<pipeline>/<route>` here)."""
    spec = pipeline.spec
    warnings: list[str] = []
    settings = verify_settings(pipeline, secrets, warnings)
    dedupe = (
        DedupeConfig(spec.dedupe.header, spec.dedupe.json_path, spec.dedupe.window)
        if spec.dedupe
        else None
    )
    config = RuntimeConfig(
        pipeline=pipeline.name,
        mode=spec.consumer.mode,
        handler=spec.consumer.handler,
        verify=_verify_config(settings),
        dedupe=dedupe,
        stack=pipeline.stack_name,
        forward=forwarder.config if forwarder else None,
        routes=tuple(router.routes) if router else (),
        unrouted=spec.unrouted,
    )
    values = pipeline_environment(pipeline.name, spec.consumer.environment, environ.base, warnings)
    function: Callable[..., Any]
    if forwarder is not None:
        function = forwarder
    elif router is not None:
        function = no_handler
    else:
        code = base_dir / (spec.consumer.code or ".")
        with environ.using(values):  # what the module reads at import time is its own too
            function = load_handler(pipeline.name, code, spec.consumer.handler)
    consumer = Consumer(
        config=config,
        function=bound(environ, values, traced(pipeline.name, function, sinks.traceback)),
        verify_settings=settings,
        markers=markers if dedupe else None,
        dead_letters=StoreDeadLetters(store, pipeline.name),
        emit=sinks.emit,
        router=router,
    )
    return DevConsumer(pipeline, consumer, tuple(warnings))


def verify_settings(
    pipeline: PipelineConfig, secrets: DevSecrets, warnings: list[str]
) -> VerifySettings | None:
    """The runtime's verify settings with the dev secrets; None (verification off) without."""
    verify = pipeline.spec.verify
    secret = secrets.current
    if verify.scheme == "none":
        return None
    topics = tuple(getattr(verify, "topics", None) or ())
    if verify.scheme in UNSIGNED_BY_SECRET:
        # `sns`: SNS's own signature and the TopicArn allow-list, as the Lambda checks them;
        # no shared secret, so none is asked for.
        return VerifySettings(scheme=verify.scheme, topics=topics)
    if secret is None:
        warnings.append(
            f"WARNING: pipeline `{pipeline.name}` has verify scheme `{verify.scheme}` but no dev "
            f"secret: signatures are NOT checked. Pass --secret {pipeline.name}=VALUE or set "
            f"{secret_env_name(pipeline.name)}."
        )
        return None
    for which, value in (("dev secret", secret), ("previous dev secret", secrets.previous)):
        problem = secret_problem(verify.scheme, value) if value is not None else None
        if problem:
            # As the Lambda at cold start: refuse to run rather than reject every webhook.
            raise DevError(f"pipeline `{pipeline.name}`: the {which} {problem}")
    return VerifySettings(
        scheme=verify.scheme,
        secret=secret,
        header=getattr(verify, "header", None),
        encoding=getattr(verify, "encoding", "hex"),
        prefix=getattr(verify, "prefix", ""),
        tolerance=getattr(verify, "tolerance", DEFAULT_TOLERANCE),
        previous=secrets.previous,
    )


def _verify_config(settings: VerifySettings | None) -> VerifyConfig | None:
    if settings is None:
        return None
    return VerifyConfig(
        scheme=settings.scheme,
        secret_ref="dev",  # the value is in VerifySettings; never resolved in dev
        header=settings.header,
        encoding=settings.encoding,
        prefix=settings.prefix,
        tolerance=settings.tolerance,
        topics=settings.topics,
    )


def pipeline_environment(
    pipeline: str, environment: Mapping[str, str], base: Mapping[str, str], warnings: list[str]
) -> dict[str, str]:
    """The pipeline's own variables (dev/environ.py keeps them to its threads).

    A value already in the process environment wins, so a developer can override nami.yaml
    locally. References cannot be resolved offline: the developer exports them.
    """
    values: dict[str, str] = {}
    for name, value in environment.items():
        current = base.get(name)
        if is_secret_reference(value):
            if current is None:
                warnings.append(
                    f"warning: pipeline `{pipeline}`: {name} is {value}, which nami dev cannot "
                    f"resolve; export {name}=... before starting nami dev"
                )
            continue
        if current is None:
            values[name] = value
        elif current != value:
            warnings.append(
                f"warning: pipeline `{pipeline}`: {name} is already set in the environment; "
                "keeping that value"
            )
    return values


def traced(
    pipeline: str, function: Callable[..., Any], report: Callable[[str], None]
) -> Callable[..., Any]:
    """The handler, reporting the traceback of whatever it raises (the runtime's log line
    keeps only `Type: message`) before the runtime counts the failure."""

    def call(*args: Any) -> Any:  # (webhook) in webhook mode, (event, context) in sqs mode
        try:
            return function(*args)
        except BaseException as exc:
            tb = exc.__traceback__
            frames = traceback.format_exception(type(exc), exc, tb.tb_next if tb else None)
            about = f" on webhook {args[0].id}" if hasattr(args[0], "id") else ""
            report(f"{pipeline}: handler raised{about}:\n{''.join(frames).rstrip()}")
            raise

    return call


def load_handler(pipeline: str, code_dir: Path, dotted: str) -> Callable[..., Any]:
    """Import `module.function` from the pipeline's code folder, as the Lambda bundle would."""
    if not code_dir.is_dir():
        raise DevError(f"pipeline `{pipeline}`: consumer.code folder {code_dir} does not exist")
    code_dir = code_dir.resolve()
    _forget_other_code(code_dir)
    if str(code_dir) in sys.path:
        sys.path.remove(str(code_dir))
    sys.path.insert(0, str(code_dir))
    if code_dir not in _CODE_DIRS:
        _CODE_DIRS.append(code_dir)
    importlib.invalidate_caches()
    module_name, _, function_name = dotted.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise DevError(
                f"pipeline `{pipeline}`: handler module {module_name!r} not found in {code_dir}"
            ) from None
        raise DevError(_import_failure(pipeline, dotted)) from None
    except Exception:
        raise DevError(_import_failure(pipeline, dotted)) from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise DevError(f"pipeline `{pipeline}`: {module_name} has no function {function_name!r}")
    return function  # type: ignore[no-any-return]


def _import_failure(pipeline: str, dotted: str) -> str:
    return f"pipeline `{pipeline}`: importing handler {dotted} failed:\n{traceback.format_exc()}"


def _forget_other_code(code_dir: Path) -> None:
    """Drop modules imported from other code folders from sys.modules (their handlers keep
    their own module objects), so same-named modules in this folder are imported afresh."""
    others = [d for d in _CODE_DIRS if d != code_dir]
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and any(Path(file).is_relative_to(d) for d in others):
            del sys.modules[name]
