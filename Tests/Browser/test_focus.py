"""Where the keyboard focus goes when what holds it goes away: a panel or form that closes
(by its ×, its Cancel or Escape) gives it back to the button that opened it, "New messages ↓"
hands it on to the timeline, a chat in the list keeps it when a message takes the chat to
the top, on a phone it follows from the list into a chat and back, and Escape in the delete
confirmation is Cancel.

A module of its own, so bob gets a fresh browser and each test its own chat; alice acts
through the API only.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from support import DESKTOP, PHONE, listed_chat, set_viewport

FOCUSED = """
const node = document.activeElement;
return node === document.body ? 'body' : node.id || node.dataset.chatId || node.tagName;
"""


@pytest.fixture(scope="module")
def signed_in(settings, bob):
    bob.open()
    bob.sign_in(settings.bob_token)


def focused(page) -> str:
    return page.driver.execute_script(FOCUSED)


def focus_is(page, expected: str, what: str) -> None:
    page.until(lambda d: focused(page) == expected, f"{what}: the focus is on {focused(page)!r}, not {expected!r}")


def test_closed_panels_and_forms_give_the_focus_back_and_escape_closes_each(signed_in, alice_api, bob_api, bob):
    chat_id = listed_chat(alice_api, bob_api, bob, "Panels")
    bob.open_chat(chat_id)
    for toggle, panel, close in (("search-toggle", "search-panel", "search-close"),
                                 ("add-member-toggle", "add-member-panel", "add-member-close")):
        for how in ("escape", "close button"):
            bob.clickable(f"[data-testid={toggle}]").click()
            bob.visible(f"[data-testid={panel}]")
            assert focused(bob) != toggle, f"{panel} took no focus"
            if how == "escape":
                bob.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
            else:
                bob.find(f"#{close}").click()
            bob.until(lambda d: not d.find_element(By.ID, panel).is_displayed(), f"{how} did not close {panel}")
            focus_is(bob, toggle, f"{panel} closed by {how}")

    for toggle, form in (("new-chat-toggle", "new-chat-form"), ("join-chat-toggle", "join-chat-form")):
        for how in ("escape", "cancel"):
            bob.clickable(f"[data-testid={toggle}]").click()
            bob.visible(f"[data-testid={form}]")
            if how == "escape":
                bob.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
            else:
                bob.find(f"#{form} [data-close-form]").click()
            bob.until(lambda d: not d.find_element(By.ID, form).is_displayed(), f"{how} did not close {form}")
            focus_is(bob, toggle, f"{form} closed by {how}")


def test_new_messages_hands_the_focus_to_the_timeline(signed_in, alice_api, bob_api, bob):
    chat_id = listed_chat(alice_api, bob_api, bob, "Busy evening", history=[f"Earlier {n:03}" for n in range(60)])
    bob.open_chat(chat_id)
    bob.wait_message("Earlier 059")
    bob.scroll_timeline_to_top()
    for n in range(3):
        alice_api.post(chat_id, f"Meanwhile {n}")
    bob.wait_message("Meanwhile 2")
    button = bob.visible("[data-testid=new-messages]")
    bob.driver.execute_script("arguments[0].focus()", button)
    button.send_keys(Keys.ENTER)
    bob.until(lambda d: not d.find_element(By.ID, "new-messages").is_displayed(), "the button did not hide")
    focus_is(bob, "timeline", "after New messages")


def test_a_chat_keeps_the_focus_when_a_message_takes_it_to_the_top(signed_in, alice_api, bob_api, bob):
    lower = listed_chat(alice_api, bob_api, bob, "Quiet for now")
    listed_chat(alice_api, bob_api, bob, "Newer chat")
    first = "return document.querySelector('#chat-list [data-testid=chat-item]').dataset.chatId"
    assert bob.driver.execute_script(first) != lower
    bob.driver.execute_script("arguments[0].focus()", bob.chat_item(lower))
    focus_is(bob, lower, "before the message")
    alice_api.post(lower, "Wakes the chat up")
    bob.until(lambda d: d.execute_script(first) == lower, "the chat never went to the top")
    assert focused(bob) == lower
    # Enter still opens it.
    bob.driver.switch_to.active_element.send_keys(Keys.ENTER)
    bob.wait_subscribed(lower)


def test_on_a_phone_the_focus_goes_into_the_chat_and_back_to_its_entry(signed_in, alice_api, bob_api, bob):
    chat_id = listed_chat(alice_api, bob_api, bob, "Pocket chat", history=["Hello from the pocket"])
    bob.driver.get(bob.settings.url + "/#/")
    bob.wait_live()
    set_viewport(bob.driver, *PHONE)
    try:
        bob.open_chat(chat_id)
        focus_is(bob, "timeline", "after opening the chat")
        bob.clickable("[data-testid=back-button]").click()
        bob.visible("[data-testid=chat-list]")
        focus_is(bob, chat_id, "after Back")
    finally:
        set_viewport(bob.driver, *DESKTOP)


def test_escape_in_the_delete_confirmation_is_cancel(signed_in, alice_api, bob_api, bob):
    chat = listed_chat(alice_api, bob_api, bob, "Second thoughts")
    bob.open_chat(chat)
    mine = bob.send("Delete me, or not")
    bob.message_action(mine, "delete-button").send_keys(Keys.ENTER)
    bob.until(lambda d: d.switch_to.active_element.get_attribute("data-testid") == "confirm-delete",
              "the confirmation did not take the focus")
    bob.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    bob.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "[data-testid=confirm-delete]"), "the confirmation stayed open")
    assert bob.driver.switch_to.active_element.get_attribute("data-testid") == "delete-button"
    assert bob.driver.switch_to.active_element.find_element(By.XPATH, "ancestor::li").get_attribute("data-message-id") == mine
    assert not alice_api.request("GET", f"/messages/{mine}")["deleted"]
