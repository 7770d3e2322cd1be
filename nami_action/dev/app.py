"""Wiring: store, group commit, HTTP server, workers and dashboard; start, run, stop.

Restart semantics: the database belongs to one `nami dev` at a time (a lock file), so at
start nothing can be in flight: messages hidden by an interrupted run are made visible at
once (their receive count keeps the interrupted attempt, as SQS would).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

from nami_action.config import Config, PipelineConfig
from nami_action.config.forward import concurrency
from nami_action.config.routes import route_queue_owners, route_test, route_tests
from nami_action.config.rules import retry_horizon
from nami_action.dev import environ
from nami_action.dev.commit import Committer
from nami_action.dev.console import Counters, Dashboard
from nami_action.dev.consumers import (
    PREVIOUS_ENV_PREFIX,
    DevConsumer,
    DevError,
    DevSecrets,
    DevSinks,
    build_consumer,
    dev_secret,
)
from nami_action.dev.dedupe import SqliteMarkers, release_unfinished
from nami_action.dev.forward import (
    build_forwarder,
    destination,
    local_url_problem,
    signing_secret,
)
from nami_action.dev.history import History
from nami_action.dev.ingress_kinds import KindsDevServer, kind_routes
from nami_action.dev.inspect_view import PipelineInfo
from nami_action.dev.inspector import Inspector, check_paths
from nami_action.dev.queue import Depth, Outgoing, Store
from nami_action.dev.server import DevServer, Route
from nami_action.dev.workers import PipelineWorkers, Settings
from nami_action.runtime.consumer import FORWARDED, HANDLED, ROUTED
from nami_action.runtime.forward import Forwarder
from nami_action.runtime.router import Router

DEFAULT_DATA_DIR = Path(".nami/dev")
DEFAULT_PORT = 8787
DEFAULT_REGION = "us-east-1"
LOG_NAME = "consumer.log"
PURGE_EVERY = 60.0  # seconds between retention sweeps


@dataclass(frozen=True)
class DevOptions:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path = DEFAULT_DATA_DIR
    secrets: Mapping[str, str] = field(default_factory=dict)
    previous_secrets: Mapping[str, str] = field(default_factory=dict)  # during a rotation
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    forward_to: Mapping[str, str] = field(default_factory=dict)  # pipeline -> local URL
    purge_every: float = PURGE_EVERY  # seconds between retention sweeps (tests shorten it)


class DevApp:
    """Every pipeline of one config, running locally until `stop`."""

    def __init__(self, config: Config, options: DevOptions, out: IO[str] | None = None) -> None:
        unknown = sorted({*options.secrets, *options.previous_secrets} - set(config.pipelines))
        if unknown:
            raise DevError(f"--secret names unknown pipeline(s): {', '.join(unknown)}")
        self.queues = dev_queues(config)
        forwarding = {n for n, p in self.queues.items() if p.spec.forward is not None}
        unknown = sorted(set(options.forward_to) - forwarding)
        if unknown:
            those = ", ".join(sorted(forwarding)) or "none"
            raise DevError(
                f"--forward-to names what does not forward: {', '.join(unknown)} (the pipelines "
                f"and routes with `forward`: {those})"
            )
        for name, url in sorted(options.forward_to.items()):
            problem = local_url_problem(url)
            if problem:
                raise DevError(f"--forward-to {name}={url}: {problem}")
        self.config = config
        self.options = options
        self.counters = {name: Counters() for name in self.queues}
        self.dashboard = Dashboard(self.counters, self._depth, out)
        self.workers: dict[str, PipelineWorkers] = {}
        self._lock_fd: int | None = None
        self._log: IO[str] | None = None
        self._log_lock = threading.Lock()
        self._store: Store | None = None
        self._committer: Committer | None = None
        self._server: DevServer | None = None
        self._history: History | None = None
        self.inspector: Inspector | None = None
        self._environ: environ.PipelineEnviron | None = None
        self._started = False
        self.purges = 0  # retention sweeps run so far (what a test checks ran)

    @property
    def store(self) -> Store:
        assert self._store is not None, "not started"
        return self._store

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.address
        return f"http://{host}:{port}"

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        data_dir = self.options.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock(data_dir)
        self._store = Store.open(data_dir)
        # Line-buffered: `tail -f consumer.log` shows each line as it happens.
        self._log = (data_dir / LOG_NAME).open("a", encoding="utf-8", buffering=1)
        self._environ = environ.install()
        released = self.store.release_all(time.time())
        # Claims left `processing` by a killed run would turn those redeliveries into retries
        # until their lease ends; nothing can be processing now, so they go at once.
        release_unfinished(self.store)
        self._purge()
        consumers = [self._consumer(name) for name in self.queues]
        self._committer = Committer(self.store, self._committed)
        endpoints = [c for c in consumers if c.pipeline.route is None]
        self._server = KindsDevServer(
            (self.options.host, self.options.port),
            self._routes(),
            self._committer.submit,
            lambda pipeline: self.counters[pipeline].add(received=1),
            kind_routes([(c.pipeline, c.consumer.verify_settings) for c in endpoints]),
        )
        self._inspect(consumers, self._server)
        self._announce(consumers, released)
        self._committer.start()
        for workers in self.workers.values():
            workers.start()
        self._server.start()
        self._started = True
        self.dashboard.start()

    def run(self, stop: threading.Event) -> None:
        """Refresh the counters about once a second until `stop` is set, then stop."""
        every = self.options.purge_every
        next_purge = time.monotonic() + every
        try:
            while not stop.wait(min(1.0, every)):
                self.dashboard.refresh()
                if time.monotonic() >= next_purge:
                    self._purge()
                    next_purge = time.monotonic() + every
            self.dashboard.say("stopping: no new webhooks; waiting for in-flight batches")
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop accepting, store what was accepted, let in-flight batches finish."""
        if self._server is not None:
            self._server.stop_accepting()
        if self._committer is not None:
            self._committer.close()  # answers every webhook already handed over
        if self._server is not None:
            self._server.close()
        for workers in self.workers.values():
            workers.stop()
        for workers in self.workers.values():
            workers.join()
        if self._store is not None:
            if self._started:
                self.dashboard.stop()
            self._store.close()
        if self._log is not None:
            self._log.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
        if self._environ is not None:
            environ.uninstall()
            self._environ = None
        self._server = self._committer = self._store = None
        self._history = self.inspector = None
        self._started = False
        self._log = None
        self._lock_fd = None
        self.workers = {}

    def _inspect(self, consumers: list[DevConsumer], server: KindsDevServer) -> None:
        """The inspector page on the same port (dev/inspector.py)."""
        assert self._committer is not None
        self._history = History(self.store, self.queues)
        pipelines = {c.pipeline.name: _info(c) for c in consumers}
        self.inspector = Inspector(
            self._history,
            pipelines,
            self.store,
            self._committer.submit,
            lambda name, count: self.workers[name].notify(count),
            self.config.file,
        )
        self.inspector.bind(server.address, self.options.host)
        server.inspector = self.inspector.answer
        server.on_refused = self._history.refused

    def _consumer(self, name: str) -> DevConsumer:
        pipeline = self.queues[name]
        options = self.options
        secrets = DevSecrets(
            dev_secret(name, options.secrets, options.env),
            dev_secret(name, options.previous_secrets, options.env, PREVIOUS_ENV_PREFIX),
        )
        assert self._environ is not None, "not started"
        forwarder: Forwarder | None = None
        notes: list[str] = []
        if pipeline.spec.forward is not None:
            url = destination(pipeline, self.options.forward_to)
            key_name = name.replace("/", "_")  # a route's: <pipeline>_<route>
            key, kept = signing_secret(key_name, self.options.data_dir, self.options.env)
            forwarder = build_forwarder(pipeline, url, key, notes)
            rate = pipeline.spec.forward.rate
            notes.insert(
                0,
                f"  {name}: forwarding to {url} (at most {pipeline.spec.forward.concurrency} at "
                f"once{f', {rate:g}/s' if rate else ''}), signed (Standard Webhooks) with the "
                f"secret in {kept or 'NAMI_DEV_FORWARD_SECRET_' + key_name.upper()}",
            )
        router = None
        if pipeline.spec.routes:
            queues = {route: f"{name}/{route}" for route in pipeline.spec.routes}
            # As in Lambda: when a send fails after another route got the webhook, a copy
            # owing only the failed routes goes back on the pipeline's own local queue.
            sender = StoreSender(self.store, self._committed)
            router = Router(route_tests(pipeline.spec), queues, sender, own_queue=name)
        built = build_consumer(
            pipeline,
            self.config.base_dir,
            secrets,
            SqliteMarkers(self.store),
            DevSinks(lambda line: self._emitted(name, line), self._raised),
            self.store,
            self._environ,
            forwarder,
            router,
        )
        if notes:
            built = DevConsumer(built.pipeline, built.consumer, (*built.warnings, *notes))
        settings = Settings.of(pipeline, self.config.region or DEFAULT_REGION)
        self.workers[name] = PipelineWorkers(
            settings, self.store, built.consumer, self.counters[name], self.dashboard.say
        )
        return built

    def _routes(self) -> dict[str, Route]:
        """Path -> pipeline. On AWS each pipeline has its own API; here they share one host."""
        routes: dict[str, Route] = {}
        for p in self.config.pipelines.values():
            if p.path in routes:
                raise DevError(
                    f"pipelines `{routes[p.path].pipeline}` and `{p.name}` both use path "
                    f"{p.path}; nami dev serves every pipeline on one host"
                )
            routes[p.path] = Route(p.name, p.spec.queue.max_message_size)
        check_paths(list(routes))
        return routes

    def _committed(self, messages: Sequence[Outgoing]) -> None:
        if self._history is not None:
            self._history.stored(messages)
        for name, count in Counter(m.pipeline for m in messages).items():
            self.workers[name].notify(count)

    def _emitted(self, pipeline: str, line: str) -> None:
        """Runtime log lines (one per record, one metrics line per batch) to the log file;
        every record not handled also to the terminal."""
        with self._log_lock:
            if self._log is not None:
                self._log.write(line + "\n")
        record: dict[str, Any] = json.loads(line)
        if "outcome" not in record:
            return  # the batch's metrics (EMF) line: the counters come from the records
        outcome = str(record["outcome"])
        if self._history is not None:
            self._history.attempted(pipeline, record)
        retry_after = record.get("retryAfter")
        self.workers[pipeline].record_outcome(
            str(record.get("messageId")),
            outcome,
            retry_after if isinstance(retry_after, int) else None,
            # `routed` counts a webhook once, as the metric does (runtime/consumer.py).
            counted=not (outcome == ROUTED and record.get("putBackCopy")),
        )
        if outcome not in (HANDLED, FORWARDED, ROUTED):
            self.dashboard.say(line)

    def _raised(self, text: str) -> None:
        """A handler's traceback: to the terminal and the log (the log line has no stack)."""
        with self._log_lock:
            if self._log is not None:
                self._log.write(text + "\n")
        self.dashboard.say(text)

    def _depth(self, pipeline: str) -> Depth:
        return self.store.depth(pipeline, time.time())

    def _purge(self) -> None:
        """Drop what SQS would have: messages past queue.retention, dead letters past
        dead_letter.retention, both counted from when the webhook was first stored."""
        now = time.time()
        for p in self.queues.values():
            spec = p.spec
            gone = self.store.purge_expired(
                p.name, spec.queue.retention, spec.dead_letter.retention, now
            )
            if gone:
                self.dashboard.say(f"{p.name}: {gone} message(s) past their retention dropped")
        self.purges += 1

    def _announce(self, consumers: list[DevConsumer], released: int) -> None:
        say = self.dashboard.say
        say(f"nami dev: listening on {self.url}  (queue: {self.store.path})")
        if self.inspector is not None:
            say(f"  inspector: {self.inspector.url}")
        for built in consumers:
            p, spec = built.pipeline, built.pipeline.spec
            verify = spec.verify.scheme if built.consumer.verify_settings else "off"
            if p.route is not None:
                what = "forward" if spec.forward else f"code={spec.consumer.code}"
                say(
                    f"    route {p.name} ({_match_text(self.config, p)}): {what}, "
                    f"concurrency<={concurrency(spec)}, retries: {retry_horizon(spec)}"
                )
            else:
                say(
                    f"  POST {self.url}{p.path} -> {p.name} (mode={spec.consumer.mode}, "
                    f"verify={verify}, dedupe={'on' if spec.dedupe else 'off'}, "
                    f"batch={spec.consumer.batch_size}, concurrency<={concurrency(spec)}, "
                    f"visibility={p.visibility_timeout}s, retries: {retry_horizon(spec)})"
                )
            for warning in built.warnings:
                say(warning)
        if released:
            say(f"{released} message(s) in flight when the last run stopped are visible again")
        say("Ctrl-C stops: accepting ends, in-flight batches finish.")


def dev_queues(config: Config) -> dict[str, PipelineConfig]:
    """Every local queue: each pipeline's, and each route's as the pipeline `<name>/<route>`
    (its own queue, dead letters, workers and counters, as on AWS)."""
    queues: dict[str, PipelineConfig] = {}
    for name, pipeline in config.pipelines.items():
        queues[name] = pipeline
        queues.update(route_queue_owners(pipeline))
    return queues


class StoreSender:
    """The router's sends in `nami dev`: into the route's local queue, durably, then its
    workers are woken and the inspector is told (as a webhook the endpoint stored)."""

    def __init__(self, store: Store, stored: Callable[[Sequence[Outgoing]], None]) -> None:
        self._store = store
        self._stored = stored

    def send(self, queue: str, body: str, attributes: Mapping[str, str], delay: int) -> None:
        message = Outgoing(queue, str(uuid.uuid4()), body, time.time(), dict(attributes), delay)
        self._store.send([message])
        self._stored([message])


def _match_text(config: Config, pipeline: PipelineConfig) -> str:
    """`{"json": "$.type", "prefix": "invoice."}` or `default`: a route's match, as written."""
    parent, _, route = pipeline.name.partition("/")
    routes = config.pipelines[parent].spec.routes or {}
    return json.dumps(route_test(route, routes[route]).to_json()["match"], ensure_ascii=False)


def _info(built: DevConsumer) -> PipelineInfo:
    p, checks = built.pipeline, built.consumer.verify_settings is not None
    scheme = p.spec.verify.scheme
    verify = scheme if checks or scheme == "none" else f"{scheme}, not checked (no dev secret)"
    return PipelineInfo(p.name, p.path, p.spec.ingress, verify, checks, p.route)


def _lock(data_dir: Path) -> int:
    """One `nami dev` per data folder: at start nothing else can have messages in flight."""
    fd = os.open(data_dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DevError(f"another nami dev is using {data_dir}; stop it or pass --data") from None
    return fd


def stop_on_signals(stop: threading.Event) -> None:
    """SIGINT/SIGTERM: stop gracefully; a second one exits at once (nothing acked is lost).

    The handler only sets the event (it may interrupt code holding the output lock)."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            os.write(2, b"second signal: exiting now; in-flight messages are retried next start\n")
            os._exit(130)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
