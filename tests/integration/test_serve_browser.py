"""The page in a real headless Chromium (Debian's chromium + chromium-driver, driven by selenium):
the token asked for once, a question asked with the keyboard, the streamed answer, the drawn
subgraph, a node's details with source lines, and the narrow layout. Screenshots go to
``tmp_path`` (and to ``$KGQA_SCREENSHOTS`` when set, for a person to look at)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline.serve.auth import TokenStore
from tests.serve.live import index_world, live_server

webdriver = pytest.importorskip("selenium.webdriver", reason="install the test extras: pip install -e '.[test]'")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.live]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    if not CHROMIUM or not DRIVER:
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-extensions", f"--user-data-dir={tmp_path / 'chromium'}",
                 "--window-size=1280,900"):
        options.add_argument(flag)
    driver: WebDriver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def shoot(driver: WebDriver, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    if os.environ.get("KGQA_SCREENSHOTS"):
        shutil.copy(path, Path(os.environ["KGQA_SCREENSHOTS"]) / name)


def test_ask_in_the_page_and_see_the_cited_graph(browser: WebDriver, tmp_path: Path) -> None:
    driver = browser
    kb = index_world(tmp_path / "kb")
    token = TokenStore(kb).create("browser", "admin")
    with live_server(kb) as live:
        driver.get(live.url + "/")
        wait = WebDriverWait(driver, 20)
        field = wait.until(ec.visibility_of_element_located((By.ID, "token-input")))  # the 401 asks for it
        field.send_keys(token, Keys.ENTER)
        wait.until(ec.text_to_be_present_in_element((By.ID, "kb-stats"), "4442 triples"))
        assert driver.find_element(By.ID, "tab-sources").is_displayed()
        question = driver.find_element(By.ID, "question")
        question.send_keys("What is the capital of France?", Keys.ENTER)  # keyboard only
        answer = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#log li.bot[data-answer-id]")))
        assert "The answer is Paris" in answer.text and "Reasoning:" in answer.text and "world.nt:" in answer.text
        answer_id = answer.get_attribute("data-answer-id")
        recorded = httpx.get(f"{live.url}/v1/answers/{answer_id}", headers={"Authorization": f"Bearer {token}"}).json()
        wanted = set(recorded["cited"]) | {n for a in recorded["answers"] for n in a["citations"]}
        paths = [c for c in recorded["citations"] if c["kind"] == "path"]
        shown = [c for c in paths if c["number"] in wanted] or paths
        nodes = {n for c in shown for n in c["nodes"]}
        graph = driver.find_element(By.ID, "graph")
        assert int(graph.get_attribute("data-nodes") or 0) == len(nodes) >= 2
        assert driver.execute_script("return state.cy.nodes().length") == len(nodes)
        paris = next(b for b in driver.find_elements(By.CSS_SELECTOR, "#graph-nodes button")
                     if b.text == "Paris")
        paris.send_keys(Keys.ENTER)
        wait.until(ec.text_to_be_present_in_element((By.ID, "details"), "world.nt:"))
        assert "capital of" in driver.find_element(By.ID, "details").text
        answer.find_element(By.CSS_SELECTOR, "button.cite").click()
        assert driver.execute_script("return state.cy.$('.hl').length") > 0
        answer.find_element(By.XPATH, ".//button[contains(., 'Wrong')]").send_keys(Keys.ENTER)  # feedback
        answer.find_element(By.CSS_SELECTOR, "input[aria-label=correction]").send_keys("Lutetia")
        answer.find_element(By.XPATH, ".//button[.='Send']").send_keys(Keys.ENTER)
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "#log li.bot [role=status]"), "Thanks"))
        assert 'kgqa_feedback_total{correct="false"} 1.0' in httpx.get(live.url + "/metrics").text
        driver.find_element(By.ID, "search").send_keys("Germany", Keys.ENTER)  # the search box
        wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#search-results button.candidate"))).send_keys(
            Keys.ENTER)
        wait.until(ec.text_to_be_present_in_element((By.ID, "details"), "Berlin"))
        shoot(driver, tmp_path, "serve-page-wide.png")
        driver.find_element(By.ID, "tab-sources").click()  # an admin token sees the sources view
        wait.until(ec.text_to_be_present_in_element((By.ID, "source-rows"), "world.nt"))
        driver.find_element(By.ID, "tab-chat").send_keys(Keys.ENTER)
        follow = wait.until(ec.element_to_be_clickable((By.XPATH, "//button[starts-with(., 'What about ')]")))
        place = follow.text[len("What about "):-1]
        follow.send_keys(Keys.ENTER)  # a follow-up button: the session asks the capital of the neighbour
        second = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#log li.bot[data-answer-id]")[1:])[0]
        assert second.text.startswith("The answer is") and "Paris" not in second.text.split("\n")[0], place
        assert "its " in driver.find_element(By.CSS_SELECTOR, ".follow-ups").text  # "And its <relation>?"
        shoot(driver, tmp_path, "serve-page-follow-up.png")
        driver.set_window_size(420, 900)
        fits = "return document.documentElement.scrollWidth <= window.innerWidth"
        WebDriverWait(driver, 5).until(lambda d: d.execute_script(fits))  # cytoscape resizes a moment later
        inner, width = driver.execute_script(
            "return [window.innerWidth, document.documentElement.scrollWidth]")
        wide = driver.execute_script(
            "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > "
            "window.innerWidth + 1).map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 8)")
        assert width <= inner, wide  # nothing wider than a narrow screen
        shoot(driver, tmp_path, "serve-page-narrow.png")
