"""The directory of public chats (#/browse): alice starts a public and a private chat and
then more than a page of other public ones; bob browses, pages with "Load more", finds the
public chat and not the private one, joins it from the directory, and gets alice's message
live.

A module of its own, so alice and bob get fresh browsers, and the chats made here (more
than a page of them) do not crowd the chat lists that test_chat.py photographs.
"""

from __future__ import annotations

import urllib.parse

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from support import DESKTOP, PHONE, set_viewport

DIRECTORY_PAGE_SIZE = 20  # DIRECTORY_PAGE_SIZE in app.js

# Started after "Release train", so that it is only on the directory's second page.
TOPICS = [
    ("Rust and Swift interop", "FFI notes, bridging headers and war stories"),
    ("Incident review", "Blameless write-ups of what broke and why"),
    ("Frontend guild", "CSS, accessibility and the web client"),
    ("Storage engine", "RocksDB tuning, compaction and key layouts"),
    ("Load testing", "Numbers, graphs and the scripts that made them"),
    ("On-call handover", "What the next person on call should know"),
    ("Book club", "This month: Designing Data-Intensive Applications"),
    ("Coffee machine", "It is broken again, isn't it"),
    ("Hiring", "Interview loops and take-home reviews"),
    ("Docs", "README, runbooks and the OpenAPI file"),
    ("Random", "Anything goes, within reason"),
    ("Security", "Token handling, rate limits and reports"),
    ("Mobile app", "Planning the native clients"),
    ("Observability", "Metrics, logs and the dashboards"),
    ("Benchmarks", "ordo-one results and how to read them"),
    ("Climbing", "Thursday bouldering, all levels welcome"),
    ("Music", "What everyone is listening to while coding"),
    ("UX critique", "Mock-ups and feedback, kindly"),
    ("Announcements", "Releases, outages and other news"),
    ("Lunch", "Where, when, and who is coming"),
    ("Welcome", "Say hello! New here? Start in this chat"),
]


@pytest.fixture(scope="module")
def signed_in(settings, alice, bob):
    for page, token in ((alice, settings.alice_token), (bob, settings.bob_token)):
        page.open()
        page.sign_in(token)


@pytest.fixture(scope="module")
def chats(alice_api, bob_api):
    """The chats of this module, oldest first; bob is already in one of the topics."""
    release = alice_api.create_chat("Release train", "Coordinating Thursday's release of ChatFlow 1.4")
    secret = alice_api.create_chat("Salary review", "Managers only, please", private=True)
    topics = [alice_api.create_chat(name, description) for name, description in TOPICS]
    bob_api.join(topics[-3]["id"])
    return {"release": release, "secret": secret, "topics": topics, "joined": topics[-3]}


def public_directory(api) -> list[dict]:
    """Every public chat as the server lists it, newest first."""
    chats, cursor = [], None
    while True:
        query = "scope=public&limit=100" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        page = api.request("GET", f"/chats?{query}")
        chats.extend(page["chats"])
        cursor = page["nextCursor"]
        if not cursor:
            return chats


def load_whole_directory(page) -> list[dict]:
    """Clicks "Load more" until the directory has shown its last page; returns every entry."""
    for _ in range(50):
        if page.wait_directory() == "end":
            assert not page.find("[data-testid=directory-more]").is_displayed()
            return page.directory_entries()
        shown = len(page.directory_entries())
        page.clickable("[data-testid=directory-more]").click()
        page.until(lambda d: len(page.directory_entries()) > shown, "Load more added nothing")
    raise AssertionError("the directory never reached its end")


def test_bob_finds_a_public_chat_in_the_directory_joins_it_and_gets_messages_live(
        signed_in, chats, settings, alice, bob, bob_api):
    release, secret, topics = chats["release"], chats["secret"], chats["topics"]
    bob.browse()
    assert bob.find("[data-testid=directory]").is_displayed()
    assert bob.find("[data-testid=browse-chats]").get_attribute("aria-current") == "page"

    # The first page: the newest public chats, newest first, with what bob is already in marked.
    first = bob.directory_entries()
    assert len(first) == DIRECTORY_PAGE_SIZE
    newest = list(reversed(topics))[:DIRECTORY_PAGE_SIZE]
    assert [e["id"] for e in first] == [c["id"] for c in newest]
    for entry, chat in zip(first, newest):
        assert (entry["name"], entry["description"]) == (chat["name"], chat["description"])
        member = chat["id"] == chats["joined"]["id"]
        assert entry["member"] == entry["joined"] == member, entry
        assert entry["members"] == ("2 members" if member else "1 member"), entry
        assert (entry["open"], entry["join"]) == (("Open", None) if member else (None, "Join")), entry
    assert bob.find("[data-testid=directory-more]").is_displayed()
    bob.screenshot("directory")

    # "Load more" until the end: every public chat once, in the server's order, and no private one.
    entries = load_whole_directory(bob)
    assert len(entries) > DIRECTORY_PAGE_SIZE
    assert [e["id"] for e in entries] == [c["id"] for c in public_directory(bob_api)]
    assert secret["id"] not in {e["id"] for e in entries}
    assert secret["name"] not in {e["name"] for e in entries}
    mine = {c["id"] for c in bob_api.chats()}
    assert all(e["member"] == (e["id"] in mine) for e in entries)
    found = next(e for e in entries if e["id"] == release["id"])
    assert found == {"id": release["id"], "member": False, "name": "Release train", "description": release["description"],
                     "members": "1 member", "joined": False, "join": "Join", "open": None}

    # Joining from the directory opens the chat and puts it in bob's list.
    bob.driver.execute_script("window.notReloaded = true")
    join = bob.directory_entry(release["id"]).find_element(By.CSS_SELECTOR, "[data-testid=directory-join]")
    bob.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", join)
    join.click()
    bob.wait_subscribed(release["id"])
    assert bob.text_of("[data-testid=chat-name]") == "Release train"
    assert not bob.find("[data-testid=directory]").is_displayed()
    bob.visible("[data-testid=composer-input]")
    assert not bob.find("[data-testid=join-bar]").is_displayed()
    bob.until(lambda d: bob.chat_item(release["id"]).find_element(By.CSS_SELECTOR, "[data-testid=chat-item-name]").text == "Release train",
              "bob's chat list never showed the joined chat")
    assert any(c["id"] == release["id"] and c["role"] == "member" for c in bob_api.chats())

    # Alice's message reaches bob's open chat over the WebSocket. (Her page loads afresh: it
    # learns of chats she started through the API only when it next fetches her list.)
    alice.driver.get(f"{settings.url}/#/chats/{release['id']}")
    alice.driver.refresh()
    alice.wait_live()
    alice.wait_subscribed(release["id"])
    alice.until(lambda d: d.find_element(By.ID, "chat-members").text == "2 members", "alice never saw bob's membership")
    text = "Bob, you found us! Release notes are due Wednesday."
    alice.type(text)
    alice.find("[data-testid=composer-input]").send_keys(Keys.ENTER)
    alice.wait_message(text)
    bob.wait_message(text)
    assert bob.driver.execute_script("return window.notReloaded === true")

    # Back in the directory, the chat reads as joined.
    bob.browse()
    assert len(bob.directory_entries()) == DIRECTORY_PAGE_SIZE, "the directory did not start over at its first page"
    load_whole_directory(bob)
    entry = bob.directory_entry(release["id"])
    assert entry.get_attribute("data-member") == "true"
    assert entry.find_element(By.CSS_SELECTOR, "[data-testid=directory-joined]").text == "Joined"
    assert entry.find_elements(By.CSS_SELECTOR, "[data-testid=directory-join]") == []


def test_directory_at_phone_width(signed_in, chats, bob):
    set_viewport(bob.driver, *PHONE)
    try:
        bob.driver.get(bob.settings.url + "/#/")
        bob.wait_live()
        bob.browse()
        # On a phone the directory is a screen of its own, with a way back to the list.
        assert bob.find("[data-testid=directory]").is_displayed()
        assert not bob.find("#sidebar").is_displayed()
        assert bob.driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
        for entry in bob.driver.find_elements(By.CSS_SELECTOR, "#directory-list [data-testid=directory-item]")[:5]:
            button = entry.find_element(By.CSS_SELECTOR, "[data-testid=directory-join], [data-testid=directory-open]")
            right = bob.driver.execute_script("return arguments[0].getBoundingClientRect().right", button)
            assert button.is_displayed() and right <= PHONE[0], "a Join/Open button is cut off"
        bob.screenshot("directory-phone")
        bob.clickable("[data-testid=directory-back]").click()
        bob.until(lambda d: d.find_element(By.ID, "sidebar").is_displayed() and not d.find_element(By.ID, "chat-view").is_displayed(),
                  "the back button did not show the chat list")
    finally:
        set_viewport(bob.driver, *DESKTOP)


def test_a_message_posted_while_bob_previews_a_chat_is_there_once_he_joins(signed_in, settings, alice_api, bob):
    chat = alice_api.create_chat("Preview, then join", "Read before you join")
    alice_api.post(chat["id"], "Posted before the preview.")
    bob.driver.get(f"{settings.url}/#/chats/{chat['id']}")
    bob.wait_live()
    bob.visible("[data-testid=join-bar]")
    bob.wait_message("Posted before the preview.")
    # Not a member yet, so not subscribed: this one comes to bob only through his resume.
    alice_api.post(chat["id"], "Posted while bob previews.")
    bob.clickable("[data-testid=join-this-chat]").click()
    bob.wait_subscribed(chat["id"])
    alice_api.post(chat["id"], "Posted after bob joined.")
    bob.wait_message("Posted after bob joined.")
    bob.wait_message("Posted while bob previews.")
    texts = bob.message_texts()
    assert texts.index("Posted before the preview.") < texts.index("Posted while bob previews.") < texts.index("Posted after bob joined."), texts

    # Removed while looking at it, the chat stays open to read; what comes while he is out
    # reaches him once he joins again (the server's resume skips his time away, as live).
    alice_api.request("DELETE", f"/chats/{chat['id']}/members/bob")
    bob.visible("[data-testid=join-bar]")
    alice_api.post(chat["id"], "Posted while bob was out.")
    bob.clickable("[data-testid=join-this-chat]").click()
    bob.until(lambda d: d.find_element(By.ID, "chat-pane").get_attribute("data-member") == "true", "bob never joined again")
    bob.wait_subscribed(chat["id"])
    alice_api.post(chat["id"], "Posted after bob came back.")
    bob.wait_message("Posted after bob came back.")
    bob.wait_message("Posted while bob was out.")
    texts = bob.message_texts()
    assert texts.index("Posted while bob was out.") < texts.index("Posted after bob came back."), texts
    assert len(texts) == len(set(texts)), texts


def test_load_more_keeps_the_keyboard_focus(signed_in, chats, alice_api, bob):
    # Three pages at least, so that "Load more" is pressed with more to come and at the end.
    for number in range(2 * DIRECTORY_PAGE_SIZE + 1 - len(public_directory(alice_api))):
        alice_api.create_chat(f"Keyboard page filler {number + 1}")
    bob.driver.get(bob.settings.url + "/#/")
    bob.wait_live()
    bob.browse()
    focused = "return document.activeElement.id || document.activeElement.getAttribute('data-testid')"
    more = bob.clickable("[data-testid=directory-more]")
    bob.driver.execute_script("arguments[0].focus()", more)
    pressed_with_more_to_come = False
    for _ in range(50):
        shown = [entry["id"] for entry in bob.directory_entries()]
        bob.driver.switch_to.active_element.send_keys(Keys.ENTER)
        bob.until(lambda d: len(bob.directory_entries()) > len(shown), "Load more added nothing")
        if bob.wait_directory() == "end":
            break
        # More to come: the next page is one key press away.
        assert bob.driver.execute_script(focused) == "directory-more"
        pressed_with_more_to_come = True
    else:
        raise AssertionError("the directory never reached its end")
    assert pressed_with_more_to_come
    # The button is gone for good: the focus is on the first chat the last page brought.
    first_new = bob.directory_entries()[len(shown)]
    assert bob.driver.execute_script(focused) == "directory-item-name"
    assert bob.driver.execute_script("return document.activeElement.closest('[data-chat-id]').dataset.chatId") == first_new["id"]


def test_a_preview_of_a_chat_made_private_is_taken_away(signed_in, settings, alice_api, bob):
    chat = alice_api.create_chat("Open for now", "Soon to be closed")
    alice_api.post(chat["id"], "Readable while public.")
    bob.driver.get(f"{settings.url}/#/chats/{chat['id']}")
    bob.wait_live()
    bob.visible("[data-testid=join-bar]")
    bob.wait_message("Readable while public.")

    # A previewer has no live channel: coming back to the page, the preview is read again.
    alice_api.request("PATCH", f"/chats/{chat['id']}", {"name": "Open, renamed"})
    bob.driver.execute_script("document.dispatchEvent(new Event('visibilitychange'))")
    bob.until(lambda d: d.find_element(By.ID, "chat-name").text == "Open, renamed", "the preview kept the old name")

    # Made private meanwhile: Join says so in the client's words, and what bob may no longer
    # read goes away.
    alice_api.request("PATCH", f"/chats/{chat['id']}", {"isPrivate": True})
    bob.clickable("[data-testid=join-this-chat]").click()
    bob.until(lambda d: d.find_element(By.ID, "error-text").text
              == "This chat does not exist, or it is private and you are not a member.", "Join did not say why it failed")
    bob.until(lambda d: not d.find_element(By.ID, "chat-pane").is_displayed(), "the preview stayed on screen")
    assert bob.message_texts() == []
    assert bob.driver.execute_script("return location.hash") == "#/"


def test_a_directory_opened_offline_loads_once_the_connection_is_back(signed_in, chats, bob):
    bob.driver.get(bob.settings.url + "/#/")
    bob.wait_live()
    bob.set_network(online=False)
    try:
        bob.attribute_is("[data-testid=connection-status]", "data-state", "reconnecting")
        bob.clickable("[data-testid=browse-chats]").click()
        bob.attribute_is("#directory-status", "data-state", "error")
    finally:
        bob.set_network(online=True)
    bob.wait_live(seconds=20)
    assert bob.wait_directory(seconds=20) in ("more", "end")
    assert bob.directory_entries()
