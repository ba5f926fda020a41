"""The expression CNN: test-time views, the ensemble, weight files, training members, and the committed weights."""
from pathlib import Path

import numpy as np
import pytest
import torch

from gifemo import models
from gifemo.config import Runtime
from gifemo.emotions import EMOTIONS
from gifemo.facs.expression import (CROP_SIZE, ExpressionConfig, ExpressionEnsemble, ExpressionNet, crop_views,
                                    predict_proba)
from gifemo.facs.weights import Member, load_expression, load_members, save_members

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FER = SHARED / "data/fer2013"
TINY = ExpressionConfig(widths=(4, 8), convs_per_stage=1)


def _net(seed: int) -> ExpressionNet:
    torch.manual_seed(seed)
    return ExpressionNet(TINY).eval()


def test_crop_views_are_the_training_crops_and_their_mirrors():
    images = torch.arange(2 * 48 * 48, dtype=torch.float32).view(2, 1, 48, 48)
    ten = crop_views(images, 10)
    assert ten.shape == (20, 1, CROP_SIZE, CROP_SIZE)
    assert torch.equal(ten[0], images[0, :, 2:46, 2:46])                # centre crop of image 0
    assert torch.equal(ten[3], images[1, :, :44, :44])                  # view-major: top-left crop of image 1
    assert torch.equal(ten[10], images[0, :, 2:46, 2:46].flip(-1))      # mirrored views follow
    two = crop_views(images, 2)
    assert torch.equal(two, torch.cat([ten[:2], ten[10:12]]))
    assert torch.equal(crop_views(images, 1), ten[:2])
    with pytest.raises(ValueError, match="one of"):
        crop_views(images, 3)


def test_ensemble_averages_member_probabilities():
    members = [_net(0), _net(1), _net(2)]
    x = torch.rand(5, 1, 48, 48)
    expected = torch.stack([predict_proba(m, x, views=10) for m in members]).mean(0)
    got = predict_proba(ExpressionEnsemble(members), x, views=10)
    assert torch.allclose(got, expected, atol=1e-6)
    assert torch.allclose(got.sum(1), torch.ones(5), atol=1e-6)
    # views are averaged per image, whatever the batch split
    assert torch.allclose(predict_proba(members[0], x, batch_size=2), predict_proba(members[0], x), atol=1e-6)
    with pytest.raises(ValueError):
        ExpressionEnsemble([])


def test_weight_file_round_trip(tmp_path):
    members = [Member(_net(0), {"seed": 0, "accuracy": 0.5}), Member(_net(1), {"seed": 1})]
    path = save_members(members, tmp_path / "w.pt", {"accuracy": 0.6})
    loaded = load_members(path)
    assert [m.seed for m in loaded] == [0, 1] and loaded[0].info["accuracy"] == 0.5
    x = torch.rand(3, 1, 48, 48)
    for original, copy in zip(members, loaded):
        # stored as float16: equal up to half precision
        assert torch.allclose(predict_proba(original.model, x), predict_proba(copy.model, x), atol=2e-3)
    assert len(load_expression(path).members) == 2


def test_missing_and_foreign_weight_files(tmp_path):
    from gifemo.models import MissingModelError

    with pytest.raises(MissingModelError, match="gifemo train face"):
        load_expression(tmp_path / "absent.pt")
    torch.save({"state_dict": {}}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="foreign.pt"):
        load_expression(tmp_path / "foreign.pt")


@pytest.fixture(scope="module")
def tiny_fer(tmp_path_factory):
    """A 7-class FER2013 excerpt in the Kaggle layout: 12 train and 6 val images per class."""
    if not FER.exists():
        pytest.skip("../shared is absent")
    root = tmp_path_factory.mktemp("fer")
    for split, count in (("train", 12), ("val", 6)):
        for class_dir in sorted((FER / split).iterdir()):
            target = root / split / class_dir.name
            target.mkdir(parents=True)
            for path in sorted(class_dir.iterdir())[:count]:
                (target / path.name).write_bytes(path.read_bytes())
    return root


def test_training_adds_members_to_an_ensemble(tiny_fer, tmp_path):
    from gifemo.facs.train import FaceTrainOptions, train

    def run(seed: int, ensemble: bool) -> dict:
        return train(FaceTrainOptions(data=tiny_fer, out=tmp_path / "out", epochs=1, batch_size=16, widths=(4, 8),
                                  threads=1, seed=seed, ensemble=ensemble, work_dir=tmp_path / f"work-{seed}"))

    first = run(0, ensemble=False)
    assert [m["seed"] for m in first["members"]] == [0]
    assert set(first["recall"]) == set(EMOTIONS) and 0 <= first["accuracy"] <= 1
    assert set(first["accuracy_by_views"]) == {"1", "2", "10"}
    assert len(np.asarray(first["confusion"])) == len(EMOTIONS) and np.sum(first["confusion"]) == 7 * 6
    second = run(1, ensemble=True)
    assert [m["seed"] for m in second["members"]] == [0, 1]
    assert len(first["members"][0]["history"]) == 1
    # a rerun of seed 1 replaces that member instead of adding a third (and resumes from its finished checkpoint)
    third = run(1, ensemble=True)
    assert [m["seed"] for m in third["members"]] == [0, 1]
    assert [m.seed for m in load_members(tmp_path / "out/face_expression.pt")] == [0, 1]
    for name in ("face_expression_metrics.json", "face_expression_training.png", "face_expression_confusion.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    # without --ensemble the file is replaced by the one new member
    assert [m["seed"] for m in run(1, ensemble=False)["members"]] == [1]


def test_committed_weights_on_fer2013_val():
    """The shipped ensemble on a class-balanced excerpt of FER2013 val (up to 60 faces per class)."""
    if not FER.exists():
        pytest.skip("../shared is absent")
    from gifemo.facs.fer import load_split

    images, labels = load_split(FER / "val", progress=False)
    keep = np.concatenate([np.flatnonzero(labels == c)[:60] for c in range(len(EMOTIONS))])
    probs = predict_proba(load_expression(models.resolve("face-expression", Runtime())), torch.from_numpy(images[keep]).unsqueeze(1).float() / 255).numpy()
    pred, truth = probs.argmax(1), labels[keep]
    recall = {name: float((pred[truth == c] == c).mean()) for c, name in enumerate(EMOTIONS)}
    assert (pred == truth).mean() >= 0.60, recall
    assert min(recall.values()) >= 0.35, recall  # every class, disgust and fear included, well above chance


def test_warm_restart_continues_a_member(tiny_fer, tmp_path, monkeypatch):
    from gifemo.facs.train import FaceTrainOptions, train

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the default checkpoint folders go here
    out = tmp_path / "out"
    common = dict(data=tiny_fer, out=out, batch_size=16, widths=(4, 8), threads=1)
    train(FaceTrainOptions(**common, epochs=2, seed=3, work_dir=tmp_path / "first"))
    started = load_members(out / "face_expression.pt")[0]
    metrics = train(FaceTrainOptions(**common, epochs=1, seed=3, init=out / "face_expression.pt", ensemble=True))
    (member,) = metrics["members"]
    assert [row["epoch"] for row in member["history"]] == [1, 2, 3]  # the history goes on where it stopped
    assert member["warm_start"]["epoch"] == started.info["epoch"]
    assert member["train_minutes"] > started.info["train_minutes"]
    # its checkpoints have their own folder: a rerun of seed 3 from scratch could not resume them
    assert (tmp_path / "cache/gifemo/train_face/seed-3-from-epoch-2/checkpoint.pt").exists()
    with pytest.raises(ValueError, match="no member with seed 4"):
        train(FaceTrainOptions(**{**common, "out": tmp_path / "other"}, epochs=1, seed=4,
                           init=_two_member_file(tmp_path)))


def _two_member_file(tmp_path):
    return save_members([Member(_net(0), {"seed": 0}), Member(_net(1), {"seed": 1})], tmp_path / "two.pt")
