"""The ONNX MiniLM the recommender embeds messages with: its float copy gives the PyTorch MiniLM's embeddings
on real messages, its int8 copy (the one used) stays close to them and finds the same nearest phrase, and both
are built only from registry-verified files."""
import numpy as np
import pytest

from gifemo import models
from gifemo.config import Runtime
from gifemo.text.data import CORPORA, read_split
from gifemo.text.encoder import embed
from gifemo.text.onnx_encoder import MessageEncoder, load_message_encoder


@pytest.fixture(scope="module")
def encoder(runtime, models_dir):
    return load_message_encoder(runtime)


@pytest.fixture(scope="module")
def real_messages(shared_dir) -> list[str]:
    texts = [t for corpus in CORPORA for t in read_split(shared_dir / "data", corpus, "val").texts[:25]]
    return texts + ["ew, moldy sandwich 🤢", "meeting moved to 3pm", "my grandmother passed away last night", "ok"]


def test_the_float_copy_gives_pytorchs_embeddings(runtime, real_messages):
    ours = np.concatenate([MessageEncoder(runtime, cached_messages=0, int8=False).encode([t]) for t in real_messages])
    cosine = np.sum(ours * embed(real_messages, runtime), axis=1)
    assert ours.shape == (len(real_messages), 384) and np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-4)
    assert cosine.min() >= 0.999


def test_the_int8_copy_stays_within_tolerance_of_the_float_embeddings(encoder, runtime, real_messages):
    """Per-channel int8 weights: 0.99 on average, the least on one-word messages ("ok": 0.96); one scale per
    matrix gave 0.95 on average and 0.90 on short messages, which these bounds catch."""
    ours = np.concatenate([encoder.encode([t]) for t in real_messages])
    cosine = np.sum(ours * embed(real_messages, runtime), axis=1)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-4)
    assert cosine.min() >= 0.95 and cosine.mean() >= 0.985


def test_the_nearest_tag_term_is_the_one_pytorch_finds(encoder, runtime):
    terms = ["dancing", "crying", "laughing", "punching bag", "eating", "sleeping", "angry, anger", "scared, fear"]
    messages = ["let's dance all night", "I can't stop crying", "that joke killed me haha", "I'm starving, lunch?",
                "so tired, going to bed", "I'm furious with him", "there's someone outside, I'm terrified"]
    term_vectors = embed(terms, runtime)
    for message in messages:
        assert np.argmax(term_vectors @ encoder.encode([message])[0]) == np.argmax(term_vectors @ embed([message], runtime)[0])


def test_a_batch_pads_without_changing_the_longer_message(encoder, runtime):
    short, long = "ok", "this is a much longer message about the weather and my holiday plans"
    together = encoder.encode([short, long])
    assert float(together[1] @ MessageEncoder(runtime, cached_messages=0).encode([long])[0]) > 0.9999
    assert encoder.encode([]).shape == (0, 384)


def test_no_build_from_files_that_fail_the_registry_check(runtime, models_dir, tmp_path):
    """A MiniLM file that is not the registry's (here one byte short) is refused before anything is derived."""
    source, folder = models_dir / "all-MiniLM-L6-v2", tmp_path / "models" / "all-MiniLM-L6-v2"
    for file in (f for f in source.rglob("*") if f.is_file()):
        (folder / file.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
        (folder / file.relative_to(source)).symlink_to(file)  # the weights are not copied
    config = folder / "config.json"
    config.unlink()
    config.write_bytes((source / "config.json").read_bytes()[:-1])
    isolated = Runtime(models_dir=tmp_path / "models", cache_dir=tmp_path / "cache", offline=True)
    with pytest.raises(models.ModelVerificationError, match="config.json"):
        MessageEncoder(isolated)
    assert not list((tmp_path / "cache").rglob("*.onnx"))
