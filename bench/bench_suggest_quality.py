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

With --replay, it also measures the 👍/👎 signal: a simulated user (who votes 👍 on a suggested GIF whose
true label is the message's and 👎 on the others) votes on the suggestions for the first 10 messages of each
emotion; P@5 on the other 10 per emotion is then measured without the votes and with them, at several
feedback weights (the ranking's default among them).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from dataclasses import replace

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_recommender import RUNTIME, SHARED, labelled_messages  # noqa: E402

from gifemo.config import DEFAULT_TEXT_MODEL, TEXT_MODELS  # noqa: E402
from gifemo.emotions import EMOTIONS, normalize_label  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "suggest_quality.json"
PER_EMOTION = 20
# The message label -> GIF labels a person would find offensive next to it (the ranking's table, restated
# here so that versions of the ranking without one are judged by the same rule).
FORBIDDEN = {"sadness": {"happiness"}, "anger": {"happiness"}, "fear": {"happiness"}}


def measure(db: Path, k: int, text_model: str | None = None) -> dict:
    from gifemo.recommender.suggest import Recommender

    recommender = Recommender(db, RUNTIME, text_model=text_model)
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


def replay(db: Path, k: int, weights=(0.02, 0.05, 0.1, 0.2)) -> dict:
    from gifemo.emotions import scores_vector, top_emotion
    from gifemo.recommender.ranking import rank
    from gifemo.recommender.suggest import Recommender

    recommender = Recommender(db, RUNTIME)
    index = recommender.index
    truth = {sha: normalize_label(Path(p).parent.name) for sha, p in zip(index.rows["sha256"], index.rows["path"])}
    messages = labelled_messages(PER_EMOTION * len(EMOTIONS))
    read = [(recommender.message_scores(t), recommender.message_embedding(t), label) for t, label in messages]
    voting = [m for i, m in enumerate(read) if i % PER_EMOTION < PER_EMOTION // 2]
    held_out = [m for i, m in enumerate(read) if i % PER_EMOTION >= PER_EMOTION // 2]
    votes: dict[str, dict[str, int]] = {}
    for scores, embedding, label in voting:
        for r in rank(index, scores, embedding, k, options=recommender.options):
            per_emotion = votes.setdefault(r.sha256, {})
            emotion = top_emotion(scores)
            per_emotion[emotion] = per_emotion.get(emotion, 0) + (1 if truth[r.sha256] == label else -1)
    feedback = {sha: scores_vector(v) for sha, v in votes.items()}

    def p_at_k(options, fb) -> float:
        return round(float(np.mean([sum(truth[r.sha256] == label for r in rank(index, s, e, k, options=options,
                                                                                 feedback=fb)) / k
                                    for s, e, label in held_out])), 3)

    out = {"voting_messages": len(voting), "held_out_messages": len(held_out), "gifs_voted_on": len(feedback),
           "votes": int(sum(abs(n) for v in votes.values() for n in v.values())),
           f"held_out_p_at_{k}_without_votes": p_at_k(recommender.options, None),
           "default_weight": recommender.options.feedback_weight, f"held_out_p_at_{k}_with_votes": {}}
    for weight in sorted(set(weights) | {recommender.options.feedback_weight}):
        out[f"held_out_p_at_{k}_with_votes"][weight] = p_at_k(replace(recommender.options, feedback_weight=weight),
                                                               feedback)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="corpus tagged from label-named folders")
    parser.add_argument("--label", required=True, help="name of this run in the results file, e.g. before, after")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--replay", action="store_true", help="also measure the 👍/👎 signal on a replay")
    parser.add_argument("--text-model", choices=TEXT_MODELS, help="message emotion model (default: the default)")
    args = parser.parse_args()
    if not SHARED.is_dir() or not args.db.is_file():
        print(f"bench_suggest_quality: needs {SHARED} and the corpus {args.db}", file=sys.stderr)
        return 1
    os.environ.setdefault("GIFEMO_MODELS_DIR", str(SHARED / "models"))
    torch.set_num_threads(1)
    result = measure(args.db, args.k, args.text_model)
    result["text_model"] = args.text_model or DEFAULT_TEXT_MODEL
    if args.replay:
        result["feedback_replay"] = replay(args.db, args.k)
    import gifemo

    # Which code ranked: this checkout's commit, or another gifemo put first on PYTHONPATH (e.g. main's).
    result["gifemo"] = str(Path(gifemo.__file__).parent)
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
