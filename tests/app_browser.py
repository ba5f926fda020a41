"""What the real-browser tests share: the app served by `streamlit run` on 127.0.0.1 over a copy of a small
tagged corpus, and Debian's headless Chromium driven through chromedriver."""
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

needs_chromium = pytest.mark.skipif(not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()),
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
    """(the app's URL, the corpus it uses: a copy, so that what a test adds lands in it)."""
    shared, report = build_app_corpus(gifs_dev, runtime, tmp_path_factory.getbasetemp() / "app_corpus")
    db = tmp_path / "corpus.db"
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


def chromium(tmp_path, flags=()):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(dir=tmp_path, prefix="chromium-")
    for flag in CHROMIUM_FLAGS + list(flags) + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def page_text(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def open_page(driver, name: str) -> None:
    """Click the page's name in the sidebar."""
    from selenium.webdriver.common.by import By

    wait_until(lambda: [e for e in driver.find_elements(By.CSS_SELECTOR, "label") if e.text == name], 60,
               f"the {name} page in the sidebar")[0].click()


def shown_gifs(driver) -> list:
    """GIF images the browser has loaded; none while the page redraws."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        return [img for img in driver.find_elements(By.CSS_SELECTOR, "img")
                if ".gif" in (img.get_attribute("src") or "")
                and driver.execute_script("return arguments[0].naturalWidth", img) > 0]
    except StaleElementReferenceException:
        return []
