"""Extraction and encoding as a Ray Data job: ``mmsearch index DIR --executor ray``.

The writer lists the files that need work; here they become a Ray dataset, processed by
``map_batches`` on a pool of actors, each of which loads the plugins (through the same
entry points as locally) and the encoder once, then extracts and encodes batch after
batch with the local run's own code (:func:`mmsearch.index.executor.process_jobs`).
Encoded batches stream back to the writer as they finish; it commits them as locally.
Actors take a GPU each where the cluster has GPUs. A worker that dies is restarted by
Ray and its batch run again; nothing was committed for it, so nothing is doubled.

Workers read the files at the writer's paths: on a cluster they must be on a shared
mount at the same path (docs/scaling.md). Only this module imports ray, and only the
``--executor ray`` path imports this module.
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from mmsearch.contracts import Encoder, ExtractSettings
from mmsearch.errors import MmsearchError, UsageError
from mmsearch.index.executor import EncoderRef, FileJob, WorkerEvent, process_jobs
from mmsearch.index.pipeline import Pending

log = logging.getLogger("mmsearch")

FILES_PER_TASK = 16
"""Files one actor call extracts and encodes: a full encoder batch for most encoders."""
_PASSED_ON = ("MMSEARCH_", "PYTHONPATH", "OMP_NUM_THREADS")
"""Environment the workers get from the writer: plugin selection, model and device choices."""
POLL_SECONDS = 0.25
"""How often the writer looks for the workers' extract/embed events while it waits."""


class RayExecutor:
    """Runs extraction and encoding on a Ray cluster (local, or ``address``)."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        actors: int | None = None,
        files_per_task: int = FILES_PER_TASK,
        num_cpus: int | None = None,
    ) -> None:
        self.address = address
        self.actors = actors
        self.files_per_task = files_per_task
        self.num_cpus = num_cpus
        """CPUs of a local cluster started here (None: all); ignored with ``address``."""

    def process(
        self,
        jobs: Sequence[FileJob],
        encoder: Encoder,
        settings: ExtractSettings,
        on_event: WorkerEvent | None = None,
    ) -> Iterator[list[Pending]]:
        """Each finished batch of jobs, encoded, as Ray hands it back; the workers'
        extract/embed events go to ``on_event`` as they come (polled while waiting)."""
        if not jobs:
            return
        ray = self._connect()
        started_here = not self._was_running
        try:
            yield from self._run(ray, jobs, encoder, settings, on_event)
        finally:
            if started_here:
                ray.shutdown()

    def _connect(self) -> Any:
        try:
            import ray
        except ImportError:
            raise UsageError(
                "--executor ray needs Ray: pip install 'mmsearch[ray]' (on every node of the "
                "cluster too)."
            ) from None
        self._was_running = bool(ray.is_initialized())
        if self._was_running:
            return ray
        env = {k: v for k, v in os.environ.items() if k.startswith(_PASSED_ON)}
        try:
            ray.init(
                address=self.address,
                num_cpus=None if self.address else self.num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.ERROR,
                runtime_env={"env_vars": env},
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "a local Ray cluster"
            raise MmsearchError(
                f"Could not start or reach {where}: {exc}. Check --ray-address (ray://host:10001 "
                "or host:6379 of a running cluster), or leave it out for a local one."
            ) from exc
        return ray

    def _run(
        self,
        ray: Any,
        jobs: Sequence[FileJob],
        encoder: Encoder,
        settings: ExtractSettings,
        on_event: WorkerEvent | None,
    ) -> Iterator[list[Pending]]:
        import ray.data
        from ray.util.queue import Queue

        # Ray Data logs each plan and its timing at INFO; the run's summary says what happened.
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the CLI shows its own progress
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        actors = self.actors or (gpus or max(1, int(resources.get("CPU", 1))))
        dataset = ray.data.from_items(
            [{"job": pickle.dumps(job)} for job in jobs],
            override_num_blocks=max(1, min(len(jobs), actors * 4)),
        )
        # The workers' events travel through a queue actor (no CPU reserved for it).
        events = Queue(actor_options={"num_cpus": 0}) if on_event is not None else None
        encoded = dataset.map_batches(
            _Worker,
            fn_constructor_kwargs={
                "encoder": EncoderRef.of(encoder), "settings": settings, "events": events,
            },
            batch_size=self.files_per_task,
            batch_format="numpy",
            concurrency=actors,
            num_gpus=1 if gpus else 0,
            num_cpus=0 if gpus else 1,
            # Ray Data restarts a dead actor and retries its batch by default (max_restarts
            # and max_task_retries -1); tests/test_ray_executor.py kills one to check it.
        )
        log.info("Ray: %d files on %d actors (%d GPUs)", len(jobs), actors, gpus)
        batches = encoded.iter_batches(batch_size=None, batch_format="numpy")
        if events is None or on_event is None:
            for batch in batches:
                yield [pickle.loads(raw) for raw in batch["pending"]]
            return
        try:
            for batch in _polled(batches, events, on_event):
                yield [pickle.loads(raw) for raw in batch["pending"]]
        finally:
            events.shutdown(force=True)


def _polled(batches: Iterator[Any], events: Any, on_event: WorkerEvent) -> Iterator[Any]:
    """``batches``, read on a thread so that this one can pass on the workers' events while
    it waits (the tracker is told on the indexing thread, as locally)."""
    arrived: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()

    def pump() -> None:
        try:
            for batch in batches:
                arrived.put(("batch", batch))
                if stop.is_set():
                    return  # the writer stopped reading (an error): leave Ray's iterator
        except BaseException as exc:  # handed to the writer's thread, raised there
            arrived.put(("error", exc))
        finally:
            arrived.put(("end", None))

    def tell() -> None:
        waiting = events.qsize()
        if waiting:
            for kind, files in events.get_nowait_batch(waiting):
                on_event(kind, files)

    reader = threading.Thread(target=pump, name="mmsearch-ray-results", daemon=True)
    reader.start()
    try:
        while True:
            try:
                kind, value = arrived.get(timeout=POLL_SECONDS)
            except queue.Empty:
                tell()
                continue
            tell()
            if kind == "batch":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()


class _Worker:
    """One actor: the plugins and the encoder, loaded once, then batch after batch."""

    def __init__(self, encoder: EncoderRef, settings: ExtractSettings, events: Any) -> None:
        from mmsearch.plugins import load_plugins  # on the worker, through its entry points

        registry = load_plugins()
        found = registry.encoder(encoder.encoder_id)
        if found is None:
            raise RuntimeError(
                f"the encoder {encoder.encoder_id!r} is not installed on this Ray worker "
                f"({os.uname().nodename}); install the same plugins on every node"
            )
        self.encoder = found.configure(encoder.checkpoint)
        self.extractors = registry.extractors
        self.annotators = registry.annotators
        self.settings = settings
        self.events = events
        """The writer's event queue (None: nobody listens)."""

    def _tell(self, kind: str, files: int) -> None:
        self.events.put((kind, files))

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        jobs = [pickle.loads(raw) for raw in batch["job"]]
        tell = self._tell if self.events is not None else None
        done = process_jobs(
            jobs, self.extractors, self.annotators, self.encoder, self.settings, tell
        )
        return {"pending": np.array([pickle.dumps(p) for p in done], dtype=object)}
