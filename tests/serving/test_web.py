"""The web app in a real headless browser (the system's Chromium driven by Playwright): the runs
browser, the paired comparison, an upload's probabilities, a long recording's timeline, an
error shown on the page, and a recording from the (fake) microphone."""

import shutil

import pytest
from tests.inference.test_timeline import recording, tones_corpus, tones_run
from tests.serving.test_app import clip, serve_in_thread

from emotransfer.serving.app import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (apt install chromium)")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Two runs on the same clips (logistic regression, SVM) behind the app."""
    root = tones_corpus(tmp_path_factory.mktemp("tones"))
    output = tmp_path_factory.mktemp("runs")
    runs = [tones_run(root, output), tones_run(root, output, "head.name=svm", name="tones_svm")]
    with serve_in_thread(create_app(runs)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        ])  # fmt: skip
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, site):
    context = browser.new_context(permissions=["microphone"])
    page = context.new_page()
    page.goto(site)
    page.wait_for_selector("body[data-ready='1']", timeout=20000)
    yield page
    context.close()


def test_the_runs_browser_lists_filters_and_compares_two_runs(page):
    rows = page.locator("#runs tbody tr")
    assert rows.count() == 2
    assert "[" in rows.nth(0).locator("td").nth(5).inner_text()  # UAR [low, high]
    page.fill("#filter", "svm")
    assert rows.count() == 1 and rows.nth(0).get_attribute("data-run") == "tones_svm"
    page.fill("#filter", "")
    assert page.is_disabled("#compare")
    for number in range(2):
        rows.nth(number).locator("input[type=checkbox]").check()
    page.click("#compare")
    page.wait_for_selector("#difference")
    difference = page.inner_text("#difference")
    assert difference.startswith("UAR difference") and "[" in difference and "," in difference
    assert "McNemar p = " in page.inner_text("#mcnemar")
    report = rows.nth(0).locator("a").get_attribute("href")
    assert report == "/runs/tones/report"


def test_an_upload_shows_its_probabilities_and_a_long_one_its_timeline(page, tmp_path):
    page.click("#tab-live")
    (tmp_path / "beep.wav").write_bytes(clip(True))
    page.set_input_files("#audio", str(tmp_path / "beep.wav"))
    page.click("#predict")
    page.wait_for_function("document.querySelector('#predicted').textContent !== ''")
    assert page.inner_text("#predicted") == "beep"
    assert page.locator(".bar").count() == 2
    assert float(page.locator(".bar[data-class=beep] .value").inner_text()) > 0.9

    page.check("#long")
    page.set_input_files("#audio", recording(tmp_path / "long.wav"))
    page.click("#predict")
    page.wait_for_selector("#timeline polyline")
    assert page.locator("#timeline polyline").count() == 2
    assert "windows over 10.0 s" in page.inner_text("#summary")

    page.uncheck("#long")
    (tmp_path / "notes.wav").write_bytes(b"not audio at all")
    page.set_input_files("#audio", str(tmp_path / "notes.wav"))
    page.click("#predict")
    page.wait_for_selector("#status.error")
    assert page.inner_text("#status").startswith("422: ") and "notes.wav" in page.inner_text(
        "#status")  # fmt: skip


def test_a_recording_from_the_microphone_is_predicted(page):
    page.click("#tab-live")
    page.click("#record")
    page.wait_for_function("document.querySelector('#status').textContent === 'recording ...'")
    page.wait_for_timeout(1500)
    page.click("#stop")
    page.wait_for_function(
        "document.querySelector('#status').textContent.startsWith('recording.wav')"
    )
    assert page.inner_text("#predicted") in ("beep", "hush")
