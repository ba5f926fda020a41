"""Pictures, clips and fake-camera files with real faces (frames of ../shared's gifs_dev GIFs) composited
onto a plain background, for the annotate, camera-page and browser tests."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from gifemo.media import read_clip

# Faces the face stream finds in every sampled frame: one laughing (happiness), one sad; where each face is in
# the GIF's middle frame (x, y, w, h).
LAUGHING, LAUGHING_BOX = "Happiness/f178bf0e170d.gif", (114, 52, 60, 68)
SAD, SAD_BOX = "Sadness/ffec0a0cbdb6.gif", (229, 47, 72, 87)
BACKGROUND = (70, 90, 110)


def paste(canvas: np.ndarray, picture: np.ndarray, x: int, y: int, scale: float = 1.0) -> np.ndarray:
    image = Image.fromarray(picture)
    if scale != 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR)
    out = Image.fromarray(canvas)
    out.paste(image, (x, y))
    return np.asarray(out)


def blank(width: int, height: int) -> np.ndarray:
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = BACKGROUND
    return canvas


def face_photo(gifs_dev: Path, width: int = 640, height: int = 480) -> np.ndarray:
    """A photo of two people side by side, each face about 100 px wide: laughing on the left, sad on the right."""
    photo = blank(width, height)
    for slot, (name, box) in enumerate(((LAUGHING, LAUGHING_BOX), (SAD, SAD_BOX))):
        frame = read_clip(gifs_dev / name, num_frames=1).frames[0]
        x, y, w, h = box
        head = frame[max(0, y - h * 4 // 5): y + h * 9 // 5, max(0, x - w * 4 // 5): x + w * 9 // 5]
        photo = paste(photo, head, 20 + slot * width // 2, height // 5, scale=260 / max(head.shape[:2]))
    return photo


def laughing_frames(gifs_dev: Path, fps: float, seconds: float, width: int = 320,
                    height: int = 240) -> list[np.ndarray]:
    """`seconds` of the laughing GIF at `fps`, moving slowly across a plain background."""
    clip = read_clip(gifs_dev / LAUGHING, fps=fps, min_frames=round(fps * seconds))
    frames = clip.frames[: round(fps * seconds)]
    return [paste(blank(width, height), f, x=4 + 2 * i % 40, y=20) for i, f in enumerate(frames)]


# Codecs of the clips written: H.264 + AAC in MP4 (copied into the output as they are), VP8 + Opus in WebM
# (the Opus track is re-encoded to AAC for the MP4).
CODECS = {".mp4": ("libx264", "aac", 44100), ".webm": ("libvpx", "libopus", 48000)}


def write_clip(path: Path, frames: list[np.ndarray], fps: int, audio: bool) -> Path:
    """A video of `frames` and (`audio`) a 440 Hz tone as long as the video, in the codecs of its suffix."""
    import av

    video_codec, audio_codec, rate = CODECS[path.suffix]
    with av.open(str(path), "w") as container:
        video = container.add_stream(video_codec, rate=fps)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        sound = container.add_stream(audio_codec, rate=rate, layout="mono") if audio else None
        for frame in frames:
            container.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(video.encode(None))
        if sound is not None:
            step, total = 960, round(len(frames) / fps * rate)
            for start in range(0, total, step):
                t = np.arange(start, min(start + step, total)) / rate
                tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
                chunk = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts, chunk.time_base = rate, start, Fraction(1, rate)
                container.mux(sound.encode(chunk))
            container.mux(sound.encode(None))
    return path


def write_y4m(path: Path, frames: list[np.ndarray], fps: int) -> Path:
    """A YUV4MPEG2 file (4:2:0), what Chromium's fake camera plays (--use-file-for-fake-video-capture)."""
    height, width = frames[0].shape[:2]
    with open(path, "wb") as handle:
        handle.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            y, u, v = np.moveaxis(np.asarray(Image.fromarray(frame).convert("YCbCr")), 2, 0)
            handle.write(b"FRAME\n" + y.tobytes() + _half(u).tobytes() + _half(v).tobytes())
    return path


def _half(plane: np.ndarray) -> np.ndarray:
    h, w = plane.shape
    return plane[: h - h % 2, : w - w % 2].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)).round().astype(np.uint8)
