import os
import subprocess
import sys

from gifemo.demo import DEMO_MESSAGES
from gifemo.emotions import EMOTIONS
from gifemo.paths import DEMO_DIR


def test_demo_tags_the_shipped_gifs_and_suggests(tmp_path, models_dir):
    assert sorted(p.name for p in DEMO_DIR.glob("*.gif")) == sorted(f"{e}-emoji.gif" for e in EMOTIONS)
    env = {**os.environ, "GIFEMO_CACHE_DIR": str(tmp_path / "cache")}  # not the user's own "last corpus"
    run = subprocess.run([sys.executable, "-m", "gifemo", "demo", "--db", str(tmp_path / "demo.db"),
                          "--models-dir", str(models_dir)], capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "7 files: 7 tagged" in run.stdout
    for message in DEMO_MESSAGES:
        section = run.stdout.split(f"Suggestions for {message!r}")[1].split("Suggestions for")[0]
        # GIFs of the demo folder, or a note saying why none fits (no filler)
        assert ("  1. " in section and str(DEMO_DIR) in section) or "fits this message" in section
    assert run.stdout.rstrip().endswith("/suggest?q=...") and "Next: `gifemo app`" in run.stdout
    # the app will open the demo's corpus
    note = tmp_path / "cache" / "last_corpus.txt"
    assert note.read_text() == str((tmp_path / "demo.db").resolve())


def test_demo_on_a_folder_without_gifs_says_so(tmp_path):
    env = {**os.environ, "GIFEMO_CACHE_DIR": str(tmp_path / "cache")}
    for folder, said in ((tmp_path, "no GIFs or videos found"), (tmp_path / "absent", "no such folder")):
        run = subprocess.run([sys.executable, "-m", "gifemo", "demo", str(folder), "--db", str(tmp_path / "d.db")],
                             capture_output=True, text=True, timeout=120, env=env)
        assert run.returncode == 1 and run.stderr == f"gifemo demo: error: {folder}: {said}\n"
        assert "Suggestions for" not in run.stdout
