"""The committed text models on real validation rows, hostile inputs, the CLI and a tiny training run."""
import json
import math

import numpy as np
import pytest

from gifemo import models
from gifemo.cli import main
from gifemo.config import DEFAULT_TEXT_MODEL, TEXT_MODELS
from gifemo.emotions import EMOTIONS
from gifemo.text import data, load_model, metrics
from gifemo.text.model import BLANK_SCORES, WEIGHTS


@pytest.fixture(scope="module")
def bilstm(runtime):
    return load_model(runtime, "bilstm")


@pytest.fixture(scope="module")
def minilm(runtime):
    return load_model(runtime, "minilm")


@pytest.fixture(scope="module")
def ensemble(runtime):
    return load_model(runtime, "ensemble")


@pytest.fixture(scope="module")
def text_data(shared_dir):
    return shared_dir / "data"


def _check_distribution(scores):
    assert set(scores) == set(EMOTIONS)
    assert math.isclose(sum(scores.values()), 1.0, abs_tol=1e-6)
    assert all(0.0 <= v <= 1.0 for v in scores.values())


OBVIOUS = [
    ("i feel so happy and grateful for my wonderful friends today", "happiness"),
    ("i am terrified and scared of what will happen tomorrow", "fear"),
    ("this makes me so furious, i am really angry at them", "anger"),
    ("i miss her so much, i feel lonely and heartbroken", "sadness"),
    ("wow i was totally amazed, i did not expect that at all", "surprise"),
]


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_obvious_messages(name, request):
    model = request.getfixturevalue(name)
    results = model.predict([text for text, _ in OBVIOUS])
    for (text, expected), scores in zip(OBVIOUS, results):
        _check_distribution(scores)
        assert max(scores, key=scores.get) == expected, (name, text, scores)


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_hostile_inputs_do_not_crash(name, request):
    model = request.getfixturevalue(name)
    texts = ["", "   \n", "\u200d", "😂😂😂", "?!?!", "a" * 5000, "love " * 20_000,
             "Je suis très heureux aujourd'hui", "Мне очень грустно", "我很生气", "\x00\x01 ok"]
    results = model.predict(texts)
    assert len(results) == len(texts)
    for scores in results:
        _check_distribution(scores)
    assert results[0] == BLANK_SCORES and results[1] == BLANK_SCORES and results[2] == BLANK_SCORES
    assert model.predict_one("") == BLANK_SCORES
    assert max(results[3], key=results[3].get) == "happiness"  # tears of joy
    assert model.predict([]) == []


def _sample(folder, corpus: str, n: int):
    full = data.read_split(folder, corpus, "val")
    rows = np.random.default_rng(1).permutation(len(full))[:n]
    return data.TextSet(full.name, [full.texts[i] for i in rows], full.targets[rows], full.labels[rows])


def test_bilstm_on_real_validation_rows(bilstm, text_data):
    tweets, reddit = _sample(text_data, data.TWEETS, 400), _sample(text_data, data.GOEMOTIONS, 800)
    tweet_probs = np.array([[s[e] for e in EMOTIONS] for s in bilstm.predict(tweets.texts)])
    reddit_probs = np.array([[s[e] for e in EMOTIONS] for s in bilstm.predict(reddit.texts)])
    assert metrics.corpus_figures(tweets, tweet_probs)["accuracy"] > 0.85
    figures = metrics.corpus_figures(reddit, reddit_probs)
    assert figures["macro_f1"] > 0.45
    # Reddit comments without emotion exist; the model must be able to say so.
    assert (reddit_probs.argmax(1) == EMOTIONS.index("neutral")).mean() > 0.15


def test_minilm_head_in_numpy_gives_pytorchs_probabilities(minilm, runtime, text_data):
    """The head runs in numpy at inference; the trained PyTorch module must give the same probabilities on
    real messages' embeddings."""
    import torch

    from gifemo.text.encoder import EmbeddingHead, HeadConfig
    from gifemo.text.onnx_encoder import load_message_encoder

    checkpoint = models.load_torch_checkpoint(models.resolve(WEIGHTS["minilm"], runtime))
    head = EmbeddingHead(HeadConfig(**checkpoint["config"]))
    head.load_state_dict({k: v.float() for k, v in checkpoint["state_dict"].items()})
    texts = _sample(text_data, data.GOEMOTIONS, 100).texts
    with torch.inference_mode():
        theirs = torch.softmax(head.eval()(torch.from_numpy(load_message_encoder(runtime).encode(texts))), -1)
    assert np.abs(minilm.probabilities(texts) - theirs.numpy()).max() < 1e-5


def test_ensemble_reads_disgust_and_plain_statements(ensemble, bilstm):
    """Messages the BiLSTM alone misread: a disgust interjection it never learnt, a plain statement it took
    for happiness."""
    sandwich = ensemble.predict_one("ew, moldy sandwich")
    assert max(sandwich, key=sandwich.get) == "disgust"
    meeting, meeting_bilstm = ensemble.predict_one("meeting moved to 3pm"), bilstm.predict_one("meeting moved to 3pm")
    assert max(meeting, key=meeting.get) == "neutral" and meeting["happiness"] < meeting_bilstm["happiness"]
    grief = ensemble.predict_one("my grandmother passed away last night")
    assert max(grief, key=grief.get) == "sadness" and grief["sadness"] > 0.7


def test_ensemble_no_worse_than_bilstm_on_real_validation_rows(ensemble, bilstm, text_data):
    for corpus, n in ((data.TWEETS, 300), (data.GOEMOTIONS, 600)):
        rows = _sample(text_data, corpus, n)
        ours, theirs = (metrics.headline(metrics.corpus_figures(rows, model.probabilities(rows.texts)))
                        for model in (ensemble, bilstm))
        assert ours >= theirs - 0.01, (corpus, ours, theirs)


def test_ensemble_takes_no_weights_file(runtime, tmp_path):
    with pytest.raises(ValueError, match="ensemble"):
        load_model(runtime, "ensemble", weights=tmp_path / "x.pt")


def test_default_model_and_unknown_name(runtime):
    assert load_model(runtime).name == DEFAULT_TEXT_MODEL
    with pytest.raises(ValueError):
        load_model(runtime, "bert")


def test_committed_weights_are_small(runtime):
    assert models.resolve(WEIGHTS["bilstm"], runtime).stat().st_size <= 20 * 1024 * 1024
    assert models.resolve(WEIGHTS["minilm"], runtime).stat().st_size <= 5 * 1024 * 1024


def test_cli_jsonl(tmp_path, capsys):
    lines = ["what a lovely surprise party, i am so happy", "", "I hate waiting in this stupid queue"]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["emotion", "--input", str(source), "--jsonl", str(out), "--text-model", "bilstm"]) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in records] == lines
    for record in records:
        _check_distribution(record["scores"])
        assert record["emotion"] == max(record["scores"], key=record["scores"].get)
    assert records[1]["emotion"] == "neutral"
    assert main(["emotion", "I am so scared of the exam", "--text-model", "bilstm"]) == 0
    assert "fear" in capsys.readouterr().out.splitlines()[0]
    assert main(["emotion"]) == 2
    latin = tmp_path / "latin-1.txt"
    latin.write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    capsys.readouterr()
    assert main(["emotion", "--input", str(latin), "--text-model", "bilstm"]) == 1
    assert capsys.readouterr().err == f"gifemo emotion: error: {latin}: not UTF-8 text (invalid continuation byte)\n"


def test_tiny_training_run_writes_loadable_weights(tmp_path, text_data, runtime):
    from gifemo.text.train import TextTrainOptions, train

    options = TextTrainOptions(data=text_data, out=tmp_path, epochs=1, train_limit=300, max_vocab=2000,
                               bilstm={"embed_dim": 16, "hidden": 16})
    path = train(options, runtime)
    report = json.loads(path.with_name("text_bilstm_validation.json").read_text())
    assert set(report["validation"]) == {data.TWEETS, data.GOEMOTIONS}
    for corpus in data.CORPORA:
        assert path.with_name(f"text_bilstm_confusion_{corpus}.png").stat().st_size > 1000
    model = load_model(runtime, "bilstm", weights=path)
    _check_distribution(model.predict_one("i feel fine"))


def test_partial_label_loss_ignores_emotions_a_corpus_cannot_name():
    """A tweet row (no neutral or disgust label in CARER) says nothing about neutral or disgust; with
    outside weight 1 the loss is the ordinary 7-way cross-entropy, for every row."""
    import torch

    from gifemo.text.train import partial_label_cross_entropy

    torch.manual_seed(0)
    logits = torch.randn(4, len(EMOTIONS), requires_grad=True)
    targets = torch.tensor(np.eye(len(EMOTIONS), dtype=np.float32)[[0, 2, 3, 6]])  # the last row: a neutral Reddit row
    space = torch.tensor(np.stack([data.label_space(data.TWEETS)] * 3 + [data.label_space(data.GOEMOTIONS)]))
    weights = torch.linspace(0.5, 2.0, len(EMOTIONS))
    ordinary = torch.nn.functional.cross_entropy(logits, targets.argmax(1), weight=weights, reduction="sum") / 4
    assert torch.allclose(partial_label_cross_entropy(logits, targets, weights, space, 1.0), ordinary)
    partial = partial_label_cross_entropy(logits, targets, weights, space, 0.0)
    partial.backward()
    outside = [EMOTIONS.index("neutral"), EMOTIONS.index("disgust")]
    assert torch.all(logits.grad[:3, outside] == 0)       # tweet rows leave neutral and disgust alone
    assert torch.all(logits.grad[3, outside] != 0)        # the Reddit row still teaches them
    assert partial.item() < ordinary.item()
