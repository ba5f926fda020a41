"""`gifemo serve`: the recommender as an HTTP JSON API on 127.0.0.1, its models loaded once.

    GET  /suggest?q=...&k=5   ranked GIFs for a message, with `why` and a `note` when fewer fit
    POST /tag                 multipart upload (field "file") -> tagged into the corpus, its record
    POST /feedback            {"sha256", "message", "vote": 1 | -1} -> stored in the corpus
    GET  /gifs/{sha256}       the GIF file of a corpus record
    GET  /health              status, corpus size, model names

Suggestions are answered from worker threads at once (the text model and faiss read shared state only);
tagging is serialised by a lock, since one Tagger holds the face models and runs on every core anyway.
With `workers` > 1, that many processes share the listening socket, each with its own models and one
thread per model call: a suggestion is mostly Python between the model calls, so one process, held by its
GIL, cannot keep two cores busy (bench/bench_service.py). Each process notices the corpus being written by
another (an upload, a vote) before its next suggestion.
"""
from __future__ import annotations

import os
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from fastapi import Body, FastAPI, File, HTTPException, Query, UploadFile
from fastapi.responses import FileResponse

from ..config import Runtime
from ..corpus import Corpus
from ..media import DecodeLimits
from .uploads import UploadError, add_upload

SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_K = 50
MAX_MESSAGE_CHARS = 2000


@dataclass
class ServiceOptions:
    db: Path
    port: int = 8765
    text_model: Optional[str] = None
    limits: DecodeLimits = field(default_factory=DecodeLimits)   # the same as `gifemo tag`'s defaults
    actions: str = "fallback"   # when uploads run the action stream, as `gifemo tag --actions`
    host: str = "127.0.0.1"  # loopback only: the service has no authentication
    workers: int = 1         # processes answering requests; one per core the service may use


class Service:
    """The warm state: recommender (text model, encoder, index) now, the tagger on the first upload."""

    def __init__(self, options: ServiceOptions, runtime: Runtime):
        import torch

        from .suggest import Recommender

        # Requests run side by side in worker threads: one torch thread each, not all of them fighting for
        # every core (bench/bench_service.py).
        torch.set_num_threads(1)
        self.options = options
        self.runtime = runtime
        self.recommender = Recommender(options.db, runtime, text_model=options.text_model)
        self._tagger = None
        self._tag_lock = threading.Lock()

    def tagger(self):
        from ..tagger import TagOptions, Tagger

        if self._tagger is None:
            options = TagOptions(limits=self.options.limits, run={"action": self.options.actions})
            self._tagger = Tagger(options, self.runtime)
        return self._tagger

    def close(self) -> None:
        if self._tagger is not None:
            self._tagger.close()


def create_app(service: Service) -> FastAPI:
    app = FastAPI(title="gifemo", summary="GIF suggestions for a message")
    recommender = service.recommender

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "gifs": len(recommender.index), "index": recommender.index.kind,
                "text_model": recommender.text_model.name, "corpus": str(service.options.db), "pid": os.getpid()}

    @app.get("/suggest")
    def suggest(q: str = Query(..., max_length=MAX_MESSAGE_CHARS), k: int = Query(5, ge=1, le=MAX_K)) -> dict:
        if not q.strip():
            raise HTTPException(400, "the message q is empty")
        results = recommender.suggest(q, k=k)
        return {"message": q, "reading": {e: round(v, 3) for e, v in results.reading.items()},
                "suggestions": [r.to_json() for r in results], "note": results.note}

    @app.post("/tag")
    def tag(file: UploadFile = File(...)) -> dict:
        name = Path(file.filename or "upload.gif").name
        # Read at most one byte over the limit: a huge upload is refused without holding it all.
        data = file.file.read(service.options.limits.max_bytes + 1)
        try:
            with service._tag_lock:
                record = add_upload(service.options.db, name, data, service.tagger())
        except UploadError as exc:
            raise HTTPException(413 if "over the limit" in str(exc) else 400, str(exc))
        if record.error:
            raise HTTPException(422, record.error)
        recommender.refresh()
        return {"sha256": record.sha256, "emotion": record.emotion, "confidence": round(record.confidence, 3),
                "source": record.source, "scores": record.scores, "frames": record.frames, "gifs": len(recommender.index)}

    @app.post("/feedback")
    def feedback(sha256: str = Body(...), message: str = Body(..., max_length=MAX_MESSAGE_CHARS),
                 vote: int = Body(...)) -> dict:
        if vote not in (1, -1):
            raise HTTPException(400, "vote is 1 or -1")
        with Corpus(service.options.db) as corpus:
            if corpus.get(sha256) is None:
                raise HTTPException(404, f"no GIF {sha256} in the corpus")
        recommender.vote(sha256, message, vote)
        return {"stored": True}

    @app.get("/gifs/{sha256}")
    def gif(sha256: str):
        if not SHA256.match(sha256):
            raise HTTPException(400, "expected a sha256 (64 lowercase hex digits)")
        with Corpus(service.options.db) as corpus:
            record = corpus.get(sha256)
        if record is None or record.error:
            raise HTTPException(404, f"no GIF {sha256} in the corpus")
        if not Path(record.path).is_file():
            raise HTTPException(410, f"the file of {sha256} is gone: {record.path}")
        return FileResponse(record.path, media_type="image/gif")

    return app


def serve(options: ServiceOptions, runtime: Runtime) -> None:
    """Answer on options.host:options.port until interrupted, in `options.workers` processes."""
    if options.workers == 1:
        _serve_on(options, runtime, None)
        return
    import multiprocessing
    import signal
    import socket

    # Named TCP (not protocol 0), so that asyncio turns Nagle off on each connection: with Nagle on, the
    # response's body waits for the client's delayed ACK of its headers, 40 ms a request.
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind((options.host, options.port))
    listening.listen(2048)
    # spawn, not fork: each worker starts clean and loads its own models (torch and ONNX Runtime threads do
    # not survive a fork).
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_serve_on, args=(options, runtime, listening), daemon=True)
               for _ in range(options.workers)]
    # A terminate (SIGTERM) stops the workers too, instead of orphaning them.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
        for worker in workers:
            worker.join(timeout=30)
        listening.close()


def _serve_on(options: ServiceOptions, runtime: Runtime, listening) -> None:
    """One process of the service: its models, then uvicorn on `listening` (None: bind host:port itself)."""
    import uvicorn

    service = Service(options, runtime)
    config = uvicorn.Config(create_app(service), host=options.host, port=options.port,
                            log_level="info" if runtime.verbose else "warning")
    try:
        uvicorn.Server(config).run(sockets=None if listening is None else [listening])
    finally:
        service.close()
