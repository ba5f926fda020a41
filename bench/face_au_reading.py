"""A GIF-fitted reading of the face's action units, as extra evidence for the GIF decision: does it help?

Per GIF, the main face (the largest one of each sampled frame, as the tagger samples and detects them) is read from
MediaPipe's blendshapes, pooled over the frames where a face is seen (mean, and max = the apex of each feature),
and a small multinomial logistic regression fitted on the GIF labels turns that into scores over the 7 emotions.
Its reading enters the decision as one more stream ("face_aus"), which the decision calibrates and weighs like any
other. Everything is out of fold with the decision's own folds (`decision.group_folds`, grouped by source
collection), nested: for the decision fitted without fold k, the reading of each of its training GIFs comes from a
regression fitted without fold k nor that GIF's own fold, and the reading of fold k's GIFs from one fitted
without fold k. So no GIF's label ever reaches its own evidence or the decision that scores it.

Pre-registered (written before any result was seen; nothing else is tried, no setting is tuned):
  every variant: features z-scored on the fitting GIFs; scikit-learn LogisticRegression (multinomial, lbfgs,
  C = 0.05, i.e. strong L2), sample weights n_class^-0.5 as the decision's fit; fitted on the GIFs where the
  main face is seen at all; the GIF's Evidence coverage = share of sampled frames with a face.
  V1 "AUs": the 23 action units the face stream derives (data/action_units.csv), mean and max (46 features).
  V2 "EMFACS rule scores": the 7 EMFACS rule scores of each frame (facs.rules), mean and max (14 features):
     the low-rank reading that keeps the EMFACS structure.
  V3 "blendshapes": MediaPipe's 52 raw blendshapes, mean and max (104 features).
  Ship rule: >= +0.02 decision accuracy over the decision without it, macro-F1 not lower; a sign test on the
  GIFs whose answer changes says whether the gain is more than noise.

    python bench/face_au_reading.py --db labelled.db [--cache /tmp/face_blendshapes.npz]

`--db`: a corpus with the labelled GIFs tagged by every stream (`gifemo train decision ... --db`); it is only
read. The blendshapes are extracted once into `--cache` (70 s on 2 cores, load average 2), then the three variants
take about 20 s. Writes bench/results/face_au_reading.json.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common import held_out_figures, sign_test, write_results
from gifemo import decision
from gifemo.config import FaceOptions, Runtime
from gifemo.emotions import EMOTIONS, scores_dict, scores_vector, softmax
from gifemo.evaluate import labelled_records, load_dataset
from gifemo.evidence import Evidence
from gifemo.facs.aus import action_units
from gifemo.facs.landmarks import FaceLandmarker, clip_faces
from gifemo.facs.rules import rule_scores
from gifemo.media import MediaError, read_clip
from gifemo.metrics import NONE, classification
from gifemo.tagger import TagOptions

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
STREAM = "face_aus"
C = 0.05


# ---------------------------------------------------------------- extraction (once, cached)
def main_faces(gifs, runtime: Runtime) -> dict:
    """sha256 -> (frames sampled, [52-blendshape dict of the largest face of each frame with a face]) for
    `gifs`, (sha256, path) pairs."""
    options, frames = FaceOptions(), TagOptions().num_frames
    landmarker = FaceLandmarker(options.max_faces, options.min_detection_confidence, video=True, runtime=runtime)
    found = {}
    try:
        for sha256, path in tqdm(gifs, desc="blendshapes", unit="gif"):
            try:
                clip = read_clip(path, num_frames=frames)
            except (MediaError, OSError):
                continue
            faces = clip_faces(clip, landmarker)
            found[sha256] = (len(clip.frames), [max(f, key=lambda d: d.box[2] * d.box[3]).blendshapes
                                                        for f in faces if f])
    finally:
        landmarker.close()
    return found


def load_or_extract(gifs, cache: Path) -> dict:
    if cache.exists():
        return json.loads(cache.read_text())
    found = main_faces(gifs, Runtime())
    cache.write_text(json.dumps(found))
    return found


# ---------------------------------------------------------------- features
def au_vector(shapes: dict) -> np.ndarray:
    return np.array(list(action_units(shapes).values()))


def rule_vector(shapes: dict) -> np.ndarray:
    return scores_vector(rule_scores(action_units(shapes)))


def shape_vector(shapes: dict) -> np.ndarray:
    return np.array([shapes[k] for k in sorted(shapes)])


VARIANTS = {"V1 AUs": au_vector, "V2 EMFACS rule scores": rule_vector, "V3 blendshapes": shape_vector}


def pooled(per_frame: list[dict], read) -> np.ndarray:
    x = np.stack([read(shapes) for shapes in per_frame])
    return np.concatenate([x.mean(0), x.max(0)])


# ---------------------------------------------------------------- the reading, out of fold
def fit_reading(x: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    mean, sd = x.mean(0), x.std(0) + 1e-6
    model = LogisticRegression(C=C, max_iter=5000).fit((x - mean) / sd, y, sample_weight=decision.class_weights(y)
                                                       * len(y))
    full = np.zeros((len(EMOTIONS), x.shape[1]))
    full[model.classes_] = model.coef_   # a class absent from the fitting GIFs gets no weight
    bias = np.full(len(EMOTIONS), -30.0)
    bias[model.classes_] = model.intercept_
    return lambda z: softmax(((z - mean) / sd) @ full.T + bias)


def readings(features: dict, coverage: dict, y: np.ndarray, fit_on: np.ndarray, read_on: np.ndarray) -> dict:
    """Row index -> the reading's Evidence, for the rows `read_on` that have a face, fitted on `fit_on`'s."""
    fit_rows = [i for i in fit_on if i in features]
    model = fit_reading(np.stack([features[i] for i in fit_rows]), y[fit_rows])
    rows = [i for i in read_on if i in features]
    if not rows:
        return {}
    p = model(np.stack([features[i] for i in rows]))
    return {i: Evidence(STREAM, scores_dict(q), coverage[i], float(q.max()), "action units read on GIFs")
            for i, q in zip(rows, p)}


def nested_cv(rows, y, fold, features, coverage):
    """Each row's held-out decision with the reading added, every reading out of fold (see the docstring)."""
    decided = [None] * len(rows)
    alone = {}
    for k in np.unique(fold):
        train, test = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        inner = {}
        for j in np.unique(fold[train]):
            inner |= readings(features, coverage, y, train[fold[train] != j], train[fold[train] == j])
        outer = readings(features, coverage, y, train, test)
        alone |= outer
        model = decision.fit_all([rows[i] + ([inner[i]] if i in inner else []) for i in train],
                                 [EMOTIONS[c] for c in y[train]])
        for i in test:
            decided[i] = model.decide(rows[i] + ([outer[i]] if i in outer else []))
    return decided, alone


# ---------------------------------------------------------------- scoring
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="corpus with the labelled GIFs tagged by every stream (read only)")
    parser.add_argument("--data", default=str(SHARED / "data"))
    parser.add_argument("--cache", default="/tmp/face_blendshapes.json", help="main-face blendshapes per GIF")
    args = parser.parse_args()
    items = [item for name in ("gifs_train", "gifs_dev") for item in load_dataset(Path(args.data) / name)]
    records = labelled_records(items, args.db, tag=False, progress=False)
    usable = [(item, record) for item, record in zip(items, records) if record is not None and not record.error]
    faces = load_or_extract([(record.sha256, item.path) for item, record in usable], Path(args.cache))
    rows = [[decision.raw_evidence(e) for e in record.evidence] for _, record in usable]
    labels = [item.label for item, _ in usable]
    contents = np.array([item.content for item, _ in usable])
    y = np.array([EMOTIONS.index(label) for label in labels])
    fold = decision.group_folds([item.group for item, _ in usable])
    seen = {i: faces[record.sha256] for i, (_, record) in enumerate(usable) if faces.get(record.sha256, (0, []))[1]}
    coverage = {i: len(shapes) / frames for i, (frames, shapes) in seen.items()}

    base = decision.held_out_models(rows, labels, None, fold_of=fold)
    base_decided = [m.decide(r) for m, r in zip(base, rows)]
    base_right = np.array([d.emotion == t for d, t in zip(base_decided, labels)])
    live = contents == "live-action-face"
    # For comparison with the reading alone: the face stream's own (uncalibrated) answer on the same GIFs.
    face_said = [next((e.emotion for e in row if e.stream == "face" and not e.abstained), None) for row in rows]
    face_right = np.array([said == label for said, label in zip(face_said, labels)])
    results = {"n": len(rows), "with_face": len(seen), "C": C,
               "decision without the reading": held_out_figures(labels, base_decided)
               | {"live_action_face": float(base_right[live].mean())},
               "face stream alone": {"accuracy_all": float(face_right.mean()),
                                     "accuracy_on_faces": float(face_right[list(seen)].mean()),
                                     "live_action_face": float(face_right[live].mean())}}
    print(f"{len(rows)} GIFs, main face seen in {len(seen)}; decision without the reading: "
          f"{results['decision without the reading']}; face stream alone: {results['face stream alone']}")
    for name, read in VARIANTS.items():
        features = {i: pooled(shapes, read) for i, (_, shapes) in seen.items()}
        decided, alone = nested_cv(rows, y, fold, features, coverage)
        right = np.array([d.emotion == t for d, t in zip(decided, labels)])
        alone_right = np.array([alone[i].emotion == labels[i] if i in alone else False for i in range(len(rows))])
        r = held_out_figures(labels, decided) | {
            "live_action_face": float(right[live].mean()),
            "sign_test_vs_without": sign_test(base_right, right),
            "reading_alone": {"accuracy_all": float(alone_right.mean()),
                              "accuracy_on_faces": float(alone_right[list(alone)].mean()),
                              "macro_f1_all": classification(labels, [alone[i].emotion if i in alone else NONE
                                                                      for i in range(len(rows))])["macro_f1"],
                              "live_action_face": float(alone_right[live].mean())}}
        results[name] = r
        print(f"{name}: {json.dumps(r)}", flush=True)
    write_results(ROOT / "bench/results/face_au_reading.json", results)


if __name__ == "__main__":
    main()
