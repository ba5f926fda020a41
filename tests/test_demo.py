import subprocess
import sys

from gifemo.demo import DEMO_MESSAGES
from gifemo.emotions import EMOTIONS
from gifemo.paths import DEMO_DIR


def test_demo_tags_the_shipped_gifs_and_suggests(tmp_path, models_dir):
    assert sorted(p.name for p in DEMO_DIR.glob("*.gif")) == sorted(f"{e}-emoji.gif" for e in EMOTIONS)
    run = subprocess.run([sys.executable, "-m", "gifemo", "demo", "--db", str(tmp_path / "demo.db"),
                          "--models-dir", str(models_dir)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "7 files: 7 tagged" in run.stdout
    for message in DEMO_MESSAGES:
        section = run.stdout.split(f"Suggestions for {message!r}")[1]
        assert "  1. " in section and str(DEMO_DIR) in section
