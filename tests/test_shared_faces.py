"""Face detections shared per clip: the face and drawn streams find a clip's faces once, whichever runs first,
and a sample that repeats the frame before it is not detected or read again."""
import numpy as np
import pytest

from gifemo.config import DrawnOptions, FaceOptions
from gifemo.drawn.stream import DrawnStream
from gifemo.facs.landmarks import FaceLandmarker
from gifemo.facs.stream import FaceStream
from gifemo.media import read_clip

# A drawn GIF in which the landmarker finds the faces, with 10 frames for 16 samples (so 6 repeats).
GIF = "Anger/fdb22acb527f.gif"


@pytest.fixture(scope="module")
def streams(runtime, gifs_dev):
    with FaceStream(FaceOptions(), runtime) as face, DrawnStream(DrawnOptions(), runtime) as drawn:
        yield face, drawn


@pytest.fixture
def detections(monkeypatch):
    """The frames every FaceLandmarker is asked to detect in, in call order."""
    calls = []
    original = FaceLandmarker.detect

    def counting(self, rgb, timestamp_ms=None):
        calls.append(timestamp_ms)
        return original(self, rgb, timestamp_ms)

    monkeypatch.setattr(FaceLandmarker, "detect", counting)
    return calls


def test_streams_detect_each_distinct_frame_once_in_either_order(gifs_dev, streams, detections):
    face, drawn = streams
    clip = read_clip(gifs_dev / GIF, num_frames=16)
    face_first = [face.analyze(clip).to_dict(), drawn.analyze(clip).to_dict()]
    assert len(detections) == len(set(clip.indices)) < len(clip.frames)
    again = read_clip(gifs_dev / GIF, num_frames=16)
    drawn_first = [drawn.analyze(again).to_dict(), face.analyze(again).to_dict()]
    assert len(detections) == 2 * len(set(clip.indices))
    assert drawn_first == face_first[::-1]
    # the drawn stream did read the shared faces
    assert {read["source"] for read in face_first[1]["details"]["faces"]} == {"landmarks"}


def test_repeated_samples_take_the_observations_of_their_frame(gifs_dev, streams):
    face, _ = streams
    clip = read_clip(gifs_dev / GIF, num_frames=16)
    repeats = clip.repeats()
    assert repeats == [i > 0 and clip.indices[i] == clip.indices[i - 1] for i in range(16)] and any(repeats)
    observed = face.observe_clip(clip)
    for i, repeat in enumerate(repeats):
        assert all(o.frame == i and o.time == clip.times[i] for o in observed[i])
        if repeat:
            assert [o.scores for o in observed[i]] == [o.scores for o in observed[i - 1]]
    # Against every sample detected and read again: the same faces and scores (to float rounding).
    every = face.analyze_frames(clip.frames, clip.times)
    assert [len(faces) for faces in every] == [len(faces) for faces in observed]
    for mine, theirs in zip(observed, every):
        for a, b in zip(mine, theirs):
            assert np.abs(np.array(list(a.scores.values())) - np.array(list(b.scores.values()))).max() < 1e-6


def test_near_duplicate_frames_count_as_repeats_only_when_asked(gifs_dev, streams):
    face, _ = streams
    clip = read_clip(gifs_dev / GIF, num_frames=16)
    same_frame = clip.repeats()
    clip = read_clip(gifs_dev / GIF, num_frames=16)
    clip.near_duplicate = 256.0  # every frame is within 256 of every other: only the first is analysed
    assert clip.repeats() == [False] + [True] * 15 and sum(same_frame) < 15
    evidence = face.analyze(clip)
    first = evidence.details["timeline"][0]["scores"]
    assert all(point["scores"] == first for point in evidence.details["timeline"])
