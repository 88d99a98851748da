"""A web client hosted on another origin calls the API from a real browser, with the
browser's own CORS checks: its page comes from http://localhost:PORT (the server's files
under another host name, so another origin, which ops/browser-test.sh lists in
CHATFLOW_CORS_ORIGINS) and it fetches from http://127.0.0.1:PORT with a token. That the
server leaves other origins' answers unmarked is checked in RouteTests, where the Origin
header can be anything (a browser here would be stopped by its own rules first).
"""

from __future__ import annotations

import json

import pytest

from support import start_browser

FETCH = """
const done = arguments[arguments.length - 1];
const [url, options] = arguments;
fetch(url, options).then(
  async answer => done({
    status: answer.status,
    location: answer.headers.get('Location'),
    requestId: answer.headers.get('X-Request-Id'),
    body: await answer.text(),
  }),
  error => done({error: String(error)}));
"""


@pytest.fixture(scope="module")
def browser(settings):
    driver = start_browser(settings)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


def test_a_client_on_an_allowed_origin_reads_and_writes(settings, browser):
    elsewhere = settings.url.replace("127.0.0.1", "localhost")
    assert elsewhere != settings.url
    browser.get(elsewhere + "/favicon.svg")  # any page of that origin
    assert browser.execute_script("return location.origin") == elsewhere

    auth = {"Authorization": "Bearer " + settings.bob_token}
    listed = browser.execute_async_script(FETCH, settings.url + "/chats", {"headers": auth})
    assert listed.get("status") == 200, listed
    assert "chats" in json.loads(listed["body"])

    # A POST with JSON and an idempotency key needs a preflight; the answer's Location and
    # request id are exposed to the page.
    created = browser.execute_async_script(FETCH, settings.url + "/chats", {
        "method": "POST",
        "headers": {**auth, "Content-Type": "application/json", "Idempotency-Key": "cross-origin-1"},
        "body": json.dumps({"name": "Hosted elsewhere", "isPrivate": True}),
    })
    assert created.get("status") == 201, created
    chat = json.loads(created["body"])["id"]
    assert created["location"] == f"/chats/{chat}"
    assert created["requestId"]

    # An error is readable too: the page can tell the user what went wrong.
    missing = browser.execute_async_script(FETCH, settings.url + "/chats/01ARZ3NDEKTSV4RRFFQ69G5FAV", {"headers": auth})
    assert missing.get("status") == 404, missing
    assert json.loads(missing["body"])["status"] == 404

    # And DELETE, leaving the chat again.
    left = browser.execute_async_script(FETCH, f"{settings.url}/chats/{chat}/members/bob", {"method": "DELETE", "headers": auth})
    assert left.get("status") == 204, left

