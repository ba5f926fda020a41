"""A pool of worker processes that survives a dead worker.

`multiprocessing.Pool` waits forever for a task whose worker was killed (out of memory, segfault),
and `ProcessPoolExecutor` fails every pending task. Here each worker has its own pipe and takes one
item at a time, so the main process always knows which item a dead worker held: that item alone is
reported lost, a fresh worker takes the dead one's place, and the run goes on.
"""
from __future__ import annotations

import multiprocessing
import pickle
import signal
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterable, Iterator, Optional


class WorkerStartError(RuntimeError):
    """Workers die before taking any item: a setup problem, not an item's."""


@dataclass
class Outcome:
    item: Any
    result: Any = None
    lost: Optional[str] = None       # why the item has no result: "worker died: signal 9 (SIGKILL)"


def _serve(conn: Connection, factory: Callable) -> None:
    """Worker process: build the handler once (models load once per worker), then handle one item per message."""
    try:
        handler = factory()
    except Exception as exc:
        _send_error(conn, exc)
        return
    conn.send(("ready", None))
    try:
        while True:
            item = conn.recv()
            if item is None:
                return
            try:
                result = handler(item)
            except Exception as exc:  # the handler records per-item failures itself: this one is a setup problem
                _send_error(conn, exc)
                return
            conn.send(("done", result))
    except (EOFError, KeyboardInterrupt):
        return  # the main process went away or was interrupted
    finally:
        getattr(handler, "close", lambda: None)()


def _send_error(conn: Connection, exc: Exception) -> None:
    """Hand an exception to the main process, which stops the run with it."""
    conn.send(("error", sendable(exc)))


def sendable(exc: Exception) -> Exception:
    """`exc` if it can be pickled to another process, else an exception whose text still says what went wrong."""
    try:
        pickle.dumps(exc)
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


@dataclass
class _Worker:
    process: Any
    conn: Connection
    item: Any = None
    started: float = 0.0
    busy: bool = False


def describe_exit(exitcode: Optional[int]) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"signal {-exitcode} ({signal.Signals(-exitcode).name})"
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


class WorkerPool:
    """`size` spawned processes, each running `factory()` once and then `handler(item)` per item.
    An exception from `factory` or `handler` stops the run: it is raised in the main process.

    `factory` must be picklable (a module-level function or a partial of one). `timeout` (seconds per
    item) stops a worker stuck in native code; its item is reported lost like a dead worker's.
    """

    def __init__(self, size: int, factory: Callable, timeout: Optional[float] = None):
        self.size, self.factory, self.timeout = size, factory, timeout
        self.context = multiprocessing.get_context("spawn")  # MediaPipe and torch are not fork-safe

    def _start(self) -> _Worker:
        parent, child = self.context.Pipe()
        process = self.context.Process(target=_serve, args=(child, self.factory), daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent)

    def run(self, items: Iterable) -> Iterator[Outcome]:
        queue = deque(items)
        workers = [self._start() for _ in range(min(self.size, len(queue)))]
        deaths_before_ready = 0
        try:
            while queue or any(w.busy for w in workers):
                waiting = [w.conn for w in workers] + [w.process.sentinel for w in workers]
                ready = set(wait(waiting, timeout=1.0))
                for worker in list(workers):
                    kind, value = self._poll(worker, ready)
                    if kind is None:
                        continue
                    if kind == "error":
                        raise value
                    if kind == "done":
                        yield Outcome(worker.item, value)
                    elif kind == "lost":
                        workers.remove(worker)
                        if worker.busy:
                            yield Outcome(worker.item, lost=value)
                        else:
                            deaths_before_ready += 1
                            if deaths_before_ready > 2 * self.size:
                                raise WorkerStartError(f"workers die while starting ({value})")
                        if queue:
                            workers.append(self._start())
                        continue
                    worker.busy, worker.item = False, None
                    if queue:
                        self._give(worker, queue)
        finally:
            for worker in workers:
                if worker.process.is_alive():
                    worker.process.kill()
                worker.process.join()
                worker.conn.close()

    def _poll(self, worker: _Worker, ready: set) -> tuple[Optional[str], Any]:
        """What a worker has to say: ("ready"|"done"|"error", value), ("lost", why), or (None, None)."""
        if worker.conn in ready or worker.process.sentinel in ready:
            try:
                if worker.conn.poll():
                    return worker.conn.recv()
            except (EOFError, OSError):
                pass
            worker.process.join()
            worker.conn.close()
            return "lost", f"worker died: {describe_exit(worker.process.exitcode)}"
        if worker.busy and self.timeout and time.monotonic() - worker.started > self.timeout:
            worker.process.kill()
            worker.process.join()
            worker.conn.close()
            return "lost", f"worker stopped: no result after {self.timeout:g} s"
        return None, None

    @staticmethod
    def _give(worker: _Worker, queue: deque) -> None:
        item = queue.popleft()
        try:
            worker.conn.send(item)
        except OSError:  # died meanwhile: the item goes back; the death is seen on the next wait
            queue.appendleft(item)
            return
        worker.item, worker.busy, worker.started = item, True, time.monotonic()
