"""The service's model processes: each holds its own Recommender; every call goes to whichever is idle.

Most of a suggestion holds Python's GIL, so one process cannot keep two cores busy. Several uvicorn
processes sharing the listening socket did not spread the work either: the first to wake accepts every
connection waiting (8 of 8 clients, most times), and that one process then answers them all on one core
(bench/bench_service.py). Here one front process speaks HTTP and hands each call to an idle model process
(or queues it until one is free), so the work is shared per request, whoever holds the connection.
"""
from __future__ import annotations

import asyncio
import multiprocessing
from collections import deque
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable, Optional

from ..config import Runtime
from ..pool import _serve, describe_exit, sendable


def load_recommender(db: Path, runtime: Runtime, text_model: Optional[str]):
    """The Recommender of a process that answers one call at a time (one thread per model call)."""
    import torch

    from .suggest import Recommender

    # Requests run side by side in separate processes: one thread each, not all of them fighting for every core.
    torch.set_num_threads(1)
    return Recommender(db, runtime, text_model=text_model)


def _handler(db: Path, runtime: Runtime, text_model: Optional[str]) -> Callable:
    """Runs in a model process: its Recommender, then (function, args) -> ("ok", value) or ("failed", exception)."""
    recommender = load_recommender(db, runtime, text_model)

    def handle(call: tuple) -> tuple:
        function, args = call
        try:
            return "ok", function(recommender, *args)
        except Exception as exc:  # the request fails, the process stays
            return "failed", sendable(exc)
    return handle


class ModelProcesses:
    """`size` spawned processes, each with its own Recommender. `await call(function, *args)` runs
    `function(recommender, *args)` in an idle one (a module-level function: it is pickled by name).

    Calls are made from one event loop, which also reads the answers (a reader per process pipe): a thread
    collecting them passed Python's GIL to and fro with the event loop, and the HTTP front took 0.98 ms of
    CPU per request with it against 0.82 without (bench/bench_service_ab.py)."""

    def __init__(self, size: int, db: Path, runtime: Runtime, text_model: Optional[str] = None):
        context = multiprocessing.get_context("spawn")  # torch and ONNX Runtime threads do not survive a fork
        self._processes: dict[Connection, Any] = {}
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        for _ in range(size):
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(child, partial(_handler, db, runtime, text_model)),
                                      daemon=True)
            process.start()
            child.close()
            self._processes[parent] = process
        self.pids = [process.pid for process in self._processes.values()]
        try:
            for conn, process in self._processes.items():  # every process has its models before the first request
                try:
                    kind, value = conn.recv()
                except EOFError:
                    process.join()
                    raise RuntimeError(f"a model process died while loading: {describe_exit(process.exitcode)}")
                if kind == "error":
                    raise value
        except BaseException:
            self.close()
            raise
        self._idle = list(self._processes)
        self._queued: deque = deque()
        self._busy: dict[Connection, asyncio.Future] = {}

    async def call(self, function: Callable, *args) -> Any:
        loop = asyncio.get_running_loop()
        if self._loop is None:  # the first call: answers are read on this loop from now on
            self._loop = loop
            for conn in self._processes:
                loop.add_reader(conn.fileno(), self._answered, conn)
        elif loop is not self._loop:
            raise RuntimeError("model processes are called from one event loop")
        if not self._processes:
            raise RuntimeError("no model process is left")
        future = loop.create_future()
        if self._idle:
            self._give(self._idle.pop(), future, (function, args))
        else:
            self._queued.append((future, (function, args)))
        return await future

    def _give(self, conn: Connection, future: asyncio.Future, call: tuple) -> None:
        self._busy[conn] = future
        conn.send(call)

    def _answered(self, conn: Connection) -> None:
        """A process's pipe is readable: its answer (handed to the call's future, and the process its next
        call), or its end."""
        try:
            kind, (status, value) = conn.recv()
        except (EOFError, OSError):
            self._lost(conn)
            return
        future = self._busy.pop(conn)
        if self._queued:
            self._give(conn, *self._queued.popleft())
        else:
            self._idle.append(conn)
        if not future.done():  # done: the request was cancelled (its client went away)
            if status == "ok":
                future.set_result(value)
            else:
                future.set_exception(value)

    def _lost(self, conn: Connection) -> None:
        """A model process died (killed, out of memory): its call fails, the others go on; with none left,
        the queued calls fail too."""
        process = self._processes.pop(conn)
        self._loop.remove_reader(conn.fileno())
        process.join(timeout=5)
        error = RuntimeError(f"a model process died: {describe_exit(process.exitcode)}")
        failed = [self._busy.pop(conn)] if conn in self._busy else []
        if conn in self._idle:
            self._idle.remove(conn)
        if not self._processes:
            failed += [future for future, _ in self._queued]
            self._queued.clear()
        for future in failed:
            if not future.done():
                future.set_exception(error)

    def close(self) -> None:
        for conn, process in self._processes.items():
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(conn.fileno())
            try:
                conn.send(None)  # ends the process's loop
            except OSError:
                pass
        for process in self._processes.values():
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
