"""`s2f app` in a real browser: Debian's headless Chromium, driven by Selenium through chromedriver, with a fake
microphone that plays a speech WAV. Screenshots are saved under reports/app/ (not versioned)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from flows.server import free_port
from tests.conftest import PROJECT, espeak_wav

SCREENSHOTS = PROJECT / "reports" / "app"
SPEECH = ("Hello, this is a recording for the speech to face page. I keep speaking for several seconds, "
          "so that the page has enough of my voice to draw a face from it.")


@pytest.fixture
def app_url(tiny_models: Path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "app", "--models", str(tiny_models),
                             "--port", str(port)], cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{url}/api/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[1]
                time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def browser(tmp_path: Path):
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "chromium and chromium-driver are missing: `make setup` installs them"
    mic = espeak_wav(tmp_path / "mic.wav", SPEECH)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,1500",
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={mic}", "--autoplay-policy=no-user-gesture-required",
                f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(arg)
    chrome = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    try:
        yield chrome
    finally:
        chrome.quit()


def _shown(browser: webdriver.Chrome, css: str) -> bool:
    return any(e.is_displayed() for e in browser.find_elements(By.CSS_SELECTOR, css))


def test_record_from_the_microphone_then_upload_a_video(app_url: str, browser: webdriver.Chrome,
                                                        tiny_clips: list[Path]):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    wait = WebDriverWait(browser, 60)
    browser.get(app_url)
    wait.until(lambda b: "synthetic corpus" in b.find_element(By.ID, "note").text)
    assert "R@10" in browser.find_element(By.ID, "scores").text  # the test scores, read from reports/metrics.json

    browser.find_element(By.ID, "record").click()
    wait.until(lambda b: float(b.find_element(By.ID, "timer").text.split()[0]) > 0.5)
    levels = []
    for _ in range(30):  # about 4.5 s of speech from the fake microphone
        levels.append(browser.execute_script("return parseFloat(document.getElementById('level').style.width)"))
        time.sleep(0.15)
    assert max(levels) > 10, levels  # the level meter moved with the voice
    browser.find_element(By.ID, "stop").click()
    wait.until(lambda b: (b.find_element(By.ID, "face").get_attribute("src") or "").startswith("data:image/png"))
    assert browser.find_element(By.ID, "status").get_attribute("class") != "error"
    bars = browser.find_elements(By.CSS_SELECTOR, "#attributes .bar")
    assert len(bars) >= 2 and all(b.is_displayed() for b in bars)
    assert browser.execute_script("const img = document.getElementById('face'); "
                                  "return img.complete && img.naturalWidth") == 256
    assert "speech window used" in browser.find_element(By.ID, "window").text
    assert not _shown(browser, "#compare-box")  # a voice alone has no real face to compare
    browser.save_screenshot(str(SCREENSHOTS / "record.png"))

    browser.find_element(By.ID, "file").send_keys(str(tiny_clips[0]))
    wait.until(lambda b: _shown(b, "#compare-box"))
    assert browser.execute_script("const img = document.getElementById('compare'); "
                                  "return img.complete && img.naturalWidth") == 3 * 256
    assert len(browser.find_elements(By.CSS_SELECTOR, "#history figure")) == 2  # both predictions, side by side
    browser.save_screenshot(str(SCREENSHOTS / "compare.png"))
