"""`gifemo serve`: the recommender as an HTTP JSON API on 127.0.0.1, its models loaded once.

    GET  /suggest?q=...&k=5   ranked GIFs for a message, with `why` and a `note` when fewer fit
    POST /tag                 multipart upload (field "file") -> tagged into the corpus, its record
    POST /feedback            {"sha256", "message", "vote": 1 | -1} -> stored in the corpus
    GET  /gifs/{sha256}       the GIF file of a corpus record
    GET  /health              status, corpus size, model names

With `workers` 1, suggestions are answered from worker threads of the one process (the text model and
faiss read shared state only). With `workers` > 1, one front process speaks HTTP and hands each call that
needs the models (suggest, vote, health) to whichever of `workers` model processes is idle
(gifemo.recommender.workers): most of a suggestion holds the GIL, so one process cannot keep two cores
busy, and processes sharing the listening socket got uneven shares of the connections
(bench/bench_service.py). Tagging runs in the front process, serialised by a lock, since one Tagger holds
the face models and runs on every core anyway. Each model process notices the corpus being written (an
upload, a vote) before its next suggestion.
"""
from __future__ import annotations

import json
import os
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from fastapi import Body, FastAPI, File, HTTPException, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse

from ..config import Runtime
from ..corpus import Corpus
from ..media import DecodeLimits
from ..streams import stream_entry
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
    # when uploads run the action stream: `gifemo tag --actions`'s default, from the one table of streams
    actions: str = field(default_factory=lambda: stream_entry("action").run)
    host: str = "127.0.0.1"  # loopback only: the service has no authentication
    workers: int = 1         # model processes (1: the models in the serving process); one per core to use


class Service:
    """The warm state: the recommender (text model, encoder, index), in this process or in model processes;
    the tagger on the first upload."""

    def __init__(self, options: ServiceOptions, runtime: Runtime):
        from .workers import ModelProcesses, load_recommender

        self.options = options
        self.runtime = runtime
        self.models = (ModelProcesses(options.workers, options.db, runtime, options.text_model)
                       if options.workers > 1 else None)
        self.recommender = None if self.models else load_recommender(options.db, runtime, options.text_model)
        self._tagger = None
        self._tag_lock = threading.Lock()

    async def call(self, function, *args):
        """`function(recommender, *args)`, in a worker thread or in an idle model process."""
        if self.models:
            return await self.models.call(function, *args)
        return await run_in_threadpool(function, self.recommender, *args)

    def tag_upload(self, name: str, data: bytes):
        """The upload tagged into the corpus (one at a time), its record."""
        with self._tag_lock:
            return add_upload(self.options.db, name, data, self.tagger())

    def tagger(self):
        from ..tagger import TagOptions, Tagger

        if self._tagger is None:
            options = TagOptions(limits=self.options.limits, run={"action": self.options.actions})
            self._tagger = Tagger(options, self.runtime)
        return self._tagger

    def close(self) -> None:
        if self._tagger is not None:
            self._tagger.close()
        if self.models:
            self.models.close()


# What the endpoints ask of a recommender: module-level, so that a model process can be sent them by name.
def suggestion_json(recommender, message: str, k: int) -> bytes:
    results = recommender.suggest(message, k=k)
    return json.dumps({"message": message, "reading": {e: round(v, 3) for e, v in results.reading.items()},
                       "suggestions": [r.to_json() for r in results], "note": results.note}).encode()


def recommender_status(recommender) -> dict:
    return {"gifs": len(recommender.index), "index": recommender.index.kind, "text_model": recommender.text_model.name}


def store_vote(recommender, sha256: str, message: str, vote: int) -> None:
    recommender.vote(sha256, message, vote)


def refreshed_size(recommender) -> int:
    return len(recommender.refresh())


def create_app(service: Service) -> FastAPI:
    app = FastAPI(title="gifemo", summary="GIF suggestions for a message")

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request, exc: RequestValidationError) -> Response:
        # FastAPI's own answer echoes the input as UTF-8, which a lone surrogate (half of a JSON \\ud83d pair)
        # cannot be: its 422 became a 500. ASCII JSON escapes it.
        return Response(json.dumps({"detail": jsonable_encoder(exc.errors())}), status_code=422,
                        media_type="application/json")

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", **await service.call(recommender_status), "corpus": str(service.options.db),
                "pid": os.getpid(), "model_processes": service.models.pids if service.models else []}

    @app.get("/suggest")
    async def suggest(q: str = Query(..., max_length=MAX_MESSAGE_CHARS), k: int = Query(5, ge=1, le=MAX_K)):
        if not q.strip():
            raise HTTPException(400, "the message q is empty")
        # JSON written where the suggestion is made: no generic encoding walk, and bytes between processes.
        return Response(await service.call(suggestion_json, q, k), media_type="application/json")

    @app.post("/tag")
    async def tag(file: UploadFile = File(...)) -> dict:
        name = Path(file.filename or "upload.gif").name
        # Read at most one byte over the limit: a huge upload is refused without holding it all.
        data = await file.read(service.options.limits.max_bytes + 1)
        try:
            record = await run_in_threadpool(service.tag_upload, name, data)
        except UploadError as exc:
            raise HTTPException(413 if "over the limit" in str(exc) else 400, str(exc))
        if record.error:
            raise HTTPException(422, record.error)
        gifs = await service.call(refreshed_size)
        return {"sha256": record.sha256, "emotion": record.emotion, "confidence": round(record.confidence, 3),
                "source": record.source, "scores": record.scores, "frames": record.frames, "gifs": gifs}

    @app.post("/feedback")
    async def feedback(sha256: str = Body(...), message: str = Body(..., max_length=MAX_MESSAGE_CHARS),
                 vote: int = Body(...)) -> dict:
        if vote not in (1, -1):
            raise HTTPException(400, "vote is 1 or -1")
        with Corpus(service.options.db) as corpus:
            if corpus.get(sha256) is None:
                raise HTTPException(404, f"no GIF {sha256} in the corpus")
        await service.call(store_vote, sha256, message, vote)
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
    """Answer on options.host:options.port until interrupted (the port is taken before the models load, so
    a port in use is said at once)."""
    import signal
    import socket

    import uvicorn

    # uvicorn stops on SIGTERM, then raises it again for the handler it found: this one, so that the
    # model processes are stopped below and the exit status says a clean stop, not a kill.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Named TCP (not protocol 0), so that asyncio turns Nagle off on each connection: with Nagle on, the
    # response's body waits for the client's delayed ACK of its headers, 40 ms a request.
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((options.host, options.port))
        listening.listen(2048)
        service = Service(options, runtime)
        try:
            config = uvicorn.Config(create_app(service), host=options.host, port=options.port,
                                    log_level="info" if runtime.verbose else "warning")
            uvicorn.Server(config).run(sockets=[listening])
        finally:
            service.close()
    finally:
        listening.close()
