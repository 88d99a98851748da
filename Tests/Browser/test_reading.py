"""Reading a chat: jumping far back to a search result and paging on from there (a newer
page that fails, the last one that reaches the newest), the read marker while scrolled up,
editing at the foot of the timeline, searching, adding members, losing membership while
looking at a chat, signing in with a pasted header, and the top bar at phone width.

A module of its own, so bob gets a fresh browser and each test its own chat; alice acts
through the API only.
"""

from __future__ import annotations

import re

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from support import DESKTOP, PHONE, Api, listed_chat, set_viewport, wait_until

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


def opened_at_first_unread(page, texts: list[str]) -> str:
    """The chat just opened shows the first of `texts` (its unread messages, oldest first)
    at the top of the view, just below the "New messages" divider, and not the newest: its id."""
    first = page.wait_message(texts[0])
    divider = page.visible("[data-testid=unread-divider]")
    assert page.driver.execute_script("return arguments[0].nextElementSibling.dataset.messageId", divider) == first
    assert page.driver.execute_script(IN_TIMELINE, divider) and page.driver.execute_script(IN_TIMELINE, page.message(first))
    assert page.message_id(texts[-1]) is None, "the newest messages were loaded as well"
    return first


@pytest.fixture(scope="module")
def signed_in(settings, bob):
    bob.open()
    bob.sign_in(settings.bob_token)


def shared_chat(alice_api, bob_api, bob, name: str, private: bool = False, history: list[str] = ()) -> str:
    """A chat of alice's that bob is in, with what alice wrote before he joined (none of it
    unread, so it opens at the newest), open in bob's browser."""
    chat_id = listed_chat(alice_api, bob_api, bob, name, private=private, history=history)
    bob.open_chat(chat_id)
    return chat_id


def server_unread(api, chat_id: str) -> int:
    return next(c for c in api.chats() if c["id"] == chat_id)["unreadCount"]


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
    button = bob.visible("[data-testid=new-messages]")
    # It covers none of the messages: it sits below the timeline.
    assert bob.driver.execute_script(
        "return arguments[0].getBoundingClientRect().top >= document.getElementById('timeline').getBoundingClientRect().bottom - 0.5",
        button), "the button covers the foot of the timeline"
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
    # Said once, in the bar, not again in an error banner.
    assert not bob.find("[data-testid=error-banner]").is_displayed()
    assert "private" in bob.text_of("[data-testid=join-bar]")
    assert "previewing" not in bob.text_of("[data-testid=join-bar]")
    assert not bob.find("[data-testid=join-this-chat]").is_displayed()
    assert not bob.find("[data-testid=composer]").is_displayed()
    assert not bob.find("[data-testid=search-toggle]").is_displayed()
    assert bob.text_of("[data-testid=chat-members]") == "not a member"
    bob.until(lambda d: not d.find_elements(By.CSS_SELECTOR, f"[data-testid=chat-item][data-chat-id='{chat_id}']"),
              "the private chat stayed in bob's list")


def test_removed_from_a_public_chat_bob_joins_it_again(signed_in, alice_api, bob_api, bob):
    chat_id = shared_chat(alice_api, bob_api, bob, "Town square")
    alice_api.request("DELETE", f"/chats/{chat_id}/members/bob")
    bob.until(lambda d: "removed" in d.find_element(By.ID, "join-bar").text, "the bar never said bob was removed")
    bob.until(lambda d: d.find_element(By.ID, "chat-members").text == "1 member · not a member", "the header still counts bob")

    bob.clickable("[data-testid=join-this-chat]").click()
    bob.wait_subscribed(chat_id)
    bob.visible("[data-testid=composer-input]")
    assert not bob.find("[data-testid=error-banner]").is_displayed()
    bob.until(lambda d: d.find_element(By.ID, "chat-members").text == "2 members", "the header never counted bob again")
    bob.send("Back again")
    assert [m["content"] for m in alice_api.all_messages(chat_id)] == ["Back again"]


def test_really_leave_is_asked_of_one_chat_only(signed_in, alice_api, bob_api, bob):
    public = shared_chat(alice_api, bob_api, bob, "Leave or stay")
    private = shared_chat(alice_api, bob_api, bob, "Hard to get back into", private=True)
    bob.open_chat(public)
    bob.clickable("[data-testid=leave-chat]").click()
    bob.until(lambda d: d.find_element(By.ID, "leave-chat").text == "Really leave?", "leaving asked for no confirmation")

    # Bob thinks better of it and goes to the private chat: its button asks afresh.
    bob.open_chat(private)
    assert bob.text_of("[data-testid=leave-chat]") == "Leave"
    bob.find("[data-testid=leave-chat]").click()
    bob.until(lambda d: d.find_element(By.ID, "leave-chat").text == "Really leave?", "leaving asked for no confirmation")
    assert bob.find("#chat-pane").get_attribute("data-member") == "true"
    assert {private, public} <= {c["id"] for c in bob_api.chats()}


def test_join_by_id_takes_a_pasted_link_or_an_id_with_spaces_around_it(signed_in, settings, alice_api, bob):
    by_link = alice_api.create_chat("Shared as a link")["id"]
    by_id = alice_api.create_chat("Shared as an id")["id"]
    for text, chat_id in ((f"{settings.url}/#/chats/{by_link}", by_link), (f"  {by_id} ", by_id)):
        bob.clickable("[data-testid=join-chat-toggle]").click()
        field = bob.visible("[data-testid=join-chat-id]")
        bob.driver.execute_cdp_cmd("Input.insertText", {"text": text})
        assert field.get_attribute("value") == text, "what was pasted was cut"
        bob.find("[data-testid=join-chat-submit]").click()
        bob.wait_subscribed(chat_id)
        assert not bob.find("[data-testid=error-banner]").is_displayed()

    # Anything else is not sent, and said to be no id in words a reader follows.
    bob.clickable("[data-testid=join-chat-toggle]").click()
    bob.visible("[data-testid=join-chat-id]").send_keys("the chat called Shared as a link" + Keys.ENTER)
    bob.until(lambda d: "not a chat id" in d.find_element(By.ID, "error-text").text, "the mistake was not explained")
    bob.find("#join-chat-form [data-close-form]").click()
    bob.find("#error-dismiss").click()


def test_the_reaction_picker_goes_with_its_message_as_the_timeline_scrolls(signed_in, alice_api, bob_api, bob):
    history = [f"Scrolled past {n:02}" for n in range(40)]
    shared_chat(alice_api, bob_api, bob, "Picker on the move", history=history)
    target = bob.wait_message(history[-3])
    bob.message_action(target, "react-button").click()
    picker = bob.visible("[data-testid=emoji-picker]")
    top = picker.rect["y"]
    bob.driver.execute_script("document.getElementById('timeline').scrollTop -= 30")
    bob.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "[data-testid=emoji-picker]")
              or abs(d.find_element(By.CSS_SELECTOR, "[data-testid=emoji-picker]").rect["y"] - (top + 30)) <= 1,
              "the picker did not move with its message")
    assert bob.find("[data-testid=emoji-picker]").is_displayed()
    # Its message scrolled out of view: the picker goes, and reacts to nothing. The focus was
    # in it (on 👍): Enter now must not react to the message no one sees.
    assert bob.driver.execute_script("return document.activeElement.dataset.emoji") == "👍"
    bob.scroll_timeline_to_top()
    bob.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "[data-testid=emoji-picker]"), "the picker stayed over other messages")
    bob.driver.switch_to.active_element.send_keys(Keys.ENTER)
    # What Enter started has run, and shows (a reaction shows at once, before its answer).
    bob.driver.execute_async_script("requestAnimationFrame(() => setTimeout(arguments[0], 0))")
    assert bob.reaction(target, "👍") is None
    assert not bob.driver.find_elements(By.CSS_SELECTOR, "[data-testid=emoji-picker] [data-emoji]:focus")


# What a screen reader reads out of new messages: each line added to #message-announcement,
# the live region that says live messages (window.announced).
WATCH_ANNOUNCED = """
const region = document.getElementById('message-announcement');
window.announced = [];
if (region) {
  new MutationObserver((records) => {
    for (const record of records) for (const node of record.addedNodes) window.announced.push(node.textContent);
  }).observe(region, {childList: true});
}
"""

# The messages in the timeline that are inside a live region, which a screen reader would read
# out as they go in (whatever aria-busy says meanwhile): a history page among them would be.
MESSAGES_IN_LIVE_REGIONS = """
const live = (node) => {
  const value = node.getAttribute('aria-live');
  if (value) return value !== 'off';
  return ['log', 'status', 'alert', 'marquee', 'timer'].includes(node.getAttribute('role'));
};
return Array.from(document.querySelectorAll('#message-list .message')).filter((message) => {
  for (let node = message; node; node = node.parentElement) if (live(node)) return true;
  return false;
}).length;
"""


def test_only_messages_that_come_live_are_announced(signed_in, alice_api, bob_api, bob):
    chat_id = listed_chat(alice_api, bob_api, bob, "Read aloud", history=[f"Old news {n:03}" for n in range(130)])
    bob.driver.execute_script(WATCH_ANNOUNCED)
    bob.open_chat(chat_id)
    bob.wait_message("Old news 129")
    for _ in range(2):
        shown = message_count(bob)
        bob.scroll_timeline_to_top()
        bob.until(lambda d: message_count(bob) > shown, "no older page came")
    # The history is in no live region, and nothing of it was said.
    assert bob.driver.execute_script(MESSAGES_IN_LIVE_REGIONS) == 0
    assert bob.driver.execute_script("return window.announced") == []

    # A message that comes live is said: who wrote it, and what.
    alice_api.post(chat_id, "Breaking news")
    bob.wait_message("Breaking news")
    bob.until(lambda d: d.execute_script("return window.announced") == ["alice: Breaking news"],
              "the live message was not announced")

    # A burst is said in a few lines, the last of them with its newest message, not one by one.
    for n in range(8):
        alice_api.post(chat_id, f"Burst {n}")
    bob.until(lambda d: d.execute_script("return window.announced")[-1].endswith("alice: Burst 7"),
              "the burst was not announced")
    announced = bob.driver.execute_script("return window.announced")
    assert 1 < len(announced) <= 3, announced
    assert len(bob.driver.find_elements(By.CSS_SELECTOR, "#message-announcement > *")) <= 3


@pytest.mark.parametrize("private", [True, False], ids=["private", "public"])
def test_removed_while_the_connection_was_down_is_said_on_reconnecting(signed_in, alice_api, bob_api, bob, private):
    name = f"Closed while away ({'private' if private else 'public'})"
    chat_id = shared_chat(alice_api, bob_api, bob, name, private=private)
    alice_api.post(chat_id, "Before the outage")
    bob.wait_message("Before the outage")
    bob.driver.execute_script("window.chatflow.goOffline()")
    try:
        bob.until(lambda d: d.find_element(By.ID, "connection-status").get_attribute("data-state") != "open",
                  "the connection never went down")
        alice_api.request("DELETE", f"/chats/{chat_id}/members/bob")
    finally:
        bob.driver.execute_script("window.chatflow.goOnline()")
    bob.wait_live(seconds=30)
    # Going live again is refused: bob is told he is no longer a member, in the chat, as a
    # removal seen live is told, not that the chat does not exist.
    bob.until(lambda d: d.find_element(By.ID, "join-bar").is_displayed()
              and "no longer a member" in d.find_element(By.ID, "join-bar").text,
              "the bar never said bob is no longer a member")
    assert bob.find("#chat-pane").get_attribute("data-chat-id") == chat_id
    assert bob.find("#chat-pane").is_displayed()
    assert "does not exist" not in bob.text_of("#error-text")
    assert not bob.find("[data-testid=composer]").is_displayed()
    if private:
        assert "private" in bob.text_of("[data-testid=join-bar]")
        assert not bob.find("[data-testid=join-this-chat]").is_displayed()
    else:
        assert "Join it again" in bob.text_of("[data-testid=join-bar]")
        bob.clickable("[data-testid=join-this-chat]").click()
        bob.wait_subscribed(chat_id)
        bob.visible("[data-testid=composer-input]")


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


@pytest.mark.parametrize("width", [375, 320])
def test_the_chat_header_and_top_bar_stay_readable_on_a_narrow_phone(signed_in, alice_api, bob_api, bob, width):
    name = "A very long chat name that keeps going and going past the width of a phone"
    chat_id = shared_chat(alice_api, bob_api, bob, name)
    set_viewport(bob.driver, width, 667)
    try:
        bob.driver.get(f"{bob.settings.url}/#/chats/{chat_id}")
        bob.wait_subscribed(chat_id)
        bob.wait_live()
        for selector in ("#chat-members", "#connection-status", "#current-user", "[data-testid=copy-chat-id]"):
            assert bob.driver.execute_script(SHOWN_WHOLE, bob.find(selector)), f"{selector} is cut short"
        assert bob.text_of("#chat-members") == "2 members"
        # The name is cut, and whole in its title, here and in the list.
        assert bob.find("#chat-name").get_attribute("title") == name
        assert bob.chat_item(chat_id).find_element(By.CSS_SELECTOR, "[data-testid=chat-item-name]").get_attribute("title") == name
        assert bob.driver.execute_script("return document.documentElement.scrollWidth") <= width
    finally:
        set_viewport(bob.driver, *DESKTOP)


def test_a_pasted_bearer_header_signs_in(visitor, settings):
    visitor.open()
    visitor.visible("[data-testid=token-input]").send_keys(f"Bearer {settings.alice_token}")
    visitor.find("[data-testid=signin-button]").click()
    visitor.until(lambda d: d.find_element(By.ID, "current-user").text == "alice", "a pasted 'Bearer …' did not sign in")
    assert visitor.driver.execute_script("return localStorage.getItem('chatflow.token')") == settings.alice_token


def test_a_chat_opened_while_the_server_is_unreachable_loads_once_it_is_back(signed_in, alice_api, bob_api, bob):
    shared_chat(alice_api, bob_api, bob, "Before the outage")
    later = listed_chat(alice_api, bob_api, bob, "Opened during the outage")
    alice_api.post(later, "Already there")
    bob.set_network(online=False)
    try:
        bob.attribute_is("[data-testid=connection-status]", "data-state", "reconnecting")
        bob.chat_item(later).click()
        bob.until(lambda d: "Cannot reach the server" in d.find_element(By.ID, "error-text").text,
                  "the failed load was not reported")
        assert bob.message_id("Already there") is None
    finally:
        bob.set_network(online=True)
    bob.wait_live(seconds=20)
    bob.wait_subscribed(later, seconds=20)
    bob.wait_message("Already there")
    alice_api.post(later, "After the outage")
    bob.wait_message("After the outage")


@pytest.mark.parametrize("where", ["scrolled up", "back in the history"])
def test_leaving_a_chat_not_read_to_the_end_keeps_its_unread_count(signed_in, alice_api, bob_api, bob, where):
    elsewhere = listed_chat(alice_api, bob_api, bob, f"Away from the chat {where}")
    history = ["Needle at the start"] + [f"Line {n:03}" for n in range(1, 120)]
    chat_id = shared_chat(alice_api, bob_api, bob, f"Left {where}", history=history)
    bob.attribute_is("#chat-pane", "data-read-up-to", bob.wait_message("Line 119"))
    if where == "scrolled up":
        bob.scroll_timeline_to_top()
    else:
        search(bob, "needle")
        bob.clickable("[data-testid=search-result]").click()
        bob.wait_message("Needle at the start")
        bob.visible("[data-testid=newer-status]")
    for n in range(4):
        alice_api.post(chat_id, f"Came while bob was {where} {n}")
    bob.until(lambda d: d.find_element(By.ID, "new-messages").text == "New messages ↓", "bob was not told of the new messages")
    wait_until(lambda: server_unread(bob_api, chat_id) == 4, "the server does not count 4 unread")
    # The notifications of all four have reached the page (its list shows the newest).
    bob.until(lambda d: f"Came while bob was {where} 3" in bob.chat_item(chat_id).text, "the list never showed the newest message")

    bob.open_chat(elsewhere)
    bob.until(lambda d: bob.unread(chat_id) == 4, f"the chat left {where} does not show 4 unread: {bob.unread(chat_id)}")
    assert server_unread(bob_api, chat_id) == 4


def read_up_to(page) -> str:
    return page.find("#chat-pane").get_attribute("data-read-up-to")


def test_a_chat_with_many_unread_opens_at_the_first_of_them(signed_in, alice_api, bob_api, bob):
    elsewhere = listed_chat(alice_api, bob_api, bob, "Busy elsewhere")
    chat_id = shared_chat(alice_api, bob_api, bob, "Catching up", history=[f"Read before {n}" for n in range(60)])
    last_read = bob.message_id("Read before 59")
    bob.attribute_is("#chat-pane", "data-read-up-to", last_read)

    for round in range(2):
        bob.open_chat(elsewhere)
        texts = [f"Unread {round} {n:03}" for n in range(150)]
        for text in texts:
            alice_api.post(chat_id, text)
        bob.until(lambda d: bob.unread(chat_id) == 150, f"bob's list never counted 150 unread: {bob.unread(chat_id)}")

        bob.open_chat(chat_id)
        first = opened_at_first_unread(bob, texts)
        assert message_count(bob) <= 3 * PAGE_SIZE
        assert bob.find("[data-testid=newer-status]").is_displayed()
        assert bob.find("[data-testid=new-messages]").text == "Back to the newest ↓"
        if round == 0:
            bob.screenshot("first-unread")
        # Read only as far as what came into view.
        ids = {m["content"]: m["id"] for m in alice_api.all_messages(chat_id)}
        bob.until(lambda d: read_up_to(bob) in {ids[t] for t in texts[:60]}, "the read marker never moved to what is in view")
        wait_until(lambda: server_unread(bob_api, chat_id) < 150, "the server never heard of what bob read")
        assert server_unread(bob_api, chat_id) >= 100

        # Live from the window: told of it, and "back to the newest" shows it.
        alice_api.post(chat_id, f"Live while catching up {round}")
        bob.until(lambda d: d.find_element(By.ID, "new-messages").text == "New messages ↓", "bob was not told of the new message")
        if round == 0:
            bob.clickable("[data-testid=new-messages]").click()
            bob.wait_message(f"Live while catching up {round}")
            bob.until(lambda d: not d.find_element(By.ID, "newer-status").is_displayed(), "the view never reached the newest")
            wait_until(lambda: server_unread(bob_api, chat_id) == 0, "reading to the newest left messages unread")
        else:
            # Posting from the window goes to the newest, with what came live.
            bob.send("Replying from the window")
            bob.wait_message(f"Live while catching up {round}")
            wait_until(lambda: server_unread(bob_api, chat_id) == 0, "posting left messages unread")
            assert bob.message_texts()[-2:] == [f"Live while catching up {round}", "Replying from the window"]
        alice_api.post(chat_id, f"Live at the newest {round}")
        bob.attribute_is("#chat-pane", "data-read-up-to", bob.wait_message(f"Live at the newest {round}"))


def test_a_chat_with_a_few_unread_or_none_opens_at_the_newest(signed_in, alice_api, bob_api, bob):
    elsewhere = listed_chat(alice_api, bob_api, bob, "Somewhere quieter")
    chat_id = shared_chat(alice_api, bob_api, bob, "A few new", history=[f"Seen {n:02}" for n in range(40)])
    bob.attribute_is("#chat-pane", "data-read-up-to", bob.message_id("Seen 39"))
    at_bottom = "const t = document.getElementById('timeline'); return t.scrollHeight - t.scrollTop - t.clientHeight < 2"

    bob.open_chat(elsewhere)
    for n in range(3):
        alice_api.post(chat_id, f"Few {n}")
    bob.until(lambda d: bob.unread(chat_id) == 3, "bob's list never counted 3 unread")
    bob.open_chat(chat_id)
    newest = bob.wait_message("Few 2")
    divider = bob.visible("[data-testid=unread-divider]")
    assert bob.driver.execute_script("return arguments[0].nextElementSibling.dataset.messageId", divider) == bob.message_id("Few 0")
    assert bob.driver.execute_script(at_bottom)
    bob.attribute_is("#chat-pane", "data-read-up-to", newest)

    bob.open_chat(elsewhere)
    bob.open_chat(chat_id)
    bob.wait_message("Few 2")
    assert not bob.driver.find_elements(By.CSS_SELECTOR, "[data-testid=unread-divider]")
    assert bob.driver.execute_script(at_bottom)


@pytest.mark.parametrize("who", ["added with history", "its creator"])
def test_a_chat_never_read_opens_at_the_first_unread(signed_in, alice_api, bob_api, bob, who):
    # No read marker at all: the server counts every message since bob joined (for its
    # creator, since it was made), and the first of those is where the chat opens.
    if who == "added with history":
        chat_id = alice_api.create_chat("Added to a busy chat", private=True)["id"]
        for n in range(20):
            alice_api.post(chat_id, f"Before bob came {n:02}")
        alice_api.request("POST", f"/chats/{chat_id}/members", {"userId": "bob"})
    else:
        chat_id = bob_api.create_chat("Made and never read")["id"]
        alice_api.join(chat_id)
    texts = [f"Never read ({who}) {n:03}" for n in range(150)]
    for text in texts:
        alice_api.post(chat_id, text)
    summary = next(c for c in bob_api.chats() if c["id"] == chat_id)
    assert (summary["lastReadMessageId"], summary["unreadCount"]) == (None, 150)
    bob.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"[data-testid=chat-item][data-chat-id='{chat_id}']")
              and bob.unread(chat_id) == 150, "bob's list never counted 150 unread")

    bob.open_chat(chat_id)
    first = opened_at_first_unread(bob, texts)
    # Read only as far as what came into view.
    ids = {m["content"]: m["id"] for m in alice_api.all_messages(chat_id)}
    bob.until(lambda d: read_up_to(bob) in {ids[t] for t in texts[:60]}, "the read marker never moved to what is in view")
    wait_until(lambda: server_unread(bob_api, chat_id) < 150, "the server never heard of what bob read")
    assert server_unread(bob_api, chat_id) >= 100


def test_unread_messages_deleted_stop_counting_in_the_list_and_title(signed_in, alice_api, bob_api, bob):
    chat_id = listed_chat(alice_api, bob_api, bob, "Said and unsaid")
    shared_chat(alice_api, bob_api, bob, "Looking elsewhere")
    # The title counts every chat's unread: other tests' chats' too.
    titled = lambda: int((re.fullmatch(r"\((\d+)\) ChatFlow", bob.driver.title) or [0, 0])[1])
    before = titled()
    posted = [alice_api.post(chat_id, f"Second thoughts {n}")["id"] for n in range(2)]
    bob.until(lambda d: bob.unread(chat_id) == 2, "bob's list never counted 2 unread")
    bob.until(lambda d: titled() == before + 2, f"the title does not count 2 more than {before}: {bob.driver.title!r}")

    alice_api.request("DELETE", f"/messages/{posted[0]}")
    bob.until(lambda d: bob.unread(chat_id) == 1, f"a deleted message still counts: {bob.unread(chat_id)}")
    alice_api.request("DELETE", f"/messages/{posted[1]}")
    bob.until(lambda d: bob.unread(chat_id) == 0, f"the deleted messages still count: {bob.unread(chat_id)}")
    bob.until(lambda d: titled() == before, f"the title still counts them: {bob.driver.title!r}")
    assert not bob.driver.find_elements(By.CSS_SELECTOR, f"[data-chat-id='{chat_id}'] [data-testid=unread-badge]")
    assert server_unread(bob_api, chat_id) == 0


def test_a_reaction_the_server_never_got_is_not_shown_and_the_outage_notice_goes_once_live(signed_in, alice_api, bob_api, bob):
    chat_id = shared_chat(alice_api, bob_api, bob, "Cheering into the void")
    message = alice_api.post(chat_id, "React while offline")["id"]
    bob.wait_message("React while offline")
    bob.set_network(online=False)
    try:
        bob.attribute_is("[data-testid=connection-status]", "data-state", "reconnecting")
        bob.message_action(message, "react-button").click()
        bob.clickable("[data-testid=emoji-choice][data-emoji='🎉']").click()
        bob.until(lambda d: "Cannot reach the server" in d.find_element(By.ID, "error-text").text,
                  "the failed reaction was not reported")
        # Not taken: not shown as bob's, even while the server cannot be asked what it has.
        bob.wait_reaction(message, "🎉", 0, False)
        assert bob.find("[data-testid=error-banner]").is_displayed()
    finally:
        bob.set_network(online=True)
    bob.wait_live(seconds=20)
    # Live again: the notice of the outage no longer stands beside "Live".
    assert not bob.find("[data-testid=error-banner]").is_displayed()
    assert bob.reaction(message, "🎉") is None
    assert alice_api.request("GET", f"/messages/{message}")["reactions"] == {}


DELETE_SHOWN = "return !arguments[0].querySelector('[data-testid=delete-button]').hidden"


def test_made_owner_when_the_owner_leaves_bob_may_delete_others_messages(signed_in, alice_api, bob_api, bob):
    elsewhere = listed_chat(alice_api, bob_api, bob, "Meanwhile")
    # Handed over while bob looks at the chat, and while he is elsewhere.
    watched = shared_chat(alice_api, bob_api, bob, "Handed over in view")
    unwatched = listed_chat(alice_api, bob_api, bob, "Handed over out of view")
    alice_api.post(unwatched, "Alice's words, out of view")
    watched_message = alice_api.post(watched, "Alice's words, in view")["id"]
    bob.wait_message("Alice's words, in view")
    assert not bob.driver.execute_script(DELETE_SHOWN, bob.message(watched_message))

    alice_api.request("DELETE", f"/chats/{watched}/members/alice")
    assert next(c for c in bob_api.chats() if c["id"] == watched)["role"] == "owner"
    bob.until(lambda d: d.execute_script(DELETE_SHOWN, bob.message(watched_message)),
              "bob, the owner now, is not offered Delete on alice's message")

    alice_api.request("DELETE", f"/chats/{unwatched}/members/alice")
    assert next(c for c in bob_api.chats() if c["id"] == unwatched)["role"] == "owner"
    bob.open_chat(elsewhere)
    bob.open_chat(unwatched)
    message = bob.wait_message("Alice's words, out of view")
    bob.until(lambda d: d.execute_script(DELETE_SHOWN, bob.message(message)),
              "bob, the owner now, is not offered Delete on alice's message after opening the chat")
    bob.message_action(message, "delete-button").click()
    bob.clickable("[data-testid=confirm-delete]").click()
    bob.until(lambda d: bob.message(message).get_attribute("data-deleted") == "true", "the delete did not show")
    assert alice_api.request("GET", f"/messages/{message}")["deleted"]


def test_added_back_to_a_private_chat_bob_sees_it_again(signed_in, alice_api, bob_api, bob):
    chat_id = shared_chat(alice_api, bob_api, bob, "Revolving door", private=True)
    alice_api.post(chat_id, "Before the door turned")
    bob.wait_message("Before the door turned")
    alice_api.request("DELETE", f"/chats/{chat_id}/members/bob")
    bob.until(lambda d: "removed" in d.find_element(By.ID, "join-bar").text, "the bar never said bob was removed")
    alice_api.post(chat_id, "While bob was out")

    alice_api.request("POST", f"/chats/{chat_id}/members", {"userId": "bob"})
    bob.wait_subscribed(chat_id)
    bob.visible("[data-testid=composer-input]")
    assert not bob.find("[data-testid=join-bar]").is_displayed()
    bob.wait_message("While bob was out")
    bob.until(lambda d: d.find_element(By.ID, "chat-members").text == "2 members", "the header never counted bob again")
    alice_api.post(chat_id, "Welcome back")
    bob.wait_message("Welcome back")
    bob.send("Glad to be back")


def test_a_link_to_a_private_chat_bob_is_not_in_says_so_plainly(signed_in, settings, alice_api, bob):
    chat_id = alice_api.create_chat("Not for bob", private=True)["id"]
    bob.driver.get(f"{settings.url}/#/chats/{chat_id}")
    bob.until(lambda d: d.find_element(By.ID, "error-text").text
              == "This chat does not exist, or it is private and you are not a member.", "the refusal was not put plainly")
    bob.wait_live()


def jump_back(alice_api, bob_api, bob, name: str, needle_at: int, total: int) -> tuple[str, list[dict]]:
    """A chat of `total` messages open in bob's browser at the one numbered `needle_at`,
    found by search, in a window that does not reach the newest."""
    history = ["Needle in the stack" if n == needle_at else f"Stack entry {n:03}" for n in range(total)]
    chat_id = shared_chat(alice_api, bob_api, bob, name, history=history)
    bob.wait_message(history[-1])
    stored = alice_api.all_messages(chat_id)
    search(bob, "needle")
    bob.clickable(f"[data-testid=search-result][data-message-id='{stored[needle_at]['id']}']").click()
    bob.until(lambda d: "flash" in bob.message(stored[needle_at]["id"]).get_attribute("class"), "the result was not shown")
    bob.visible("[data-testid=newer-status]")
    bob.find("[data-testid=search-close]").click()
    return chat_id, stored


SCROLL_TO_FOOT = "const t = document.getElementById('timeline'); t.scrollTop = t.scrollHeight"

# Answers every request for a newer page with 503 and counts them (window.newerAsked).
REFUSE_NEWER = """
window.newerAsked = 0;
window.realFetch = window.realFetch || window.fetch;
window.fetch = (path, init) => {
  if (String(path).includes('direction=newer')) {
    window.newerAsked += 1;
    return Promise.resolve(new Response(JSON.stringify({detail: 'Busy'}),
      {status: 503, headers: {'Content-Type': 'application/json'}}));
  }
  return window.realFetch(path, init);
};
"""


def test_a_newer_page_that_fails_is_asked_for_again_later_not_at_once(signed_in, alice_api, bob_api, bob):
    jump_back(alice_api, bob_api, bob, "Busy server", 60, 160)
    shown = message_count(bob)
    bob.driver.execute_script(REFUSE_NEWER)
    try:
        bob.driver.execute_script(SCROLL_TO_FOOT)
        bob.until(lambda d: d.execute_script("return window.newerAsked") >= 1, "no newer page was asked for")
        bob.visible("[data-testid=error-banner]")
        # Held back by the backoff: asking again at once, every frame, would pass 3 by far.
        with pytest.raises(TimeoutException):
            bob.wait(1.5).until(lambda d: d.execute_script("return window.newerAsked") > 2)
    finally:
        bob.driver.execute_script("window.fetch = window.realFetch")
    # Once the backoff is over, the page comes.
    bob.until(lambda d: message_count(bob) > shown, "the newer page was never asked for again", seconds=20)


def test_the_last_newer_page_goes_below_the_reader_with_what_came_live(signed_in, alice_api, bob_api, bob):
    chat_id, stored = jump_back(alice_api, bob_api, bob, "Slow reader", 60, 120)
    live = alice_api.post(chat_id, "Came live while bob was back in the stack")["id"]
    bob.until(lambda d: d.find_element(By.ID, "new-messages").text == "New messages ↓", "bob was not told of the new message")
    alice_api.react(live, "🎉")
    bob.driver.execute_script(SCROLL_TO_FOOT)
    bob.until(lambda d: not d.find_element(By.ID, "newer-status").is_displayed(), "the last newer page never came")
    # The view stayed where the reader was: the last page and the live message are below it,
    # not jumped to, and not read.
    bob.wait_message("Stack entry 119")
    assert not bob.driver.execute_script(IN_TIMELINE, bob.message(live))
    assert not bob.driver.execute_script(IN_TIMELINE, bob.message(stored[-1]["id"]))
    bob.until(lambda d: d.find_element(By.ID, "chat-pane").get_attribute("data-read-checked") == live,
              "the client never considered the page")
    assert read_up_to(bob) != live
    # A reaction while it waited below the window was kept.
    bob.clickable("[data-testid=new-messages]").click()
    bob.wait_reaction(live, "🎉", 1, False)
    bob.attribute_is("#chat-pane", "data-read-up-to", live)


def test_a_long_user_id_wraps_at_phone_width(own_server, page_on):
    # A valid id, long and without a space to break at; bob's and alice's are too short.
    author = "bob_with_a_rather_long_user_id_0123456789"
    alice_api = Api(own_server.url, own_server.token("alice"))
    author_api = Api(own_server.url, own_server.token(author))
    chat_id = alice_api.create_chat("Long names")["id"]
    author_api.join(chat_id)
    author_api.post(chat_id, "Hello from a long name")
    alice = page_on(own_server, "alice")
    alice.open()
    alice.sign_in(own_server.token("alice"))
    set_viewport(alice.driver, *PHONE)
    alice.open_chat(chat_id)
    message = alice.message(alice.wait_message("Hello from a long name"))
    assert alice.driver.execute_script("""
        const t = document.getElementById('timeline');
        return t.scrollWidth <= t.clientWidth;"""), "the timeline scrolls sideways"
    assert alice.driver.execute_script("""
        const [message] = arguments;
        const box = document.getElementById('timeline').getBoundingClientRect();
        return [message.querySelector('[data-testid=message-author]'), message.querySelector('.time')].every((node) => {
          const rect = node.getBoundingClientRect();
          return rect.width > 0 && rect.left >= box.left && rect.right <= box.right;
        });""", message), "the author or the time runs off screen"


@pytest.mark.parametrize("width", [1280, 800])
def test_a_long_chat_list_scrolls_only_down_and_keeps_its_buttons_in_view(own_server, page_on, width):
    carol_api = Api(own_server.url, own_server.token("carol"))
    for number in range(30):
        carol_api.create_chat(f"Chat number {number + 1}")
    carol = page_on(own_server, "carol")
    carol.open()
    carol.sign_in(own_server.token("carol"))
    set_viewport(carol.driver, width, DESKTOP[1])
    carol.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-testid=chat-item]")) == 30, "the list is not whole")
    carol.clickable("[data-testid=browse-chats]").click()
    carol.wait_directory()
    layout = """
        const sidebar = document.getElementById('sidebar');
        const box = sidebar.getBoundingClientRect();
        const list = document.getElementById('chat-list');
        list.scrollTop = list.scrollHeight;
        sidebar.scrollTop = sidebar.scrollHeight;
        const inside = (node) => {
          const rect = node.getBoundingClientRect();
          return rect.left >= box.left && rect.top >= box.top && rect.bottom <= box.bottom
            && rect.right <= box.left + sidebar.clientLeft + sidebar.clientWidth;
        };
        return {
          sideways: [sidebar, list].filter((node) => node.scrollWidth > node.clientWidth).map((node) => node.id),
          scrolledSideways: sidebar.scrollLeft + list.scrollLeft,
          buttons: Array.from(document.querySelectorAll('.sidebar-actions .button'), (button) => inside(button)
            && button.scrollWidth <= button.clientWidth),
        };"""
    # Scrolled to the end of the list: nothing scrolls sideways, and the three buttons are
    # whole and in view.
    assert carol.driver.execute_script(layout) == {"sideways": [], "scrolledSideways": 0, "buttons": [True, True, True]}


CONTRAST = """
const parse = (color) => color.match(/[\\d.]+/g).map(Number);
const luminance = ([r, g, b]) => {
  const [R, G, B] = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * R + 0.7152 * G + 0.0722 * B;
};
const background = (node) => {
  for (; node; node = node.parentElement) {
    const color = parse(getComputedStyle(node).backgroundColor);
    if (color.length < 4 || color[3] > 0) return color;
  }
  return [255, 255, 255];
};
return Array.from(document.querySelectorAll(arguments[0]), (node) => {
  const [a, b] = [luminance(parse(getComputedStyle(node).color)), luminance(background(node))].sort((x, y) => y - x);
  return [node.textContent, Math.round((a + 0.05) / (b + 0.05) * 100) / 100];
});
"""


def test_small_muted_text_has_enough_contrast_on_the_open_chat_and_the_status(signed_in, alice_api, bob_api, bob):
    chat = alice_api.create_chat("Contrast check", private=True)
    alice_api.request("POST", f"/chats/{chat['id']}/members", {"userId": "bob"})
    alice_api.post(chat["id"], "Readable, I hope")
    bob.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "light"}]})
    try:
        bob.open_chat(chat["id"])
        selector = ("[data-testid=connection-status], [aria-current=page] .chat-item-time,"
                    " [aria-current=page] .chat-item-preview, [aria-current=page] .tag")
        ratios = bob.driver.execute_script(CONTRAST, selector)
        assert len(ratios) == 4, ratios
        # WCAG AA for text this small.
        assert all(ratio >= 4.5 for _, ratio in ratios), ratios
    finally:
        bob.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def test_a_message_of_blank_lines_takes_at_most_a_screen(signed_in, alice_api, bob_api, bob):
    chat = alice_api.create_chat("Blank lines")["id"]
    bob_api.join(chat)
    tall = "x" + "\n" * 3000 + "y"
    alice_api.post(chat, "Before the tall one")
    alice_api.post(chat, tall)
    alice_api.post(chat, "After the tall one")
    bob.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"[data-testid=chat-item][data-chat-id='{chat}']"), "the chat never reached bob's list")
    bob.open_chat(chat)
    message = bob.message(bob.wait_message(tall))
    sizes = bob.driver.execute_script("""
        const [message] = arguments;
        const text = message.querySelector('.text');
        return {message: message.getBoundingClientRect().height, screen: innerHeight,
                scrolls: text.scrollHeight > text.clientHeight};""", message)
    assert sizes["message"] <= sizes["screen"], sizes
    # All of it can still be read, within the message.
    assert sizes["scrolls"], sizes
