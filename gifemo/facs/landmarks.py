"""MediaPipe Face Landmarker (Tasks API): faces, 478 landmarks and 52 blendshapes per face."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .. import models
from ..config import Runtime
from ..native_stderr import native_stderr_silenced

# Indexes into the 478-point mesh used for alignment (the subject's right eye is on the image left).
RIGHT_EYE = (33, 133, 159, 145)   # outer corner, inner corner, upper lid, lower lid
LEFT_EYE = (263, 362, 386, 374)
MOUTH = (61, 291)                  # mouth corners

# Frames whose short side is below this are upscaled before detection: the detector was trained on
# selfie-sized faces and misses the small faces of small GIFs (measured on gifs_dev, see README).
MIN_DETECT_SIDE = 320


@dataclass
class DetectedFace:
    box: tuple[int, int, int, int]      # x, y, w, h in pixels of the frame given to the detector
    landmarks: np.ndarray               # (478, 3): x, y in pixels, z in the same scale as x
    blendshapes: dict[str, float]       # MediaPipe's 52 ARKit-style names -> [0, 1]

    @property
    def eye_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(image-left eye, image-right eye) centres in pixels."""
        return self.landmarks[list(RIGHT_EYE), :2].mean(0), self.landmarks[list(LEFT_EYE), :2].mean(0)


class FaceLandmarker:
    """One MediaPipe landmarker. In video mode, frames of all clips share one increasing clock."""

    def __init__(self, max_faces: int = 4, min_detection_confidence: float = 0.5, video: bool = False,
                 min_side: int = MIN_DETECT_SIDE, runtime: Optional[Runtime] = None):
        from mediapipe.tasks.python.core.base_options import BaseOptions
        from mediapipe.tasks.python.vision import FaceLandmarker as _Landmarker
        from mediapipe.tasks.python.vision import FaceLandmarkerOptions, RunningMode

        runtime = runtime or Runtime()
        path = models.resolve("face-landmarker", runtime)
        options = FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=RunningMode.VIDEO if video else RunningMode.IMAGE,
            num_faces=max_faces, output_face_blendshapes=True,
            min_face_detection_confidence=min_detection_confidence,
            min_face_presence_confidence=min_detection_confidence)
        self._quiet = runtime.verbose == 0
        # The graph is built on the first frame: a stream that finds its clip's faces already detected by
        # another (clip_faces) never pays for building one.
        self._create = lambda: _Landmarker.create_from_options(options)
        self._landmarker = None
        self.video = video
        self.min_side = min_side
        # Two landmarkers with the same settings find the same faces: the key of shared clip detections.
        self.settings = ("face-landmarker", max_faces, min_detection_confidence, video, min_side)
        self._clock_ms = 0
        self._clip_start_ms = 0

    def detect(self, rgb: np.ndarray, timestamp_ms: Optional[int] = None) -> list[DetectedFace]:
        """Faces in one HxWx3 uint8 RGB frame. In video mode pass increasing `timestamp_ms` per clip;
        they are shifted onto this landmarker's own clock so consecutive clips never go back in time."""
        import mediapipe as mp

        height, width = rgb.shape[:2]
        scale = max(1.0, self.min_side / min(height, width))
        frame = _resize(rgb, scale) if scale > 1 else rgb
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))
        with native_stderr_silenced(self._quiet):
            self._quiet = False  # only the first frame speaks
            if self._landmarker is None:
                self._landmarker = self._create()
            if self.video:
                wanted = self._clip_start_ms + int(timestamp_ms) if timestamp_ms is not None else self._clock_ms + 1
                self._clock_ms = max(self._clock_ms + 1, wanted)
                result = self._landmarker.detect_for_video(image, self._clock_ms)
            else:
                result = self._landmarker.detect(image)
        faces = []
        for i, points in enumerate(result.face_landmarks):
            xyz = np.array([(p.x * width, p.y * height, p.z * width) for p in points], dtype=np.float32)
            blend = {c.category_name: float(c.score) for c in result.face_blendshapes[i]} if result.face_blendshapes else {}
            faces.append(DetectedFace(_box(xyz[:, :2], width, height), xyz, blend))
        return faces

    def new_clip(self, gap_ms: int = 1000) -> None:
        """Mark the start of another clip: a gap on the clock so the tracker does not link the two."""
        self._clock_ms += gap_ms
        self._clip_start_ms = self._clock_ms

    def close(self) -> None:
        """Close explicitly (or use `with`): MediaPipe's own clean-up fails noisily at interpreter exit."""
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def clip_faces(clip, landmarker: FaceLandmarker) -> list[list[DetectedFace]]:
    """The faces of every sampled frame of `clip`, detected once per clip and landmarker settings: the streams
    that read faces (face, drawn) share them, whichever runs first. A sample marked a repeat (Clip.repeats)
    takes the faces of the sample before it instead of being detected again."""
    if landmarker.settings not in clip.shared:
        if landmarker.video:
            landmarker.new_clip()
        found: list[list[DetectedFace]] = []
        for frame, time, repeat in zip(clip.frames, clip.times, clip.repeats()):
            found.append(found[-1] if repeat else landmarker.detect(frame, int(round(time * 1000))))
        clip.shared[landmarker.settings] = found
    return clip.shared[landmarker.settings]


def _resize(rgb: np.ndarray, scale: float) -> np.ndarray:
    from PIL import Image

    height, width = rgb.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.BICUBIC))


def _box(xy: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    x0, y0 = np.clip(xy.min(0), 0, [width, height])
    x1, y1 = np.clip(xy.max(0), 0, [width, height])
    return int(x0), int(y0), int(round(x1 - x0)), int(round(y1 - y0))
