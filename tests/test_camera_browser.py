"""End to end with a camera: headless Chromium's fake camera plays a video the test makes (two real faces
from ../shared composited in), the Camera page takes a photo, shows each face's emoji, and suggests GIFs for
the laughing face. Keeps tests/artifacts/camera.png (git-ignored) and the time from the click to the emoji."""
import json
import time

from app_browser import ARTIFACTS, chromium, needs_chromium, open_page, page_text, shown_gifs, wait_until
from app_browser import server  # noqa: F401 (a fixture)
from face_media import face_photo, write_y4m
from gifemo.emotions import EMOJI

pytestmark = needs_chromium


def buttons(driver, label: str) -> list:
    from selenium.webdriver.common.by import By

    return [b for b in driver.find_elements(By.TAG_NAME, "button") if b.text.strip() == label and b.is_enabled()]


def test_camera_photo_shows_each_face_emoji_and_gifs_for_a_face(server, gifs_dev, tmp_path):
    url, db = server
    before = db.read_bytes()
    camera = write_y4m(tmp_path / "camera.y4m", [face_photo(gifs_dev)] * 5, fps=5)
    driver = chromium(tmp_path, ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                                 f"--use-file-for-fake-video-capture={camera}"])
    try:
        driver.get(url)
        open_page(driver, "Camera")
        wait_until(lambda: buttons(driver, "Take Photo"), 90, "the camera's Take Photo button")[0].click()
        clicked = time.perf_counter()
        happy, sad = f"{EMOJI['happiness']} happiness", f"{EMOJI['sadness']} sadness"
        wait_until(lambda: happy in page_text(driver) and sad in page_text(driver), 180, "each face's emoji")
        photo_to_emoji = time.perf_counter() - clicked
        page = page_text(driver)
        assert "2 faces read in" in page
        suggest = buttons(driver, "Suggest GIFs for this face")
        assert len(suggest) == 2
        laughing = 0 if page.index(happy) < page.index(sad) else 1   # the preview may be mirrored
        suggest[laughing].click()
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
    (ARTIFACTS / "camera_timing.json").write_text(json.dumps({"photo_to_emoji_s": round(photo_to_emoji, 3)}))
    assert (ARTIFACTS / "camera.png").stat().st_size > 10_000
    assert db.read_bytes() == before   # nothing stored
