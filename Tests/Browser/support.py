"""Drives the ChatFlow web client and the HTTP API for the browser tests.

Every wait is a WebDriverWait with a deadline on a condition the page exposes (an element,
a data-* attribute, a text); nothing sleeps for a fixed time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

WAIT_SECONDS = 10.0
API_TIMEOUT_SECONDS = 30.0
DESKTOP = (1280, 800)
PHONE = (390, 844)


# MARK: - Configuration


@dataclass(frozen=True)
class Settings:
    url: str
    alice_token: str
    bob_token: str
    screenshots: Path
    committed_screenshots: Path
    chromium: str
    chromedriver: str
    binary: Path  # the `chatflow` that ops/browser-test.sh runs, for a Server of a test's own
    web: Path  # the web client's files, which that server serves too

    @staticmethod
    def from_environment() -> "Settings":
        missing = [name for name in ("CHATFLOW_URL", "CHATFLOW_TOKEN_ALICE", "CHATFLOW_TOKEN_BOB") if not os.environ.get(name)]
        if missing:
            raise RuntimeError(f"set {', '.join(missing)} (ops/browser-test.sh starts a server and sets them)")
        here = Path(__file__).resolve().parent
        repo = here.parent.parent
        return Settings(
            url=os.environ["CHATFLOW_URL"].rstrip("/"),
            alice_token=os.environ["CHATFLOW_TOKEN_ALICE"],
            bob_token=os.environ["CHATFLOW_TOKEN_BOB"],
            screenshots=Path(os.environ.get("CHATFLOW_SCREENSHOTS", repo / ".build" / "screenshots")),
            committed_screenshots=here / "screenshots",
            chromium=os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium"),
            chromedriver=os.environ.get("CHROMEDRIVER", shutil.which("chromedriver") or "/usr/bin/chromedriver"),
            # As ops/browser-test.sh finds it (from the repository, where it runs pytest).
            binary=repo / os.environ.get("CHATFLOW_BINARY", ".build/debug/chatflow"),
            web=repo / "Sources" / "ChatFlowServer" / "Web",
        )


# MARK: - HTTP API


class ApiError(Exception):
    def __init__(self, status: int, body: str):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class Api:
    """A tiny client for setting up data and checking what the server holds."""

    def __init__(self, url: str, token: str):
        self.url = url
        self.token = token

    def request(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=API_TIMEOUT_SECONDS) as response:
                payload = response.read()
                return json.loads(payload) if payload else None
        except urllib.error.HTTPError as error:
            raise ApiError(error.code, error.read().decode(errors="replace")) from None
        except (TimeoutError, urllib.error.URLError) as error:
            raise AssertionError(f"{method} {path}: no answer after {time.monotonic() - started:.1f} s ({error})") from error
        finally:
            elapsed = time.monotonic() - started
            if elapsed > 2:
                print(f"slow API call: {method} {path} took {elapsed:.1f} s")

    def create_chat(self, name: str, description: str = "", private: bool = False) -> dict:
        return self.request("POST", "/chats", {"name": name, "description": description, "isPrivate": private})

    def join(self, chat_id: str) -> dict:
        return self.request("POST", f"/chats/{chat_id}/members", {})

    def post(self, chat_id: str, content: str) -> dict:
        return self.request("POST", f"/chats/{chat_id}/messages", {"content": content, "messageType": "text"})

    def edit(self, message_id: str, content: str) -> dict:
        return self.request("PATCH", f"/messages/{message_id}", {"content": content})

    def react(self, message_id: str, emoji: str) -> dict:
        return self.request("POST", f"/messages/{message_id}/reactions", {"emoji": emoji})

    def chats(self) -> list[dict]:
        return self.request("GET", "/chats")["chats"]

    def all_messages(self, chat_id: str) -> list[dict]:
        """Every message of a chat, oldest first."""
        messages, cursor = [], None
        while True:
            query = "limit=100" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
            page = self.request("GET", f"/chats/{chat_id}/messages?{query}")
            messages.extend(page["messages"])
            cursor = page["nextCursor"]
            if not cursor:
                return list(reversed(messages))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A `chatflow serve` of a test's own, with its own data, that the test can stop and
    start again on the same address: the shared server belongs to ops/browser-test.sh, and
    the pages on it would all be cut off. Its environment is the shared server's (rate
    limit off, the small replay limit)."""

    def __init__(self, settings: Settings, data: Path):
        self.settings = settings
        self.data = data
        self.log = data.parent / f"{data.name}.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, seconds: float = 30) -> None:
        """Starts the server and waits until it is ready (its projections caught up)."""
        assert self.process is None, "the server is already running"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.settings.binary), "serve", "--data-dir", str(self.data), "--host", "127.0.0.1",
                 "--port", str(self.port), "--public-dir", str(self.settings.web)],
                stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: self.process.poll() is not None or self.ready(), f"{self.url} never became ready", seconds)
        if self.process.poll() is not None:
            self.process = None
            raise AssertionError(f"chatflow serve exited at its start; its log:\n{self.log_tail()}")

    def stop(self, seconds: float = 30) -> None:
        """Stops the server as a restart does (SIGTERM): it closes its WebSockets with 1001
        and exits once its requests are done."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"chatflow serve did not stop within {seconds} s; its log:\n{self.log_tail()}") from None
        finally:
            self.process = None

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=2) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def token(self, user: str, ttl: str = "2h") -> str:
        return subprocess.run(
            [str(self.settings.binary), "token", "--data-dir", str(self.data), "--user", user, "--ttl", ttl],
            check=True, capture_output=True, text=True).stdout.strip()

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def forged_token(user: str) -> str:
    """A well-formed token signed with a secret the server does not know."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"sub": user, "exp": int(time.time()) + 3600}).encode())
    signature = hmac.new(b"not-the-server-secret-not-the-server-secret", f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64(signature)}"


# MARK: - Browser


def start_browser(settings: Settings) -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = settings.chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--disable-extensions",
        "--no-first-run",
        "--lang=en-US",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(settings.chromedriver), options=options)
    driver.set_page_load_timeout(30)
    set_viewport(driver, *DESKTOP)
    return driver


def set_viewport(driver: WebDriver, width: int, height: int) -> None:
    """An exact viewport (the headless window's chrome would otherwise take some height)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600,
    })
    WebDriverWait(driver, WAIT_SECONDS).until(
        lambda d: d.execute_script("return [innerWidth, innerHeight]") == [width, height],
        f"viewport did not become {width}x{height}")


def javascript_errors(driver: WebDriver, allow_socket_failures: bool = False) -> list[str]:
    """Uncaught errors and console.error calls since the last call (failed requests excepted:
    tests provoke 4xx answers on purpose; WebSockets that could not connect while a test had
    taken the browser's network away; and, with `allow_socket_failures`, those that could not
    connect at all, for pages on a server a test stops)."""
    return [
        entry["message"] for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and "Failed to load resource" not in entry["message"]
        and not (re.search(r"WebSocket connection to '[^']*' failed: Error in connection establishment", entry["message"])
                 and (allow_socket_failures or "net::ERR_INTERNET_DISCONNECTED" in entry["message"]))
    ]


FIND_MESSAGE = """
const [text] = arguments;
for (const li of document.querySelectorAll('#message-list [data-testid=message]')) {
  if (li.querySelector('[data-testid=message-content]').textContent === text) return li.dataset.messageId;
}
return null;
"""

MESSAGE_TEXTS = """
return Array.from(document.querySelectorAll('#message-list [data-testid=message]'),
                  (li) => li.querySelector('[data-testid=message-content]').textContent);
"""

DIRECTORY_ENTRIES = """
const text = (li, id) => { const node = li.querySelector(`[data-testid=${id}]`); return node ? node.textContent : null; };
return Array.from(document.querySelectorAll('#directory-list [data-testid=directory-item]'), (li) => ({
  id: li.dataset.chatId,
  member: li.dataset.member === 'true',
  name: text(li, 'directory-item-name'),
  description: text(li, 'directory-item-description'),
  members: text(li, 'directory-item-members'),
  joined: text(li, 'directory-joined') === 'Joined',
  join: text(li, 'directory-join'),
  open: text(li, 'directory-open'),
}));
"""


class ChatPage:
    """One user's browser on the web client."""

    def __init__(self, driver: WebDriver, settings: Settings, user: str):
        self.driver = driver
        self.settings = settings
        self.user = user

    # MARK: Waiting

    def wait(self, seconds: float = WAIT_SECONDS) -> WebDriverWait:
        return WebDriverWait(self.driver, seconds, ignored_exceptions=(StaleElementReferenceException,))

    def until(self, condition, message: str, seconds: float = WAIT_SECONDS):
        return self.wait(seconds).until(condition, f"[{self.user}] {message}")

    def find(self, selector: str):
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def visible(self, selector: str, seconds: float = WAIT_SECONDS):
        return self.until(EC.visibility_of_element_located((By.CSS_SELECTOR, selector)), f"{selector} never became visible", seconds)

    def clickable(self, selector: str, seconds: float = WAIT_SECONDS):
        return self.until(EC.element_to_be_clickable((By.CSS_SELECTOR, selector)), f"{selector} never became clickable", seconds)

    def attribute_is(self, selector: str, name: str, value: str, seconds: float = WAIT_SECONDS):
        return self.until(lambda d: d.find_element(By.CSS_SELECTOR, selector).get_attribute(name) == value,
                          f"{selector}[{name}] never became {value!r}", seconds)

    def text_of(self, selector: str) -> str:
        return self.find(selector).text

    def accessible(self, selector: str) -> dict:
        """What a screen reader is told of an element, from Chromium's accessibility tree:
        its role, its name and whether it takes focus."""
        root = self.driver.execute_cdp_cmd("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = self.driver.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        ax = self.driver.execute_cdp_cmd("Accessibility.getPartialAXTree", {"nodeId": node, "fetchRelatives": False})["nodes"][0]
        properties = {p["name"]: p["value"].get("value") for p in ax.get("properties", [])}
        return {"role": ax.get("role", {}).get("value"), "name": ax.get("name", {}).get("value", ""),
                "focusable": bool(properties.get("focusable"))}

    # MARK: Signing in

    def open(self) -> None:
        self.driver.get(self.settings.url + "/")

    def sign_in(self, token: str) -> None:
        field = self.visible("[data-testid=token-input]")
        field.clear()
        field.send_keys(token)
        self.find("[data-testid=signin-button]").click()
        self.until(lambda d: d.find_element(By.ID, "current-user").text == self.user, "did not sign in")
        self.wait_live()

    def wait_live(self, seconds: float = WAIT_SECONDS) -> None:
        self.attribute_is("[data-testid=connection-status]", "data-state", "open", seconds)

    # MARK: Chats

    def create_chat(self, name: str, description: str = "") -> str:
        self.clickable("[data-testid=new-chat-toggle]").click()
        self.visible("[data-testid=new-chat-name]").send_keys(name)
        if description:
            self.find("[data-testid=new-chat-description]").send_keys(description)
        self.find("[data-testid=new-chat-submit]").click()
        self.until(lambda d: d.find_element(By.ID, "chat-name").text == name, f"chat {name!r} did not open")
        chat_id = self.find("[data-testid=chat-id]").get_attribute("textContent")
        self.wait_subscribed(chat_id)
        return chat_id

    def join_chat(self, chat_id: str) -> None:
        self.clickable("[data-testid=join-chat-toggle]").click()
        self.visible("[data-testid=join-chat-id]").send_keys(chat_id)
        self.find("[data-testid=join-chat-submit]").click()
        self.wait_subscribed(chat_id)

    def open_chat(self, chat_id: str) -> None:
        self.clickable(f"[data-testid=chat-item][data-chat-id='{chat_id}']").click()
        self.wait_subscribed(chat_id)

    def wait_subscribed(self, chat_id: str, seconds: float = WAIT_SECONDS) -> None:
        """The chat is open, its history loaded and its live channel confirmed by the server."""
        self.until(lambda d: d.find_element(By.ID, "chat-pane").get_attribute("data-chat-id") == chat_id
                   and d.find_element(By.ID, "chat-pane").get_attribute("data-subscribed") == "true",
                   f"chat {chat_id} never went live", seconds)

    def chat_item(self, chat_id: str):
        return self.find(f"[data-testid=chat-item][data-chat-id='{chat_id}']")

    def unread(self, chat_id: str) -> int:
        return int(self.chat_item(chat_id).get_attribute("data-unread"))

    # MARK: Directory of public chats

    def browse(self) -> None:
        """Opens the directory from the chat list and waits for its first page."""
        self.clickable("[data-testid=browse-chats]").click()
        self.visible("[data-testid=directory]")
        self.wait_directory()

    def wait_directory(self, seconds: float = WAIT_SECONDS) -> str:
        """Waits for the directory to finish loading and returns its state (more, end or empty)."""
        state = self.until(lambda d: (s := d.find_element(By.ID, "directory-status").get_attribute("data-state"))
                           not in ("idle", "loading") and s, "the directory never finished loading", seconds)
        if state == "error":
            raise AssertionError(f"[{self.user}] the directory could not load: {self.text_of('#error-text')!r}")
        return state

    def directory_entries(self) -> list[dict]:
        return self.driver.execute_script(DIRECTORY_ENTRIES)

    def directory_entry(self, chat_id: str):
        return self.find(f"#directory-list [data-testid=directory-item][data-chat-id='{chat_id}']")

    # MARK: Messages

    def type(self, text: str) -> None:
        field = self.clickable("[data-testid=composer-input]")
        field.send_keys(text)

    def send(self, text: str) -> str:
        self.type(text)
        self.find("[data-testid=composer-input]").send_keys(Keys.ENTER)
        return self.wait_message(text)

    def message_id(self, text: str) -> str | None:
        return self.driver.execute_script(FIND_MESSAGE, text)

    def wait_message(self, text: str, seconds: float = WAIT_SECONDS) -> str:
        return self.until(lambda d: self.message_id(text), f"message {text!r} never appeared", seconds)

    def message_texts(self) -> list[str]:
        return self.driver.execute_script(MESSAGE_TEXTS)

    def message(self, message_id: str):
        return self.find(f"#message-list [data-message-id='{message_id}']")

    def message_action(self, message_id: str, action: str):
        """Reveals a message's toolbar the way a touch screen does (headless Chromium reports
        no hover), by tapping the message, and returns one of its buttons."""
        message = self.message(message_id)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", message)
        toolbar = message.find_element(By.CSS_SELECTOR, ".actions")
        if not toolbar.is_displayed():
            message.find_element(By.CSS_SELECTOR, "[data-testid=message-content]").click()
        selector = f"#message-list [data-message-id='{message_id}'] [data-testid={action}]"
        return self.clickable(selector)

    def reaction(self, message_id: str, emoji: str) -> dict | None:
        """The reaction chip of a message as {count, mine}, or None if it shows none."""
        return self.driver.execute_script("""
            const [id, emoji] = arguments;
            const chip = Array.from(document.querySelectorAll(`#message-list [data-message-id='${id}'] [data-testid=reaction]`))
              .find((c) => c.dataset.emoji === emoji);
            return chip ? {count: Number(chip.dataset.count), mine: chip.dataset.mine === 'true',
                           pressed: chip.getAttribute('aria-pressed') === 'true', text: chip.textContent} : null;
        """, message_id, emoji)

    def wait_reaction(self, message_id: str, emoji: str, count: int, mine: bool) -> None:
        def shown(_):
            chip = self.reaction(message_id, emoji)
            if count == 0:
                return chip is None
            return chip is not None and chip["count"] == count and chip["mine"] == mine and chip["pressed"] == mine \
                and chip["text"] == f"{emoji}{count}"
        self.until(shown, f"reaction {emoji} on {message_id} never showed count={count} mine={mine}")

    def content(self, message_id: str) -> str:
        return self.message(message_id).find_element(By.CSS_SELECTOR, "[data-testid=message-content]").text

    def set_network(self, online: bool) -> None:
        """Takes the browser's network away (HTTP and WebSocket alike, as a dead link or a
        stopped server would) or gives it back; the page hears `offline` / `online`."""
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": not online, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1,
        })

    def scroll_timeline_to_top(self) -> None:
        self.driver.execute_script("document.getElementById('timeline').scrollTop = 0")

    def screenshot(self, name: str) -> Path:
        self.settings.screenshots.mkdir(parents=True, exist_ok=True)
        path = self.settings.screenshots / f"{name}.png"
        if not self.driver.save_screenshot(str(path)):
            raise AssertionError(f"could not save {path}")
        return path


def listed_chat(alice_api: Api, bob_api: Api, bob: ChatPage, name: str, private: bool = False,
                history: list[str] = ()) -> str:
    """A chat of alice's that bob is in (added by her to a private one, joined if public),
    with what she wrote before he came, listed in his browser: its id."""
    chat_id = alice_api.create_chat(name, private=private)["id"]
    for text in history:
        alice_api.post(chat_id, text)
    if private:
        alice_api.request("POST", f"/chats/{chat_id}/members", {"userId": "bob"})
    else:
        bob_api.join(chat_id)
    bob.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"[data-testid=chat-item][data-chat-id='{chat_id}']"),
              f"chat {name!r} never reached bob's list")
    return chat_id


def composer(page: ChatPage) -> str:
    """What the open chat's composer holds."""
    return page.find("[data-testid=composer-input]").get_attribute("value")


def wait_until(condition, message: str, seconds: float = WAIT_SECONDS):
    """A deadline-bound wait on something outside the browser (the HTTP API)."""
    return WebDriverWait(None, seconds, poll_frequency=0.1).until(lambda _: condition(), message)
