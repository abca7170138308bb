"""The dashboard in headless Chromium over the real system: health, live rates, a dead letter
inspected and replayed through the page."""

import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from .system import SERVICES, System

# Kept out of the tracked tree: the committed shared/dashboard/screenshot.png is documentation.
SCREENSHOT = Path(__file__).resolve().parents[3] / ".hearth" / "screenshots" / "dashboard.png"
UNDECODABLE = b"this is not a CloudEvent {"

T = TypeVar("T")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--window-size=1400,1600",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], T], what: str, timeout: float = 20) -> T:
    """Poll `condition`; the page re-renders what changed every 2 s, so an element found a moment
    ago may be gone (stale): that is a reason to look again, not a failure."""
    wait = WebDriverWait(
        driver,
        timeout,
        poll_frequency=0.2,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    )
    return wait.until(condition, f"page never showed {what}")


def text(driver: WebDriver, css: str) -> str:
    for _ in range(5):
        try:
            found = driver.find_elements(By.CSS_SELECTOR, css)
            return found[0].text if found else ""
        except StaleElementReferenceException:
            continue
    return ""


def click(driver: WebDriver, css: str) -> None:
    def clicked(d: WebDriver) -> bool:
        d.find_element(By.CSS_SELECTOR, css).click()
        return True

    wait_for(driver, clicked, f"{css} to click")


def number(value: str) -> float:
    try:
        return float(value.replace(",", ""))
    except ValueError:
        return 0.0


async def post_referrals(http: httpx.AsyncClient, system: System, count: int) -> None:
    for _ in range(count):
        response = await http.post(
            f"{system.urls['referral']}/referrals",
            json={
                "member_id": f"M-{uuid.uuid4().hex[:12]}",
                "source": "aco",
                "referrer_id": "aco-1",
                "referral_date": "2026-11-02",
            },
        )
        assert response.status_code == 201, response.text


async def test_dashboard_shows_the_live_system_and_replays_a_dead_letter(
    system: System, browser: WebDriver, tmp_path: Path
) -> None:
    bootstrap = system.infra.kafka_bootstrap
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait("referral.events", key=b"M-undecodable", value=UNDECODABLE)
    finally:
        await producer.stop()

    browser.get(system.dashboard_url)
    for name in SERVICES:
        wait_for(
            browser, lambda d, n=name: text(d, f'.card[data-service="{n}"] .status') == "ok", f"{name} ok"
        )

    async with httpx.AsyncClient(timeout=20) as http:
        await post_referrals(http, system, 5)
    wait_for(
        browser,
        lambda d: number(text(d, 'tr[data-topic="referral.events"] .produced-rate')) > 0,
        "a produce rate on referral.events",
    )
    assert number(text(browser, '#topics tr[data-topic="referral.events"] .produced')) >= 5

    # The undecodable record reaches the dead-letter topic of every group reading referral.events.
    service = wait_for(
        browser,
        lambda d: next(
            (
                r.get_attribute("data-service")
                for r in d.find_elements(By.CSS_SELECTOR, "#dead-letter-counts tbody tr")
                if number(r.find_element(By.CSS_SELECTOR, ".count").text) > 0
            ),
            None,
        ),
        "a dead letter",
    )
    click(browser, f'#dead-letter-counts tr[data-service="{service}"] button.inspect')
    dead_letter = wait_for(
        browser,
        lambda d: next(
            (
                r
                for r in d.find_elements(By.CSS_SELECTOR, "#dead-letters tr.dead-letter")
                if r.find_element(By.CSS_SELECTOR, ".from").text.startswith("referral.events")
            ),
            None,
        ),
        f"the dead letters of {service}",
    )
    assert dead_letter.find_element(By.CSS_SELECTOR, ".kind").text == "undecodable"
    assert dead_letter.find_element(By.CSS_SELECTOR, ".reason").text
    assert UNDECODABLE.decode() not in browser.page_source and "M-undecodable" not in browser.page_source

    browser.save_screenshot(str(tmp_path / "dashboard.png"))
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tmp_path / "dashboard.png", SCREENSHOT)

    before = number(text(browser, f'#dead-letter-counts tr[data-service="{service}"] .count'))
    dead_letter.find_element(By.CSS_SELECTOR, "button.replay").click()
    answer = wait_for(
        browser,
        lambda d: (t := text(d, "#replay-result")) and not t.startswith("replaying") and t,
        "the replay's answer",
    )
    assert answer.startswith("replayed"), answer
    replayed = re.search(r"to referral\.events partition (\d+) offset (\d+)", answer)
    assert replayed, answer
    assert "ce_source + ce_id" in answer

    # The record is back on its topic as first published, without the dead-letter headers...
    tp = TopicPartition("referral.events", int(replayed[1]))
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, int(replayed[2]))
        record = await consumer.getone(tp)
    finally:
        await consumer.stop()
    assert (record.key, record.value) == (b"M-undecodable", UNDECODABLE)
    assert not [k for k, _ in record.headers if k.startswith("hearth_dlq_")]

    # ...and the consumers read it again: still undecodable, it is dead-lettered once more.
    wait_for(
        browser,
        lambda d: number(text(d, f'#dead-letter-counts tr[data-service="{service}"] .count')) > before,
        f"the replayed record dead-lettered again by {service}",
    )
