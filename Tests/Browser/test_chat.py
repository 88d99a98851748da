"""Two people, alice and bob, each in their own headless Chromium, using the web client
against a real `chatflow serve`.

The tests run in file order and share the two signed-in browsers and one chat, "Launch
room", which alice creates and bob joins through the UI (the `room` fixture). Each test
brings its own messages, so any one of them also runs alone (ops/browser-test.sh -k NAME).
"""

from __future__ import annotations

import re
import shutil

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from support import DESKTOP, PHONE, forged_token, set_viewport, wait_until

# A lookbehind, which Safari before 16.4 cannot parse: in a regular expression literal it stops
# the whole script from loading there, and one built with new RegExp throws when it is made.
LOOKBEHIND = re.compile(r"\(\?<[=!]")

DELETED_TEXT = "This message was deleted."

IN_VIEW = """
const timeline = document.getElementById('timeline').getBoundingClientRect();
const node = document.querySelector(`#message-list [data-message-id='${arguments[0]}']`).getBoundingClientRect();
return document.getElementById('timeline').scrollTop > 0 && node.top >= timeline.top - 1 && node.top < timeline.bottom;
"""


@pytest.fixture(scope="module")
def signed_in(settings, alice, bob):
    for page, token in ((alice, settings.alice_token), (bob, settings.bob_token)):
        page.open()
        page.sign_in(token)


@pytest.fixture(scope="module")
def room(signed_in, alice, bob):
    chat_id = alice.create_chat("Launch room", "Where the launch happens")
    bob.join_chat(chat_id)
    return chat_id


def test_no_script_of_the_client_uses_a_lookbehind(settings):
    for script in sorted(settings.web.glob("*.js")):
        lines = [n for n, line in enumerate(script.read_text().splitlines(), start=1) if LOOKBEHIND.search(line)]
        assert not lines, f"{script.name} has a lookbehind on line(s) {lines}"


def test_sign_in_explains_a_refused_token(visitor, settings):
    visitor.open()
    visitor.visible("[data-testid=token-input]").send_keys("not a token")
    visitor.find("[data-testid=signin-button]").click()
    error = visitor.visible("[data-testid=signin-error]")
    assert "three parts" in error.text

    field = visitor.find("[data-testid=token-input]")
    field.clear()
    field.send_keys(forged_token("mallory"))
    visitor.find("[data-testid=signin-button]").click()
    # The server's problem detail, word for word.
    visitor.until(lambda d: "signature does not match" in d.find_element(By.ID, "signin-error").text,
                  "the server's reason for refusing the token was not shown")
    assert not visitor.find("#app").is_displayed()
    assert visitor.driver.execute_script("return localStorage.getItem('chatflow.token')") is None


def test_alice_creates_a_chat_and_bob_joins_it(room, alice, bob, alice_api, bob_api):
    for page in (alice, bob):
        assert page.text_of("[data-testid=chat-name]") == "Launch room"
        # The list re-renders on live membership events: read it inside a wait that retries
        # when the element it found was replaced.
        page.until(lambda d: page.chat_item(room).find_element(By.CSS_SELECTOR, "[data-testid=chat-item-name]").text == "Launch room",
                   "the chat list never showed the chat's name")
    # Bob's joining reaches alice's open chat live.
    alice.until(lambda d: d.find_element(By.ID, "chat-members").text == "2 members", "alice never saw bob join")
    assert any(chat["id"] == room and chat["role"] == "member" for chat in bob_api.chats())
    assert any(chat["id"] == room and chat["role"] == "owner" for chat in alice_api.chats())


def test_a_message_typed_by_alice_appears_live_for_bob(room, alice, bob):
    bob.driver.execute_script("window.notReloaded = true")
    text = "Hello Bob, the build is green"
    alice.type(text)
    bob.until(lambda d: d.find_element(By.ID, "typing-indicator").text == "alice is typing…",
              "bob never saw alice typing")
    alice.find("[data-testid=composer-input]").send_keys(Keys.ENTER)
    alice.wait_message(text)
    bob.wait_message(text)
    # The message arrived over the WebSocket: bob's page never reloaded.
    assert bob.driver.execute_script("return window.notReloaded === true")
    bob.until(lambda d: d.find_element(By.ID, "typing-indicator").text == "", "the typing indicator did not clear")
    assert alice.find("[data-testid=composer-input]").get_attribute("value") == ""


def test_message_text_is_never_markup(room, alice, bob):
    text = '<img src=x onerror="window.pwned=1"> <b>bold</b> & "quotes"'
    message_id = alice.send(text)
    bob.wait_message(text)
    for page in (alice, bob):
        content = page.message(message_id).find_element(By.CSS_SELECTOR, "[data-testid=message-content]")
        assert content.find_elements(By.CSS_SELECTOR, "*") == []
        assert page.driver.execute_script("return window.pwned") is None


def test_a_direction_override_in_a_message_stays_inside_it(room, alice, bob):
    text = "\u202egnp.exe and the rest"
    message_id = alice.send(text)
    bob.wait_message(text)
    message = bob.message(message_id)
    for selector in ("[data-testid=message-content]", "[data-testid=message-author]"):
        element = message.find_element(By.CSS_SELECTOR, selector)
        assert bob.driver.execute_script("return getComputedStyle(arguments[0]).unicodeBidi", element) == "plaintext", selector
    name = bob.find("[data-testid=chat-item-name]")
    assert bob.driver.execute_script("return getComputedStyle(arguments[0]).unicodeBidi", name) == "plaintext"


def test_a_reaction_shows_in_both_browsers(room, alice, bob, alice_api):
    message_id = alice.send("Ship it on Friday?")
    bob.wait_message("Ship it on Friday?")

    bob.message_action(message_id, "react-button").click()
    bob.clickable("[data-testid=emoji-choice][data-emoji='👍']").click()
    bob.wait_reaction(message_id, "👍", 1, mine=True)
    alice.wait_reaction(message_id, "👍", 1, mine=False)

    # Alice adds hers by clicking bob's chip.
    alice.clickable(f"#message-list [data-message-id='{message_id}'] [data-testid=reaction][data-emoji='👍']").click()
    alice.wait_reaction(message_id, "👍", 2, mine=True)
    bob.wait_reaction(message_id, "👍", 2, mine=True)

    # Bob takes his back.
    bob.clickable(f"#message-list [data-message-id='{message_id}'] [data-testid=reaction][data-emoji='👍']").click()
    bob.wait_reaction(message_id, "👍", 1, mine=False)
    alice.wait_reaction(message_id, "👍", 1, mine=True)
    assert alice_api.request("GET", f"/messages/{message_id}/reactions") == [
        {"emoji": "👍", "count": 1, "users": ["alice"], "reactedByMe": True}]


def test_alice_edits_and_deletes_her_messages(room, alice, bob, alice_api):
    message_id = alice.send("Deploy at 5pm")
    bob.wait_message("Deploy at 5pm")
    # Only the author may edit.
    bob.message_action(message_id, "react-button")
    assert not bob.message(message_id).find_element(By.CSS_SELECTOR, "[data-testid=edit-button]").is_displayed()
    assert not bob.message(message_id).find_element(By.CSS_SELECTOR, "[data-testid=delete-button]").is_displayed()

    alice.message_action(message_id, "edit-button").click()
    field = alice.visible("[data-testid=edit-input]")
    assert field.get_attribute("value") == "Deploy at 5pm"
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys("Deploy at 6pm", Keys.ENTER)
    for page in (alice, bob):
        page.until(lambda d: page.content(message_id) == "Deploy at 6pm", "the edit did not show")
        page.until(lambda d: page.message(message_id).find_element(By.CSS_SELECTOR, "[data-testid=message-edited]").is_displayed(),
                   "the message is not marked as edited")

    doomed = alice.send("Oops, wrong chat")
    bob.wait_message("Oops, wrong chat")
    alice.message_action(doomed, "delete-button").click()
    alice.clickable("[data-testid=confirm-delete]").click()
    for page in (alice, bob):
        page.until(lambda d: page.message(doomed).get_attribute("data-deleted") == "true", "the delete did not show")
        assert page.content(doomed) == DELETED_TEXT
        assert page.message_id("Oops, wrong chat") is None

    stored = {m["id"]: m for m in alice_api.all_messages(room)}
    assert stored[message_id]["content"] == "Deploy at 6pm" and stored[message_id]["editedAt"]
    assert stored[doomed]["deleted"]


def test_unread_counts_and_the_read_marker(room, alice, bob, alice_api, bob_api):
    notes = bob.create_chat("Bob's notes")
    assert bob.unread(room) == 0
    alice_api.post(room, "Are you there, Bob?")
    bob.until(lambda d: bob.unread(room) == 1, "bob's chat list never counted the unread message")
    bob.until(lambda d: bob.chat_item(room).find_element(By.CSS_SELECTOR, "[data-testid=unread-badge]").text == "1",
              "bob's unread badge never read 1")
    assert bob.unread(notes) == 0

    bob.open_chat(room)
    bob.wait_message("Are you there, Bob?")
    bob.until(lambda d: bob.unread(room) == 0, "the unread count did not clear on opening the chat")
    # The read marker reached the server.
    wait_until(lambda: next(c for c in bob_api.chats() if c["id"] == room)["unreadCount"] == 0,
               "the server still counts unread messages for bob")


def test_a_chat_read_on_one_device_is_read_on_the_other(room, bob, bob_elsewhere, alice_api):
    bob.create_chat("Bob's desk")  # the first device looks elsewhere
    alice_api.post(room, "Seen this on your phone?")
    for page in (bob, bob_elsewhere):
        page.until(lambda d, page=page: page.unread(room) == 1, f"{page.user}'s chat list never counted the unread message")

    bob.open_chat(room)
    bob.wait_message("Seen this on your phone?")
    bob_elsewhere.until(lambda d: bob_elsewhere.unread(room) == 0,
                        "the chat read on bob's first device still counts as unread on his second")


def test_a_post_from_one_device_moves_the_chat_up_on_the_other(room, bob, bob_elsewhere, alice_api, bob_api):
    busy = alice_api.create_chat("Busier than the room")["id"]
    bob_api.join(busy)
    alice_api.post(busy, "Newer than anything in the room")  # first in both lists
    bob_elsewhere.until(lambda d: bob_elsewhere.find("[data-testid=chat-item]").get_attribute("data-chat-id") == busy,
                        "bob's second device never listed the busier chat first")
    bob.open_chat(room)
    bob.send("Posted from my first device")
    first = lambda: bob_elsewhere.find("[data-testid=chat-item]")
    bob_elsewhere.until(lambda d: first().get_attribute("data-chat-id") == room and "Posted from my first device" in first().text,
                        "bob's own post did not move the chat up with its text on his second device")
    assert bob_elsewhere.unread(room) == 0, "bob's own message counts as unread on his second device"


def test_a_chat_created_on_one_device_is_listed_on_the_other(room, bob, bob_elsewhere):
    created = bob.create_chat("Made on the first device")
    bob_elsewhere.until(lambda d: bob_elsewhere.find("[data-testid=chat-item]").get_attribute("data-chat-id") == created,
                        "bob's second device never listed the chat he created on the first")
    bob.open_chat(room)  # where the tests after this one expect him


def test_search_finds_and_highlights(room, alice, bob):
    alice.send("Café at noon, anyone?")
    alice.send('<i>Kiwi</i> & "lime" <script>window.pwned=1</script>')
    target = alice.send("Pineapple pizza is controversial")
    alice.send("Chapter Ⅻ in ｶﾀｶﾅ")
    alice.clickable("[data-testid=search-toggle]").click()

    def search(query: str) -> list[list[str]]:
        return highlighted(alice, query)

    assert search("cafe") == [["Café at noon, anyone?", "Café"]]
    assert search("pine*") == [["Pineapple pizza is controversial", "Pineapple"]]
    assert search('"PINEAPPLE pizza"') == [["Pineapple pizza is controversial", "Pineapple pizza"]]
    assert search("kiwi") == [['<i>Kiwi</i> & "lime" <script>window.pwned=1</script>', "Kiwi"]]
    assert alice.driver.execute_script("return window.pwned") is None
    # Compatibility forms are found and highlighted as the server folds them.
    assert search("xii") == [["Chapter Ⅻ in ｶﾀｶﾅ", "Ⅻ"]]
    assert search("カタカナ") == [["Chapter Ⅻ in ｶﾀｶﾅ", "ｶﾀｶﾅ"]]
    assert search("zzyzx") == []
    assert "No messages match" in alice.text_of("[data-testid=search-status]")

    search("pineapple")
    alice.clickable(f"[data-testid=search-result][data-message-id='{target}']").click()
    alice.until(lambda d: "flash" in alice.message(target).get_attribute("class"), "the result was not shown in the timeline")
    alice.find("[data-testid=search-close]").click()


def highlighted(page, query: str) -> list[list[str]]:
    """Searches the open chat for `query` (opening the search panel if need be); per result,
    its text and then what is marked in it."""
    if not page.find("[data-testid=search-panel]").is_displayed():
        page.clickable("[data-testid=search-toggle]").click()
    field = page.visible("[data-testid=search-input]")
    field.clear()
    field.send_keys(query, Keys.ENTER)
    page.until(lambda d: d.find_element(By.ID, "search-panel").get_attribute("data-state") == "done"
               and query in d.find_element(By.ID, "search-status").text, f"search for {query!r} did not finish")
    return page.driver.execute_script("""
        return Array.from(document.querySelectorAll('[data-testid=search-result-text]'),
                          (r) => [r.textContent, ...Array.from(r.querySelectorAll('mark'), (m) => m.textContent)]);""")


def test_search_highlights_half_width_kana_with_their_voiced_marks(room, alice):
    # Each "ﾞ" (U+FF9E) folds to nothing on its own: it is highlighted with the kana before it.
    alice.open_chat(room)
    alice.send("ｶﾞｷﾞｸﾞ voiced half")
    for query in ("ガギグ", "ｶﾞｷﾞｸﾞ"):
        marks = highlighted(alice, query)
        assert marks == [["ｶﾞｷﾞｸﾞ voiced half", "ｶﾞｷﾞｸﾞ"]], (query, marks)
    alice.find("[data-testid=search-close]").click()


def test_search_highlights_han_and_kana_inside_unspaced_text(room, alice):
    # The server matches Han and kana character by character, inside text without spaces.
    alice.open_chat(room)
    alice.send("日本語のテキスト検索 and 東京tower")
    for query, marked in (("テキスト", ["テキスト"]), ("日本語", ["日本語"]), ('"テキスト 検索"', ["テキスト検索"]),
                          ("東京tower", ["東京tower"]), ("tower", ["tower"])):
        marks = highlighted(alice, query)
        assert marks == [["日本語のテキスト検索 and 東京tower", *marked]], (query, marks)
    alice.find("[data-testid=search-close]").click()


def test_search_finds_and_highlights_emoji(room, alice):
    # An emoji is a word of its own to the server, whatever its skin tone: the mark takes the
    # whole emoji in, skin tone included, and never splits a word it touches.
    alice.open_chat(room)
    alice.send("ship it 👍🏽 then party🎉 ™")
    for query, marked in (("👍", ["👍🏽"]), ("👍🏽", ["👍🏽"]), ("🎉", ["🎉"]), ("party 🎉", ["party🎉"]), ("™", ["™"])):
        marks = highlighted(alice, query)
        assert marks == [["ship it 👍🏽 then party🎉 ™", *marked]], (query, marks)
    # Emoji are not words of a phrase: one across them is found and marked whole; a flag is
    # one emoji.
    alice.send("happy 🎂 birthday from 🇯🇵🇺🇸")
    for query, marked in (('"happy birthday"', ["happy 🎂 birthday"]), ("🇺🇸", ["🇺🇸"])):
        marks = highlighted(alice, query)
        assert marks == [["happy 🎂 birthday from 🇯🇵🇺🇸", *marked]], (query, marks)
    alice.find("[data-testid=search-close]").click()


def test_bob_reconnects_and_resumes_where_he_left_off(room, alice, bob, alice_api):
    reacted = alice.send("React to me while bob is away")
    bob.wait_message("React to me while bob is away")

    bob.driver.execute_script("window.chatflow.goOffline()")
    bob.attribute_is("[data-testid=connection-status]", "data-state", "reconnecting")
    text = "Sent while Bob was offline"
    alice.send(text)
    alice_api.react(reacted, "🎉")
    # Retries back off while the network is down.
    bob.until(lambda d: int(d.find_element(By.ID, "connection-status").get_attribute("data-attempt")) >= 2,
              "no repeated reconnect attempts")
    assert bob.message_id(text) is None

    bob.driver.execute_script("window.chatflow.goOnline()")
    bob.wait_live(seconds=20)
    bob.attribute_is("#chat-pane", "data-recovered", "true")
    bob.wait_message(text)
    bob.wait_reaction(reacted, "🎉", 1, mine=False)
    assert bob.message_texts().count(text) == 1
    assert bob.message_texts() == alice.message_texts()


def test_a_quiet_chat_resumes_on_a_busy_server(room, alice_api, bob):
    # A resuming client is replayed its own chat's events, however busy the others were: the
    # quiet chat's newest message is further back in the log than the replay limit
    # (CHATFLOW_WS_REPLAY_LIMIT, 60 here), and bob still resumes right after it.
    quiet = alice_api.create_chat("Quiet corner")["id"]
    alice_api.post(quiet, "The last word in a while")
    for i in range(70):
        alice_api.post(room, f"Busy elsewhere {i}")
    bob.join_chat(quiet)
    bob.wait_message("The last word in a while")
    bob.attribute_is("#chat-pane", "data-recovered", "true")
    alice_api.post(quiet, "Breaking the silence")
    bob.wait_message("Breaking the silence")
    assert bob.message_texts() == ["The last word in a while", "Breaking the silence"]
    assert not bob.find("[data-testid=error-banner]").is_displayed()
    bob.open_chat(room)  # the module's tests expect bob in the shared room


def test_a_client_far_behind_catches_up_over_http(room, alice_api, bob):
    bob.driver.execute_script("window.chatflow.goOffline()")
    bob.attribute_is("[data-testid=connection-status]", "data-state", "reconnecting")
    for i in range(70):
        alice_api.post(room, f"Missed while away {i:02}")
    bob.driver.execute_script("window.chatflow.goOnline()")
    bob.wait_live(seconds=20)
    # Told it is too far behind (70 events in its chat, over the limit of 60), the client goes
    # live without `since` and reads the newest page over HTTP; as that page does not reach
    # back to what it showed, it opens the chat afresh, at the first message bob missed.
    bob.wait_subscribed(room)
    first_missed = bob.wait_message("Missed while away 00")
    divider = bob.visible("[data-testid=unread-divider]")
    assert bob.driver.execute_script("return arguments[0].nextElementSibling.dataset.messageId", divider) == first_missed
    bob.until(lambda d: d.find_element(By.ID, "new-messages").text == "Back to the newest ↓", "no way back to the newest")
    bob.find("[data-testid=new-messages]").click()
    bob.wait_message("Missed while away 69")
    missed = [text for text in bob.message_texts() if text.startswith("Missed while away")]
    assert missed == [f"Missed while away {i:02}" for i in range(70)][-len(missed):]
    assert len(missed) >= 50
    assert not bob.find("[data-testid=error-banner]").is_displayed()


def test_history_survives_a_reload_and_older_pages_load_on_scroll(room, alice_api, bob):
    for number in range(1, 81):
        alice_api.post(room, f"Paging message {number:03}")
    # Read to the end before the reload, which then opens at the newest.
    bob.attribute_is("#chat-pane", "data-read-up-to", bob.wait_message("Paging message 080", seconds=20))
    expected = [DELETED_TEXT if m["deleted"] else m["content"] for m in alice_api.all_messages(room)]
    assert len(expected) >= 80

    bob.driver.refresh()
    bob.wait_live()
    bob.wait_subscribed(room)
    first_page = bob.message_texts()
    assert len(first_page) == 50
    assert first_page == expected[-50:]
    assert bob.find("#history-status").get_attribute("data-state") == "more"

    reading = bob.message_id(first_page[0])
    for attempt in range(10):
        if bob.find("#history-status").get_attribute("data-state") == "start":
            break
        shown = len(bob.message_texts())
        bob.scroll_timeline_to_top()
        bob.until(lambda d: len(bob.message_texts()) > shown
                  or d.find_element(By.ID, "history-status").get_attribute("data-state") == "start",
                  "scrolling to the top loaded no older messages")
        if attempt == 0:
            # Older messages go in above without moving what the reader was looking at.
            assert bob.driver.execute_script(IN_VIEW, reading), "loading older messages lost the reader's place"
    bob.visible("[data-testid=history-start]")
    assert bob.message_texts() == expected


def test_api_errors_are_shown(signed_in, bob):
    unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    bob.clickable("[data-testid=join-chat-toggle]").click()
    bob.visible("[data-testid=join-chat-id]").send_keys(unknown)
    bob.find("[data-testid=join-chat-submit]").click()
    banner = bob.visible("[data-testid=error-banner]")
    assert f"chat {unknown} not found" in banner.text
    bob.find("#error-dismiss").click()
    bob.until(lambda d: not d.find_element(By.ID, "error-banner").is_displayed(), "the error did not go away")
    bob.find("#join-chat-form [data-close-form]").click()


def test_layout_at_desktop_and_phone_widths_with_screenshots(signed_in, settings, alice, bob, alice_api, bob_api):
    # A tidy chat to show off.
    general = alice_api.create_chat("general", "Everything else")
    bob_api.join(general["id"])
    bob_api.post(general["id"], "Lunch at 12:30?")
    bob_api.post(general["id"], "The café on the corner has a new menu")
    review = alice_api.create_chat("Design review", "Web client, round two")
    bob_api.join(review["id"])
    said = [
        (alice_api, "Morning! Timeline paging is in: scroll up in any long chat to load older messages."),
        (bob_api, "Nice. Search highlights what it matched, accents and all (café = cafe)."),
        (alice_api, "Reactions update live in every open window."),
        (bob_api, "And the phone layout gets its own screens for the list and the chat."),
        (alice_api, "Shipping the web client today. Last call for comments!"),
    ]
    ids = [api.post(review["id"], text)["id"] for api, text in said]
    alice_api.edit(ids[4], "Shipping the web client this afternoon. Last call for comments!")
    bob_api.react(ids[1], "👍")
    alice_api.react(ids[1], "👍")
    bob_api.react(ids[2], "🎉")
    bob_api.react(ids[4], "❤️")
    alice_api.react(ids[4], "❤️")
    bob_api.react(ids[4], "🚀")

    # Desktop: list and chat side by side.
    alice.until(lambda d: alice.unread(general["id"]) == 2, "alice's list never showed the unread messages")
    alice.open_chat(review["id"])
    alice.wait_reaction(ids[4], "❤️", 2, mine=True)
    alice.wait_reaction(ids[1], "👍", 2, mine=True)
    alice.wait_reaction(ids[2], "🎉", 1, mine=False)
    bob.open_chat(review["id"])
    bob.type("Looks good")
    alice.until(lambda d: d.find_element(By.ID, "typing-indicator").text == "bob is typing…", "no typing indicator")
    assert alice.find("#sidebar").is_displayed() and alice.find("#chat-view").is_displayed()
    assert not alice.find("[data-testid=back-button]").is_displayed()
    desktop = alice.screenshot("desktop")

    # Phone: the list and the chat are separate screens.
    set_viewport(bob.driver, *PHONE)
    assert bob.find("#chat-view").is_displayed() and not bob.find("#sidebar").is_displayed()
    bob.clickable("[data-testid=back-button]").click()
    bob.until(lambda d: d.find_element(By.ID, "sidebar").is_displayed() and not d.find_element(By.ID, "chat-view").is_displayed(),
              "the back button did not show the chat list")
    bob.screenshot("phone-list")
    bob.open_chat(review["id"])
    assert not bob.find("#sidebar").is_displayed()
    bob.wait_reaction(ids[4], "❤️", 2, mine=True)
    bob.find("[data-testid=composer-input]").send_keys("Looks good")
    assert bob.driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
    phone = bob.screenshot("phone")
    set_viewport(bob.driver, *DESKTOP)

    settings.committed_screenshots.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(desktop, settings.committed_screenshots / "desktop.png")
    shutil.copyfile(phone, settings.committed_screenshots / "phone.png")


def test_a_shared_link_previews_a_public_chat_until_bob_joins(signed_in, settings, alice_api, bob, bob_api):
    chat = alice_api.create_chat("Open house", "Anyone may join")
    alice_api.post(chat["id"], "Welcome, visitors!")
    bob.driver.get(f"{settings.url}/#/chats/{chat['id']}")
    bob.visible("[data-testid=join-bar]")
    bob.wait_message("Welcome, visitors!")
    assert not bob.find("[data-testid=composer]").is_displayed()
    assert not any(c["id"] == chat["id"] for c in bob_api.chats())

    bob.clickable("[data-testid=join-this-chat]").click()
    bob.wait_subscribed(chat["id"])
    bob.visible("[data-testid=composer-input]")
    assert not bob.find("[data-testid=join-bar]").is_displayed()
    bob.chat_item(chat["id"])
    bob.send("Thanks, glad to be here")
    assert [m["content"] for m in alice_api.all_messages(chat["id"])] == ["Welcome, visitors!", "Thanks, glad to be here"]

    # Leaving takes a second click to confirm.
    bob.clickable("[data-testid=leave-chat]").click()
    bob.until(lambda d: d.find_element(By.ID, "leave-chat").text == "Really leave?", "leaving asked for no confirmation")
    bob.find("[data-testid=leave-chat]").click()
    bob.visible("[data-testid=no-chat]")
    bob.until(lambda d: not d.find_elements(By.CSS_SELECTOR, f"[data-testid=chat-item][data-chat-id='{chat['id']}']"),
              "the chat stayed in bob's list after leaving")
    assert not any(c["id"] == chat["id"] for c in bob_api.chats())


def test_message_actions_are_reached_by_keyboard(room, alice):
    alice.open_chat(room)
    alice.send("Move up to me.")
    alice.send("Reach me with the keyboard.")
    timeline = alice.clickable("[data-testid=timeline]")
    alice.driver.execute_script("arguments[0].focus()", timeline)
    active = lambda: alice.driver.switch_to.active_element
    # Up from the timeline: the newest message in view; Up again: the one before it.
    timeline.send_keys(Keys.ARROW_UP)
    newest = active()
    assert newest.get_attribute("data-testid") == "message", newest.get_attribute("outerHTML")[:200]
    newest.send_keys(Keys.ARROW_UP)
    assert active().get_attribute("data-message-id") < newest.get_attribute("data-message-id")
    active().send_keys(Keys.ARROW_DOWN)
    assert active() == newest
    # Tab goes into the focused message's actions, now shown.
    newest.send_keys(Keys.TAB)
    react = active()
    assert react.get_attribute("data-testid") == "react-button" and react.is_displayed()
    # The picker takes the focus, moves through its choices with the arrow keys, and gives
    # the focus back on Escape.
    react.send_keys(Keys.ENTER)
    first = alice.visible("[data-testid=emoji-picker] [data-testid=emoji-choice]")
    alice.until(lambda d: active() == first, "the picker did not take the focus")
    first.send_keys(Keys.ARROW_RIGHT)
    assert active() != first and active().get_attribute("data-testid") == "emoji-choice"
    active().send_keys(Keys.ESCAPE)
    alice.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "[data-testid=emoji-picker]"), "the picker stayed open")
    assert active() == react, active().get_attribute("outerHTML")[:300]
    # Escape on a message or its actions goes back to the timeline.
    react.send_keys(Keys.ESCAPE)
    assert active() == timeline
    timeline.send_keys(Keys.ARROW_UP)
    active().send_keys(Keys.ESCAPE)
    assert active() == timeline


def test_the_focus_stays_on_the_message_after_a_delete_and_tabbing_out_closes_the_picker(room, alice, alice_api):
    alice.open_chat(room)
    alice.send("Pick a reaction, then wander off.")
    doomed = alice.send("Delete me by keyboard.")
    timeline = alice.clickable("[data-testid=timeline]")
    alice.driver.execute_script("arguments[0].focus()", timeline)
    active = lambda: alice.driver.switch_to.active_element
    timeline.send_keys(Keys.ARROW_UP)
    assert active().get_attribute("data-message-id") == doomed
    active().send_keys(Keys.TAB, Keys.TAB, Keys.TAB)
    delete = active()
    assert delete.get_attribute("data-testid") == "delete-button"

    # Cancelled: back on the Delete button, not at the top of the page.
    delete.send_keys(Keys.ENTER)
    alice.until(lambda d: active().get_attribute("data-testid") == "confirm-delete", "the confirm bar did not take the focus")
    active().send_keys(Keys.TAB)
    assert active().get_attribute("data-testid") == "cancel-delete"
    active().send_keys(Keys.ENTER)
    alice.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "[data-testid=cancel-delete]"), "the confirm bar stayed")
    assert active() == delete, active().get_attribute("outerHTML")[:200]

    # Confirmed: the message, now a tombstone with no Delete button, keeps the focus.
    delete.send_keys(Keys.ENTER)
    alice.until(lambda d: active().get_attribute("data-testid") == "confirm-delete", "the confirm bar did not take the focus")
    active().send_keys(Keys.ENTER)
    alice.until(lambda d: alice.message(doomed).get_attribute("data-deleted") == "true", "the delete did not show")
    alice.until(lambda d: active().get_attribute("data-message-id") == doomed,
                f"the focus went elsewhere: {active().get_attribute('outerHTML')[:200]}")
    assert alice_api.request("GET", f"/messages/{doomed}")["deleted"]

    # Tabbing out of the picker closes it.
    active().send_keys(Keys.ARROW_UP)
    active().send_keys(Keys.TAB)
    react = active()
    assert react.get_attribute("data-testid") == "react-button"
    react.send_keys(Keys.ENTER)
    picker = alice.visible("[data-testid=emoji-picker]")
    alice.until(lambda d: active().get_attribute("data-testid") == "emoji-choice", "the picker did not take the focus")
    for _ in range(len(picker.find_elements(By.CSS_SELECTOR, "[data-testid=emoji-choice]"))):
        active().send_keys(Keys.TAB)
    assert active().get_attribute("data-testid") != "emoji-choice"
    alice.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "[data-testid=emoji-picker]"), "the picker stayed open")


def paste(page, text: str) -> None:
    """Puts text into the focused field as a paste or an input method does (send_keys takes
    no character beyond the Basic Multilingual Plane)."""
    page.driver.execute_cdp_cmd("Input.insertText", {"text": text})


def test_long_text_is_counted_as_the_server_counts_it_and_never_cut(room, alice, alice_api):
    alice.open_chat(room)
    composer = alice.clickable("[data-testid=composer-input]")
    composer.click()
    # 2,500 characters to a reader (and to the server), 5,000 UTF-16 units.
    grins = "😀" * 2500
    paste(alice, grins)
    assert composer.get_attribute("value") == grins, "the pasted text was cut"
    composer.send_keys(Keys.ENTER)
    alice.wait_message(grins)
    assert alice_api.all_messages(room)[-1]["content"] == grins

    # Over the server's limit: said so, and the text stays to be shortened.
    composer.click()
    paste(alice, "a" * 4001)
    composer.send_keys(Keys.ENTER)
    alice.until(lambda d: "at most 4,000 characters" in d.find_element(By.ID, "error-text").text, "the limit was not explained")
    assert composer.get_attribute("value") == "a" * 4001
    assert alice_api.all_messages(room)[-1]["content"] == grins
    alice.driver.execute_script("arguments[0].value = ''", composer)
    alice.find("#error-dismiss").click()

    # A chat name of 20 characters, 220 UTF-16 units.
    name = "👨‍👩‍👧‍👦" * 20
    alice.clickable("[data-testid=new-chat-toggle]").click()
    alice.visible("[data-testid=new-chat-name]").click()
    paste(alice, name)
    assert alice.find("[data-testid=new-chat-name]").get_attribute("value") == name, "the pasted name was cut"
    alice.find("[data-testid=new-chat-submit]").click()
    alice.until(lambda d: d.find_element(By.ID, "chat-name").text == name, "the chat with the long name did not open")
    assert any(c["name"] == name for c in alice_api.chats())


def test_alice_adds_bob_to_a_private_chat(signed_in, alice, bob, bob_api):
    alice.clickable("[data-testid=new-chat-toggle]").click()
    alice.visible("[data-testid=new-chat-name]").send_keys("Secret plans")
    alice.find("[data-testid=new-chat-private]").click()
    alice.find("[data-testid=new-chat-submit]").click()
    alice.until(lambda d: d.find_element(By.ID, "chat-name").text == "Secret plans", "the private chat did not open")
    chat_id = alice.find("[data-testid=chat-id]").get_attribute("textContent")
    alice.wait_subscribed(chat_id)
    alice.send("Only for the two of us.")

    # A private chat is joined only by being added, by one of its members.
    alice.clickable("[data-testid=add-member-toggle]").click()
    field = alice.visible("[data-testid=add-member-id]")
    assert alice.driver.switch_to.active_element == field
    field.send_keys("bob" + Keys.ENTER)
    alice.until(lambda d: d.find_element(By.ID, "add-member-status").text == "bob is a member now.", "adding bob was not confirmed")
    alice.until(lambda d: d.find_element(By.ID, "chat-members").text == "2 members", "the header never counted bob")
    assert any(c["id"] == chat_id for c in bob_api.chats())

    # Bob's list learns of it live, and the chat opens with what alice wrote.
    bob.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"[data-testid=chat-item][data-chat-id='{chat_id}']"),
              "the private chat never reached bob's list")
    bob.open_chat(chat_id)
    bob.wait_message("Only for the two of us.")
    alice.clickable("[data-testid=add-member-close]").click()
    assert not alice.find("[data-testid=add-member-panel]").is_displayed()


def test_sign_out_forgets_the_token(signed_in, alice):
    alice.clickable("[data-testid=signout-button]").click()
    alice.visible("[data-testid=token-input]")
    assert alice.driver.execute_script("return localStorage.getItem('chatflow.token')") is None
    alice.driver.refresh()
    alice.visible("[data-testid=token-input]")
    assert not alice.find("#app").is_displayed()
