"""Sending when it goes wrong: a message whose request fails is never lost (whether its
writer stayed in the chat, typed on or went to another chat), messages sent in quick
succession are posted one after another, in order, a message sent again after a failure is
posted once, while the same text written afresh is a new message, and a message
too large for the server's body limit is refused before it is sent, in characters.

A module of its own, so bob gets a fresh browser and each test its own chat; alice acts
through the API only. The page's `fetch` is wrapped (as test_reading.py does) to hold a
send until the test lets it fail.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from support import composer, listed_chat, wait_until

# Holds every POST of a message (window.heldSends) until the test settles it: `reject()`
# fails it as a network that went away does; with `deliver`, the request reaches the server
# first and only its answer is lost. `pass()` lets one held without `deliver` go on;
# `refuse()` answers 401, as the server does a token that has expired.
HOLD_SENDS = """
const [deliver] = arguments;
window.heldSends = [];
window.realFetch = window.realFetch || window.fetch;
window.fetch = (path, init) => {
  if (init && init.method === 'POST' && /\\/chats\\/[^/]+\\/messages$/.test(String(path))) {
    const sent = deliver ? window.realFetch(path, init) : Promise.resolve();
    return new Promise((resolve, reject) => window.heldSends.push({
      body: JSON.parse(init.body),
      reject: () => sent.finally(() => reject(new TypeError('Failed to fetch'))),
      pass: () => window.realFetch(path, init).then(resolve, reject),
      refuse: () => resolve(new Response(JSON.stringify({detail: 'the token has expired'}),
                                         {status: 401, headers: {'Content-Type': 'application/problem+json'}})),
    }));
  }
  return window.realFetch(path, init);
};
"""

FAIL_HELD = "window.fetch = window.realFetch; for (const send of window.heldSends.splice(0)) send.reject();"
REFUSE_HELD = "window.fetch = window.realFetch; for (const send of window.heldSends.splice(0)) send.refuse();"


@pytest.fixture(scope="module")
def signed_in(settings, bob):
    bob.open()
    bob.sign_in(settings.bob_token)


def held(page) -> int:
    return page.driver.execute_script("return window.heldSends.length")


def send_held(page, text: str, deliver: bool = False) -> None:
    """Sends `text` from the open chat with its request held (see HOLD_SENDS)."""
    page.driver.execute_script(HOLD_SENDS, deliver)
    before = held(page)
    page.type(text + Keys.ENTER)
    page.until(lambda d: held(page) == before + 1, "the message was never sent")
    assert composer(page) == ""


def lose_the_answer(page, text: str) -> None:
    """Sends `text` from the open chat; the server takes it, but its answer never comes back,
    and the text is put back in the composer."""
    try:
        send_held(page, text, deliver=True)
    finally:
        page.driver.execute_script(FAIL_HELD)
    page.until(lambda d: composer(page) == text, "the text that failed was not put back")


def contents(api, chat_id: str) -> list[str]:
    return [m["content"] for m in api.all_messages(chat_id)]


def test_a_send_that_fails_after_switching_chats_is_back_in_its_composer(signed_in, alice_api, bob_api, bob):
    chat = listed_chat(alice_api, bob_api, bob, "Left mid-send")
    other = listed_chat(alice_api, bob_api, bob, "Gone to meanwhile")
    bob.open_chat(chat)
    text = "Important words typed before switching"
    try:
        send_held(bob, text)
        bob.open_chat(other)
    finally:
        bob.driver.execute_script(FAIL_HELD)
    bob.until(lambda d: "Left mid-send" in d.find_element(By.ID, "error-text").text,
              "the failed send in the other chat was not reported")
    assert composer(bob) == ""
    assert contents(alice_api, chat) == []

    # Back in the chat, the text waits in its composer; sent, it is posted once.
    bob.open_chat(chat)
    assert composer(bob) == text
    bob.find("[data-testid=composer-input]").send_keys(Keys.ENTER)
    bob.wait_message(text)
    wait_until(lambda: contents(alice_api, chat) == [text], "the message was not posted once")


def test_a_send_that_fails_while_the_next_is_typed_keeps_both(signed_in, alice_api, bob_api, bob):
    chat = listed_chat(alice_api, bob_api, bob, "Typing on")
    bob.open_chat(chat)
    try:
        send_held(bob, "The first thought")
        bob.type("and the next")
    finally:
        bob.driver.execute_script(FAIL_HELD)
    bob.until(lambda d: "Cannot reach the server" in d.find_element(By.ID, "error-text").text, "the failure was not reported")
    assert composer(bob) == "The first thought\nand the next"
    # The caret stayed where bob was typing.
    bob.type("!")
    assert composer(bob) == "The first thought\nand the next!"
    bob.driver.execute_script("arguments[0].value = ''", bob.find("[data-testid=composer-input]"))


def test_the_same_text_written_again_after_a_lost_answer_is_a_new_message(signed_in, alice_api, bob_api, bob):
    chat = listed_chat(alice_api, bob_api, bob, "Said twice")
    bob.open_chat(chat)
    lose_the_answer(bob, "ok")
    bob.wait_message("ok")
    wait_until(lambda: contents(alice_api, chat) == ["ok"], "the first ok never reached the server")

    # Seeing it went through, bob clears the composer; later he answers "ok" again.
    field = bob.find("[data-testid=composer-input]")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)
    assert composer(bob) == ""
    alice_api.post(chat, "Shall we?")
    bob.wait_message("Shall we?")
    bob.type("ok" + Keys.ENTER)
    wait_until(lambda: contents(alice_api, chat) == ["ok", "Shall we?", "ok"], "the second ok was not posted")
    bob.until(lambda d: bob.message_texts() == ["ok", "Shall we?", "ok"], "the second ok is not shown")


def test_the_same_text_sent_again_after_a_lost_answer_is_posted_once(signed_in, alice_api, bob_api, bob):
    chat = listed_chat(alice_api, bob_api, bob, "Sent again")
    bob.open_chat(chat)
    lose_the_answer(bob, "Only once, please")
    # Sent again untouched: the retry of the one the server took, not a second message.
    bob.find("[data-testid=composer-input]").send_keys(Keys.ENTER)
    bob.until(lambda d: composer(bob) == "", "the retry did not go through")
    bob.wait_message("Only once, please")
    assert contents(alice_api, chat) == ["Only once, please"]
    assert bob.message_texts() == ["Only once, please"]


def test_a_failed_message_sent_again_after_sending_in_another_chat_is_posted_once(signed_in, alice_api, bob_api, bob):
    chat = listed_chat(alice_api, bob_api, bob, "Answer lost")
    other = listed_chat(alice_api, bob_api, bob, "Talking elsewhere")
    bob.open_chat(chat)
    lose_the_answer(bob, "Posted just once")
    wait_until(lambda: contents(alice_api, chat) == ["Posted just once"], "the first try never reached the server")

    # Bob says something in another chat meanwhile, then comes back and sends it as it is.
    bob.open_chat(other)
    bob.send("Over here")
    bob.open_chat(chat)
    assert composer(bob) == "Posted just once"
    bob.find("[data-testid=composer-input]").send_keys(Keys.ENTER)
    bob.until(lambda d: composer(bob) == "", "the retry was not sent")
    # Posted after the retry (one after another): once it shows, the retry has been answered.
    bob.send("And then this")
    assert contents(alice_api, chat) == ["Posted just once", "And then this"]
    assert contents(alice_api, other) == ["Over here"]


def test_a_send_refused_for_an_expired_token_waits_in_its_writers_draft(settings, signed_in, alice_api, bob_api, bob):
    chat = listed_chat(alice_api, bob_api, bob, "Token ran out")
    bob.open_chat(chat)
    text = "Written as the token ran out"
    try:
        send_held(bob, text)
    finally:
        bob.driver.execute_script(REFUSE_HELD)
    bob.visible("[data-testid=signin-screen]")
    assert "expired" in bob.text_of("[data-testid=signin-error]")
    # Back in, in the same chat (it stayed in the address): the text is in its composer.
    bob.sign_in(settings.bob_token)
    bob.wait_subscribed(chat)
    assert composer(bob) == text
    bob.find("[data-testid=composer-input]").send_keys(Keys.ENTER)
    bob.wait_message(text)
    wait_until(lambda: contents(alice_api, chat) == [text], "the message was not posted once")


def test_a_send_that_fails_after_another_user_signed_in_is_kept_from_them(settings, signed_in, alice_api, bob_api, bob):
    chat = listed_chat(alice_api, bob_api, bob, "Shared browser")
    bob.open_chat(chat)
    text = "Bob's words, not alice's"
    try:
        send_held(bob, text)
        # Bob signs out while it is on its way, and alice signs in and opens the same chat.
        bob.clickable("[data-testid=signout-button]").click()
        bob.visible("[data-testid=signin-screen]")
        bob.user = "alice"
        bob.sign_in(settings.alice_token)
        bob.open_chat(chat)
        bob.type("alice's own")
    finally:
        bob.driver.execute_script(FAIL_HELD)
    # The failure (settled by the next task) is bob's: alice is shown none of it.
    bob.driver.execute_async_script("setTimeout(arguments[0], 0)")
    assert composer(bob) == "alice's own"
    assert text not in bob.text_of("#error-text")
    clear_composer(bob)

    # Bob, back, finds it in the chat's composer; nothing was posted.
    bob.clickable("[data-testid=signout-button]").click()
    bob.visible("[data-testid=signin-screen]")
    bob.user = "bob"
    bob.sign_in(settings.bob_token)
    bob.open_chat(chat)
    assert composer(bob) == text
    assert contents(alice_api, chat) == []
    clear_composer(bob)


def clear_composer(page) -> None:
    """Empties the composer as a reader does (its draft goes too)."""
    field = page.find("[data-testid=composer-input]")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)
    assert composer(page) == ""


def test_a_message_over_the_body_limit_says_how_many_characters_to_remove(signed_in, alice_api, bob_api, bob):
    chat = listed_chat(alice_api, bob_api, bob, "Family album")
    bob.open_chat(chat)
    # 3,000 characters (under the 4,000 limit), 75,000 bytes of UTF-8 (over 64 KiB).
    family = "👨‍👩‍👧‍👦" * 3000
    field = bob.clickable("[data-testid=composer-input]")
    field.click()
    bob.driver.execute_cdp_cmd("Input.insertText", {"text": family})
    field.send_keys(Keys.ENTER)
    bob.until(lambda d: "Remove about" in d.find_element(By.ID, "error-text").text, "the size was not explained in characters")
    cut = int(bob.text_of("#error-text").split("Remove about ")[1].split(" characters")[0].replace(",", ""))
    assert composer(bob) == family, "the text was not kept to be shortened"
    # As many as it says are enough, and not many more.
    shorter = "👨‍👩‍👧‍👦" * (3000 - cut)
    bob.driver.execute_script("arguments[0].value = arguments[1]", field, shorter)
    field.send_keys(Keys.ENTER)
    bob.wait_message(shorter, seconds=20)
    shortest_refused = "👨‍👩‍👧‍👦" * (3000 - cut + 5)
    bob.driver.execute_script("arguments[0].value = arguments[1]", field, shortest_refused)
    assert not bob.find("[data-testid=error-banner]").is_displayed()
    field.send_keys(Keys.ENTER)
    bob.until(lambda d: "Remove about" in d.find_element(By.ID, "error-text").text, "a few more were accepted")
    assert contents(alice_api, chat) == [shorter]
    bob.driver.execute_script("arguments[0].value = ''", field)


def test_messages_sent_in_quick_succession_are_posted_one_after_another(signed_in, alice_api, bob_api, bob):
    chat = listed_chat(alice_api, bob_api, bob, "Rapid fire")
    bob.open_chat(chat)
    bob.driver.execute_script(HOLD_SENDS, False)
    try:
        # Three lines sent at once: only the first is on its way, and the composer is free.
        for text in ("one", "two", "three"):
            bob.type(text + Keys.ENTER)
            assert composer(bob) == ""
        bob.until(lambda d: held(bob) == 1, "the first message was never sent")
        assert held(bob) == 1, "the next message went before the first was posted"
        # Each goes once the one before it is posted.
        for count, text in enumerate(("one", "two", "three"), start=1):
            bob.driver.execute_script("window.heldSends[arguments[0]].pass()", count - 1)
            bob.wait_message(text)
            if count < 3:
                bob.until(lambda d: held(bob) == count + 1, f"the message after {text!r} was never sent")
        assert [send["content"] for send in bob.driver.execute_script("return window.heldSends.map((s) => s.body)")] \
            == ["one", "two", "three"]
    finally:
        bob.driver.execute_script(FAIL_HELD)
    wait_until(lambda: contents(alice_api, chat) == ["one", "two", "three"], "the messages were not posted in order")
    assert bob.message_texts() == ["one", "two", "three"]


def test_a_failed_send_keeps_the_messages_queued_behind_it_in_order(signed_in, alice_api, bob_api, bob):
    chat = listed_chat(alice_api, bob_api, bob, "Queued behind")
    bob.open_chat(chat)
    try:
        send_held(bob, "first")
        bob.type("second" + Keys.ENTER)
        assert composer(bob) == ""
        bob.type("still typing")
    finally:
        bob.driver.execute_script(FAIL_HELD)
    bob.until(lambda d: "Cannot reach the server" in d.find_element(By.ID, "error-text").text, "the failure was not reported")
    bob.until(lambda d: composer(bob) == "first\nsecond\nstill typing", "what was not sent is not back in order")
    assert contents(alice_api, chat) == []
    bob.driver.execute_script("arguments[0].value = ''", bob.find("[data-testid=composer-input]"))
