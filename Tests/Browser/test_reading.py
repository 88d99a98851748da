"""Reading a chat: jumping far back to a search result and paging on from there, the read
marker while scrolled up, editing at the foot of the timeline, searching, adding members,
losing membership while looking at a chat, signing in with a pasted header, and the top bar
at phone width.

A module of its own, so bob gets a fresh browser and each test its own chat; alice acts
through the API only.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from support import DESKTOP, PHONE, set_viewport, wait_until

PAGE_SIZE = 50  # PAGE_SIZE in app.js

IN_TIMELINE = """
const box = document.getElementById('timeline').getBoundingClientRect();
const rect = arguments[0].getBoundingClientRect();
return rect.height > 0 && rect.top >= box.top - 1 && rect.bottom <= box.bottom + 1;
"""

ONE_LINE = """
const range = document.createRange();
range.selectNodeContents(arguments[0]);
return new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top))).size === 1;
"""

SHOWN_WHOLE = """
const node = arguments[0];
return node.getBoundingClientRect().width > 0 && node.scrollWidth <= node.clientWidth + 1;
"""


@pytest.fixture(scope="module")
def signed_in(settings, bob):
    bob.open()
    bob.sign_in(settings.bob_token)


def shared_chat(alice_api, bob_api, bob, name: str, private: bool = False, history: list[str] = ()) -> str:
    """A chat of alice's that bob is in, with what alice wrote before, open in bob's browser."""
    chat_id = alice_api.create_chat(name, private=private)["id"]
    if private:
        alice_api.request("POST", f"/chats/{chat_id}/members", {"userId": "bob"})
    else:
        bob_api.join(chat_id)
    for text in history:
        alice_api.post(chat_id, text)
    bob.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"[data-testid=chat-item][data-chat-id='{chat_id}']"),
              f"chat {name!r} never reached bob's list")
    bob.open_chat(chat_id)
    return chat_id


def message_count(page) -> int:
    return int(page.find("#chat-pane").get_attribute("data-message-count") or 0)


def search(page, query: str) -> None:
    if not page.find("[data-testid=search-panel]").is_displayed():
        page.clickable("[data-testid=search-toggle]").click()
    field = page.visible("[data-testid=search-input]")
    field.clear()
    field.send_keys(query, Keys.ENTER)


def test_a_search_result_far_back_opens_around_it_and_pages_both_ways(signed_in, alice_api, bob_api, bob):
    needle_at = 100
    history = ["Needle in the archive" if n == needle_at else f"Archive entry {n:03}" for n in range(400)]
    chat_id = shared_chat(alice_api, bob_api, bob, "Archive", history=history)
    bob.wait_message("Archive entry 399")
    stored = alice_api.all_messages(chat_id)
    expected = [m["content"] for m in stored]
    needle = stored[needle_at]["id"]
    assert message_count(bob) == PAGE_SIZE

    search(bob, "needle")
    bob.clickable(f"[data-testid=search-result][data-message-id='{needle}']").click()
    bob.until(lambda d: "flash" in bob.message(needle).get_attribute("class"), "the result was not shown in the timeline")
    # A page either side of it, not every page from the newest back to it.
    assert message_count(bob) <= 3 * PAGE_SIZE, message_count(bob)
    assert bob.find("[data-testid=newer-status]").is_displayed()
    assert not bob.find("[data-testid=error-banner]").is_displayed()

    # A message posted now belongs below what is not loaded yet: it waits for the reader.
    alice_api.post(chat_id, "Posted while bob reads the archive")
    bob.until(lambda d: d.find_element(By.ID, "new-messages").text == "New messages ↓", "bob was not told of the new message")
    assert bob.message_id("Posted while bob reads the archive") is None
    expected.append("Posted while bob reads the archive")

    for _ in range(20):
        if not bob.find("[data-testid=newer-status]").is_displayed():
            break
        shown = message_count(bob)
        bob.driver.execute_script("const t = document.getElementById('timeline'); t.scrollTop = t.scrollHeight")
        bob.until(lambda d: message_count(bob) > shown or not d.find_element(By.ID, "newer-status").is_displayed(),
                  "scrolling down loaded no newer messages")
    bob.wait_message("Posted while bob reads the archive")

    for _ in range(20):
        if bob.find("#history-status").get_attribute("data-state") == "start":
            break
        shown = message_count(bob)
        bob.scroll_timeline_to_top()
        bob.until(lambda d: message_count(bob) > shown
                  or d.find_element(By.ID, "history-status").get_attribute("data-state") == "start",
                  "scrolling up loaded no older messages")
    # Every message once, in order: no gap and no duplicate where the pages met.
    assert bob.message_texts() == expected

    # Live again at the foot of the chat.
    alice_api.post(chat_id, "And one more")
    bob.wait_message("And one more")
    bob.find("[data-testid=search-close]").click()


def test_a_message_arriving_while_scrolled_up_stays_unread(signed_in, alice_api, bob_api, bob):
    chat_id = shared_chat(alice_api, bob_api, bob, "Reading room")
    last = None
    for number in range(40):
        last = alice_api.post(chat_id, f"Earlier line {number:02}")["id"]
    bob.wait_message("Earlier line 39")
    bob.attribute_is("#chat-pane", "data-read-up-to", last)

    bob.scroll_timeline_to_top()
    arrived = alice_api.post(chat_id, "Arrived while bob was scrolled up")["id"]
    bob.visible("[data-testid=new-messages]")
    unread = lambda: next(c for c in bob_api.chats() if c["id"] == chat_id)["unreadCount"]
    # The client has looked at the new message (or, wrongly, told the server it was read).
    bob.until(lambda d: d.find_element(By.ID, "chat-pane").get_attribute("data-read-checked") == arrived or unread() == 0,
              "the client never considered the new message")
    assert unread() == 1
    assert bob.find("#chat-pane").get_attribute("data-read-up-to") == last

    bob.clickable("[data-testid=new-messages]").click()
    bob.attribute_is("#chat-pane", "data-read-up-to", arrived)
    assert unread() == 0


def test_editing_the_newest_message_shows_its_buttons(signed_in, alice_api, bob_api, bob):
    shared_chat(alice_api, bob_api, bob, "Edit corner", history=[f"Filler {n:02}" for n in range(30)])
    bob.wait_message("Filler 29")
    message_id = bob.send("A typo at the very bottom")
    bob.message_action(message_id, "edit-button").click()
    bob.visible("[data-testid=edit-input]")
    save = bob.find(f"#message-list [data-message-id='{message_id}'] [data-testid=edit-save]")
    bob.until(lambda d: d.execute_script(IN_TIMELINE, save), "the Save button is out of view")
    bob.find("[data-testid=edit-input]").send_keys(Keys.ESCAPE)


def test_an_empty_search_clears_the_last_error(signed_in, alice_api, bob_api, bob):
    shared_chat(alice_api, bob_api, bob, "Search errors")
    search(bob, "pi*ne")
    bob.attribute_is("#search-panel", "data-state", "error")
    bob.visible("[data-testid=error-banner]")
    search(bob, "")
    # The banner would go by itself after 10 s: well before then.
    bob.until(lambda d: not d.find_element(By.ID, "error-banner").is_displayed()
              and d.find_element(By.ID, "search-status").text == "", "the old error stayed on screen", seconds=3)
    assert bob.find("#search-results").find_elements(By.CSS_SELECTOR, "li") == []
    bob.find("[data-testid=search-close]").click()


def test_adding_someone_twice_says_they_already_were_a_member(signed_in, bob):
    bob.create_chat("Bob's team")
    for expected in ("carol is a member now.", "carol was already a member."):
        if not bob.find("[data-testid=add-member-panel]").is_displayed():
            bob.clickable("[data-testid=add-member-toggle]").click()
        bob.visible("[data-testid=add-member-id]").send_keys("carol" + Keys.ENTER)
        bob.until(lambda d: d.find_element(By.ID, "add-member-status").text == expected, f"never said {expected!r}")
    assert bob.text_of("[data-testid=chat-members]") == "2 members"
    bob.clickable("[data-testid=add-member-close]").click()


def test_removed_from_a_private_chat_says_so_and_offers_no_join(signed_in, alice_api, bob_api, bob):
    chat_id = shared_chat(alice_api, bob_api, bob, "Inner circle", private=True)
    alice_api.post(chat_id, "Just between us")
    bob.wait_message("Just between us")
    assert bob.text_of("[data-testid=chat-members]") == "2 members"

    alice_api.request("DELETE", f"/chats/{chat_id}/members/bob")
    bob.visible("[data-testid=join-bar]")
    bob.until(lambda d: "removed" in d.find_element(By.ID, "join-bar").text, "the bar never said bob was removed")
    assert "private" in bob.text_of("[data-testid=join-bar]")
    assert "previewing" not in bob.text_of("[data-testid=join-bar]")
    assert not bob.find("[data-testid=join-this-chat]").is_displayed()
    assert not bob.find("[data-testid=composer]").is_displayed()
    assert not bob.find("[data-testid=search-toggle]").is_displayed()
    assert bob.text_of("[data-testid=chat-members]") != "2 members"
    bob.until(lambda d: not d.find_elements(By.CSS_SELECTOR, f"[data-testid=chat-item][data-chat-id='{chat_id}']"),
              "the private chat stayed in bob's list")


def test_removed_from_a_public_chat_bob_joins_it_again(signed_in, alice_api, bob_api, bob):
    chat_id = shared_chat(alice_api, bob_api, bob, "Town square")
    alice_api.request("DELETE", f"/chats/{chat_id}/members/bob")
    bob.until(lambda d: "removed" in d.find_element(By.ID, "join-bar").text, "the bar never said bob was removed")
    bob.until(lambda d: d.find_element(By.ID, "chat-members").text == "1 member", "the header still counts bob")

    bob.clickable("[data-testid=join-this-chat]").click()
    bob.wait_subscribed(chat_id)
    bob.visible("[data-testid=composer-input]")
    assert not bob.find("[data-testid=error-banner]").is_displayed()
    bob.until(lambda d: d.find_element(By.ID, "chat-members").text == "2 members", "the header never counted bob again")
    bob.send("Back again")
    assert [m["content"] for m in alice_api.all_messages(chat_id)] == ["Back again"]


def test_the_top_bar_fits_a_phone_while_reconnecting(signed_in, alice_api, bob_api, bob):
    shared_chat(alice_api, bob_api, bob, "A chat with a name long enough to be cut short on a phone")
    set_viewport(bob.driver, *PHONE)
    try:
        bob.driver.execute_script("window.chatflow.goOffline()")
        bob.until(lambda d: any(c.isdigit() for c in d.find_element(By.ID, "connection-status").text), "no reconnect countdown")
        signout = bob.find("[data-testid=signout-button]")
        assert bob.driver.execute_script(ONE_LINE, signout), "Sign out wraps"
        assert bob.driver.execute_script(SHOWN_WHOLE, bob.find("#current-user").find_element(By.XPATH, "..")), "the user name is cut"
        copy = bob.find("[data-testid=copy-chat-id]")
        assert bob.driver.execute_script(SHOWN_WHOLE, copy)
        assert bob.driver.execute_script("""
            const [copy, search] = arguments;
            const meta = copy.parentElement.getBoundingClientRect();
            const c = copy.getBoundingClientRect();
            return c.right <= meta.right + 0.5 && c.right <= search.getBoundingClientRect().left;""",
            copy, bob.find("[data-testid=search-toggle]")), "copy id is cut off"
        assert bob.driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
        bob.screenshot("phone-reconnecting")
    finally:
        bob.driver.execute_script("window.chatflow.goOnline()")
        set_viewport(bob.driver, *DESKTOP)
    bob.wait_live(seconds=20)


def test_a_pasted_bearer_header_signs_in(visitor, settings):
    visitor.open()
    visitor.visible("[data-testid=token-input]").send_keys(f"Bearer {settings.alice_token}")
    visitor.find("[data-testid=signin-button]").click()
    visitor.until(lambda d: d.find_element(By.ID, "current-user").text == "alice", "a pasted 'Bearer …' did not sign in")
    assert visitor.driver.execute_script("return localStorage.getItem('chatflow.token')") == settings.alice_token
