"""The dashboard in headless Chromium over the real system: it asks for an access token, says
why one is refused, takes a plan operator's from a `#token=` link, then shows health and live
rates, and a dead letter inspected and replayed through the page."""

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
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from hearth_devstack.tokens import bearer_headers, dev_keys_dir, mint

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


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], T], what: str, timeout: float = 60) -> T:
    """Poll `condition`; the page re-renders what changed every 2 s, so an element found a moment
    ago may be gone (stale): that is a reason to look again, not a failure. The timeout is only a
    deadline (the wait ends as soon as the page shows it): generous, for a loaded machine."""
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


def shown(driver: WebDriver, css: str) -> bool:
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return bool(found) and found[0].is_displayed()


def ops_token(org_type: str = "plan", scopes: tuple[str, ...] = ("ops:read",)) -> str:
    """A token from the dev key set the system's processes trust (hearth_devstack.services)."""
    return mint(
        dev_keys_dir(), client="ops-console", org=f"{org_type}-ops", org_type=org_type, scopes=list(scopes)
    )


def paste_token(driver: WebDriver, token: str) -> None:
    field = wait_for(
        driver, lambda d: shown(d, "#token-input") and d.find_element(By.ID, "token-input"), "the token form"
    )
    field.clear()
    field.send_keys(token)
    driver.find_element(By.CSS_SELECTOR, '#token-form button[type="submit"]').click()


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
    headers = bearer_headers(client="dashboard-test-referrer", scopes=["referral:write"])
    for _ in range(count):
        response = await http.post(
            f"{system.urls['referral']}/referrals",
            json={
                "member_id": f"M-{uuid.uuid4().hex[:12]}",
                "source": "aco",
                "referrer_id": "aco-1",
                "referral_date": "2026-11-02",
            },
            headers=headers,
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

    # Without a token the page shows nothing but the form that asks for one.
    browser.get(system.dashboard_url)
    wait_for(browser, lambda d: shown(d, "#sign-in") and not shown(d, "#ops"), "the token form")

    paste_token(browser, "not-a-token")
    wait_for(browser, lambda d: "was refused" in text(d, "#auth-message"), "why the token was refused (401)")
    assert shown(browser, "#sign-in")

    paste_token(browser, ops_token(scopes=("referral:read",)))
    wait_for(browser, lambda d: "ops:read" in text(d, "#auth-message"), "that the token lacks ops:read (403)")
    assert shown(browser, "#sign-in") and not shown(browser, "#ops")

    # A link minted for the plan's operator: the token leaves the address bar at once.
    token = ops_token()
    browser.get(f"{system.dashboard_url}/#token={token}")
    for name in SERVICES:
        wait_for(
            browser, lambda d, n=name: text(d, f'.card[data-service="{n}"] .status') == "ok", f"{name} ok"
        )
    assert not shown(browser, "#sign-in") and not shown(browser, "#auth-message")
    assert "token" not in browser.current_url
    assert browser.execute_script("return sessionStorage.getItem('hearth.dashboard.token')") == token

    # Rates are averaged over a short window: keep the system busy until the page shows one.
    async with httpx.AsyncClient(timeout=20) as http:
        for _ in range(10):
            await post_referrals(http, system, 5)
            try:
                wait_for(
                    browser,
                    lambda d: number(text(d, 'tr[data-topic="referral.events"] .produced-rate')) > 0,
                    "a produce rate on referral.events",
                    timeout=5,
                )
                break
            except TimeoutException:
                continue
        else:
            raise AssertionError("the page never showed a produce rate on referral.events")
    # The relay publishes each commit's events within a second: the total catches up.
    wait_for(
        browser,
        lambda d: number(text(d, '#topics tr[data-topic="referral.events"] .produced')) >= 5,
        "at least the 5 referrals produced on referral.events",
    )

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
