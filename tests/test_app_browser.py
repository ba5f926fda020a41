"""End to end: `streamlit run` on 127.0.0.1; headless Chromium types a message and sees GIF suggestions,
then uploads a GIF on the Tag page and the test finds it in the corpus.

Keeps a screenshot in tests/artifacts/ (git-ignored). Chromium and chromedriver are Debian's
(`.ci/run` installs them).
"""
import hashlib
import time
import urllib.request
from pathlib import Path

from app_browser import ARTIFACTS, chromium, needs_chromium, open_page, page_text, shown_gifs, wait_until

MESSAGE = "I'm so happy today, let's dance!"

pytestmark = needs_chromium


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
        gifs = wait_until(lambda: shown_gifs(driver), 180, "GIF suggestions")
        time.sleep(1)  # let the last images paint before the screenshot
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "suggest.png"))
        page = page_text(driver)
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
        open_page(driver, "Tag")
        upload = wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "input[type='file']"), 60, "the uploader")[0]
        upload.send_keys(str(gif))
        wait_until(lambda: gif.name in page_text(driver) and "decided by" in page_text(driver), 240,
                   "the upload's tags")
        driver.save_screenshot(str(ARTIFACTS / "tag.png"))
    finally:
        driver.quit()
    assert (ARTIFACTS / "suggest.png").stat().st_size > 10_000
    with Corpus(db) as corpus:
        record = corpus.get(hashlib.sha256(gif.read_bytes()).hexdigest())
    assert record is not None and not record.error and Path(record.path).read_bytes() == gif.read_bytes()
