"""A token that expires: the page signs out when it does (not when the server next refuses
something, which its leeway puts later), and what was typed in a chat's composer is there
again when the same user signs back in, and for nobody else. Signing out (or in as someone
else) in one tab does so in every tab of the browser.

On a server of its own (see Server in support.py), whose tokens the test mints with the
lifetimes it needs; a chat opened from the list goes into the address, so signing back in
returns to it.
"""

from __future__ import annotations

import base64
import json
import time

from selenium.webdriver.common.by import By

from support import Api, composer

# When the sign-in screen came back, by the page's clock (the same machine's as the test's).
WATCH_SIGNIN = """
const signin = document.getElementById('signin');
window.signedOutAt = null;
new MutationObserver(() => {
  if (!signin.hidden && window.signedOutAt === null) window.signedOutAt = Date.now();
}).observe(signin, {attributes: true, attributeFilter: ['hidden']});
"""


def expiry(token: str) -> float:
    claims = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["exp"]


def switch_user(page, server, user: str, chat: str) -> None:
    """Signs the page out and in again as `user`, back in `chat`."""
    page.clickable("[data-testid=signout-button]").click()
    page.visible("[data-testid=signin-screen]")
    page.user = user
    page.sign_in(server.token(user))
    page.driver.get(f"{server.url}/#/chats/{chat}")
    page.wait_subscribed(chat)


def test_an_expired_token_signs_out_at_once_and_the_draft_waits_for_its_user(own_server, page_on):
    carol_api = Api(own_server.url, own_server.token("carol"))
    dave_api = Api(own_server.url, own_server.token("dave"))
    chat = carol_api.create_chat("Drafts")["id"]
    other = carol_api.create_chat("Elsewhere")["id"]
    dave_api.join(chat)

    carol = page_on(own_server, "carol")
    carol.open()
    # Long enough to sign in and type; the server accepts it for its leeway (30 s) after.
    short = own_server.token("carol", ttl="12s")
    carol.sign_in(short)
    carol.open_chat(other)
    carol.type("half a thought elsewhere")
    carol.open_chat(chat)
    carol.type("half a thought")
    carol.driver.execute_script(WATCH_SIGNIN)

    expires = expiry(short)
    carol.visible("[data-testid=signin-screen]", seconds=max(1.0, expires + 5 - time.time()))
    signed_out = carol.driver.execute_script("return window.signedOutAt") / 1000
    assert expires - 1 <= signed_out <= expires + 3, f"signed out {signed_out - expires:+.1f} s from the token's expiry"
    assert "expired" in carol.text_of("[data-testid=signin-error]")

    # Back as carol: the same chat, with the draft, and the other chat's draft in its own.
    carol.sign_in(own_server.token("carol"))
    carol.wait_subscribed(chat)
    assert composer(carol) == "half a thought"
    carol.open_chat(other)
    assert composer(carol) == "half a thought elsewhere"
    carol.open_chat(chat)

    # Another user on the same browser sees none of it, in the same chat.
    switch_user(carol, own_server, "dave", chat)
    assert composer(carol) == ""
    carol.type("dave's own")

    # And carol's is still hers.
    switch_user(carol, own_server, "carol", chat)
    assert composer(carol) == "half a thought"


def bob_in_two_tabs(page, settings, name: str) -> tuple[str, str]:
    """Bob signed in, in a private chat of his (`name`), and a second tab of the same browser
    signed in from what the first stored; returns the chat and the first tab's handle (the
    second is the current one)."""
    page.user = "bob"
    chat = Api(settings.url, settings.bob_token).create_chat(name, private=True)["id"]
    page.open()
    page.sign_in(settings.bob_token)
    page.driver.get(f"{settings.url}/#/chats/{chat}")
    page.wait_subscribed(chat)
    first = page.driver.current_window_handle
    page.driver.switch_to.new_window("tab")
    page.open()
    page.until(lambda d: d.find_element(By.ID, "current-user").text == "bob", "the second tab did not sign in")
    return chat, first


def test_signing_out_in_one_tab_signs_out_the_others(visitor, settings):
    page = visitor
    chat, first = bob_in_two_tabs(page, settings, "Bob's own tab")
    page.wait_live()
    page.clickable("[data-testid=signout-button]").click()
    page.visible("[data-testid=signin-screen]")

    page.driver.switch_to.window(first)
    page.visible("[data-testid=signin-screen]")
    assert not page.find("#app").is_displayed()
    assert page.find("[data-testid=connection-status]").get_attribute("data-state") == "closed"
    assert "another tab" in page.text_of("[data-testid=signin-error]")
    # Bob's chat went from this tab's address too, as from the one signed out in.
    assert chat not in page.driver.current_url

    # Signed in as someone else in the second tab: this one is them too, not bob.
    second = [handle for handle in page.driver.window_handles if handle != first][0]
    page.driver.switch_to.window(second)
    page.user = "alice"
    page.sign_in(settings.alice_token)
    page.driver.switch_to.window(first)
    page.until(lambda d: d.find_element(By.ID, "current-user").text == "alice", "the first tab is not alice's")
    page.wait_live()


def test_signing_out_leaves_no_chat_in_the_address_for_the_next_user(own_server, page_on):
    carol_api = Api(own_server.url, own_server.token("carol"))
    chat = carol_api.create_chat("Carol's own", private=True)["id"]
    page = page_on(own_server, "carol")
    page.open()
    page.sign_in(own_server.token("carol"))
    page.open_chat(chat)
    page.clickable("[data-testid=signout-button]").click()
    page.visible("[data-testid=signin-screen]")
    assert chat not in page.driver.current_url

    page.user = "dave"
    page.sign_in(own_server.token("dave"))
    assert page.find("#app").get_attribute("data-screen") == "list"
    assert not page.find("[data-testid=error-banner]").is_displayed()


# Moves the page's clock past its token's expiry and has it look (as when it is shown again).
EXPIRE_HERE = """
const real = Date.now;
Date.now = () => real() + 3 * 60 * 60 * 1000;
document.dispatchEvent(new Event('visibilitychange'));
return document.visibilityState;
"""


def test_a_token_that_expired_in_one_tab_is_said_to_have_expired_in_the_others(visitor, settings):
    page = visitor
    chat, first = bob_in_two_tabs(page, settings, "Bob's until it expires")
    # The second tab's timer would fire after the first's: its clock alone runs on.
    assert page.driver.execute_script(EXPIRE_HERE) == "visible"
    page.visible("[data-testid=signin-screen]")
    assert "expired" in page.text_of("[data-testid=signin-error]")
    # Closed: with its clock hours ahead, it would take any token signed in with for expired.
    page.driver.close()

    page.driver.switch_to.window(first)
    page.visible("[data-testid=signin-screen]")
    said = page.text_of("[data-testid=signin-error]")
    assert "expired" in said and "another tab" not in said, said

    # Someone else signing in here starts at the list, not in bob's chat.
    page.user = "alice"
    page.sign_in(settings.alice_token)
    assert page.find("#app").get_attribute("data-screen") == "list"
    assert chat not in page.driver.current_url
    assert not page.find("[data-testid=error-banner]").is_displayed()
