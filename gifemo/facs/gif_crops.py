"""Face crops taken from labelled GIFs by the face stream's own pipeline, kept with what made them.

Each labelled GIF is decoded as the tagger decodes it (`TagOptions.num_frames` frames evenly over the loop), its
faces found and aligned exactly as `FaceStream.analyze` does, and every crop is stored with the GIF's label, content
type and source collection, plus what the stream needs to rebuild its Evidence from new CNN probabilities
(frame, time, box, action units). So a GIF-domain CNN (`gif_finetune.py`) trains on the crops the stream reads, and
the Evidence of any CNN on these GIFs is recomputed without decoding or detecting again.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from tqdm import tqdm

from ..config import Runtime
from ..evidence import Evidence
from ..media import MediaError, read_clip
from ..models import sha256_of
from .align import face_transform
from .landmarks import MOUTH, DetectedFace, clip_faces
from .stream import DetectedCrop, FaceStream, pool


@dataclass
class GifFaces:
    """All faces of a set of labelled GIFs, as arrays (one row per face) and one entry per GIF."""
    gifs: list[dict]          # sha256, path, label, content, group, times (the sampled instants), error,
    #                           drawn_probability (the drawn stream's photo-or-drawing check)
    crops: np.ndarray         # (N, 48, 48) uint8, FER-framed as the stream crops them
    gif: np.ndarray           # (N,) index into gifs
    frame: np.ndarray         # (N,) index into the GIF's sampled frames
    box: np.ndarray           # (N, 4) x, y, w, h in frame pixels
    aus: np.ndarray           # (N, len(au_names)) action-unit intensities
    au_names: list[str]
    transform: np.ndarray     # (N, 4) alignment: angle (rad), scale (frame px -> FER px), eye midpoint x, y

    def __len__(self) -> int:
        return len(self.crops)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, crops=self.crops, gif=self.gif, frame=self.frame, box=self.box, aus=self.aus,
                            transform=self.transform, meta=np.array(json.dumps({"gifs": self.gifs,
                                                                               "au_names": self.au_names})))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "GifFaces":
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            return cls(meta["gifs"], data["crops"], data["gif"], data["frame"], data["box"], data["aus"],
                       meta["au_names"], data["transform"])

    def subset(self, rows: np.ndarray) -> "GifFaces":
        """Some faces, with every GIF entry kept (so folds over the GIFs are unchanged)."""
        return GifFaces(self.gifs, self.crops[rows], self.gif[rows], self.frame[rows], self.box[rows],
                        self.aus[rows], self.au_names, self.transform[rows])

    def labels(self, emotions: Sequence[str]) -> np.ndarray:
        """(N,) index of each face's GIF label in `emotions`."""
        return np.array([emotions.index(self.gifs[g]["label"]) for g in self.gif], dtype=np.int64)

    def detected(self, rows: np.ndarray) -> list[DetectedCrop]:
        """The stream's view of some faces (rows of one GIF), for `FaceStream.observe`."""
        found = []
        for r in rows:
            face = DetectedFace(tuple(int(v) for v in self.box[r]), np.zeros((0, 3)), {})
            found.append(DetectedCrop(int(self.frame[r]), float(self.gifs[self.gif[r]]["times"][self.frame[r]]),
                                      face, self.crops[r], dict(zip(self.au_names, map(float, self.aus[r])))))
        return found

    def evidence(self, stream: FaceStream, cnn_probs: np.ndarray) -> list[Evidence]:
        """The face stream's Evidence for every GIF, with `cnn_probs` (N, 7) in place of its own CNN's."""
        result = []
        for g, info in enumerate(self.gifs):
            rows = np.flatnonzero(self.gif == g)
            per_frame = stream.observe(self.detected(rows), len(info["times"]), cnn_probs[rows])
            result.append(pool(per_frame, info["times"]))
        return result


def face_row(found: DetectedCrop) -> tuple:
    """The alignment of one face, for measuring how much the stream's crops jitter."""
    eye_a, eye_b = found.face.eye_centres
    mouth = found.face.landmarks[list(MOUTH), :2].mean(0)
    angle, scale, mid = face_transform(np.asarray(eye_a, float), np.asarray(eye_b, float), mouth)
    return angle, scale, float(mid[0]), float(mid[1])


def extract(items: Sequence, stream: FaceStream, num_frames: int, progress: bool = True) -> GifFaces:
    """Faces of labelled GIFs (`evaluate.LabelledGif`), found and aligned by `stream`; a GIF that cannot be
    decoded is kept with its error and no faces (the tagger records it as failed too)."""
    from ..config import DrawnOptions
    from ..drawn.stream import drawn_probability
    from ..drawn.style import StyleModel

    style, looked_at = StyleModel.load(), DrawnOptions().num_frames
    gifs, rows, crops = [], [], []
    au_names: Optional[list[str]] = None
    for g, item in enumerate(tqdm(items, desc="faces in GIFs", unit="gif", disable=not progress)):
        info = {"sha256": "", "path": str(item.path), "label": item.label, "content": item.content,
                "group": item.group, "times": [], "error": ""}
        try:
            info["sha256"] = sha256_of(item.path)
            clip = read_clip(item.path, num_frames=num_frames)
        except (MediaError, OSError) as exc:
            info["error"] = str(exc)
            gifs.append(info)
            continue
        info["times"] = [float(t) for t in clip.times]
        info["drawn_probability"] = drawn_probability(clip.frames, style, looked_at)
        gifs.append(info)
        # The faces as tagging finds them: the clip's shared detections, a repeated sample taking the faces
        # of the one before it, so that the Evidence rebuilt from these crops is the tagger's.
        faces = clip_faces(clip, stream.landmarker(video=True))
        for found in stream.crops(clip.frames, clip.times, faces):
            au_names = au_names or list(found.aus)
            rows.append((g, found.frame, found.face.box, [found.aus[a] for a in au_names], face_row(found)))
            crops.append(found.crop)
    if not rows:
        raise ValueError("no face found in any of the GIFs")
    g, frame, box, aus, transform = (np.array(column) for column in zip(*rows))
    return GifFaces(gifs, np.stack(crops).astype(np.uint8), g.astype(np.int64), frame.astype(np.int64),
                    box.astype(np.int32), aus.astype(np.float32), au_names, transform.astype(np.float32))


def extract_datasets(datasets: Sequence[str | Path], out: str | Path, runtime: Runtime, num_frames: int,
                     progress: bool = True) -> GifFaces:
    """`extract` over labelled GIF sets (folders with manifest.csv, see evaluate.load_dataset), saved to `out`."""
    from ..config import FaceOptions
    from ..evaluate import load_dataset

    items = [item for dataset in datasets for item in load_dataset(dataset)]
    with FaceStream(FaceOptions(), runtime) as stream:
        faces = extract(items, stream, num_frames, progress)
    faces.save(out)
    return faces
