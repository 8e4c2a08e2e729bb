"""The search page in a real browser: headless Chromium types a query and sees results.

Needs the Debian packages `chromium` and `chromium-driver` (`make test` installs them
when it runs as root); skipped, with the reason, where they are missing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from serving_helpers import FakeEncoder, make_project, serve_in_thread

from seekcode.index.watch import update
from seekcode.server import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

pytestmark = [
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                       reason=f"{CHROMIUM} missing: apt-get install chromium chromium-driver"),
    pytest.mark.skipif(not os.access(CHROMEDRIVER, os.X_OK),
                       reason=f"{CHROMEDRIVER} missing: apt-get install chromium-driver"),
]


@pytest.fixture
def browser(tmp_path: Path):  # type: ignore[no-untyped-def]
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not go online
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium-profile'}",
                 "--window-size=1200,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def test_type_a_query_and_see_highlighted_results(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    root = make_project(tmp_path / "proj")
    update(root, tmp_path / "idx", FakeEncoder())
    with serve_in_thread(create_app(tmp_path / "idx", FakeEncoder())) as url:
        browser.get(url + "/")
        box = browser.find_element(By.NAME, "q")
        box.send_keys("compute the md5 digest of a file")
        Select(browser.find_element(By.NAME, "lang")).select_by_value("python")
        box.submit()
        WebDriverWait(browser, 20).until(ec.presence_of_element_located((By.ID, "summary")))

        hits = browser.find_elements(By.CSS_SELECTOR, "article.hit")
        assert hits, browser.page_source[:2000]
        first = hits[0]
        assert first.find_element(By.CSS_SELECTOR, ".loc").text == "tools/hashing.py:4-8"
        assert first.find_element(By.CSS_SELECTOR, ".fn").text == "md5_of_file"
        assert first.find_element(By.CSS_SELECTOR, ".lang").text == "python"
        assert float(first.find_element(By.CSS_SELECTOR, ".score").text) > 0
        # Highlighted: the `def` keyword is its own coloured token, line numbers are the file's.
        keyword = first.find_element(By.CSS_SELECTOR, ".hl span.k")
        assert keyword.text == "def"
        assert keyword.value_of_css_property("color") not in ("rgba(0, 0, 0, 1)", "rgb(0, 0, 0)")
        assert first.find_element(By.CSS_SELECTOR, ".hl .linenos").text.strip() == "4"
        assert browser.find_element(By.ID, "latency").text.endswith(" ms")
        assert "lang=python" in browser.current_url  # filters are part of the shareable URL

        # A path filter that matches nothing says so instead of showing stale results.
        path = browser.find_element(By.NAME, "path")
        path.clear()
        path.send_keys("nowhere/*.py")
        path.submit()
        WebDriverWait(browser, 20).until(ec.text_to_be_present_in_element(
            (By.TAG_NAME, "main"), "No function matches these filters."))
        assert not browser.find_elements(By.CSS_SELECTOR, "article.hit")
