"""Decode animated GIFs and short videos into RGB frames with real timing, safely.

GIFs are first walked block by block without decompressing anything, so frame count, per-frame
delays and canvas size are known (and limits enforced) before a single pixel is decoded. Frames are
then composited by Pillow (palette, transparency, disposal), as a browser shows them.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

GIF_EXTENSIONS = {".gif"}
VIDEO_EXTENSIONS = {".mp4", ".webm", ".mov", ".mkv", ".m4v", ".avi"}
MEDIA_EXTENSIONS = GIF_EXTENSIONS | VIDEO_EXTENSIONS

# Browsers show frames with a delay of 10 ms or less for 100 ms (GIFs that say "0" mean "fast").
MIN_BROWSER_DELAY_MS = 10
DEFAULT_DELAY_MS = 100


class MediaError(Exception):
    """A file that cannot be decoded safely. `str()` names the file and the reason."""

    def __init__(self, path: os.PathLike | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class TruncatedMediaWarning(UserWarning):
    """The file ended early; the frames before the damage were kept."""


@dataclass
class DecodeLimits:
    max_bytes: int = 64 * 1024 * 1024
    max_canvas_pixels: int = 4096 * 4096
    max_frames: int = 20_000           # frames in the file (GIF) or frames decoded (video)
    max_total_pixels: int = 2_000_000_000  # canvas pixels x frames that must be decoded
    max_video_seconds: float = 600.0


@dataclass
class MediaInfo:
    path: str
    kind: str                      # "gif" or "video"
    width: int
    height: int
    frame_count: int
    durations: list[float]         # seconds each frame is shown (browser rules applied)
    loop: Optional[int] = None     # GIF loop count (0 = forever), None if not looping / unknown
    truncated: bool = False

    @property
    def duration(self) -> float:
        return float(sum(self.durations))


@dataclass
class Clip:
    """Frames sampled from a file: `frames[i]` is shown at `times[i]` seconds (HxWx3 uint8 RGB)."""
    info: MediaInfo
    frames: list[np.ndarray]
    times: list[float]
    indices: list[int]             # frame index in the file of each sampled frame
    warnings: list[str] = field(default_factory=list)
    # Samples the same file again (other instants or rate) from what was already read and checked, under
    # the same limits: one read per file, whatever each stream needs.
    resampler: Optional[Callable[..., "Clip"]] = field(default=None, repr=False, compare=False)

    def resample(self, num_frames: Optional[int] = None, fps: Optional[float] = None, min_frames: int = 0,
                 max_side: Optional[int] = None) -> "Clip":
        if self.resampler is None:
            raise ValueError("this clip was not read from a file and cannot be resampled")
        return self.resampler(num_frames=num_frames, fps=fps, min_frames=min_frames, max_side=max_side)


# --------------------------------------------------------------------------- GIF structure
@dataclass
class _GifFrame:
    x: int
    y: int
    width: int
    height: int
    descriptor_flags: int
    local_palette: Optional[bytes]
    data: slice            # LZW minimum code size + sub-blocks, in the file's bytes
    disposal: int
    transparent: Optional[int]


@dataclass
class _GifLayout:
    palette: Optional[bytes]
    frames: list[_GifFrame]


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    """Return the position after a chain of GIF data sub-blocks; -1 if the file ends first."""
    n = len(data)
    while pos < n:
        size = data[pos]
        pos += 1
        if size == 0:
            return pos
        pos += size
    return -1


def _palette_size(flags: int) -> int:
    return 3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0


def _parse_gif(data: bytes, path: str, limits: DecodeLimits) -> tuple[MediaInfo, _GifLayout]:
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        raise MediaError(path, "not a GIF file (bad signature)")
    width = int.from_bytes(data[6:8], "little")
    height = int.from_bytes(data[8:10], "little")
    if width == 0 or height == 0:
        raise MediaError(path, f"GIF canvas is {width}x{height}")
    if width * height > limits.max_canvas_pixels:
        raise MediaError(path, f"GIF canvas {width}x{height} exceeds the limit of {limits.max_canvas_pixels} pixels")
    pos = 13 + _palette_size(data[10])
    layout = _GifLayout(data[13:pos] or None, [])
    durations: list[float] = []
    delay_ms: Optional[int] = None
    disposal, transparent = 0, None
    loop: Optional[int] = None
    truncated = False
    n = len(data)
    while True:
        if pos >= n:
            truncated = True
            break
        block = data[pos]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension
            if pos + 2 > n:
                truncated = True
                break
            label = data[pos + 1]
            body = pos + 2
            if label == 0xF9 and body + 5 <= n and data[body] >= 4:  # graphic control extension
                packed = data[body + 1]
                delay_ms = int.from_bytes(data[body + 2:body + 4], "little") * 10
                disposal = (packed >> 2) & 7
                transparent = data[body + 4] if packed & 1 else None
            elif label == 0xFF and data[body:body + 12] in (b"\x0bNETSCAPE2.0", b"\x0bANIMEXTS1.0"):
                sub = body + 12
                if sub + 4 <= n and data[sub] >= 3 and data[sub + 1] == 1:
                    loop = int.from_bytes(data[sub + 2:sub + 4], "little")
            pos = _skip_sub_blocks(data, body)
        elif block == 0x2C:  # image descriptor
            if pos + 10 > n:
                truncated = True
                break
            fx, fy, fw, fh = (int.from_bytes(data[pos + k:pos + k + 2], "little") for k in (1, 3, 5, 7))
            if fw * fh > limits.max_canvas_pixels:
                raise MediaError(path, f"GIF frame {len(durations)} is {fw}x{fh}, over the limit of "
                                       f"{limits.max_canvas_pixels} pixels")
            fflags = data[pos + 9]
            start = pos + 10 + _palette_size(fflags)
            local_palette = data[pos + 10:start] if fflags & 0x80 else None
            pos = _skip_sub_blocks(data, start + 1) if start < n else -1  # +1: LZW minimum code size
            if pos < 0:
                truncated = True
                break
            layout.frames.append(_GifFrame(fx, fy, fw, fh, fflags, local_palette, slice(start, pos), disposal, transparent))
            ms = delay_ms if delay_ms is not None and delay_ms > MIN_BROWSER_DELAY_MS else DEFAULT_DELAY_MS
            durations.append(ms / 1000.0)
            delay_ms, disposal, transparent = None, 0, None
            if len(durations) > limits.max_frames:
                raise MediaError(path, f"GIF has more than {limits.max_frames} frames (limit)")
            continue
        else:
            # Garbage where a block should start: what came before is usable.
            truncated = True
            break
        if pos < 0:
            truncated = True
            break
    if not durations:
        raise MediaError(path, "GIF has no complete frame" + (" (file is truncated)" if truncated else ""))
    if len(durations) == 1:
        durations = [max(durations[0], DEFAULT_DELAY_MS / 1000.0)]
    return MediaInfo(path, "gif", width, height, len(durations), durations, loop, truncated), layout


# --------------------------------------------------------------------------- sampling
def sample_times(duration: float, num_frames: Optional[int] = None, fps: Optional[float] = None,
                 min_frames: int = 0) -> list[float]:
    """Instants (seconds, may exceed `duration`: the loop repeats) at which to take frames.

    `num_frames`: N instants evenly over the loop (centre of each of N equal slots).
    `fps`: every 1/fps seconds over one loop, looping until at least `min_frames` instants.
    Neither: one instant per `DEFAULT_DELAY_MS` is not assumed; callers pass one of them.
    """
    if duration <= 0:
        raise ValueError("duration must be positive")
    if (num_frames is None) == (fps is None):
        raise ValueError("give exactly one of num_frames or fps")
    if num_frames is not None:
        if num_frames < 1:
            raise ValueError("num_frames must be >= 1")
        return [(k + 0.5) * duration / num_frames for k in range(num_frames)]
    if fps <= 0:
        raise ValueError("fps must be positive")
    count = max(int(np.floor(duration * fps + 1e-9)), 1, min_frames)
    return [k / fps for k in range(count)]


def frame_index_at(durations: list[float], times: list[float]) -> list[int]:
    """Index of the frame on screen at each instant (instants wrap around the loop)."""
    starts = np.concatenate([[0.0], np.cumsum(durations)])
    total = starts[-1]
    # A nudge past float error: an instant computed to land exactly on a frame start (k/fps on a
    # 1/fps GIF) must pick that frame, not the one before.
    wrapped = np.mod(np.asarray(times, dtype=np.float64) + 1e-9, total)
    idx = np.searchsorted(starts, wrapped, side="right") - 1
    return np.clip(idx, 0, len(durations) - 1).astype(int).tolist()


# --------------------------------------------------------------------------- reading
def _read_bytes(path: Path, limits: DecodeLimits) -> bytes:
    if not path.exists():
        raise MediaError(path, "file does not exist")
    if not path.is_file():
        raise MediaError(path, "not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise MediaError(path, "file is empty")
    if size > limits.max_bytes:
        raise MediaError(path, f"file is {size} bytes, over the limit of {limits.max_bytes} bytes")
    return path.read_bytes()


def is_gif_bytes(head: bytes) -> bool:
    return head[:6] in (b"GIF87a", b"GIF89a")


def probe(path: os.PathLike | str, limits: Optional[DecodeLimits] = None) -> MediaInfo:
    """Frame count, timing and size without decoding pixels (videos: from the container)."""
    limits = limits or DecodeLimits()
    path = Path(path)
    data = _read_bytes(path, limits)
    if is_gif_bytes(data):
        return _parse_gif(data, str(path), limits)[0]
    return _probe_video(path, limits)


def read_clip(path: os.PathLike | str, num_frames: Optional[int] = None, fps: Optional[float] = None,
              min_frames: int = 0, max_side: Optional[int] = None, background: tuple[int, int, int] = (255, 255, 255),
              limits: Optional[DecodeLimits] = None) -> Clip:
    """Sample RGB frames by time from a GIF or video.

    Give `num_frames` (N evenly over the loop) or `fps` (with `min_frames` to loop short clips);
    with neither, every frame of the file is returned once. `max_side` shrinks large frames
    (keeping aspect) as they are decoded, to bound memory. Transparent GIF pixels show `background`.
    """
    limits = limits or DecodeLimits()
    path = Path(path)
    data = _read_bytes(path, limits)
    if is_gif_bytes(data):
        info, layout = _parse_gif(data, str(path), limits)

        def sample(num_frames=None, fps=None, min_frames=0, max_side=None) -> Clip:
            clip = _read_gif(path, data, info, layout, num_frames, fps, min_frames, max_side, background, limits)
            clip.resampler = sample
            return clip
    else:
        def sample(num_frames=None, fps=None, min_frames=0, max_side=None) -> Clip:
            clip = _read_video(path, num_frames, fps, min_frames, max_side, limits)
            clip.resampler = sample
            return clip
    return sample(num_frames=num_frames, fps=fps, min_frames=min_frames, max_side=max_side)


def _plan(info: MediaInfo, num_frames, fps, min_frames) -> tuple[list[float], list[int]]:
    if num_frames is None and fps is None:
        starts = np.concatenate([[0.0], np.cumsum(info.durations)[:-1]])
        return starts.tolist(), list(range(info.frame_count))
    times = sample_times(info.duration, num_frames, fps, min_frames)
    return times, frame_index_at(info.durations, times)


def _shrink(frame: np.ndarray, max_side: Optional[int]) -> np.ndarray:
    if max_side is None or max(frame.shape[:2]) <= max_side:
        return frame
    from PIL import Image

    h, w = frame.shape[:2]
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(frame).resize(size, Image.BILINEAR))


def _check_total_pixels(path, info: MediaInfo, frames_to_decode: int, limits: DecodeLimits) -> None:
    total = frames_to_decode * info.width * info.height
    if total > limits.max_total_pixels:
        raise MediaError(path, f"decoding {frames_to_decode} frames of {info.width}x{info.height} is "
                               f"{total} pixels, over the limit of {limits.max_total_pixels}")


def _frame_pixels(data: bytes, frame: _GifFrame, palette: Optional[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Decode one frame's LZW data (Pillow does the LZW) into RGB pixels and an opacity mask."""
    import io
    import struct

    from PIL import Image

    palette = frame.local_palette or palette or bytes(range(256)) * 3
    flags = 0x80 | (int(np.log2(len(palette) // 3)) - 1)
    single = (b"GIF89a" + struct.pack("<HHBBB", frame.width, frame.height, flags, 0, 0) + palette
              + b"\x2c" + struct.pack("<HHHHB", 0, 0, frame.width, frame.height, frame.descriptor_flags & 0x40)
              + data[frame.data] + b"\x3b")
    with Image.open(io.BytesIO(single)) as image:
        image.load()
        indices = np.asarray(image.convert("P") if image.mode != "P" else image)
    table = np.frombuffer(palette, dtype=np.uint8).reshape(-1, 3)
    rgb = table[np.minimum(indices, len(table) - 1)]
    opaque = np.ones(indices.shape, dtype=bool) if frame.transparent is None else indices != frame.transparent
    return rgb, opaque


def _read_gif(path, data, info, layout, num_frames, fps, min_frames, max_side, background, limits) -> Clip:
    """Composite frames as browsers do: the canvas starts transparent; disposal 2 clears the frame's
    rectangle to transparent (browsers ignore the background colour index); 3 restores what was there."""
    times, indices = _plan(info, num_frames, fps, min_frames)
    last_needed = max(indices)
    _check_total_pixels(path, info, last_needed + 1, limits)
    notes: list[str] = []
    wanted: dict[int, np.ndarray] = {}
    needed = set(indices)
    canvas = np.zeros((info.height, info.width, 3), dtype=np.uint8)
    alpha = np.zeros((info.height, info.width), dtype=bool)
    page = np.array(background, dtype=np.uint8)
    for index in range(last_needed + 1):
        frame = layout.frames[index]
        try:
            rgb, opaque = _frame_pixels(data, frame, layout.palette)
        except Exception as exc:  # Pillow raises many types for corrupt LZW data
            if not wanted:
                raise MediaError(path, f"GIF frame {index} cannot be decoded: {exc}") from exc
            notes.append(f"{path}: frame {index} cannot be decoded ({exc}); kept the {len(wanted)} frames before it")
            break
        # the part of the frame's rectangle that lies on the canvas
        y0, x0 = min(frame.y, info.height), min(frame.x, info.width)
        y1, x1 = min(frame.y + rgb.shape[0], info.height), min(frame.x + rgb.shape[1], info.width)
        region = (slice(y0, y1), slice(x0, x1))
        rgb, opaque = rgb[: y1 - y0, : x1 - x0], opaque[: y1 - y0, : x1 - x0]
        saved = (canvas[region].copy(), alpha[region].copy()) if frame.disposal == 3 else None
        np.copyto(canvas[region], rgb, where=opaque[..., None])
        alpha[region] |= opaque
        if index in needed:
            shown = canvas.copy() if alpha.all() else np.where(alpha[..., None], canvas, page)
            wanted[index] = _shrink(shown, max_side)
        if frame.disposal == 2:
            alpha[region] = False
        elif saved is not None:
            canvas[region], alpha[region] = saved
    if info.truncated:
        notes.append(f"{path}: file is truncated; using the {info.frame_count} complete frames")
    keep = [i for i, idx in enumerate(indices) if idx in wanted]
    for note in notes:
        warnings.warn(note, TruncatedMediaWarning, stacklevel=3)
    return Clip(info, [wanted[indices[i]] for i in keep], [times[i] for i in keep], [indices[i] for i in keep], notes)


# --------------------------------------------------------------------------- video
def _open_video(path: Path):
    import av

    try:
        container = av.open(str(path))
    except Exception as exc:  # PyAV raises its own error types for anything it cannot demux
        raise MediaError(path, f"not a GIF or a readable video ({type(exc).__name__}: {exc})") from exc
    if not container.streams.video:
        container.close()
        raise MediaError(path, "file has no video stream")
    return container


def _probe_video(path: Path, limits: DecodeLimits) -> MediaInfo:
    container = _open_video(path)
    try:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > limits.max_canvas_pixels:
            raise MediaError(path, f"video frame {width}x{height} exceeds the limit of {limits.max_canvas_pixels} pixels")
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        if stream.duration is not None and stream.time_base is not None:
            seconds = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            seconds = container.duration / 1_000_000
        else:
            seconds = 0.0
        if seconds > limits.max_video_seconds:
            raise MediaError(path, f"video is {seconds:.0f} s long, over the limit of {limits.max_video_seconds:.0f} s")
        count = stream.frames or max(1, round(seconds * rate))
        if seconds <= 0:
            seconds = count / rate
        return MediaInfo(str(path), "video", width, height, count, [seconds / count] * count)
    finally:
        container.close()


def _read_video(path: Path, num_frames, fps, min_frames, max_side, limits: DecodeLimits) -> Clip:
    info = _probe_video(path, limits)
    times, _ = _plan(info, num_frames, fps, min_frames)
    # Decode in order, keeping the last frame shown at or before each wanted instant.
    targets = sorted(set(float(np.mod(t, info.duration)) for t in times))
    decoded: list[tuple[float, np.ndarray]] = []
    notes: list[str] = []
    container = _open_video(path)
    count = 0
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        ti = 0
        previous = None
        for frame in container.decode(stream):
            count += 1
            if count > limits.max_frames:
                raise MediaError(path, f"video has more than {limits.max_frames} frames (limit)")
            t = (float(frame.pts * stream.time_base) - start) if frame.pts is not None else (count - 1) * info.durations[0]
            while ti < len(targets) and targets[ti] < t and previous is not None:
                decoded.append((targets[ti], previous))
                ti += 1
            previous = _shrink(frame.to_ndarray(format="rgb24"), max_side)
            if ti >= len(targets):
                break
        while ti < len(targets) and previous is not None:
            decoded.append((targets[ti], previous))
            ti += 1
    except MediaError:
        raise
    except Exception as exc:  # corrupt packets: keep what decoded
        if not decoded and previous is None:
            raise MediaError(path, f"video cannot be decoded: {exc}") from exc
        notes.append(f"{path}: video is damaged after {count} frames ({exc}); kept the frames before it")
        if previous is not None:
            decoded.extend((t, previous) for t in targets[len(decoded):])
    finally:
        container.close()
    if not decoded:
        raise MediaError(path, "video has zero decodable frames")
    by_time = dict(decoded)
    frames = [by_time[float(np.mod(t, info.duration))] for t in times]
    indices = [min(int(np.mod(t, info.duration) / info.durations[0]), info.frame_count - 1) for t in times]
    for note in notes:
        warnings.warn(note, TruncatedMediaWarning, stacklevel=3)
    return Clip(info, frames, list(times), indices, notes)


def iter_media_files(paths: list[os.PathLike | str]) -> list[Path]:
    """Files given directly, plus GIFs and videos found recursively in given folders (sorted)."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.extend(sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in MEDIA_EXTENSIONS))
        else:
            found.append(p)
    return found
