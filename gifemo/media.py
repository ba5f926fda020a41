"""Decode animated GIFs and short videos into RGB frames with real timing, safely.

GIFs are first walked block by block without decompressing anything, so frame count, per-frame
delays and canvas size are known (and limits enforced) before a single pixel is decoded. Frames are
then composited by Pillow (palette, transparency, disposal), as a browser shows them.
"""
from __future__ import annotations

import errno
import functools
import hashlib
import os
import stat
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .config import DecodeLimits
from .names import one_line, readable

GIF_EXTENSIONS = {".gif"}
VIDEO_EXTENSIONS = {".mp4", ".webm", ".mov", ".mkv", ".m4v", ".avi"}
MEDIA_EXTENSIONS = GIF_EXTENSIONS | VIDEO_EXTENSIONS

# Browsers show frames with a delay of 10 ms or less for 100 ms (GIFs that say "0" mean "fast").
MIN_BROWSER_DELAY_MS = 10
DEFAULT_DELAY_MS = 100


class MediaError(Exception):
    """A file that cannot be decoded safely. `str()` names the file and the reason."""

    def __init__(self, path: os.PathLike | str, reason: str):
        super().__init__(f"{readable(path)}: {one_line(reason)}")
        self.path = str(path)
        self.reason = one_line(reason)


class MediaWarning(UserWarning):
    """Damaged data: the file was read, but not all of it. Every warning of this class is kept in the record."""


class TruncatedMediaWarning(MediaWarning):
    """The file ended early or a frame could not be decoded; the frames before the damage were kept."""


@dataclass
class _Budget:
    """The per-file decoding budget: decoded pixels and wall-clock time, checked as frames come."""

    def __init__(self, path, limits: DecodeLimits):
        self.path, self.limits = path, limits
        self.pixels = 0
        self.seconds = 0.0               # CPU spent decoding, not counting time paused
        self.since = time.process_time()

    def spend(self, pixels: int) -> None:
        self.pixels += pixels
        if self.pixels > self.limits.max_total_pixels:
            raise MediaError(self.path, f"decoding needs more than {self.limits.max_total_pixels} pixels (limit)")
        if self.seconds + time.process_time() - self.since > self.limits.max_seconds:
            raise MediaError(self.path, f"decoding used more than {self.limits.max_seconds:g} s of CPU (limit)")

    @contextmanager
    def paused(self):
        """Around a `yield`: the time a consumer of streamed frames spends is not the decoder's."""
        self.seconds += time.process_time() - self.since
        try:
            yield
        finally:
            self.since = time.process_time()


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
    # What more than one stream computes from these frames (face detections), keyed by how it was computed:
    # the first stream to need it computes it, the others read it.
    shared: dict = field(default_factory=dict, repr=False, compare=False)
    # Set by the caller (TagOptions.near_duplicate): a sample that differs from the last analysed one by less than
    # this mean absolute pixel difference (0-255) counts as a repeat too. 0: only the file's same frame does.
    near_duplicate: float = field(default=0.0, repr=False, compare=False)

    def repeats(self) -> list[bool]:
        """Per sample: does it repeat the last analysed sample, so that the streams reuse that sample's analysis?
        It does when it is the file's same frame (a GIF with fewer frames than samples, or a frame shown longer
        than a slot: identical pixels), or, with `near_duplicate`, a frame that differs by less than that."""
        key = ("repeats", self.near_duplicate)
        if key not in self.shared:
            marks, last = [], 0
            for i, (frame, index) in enumerate(zip(self.frames, self.indices)):
                marks.append(i > 0 and (index == self.indices[i - 1] or self._near(frame, self.frames[last])))
                last = last if marks[-1] else i
            self.shared[key] = marks
        return self.shared[key]

    def _near(self, a: np.ndarray, b: np.ndarray) -> bool:
        return self.near_duplicate > 0 and a.shape == b.shape and \
            float(np.abs(a.astype(np.int16) - b).mean()) < self.near_duplicate

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
def _open_regular(path: Path, limits: DecodeLimits) -> int:
    """Open a file for reading only if it is a regular file within the size limit (checked on the open
    descriptor, so a FIFO, a device or a huge sparse file is refused before a byte is read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise MediaError(path, _open_problem(path, exc)) from None
    try:
        st = os.fstat(fd)
        problem = _type_problem(st.st_mode)
        if problem is None and st.st_size == 0:
            problem = "file is empty"
        if problem is None and st.st_size > limits.max_bytes:
            problem = f"file is {st.st_size} bytes, over the limit of {limits.max_bytes} bytes"
        if problem is not None:
            raise MediaError(path, problem)
        os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _open_problem(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno == errno.ENOENT:
        return "dangling symbolic link" if os.path.islink(path) else "file does not exist"
    try:
        problem = _type_problem(os.stat(path).st_mode)  # a socket or a device that refused to open
    except OSError:
        problem = None
    return problem or f"cannot open: {exc.strerror or exc}"


def _type_problem(mode: int) -> Optional[str]:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "not a regular file (a folder)"
    if stat.S_ISFIFO(mode):
        return "not a regular file (a FIFO)"
    if stat.S_ISSOCK(mode):
        return "not a regular file (a socket)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "not a regular file (a device)"
    return "not a regular file"


def _read_bytes(path: Path, limits: DecodeLimits) -> bytes:
    fd = _open_regular(path, limits)
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(os.fstat(fd).st_size)  # exactly the checked size: read(n) reserves n bytes
            grew = handle.read(1)
        except OSError as exc:
            raise MediaError(path, f"cannot read: {exc.strerror or exc}") from None
    if grew:
        raise MediaError(path, "file changed while it was read")
    return data


def content_sha256(path: os.PathLike | str, limits: Optional[DecodeLimits] = None) -> str:
    """sha256 of a media file's bytes, after the type and size checks (never hashes a FIFO or a 3 GB file)."""
    limits = limits or DecodeLimits()
    path = Path(path)
    digest = hashlib.sha256()
    with os.fdopen(_open_regular(path, limits), "rb") as handle:
        try:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        except OSError as exc:
            raise MediaError(path, f"cannot read: {exc.strerror or exc}") from None
    return digest.hexdigest()


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
    with neither, every frame of the file is returned once. `max_side` (at most `limits.max_kept_side`)
    shrinks large frames (keeping aspect) as they are decoded, to bound memory. Transparent GIF pixels
    show `background`. `clip.resample(...)` samples again from the bytes already read and checked.
    """
    limits = limits or DecodeLimits()
    path = Path(path)
    data = _read_bytes(path, limits)
    data = data if is_gif_bytes(data) else None  # a video is read again by the demuxer

    def sample(num_frames=None, fps=None, min_frames=0, max_side=None) -> Clip:
        info, times, indices, source, notes = _open_frames(path, data, num_frames, fps, min_frames, max_side,
                                                           background, limits)
        wanted = dict(source)
        keep = [i for i, idx in enumerate(indices) if idx in wanted]
        return Clip(info, [wanted[indices[i]] for i in keep], [times[i] for i in keep], [indices[i] for i in keep],
                    _warn(notes), resampler=sample)

    return sample(num_frames=num_frames, fps=fps, min_frames=min_frames, max_side=max_side)


def stream_frames(path: os.PathLike | str, num_frames: Optional[int] = None, max_side: Optional[int] = None,
                  limits: Optional[DecodeLimits] = None):
    """(info, iterator of (time, RGB frame)): like `read_clip` over one loop, but one frame at a time, so
    memory holds one frame however many there are. Frames come in time order."""
    limits = limits or DecodeLimits()
    data = _read_bytes(Path(path), limits)
    info, times, indices, source, notes = _open_frames(Path(path), data if is_gif_bytes(data) else None, num_frames,
                                                       None, 0, max_side, (255, 255, 255), limits)

    def frames():
        position = 0
        for index, frame in source:
            while position < len(indices) and indices[position] == index:
                yield times[position], frame
                position += 1
        _warn(notes)

    return info, frames()


def _open_frames(path: Path, gif: Optional[bytes], num_frames, fps, min_frames, max_side, background,
                 limits: DecodeLimits):
    """The plan (info, sample times, frame index of each) and a lazy source of (index, frame), one per
    distinct index in increasing order, for a GIF's bytes or (`gif` None) a video; `notes` fills with
    damage found while decoding."""
    max_side = min(max_side or limits.max_kept_side, limits.max_kept_side)
    notes: list[str] = []
    if gif is not None:
        info, layout = _parse_gif(gif, str(path), limits)
        times, indices = _plan(info, num_frames, fps, min_frames)
        _check_total_pixels(path, info, max(indices) + 1, limits)
        frames = _composite_gif(path, gif, info, layout, set(indices), background, limits, notes)
        source = ((index, _shrink(shown, max_side)) for index, shown in frames)
    else:
        info = _probe_video(path, limits)
        times, indices = _plan(info, num_frames, fps, min_frames)
        source = _decode_video(path, info, sorted(set(indices)), max_side, limits, notes)
    return info, times, indices, source, notes


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


def _frame_pixels(data: bytes, frame: _GifFrame, palette: Optional[bytes]) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Decode one frame's LZW data (Pillow does the LZW) into RGB pixels and an opacity mask (None: all opaque)."""
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
    rgb = _palette_lookup(palette)[indices].view(np.uint8).reshape(indices.shape + (4,))[..., :3]
    return rgb, None if frame.transparent is None else indices != frame.transparent


@functools.lru_cache(maxsize=64)
def _palette_lookup(palette: bytes) -> np.ndarray:
    """The palette as 256 packed RGBX uint32 values, indexes past its end black: one 4-byte lookup per pixel
    is several times faster than indexing a (n, 3) table. Indexes past the palette's end show its last colour."""
    table = np.zeros((256, 4), dtype=np.uint8)
    colours = np.frombuffer(palette, dtype=np.uint8).reshape(-1, 3)[:256]
    table[:len(colours), :3] = colours
    table[len(colours):, :3] = colours[-1]
    return table.view(np.uint32).ravel()


def _composite_gif(path, data, info: MediaInfo, layout: _GifLayout, needed: set[int], background, limits,
                   notes: list[str]):
    """Yield (index, RGB frame as shown) for the frames in `needed`, decoding in order up to the last of them.

    Each frame yielded is a new array (the canvas goes on changing). A frame that
    cannot be decoded ends the file there: `info` is cut to the frames before it and a note says so.
    """
    budget = _Budget(path, limits)
    canvas = np.zeros((info.height, info.width, 3), dtype=np.uint8)
    alpha = np.zeros((info.height, info.width), dtype=bool)
    page = np.array(background, dtype=np.uint8)
    for index in range(max(needed) + 1):
        frame = layout.frames[index]
        budget.spend(frame.width * frame.height)
        try:
            rgb, opaque = _frame_pixels(data, frame, layout.palette)
        except Exception as exc:  # Pillow raises many types for corrupt LZW data
            if index == 0:
                raise MediaError(path, f"GIF frame {index} cannot be decoded: {exc}") from None
            notes.append(f"{readable(path)}: frame {index} cannot be decoded ({one_line(str(exc))}); "
                         f"kept the {index} frames before it")
            del info.durations[index:]
            info.frame_count, info.truncated = index, True
            return
        # the part of the frame's rectangle that lies on the canvas
        y0, x0 = min(frame.y, info.height), min(frame.x, info.width)
        y1, x1 = min(frame.y + rgb.shape[0], info.height), min(frame.x + rgb.shape[1], info.width)
        region = (slice(y0, y1), slice(x0, x1))
        rgb = rgb[: y1 - y0, : x1 - x0]
        saved = (canvas[region].copy(), alpha[region].copy()) if frame.disposal == 3 else None
        if opaque is None:
            canvas[region], alpha[region] = rgb, True
        else:
            opaque = opaque[: y1 - y0, : x1 - x0]
            np.copyto(canvas[region], rgb, where=opaque[..., None])
            alpha[region] |= opaque
        if index in needed:
            shown = canvas.copy() if alpha.all() else np.where(alpha[..., None], canvas, page)
            with budget.paused():
                yield index, shown
        if frame.disposal == 2:
            alpha[region] = False
        elif saved is not None:
            canvas[region], alpha[region] = saved
    if info.truncated:
        notes.append(f"{readable(path)}: file is truncated; using the {info.frame_count} complete frames")


def _warn(notes: list[str]) -> list[str]:
    for note in notes:
        warnings.warn(note, TruncatedMediaWarning, stacklevel=3)
    return notes


# --------------------------------------------------------------------------- video
def _open_video(path: Path):
    import av

    try:
        container = av.open(str(path))
    except Exception as exc:  # PyAV raises its own error types for anything it cannot demux
        raise MediaError(path, f"not a GIF or a readable video ({getattr(exc, 'strerror', None) or exc})") from None
    if not container.streams.video:
        container.close()
        raise MediaError(path, "file has no video stream")
    return container


def _probe_video(path: Path, limits: DecodeLimits) -> MediaInfo:
    """Frame count and timing from the packets actually in the file (demuxed, not decoded): a container
    header can claim any size or length, so it is only used to refuse early, never to allocate."""
    budget = _Budget(path, limits)
    container = _open_video(path)
    try:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > limits.max_canvas_pixels:
            raise MediaError(path, f"video frame {width}x{height} exceeds the limit of {limits.max_canvas_pixels} pixels")
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        if not 0.01 <= rate <= 1000:
            rate = 25.0
        base = float(stream.time_base) if stream.time_base else 1 / rate
        stamps: list[float] = []
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue  # end-of-stream marker
                budget.spend(0)
                stamps.append(float(packet.pts) * base if packet.pts is not None else len(stamps) / rate)
                if len(stamps) > limits.max_frames:
                    raise MediaError(path, f"video has more than {limits.max_frames} frames (limit)")
        except MediaError:
            raise
        except Exception:  # a corrupt packet ends the usable part; decoding reports what it kept
            pass
    finally:
        container.close()
    if not stamps:
        raise MediaError(path, "video has no frames")
    stamps.sort()
    step = 1 / rate
    durations = [b - a if 0 < b - a <= 10 else step for a, b in zip(stamps, stamps[1:])] + [step]
    if sum(durations) > limits.max_video_seconds:
        raise MediaError(path, f"video is {sum(durations):.0f} s long, over the limit of {limits.max_video_seconds:.0f} s")
    return MediaInfo(str(path), "video", width, height, len(durations), durations)


def _decode_video(path: Path, info: MediaInfo, needed: list[int], max_side, limits: DecodeLimits, notes: list[str]):
    """Yield (index, RGB frame) for each index in `needed` (sorted): the frame on screen at its start."""
    starts = np.concatenate([[0.0], np.cumsum(info.durations)[:-1]])
    budget = _Budget(path, limits)
    container = _open_video(path)
    count, ni, origin, previous = 0, 0, None, None
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            # Every decoded frame is checked: the header's size and count were never trusted.
            if frame.width * frame.height > limits.max_canvas_pixels:
                raise MediaError(path, f"video frame {count} is {frame.width}x{frame.height}, over the limit of "
                                       f"{limits.max_canvas_pixels} pixels")
            budget.spend(frame.width * frame.height)
            count += 1
            if count > info.frame_count + 1:
                raise MediaError(path, f"video decodes to more frames than the {info.frame_count} it holds")
            t = float(frame.time) if frame.time is not None else starts[min(count - 1, len(starts) - 1)]
            origin = t if origin is None else origin
            while ni < len(needed) and starts[needed[ni]] < t - origin - 1e-6 and previous is not None:
                with budget.paused():
                    yield needed[ni], previous
                ni += 1
            if ni >= len(needed):
                break
            previous = _video_rgb(frame, max_side)
    except MediaError:
        raise
    except Exception as exc:  # corrupt packets: keep what decoded
        if previous is None:
            raise MediaError(path, f"video cannot be decoded: {exc}") from None
        notes.append(f"{readable(path)}: video is damaged after {count} frames ({one_line(str(exc))}); "
                     f"kept the frames before it")
    finally:
        container.close()
    if previous is None:
        raise MediaError(path, "video has zero decodable frames")
    for index in needed[ni:]:
        yield index, previous


def _video_rgb(frame, max_side: Optional[int]) -> np.ndarray:
    """RGB pixels, scaled down by the decoder itself when large (never holds a big RGB copy)."""
    w, h = frame.width, frame.height
    if max_side is not None and max(w, h) > max_side:
        scale = max_side / max(w, h)
        return frame.to_ndarray(width=max(1, round(w * scale)), height=max(1, round(h * scale)), format="rgb24")
    return frame.to_ndarray(format="rgb24")


# --------------------------------------------------------------------------- folder walks
# How video files start, for media files in a folder whose name does not say what they are.
_VIDEO_MAGIC = ((4, b"ftyp"), (0, b"\x1aE\xdf\xa3"), (8, b"AVI "))


@dataclass
class Entry:
    """One thing a walk met: a file to tag, or (`problem`) why it will not be read."""
    path: Path
    problem: Optional[str] = None


@dataclass
class Walk:
    entries: list[Entry]
    ignored: list[Path]      # regular files that are neither GIF nor video by name or content


def walk_media(paths: list[os.PathLike | str]) -> Walk:
    """Every entry of the given paths (folders recursively, sorted, links to folders not followed).

    Files named as media, and anything that is not a plain regular file (FIFOs, sockets, devices,
    broken or looping links, unreadable files), become entries: each gets a record, tagged or failed.
    Only readable regular files that are not media by name or by their first bytes are ignored.
    """
    walk = Walk([], [])
    for raw in paths:
        path = Path(raw)
        if path.is_dir():  # a folder named by the user is walked even when reached through a link
            _walk_folder(path, walk)
        else:
            walk.entries.append(Entry(path))
    return walk


def _walk_folder(folder: Path, walk: Walk) -> None:
    try:
        with os.scandir(folder) as listing:
            children = sorted(listing, key=lambda e: os.fsencode(e.name))
    except OSError as exc:
        walk.entries.append(Entry(folder, f"cannot list folder: {exc.strerror or exc}"))
        return
    for child in children:
        path = Path(child.path)
        try:
            if child.is_dir(follow_symlinks=False):
                _walk_folder(path, walk)
                continue
            if child.is_symlink() and os.path.isdir(path):
                walk.entries.append(Entry(path, "link to a folder (not followed)"))
                continue
        except OSError as exc:
            walk.entries.append(Entry(path, f"cannot inspect: {exc.strerror or exc}"))
            continue
        if path.suffix.lower() in MEDIA_EXTENSIONS or not _is_other_file(path):
            walk.entries.append(Entry(path))
        else:
            walk.ignored.append(path)


def _is_other_file(path: Path) -> bool:
    """A readable regular file whose first bytes are not a GIF's or a video container's."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False  # a broken link, a loop, an unreadable file: it gets a failed record saying why
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        try:
            head = handle.read(16)
        except OSError:
            return False
    return not (is_gif_bytes(head) or any(head[at:at + len(magic)] == magic for at, magic in _VIDEO_MAGIC))
