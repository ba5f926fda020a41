"""`gifemo serve`'s API on a real tagged corpus (a few gifs_dev files), through FastAPI's in-process client:
every endpoint, bad input, uploads landing in the corpus, and concurrent requests."""
import hashlib
import http.client
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest
import torch

from app_corpus import build_app_corpus
from gifemo.config import DEFAULT_TEXT_MODEL
from gifemo.corpus import Corpus
from gifemo.media import DecodeLimits
from gifemo.recommender.service import Service, ServiceOptions, create_app
from gifemo.recommender.uploads import uploads_dir


@pytest.fixture(scope="module")
def client(gifs_dev, runtime, tmp_path_factory):
    from fastapi.testclient import TestClient

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    db = build_app_corpus(gifs_dev, runtime, tmp_path_factory.getbasetemp() / "app_corpus")[0]
    own = tmp_path_factory.mktemp("service") / "corpus.db"
    own.write_bytes(db.read_bytes())  # uploads go into a copy, not the corpus other test modules share
    service = Service(ServiceOptions(db=own, actions="off", limits=DecodeLimits(max_bytes=2_000_000)),
                      runtime)
    with TestClient(create_app(service)) as test_client:
        test_client.db = own
        yield test_client
    service.close()
    torch.set_num_threads(threads)


def test_health(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["gifs"] >= 8 and body["text_model"] == DEFAULT_TEXT_MODEL


def test_suggest_returns_explained_gifs_that_fit(client):
    body = client.get("/suggest", params={"q": "I'm so happy today, let's dance!", "k": 3}).json()
    assert body["reading"]["happiness"] == max(body["reading"].values())
    assert 1 <= len(body["suggestions"]) <= 3
    with Corpus(client.db) as corpus:
        for s in body["suggestions"]:
            assert corpus.get(s["sha256"]).path == s["path"] and s["why"] and s["emotion"] != "sadness"
    # the GIF of a suggestion is served by its sha256
    gif = client.get(f"/gifs/{body['suggestions'][0]['sha256']}")
    assert gif.status_code == 200 and gif.headers["content-type"] == "image/gif" and gif.content[:4] == b"GIF8"


def test_suggest_refuses_bad_queries(client):
    assert client.get("/suggest", params={"q": "   "}).status_code == 400
    assert client.get("/suggest").status_code == 422
    assert client.get("/suggest", params={"q": "hi", "k": 0}).status_code == 422
    assert client.get("/suggest", params={"q": "hi", "k": 1000}).status_code == 422
    assert client.get("/suggest", params={"q": "x" * 5000}).status_code == 422


def test_gifs_refuses_unknown_and_malformed_ids(client):
    assert client.get("/gifs/" + "0" * 64).status_code == 404
    assert client.get("/gifs/..%2F..%2Fetc%2Fpasswd").status_code in (400, 404)
    assert client.get("/gifs/ABC").status_code == 400


def test_an_upload_is_tagged_into_the_corpus_and_suggested(client, gifs_dev):
    with Corpus(client.db) as corpus:
        known = {r.sha256 for r in corpus.records()}
    gif = next(p for p in sorted((gifs_dev / "Happiness").glob("*.gif"))
               if hashlib.sha256(p.read_bytes()).hexdigest() not in known and p.stat().st_size < 2_000_000)
    before = client.get("/health").json()["gifs"]
    response = client.post("/tag", files={"file": (gif.name, gif.read_bytes(), "image/gif")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sha256"] == hashlib.sha256(gif.read_bytes()).hexdigest() and body["frames"] > 0
    with Corpus(client.db) as corpus:
        record = corpus.get(body["sha256"])
    assert record is not None and record.path.startswith(str(uploads_dir(client.db)))
    assert client.get("/health").json()["gifs"] == before + 1  # the index has picked it up
    assert client.get(f"/gifs/{body['sha256']}").content == gif.read_bytes()
    # the same upload again: not tagged twice
    again = client.post("/tag", files={"file": (gif.name, gif.read_bytes(), "image/gif")})
    assert again.status_code == 200 and again.json()["sha256"] == body["sha256"]


@pytest.mark.parametrize("name, data, status, says", [
    ("broken.gif", b"GIF89a this is not an image", 422, "broken.gif"),
    ("empty.gif", b"", 400, "empty"),
    ("notes.txt", b"hello", 400, "not a .gif"),
    ("huge.gif", b"GIF89a" + bytes(2_100_000), 413, "over the limit"),
])
def test_bad_uploads_are_refused_with_one_clear_line_and_not_kept(client, name, data, status, says):
    with Corpus(client.db) as corpus:
        count = len(corpus)
    response = client.post("/tag", files={"file": (name, data, "image/gif")})
    assert response.status_code == status and says in response.json()["detail"]
    assert response.json()["detail"].count(name) == 1   # one line naming the file once, as the CLI's
    assert "Traceback" not in response.text
    with Corpus(client.db) as corpus:
        assert len(corpus) == count
    assert not [p for p in uploads_dir(client.db).glob("*") if p.suffix != ".gif" or p.stat().st_size < 100]


def test_feedback_is_stored_in_the_corpus(client):
    sha = client.get("/suggest", params={"q": "this is hilarious", "k": 1}).json()["suggestions"][0]["sha256"]
    assert client.post("/feedback", json={"sha256": sha, "message": "this is hilarious", "vote": 1}).json() == \
        {"stored": True}
    with Corpus(client.db) as corpus:
        assert sum(corpus.feedback_votes()[sha].values()) == 1
    assert client.post("/feedback", json={"sha256": sha, "message": "x", "vote": 3}).status_code == 400
    assert client.post("/feedback", json={"sha256": "f" * 64, "message": "x", "vote": 1}).status_code == 404


def test_lone_surrogates_in_a_message_are_read_not_a_server_error(client):
    # JSON may escape half of a UTF-16 pair: no tokenizer and no SQLite takes it as text.
    assert client.get("/suggest", params={"q": "I failed \ud83d again".encode("utf-8", "surrogatepass")}).status_code == 200
    sha = client.get("/suggest", params={"q": "this is hilarious", "k": 1}).json()["suggestions"][0]["sha256"]
    body = '{"sha256": "%s", "message": "this is hilarious \\ud83d", "vote": -1}' % sha
    response = client.post("/feedback", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][:2] == ["body", "message"]
    # A program using the library can still hand such text to the models and the corpus.
    with Corpus(client.db) as corpus:
        corpus.add_feedback(sha, "this is hilarious \ud83d", "happiness", 1)


def test_concurrent_requests_all_answer_the_same(client):
    messages = ["so angry right now", "I'm so happy today", "that was terrifying", "wow, didn't see that coming"]
    expected = {m: client.get("/suggest", params={"q": m, "k": 4}).json() for m in messages}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda m: (m, client.get("/suggest", params={"q": m, "k": 4})), messages * 8))
    assert all(r.status_code == 200 and r.json() == expected[m] for m, r in answers)


def test_a_vote_given_by_another_process_is_seen_before_the_next_suggestion(client, runtime):
    """With `serve --workers 2`, each process has its own Recommender: one stores a vote, the other must feel it."""
    from gifemo.recommender.suggest import Recommender

    other = Recommender(client.db, runtime)
    sha = client.get("/suggest", params={"q": "this is so funny, hilarious", "k": 1}).json()["suggestions"][0]["sha256"]
    before = float(other.feedback[sha].sum()) if sha in other.feedback else 0.0
    assert client.post("/feedback", json={"sha256": sha, "message": "this is so funny, hilarious", "vote": 1}).status_code == 200
    other.suggest("anything at all", k=1)
    assert float(other.feedback[sha].sum()) == before + 1


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_serve_with_two_workers_shares_requests_between_them_and_stops_them(client, runtime):
    """8 clients at once on `serve --workers 2`: every answer is the one the in-process service gives, both
    model processes did the work (also when one connection would all land on one process), and they end
    with the server."""
    import socket
    import subprocess
    import sys

    if not Path("/proc/self/stat").is_file():
        pytest.skip("needs /proc to see each process's CPU time")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, **({"GIFEMO_MODELS_DIR": str(runtime.models_dir)} if runtime.models_dir else {}))
    server = subprocess.Popen([sys.executable, "-m", "gifemo", "serve", "--db", str(client.db), "--port", str(port),
                               "--workers", "2"], stderr=subprocess.DEVNULL, env=env,
                              cwd=Path(__file__).resolve().parents[1])
    messages = ["so angry right now", "I'm so happy today", "that was terrifying", "wow, didn't see that coming"]
    try:
        health, deadline = None, time.time() + 240
        while health is None and time.time() < deadline:
            try:
                health = _get(port, "/health")
            except OSError:
                time.sleep(0.5)
        workers = health["model_processes"]
        assert len(set(workers)) == 2 and server.pid not in workers
        cpu_before = {pid: _cpu_seconds(pid) for pid in workers}
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda m: (m, _get(port, "/suggest?" + urlencode({"q": m, "k": 4}))), messages * 6))
        assert all(answer == client.get("/suggest", params={"q": m, "k": 4}).json() for m, answer in answers)
        assert all(_cpu_seconds(pid) > cpu_before[pid] for pid in workers)
    finally:
        server.terminate()
        assert server.wait(timeout=60) == 0
    time.sleep(1)
    for pid in workers:  # the model processes ended with the server, none left behind
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _get(port: int, path: str) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        assert answer.status == 200
        return json.loads(answer.read())
    finally:
        connection.close()


def test_serve_on_a_port_in_use_says_so_in_one_line(client, capsys):
    import socket

    from gifemo.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["serve", "--db", str(client.db), "--port", str(port), "--workers", "2"]) == 1
    assert f"port {port} is in use" in capsys.readouterr().err


def _wait(recommender, seconds: float) -> int:
    """A call that keeps a model process busy (sent to it by name)."""
    time.sleep(seconds)
    return os.getpid()


def test_a_model_process_that_dies_fails_its_call_and_the_other_answers(client, runtime):
    import asyncio
    import signal

    from gifemo.recommender.service import suggestion_json
    from gifemo.recommender.workers import ModelProcesses

    async def calls(models: ModelProcesses) -> list:
        busy = asyncio.ensure_future(models.call(_wait, 30))
        await asyncio.sleep(1)  # the call has reached a process
        idle = await models.call(_wait, 0)
        doomed = next(pid for pid in models.pids if pid != idle)
        os.kill(doomed, signal.SIGKILL)
        with pytest.raises(RuntimeError, match="model process died: signal 9"):
            await asyncio.wait_for(busy, 30)
        # the process left answers every call, more at once than there are processes (queued)
        answers = await asyncio.wait_for(asyncio.gather(
            *(models.call(suggestion_json, "so angry right now", 3) for _ in range(3))), 60)
        return [json.loads(answer) for answer in answers]

    models = ModelProcesses(2, client.db, runtime)
    try:
        answers = asyncio.run(calls(models))
    finally:
        models.close()
    expected = client.get("/suggest", params={"q": "so angry right now", "k": 3}).json()
    assert answers == [expected] * 3
