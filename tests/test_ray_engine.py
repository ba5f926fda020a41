"""`gifemo tag --engine ray` on a Ray instance the tests start (2 CPUs): the same records as the local engine,
bad files and dead workers as failure records, a killed driver resumed without duplicates or loss; and an
install without Ray never imports it."""
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gifemo.config import RayOptions, Runtime
from gifemo.tagger import TagOptions, tag_paths

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
# Small real GIFs with faces, so that the face stream runs.
GIFS = ["Happiness/4e1495779b46.gif", "Sadness/e81d92a72e62.gif", "Anger/fdb22acb527f.gif",
        "Disgust/6d6c2ec31c50.gif", "Happiness/d6d7ab4d3cbd.gif", "Fear/3fef2046a4b7.gif"]


@pytest.fixture(scope="module")
def cluster():
    """A local Ray instance for the module; workers import this checkout's gifemo and the test helpers."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'gifemo[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(TESTS), str(REPO)])}})
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def fast_options() -> TagOptions:
    return TagOptions(num_frames=2, run={"action": "off"})


def rows(db: Path) -> dict[str, dict]:
    """Every corpus row as stored, by path, without its timestamp."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    out = {}
    for row in conn.execute("SELECT * FROM gifs"):
        row = dict(row)
        del row["tagged_at"]
        out[row["path"]] = row
    conn.close()
    return out


def test_ray_records_equal_the_local_engines_and_failures_are_records(cluster, gifs_dev, tmp_path, models_dir):
    from gifemo.ray_engine import RayEngine
    from hostile_worker import SelfKillingWorker

    folder = tmp_path / "gifs"
    folder.mkdir()
    for name in GIFS[:3]:
        shutil.copy(gifs_dev / name, folder / name.replace("/", "-"))
    (folder / "text.gif").write_text("not a gif at all")
    (folder / "header-only.gif").write_bytes((gifs_dev / GIFS[0]).read_bytes()[:800])
    # The same threads per process as each actor's (one CPU each), so that float sums run in the same order.
    runtime = Runtime(models_dir=models_dir, threads=1)
    local = tag_paths([folder], tmp_path / "local.db", options=fast_options(), runtime=runtime, progress=False)
    shutil.copy(gifs_dev / GIFS[3], folder / "kill-me.gif")  # its actor dies on it (as out of memory would)
    on_ray = tag_paths([folder], tmp_path / "ray.db", options=fast_options(), runtime=runtime, progress=False,
                       worker=SelfKillingWorker, engine=RayEngine(RayOptions(actors=2, batch_size=1, retries=0)))
    assert (local.files, local.tagged, local.failed) == (5, 3, 2)
    assert (on_ray.files, on_ray.tagged, on_ray.failed) == (6, 3, 3)
    ray_rows = rows(tmp_path / "ray.db")
    lost = ray_rows.pop(str(folder / "kill-me.gif"))
    assert lost["error"].endswith("kill-me.gif: a Ray worker died on its batch 1 times") and lost["emotion"] is None
    assert ray_rows == rows(tmp_path / "local.db")
    assert "not a GIF or a readable video" in ray_rows[str(folder / "text.gif")]["error"]
    assert sum(row["source"] == "face" for row in ray_rows.values()) == 3


def test_a_killed_driver_resumes_without_duplicates_or_loss(cluster, gifs_dev, tmp_path, models_dir):
    files = [gifs_dev / name for name in GIFS]
    db = tmp_path / "c.db"
    # The face stream alone: what is tested here is the driver's bookkeeping, not the streams.
    cmd = [sys.executable, "-m", "gifemo", "tag", *map(str, files), "--db", str(db), "--actions", "off",
           "--no-drawn", "--no-caption", "--frames", "2", "-q", "--models-dir", str(models_dir),
           "--engine", "ray", "--address", cluster, "--actors", "2", "--batch-size", "1"]
    driver = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                              cwd=REPO)
    deadline, done = time.time() + 90, 0
    while time.time() < deadline and driver.poll() is None and done < 2:
        if db.exists():
            try:
                done = sqlite3.connect(db).execute("SELECT COUNT(*) FROM gifs").fetchone()[0]
            except sqlite3.OperationalError:
                done = 0
        time.sleep(0.2)
    os.killpg(driver.pid, signal.SIGKILL)
    _, stderr = driver.communicate()
    assert 2 <= done < len(files), f"the driver was not killed mid-run ({done} records): {stderr.decode()[-500:]}"
    before = {path: row["sha256"] for path, row in rows(db).items()}
    stamps = dict(sqlite3.connect(db).execute("SELECT sha256, tagged_at FROM gifs"))
    rerun = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert rerun.returncode == 0, rerun.stderr
    assert (f"{len(files) - len(before)} tagged, 0 re-decided from stored evidence, {len(before)} already up to "
            "date, 0 failed") in rerun.stdout
    after = rows(db)
    assert sorted(after) == sorted(map(str, files))                        # every file once: no loss, no duplicate
    assert all(row["error"] is None for row in after.values())
    now = dict(sqlite3.connect(db).execute("SELECT sha256, tagged_at FROM gifs"))
    assert all(now[sha] == stamps[sha] for sha in before.values())        # nothing committed before was redone


def test_plain_tag_never_imports_ray(gifs_dev, tmp_path, models_dir):
    check = ("import sys; import gifemo.cli; assert 'ray' not in sys.modules, 'import gifemo.cli'; "
             "code = gifemo.cli.main(sys.argv[1:]); assert 'ray' not in sys.modules, 'tag'; sys.exit(code)")
    run = subprocess.run([sys.executable, "-c", check, "tag", str(gifs_dev / GIFS[0]), "--db", str(tmp_path / "c.db"),
                          "--actions", "off", "--frames", "2", "-q", "--models-dir", str(models_dir)],
                         capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert "1 tagged" in run.stdout


def test_engine_ray_without_ray_says_how_to_install_it(tmp_path):
    hide_ray = "import sys; sys.modules['ray'] = None; from gifemo.cli import main; sys.exit(main(sys.argv[1:]))"
    gif = tmp_path / "a.gif"
    gif.write_bytes(b"GIF89a")
    run = subprocess.run([sys.executable, "-c", hide_ray, "tag", str(gif), "--db", str(tmp_path / "c.db"),
                          "--engine", "ray"], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 1
    assert run.stderr.strip() == ("gifemo tag: error: --engine ray needs Ray Data (ray is missing): "
                                  "pip install 'gifemo[ray]'")
