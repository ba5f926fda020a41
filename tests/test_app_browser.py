"""End to end: `streamlit run` on 127.0.0.1, headless Chromium types a message and sees GIF suggestions.

Keeps a screenshot in tests/artifacts/ (git-ignored). Chromium and chromedriver are Debian's
(`.ci/run` installs them).
"""
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
    db, report = build_app_corpus(gifs_dev, runtime, tmp_path_factory.getbasetemp() / "app_corpus")
    port = free_port()
    env = {**os.environ, "GIFEMO_DB": str(db), "GIFEMO_REPORT": str(report), "GIFEMO_MODELS_DIR": str(models_dir),
           "OMP_NUM_THREADS": "1"}
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
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_typing_a_message_shows_animated_gif_suggestions(server, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path, prefix='chromium-')}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.get(server)
        box = wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "input[aria-label='Message']"), 90,
                         "the message box")[0]
        box.send_keys(MESSAGE)
        box.send_keys(Keys.ENTER)  # Enter submits the form
        gifs = wait_until(lambda: [img for img in driver.find_elements(By.CSS_SELECTOR, "img")
                                   if ".gif" in (img.get_attribute("src") or "")
                                   and driver.execute_script("return arguments[0].naturalWidth", img) > 0],
                          180, "GIF suggestions")
        time.sleep(1)  # let the last images paint before the screenshot
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "suggest.png"))
        page = driver.find_element(By.TAG_NAME, "body").text
        assert "Message reads as" in page and "emotion match" in page
        assert 1 <= len(gifs) <= 8
        # Served as GIF files (so they stay animated), not re-encoded as still PNG/JPEG.
        first = urllib.request.urlopen(gifs[0].get_attribute("src"), timeout=10).read(6)
        assert first in (b"GIF87a", b"GIF89a")
    finally:
        driver.quit()
    assert (ARTIFACTS / "suggest.png").stat().st_size > 10_000
