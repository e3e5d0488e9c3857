"""A real browser for the tests of the HTML pages: Debian's headless Chromium driven by selenium.

Nothing is downloaded: selenium is pointed at ``/usr/bin/chromium`` and ``/usr/bin/chromedriver``
(Debian's ``chromium`` and ``chromium-driver``, which ``.ci/run`` installs). Where they are
absent, the tests that need a browser skip and say so.
"""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER_PATHS = ("/usr/bin/chromedriver",)
# Flags for a closed network and a root user: no sandbox of Chromium's own (it refuses root),
# and none of the background connections this machine's network refuses.
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars")
WINDOW = (1024, 768)  # the width the pages must fit without horizontal scrolling


def first_existing(paths: tuple[str, ...]) -> str | None:
    """The first of ``paths`` that is a file, or None."""
    return next((path for path in paths if Path(path).is_file()), None)


@pytest.fixture(scope="session")
def browser() -> Iterator["selenium.webdriver.Chrome"]:  # noqa: F821
    """Headless Chromium at 1024 x 768; skips where Chromium, its driver or selenium is missing."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e .[test])")
    chromium, driver = first_existing(CHROMIUM_PATHS), first_existing(CHROMEDRIVER_PATHS)
    if chromium is None or driver is None:
        pytest.skip("no browser: install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="autograder-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}"):
        options.add_argument(flag)
    chrome = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))
    try:
        yield chrome
    finally:
        chrome.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_page(chrome, path: Path) -> None:
    """Load the local HTML file at ``path`` and wait until it has finished loading."""
    chrome.get(path.resolve().as_uri())
    chrome.execute_script("return document.readyState")


def page_facts(chrome) -> dict[str, object]:
    """What a person sees of the loaded page, as numbers and text.

    ``text``: the visible text; ``height``/``scroll_width``/``client_width``: CSS pixels;
    ``images``: for each ``<img>``, its alt text and whether it loaded (natural width > 0).
    """
    return chrome.execute_script("""
        const root = document.documentElement;
        return {
            text: document.body.innerText,
            height: root.scrollHeight,
            scroll_width: root.scrollWidth,
            client_width: root.clientWidth,
            images: Array.from(document.images).map(img => ({alt: img.alt, loaded: img.complete && img.naturalWidth > 0})),
        };
    """)


def screenshot(chrome, path: Path) -> Path:
    """A PNG of the whole page (resized to its full height) at ``path``."""
    height = chrome.execute_script("return document.documentElement.scrollHeight")
    chrome.set_window_size(WINDOW[0], max(WINDOW[1], min(int(height) + 120, 16000)))
    chrome.save_screenshot(str(path))
    chrome.set_window_size(*WINDOW)
    return path
