"""`gifemo annotate` on videos: a generated clip with a real face (from ../shared) in, an MP4 out with every
frame at its time and the audio kept; the per-second summary; hostile files refused in one line."""
import json

import av
import numpy as np
import pytest

from face_media import laughing_frames, write_clip
from gifemo import media
from gifemo.annotate import annotate_video
from gifemo.cli import main
from gifemo.emotions import EMOTIONS

FPS, SECONDS = 16, 1.5


@pytest.fixture(scope="module")
def face_stream(runtime, shared_dir):
    import torch

    from gifemo.facs import FaceStream

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with FaceStream(runtime=runtime) as stream:
        yield stream
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def frames(gifs_dev):
    return laughing_frames(gifs_dev, FPS, SECONDS)


def streams(path) -> dict[str, str]:
    with av.open(str(path)) as container:
        return {s.type: s.codec_context.name for s in container.streams}


def audio_seconds(path) -> float:
    with av.open(str(path)) as container:
        return sum(frame.samples / frame.sample_rate for frame in container.decode(audio=0))


@pytest.mark.parametrize("name, audio", [("with-aac.mp4", True), ("silent.mp4", False), ("with-opus.webm", True)])
def test_video_out_keeps_every_frame_its_timing_and_the_audio(name, audio, frames, face_stream, tmp_path):
    src = write_clip(tmp_path / name, frames, FPS, audio)
    done = annotate_video(src, tmp_path / "out.mp4", face_stream)
    original, annotated = media.probe(src), media.probe(done.path)
    assert annotated.frame_count == original.frame_count == done.frames == len(frames)
    assert annotated.duration == pytest.approx(original.duration, abs=1e-3)
    assert annotated.durations == pytest.approx(original.durations, abs=1e-3)
    assert streams(done.path) == ({"video": "h264", "audio": "aac"} if audio else {"video": "h264"})
    if audio:   # AAC copied as it was; Opus re-encoded to AAC: the whole tone either way
        assert audio_seconds(done.path) == pytest.approx(audio_seconds(src), abs=0.05)
    # every frame decodes, with a box and a label drawn over the face and the rest of the picture as it was
    decoded = media.read_clip(done.path)
    reference = media.read_clip(src)
    assert len(decoded.frames) == len(frames)
    changed = [np.mean(np.abs(a.astype(int) - o.astype(int)) > 60) for a, o in zip(decoded.frames, reference.frames)]
    assert all(0.005 < c < 0.3 for c in changed), changed
    assert not list(tmp_path.glob(".*partial"))


def test_face_tracking_goes_on_across_the_runs_a_long_video_is_read_in(frames, face_stream, tmp_path, monkeypatch):
    from gifemo.annotate import CHUNK_FRAMES
    from gifemo.facs.landmarks import FaceLandmarker

    long = (frames * (2 * CHUNK_FRAMES // len(frames) + 2))[: 2 * CHUNK_FRAMES + 5]   # three runs
    src = write_clip(tmp_path / "long.mp4", long, FPS, audio=False)
    starts = []
    original = FaceLandmarker.new_clip
    monkeypatch.setattr(FaceLandmarker, "new_clip", lambda self, *a, **k: (starts.append(1), original(self, *a, **k)))
    done = annotate_video(src, tmp_path / "out.mp4", face_stream)
    assert done.frames == len(long)
    assert len(starts) == 1    # one clip for the tracker, not one per run
    assert sum(done.summary.frames_with_face.values()) >= len(long) - 2


def test_cli_writes_the_per_second_summary(frames, models_dir, tmp_path, capsys):
    src = write_clip(tmp_path / "clip.mp4", frames, FPS, audio=True)
    out, summary = tmp_path / "annotated.mp4", tmp_path / "summary.json"
    assert main(["annotate", str(src), str(out), "--json", str(summary), "--models-dir", str(models_dir),
                 "--threads", "1"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    report = json.loads(summary.read_text())
    assert report["file"] == str(src) and report["frames"] == len(frames)
    assert report["duration"] == pytest.approx(SECONDS, abs=1e-3)
    seconds = report["per_second"]
    assert [s["second"] for s in seconds] == [0, 1] and [s["frames"] for s in seconds] == [FPS, len(frames) - FPS]
    for second in seconds:
        assert list(second["faces"]) == list(EMOTIONS)
        assert sum(second["faces"].values()) >= second["frames_with_face"] >= second["frames"] - 1
    # one laughing face: happiness is what the reel shows, second by second
    assert all(max(s["faces"], key=s["faces"].get) == "happiness" for s in seconds)


def huge_video(path):
    """One black frame just over the default canvas limit (4096 x 4096 pixels)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=1, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 4096, 4112, "yuv420p"
        container.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((4112, 4096, 3), np.uint8), format="rgb24")))
        container.mux(stream.encode(None))
    return path


def test_hostile_videos_get_one_line_naming_the_file(frames, models_dir, tmp_path, capsys):
    whole = write_clip(tmp_path / "whole.mp4", frames, FPS, audio=True).read_bytes()
    cases = {"truncated.mp4": (whole[: len(whole) // 3], "not a GIF or a readable video"),
             "empty.mp4": (b"", "file is empty"),
             "notes.mov": (b"these are my notes, not a video\n" * 40, "not a GIF or a readable video"),
             "huge.mp4": (None, "video frame 4096x4112 exceeds the limit")}
    for name, (data, problem) in cases.items():
        src = tmp_path / name
        if data is None:
            huge_video(src)
        else:
            src.write_bytes(data)
        out = tmp_path / f"{name}.out.mp4"
        assert main(["annotate", str(src), str(out), "--models-dir", str(models_dir)]) == 1
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and error.startswith(f"gifemo annotate: error: {src}: {problem}"), error
        assert not out.exists() and not list(tmp_path.glob(".*partial"))


def test_an_output_that_is_neither_gif_nor_mp4_is_refused(frames, tmp_path, capsys):
    src = write_clip(tmp_path / "clip.mp4", frames[:2], FPS, audio=False)
    assert main(["annotate", str(src), str(tmp_path / "out.avi")]) == 1
    error = capsys.readouterr().err
    assert error == f"gifemo annotate: error: {tmp_path / 'out.avi'}: the output must be a .gif or an .mp4 file\n"
