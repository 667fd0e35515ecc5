"""explore.py's page in a real browser: headless Chromium driven by Selenium (Debian's
chromium and chromium-driver, installed by the README's test command)."""
import os
import shutil
import threading
import time
import urllib.request

import pytest

import explore
from test_explore import files  # noqa: F401  (the module's checkpoint fixture)

webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
pytestmark = pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                                reason="needs Debian's chromium and chromium-driver")
# STYLEGAN_SCREENSHOTS=1 writes the README's picture; otherwise it goes to a temporary folder
DOCS_SCREENSHOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                               "docs", "explorer.png")


@pytest.fixture(scope="module")
def site(files):  # noqa: F811
    # STYLEGAN_SCREENSHOT_MODEL=CKPT puts a trained checkpoint first, for the README's picture
    # (its w has another size than the fixtures': the direction slider is left out then)
    shown = os.environ.get("STYLEGAN_SCREENSHOT_MODEL")
    directions = [] if shown else ["--directions", files["direction"]]
    args = explore.parse_args([*([shown] if shown else []), files["ours"], files["rosinality"],
                               files["conditional"], *directions, "--port", "0", "--device",
                               "cpu"])
    httpd = explore.serve(explore.build(args), "127.0.0.1", 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not look for drivers online
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1100,900", "--disable-gpu"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def shown_bytes(driver):
    """The bytes of the image on show, fetched again from its address (the server renders
    the same settings to the same bytes)."""
    with urllib.request.urlopen(driver.find_element(By.ID, "image").get_attribute("src")) as r:
        return r.read()


def wait_for_image(driver, previous_src=None, timeout=60):
    def ready(d):
        image = d.find_element(By.ID, "image")
        src = image.get_attribute("src")
        complete = d.execute_script("return arguments[0].complete && arguments[0].naturalWidth",
                                    image)
        return src and src != previous_src and complete
    WebDriverWait(driver, timeout).until(ready)
    return driver.find_element(By.ID, "image").get_attribute("src")


def set_input(driver, element_id, text):
    """Type into a field and leave it, as a user does (one change event)."""
    field = driver.find_element(By.ID, element_id)
    driver.execute_script("arguments[0].value = ''", field)
    field.send_keys(text + Keys.TAB)


def test_the_page_in_chromium(site, browser, tmp_path):
    driver = browser
    driver.get(site + "/?seed=3")
    first_src = wait_for_image(driver)
    first = shown_bytes(driver)

    # a new seed changes the image; going back gives the first image again
    set_input(driver, "seed", "4")
    second_src = wait_for_image(driver, first_src)
    assert "seed=4" in driver.current_url and shown_bytes(driver) != first
    driver.back()
    wait_for_image(driver, second_src)
    assert "seed=3" in driver.current_url and shown_bytes(driver) == first

    # a mixing preset changes the image and the address; reloading restores both
    src = driver.find_element(By.ID, "image").get_attribute("src")
    driver.find_element(By.CSS_SELECTOR, "[data-preset=coarse]").click()
    mixed_src = wait_for_image(driver, src)
    mixed, address = shown_bytes(driver), driver.current_url
    assert "blocks=0%2C1" in address and mixed != first
    driver.refresh()
    wait_for_image(driver)
    assert driver.current_url == address and shown_bytes(driver) == mixed
    assert driver.find_element(By.CSS_SELECTOR, "#blocks input[value='0']").is_selected()

    # after 20 quick slider moves the image is the last value's
    src = driver.find_element(By.ID, "image").get_attribute("src")
    driver.execute_script("""
        const slider = document.getElementById('psi');
        for (let i = 0; i < 20; i++) {
          slider.value = String(-1 + 0.1 * i);
          slider.dispatchEvent(new Event('input'));
        }""")
    WebDriverWait(driver, 60).until(
        lambda d: "psi=0.9" in d.find_element(By.ID, "image").get_attribute("src"))
    wait_for_image(driver, src)
    time.sleep(1)  # any stale answer would arrive by now
    src = driver.find_element(By.ID, "image").get_attribute("src")
    assert "psi=0.9" in src
    expected = urllib.request.urlopen(site + "/api/render?seed=3&psi=0.9&blocks=0,1").read()
    assert shown_bytes(driver) == expected, src

    # no console errors so far; every request went to this server
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    names = driver.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)")
    assert names and all(name.startswith(site + "/") for name in names), names

    # the screenshot the README shows
    screenshot = str(tmp_path / "explorer.png")
    assert driver.save_screenshot(screenshot) and os.path.getsize(screenshot) > 10_000
    if os.environ.get("STYLEGAN_SCREENSHOTS") == "1":
        shutil.copyfile(screenshot, DOCS_SCREENSHOT)

    # an invalid seed shows the error and keeps the last image
    kept = driver.find_element(By.ID, "image").get_attribute("src")
    set_input(driver, "seed", "12x")
    WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "error").is_displayed())
    assert driver.find_element(By.ID, "error").text == "seed: '12x' is not a whole number"
    assert driver.find_element(By.ID, "image").get_attribute("src") == kept

    # a conditional checkpoint shows its classes; the chosen class is in the address
    if not os.environ.get("STYLEGAN_SCREENSHOT_MODEL"):  # the fixture's first: unconditional
        assert not driver.find_element(By.ID, "class_box").is_displayed()
    set_input(driver, "seed", "3")
    src = wait_for_image(driver, kept)
    Select(driver.find_element(By.ID, "model")).select_by_value("classes.model")
    src = wait_for_image(driver, src)
    assert driver.find_element(By.ID, "class_box").is_displayed()
    options = [o.text for o in driver.find_elements(By.CSS_SELECTOR, "#class option")]
    assert options == ["0: cat", "1: dog", "2: bird"]
    Select(driver.find_element(By.ID, "class")).select_by_value("2")
    wait_for_image(driver, src)
    address = driver.current_url
    assert "model=classes.model" in address and "class=2" in address
    bird = shown_bytes(driver)
    driver.refresh()
    wait_for_image(driver)
    assert driver.find_element(By.ID, "class").get_attribute("value") == "2"
    assert shown_bytes(driver) == bird
    query = address.split("?", 1)[1]
    assert bird == urllib.request.urlopen(site + "/api/render?" + query).read()
