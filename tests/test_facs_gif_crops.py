"""Face crops of a real labelled GIF, taken by the face stream's own pipeline, and the stream's Evidence rebuilt
from them."""
import numpy as np

from gifemo.evaluate import LabelledGif
from gifemo.media import read_clip
from test_facs_stream import FACE_GIF, stream  # noqa: F401  (the face stream fixture, skipped without ../shared)


def test_crops_of_a_real_gif_rebuild_the_streams_evidence(stream, tmp_path):
    from gifemo.facs.gif_crops import GifFaces, extract

    broken = tmp_path / "broken.gif"
    broken.write_bytes(b"GIF89a not really")
    items = [LabelledGif(FACE_GIF, "happiness", "live-action-face", "putin"), LabelledGif(broken, "anger", "", "x")]
    faces = extract(items, stream, num_frames=6, progress=False)
    assert faces.gifs[1]["error"] and not np.any(faces.gif == 1)   # kept, with its error, and no faces
    info = faces.gifs[0]
    assert info["label"] == "happiness" and info["group"] == "putin" and len(info["times"]) == 6
    assert 0 <= info["drawn_probability"] < 0.5                     # the drawn stream's check: a photo
    assert len(faces) >= 4 and faces.crops.shape == (len(faces), 48, 48) and faces.crops.dtype == np.uint8
    assert faces.frame.min() >= 0 and faces.frame.max() < 6 and np.all(faces.box[:, 2:] > 10)
    assert np.all(faces.transform[:, 1] > 0)                        # FER px per frame px
    saved = GifFaces.load(faces.save(tmp_path / "faces.npz"))
    assert np.array_equal(saved.crops, faces.crops) and saved.gifs == faces.gifs
    # the Evidence rebuilt from the crops with the stream's own CNN is what the stream says of the clip
    probs = stream.cnn_probs(list(saved.crops))
    rebuilt = saved.evidence(stream, probs)[0]
    direct = stream.analyze(read_clip(FACE_GIF, num_frames=6))
    assert rebuilt.coverage == direct.coverage and rebuilt.reason == direct.reason
    assert all(abs(rebuilt.scores[e] - direct.scores[e]) < 1e-6 for e in direct.scores)
    assert saved.evidence(stream, probs)[1].abstained
    assert np.array_equal(saved.labels(["anger", "happiness"]), np.ones(len(faces), dtype=np.int64))


def test_crops_take_a_repeated_sample_as_tagging_does(stream):
    from gifemo.facs.gif_crops import extract

    clip = read_clip(FACE_GIF, num_frames=16)
    assert any(clip.repeats())   # a sample that shows the same frame as the one before it
    faces = extract([LabelledGif(FACE_GIF, "happiness", "live-action-face", "putin")], stream, 16, progress=False)
    rebuilt = faces.evidence(stream, stream.cnn_probs(list(faces.crops)))[0]
    direct = stream.analyze(clip)
    assert all(abs(rebuilt.scores[e] - direct.scores[e]) < 1e-6 for e in direct.scores)

