import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from gifemo import models
from gifemo.models import MissingModelError, ModelVerificationError, RemoteFile


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    monkeypatch.delenv("GIFEMO_MODELS_DIR", raising=False)
    monkeypatch.delenv("GIFEMO_OFFLINE", raising=False)
    monkeypatch.setenv("GIFEMO_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_every_declared_file_matches_the_development_copy(models_dir):
    for name, spec in models.REGISTRY.items():
        if name.startswith("i3d-"):
            continue  # the I3D checkpoints are not on development machines
        assert models.verify(name, models_dir=models_dir).exists()


def test_resolution_order(isolated, models_dir, monkeypatch, tmp_path):
    # GIFEMO_MODELS_DIR is used when set ...
    monkeypatch.setenv("GIFEMO_MODELS_DIR", str(models_dir))
    assert models.resolve("kinetics-labels") == models_dir / "i3d" / "label_map.txt"
    # ... an explicit models dir wins over it ...
    mine = tmp_path / "mine"
    (mine / "i3d").mkdir(parents=True)
    (mine / "i3d" / "label_map.txt").write_text("x\n")
    assert models.resolve("kinetics-labels", models_dir=mine) == mine / "i3d" / "label_map.txt"
    # ... and an explicit path wins over everything
    assert models.resolve("kinetics-labels", path=mine / "i3d" / "label_map.txt") == mine / "i3d" / "label_map.txt"
    with pytest.raises(MissingModelError, match="does not exist"):
        models.resolve("kinetics-labels", path=tmp_path / "nope.txt")
    # a multi-file model resolves to its folder
    assert models.resolve("minilm") == models_dir / "all-MiniLM-L6-v2"


def test_missing_offline_names_file_places_and_remedy(isolated):
    with pytest.raises(MissingModelError) as info:
        models.resolve("i3d-rgb", offline=True)
    message = str(info.value)
    assert "i3d/rgb_imagenet.pt" in message
    assert str(isolated / "cache" / "models" / "i3d" / "rgb_imagenet.pt") in message
    assert "gifemo models download i3d-rgb" in message and "GIFEMO_MODELS_DIR" in message


def test_offline_env_var(isolated, monkeypatch):
    monkeypatch.setenv("GIFEMO_OFFLINE", "1")
    with pytest.raises(MissingModelError, match="Downloads are off"):
        models.resolve("i3d-flow")


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def local_server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a, **k: _Handler(*a, directory=str(root), **k))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def _register(monkeypatch, url: str, payload: bytes, sha: str):
    spec = models.ModelSpec("test-model", "a test file", (RemoteFile("test/model.bin", url, len(payload), sha),), "none")
    monkeypatch.setitem(models.REGISTRY, "test-model", spec)


def test_download_verifies_and_caches(isolated, monkeypatch, local_server):
    root, base = local_server
    payload = b"weights" * 1000
    (root / "model.bin").write_bytes(payload)
    _register(monkeypatch, base + "model.bin", payload, hashlib.sha256(payload).hexdigest())
    path = models.resolve("test-model", progress=False)
    assert path == isolated / "cache" / "models" / "test" / "model.bin" and path.read_bytes() == payload
    assert models.verify("test-model") == path
    (root / "model.bin").unlink()   # now served from the cache, no network needed
    assert models.resolve("test-model", offline=True) == path


def test_download_with_wrong_hash_leaves_nothing(isolated, monkeypatch, local_server):
    root, base = local_server
    payload = b"tampered" * 100
    (root / "model.bin").write_bytes(payload)
    _register(monkeypatch, base + "model.bin", payload, "0" * 64)
    with pytest.raises(MissingModelError, match="sha256"):
        models.resolve("test-model", progress=False)
    assert not any((isolated / "cache").rglob("model.bin*"))


def test_verify_detects_corruption(isolated, monkeypatch, tmp_path):
    payload = b"abc"
    _register(monkeypatch, "http://127.0.0.1:9/none", payload, hashlib.sha256(payload).hexdigest())
    target = tmp_path / "dir" / "test" / "model.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"abd")
    with pytest.raises(ModelVerificationError, match="sha256"):
        models.verify("test-model", models_dir=tmp_path / "dir")


def test_cli_models_list_and_path(models_dir):
    import os
    import subprocess
    import sys

    def env_run(*args):
        return subprocess.run([sys.executable, "-m", "gifemo", *args], capture_output=True, text=True,
                              env={**os.environ, "GIFEMO_MODELS_DIR": str(models_dir)})

    listed = env_run("models", "list")
    assert listed.returncode == 0 and "face-landmarker" in listed.stdout and "found" in listed.stdout
    located = env_run("models", "path", "face-landmarker")
    assert Path(located.stdout.strip()) == models_dir / "mediapipe" / "face_landmarker.task"
    missing = env_run("models", "path", "i3d-rgb", "--offline")
    assert missing.returncode == 1 and "rgb_imagenet.pt" in missing.stderr
