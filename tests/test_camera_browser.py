"""End to end with a camera: headless Chromium's fake camera plays a video the test makes (two real faces
from ../shared composited in), the Camera page takes a photo, shows each face's emoji, and suggests GIFs for
the laughing face. Keeps tests/artifacts/camera.png (git-ignored) and the time from the click to the emoji
(tests/artifacts/camera_timing.json) for a first and a second photo."""
import json
import time

from app_browser import ARTIFACTS, chromium, needs_chromium, open_page, page_text, shown_gifs, wait_until
from face_media import face_photo, write_y4m
from gifemo.emotions import EMOJI

pytestmark = needs_chromium
# The camera preview shows frames (before that, a photo would be black).
PLAYING = "const v = document.querySelector('video'); return !!v && v.readyState >= 2 && v.currentTime > 0"


def buttons(driver, label: str) -> list:
    """The enabled buttons whose text ends with `label` (an icon may come first); none while the page redraws."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        return [b for b in driver.find_elements(By.TAG_NAME, "button")
                if b.text.strip().endswith(label) and b.is_enabled()]
    except StaleElementReferenceException:
        return []


def click(driver, label: str, index: int = 0) -> bool:
    """Click the `index`-th button with that label; False (to try again) while the page redraws."""
    from selenium.common.exceptions import StaleElementReferenceException

    found = buttons(driver, label)
    try:
        found[index].click()
    except (IndexError, StaleElementReferenceException):
        return False
    return True


def test_camera_photo_shows_each_face_emoji_and_gifs_for_a_face(server, gifs_dev, tmp_path):
    url, db = server
    before = db.read_bytes()
    camera = write_y4m(tmp_path / "camera.y4m", [face_photo(gifs_dev)] * 5, fps=5)
    driver = chromium(tmp_path, ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                                 f"--use-file-for-fake-video-capture={camera}"])
    try:
        driver.get(url)
        open_page(driver, "Camera")
        happy, sad = f"{EMOJI['happiness']} happiness", f"{EMOJI['sadness']} sadness"
        seconds = []   # click to emoji: the first photo loads the face models, the second finds them loaded
        for _ in range(2):
            if seconds:
                wait_until(lambda: click(driver, "Clear photo"), 30, "the Clear photo button")
                wait_until(lambda: happy not in page_text(driver), 60, "the photo cleared")
            wait_until(lambda: buttons(driver, "Take Photo"), 90, "the camera's Take Photo button")
            wait_until(lambda: driver.execute_script(PLAYING), 60, "the fake camera's first frames")
            wait_until(lambda: click(driver, "Take Photo"), 30, "a click on Take Photo")
            clicked = time.perf_counter()
            try:
                wait_until(lambda: happy in page_text(driver) and sad in page_text(driver), 180, "each face's emoji")
            except AssertionError as exc:
                driver.save_screenshot(str(tmp_path / "failed.png"))
                raise AssertionError(f"{exc}; the page says: {page_text(driver)!r}") from None
            seconds.append(time.perf_counter() - clicked)
        page = page_text(driver)
        assert "2 faces read in" in page
        assert len(buttons(driver, "Suggest GIFs for this face")) == 2
        laughing = 0 if page.index(happy) < page.index(sad) else 1   # the preview may be mirrored
        wait_until(lambda: click(driver, "Suggest GIFs for this face", laughing), 30, "a click on Suggest")
        gifs = wait_until(lambda: shown_gifs(driver), 180, "GIF suggestions for the laughing face")
        driver.set_window_size(1400, 2200)   # the whole page in one picture: photo, faces and GIFs
        time.sleep(2)  # let the last images paint before the screenshot
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "camera.png"))
        page = page_text(driver)
        assert f"GIFs for face {laughing + 1}: {happy}" in page and "your face reads happy" in page
        assert 1 <= len(gifs) <= 8
    finally:
        driver.quit()
    (ARTIFACTS / "camera_timing.json").write_text(json.dumps({"photo_to_emoji_s": {
        "first_photo": round(seconds[0], 3), "second_photo": round(seconds[1], 3)}}))
    assert (ARTIFACTS / "camera.png").stat().st_size > 10_000
    assert db.read_bytes() == before   # nothing stored
