"""Write a GIF or an MP4 with every face boxed and labelled with its emotion and a drawn emoji, frame by frame,
and count the emotions seen in each second of the clip.

Frames stream through: decoded, analysed and drawn a run at a time, never the whole clip in memory.
"""
from __future__ import annotations

import itertools
import os
import warnings
from collections import Counter
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Optional

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .emotions import EMOTIONS
from .media import DecodeLimits, MediaError, TruncatedMediaWarning, probe, stream_frames
from .names import one_line, refuse_overwrite
from .plots import COLOURS


def draw_emoji(draw: ImageDraw.ImageDraw, x: int, y: int, size: int, emotion: str, fill="#ffd23f",
               ink="black") -> None:
    """A small face drawn with primitives (no emoji font needed): brows, eyes and mouth per emotion."""
    s = size
    draw.ellipse([x, y, x + s, y + s], fill=fill, outline=ink, width=max(1, s // 16))
    eye_y = y + int(0.4 * s)
    eye_h = int(0.16 * s) if emotion in ("surprise", "fear") else int(0.1 * s)
    for ex in (x + int(0.3 * s), x + int(0.62 * s)):
        draw.ellipse([ex, eye_y - eye_h // 2, ex + int(0.1 * s), eye_y + eye_h // 2], fill=ink)
    brow_y = y + int(0.25 * s)
    if emotion == "anger":       # brows down towards the nose
        draw.line([x + int(0.25 * s), brow_y - 2, x + int(0.45 * s), brow_y + 3], fill=ink, width=2)
        draw.line([x + int(0.75 * s), brow_y - 2, x + int(0.55 * s), brow_y + 3], fill=ink, width=2)
    elif emotion in ("sadness", "fear"):  # brows raised in the middle
        draw.line([x + int(0.25 * s), brow_y + 3, x + int(0.45 * s), brow_y - 2], fill=ink, width=2)
        draw.line([x + int(0.75 * s), brow_y + 3, x + int(0.55 * s), brow_y - 2], fill=ink, width=2)
    mouth = [x + int(0.28 * s), y + int(0.58 * s), x + int(0.72 * s), y + int(0.85 * s)]
    if emotion == "happiness":
        draw.chord(mouth, 0, 180, fill=ink)
    elif emotion == "sadness":
        draw.arc([mouth[0], mouth[1] + int(0.12 * s), mouth[2], mouth[3] + int(0.12 * s)], 200, 340, fill=ink, width=2)
    elif emotion in ("surprise", "fear"):
        draw.ellipse([x + int(0.42 * s), y + int(0.6 * s), x + int(0.58 * s), y + int(0.82 * s)], fill=ink)
    elif emotion == "disgust":
        draw.line([mouth[0], mouth[1] + int(0.12 * s), mouth[2], mouth[1] + int(0.05 * s)], fill=ink, width=2)
        draw.line([x + int(0.22 * s), y + int(0.36 * s), x + int(0.4 * s), y + int(0.4 * s)], fill=ink, width=1)
    elif emotion == "anger":
        draw.arc([mouth[0], mouth[1] + int(0.12 * s), mouth[2], mouth[3] + int(0.1 * s)], 200, 340, fill=ink, width=3)
    else:  # neutral
        draw.line([mouth[0], mouth[1] + int(0.1 * s), mouth[2], mouth[1] + int(0.1 * s)], fill=ink, width=2)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType sizes
        return ImageFont.load_default()


def draw_faces(frame: np.ndarray, observations) -> Image.Image:
    image = Image.fromarray(frame).convert("RGB")
    draw = ImageDraw.Draw(image)
    scale = max(image.size) / 400
    font = _font(max(10, int(12 * scale)))
    for obs in observations:
        x, y, w, h = obs.box
        colour = COLOURS.get(obs.emotion, "white")
        draw.rectangle([x, y, x + w, y + h], outline=colour, width=max(2, int(2 * scale)))
        label = f"{obs.emotion} {obs.scores[obs.emotion]:.2f}"
        icon = max(14, int(18 * scale))
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        ty = max(0, y - icon - 4)
        draw.rectangle([x, ty, x + icon + 6 + right - left + 4, ty + icon + 2], fill=colour)
        draw_emoji(draw, x + 2, ty + 1, icon, obs.emotion)
        draw.text((x + icon + 6, ty + (icon - (bottom - top)) // 2 - top + 1), label, fill="black", font=font)
    return image



# Frames are analysed in runs of this many (face tracking goes on from run to run): memory holds one run.
CHUNK_FRAMES = 32
# Audio codecs an MP4 holds as they are (copied packet by packet); any other is re-encoded to AAC.
MP4_AUDIO_CODECS = {"aac", "mp3", "alac", "ac3", "eac3"}
# Output timestamps count 1/90000 s (the MPEG clock): fine enough to keep any input's frame timing.
VIDEO_TIME_BASE = Fraction(1, 90_000)


@dataclass
class EmotionSummary:
    """How many faces showed each emotion (their top emotion) in each second of the clip: a report for a reel."""
    faces: dict[int, Counter] = field(default_factory=dict)
    frames: Counter = field(default_factory=Counter)
    frames_with_face: Counter = field(default_factory=Counter)

    def add(self, time: float, faces) -> None:
        second = int(time)
        self.frames[second] += 1
        self.frames_with_face[second] += bool(faces)
        counts = self.faces.setdefault(second, Counter())
        counts.update(face.emotion for face in faces)

    def per_second(self) -> list[dict]:
        return [{"second": second, "frames": self.frames[second], "frames_with_face": self.frames_with_face[second],
                 "faces": {emotion: self.faces[second][emotion] for emotion in EMOTIONS}}
                for second in sorted(self.frames)]


@dataclass
class Annotated:
    """What `annotate_*` wrote: the file, its frames and length, and the emotions seen second by second."""
    path: Path
    frames: int
    duration: float
    summary: EmotionSummary

    def to_dict(self, source: str | Path) -> dict:
        return {"file": str(source), "output": str(self.path), "frames": self.frames,
                "duration": round(self.duration, 3), "per_second": self.summary.per_second()}


def annotate(src: str | Path, dst: str | Path, face_stream=None, max_frames: int = 300, runtime=None,
             limits: Optional[DecodeLimits] = None, progress: bool = False) -> Annotated:
    """A GIF or an MP4, by the suffix of `dst`, from a GIF or a video; `progress`: a bar of frames done."""
    refuse_overwrite(dst, input=src)
    suffix = Path(dst).suffix.lower()
    if suffix == ".gif":
        return annotate_gif(src, dst, face_stream, max_frames, runtime=runtime, limits=limits, progress=progress)
    if suffix == ".mp4":
        return annotate_video(src, dst, face_stream, runtime=runtime, limits=limits, progress=progress)
    raise ValueError(f"{dst}: the output must be a .gif or an .mp4 file")


@contextmanager
def _using(face_stream, runtime):
    """The face stream given, or one loaded (and closed) for this call."""
    if face_stream is not None:
        yield face_stream
        return
    from .facs import FaceStream

    with FaceStream(runtime=runtime) as own:
        yield own


def analysed(frames: Iterator, face_stream, summary: EmotionSummary) -> Iterator[tuple[float, np.ndarray, list]]:
    """(time, frame, faces) for each (time, frame), analysed a run at a time; `summary` counts the faces."""
    for number, run in enumerate(_runs(frames, CHUNK_FRAMES)):
        times, pixels = zip(*run)
        for time, frame, faces in zip(times, pixels, face_stream.analyze_frames(pixels, times, continues=number > 0)):
            summary.add(time, faces)
            yield time, frame, faces


def annotate_gif(src: str | Path, dst: str | Path, face_stream=None, max_frames: int = 300, max_side: int = 512,
                 runtime=None, limits: Optional[DecodeLimits] = None, progress: bool = False) -> Annotated:
    """Annotate every frame (up to `max_frames`, evenly in time for longer GIFs) and write a GIF.

    Frames are kept only as the palette images that are written (frames larger than `max_side` are
    shrunk), so memory does not grow with the canvas times the frames of the input.
    """
    limits = limits or DecodeLimits()
    info = probe(src, limits)
    if info.frame_count > max_frames:
        info, frames = stream_frames(src, num_frames=max_frames, max_side=max_side, limits=limits)
        durations = [info.duration / max_frames * 1000] * max_frames
    else:
        info, frames = stream_frames(src, max_side=max_side, limits=limits)
        durations = [d * 1000 for d in info.durations]
    summary = EmotionSummary()
    with _using(face_stream, runtime) as faces:
        images = [draw_faces(frame, obs).convert("P", palette=Image.Palette.ADAPTIVE)
                  for _, frame, obs in analysed(_counted(frames, min(info.frame_count, max_frames), progress),
                                                faces, summary)]
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    durations = [10 * round(d / 10) for d in durations[:len(images)]]  # GIF delays count hundredths of a second
    images[0].save(dst, save_all=True, append_images=images[1:], duration=durations, loop=0, disposal=1,
                   optimize=False)
    return Annotated(dst, len(images), sum(durations) / 1000, summary)


def annotate_video(src: str | Path, dst: str | Path, face_stream=None, runtime=None,
                   limits: Optional[DecodeLimits] = None, progress: bool = False) -> Annotated:
    """An MP4 (H.264) of every frame of `src`, annotated, each at its original time, with `src`'s audio.

    Frames stream from the decoder through the face stream to the encoder; audio packets are copied
    (or re-encoded to AAC) as the video reaches their time. The file appears only when complete.
    """
    import av

    limits = limits or DecodeLimits()
    info, frames = stream_frames(src, limits=limits)
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    partial = dst.with_name(f".{dst.name}.partial")
    summary = EmotionSummary()
    written = 0
    try:
        with ExitStack() as stack:
            faces = stack.enter_context(_using(face_stream, runtime))
            out = stack.enter_context(av.open(str(partial), "w", format="mp4"))
            items = analysed(_counted(frames, info.frame_count, progress), faces, summary)
            first = next(items)
            video = _video_stream(out, _even(first[1]).shape, info)
            audio = stack.enter_context(_AudioTrack(src, out, info.kind == "video"))
            for (time, frame, obs), duration in zip(itertools.chain([first], items), info.durations):
                picture = av.VideoFrame.from_image(draw_faces(_even(frame), obs))
                picture.pts, picture.time_base = round(time / VIDEO_TIME_BASE), VIDEO_TIME_BASE
                picture.duration = round(duration / VIDEO_TIME_BASE)
                audio.mux_until(time)
                out.mux(video.encode(picture))
                written += 1
            out.mux(video.encode(None))
            audio.mux_until(float("inf"))
        os.replace(partial, dst)
    finally:
        partial.unlink(missing_ok=True)
    return Annotated(dst, written, info.duration, summary)


def _counted(frames: Iterator, total: int, progress: bool) -> Iterator:
    """`frames`, with a progress bar on stderr when `progress` (a long video takes minutes)."""
    from tqdm import tqdm

    return iter(tqdm(frames, total=total, desc="annotating", unit="frame", disable=not progress, leave=False))


def _even(frame: np.ndarray) -> np.ndarray:
    """The frame with even width and height (H.264 in 4:2:0 needs them): the last row or column repeated."""
    h, w = frame.shape[:2]
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge") if h % 2 or w % 2 else frame


def _video_stream(out, shape: tuple, info):
    rate = Fraction(info.frame_count / info.duration).limit_denominator(1001) if info.duration > 0 else Fraction(25)
    stream = out.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": "20"})
    stream.height, stream.width = shape[:2]
    stream.pix_fmt = "yuv420p"
    stream.codec_context.time_base = stream.time_base = VIDEO_TIME_BASE
    return stream


class _AudioTrack:
    """The source's first audio stream, muxed into `out` as the video advances: its packets copied when
    MP4 holds the codec, else decoded and re-encoded to AAC. Damaged audio ends the track with a warning."""

    def __init__(self, src: str | Path, out, is_video: bool):
        import av

        self.src, self.out = src, out
        self.packets: Iterator = iter(())
        self.next = None
        self.source = None
        if not is_video:
            return
        try:
            self.source = av.open(str(src))
        except Exception as exc:  # it was read a moment ago: the file changed under us
            raise MediaError(src, f"cannot be read again for its audio ({exc})") from None
        if not self.source.streams.audio:
            return
        audio, video = self.source.streams.audio[0], self.source.streams.video[0]
        # The video's first frame is time 0 of the output: the audio moves with it, so both stay in sync.
        start = float(video.start_time * video.time_base) if video.start_time is not None else 0.0
        shift = round(start / audio.time_base)
        if audio.codec_context.name in MP4_AUDIO_CODECS:
            self.packets = self._copied(audio, out.add_stream_from_template(audio), shift)
        else:
            self.packets = self._encoded(audio, out.add_stream("aac", rate=audio.codec_context.sample_rate or 48000),
                                         shift)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.source is not None:
            self.source.close()

    def _copied(self, audio, stream, shift: int):
        for packet in self.source.demux(audio):
            if packet.dts is None:
                continue  # the demuxer's end-of-stream marker
            packet.pts, packet.dts = packet.pts - shift, packet.dts - shift
            packet.stream = stream
            yield float(packet.pts * audio.time_base), [packet]

    def _encoded(self, audio, stream, shift: int):
        for packet in self.source.demux(audio):
            for frame in packet.decode():
                if frame.pts is not None:
                    frame.pts -= shift
                yield float((frame.pts or 0) * audio.time_base), stream.encode(frame)
        yield float("inf"), stream.encode(None)

    def mux_until(self, time: float) -> None:
        """Mux the audio up to `time` seconds of the output."""
        try:
            while True:
                if self.next is None:
                    self.next = next(self.packets)
                if self.next[0] > time:
                    return
                self.out.mux(self.next[1])
                self.next = None
        except StopIteration:
            self.packets = iter(())
        except Exception as exc:  # PyAV raises its own types for damaged audio: keep the video and what came before
            warnings.warn(f"{self.src}: audio is damaged ({one_line(str(exc))}); kept the audio before it",
                          TruncatedMediaWarning)
            self.packets = iter(())


def _runs(items: Iterator, size: int) -> Iterator[list]:
    run = []
    for item in items:
        run.append(item)
        if len(run) == size:
            yield run
            run = []
    if run:
        yield run
