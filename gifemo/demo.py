"""`gifemo demo`: tag a folder of GIFs (the project's own demo GIFs by default) and suggest GIFs for
a few messages, so a new user sees the whole pipeline in one command."""
from __future__ import annotations

import hashlib
from pathlib import Path

from PIL import Image, ImageDraw

from .annotate import draw_emoji
from .emotions import EMOTIONS
from .paths import DEMO_DIR

DEMO_MESSAGES = ["I just got the job!!! 🎉", "my flight got cancelled again, so annoyed",
                 "I miss you so much", "wait WHAT? no way"]


def make_demo_gifs(folder: Path = DEMO_DIR, size: int = 96, frames: int = 8) -> list[Path]:
    """Animated emoji GIFs (one per emotion) drawn by the project; they carry no photographic face,
    so they also show how GIFs without a detectable face are reported."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for emotion in EMOTIONS:
        images = []
        for k in range(frames):
            image = Image.new("RGB", (size, size), "white")
            wobble = int(4 * abs(k - frames / 2) / (frames / 2))
            draw_emoji(ImageDraw.Draw(image), 8 + wobble, 8, size - 16 - wobble, emotion)
            images.append(image)
        path = folder / f"{emotion}-emoji.gif"
        images[0].save(path, save_all=True, append_images=images[1:], duration=90, loop=0)
        written.append(path)
    return written


def run_demo(runtime, folder=None, db=None) -> int:
    """Tag `folder` (default: the demo GIFs) into a corpus and print tags and suggestions."""
    from .show import describe
    from .corpus import Corpus
    from .recommender.recent import remember_corpus
    from .recommender.suggest import Recommender
    from .tagger import tag_paths

    folder = Path(folder) if folder else DEMO_DIR
    if folder == DEMO_DIR and not any(DEMO_DIR.glob("*.gif")):
        make_demo_gifs(DEMO_DIR)
    # one corpus per demo folder, so suggestions come from that folder only
    folder_key = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:10]
    db = Path(db) if db else runtime.models_cache().parent / "demo" / f"{folder_key}.db"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    print(f"Tagging {folder} into {db} ...")
    summary = tag_paths([folder], db, runtime=runtime)
    if not summary.files:
        raise FileNotFoundError(f"{folder}: no GIFs or videos found")
    print(summary.text(), "\n")   # it lists the files that failed
    with Corpus(db) as corpus:
        for record in corpus.records(include_errors=False):
            print(describe(record).split("\ntimeline:")[0], "\n")
    recommender = Recommender(db, runtime)
    for message in DEMO_MESSAGES:
        results = recommender.suggest(message, k=3)
        best = max(results.reading, key=results.reading.get)
        print(f"Suggestions for {message!r} (reads as {best} {results.reading[best]:.2f}):")
        for rank, result in enumerate(results, 1):
            print(f"  {rank}. {result.emotion or '-':9s} {result.path}\n     {result.why}")
        if results.note:
            print(f"  ({results.note})")
        print()
    remember_corpus(db, runtime)
    print(f"Next: `gifemo app` opens this corpus in the browser (or `gifemo app --db {db}`);\n"
          f"      `gifemo serve --db {db}` answers http://127.0.0.1:8765/suggest?q=...")
    return 1 if summary.failed else 0
