"""End to end in a real headless browser: start the app on localhost with the tiny model,
click twice, see the overlay change, add a second object, export, check the COCO file.

Needs Chromium and its driver (Debian: ``apt-get install chromium chromium-driver``) and
the ``selenium`` client; skipped with the reason when they are missing, unless
``SAM2_HF_REQUIRE_BROWSER=1`` (CI), which makes that an error. Screenshots go to the test's
tmp dir, and also to ``$SAM2_HF_APP_SCREENSHOT`` when that is set.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from app_helpers import picture
from PIL import Image

import sam2_hf.app

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DRIVERS = ("chromedriver", "/usr/lib/chromium/chromedriver")
TIMEOUT_S = 90  # a loaded 2-core machine; each step takes well under a second alone
# CI sets this so that a missing browser fails the run instead of skipping the test.
REQUIRED = os.environ.get("SAM2_HF_REQUIRE_BROWSER") == "1"


def _find(names: tuple[str, ...]) -> str | None:
    for name in names:
        found = shutil.which(name) or (name if os.path.isfile(name) else None)
        if found:
            return found
    return None


def _missing() -> str | None:
    """Why the test cannot run here, or None."""
    for module, install in (
        ("gradio", "pip install 'sam2-hf[app]'"),
        ("selenium", "pip install selenium"),
    ):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed ({install})"
    if _find(BROWSERS) is None or _find(DRIVERS) is None:
        return "no Chromium and chromedriver (apt-get install chromium chromium-driver)"
    return None


MISSING = _missing()
if MISSING and REQUIRED:
    raise RuntimeError(f"SAM2_HF_REQUIRE_BROWSER=1 but {MISSING}")
if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

BROWSER, DRIVER = _find(BROWSERS), _find(DRIVERS)
# Gradio's queue calls pandas options that pandas 3 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:::gradio.queueing")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def start(monkeypatch) -> Iterator[Callable[..., str]]:
    """Starts the app on 127.0.0.1 (a free port); every app started is stopped at the end."""
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    running: list[sam2_hf.app.RunningApp] = []

    def start_app(folder: Path, model: Path) -> str:
        app = sam2_hf.app.launch(
            folder,
            model=model,
            device="cpu",
            port=free_port(),
            prevent_thread_lock=True,
            quiet=True,
        )
        running.append(app)
        assert app.url is not None and app.url.startswith("http://127.0.0.1:")
        return app.url

    try:
        yield start_app
    finally:
        for app in running:
            app.close()


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    """A folder with one generated 256x192 image."""
    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(picture(192, 256)).save(folder / "scene.png")
    return folder


@pytest.fixture
def browser() -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=webdriver.ChromeService(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver: Any, condition: Callable[[Any], Any], what: str) -> Any:
    def check(d: Any) -> Any:
        try:
            return condition(d)
        except StaleElementReferenceException:  # the page re-rendered under us
            return False

    return WebDriverWait(driver, TIMEOUT_S).until(check, message=f"waiting for {what}")


def status(driver: Any) -> str:
    return driver.find_element(By.ID, "sam2-status").text


def canvas(driver: Any) -> Any:
    return driver.find_element(By.CSS_SELECTOR, "#sam2-canvas img")


def canvas_pixels(driver: Any) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(canvas(driver).screenshot_as_png)).convert("RGB"))


def click_canvas(driver: Any, fx: float, fy: float, *, new_frame: bool = True) -> None:
    """Click at a fraction (fx, fy) of the drawn frame and wait for the next frame."""
    image = canvas(driver)
    source = image.get_attribute("src")
    # Gradio draws the frame centred in the <img> box, never enlarged (object-fit:
    # scale-down); find where it is as Gradio's own click handler does.
    box_width, box_height, natural_width, natural_height = driver.execute_script(
        "const i = arguments[0], r = i.getBoundingClientRect();"
        "return [r.width, r.height, i.naturalWidth, i.naturalHeight];",
        image,
    )
    scale = min(box_width / natural_width, box_height / natural_height, 1.0)
    # Selenium 4 offsets are from the element's centre.
    ActionChains(driver).move_to_element_with_offset(
        image, round((fx - 0.5) * natural_width * scale), round((fy - 0.5) * natural_height * scale)
    ).click().perform()
    if new_frame:
        wait(driver, lambda d: canvas(d).get_attribute("src") != source, "the next frame")


def screenshot(driver: Any, path: Path) -> None:
    driver.save_screenshot(str(path))
    extra = os.environ.get("SAM2_HF_APP_SCREENSHOT")
    if extra:
        shutil.copyfile(path, extra)


def test_click_segment_add_object_and_export(start, scene, browser, image_checkpoint, tmp_path):
    folder = scene
    browser.get(start(folder, image_checkpoint))
    wait(browser, lambda d: "scene.png (1/1)" in status(d), "the first image")
    wait(browser, lambda d: "loading" not in status(d), "the model")
    assert "could not" not in status(browser)
    before = canvas_pixels(browser)

    click_canvas(browser, 0.55, 0.40)
    wait(browser, lambda d: "click added" in status(d), "the first mask")
    click_canvas(browser, 0.65, 0.45)
    after = canvas_pixels(browser)
    browser.save_screenshot(str(tmp_path / "app_after_clicks.png"))

    assert before.shape == after.shape
    changed = np.any(np.abs(after.astype(int) - before.astype(int)) > 30, axis=2)
    assert changed.mean() > 0.01, "the overlay did not change the rendered image"
    state_file = folder / "sam2-hf-annotations" / "sam2-hf-annotations.json"
    (saved,) = json.loads(state_file.read_text())["images"]["scene.png"]["objects"]
    assert len(saved["prompts"]) == 2 and saved["category"] == "object"  # saved as we went

    # A second object, of another category.
    browser.find_element(By.ID, "sam2-new").click()
    wait(browser, lambda d: "new" in status(d), "a new object")
    category = browser.find_element(
        By.CSS_SELECTOR, "#sam2-category textarea, #sam2-category input"
    )
    category.clear()
    category.send_keys("dog")
    click_canvas(browser, 0.15, 0.80)
    wait(browser, lambda d: "2 objects" in status(d), "the second object")

    # Export.
    browser.find_element(By.XPATH, "//*[@id='sam2-export-panel']//button[1]").click()
    export = wait(browser, lambda d: d.find_element(By.ID, "sam2-export"), "the export button")
    wait(browser, lambda d: export.is_displayed(), "the export panel")
    export.click()
    wait(browser, lambda d: "Exported 2 objects" in status(d), "the export")
    screenshot(browser, tmp_path / "app_after_export.png")

    coco = json.loads((folder / "sam2-hf-annotations" / "coco.json").read_text())
    assert [image["file_name"] for image in coco["images"]] == ["scene.png"]
    assert (coco["images"][0]["height"], coco["images"][0]["width"]) == (192, 256)
    names = {c["id"]: c["name"] for c in coco["categories"]}
    assert sorted(names[a["category_id"]] for a in coco["annotations"]) == ["dog", "object"]
    assert (folder / "sam2-hf-annotations" / "masks" / "scene" / "002_dog.png").exists()


def test_a_model_that_cannot_load_is_reported_in_the_page(start, scene, browser, tmp_path):
    browser.get(start(scene, tmp_path / "no-such-model"))
    wait(browser, lambda d: "could not be loaded" in status(d), "the model error")
    click_canvas(browser, 0.5, 0.5, new_frame=False)
    browser.find_element(By.ID, "sam2-next").click()  # the server still answers
    wait(browser, lambda d: "This is the last image" in status(d), "an answer after the click")
    assert "could not be loaded" in status(browser) and "0 objects" in status(browser)
