"""Do the suggested GIFs carry the message's emotion? P@5 on labelled messages against a labelled corpus.

Messages: the first 20 single-label GoEmotions dev rows of each of the 7 emotions (140). Corpus: GIFs tagged
from label-named folders (e.g. gifs_train + gifs_dev). A suggestion "matches" when the GIF's TRUE label (its
folder name) is the message's label. Only `Recommender.suggest` is called, so the same script measures any
version of the ranking:

    python bench/bench_suggest_quality.py --db CORPUS.db --label after [--k 5]

Reports, per run: precision of what is shown (hits / GIFs returned), P@5 with empty slots counted as misses,
the mean number returned, how many messages got nothing, and forbidden-pair violations over those messages
(a happiness GIF for a sad, angry or frightened message) judged by the GIF's tag and by its true label.
Adds the run under its label to bench/results/suggest_quality.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_recommender import SHARED, labelled_messages  # noqa: E402

from gifemo.emotions import EMOTIONS, normalize_label  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "suggest_quality.json"
PER_EMOTION = 20
# The message label -> GIF labels a person would find offensive next to it (the ranking's table, restated
# here so that versions of the ranking without one are judged by the same rule).
FORBIDDEN = {"sadness": {"happiness"}, "anger": {"happiness"}, "fear": {"happiness"}}


def measure(db: Path, k: int) -> dict:
    from gifemo.recommender.suggest import Recommender

    recommender = Recommender(db)
    messages = labelled_messages(PER_EMOTION * len(EMOTIONS))
    shown, strict, returned, tag_violations, true_violations = [], [], [], 0, 0
    per_emotion: dict[str, list[float]] = {e: [] for e in EMOTIONS}
    started = time.perf_counter()
    for text, label in messages:
        results = list(recommender.suggest(text, k=k))
        truths = [normalize_label(Path(r.path).parent.name) for r in results]
        hits = sum(t == label for t in truths)
        returned.append(len(results))
        strict.append(hits / k)
        per_emotion[label].append(hits / k)
        if results:
            shown.append(hits / len(results))
        bad = FORBIDDEN.get(label, set())
        tag_violations += sum(r.emotion in bad for r in results)
        true_violations += sum(t in bad for t in truths)
    return {"gifs": len(recommender.index), "messages": len(messages), "k": k,
            "precision_of_shown": round(float(np.mean(shown)), 3) if shown else None,
            f"p_at_{k}": round(float(np.mean(strict)), 3), "mean_returned": round(float(np.mean(returned)), 2),
            "messages_with_no_result": int(sum(n == 0 for n in returned)),
            f"p_at_{k}_by_emotion": {e: round(float(np.mean(v)), 3) for e, v in per_emotion.items()},
            "forbidden_violations_by_tag": tag_violations, "forbidden_violations_by_true_label": true_violations,
            "seconds": round(time.perf_counter() - started, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="corpus tagged from label-named folders")
    parser.add_argument("--label", required=True, help="name of this run in the results file, e.g. before, after")
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    if not SHARED.is_dir() or not args.db.is_file():
        print(f"bench_suggest_quality: needs {SHARED} and the corpus {args.db}", file=sys.stderr)
        return 1
    os.environ.setdefault("GIFEMO_MODELS_DIR", str(SHARED / "models"))
    torch.set_num_threads(1)
    result = measure(args.db, args.k)
    result["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                      text=True).stdout.strip()
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results[args.label] = result
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
