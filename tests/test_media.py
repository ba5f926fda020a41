import csv
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest

from gifemo import media
from gifemo.config import DecodeLimits
from gifemo.media import MediaError, TruncatedMediaWarning
from gifmaker import PALETTE, Frame, make_gif, solid

RED, BLUE, GREEN, WHITE = (255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 255, 255)


def write(tmp_path: Path, data: bytes, name: str = "x.gif") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def rgb(pixel) -> tuple:
    return tuple(int(v) for v in pixel)


# ------------------------------------------------------------------ real GIFs
def test_dev_gifs_match_manifest(gifs_dev):
    rows = list(csv.DictReader(open(gifs_dev / "manifest.csv")))
    assert len(rows) == 43
    for row in rows:
        info = media.probe(gifs_dev / row["file"])
        assert (info.frame_count, info.width, info.height) == (int(row["frames"]), int(row["width"]), int(row["height"])), row["file"]
        assert not info.truncated
        clip = media.read_clip(gifs_dev / row["file"], num_frames=6)
        assert len(clip.frames) == 6
        assert clip.frames[0].shape == (info.height, info.width, 3) and clip.frames[0].dtype == np.uint8
        assert clip.indices == sorted(clip.indices)


def test_sample_gif_fps_sampling_loops_short_clip(shared_dir):
    path = shared_dir / "data" / "samples" / "cricket_shot.gif"
    info = media.probe(path)
    assert info.frame_count == 79 and info.duration == pytest.approx(3.16)
    clip = media.read_clip(path, fps=25, min_frames=100, max_side=112)
    assert len(clip.frames) == 100
    assert clip.times[1] - clip.times[0] == pytest.approx(0.04)
    # 100 frames at 25 fps = 4 s > 3.16 s: the clip wraps around to its start
    assert clip.indices == list(range(79)) + list(range(21))
    assert max(clip.frames[0].shape[:2]) == 112


# ------------------------------------------------------------------ timing and sampling
def test_sampling_is_by_time_not_index(tmp_path):
    # frame 0 is shown 0.9 s, frames 1-9 for 0.1 s each: half of all instants fall in frame 0
    frames = [Frame(solid(2, 2, 1), delay_cs=90)] + [Frame(solid(2, 2, 2 + i % 2), delay_cs=10) for i in range(9)]
    path = write(tmp_path, make_gif(frames, 2, 2))
    clip = media.read_clip(path, num_frames=10)
    assert clip.info.duration == pytest.approx(1.8)
    assert clip.indices == [0, 0, 0, 0, 0, 1, 3, 5, 7, 9]
    assert rgb(clip.frames[0][0, 0]) == RED


def test_zero_duration_frames_get_browser_delay(tmp_path):
    frames = [Frame(solid(2, 2, 1), delay_cs=0), Frame(solid(2, 2, 2), delay_cs=1), Frame(solid(2, 2, 3), delay_cs=2)]
    info = media.probe(write(tmp_path, make_gif(frames, 2, 2)))
    assert info.durations == pytest.approx([0.1, 0.1, 0.02])


def test_single_frame_gif(tmp_path):
    path = write(tmp_path, make_gif([Frame(solid(3, 5, 2), delay_cs=0)], 5, 3, loop=None))
    info = media.probe(path)
    assert (info.frame_count, info.width, info.height, info.loop) == (1, 5, 3, None)
    clip = media.read_clip(path, num_frames=4)
    assert len(clip.frames) == 4 and all(rgb(f[1, 1]) == BLUE for f in clip.frames)


def test_sample_times_validation():
    assert media.sample_times(1.0, num_frames=4) == pytest.approx([0.125, 0.375, 0.625, 0.875])
    assert len(media.sample_times(1.0, fps=25, min_frames=64)) == 64
    with pytest.raises(ValueError):
        media.sample_times(1.0)
    with pytest.raises(ValueError):
        media.sample_times(0.0, num_frames=3)


# ------------------------------------------------------------------ compositing as a browser shows it
@pytest.mark.parametrize("disposal, expected_corner", [(0, BLUE), (1, BLUE), (3, RED)])
def test_disposal_modes(tmp_path, disposal, expected_corner):
    frames = [Frame(solid(4, 4, 1)), Frame(solid(2, 2, 2), disposal=disposal), Frame(solid(1, 1, 3), x=3, y=3)]
    clip = media.read_clip(write(tmp_path, make_gif(frames, 4, 4)))
    assert rgb(clip.frames[1][0, 0]) == BLUE
    assert rgb(clip.frames[2][0, 0]) == expected_corner   # what frame 1 left behind
    assert rgb(clip.frames[2][3, 3]) == GREEN and rgb(clip.frames[2][3, 0]) == RED


def test_disposal_restore_to_background_clears_to_transparent(tmp_path):
    frames = [Frame(solid(4, 4, 1)), Frame(solid(2, 2, 2), disposal=2, transparent=0), Frame(solid(1, 1, 3), x=3, y=3)]
    clip = media.read_clip(write(tmp_path, make_gif(frames, 4, 4, background=4)), background=(10, 20, 30))
    assert rgb(clip.frames[2][0, 0]) == (10, 20, 30)   # the cleared area shows the page, not palette black
    assert rgb(clip.frames[2][3, 0]) == RED


def test_transparency_shows_previous_frame_and_background(tmp_path):
    pattern = np.array([[0, 2], [2, 0]], dtype=np.uint8)
    frames = [Frame(pattern, transparent=0), Frame(solid(2, 2, 1)), Frame(pattern, transparent=0)]
    clip = media.read_clip(write(tmp_path, make_gif(frames, 2, 2)), background=(1, 2, 3))
    assert rgb(clip.frames[0][0, 0]) == (1, 2, 3) and rgb(clip.frames[0][0, 1]) == BLUE
    assert rgb(clip.frames[2][0, 0]) == RED and rgb(clip.frames[2][1, 0]) == BLUE


def test_interlaced_gif_decodes_rows_in_place(tmp_path):
    indices = (np.arange(20 * 20).reshape(20, 20) // 7 % 5).astype(np.uint8)  # >= 16 px: Pillow interlaces
    clip = media.read_clip(write(tmp_path, make_gif([Frame(indices, interlace=True)], 20, 20)))
    assert np.array_equal(clip.frames[0], np.array(PALETTE, dtype=np.uint8)[indices])


# ------------------------------------------------------------------ hostile and broken files
def expect_error(path, match, **kwargs):
    with pytest.raises(MediaError, match=match) as info:
        media.read_clip(path, **kwargs)
    assert str(path) in str(info.value)
    return info.value


def test_not_a_gif_or_video(tmp_path):
    expect_error(write(tmp_path, b"hello, this is text\n" * 10, "fake.gif"), "not a GIF or a readable video")


def test_empty_missing_and_directory(tmp_path):
    expect_error(write(tmp_path, b"", "empty.gif"), "empty")
    expect_error(tmp_path / "missing.gif", "does not exist")
    expect_error(tmp_path, "not a regular file")


def test_zero_frames(tmp_path):
    data = make_gif([Frame(solid(2, 2, 1))], 2, 2)
    header_only = data[: data.index(b"\x21\xf9")] + b"\x3b"
    expect_error(write(tmp_path, header_only), "no complete frame")


def test_truncated_gif_keeps_good_frames_with_warning(tmp_path):
    frames = [Frame(solid(8, 8, 1 + i % 3)) for i in range(6)]
    data = make_gif(frames, 8, 8)
    cut = data[: data.rindex(b"\x2c") + 14]   # inside the last frame's image data
    path = write(tmp_path, cut)
    with pytest.warns(TruncatedMediaWarning, match="truncated"):
        clip = media.read_clip(path)
    assert clip.info.truncated and clip.info.frame_count == 5
    assert [rgb(f[0, 0]) for f in clip.frames] == [RED, BLUE, GREEN, RED, BLUE]
    expect_error(write(tmp_path, data[:40], "tiny.gif"), "no complete frame")


def test_canvas_bomb_is_rejected_before_decoding(tmp_path):
    data = bytearray(make_gif([Frame(solid(2, 2, 1))], 2, 2))
    data[6:10] = (65535).to_bytes(2, "little") * 2   # claims a 65535 x 65535 canvas
    path = write(tmp_path, bytes(data))
    assert path.stat().st_size < 1024
    tracemalloc.start()
    expect_error(path, "canvas 65535x65535 exceeds")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5 * 1024 * 1024


def test_frame_count_bomb_is_rejected_while_counting(tmp_path):
    frame = make_gif([Frame(solid(1, 1, 1))], 1, 1, loop=None)
    one = frame[frame.index(b"\x21\xf9"):-1]
    data = frame[: frame.index(b"\x21\xf9")] + one * 100_000 + b"\x3b"
    path = write(tmp_path, data)
    tracemalloc.start()
    expect_error(path, "more than 20000 frames")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 3 * len(data) + 16 * 1024 * 1024   # the file plus one small record per frame counted


def test_limits_are_configurable(tmp_path):
    frames = [Frame(solid(10, 10, 1 + i % 3)) for i in range(10)]
    path = write(tmp_path, make_gif(frames, 10, 10))
    expect_error(path, "over the limit of 100 bytes", limits=DecodeLimits(max_bytes=100))
    expect_error(path, "exceeds the limit of 50 pixels", limits=DecodeLimits(max_canvas_pixels=50))
    expect_error(path, "more than 5 frames", limits=DecodeLimits(max_frames=5))
    expect_error(path, "over the limit of 500", limits=DecodeLimits(max_total_pixels=500))
    assert len(media.read_clip(path, num_frames=2, limits=DecodeLimits(max_total_pixels=800)).frames) == 2


# ------------------------------------------------------------------ video
def make_video(path: Path, colours: list[tuple[int, int, int]], fps: int = 10) -> Path:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for colour in colours:
            image = np.zeros((48, 64, 3), dtype=np.uint8)
            image[:] = colour
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_video_sampled_by_time(tmp_path):
    colours = [RED] * 10 + [BLUE] * 10 + [GREEN] * 10   # 3 s at 10 fps
    path = make_video(tmp_path / "clip.mp4", colours)
    info = media.probe(path)
    assert info.kind == "video" and (info.width, info.height) == (64, 48)
    assert info.duration == pytest.approx(3.0, abs=0.15)
    clip = media.read_clip(path, num_frames=3)
    got = [np.argmax(f[24, 32]) for f in clip.frames]
    assert got == [0, 2, 1]   # red, blue, green channels dominate in turn


def test_truncated_video_is_reported_or_partial(tmp_path):
    path = make_video(tmp_path / "clip.mp4", [RED] * 20)
    data = path.read_bytes()
    cut = write(tmp_path, data[: len(data) // 3], "cut.mp4")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncatedMediaWarning)
        try:
            clip = media.read_clip(cut, num_frames=2)
        except MediaError as exc:
            assert str(cut) in str(exc)
        else:
            assert len(clip.frames) == 2


def test_walk_media_names_and_content(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("a/x.gif", "a/y.MP4", "a/notes.txt", "z.webm"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "a" / "no-extension").write_bytes(make_gif([Frame(solid(2, 2, 1))], 2, 2))
    walk = media.walk_media([tmp_path])
    assert [e.path.relative_to(tmp_path).as_posix() for e in walk.entries] == \
        ["a/no-extension", "a/x.gif", "a/y.MP4", "z.webm"]
    assert [p.name for p in walk.ignored] == ["notes.txt"]


def test_instants_on_frame_starts_pick_that_frame(tmp_path):
    # 25 fps GIF sampled at 25 fps: instant k/25 must be frame k (float error must not pick k-1)
    frames = [Frame(solid(2, 2, 1 + i % 3), delay_cs=4) for i in range(79)]
    clip = media.read_clip(write(tmp_path, make_gif(frames, 2, 2)), fps=25)
    assert clip.indices == list(range(79))
