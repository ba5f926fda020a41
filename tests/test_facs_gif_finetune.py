"""Out-of-fold fine-tuning on a tiny constructed case: folds follow the source collections as the decision's
cross-validation does, each fold model scores only GIFs it never trained on, and the decision takes those folds."""
import json

import numpy as np
import pytest
import torch

from gifemo.decision import fit_decision, group_folds
from gifemo.emotions import EMOTIONS
from gifemo.evidence import Evidence
from gifemo.facs.expression import ExpressionConfig, ExpressionNet, predict_proba
from gifemo.facs.gif_crops import GifFaces
from gifemo.facs.gif_finetune import OOF_PROBS, FaceGifOptions, run
from gifemo.facs.weights import Member, load_expression, load_members, save_members

GROUPS = ["a", "a", "b", "c", "c", "d", "e", "e", "f"]
CONTENT = ["live-action-face"] * 7 + ["cartoon", "cartoon"]


def _faces(rng) -> GifFaces:
    gifs = [{"sha256": f"{g:064x}", "path": f"{g}.gif", "label": EMOTIONS[g % 7], "content": CONTENT[g],
             "group": GROUPS[g], "times": [0.1 * t for t in range(4)], "error": ""} for g in range(len(GROUPS))]
    gif = np.repeat(np.arange(len(GROUPS)), [1, 3, 2, 2, 1, 3, 2, 2, 1])
    n = len(gif)
    frame = np.array([i % 4 for i in range(n)])
    return GifFaces(gifs, rng.integers(0, 256, (n, 48, 48), dtype=np.uint8), gif, frame,
                    np.tile([10, 10, 40, 40], (n, 1)), np.zeros((n, 2), np.float32), ["AU12", "AU4"],
                    np.zeros((n, 4), np.float32))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("facegif")
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    init = save_members([Member(ExpressionNet(ExpressionConfig(widths=(4, 8))), {"seed": 0})], tmp / "init.pt")
    faces = _faces(rng)
    fer_x, fer_y = rng.integers(0, 256, (48, 48, 48), dtype=np.uint8), np.arange(48) % 7
    options = FaceGifOptions(epochs=1, batch_size=16, folds=3, bank_copies=1, train_contents=("live-action-face",))
    figures = run(faces, fer_x, fer_y, fer_x[:14], fer_y[:14], init, tmp / "work", options, progress=lambda m: None)
    return faces, tmp / "work", figures


def test_folds_follow_the_collections_like_the_decision(trained):
    faces, work, figures = trained
    folds = json.loads((work / "folds.json").read_text())["folds"]
    assert folds == group_folds(GROUPS, 3).tolist()
    for g in range(len(GROUPS)):  # a collection is never split between folds
        assert all(folds[h] == folds[g] for h in range(len(GROUPS)) if GROUPS[h] == GROUPS[g])
    assert set(figures) == {"fold-0", "fold-1", "fold-2", "all"}


def test_each_fold_model_trains_without_its_fold_and_scores_only_it(trained):
    faces, work, figures = trained
    folds = np.array(json.loads((work / "folds.json").read_text())["folds"])
    face_fold = folds[faces.gif]
    live = np.array([CONTENT[g] == "live-action-face" for g in faces.gif])
    oof = np.load(work / OOF_PROBS)
    assert oof.shape == (len(faces), 7) and np.allclose(oof.sum(1), 1, atol=1e-5)
    crops = torch.from_numpy(faces.crops).unsqueeze(1).float() / 255
    for k in range(3):
        member = load_members(work / f"fold-{k}" / "face_expression.pt")[0]
        # trained on the live-action faces of the other folds only (cartoons are the drawn stream's)
        assert member.info["gif_finetune"]["gif_faces"] == int((live & (face_fold != k)).sum())
        held = face_fold == k
        own = predict_proba(load_expression(work / f"fold-{k}" / "face_expression.pt"), crops[held]).numpy()
        assert np.allclose(oof[held], own, atol=1e-5)
    shipped = load_members(work / "members.pt")[0]
    assert shipped.info["gif_finetune"]["gif_faces"] == int(live.sum())


def test_a_fine_tuned_ensemble_is_not_fine_tuned_again(trained, tmp_path):
    faces, work, _ = trained
    with pytest.raises(ValueError, match="already fine-tuned"):
        run(faces, faces.crops, np.zeros(len(faces), int), faces.crops, np.zeros(len(faces), int), work / "members.pt",
            tmp_path, FaceGifOptions(epochs=1, folds=3), progress=lambda m: None)


def _evidence(stream, emotion, strength=0.6):
    scores = {e: (strength if e == emotion else (1 - strength) / 6) for e in EMOTIONS}
    return Evidence(stream, scores, 1.0, strength, f"{emotion} by {stream}")


def test_decision_cross_validates_over_the_given_folds():
    rng = np.random.default_rng(1)
    labels = [EMOTIONS[i % 3] for i in range(30)]
    groups = [f"g{i % 6}" for i in range(30)]
    rows = [[_evidence("face", label if rng.random() < 0.7 else EMOTIONS[rng.integers(7)])] for label in labels]
    _, default = fit_decision(rows, labels, groups, folds=3)
    _, same = fit_decision(rows, labels, groups, fold_of=group_folds(groups, 3))
    assert [d.scores for d in default] == [d.scores for d in same]
    # a fold holding every GIF of one emotion leaves a model that never saw it: those GIFs are all missed
    one_class_out = [0 if label == EMOTIONS[0] else 1 for label in labels]
    _, held = fit_decision(rows, labels, groups, fold_of=one_class_out)
    assert [d.scores for d in held] != [d.scores for d in default]
    assert all(d.emotion != EMOTIONS[0] for d, label in zip(held, labels) if label == EMOTIONS[0])


def test_keep_base_moves_the_weights_back_towards_the_fer_only_member():
    from gifemo.facs.gif_finetune import interpolate

    torch.manual_seed(0)
    base, tuned = ExpressionNet(ExpressionConfig(widths=(4, 8))), ExpressionNet(ExpressionConfig(widths=(4, 8)))
    start = {k: v.clone() for k, v in tuned.state_dict().items()}
    mixed = interpolate(base.state_dict(), tuned, 0.25).state_dict()
    for key, value in mixed.items():
        if value.is_floating_point():
            assert torch.allclose(value, 0.25 * base.state_dict()[key] + 0.75 * start[key])
        else:
            assert torch.equal(value, start[key])
