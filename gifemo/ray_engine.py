"""`gifemo tag --engine ray`: the files still to tag go through a pool of Ray actors (Ray Data).

The driver (gifemo.tagger.tag_paths) walks, hashes and skips files exactly as for a local run and stays the
only writer of the corpus; this module turns the (path, sha256) pairs left into a Ray dataset, maps it in
batches over actors that each hold one tagger (models loaded once per actor), and hands the records back
batch by batch as they stream in. What a worker receives: the tag options, the Runtime (its models folder
must exist on every node, or the nodes download the models into their own cache) and the paths, which it
opens itself: the files must sit at the same paths on every node (shared storage).

Ray is imported by this module only, and this module only when `--engine ray` asks for it.
"""
from __future__ import annotations

import logging
import math
import os
import pickle
import warnings
from dataclasses import replace
from typing import Callable, Iterator, Optional

import numpy as np
import ray
import ray.data
import ray.exceptions
from ray.util.annotations import RayDeprecationWarning

from .config import RayOptions, Runtime
from .corpus import GifRecord
from .names import one_line
from .native_stderr import native_stderr_silenced
from .pool import sendable
from .tagger import TagOptions, lost_record


class TagActor:
    """One Ray actor: a tagging worker built once (models loaded once), then one batch of files per call.

    A setup problem (a missing model) is not a file's: like a local worker, the actor hands the exception back
    in place of a record and the driver stops the run with it, instead of Ray retrying a broken actor."""

    def __init__(self, worker: Callable, options: TagOptions, runtime: Runtime):
        self.worker, self.setup_error = None, None
        try:
            self.worker = worker(options, runtime)
        except Exception as exc:
            self.setup_error = exc

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        # Paths travel as bytes: a file name that is not UTF-8 has no Arrow string.
        items = [(os.fsdecode(bytes(path)), str(sha)) for path, sha in zip(batch["path"], batch["sha256"])]
        # Records travel pickled, as from a local worker process, so they reach the corpus exactly alike.
        return {"result": [pickle.dumps(self._result(item)) for item in items]}

    def _result(self, item: tuple[str, str]):
        if self.setup_error is None:
            try:
                return self.worker(item)
            except Exception as exc:  # the worker records each file's failure itself: this one is a setup problem
                self.setup_error = exc
        return sendable(self.setup_error)


class RayEngine:
    """The Engine of gifemo.tagger.tag_paths that tags on a Ray cluster (started locally when no address)."""

    def __init__(self, options: Optional[RayOptions] = None):
        self.options = options or RayOptions()

    def batches(self, todo: list[tuple[str, str]], options: TagOptions, runtime: Runtime, worker: Callable,
                version: str) -> Iterator[list[GifRecord]]:
        quiet = runtime.verbose == 0
        if quiet:  # Ray Data logs every run's plan and progress, and a dead actor's traceback, to the terminal
            logging.getLogger("ray.data").setLevel(logging.CRITICAL)
        connected_here = not ray.is_initialized()
        if connected_here:
            extra = {} if self.options.address else {"include_dashboard": False}  # a local instance, for this run
            with native_stderr_silenced(quiet):  # Ray's C++ core announces its log level there, whatever it is
                ray.init(address=self.options.address, logging_level=logging.ERROR if quiet else logging.INFO,
                         log_to_driver=not quiet, **extra)
        try:
            pending = dict(todo)
            for block in self._dataset(todo, options, runtime, worker).iter_batches(batch_size=None):
                records = [pickle.loads(data) for data in block["result"]]
                for record in records:
                    if isinstance(record, Exception):
                        raise record
                    pending.pop(record.path, None)
                yield records
            # Batches that failed every retry were dropped by Ray Data (max_errored_blocks): say so, file by file.
            tries = self.options.retries + 1
            lost = [lost_record(item, version, f"a Ray worker died on its batch {tries} times")
                    for item in pending.items()]
            if lost:
                yield lost
        except ray.exceptions.RayError as exc:  # the cluster itself failed (lost its head node, ran out of memory)
            raise ConnectionError(f"the Ray cluster failed: {one_line(str(exc).splitlines()[0])}") from None
        finally:
            if connected_here:
                ray.shutdown()

    def _dataset(self, todo, options: TagOptions, runtime: Runtime, worker: Callable) -> "ray.data.Dataset":
        opts = self.options
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False         # tag_paths shows one bar for the whole run
        context.max_errored_blocks = -1              # a batch that keeps killing its actor must not stop the run
        rows = [{"path": os.fsencode(path), "sha256": sha} for path, sha in todo]
        # One batch at a time per actor: an actor that dies takes only its own batch with it, not a queue.
        pool = (ray.data.ActorPoolStrategy(size=opts.actors, max_tasks_in_flight_per_actor=1) if opts.actors
                else ray.data.ActorPoolStrategy(min_size=1, max_size=None, max_tasks_in_flight_per_actor=1))
        # Torch in each actor uses the CPUs it reserved, not every core of its node.
        actor_runtime = replace(runtime, threads=max(1, math.ceil(opts.cpus_per_actor)))
        # One block per batch, so that batches start, and come back, one at a time.
        files = ray.data.from_items(rows, override_num_blocks=max(1, math.ceil(len(rows) / opts.batch_size)))
        with warnings.catch_warnings():
            # Ray 2.60 names no parameter for the retries of an actor's batch; its default retries for ever, which
            # a file that crashes its actor every time would turn into a run that never ends.
            warnings.simplefilter("ignore", RayDeprecationWarning)
            return files.map_batches(TagActor, fn_constructor_args=(worker, options, actor_runtime),
                                     batch_size=opts.batch_size, num_cpus=opts.cpus_per_actor, compute=pool,
                                     max_task_retries=opts.retries)
