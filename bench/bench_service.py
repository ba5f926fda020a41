"""Load test of `gifemo serve`: p50/p95 latency of GET /suggest at 100k GIFs, with 1 and 8 concurrent clients.

The 100k GIF vectors are synthesised as in bench_recommender.py (real tag terms embedded by MiniLM, plus
noise) and saved as the index of an empty corpus, so the service loads them as it would a real one. The
server is the real `gifemo serve` in its own process on 127.0.0.1; the clients are keep-alive connections
driven by one thread of this process, each sending its next request when the last is answered, with real
messages (tweet_emotion validation, each once), so no cache can answer. Bounded: at most --requests per
client level and --seconds per level. Besides the latencies, it reports the CPU time the server's processes
spent per request (all of them, and the HTTP front process alone): on a machine shared with other jobs, the
latencies mostly measure the other jobs, while the CPU per request says how many requests two quiet cores
can answer (2,000 / ms per request, per second). The clients' own CPU per request is reported too, since
they share the two cores with the server. Writes bench/results/service.json.

    python bench/bench_service.py [--gifs 100000] [--requests 300] [--seconds 60] [--workers 2] [--stages]
        [--server-checkout DIR --label before]

--stages first times each step of a suggestion in this process (message embedding, emotion reading, index
search, ranking, the whole suggestion with its JSON).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import selectors
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_recommender import RUNTIME, SHARED, percentiles, synthetic_corpus, tag_texts, tweet_messages  # noqa: E402
from common import write_results  # noqa: E402

from gifemo.corpus import Corpus  # noqa: E402

from gifemo.recommender import vectors  # noqa: E402
from gifemo.recommender.index import GifIndex, index_dir  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "service.json"
CLIENT_LEVELS = (1, 8)
K = 5


def synthetic_db(folder: Path, n: int) -> Path:
    """An empty corpus whose saved index holds n synthetic GIFs."""
    rng = np.random.default_rng(0)
    texts, emotions = tag_texts(rng)
    vecs, rows = synthetic_corpus(n, vectors.encode(texts, RUNTIME), np.asarray(emotions), rng)
    rows["sha256"] = [f"{i:064x}" for i in range(n)]
    db = folder / "corpus.db"
    with Corpus(db) as corpus:
        changed_at = corpus.changed_at()
    GifIndex(vecs, rows, corpus_changed_at=changed_at).save(index_dir(db))
    return db


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def checkout_env(checkout: Path) -> dict:
    """The environment of a process that runs `checkout`'s gifemo on the development models."""
    return {**os.environ, "PYTHONPATH": str(checkout.resolve()),
            "GIFEMO_MODELS_DIR": os.environ.get("GIFEMO_MODELS_DIR", str(SHARED / "models"))}


def start_serve(db: Path, checkout: Path, workers: int) -> tuple[int, subprocess.Popen]:
    """`checkout`'s `gifemo serve` on `db`, on a free port; (port, process). No --workers for 1: a version from
    before the option is measured the same way."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", "import sys; from gifemo.cli import main; sys.exit(main())",
                               "serve", "--db", str(db), "--port", str(port)] + ["--workers", str(workers)] * (workers > 1),
                              env=checkout_env(checkout), cwd=checkout,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return port, server


def wait_healthy(port: int, server: subprocess.Popen, workers: int, timeout: float = 300) -> dict:
    """/health once every model process has loaded its models."""
    deadline = time.time() + timeout
    seen = set()
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health")
            health = json.loads(conn.getresponse().read())
            # Today's server lists its model processes once all have loaded; an older one answered from each of
            # its processes in turn (and an even older one has one process and says no pid).
            seen.add(health.get("pid"))
            if max(len(health.get("model_processes", [])), len(seen)) >= workers:
                return health
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not come up")


def cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU time of process `pid` and of every process below it (the service's model processes),
    by process id."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents, total = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        parents[int(stat.parent.name)] = int(fields[1])
        total[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / ticks
    below = {pid}
    while True:
        more = {p for p, parent in parents.items() if parent in below} - below
        if not more:
            return {p: total.get(p, 0.0) for p in below}
        below |= more


class Connection:
    """One client: a keep-alive connection with at most one request in flight."""

    def __init__(self, port: int):
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer, self.started = b"", 0.0

    def send(self, request: bytes) -> None:
        self.buffer, self.started = b"", time.perf_counter()
        self.socket.sendall(request)

    def receive(self) -> Optional[tuple[int, bytes]]:
        """(status, body) once the whole response is in, else None; raises OSError when the server hung up."""
        data = self.socket.recv(1 << 16)
        if not data:
            raise ConnectionResetError("the server closed the connection")
        self.buffer += data
        head, found, body = self.buffer.partition(b"\r\n\r\n")
        if not found:
            return None
        lines = head.decode("latin-1").split("\r\n")
        length = next((int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:")), 0)
        return (int(lines[0].split()[1]), body) if len(body) >= length else None


def stage_cpu(db: Path, messages: list[str]) -> dict:
    """CPU ms per message of each step of a suggestion, in this process (this checkout's code, one thread),
    100 distinct messages per step so that no cache answers: where a request's CPU goes."""
    from gifemo.recommender.ranking import query_vector, rank
    from gifemo.recommender.service import suggestion_json
    from gifemo.recommender.workers import load_recommender

    recommender = load_recommender(db, RUNTIME, None)
    for message in messages[-40:]:
        suggestion_json(recommender, message, K)  # first-call costs out
    batches = iter(messages[start:start + 100] for start in range(0, len(messages) - 40, 100))

    def cpu(step, texts: list[str]) -> float:
        # This thread's CPU only: the threads left from synthesising the corpus are no part of a suggestion.
        start = time.thread_time()
        for text in texts:
            step(text)
        return round(1000 * (time.thread_time() - start) / len(texts), 2)

    out = {"message embedding (MiniLM, int8 ONNX)": cpu(recommender.message_embedding, next(batches)),
           "emotion reading (text model, with the embedding)": cpu(recommender.message_scores, next(batches))}
    texts = next(batches)
    queries = {t: (recommender.message_scores(t), recommender.message_embedding(t)) for t in texts}
    out["index search"] = cpu(lambda t: recommender.index.search(query_vector(*queries[t], recommender.options),
                                                                 recommender.options.min_candidates), texts)
    out["ranking (search, rules, why)"] = cpu(lambda t: rank(recommender.index, *queries[t], K,
                                                             options=recommender.options), texts)
    out["whole suggestion with its JSON"] = cpu(lambda t: suggestion_json(recommender, t, K), next(batches))
    return out


def load(port: int, clients: int, messages: list[str], requests: int, seconds: float) -> dict:
    """`clients` connections, each sending its next request as soon as the last is answered, share `requests`
    requests (round robin over the messages), stopping at `seconds`. One thread drives them all with the
    requests written beforehand, so the clients take little of the CPU they share with the server, and no
    client waits on another's Python to read its answer."""
    pending = [("GET /suggest?" + urllib.parse.urlencode({"q": messages[i % len(messages)], "k": K}) +
                " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").encode() for i in range(requests)][::-1]
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.time() + seconds
    selector = selectors.DefaultSelector()

    def next_request(connection: Connection) -> None:
        if pending and time.time() < deadline:
            connection.send(pending.pop())
            selector.register(connection.socket, selectors.EVENT_READ, connection)
        else:
            connection.socket.close()

    started = time.perf_counter()
    for _ in range(min(clients, requests)):
        next_request(Connection(port))
    while selector.get_map():
        for key, _ in selector.select(timeout=30) or [(None, None)]:
            if key is None:
                raise RuntimeError("no answer from the server in 30 s")
            connection = key.data
            try:
                response = connection.receive()
            except OSError as exc:
                response = (0, str(exc).encode())
            if response is None:
                continue
            latencies.append(time.perf_counter() - connection.started)
            status, body = response
            try:
                ok = status == 200 and "suggestions" in json.loads(body)
            except ValueError:
                ok = False
            if not ok:
                errors.append(f"{status}: {body[:200].decode(errors='replace')}")
            selector.unregister(connection.socket)
            if status == 0:  # the connection is gone: the next request goes on a new one
                connection.socket.close()
                connection = Connection(port)
            next_request(connection)
    wall = time.perf_counter() - started
    return {"clients": clients, "requests": len(latencies), **percentiles(latencies),
            "throughput_per_s": round(len(latencies) / wall, 1), "errors": len(errors), "first_errors": errors[:3]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gifs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300, help="per client level")
    parser.add_argument("--seconds", type=float, default=60, help="per client level")
    parser.add_argument("--workers", type=int, default=2, help="server processes (`gifemo serve --workers`)")
    parser.add_argument("--server-checkout", type=Path, default=REPO,
                        help="checkout whose gifemo the server runs (default: this one), to measure an older version "
                             "the same way (with --workers 1 for one without the option)")
    parser.add_argument("--label", default="after", help="name of this run in the results file")
    parser.add_argument("--stages", action="store_true",
                        help="also the CPU of each step of a suggestion, in this process (this checkout's code)")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"bench_service: needs {SHARED} (data and models)", file=sys.stderr)
        return 1
    os.environ.setdefault("GIFEMO_MODELS_DIR", str(SHARED / "models"))
    messages = tweet_messages()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"synthesising {args.gifs:,d} GIF vectors...", flush=True)
        db = synthetic_db(Path(tmp), args.gifs)
        stages = stage_cpu(db, messages[600:1140]) if args.stages else {}
        if stages:
            print(json.dumps({"cpu_ms_per_message": stages, "load_average_1min": round(os.getloadavg()[0], 1)}),
                  flush=True)
        port, server = start_serve(db, args.server_checkout, args.workers)
        try:
            started = time.perf_counter()
            health = wait_healthy(port, server, args.workers)
            startup_s = time.perf_counter() - started
            load(port, CLIENT_LEVELS[-1], messages[-40:], 40, 30)  # warm-up, every worker: first-call costs out
            levels = []
            for level, clients in enumerate(CLIENT_LEVELS):
                share = messages[level * args.requests:(level + 1) * args.requests]
                cpu_before, client_before = cpu_seconds(server.pid), time.process_time()
                levels.append(load(port, clients, share, args.requests, args.seconds))
                requests = max(levels[-1]["requests"], 1)
                cpu = {p: seconds - cpu_before.get(p, 0.0) for p, seconds in cpu_seconds(server.pid).items()}
                levels[-1]["server_cpu_ms_per_request"] = round(1000 * sum(cpu.values()) / requests, 2)
                # the HTTP front alone (with --workers > 1 the models run in the processes below it)
                levels[-1]["front_cpu_ms_per_request"] = round(1000 * cpu[server.pid] / requests, 2)
                levels[-1]["client_cpu_ms_per_request"] = round(1000 * (time.process_time() - client_before) / requests, 2)
                levels[-1]["load_average_1min"] = round(os.getloadavg()[0], 1)
                print(json.dumps(levels[-1]), flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)
    load_avg = os.getloadavg()
    result = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; shared with other "
                         f"jobs (load average {load_avg[0]:.1f} at the end)",
              "gifs": health["gifs"], "index": health["index"], "k": K, "workers": args.workers,
              "server_startup_s": round(startup_s, 1),
              "levels": levels, "target": "p95 < 50 ms at 8 clients, 0 errors",
              **({"stages_cpu_ms_per_message": stages} if stages else {})}
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results = results if "levels" not in results else {}  # a file from before runs were labelled
    results[args.label] = {**result, "server_checkout": str(args.server_checkout.resolve())}
    write_results(RESULTS, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
