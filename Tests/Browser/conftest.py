"""Fixtures for the browser tests: the server's address and tokens (from the environment that
ops/browser-test.sh sets), one headless Chromium per user, and, after every test, a check
that no page logged a JavaScript error, plus a screenshot and console log of each browser
when a test fails (in .build/screenshots/failures/)."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest

from support import Api, ChatPage, Server, Settings, javascript_errors, start_browser

OPEN_PAGES: list[ChatPage] = []


def token_user(token: str) -> str:
    claims = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["sub"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_environment()


@pytest.fixture(scope="session")
def alice_api(settings) -> Api:
    return Api(settings.url, settings.alice_token)


@pytest.fixture(scope="session")
def bob_api(settings) -> Api:
    return Api(settings.url, settings.bob_token)


def _page(settings: Settings, user: str) -> ChatPage:
    page = ChatPage(start_browser(settings), settings, user)
    OPEN_PAGES.append(page)
    return page


def _close(page: ChatPage) -> None:
    OPEN_PAGES.remove(page)
    page.driver.quit()


@pytest.fixture(scope="module")
def alice(settings):
    page = _page(settings, token_user(settings.alice_token))
    yield page
    _close(page)


@pytest.fixture(scope="module")
def bob(settings):
    page = _page(settings, token_user(settings.bob_token))
    yield page
    _close(page)


@pytest.fixture
def bob_elsewhere(settings):
    """Bob signed in on a second device."""
    page = _page(settings, token_user(settings.bob_token))
    page.open()
    page.sign_in(settings.bob_token)
    page.until(lambda d: d.find_element("id", "app").get_attribute("data-notifications") == "live",
               "the second device's notifications never went live")
    yield page
    _close(page)


@pytest.fixture
def visitor(settings):
    """A fresh browser that signs in as nobody."""
    page = _page(settings, "visitor")
    yield page
    _close(page)


@pytest.fixture
def own_server(settings, tmp_path):
    """A server of the test's own, running, that it may stop and start again."""
    server = Server(settings, tmp_path / "data")
    server.start()
    yield server
    try:
        server.stop()
    finally:
        print(f"its server's log ({server.log}) ends:\n{server.log_tail()}")


@pytest.fixture
def page_on(request, settings):
    """Opens fresh browsers on a server of the test's own: page_on(server, user). They are
    checked (see check_pages) before they close, which is before browser_health runs."""
    pages = []

    def open_page(server: Server, user: str) -> ChatPage:
        page = _page(dataclasses.replace(settings, url=server.url), user)
        pages.append(page)
        return page

    yield open_page
    try:
        check_pages(request, settings, pages, allow_socket_failures=True)
    finally:
        for page in pages:
            _close(page)


def check_pages(request, settings: Settings, pages: list[ChatPage], allow_socket_failures: bool = False) -> None:
    """After a test: no page logged a JavaScript error; if the test failed, a screenshot and
    the console log of each. `allow_socket_failures`: the pages' server was stopped on purpose."""
    report = getattr(request.node, "report_call", None)
    failed = report is None or report.failed
    problems = []
    for page in pages:
        try:
            errors = javascript_errors(page.driver, allow_socket_failures)
        except Exception as error:  # the browser itself is gone
            problems.append(f"{page.user}: browser unavailable: {error}")
            continue
        if failed:
            folder = settings.screenshots / "failures"
            folder.mkdir(parents=True, exist_ok=True)
            stem = f"{request.node.name}-{page.user}"
            page.driver.save_screenshot(str(folder / f"{stem}.png"))
            (folder / f"{stem}.log").write_text("\n".join(errors) + "\n")
        elif errors:
            problems.append(f"{page.user}: JavaScript errors:\n  " + "\n  ".join(errors))
    if problems and not failed:
        pytest.fail("\n".join(problems))


@pytest.fixture(autouse=True)
def browser_health(request, settings):
    yield
    check_pages(request, settings, list(OPEN_PAGES))
