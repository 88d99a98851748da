"""Losing the live connection: the status in the top bar counts down to the next attempt and,
while it does, is a button that reconnects at once; a server that restarts (closing its
sockets with 1001) is asked again at the backoff's first step.

The restart has a server of its own (see Server in support.py): stopping the shared one
would cut off every other page. The keyboard test takes bob's network away instead.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from support import Api

STATUS = "[data-testid=connection-status]"

# Every change of the status (state or attempt), as it was right after it, with what a
# screen reader and the keyboard get of it and what the live region last said.
WATCH_STATUS = """
const status = document.getElementById('connection-status');
window.statusLog = [];
new MutationObserver(() => window.statusLog.push({
  state: status.dataset.state,
  attempt: Number(status.dataset.attempt),
  text: status.textContent,
  role: status.getAttribute('role'),
  tabIndex: status.tabIndex,
  said: document.getElementById('connection-announcement').textContent,
})).observe(status, {attributes: true, attributeFilter: ['data-state', 'data-attempt']});
"""


def status_log(page) -> list[dict]:
    return page.driver.execute_script("return window.statusLog")


def attempt(page) -> int:
    return int(page.find(STATUS).get_attribute("data-attempt"))


def seconds_left(page) -> int | None:
    """The countdown to the next attempt, if the status shows one."""
    status = page.find(STATUS)
    match = re.fullmatch(r"Retry in (\d+) s", status.text) if status.get_attribute("data-state") == "reconnecting" else None
    return int(match[1]) if match else None


def assert_just_a_status(page) -> None:
    """Not a control: no button to a screen reader, out of the tab order, no pointer, and a
    click changes nothing."""
    assert page.accessible(STATUS)["role"] != "button"
    status = page.find(STATUS)
    assert page.driver.execute_script("return arguments[0].tabIndex", status) < 0
    assert status.value_of_css_property("cursor") != "pointer"
    before = len(status_log(page))
    status.click()
    # A click is handled before the next script runs: anything it started is in the log.
    assert status_log(page)[before:] == []
    assert status.get_attribute("data-state") == "open"


def test_after_a_server_restart_a_click_on_the_status_reconnects_at_once(own_server, page_on):
    alice_api = Api(own_server.url, own_server.token("alice"))
    bob_token = own_server.token("bob")
    chat = alice_api.create_chat("Through a restart")["id"]
    Api(own_server.url, bob_token).join(chat)
    alice_api.post(chat, "Before the restart")
    bob = page_on(own_server, "bob")
    bob.open()
    bob.sign_in(bob_token)
    bob.open_chat(chat)
    bob.wait_message("Before the restart")
    bob.driver.execute_script(WATCH_STATUS)
    assert_just_a_status(bob)

    own_server.stop()
    bob.attribute_is(STATUS, "data-state", "reconnecting")
    # The first attempt comes at the backoff's first step.
    first = next(entry for entry in status_log(bob) if entry["state"] == "reconnecting")
    assert (first["attempt"], first["text"]) == (1, "Retry in 1 s"), first
    # Attempts against a server that is down back off, to the 15 s cap at the sixth: room
    # for a slow machine to start the server while the timer still has seconds to run.
    bob.until(lambda d: attempt(bob) >= 6, "the retries never backed off to 15 s", seconds=30)
    own_server.start()
    alice_api.post(chat, "Posted while bob waited")

    left = seconds_left(bob)
    assert left is not None and left >= 3, \
        f"the server took too long to start for a click to be told from the timer (status: {bob.text_of(STATUS)!r})"
    assert bob.accessible(STATUS)["name"] == "Reconnect now"
    before = len(status_log(bob))
    clicked = time.monotonic()
    bob.find(STATUS).click()
    # The click itself connects (the timer was seconds off), and what is connecting is no button.
    started = status_log(bob)[before:]
    assert started and started[0]["state"] == "connecting", started
    assert started[0]["role"] != "button" and started[0]["tabIndex"] < 0, started[0]
    bob.wait_live()
    assert time.monotonic() - clicked < left - 1, "not live before the timer would have fired"
    # A screen reader was told of the outage once, whatever the attempts, and of its end.
    said = [entry["said"] for entry in status_log(bob)]
    assert set(said[:-1]) == {"Connection lost. Reconnecting…"} and said[-1] == "Live", said
    bob.wait_subscribed(chat)
    bob.wait_message("Posted while bob waited")
    assert bob.message_texts() == ["Before the restart", "Posted while bob waited"]
    assert_just_a_status(bob)

    # A restart soon after this connection opened, deep in the backoff, is still asked
    # again at the first step: the server had answered, then said it was going away (1001).
    assert attempt(bob) >= 5
    bob.attribute_is("#app", "data-notifications", "live")
    before = len(status_log(bob))
    own_server.stop()
    bob.attribute_is(STATUS, "data-state", "reconnecting")
    first = next(entry for entry in status_log(bob)[before:] if entry["state"] == "reconnecting")
    assert (first["attempt"], first["text"]) == (1, "Retry in 1 s"), first
    own_server.start()
    bob.wait_live(seconds=20)
    bob.wait_subscribed(chat)
    alice_api.post(chat, "After the second restart")
    bob.wait_message("After the second restart")


def test_a_chat_the_server_came_back_without_is_said_to_be_gone(own_server, page_on, tmp_path):
    alice_token = own_server.token("alice")
    alice_api = Api(own_server.url, alice_token)
    chat = alice_api.create_chat("Only in the newer data")["id"]
    alice_api.post(chat, "Soon to be forgotten")
    alice = page_on(own_server, "alice")
    alice.open()
    alice.sign_in(alice_token)
    alice.open_chat(chat)
    alice.wait_message("Soon to be forgotten")

    # Back on data from before the chat (an older backup): the same secret, so the same token.
    own_server.stop()
    older = tmp_path / "older-data"
    older.mkdir(mode=0o700)
    shutil.copy2(own_server.data / "jwt-secret", older / "jwt-secret")
    own_server.data = older
    own_server.start()
    alice.until(lambda d: "This chat does not exist" in d.find_element(By.ID, "error-text").text,
                "the page never said the chat was gone", seconds=30)
    alice.until(lambda d: not d.find_element(By.ID, "chat-pane").is_displayed(), "the gone chat stayed open")
    assert not alice.find("[data-testid=composer]").is_displayed()
    assert not alice.driver.find_elements(By.CSS_SELECTOR, f"[data-testid=chat-item][data-chat-id='{chat}']")


def test_messages_the_server_lost_in_a_restore_leave_the_page(own_server, page_on, tmp_path):
    alice_token = own_server.token("alice")
    alice_api = Api(own_server.url, alice_token)
    chat = alice_api.create_chat("Restored")["id"]
    alice_api.post(chat, "Kept by the backup")
    own_server.stop()
    backup = tmp_path / "backup"
    subprocess.run([str(own_server.settings.binary), "backup", "--data-dir", str(own_server.data), "--to", str(backup)],
                   check=True, capture_output=True)
    own_server.start()
    alice = page_on(own_server, "alice")
    alice.open()
    alice.sign_in(alice_token)
    alice.open_chat(chat)
    alice.send("Lost with the restore")

    own_server.stop()
    subprocess.run([str(own_server.settings.binary), "restore", "--data-dir", str(own_server.data), "--from", str(backup),
                    "--force"], check=True, capture_output=True)
    own_server.start()
    # The page saw history the server no longer has: it says so and shows what the server has.
    alice.until(lambda d: "restored from an earlier backup" in d.find_element(By.ID, "error-text").text,
                "the page never said messages were lost", seconds=30)
    alice.wait_subscribed(chat, seconds=20)
    alice.until(lambda d: alice.message_texts() == ["Kept by the backup"], "a message the server lost is still shown")
    alice_api.post(chat, "After the restore")
    alice.wait_message("After the restore")
    assert alice.message_texts() == ["Kept by the backup", "After the restore"]


@pytest.fixture(scope="module")
def signed_in(settings, bob):
    bob.open()
    bob.sign_in(settings.bob_token)
    bob.driver.execute_script(WATCH_STATUS)


def test_the_status_is_a_button_only_while_waiting_to_reconnect(signed_in, bob):
    assert_just_a_status(bob)
    bob.driver.execute_script("window.chatflow.goOffline()")
    try:
        # Far enough into the backoff (a 4 s wait) that no timer fires while the keys are pressed.
        bob.until(lambda d: attempt(bob) >= 4, "the retries never backed off to 4 s")
        assert bob.accessible(STATUS) == {"role": "button", "name": "Reconnect now", "focusable": True}
        status = bob.find(STATUS)
        assert status.value_of_css_property("cursor") == "pointer"
        # In the tab order, just before Sign out.
        bob.driver.execute_script("arguments[0].focus()", bob.find("[data-testid=signout-button]"))
        ActionChains(bob.driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
        assert bob.driver.switch_to.active_element == status

        # Each key press is one attempt, at once; the backoff goes on from where it was, so
        # the next wait is longer, not back at the start.
        for key, wait in ((Keys.ENTER, 6), (Keys.SPACE, 12)):
            was, before = attempt(bob), len(status_log(bob))
            ActionChains(bob.driver).send_keys(key).perform()
            tried = status_log(bob)[before:]
            assert [(entry["state"], entry["attempt"]) for entry in tried] == [("reconnecting", was + 1)], (key, tried)
            assert seconds_left(bob) >= wait, bob.text_of(STATUS)
            assert bob.driver.switch_to.active_element == status
    finally:
        bob.driver.execute_script("window.chatflow.goOnline()")
    # Back online, a click connects now rather than in 15 s.
    status.click()
    bob.wait_live(seconds=5)
    assert_just_a_status(bob)
