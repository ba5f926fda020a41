"""End to end: `streamlit run` on 127.0.0.1; headless Chromium types a message and sees GIF suggestions,
then uploads a GIF on the Tag page and the test finds it in the corpus.

Keeps a screenshot in tests/artifacts/ (git-ignored). Chromium and chromedriver are Debian's
(`.ci/run` installs them).
"""
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from app_corpus import build_app_corpus

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1400,1000"]
MESSAGE = "I'm so happy today, let's dance!"

pytestmark = pytest.mark.skipif(not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()),
                                reason="needs Debian's chromium and chromium-driver (installed by .ci/run)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def server(gifs_dev, models_dir, runtime, tmp_path_factory, tmp_path):
    shared, report = build_app_corpus(gifs_dev, runtime, tmp_path_factory.getbasetemp() / "app_corpus")
    db = tmp_path / "corpus.db"  # a copy: the upload lands in it
    db.write_bytes(shared.read_bytes())
    port = free_port()
    env = {**os.environ, "GIFEMO_DB": str(db), "GIFEMO_REPORT": str(report), "GIFEMO_MODELS_DIR": str(models_dir),
           "GIFEMO_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    log = open(tmp_path / "streamlit.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app/streamlit_app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)

    def healthy():
        assert process.poll() is None, (tmp_path / "streamlit.log").read_text()
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok"
        except OSError:
            return False

    try:
        wait_until(healthy, 60, "the Streamlit server")
        yield f"http://127.0.0.1:{port}", db
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def chromium(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path, prefix='chromium-')}"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def test_suggest_then_tag_an_upload_into_the_corpus(server, tmp_path, gifs_dev):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from gifemo.corpus import Corpus

    url, db = server
    driver = chromium(tmp_path)
    try:
        driver.get(url)
        box = wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "input[aria-label='Message']"), 90,
                         "the message box")[0]
        box.send_keys(MESSAGE)
        box.send_keys(Keys.ENTER)  # the page follows the message: no button
        gifs = wait_until(lambda: [img for img in driver.find_elements(By.CSS_SELECTOR, "img")
                                   if ".gif" in (img.get_attribute("src") or "")
                                   and driver.execute_script("return arguments[0].naturalWidth", img) > 0],
                          180, "GIF suggestions")
        time.sleep(1)  # let the last images paint before the screenshot
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "suggest.png"))
        page = driver.find_element(By.TAG_NAME, "body").text
        assert "Message reads as" in page and "your message reads" in page
        assert 1 <= len(gifs) <= 8
        # Served as GIF files (so they stay animated), not re-encoded as still PNG/JPEG.
        first = urllib.request.urlopen(gifs[0].get_attribute("src"), timeout=10).read(6)
        assert first in (b"GIF87a", b"GIF89a")

        # Tag page: upload a GIF the corpus does not hold; it is tagged into the corpus.
        with Corpus(db) as corpus:
            known = {r.sha256 for r in corpus.records()}
        gif = next(p for p in sorted((gifs_dev / "Sadness").glob("*.gif"))
                   if hashlib.sha256(p.read_bytes()).hexdigest() not in known)
        tag = wait_until(lambda: [e for e in driver.find_elements(By.CSS_SELECTOR, "label") if e.text == "Tag"], 30,
                         "the Tag page in the sidebar")[0]
        tag.click()
        upload = wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "input[type='file']"), 60, "the uploader")[0]
        upload.send_keys(str(gif))
        wait_until(lambda: gif.name in driver.find_element(By.TAG_NAME, "body").text
                   and "decided by" in driver.find_element(By.TAG_NAME, "body").text, 240, "the upload's tags")
        driver.save_screenshot(str(ARTIFACTS / "tag.png"))
    finally:
        driver.quit()
    assert (ARTIFACTS / "suggest.png").stat().st_size > 10_000
    with Corpus(db) as corpus:
        record = corpus.get(hashlib.sha256(gif.read_bytes()).hexdigest())
    assert record is not None and not record.error and Path(record.path).read_bytes() == gif.read_bytes()
