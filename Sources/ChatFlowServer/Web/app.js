// ChatFlow web client: plain JavaScript over the HTTP API and the WebSocket live protocol
// (SPEC §3 and §4). No build step and no dependencies.
//
// Safety rule: text from the server or the user only ever reaches the page through
// textContent / text nodes (see el() and ChatFlowHighlight.fragment) — never innerHTML.
'use strict';

(function () {
  const TOKEN_KEY = 'chatflow.token';
  const DRAFT_KEY = 'chatflow.draft'; // + `.${user}.${chatId}`, in sessionStorage
  // + `.${user}.${chatId}`, in sessionStorage: {content, clientMessageId} of a send that
  // failed, for its retry (see keepUnsent).
  const UNSENT_KEY = 'chatflow.unsent';
  // Why this browser was last signed out (the expiry, a refused token), for its other tabs
  // to say the same; none for a sign-out asked for.
  const SIGNED_OUT_KEY = 'chatflow.signedOut';
  const PHONE_MEDIA = '(max-width: 720px)'; // as app.css's phone layout
  const ANNOUNCE_EVERY_MS = 1000; // live messages are read out at most this often
  const ANNOUNCE_LENGTH = 140; // characters of a message read out
  const ANNOUNCE_MAX = 3; // messages read out in full at once; more are counted
  const EXPIRED = 'Your token expired. Paste a new one to continue.';
  const NO_SUCH_CHAT = 'This chat does not exist, or it is private and you are not a member.';
  const LOST_HISTORY = 'The server was restored from an earlier backup: the latest messages shown here are no longer on it. The chat now shows what the server has.';
  const EXPIRY_CHECK_MS = 60 * 60 * 1000; // see watchExpiry
  const PAGE_SIZE = 50;
  const API_TIMEOUT_MS = 20000;
  const SEARCH_PAGE_SIZE = 20;
  const DIRECTORY_PAGE_SIZE = 20;
  const PENDING_LIVE_LIMIT = 500;
  const NOTIFICATIONS = 'users/me/notifications';
  const TYPING_SEND_EVERY_MS = 2500;
  const TYPING_SHOW_MS = 4000;
  const GROUP_WITHIN_MS = 5 * 60 * 1000;
  const RECONNECT_BASE_MS = 500;
  const RECONNECT_MAX_MS = 15000;
  const COUNT_PAGE_SIZE = 100; // the most a page of messages holds
  const UNMARKED_COUNT_PAGES = 10; // counting back to the first unread of a chat with no marker
  const LOAD_RETRIES = 8; // timed retries of a chat's first load; a reconnect asks again
  const PING_EVERY_MS = 25000;
  const PONG_TIMEOUT_MS = 10000;
  // The server's limits, in characters as a reader sees them (grapheme clusters: a flag or an
  // emoji with a skin tone is one), after trimming. The fields have no maxlength, which
  // counts UTF-16 units and cuts pasted text without a word: they are checked on submit.
  const MESSAGE_LIMIT = 4000;
  const NAME_LIMIT = 100;
  const DESCRIPTION_LIMIT = 1000;
  // The most a request body may hold, in bytes (of UTF-8): text within the character limit
  // may not fit when its characters are long ones, emoji built of several most of all.
  const BODY_LIMIT = 64 * 1024;
  const REACTION_CHOICES = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '🔥'];

  const $ = (id) => document.getElementById(id);

  // MARK: - State

  const state = {
    token: null,
    me: null,
    expires: null, // the token's `exp`, in ms
    expiryTimer: null,
    chats: new Map(), // chat id → ChatSummary (GET /chats), kept current by live events
    current: null, // the open chat, see newChatView()
    directory: null, // the public chats on show at #/browse, see newDirectoryView()
    ws: null,
    connectedBefore: false, // a reconnect (not the first connect) refreshes the chat list
    attempt: 0, // reconnect attempts since the last stable connection
    reconnectTimer: null,
    reconnectAt: 0,
    statusTimer: null,
    pingTimer: null,
    offline: false, // test hook: behave as if the network were down
    awaiting: [], // subscribe / unsubscribe frames sent and not yet answered
    listRefresh: null,
    errorTimer: null,
    errorUnheard: false, // the error on show is that the server could not be reached
    lastUser: null, // who signed out last: the chat in the address was theirs
    // Chat id → the newest read marker this page has sent or heard of. The server moves the
    // marker wherever it is told, and a GET /chats answered before a POST /read landed
    // would otherwise let the next scroll up send it back.
    readUpTo: new Map(),
    // Messages posted that were heard of while a chat list was being read ({seq, chatId,
    // message}): the server may have read the list before they were posted, and its answer
    // would then undo their effect on the unread counts (see setChats).
    listsReading: [], // the `since` of each list being read
    heardSeq: 0,
    heardPosts: [],
  };

  function newChatView(id) {
    return {
      id,
      chat: null,
      messages: new Map(), // id → message, plus local fields: mine (Set of emoji), v (version)
      nodes: new Map(), // id → <li>
      days: new Map(), // day key → separator <li>
      olderCursor: null,
      reachedStart: false,
      // Set while the view is a window into older history (after a jump to a search result)
      // that does not reach the newest message: the cursor of the next newer page.
      newerCursor: null,
      loadingNewer: false,
      // Per direction of paging: pages in a row that failed (for the backoff of the next),
      // the time before which none is asked for (ms), and the timer that asks again.
      older: { failures: 0, retryAt: 0, timer: null },
      newer: { failures: 0, retryAt: 0, timer: null },
      // Set by "Back to the newest": the reader chose to skip what lies between the read
      // marker and the newest page, so reading those moves the marker past it.
      skippedUnread: false,
      // Messages that came live while the window did not reach them, kept for when it does:
      // the page that gets there may have been read just before they were posted.
      pendingLive: new Map(),
      epoch: 0, // bumped when the window is replaced, so a page asked for before is dropped
      loaded: false,
      openAfter: null, // a message id to open the chat after, rather than the read marker
      loading: false,
      failures: 0, // loads in a row that were not heard, for the backoff of the next one
      retryTimer: null,
      // The read marker when the chat was opened with messages unread after it: the "New
      // messages" divider (its node in `divider`) stays above the first of them until the
      // view closes, however far the reader has read since.
      unreadAfter: null,
      // With no read marker to go by: the first unread message, which the divider goes above.
      firstUnread: null,
      divider: null,
      loadingOlder: false,
      lastEventId: null, // newest event id seen on chats/{id}: the `since` to resume from
      subscription: 'none', // none | pending | live
      resync: false, // going live without `since`: then read the newest page over HTTP
      unsureReactions: new Set(), // ids of messages whose reaction request went unanswered
      typing: new Map(), // user → expiry time
      typingTimer: null,
      lastTypingSent: 0,
      readPending: null,
      editing: null, // id of the message being edited
      gone: null, // left | removed | unknown: how a member stopped being one while viewing
      leftBy: null, // who ended this user's membership, from the chat's member.left
      search: { query: '', cursor: null },
    };
  }

  function newDirectoryView() {
    return {
      chats: new Map(), // id → Chat, in the server's order (newest first)
      nodes: new Map(), // id → <li>
      cursor: null,
      reachedEnd: false,
      loading: false,
      failed: false,
    };
  }

  // MARK: - DOM helpers

  /** Builds an element; strings become text nodes, so nothing is parsed as HTML. */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value === undefined || value === null || value === false) continue;
        if (key === 'class') node.className = value;
        else if (key === 'text') node.textContent = value;
        else if (key === 'dataset') Object.assign(node.dataset, value);
        else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
        else node.setAttribute(key, value === true ? '' : String(value));
      }
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  /**
   * Makes `parent`'s children exactly `nodes`, in order, moving only what is out of place. A
   * node moved loses the focus (its own or that of what it holds): it is given back, so a
   * chat the keyboard is on stays so when a message takes it to the top of the list.
   */
  function reconcile(parent, nodes) {
    const focused = parent.contains(document.activeElement) ? document.activeElement : null;
    let child = parent.firstChild;
    for (const node of nodes) {
      if (node === child) { child = child.nextSibling; continue; }
      parent.insertBefore(node, child);
    }
    while (child) {
      const next = child.nextSibling;
      child.remove();
      child = next;
    }
    if (focused && focused.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true });
  }

  const graphemes = typeof Intl.Segmenter === 'function' ? new Intl.Segmenter(undefined, { granularity: 'grapheme' }) : null;

  /** How many characters the server counts in a text (see MESSAGE_LIMIT). */
  function characters(text) {
    if (!graphemes) return Array.from(text).length;
    let count = 0;
    for (const _ of graphemes.segment(text)) count += 1;
    return count;
  }

  /** An Error saying that a text is over the server's limit, or null. */
  function overLimit(what, text, limit) {
    const count = characters(text.trim());
    if (count <= limit) return null;
    return new Error(`${what} can be at most ${limit.toLocaleString('en-US')} characters; this one has ${count.toLocaleString('en-US')}.`);
  }

  /**
   * An Error saying that a request with this body would be over the server's size limit, in
   * characters of `text` to remove (the server's own answer counts bytes), or null.
   */
  function overBodyLimit(body, text) {
    const bytes = new TextEncoder().encode(JSON.stringify(body)).length;
    if (bytes <= BODY_LIMIT) return null;
    const perCharacter = new TextEncoder().encode(text).length / Math.max(1, characters(text));
    const cut = Math.max(1, Math.ceil((bytes - BODY_LIMIT) / perCharacter));
    return new Error(`This message is too large to send: emoji and other long characters take more room than letters. Remove about ${cut.toLocaleString('en-US')} characters.`);
  }

  function uid() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
  const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  const shortDayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });

  function dayKey(iso) {
    const d = new Date(iso);
    return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
  }

  function dayLabel(iso) {
    const d = new Date(iso);
    const today = new Date();
    const yesterday = new Date(Date.now() - 86400000);
    if (dayKey(d) === dayKey(today)) return 'Today';
    if (dayKey(d) === dayKey(yesterday)) return 'Yesterday';
    return dayFormat.format(d);
  }

  function listTime(iso) {
    const d = new Date(iso);
    return dayKey(d) === dayKey(new Date()) ? timeFormat.format(d) : shortDayFormat.format(d);
  }

  function avatar(user) {
    let hash = 0;
    for (const ch of user) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
    const node = el('span', { class: 'avatar', 'aria-hidden': 'true', text: Array.from(user)[0].toUpperCase() });
    node.style.backgroundColor = `hsl(${hash % 360} 55% 42%)`;
    return node;
  }

  // MARK: - Errors

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
      this.detail = detail;
      this.retryAfter = null; // seconds, from a Retry-After header
    }
  }

  /** Whether asking again later may succeed: not heard, busy or briefly unavailable. */
  function isTransient(error) {
    return error instanceof ApiError && [0, 429, 502, 503, 504].includes(error.status);
  }

  /** How long to wait before the attempt after `failures` failed ones, in ms. */
  function backoff(error, failures) {
    if (error && error.retryAfter) return error.retryAfter * 1000;
    return Math.min(RECONNECT_MAX_MS, 1000 * 2 ** failures);
  }

  /**
   * A history page that failed is asked for again after a wait (Retry-After, or a backoff),
   * not on the next frame: `paging` is the chat's `older` or `newer`, and `again` asks if the
   * reader is still where that page is wanted.
   */
  function retryPageLater(cur, paging, error, again) {
    showError(error);
    paging.failures += 1;
    const delay = backoff(error, paging.failures);
    paging.retryAt = Date.now() + delay;
    clearTimeout(paging.timer);
    paging.timer = setTimeout(() => {
      if (state.current === cur) again();
    }, delay);
  }

  function showError(error) {
    const text = error instanceof ApiError ? error.detail : (error && error.message) || String(error);
    // Said of the connection: the live connection coming back puts it right (see connect).
    state.errorUnheard = error instanceof ApiError && error.status === 0;
    $('error-text').textContent = text;
    $('error-banner').hidden = false;
    clearTimeout(state.errorTimer);
    state.errorTimer = setTimeout(hideError, 10000);
  }

  function hideError() {
    state.errorUnheard = false;
    $('error-banner').hidden = true;
  }

  // MARK: - HTTP API

  async function api(method, path, body) {
    const token = state.token;
    const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
    const init = { method, headers };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), API_TIMEOUT_MS);
    init.signal = timeout.signal;
    let response;
    try {
      response = await fetch(path, init);
    } catch {
      throw new ApiError(0, timeout.signal.aborted
        ? `The server did not answer within ${API_TIMEOUT_MS / 1000} s; try again.`
        : 'Cannot reach the server. Check the connection and try again.');
    } finally {
      clearTimeout(timer);
    }
    if (response.status === 204) return null;
    let data = null;
    if ((response.headers.get('Content-Type') || '').includes('json')) {
      try { data = await response.json(); } catch { data = null; }
    }
    if (response.ok) return data;

    let detail = (data && data.detail) || `${response.status} ${response.statusText || 'error'}`;
    const retry = response.headers.get('Retry-After');
    if (response.status === 429 && retry) detail += ` (try again in ${retry} s)`;
    if (response.status === 401 && token && token === state.token) {
      signOut(`Signed out: ${detail}`);
    }
    const failure = new ApiError(response.status, detail);
    if (retry && Number.isFinite(Number(retry))) failure.retryAfter = Number(retry);
    throw failure;
  }

  const encode = encodeURIComponent;

  // MARK: - Sign in and out

  /** The claims of a JWT, or an Error saying what is wrong with it. */
  function parseToken(token) {
    const parts = token.split('.');
    if (parts.length !== 3) throw new Error('That is not a token: a token has three parts separated by dots.');
    let claims;
    try {
      const json = atob(parts[1].replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(parts[1].length / 4) * 4, '='));
      claims = JSON.parse(decodeURIComponent(Array.from(json, (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join('')));
    } catch {
      throw new Error('That token could not be read; copy it again in full.');
    }
    if (typeof claims.sub !== 'string' || !claims.sub) throw new Error('That token names no user (no "sub" claim).');
    if (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now()) {
      throw new Error('That token has expired; mint a new one with `chatflow token --user NAME`.');
    }
    return claims;
  }

  function showSignIn(message) {
    $('app').hidden = true;
    $('signin').hidden = false;
    const error = $('signin-error');
    error.textContent = message || '';
    error.hidden = !message;
    document.title = 'ChatFlow';
    $('token-input').focus();
  }

  async function signIn(token, { remembered = false } = {}) {
    // A token copied from a request's Authorization header comes with its scheme.
    token = token.trim().replace(/^bearer\s+/i, '');
    let claims;
    try {
      claims = parseToken(token);
    } catch (error) {
      if (remembered) localStorage.removeItem(TOKEN_KEY);
      showSignIn(error.message);
      return;
    }
    state.token = token;
    state.me = claims.sub;
    const button = $('signin-button');
    button.disabled = true;
    try {
      setChats(await fetchAllChats());
    } catch (error) {
      if (state.token === token) state.token = null;
      // A refused token is forgotten; one the server could not be asked about is kept.
      if (error.status === 401) localStorage.removeItem(TOKEN_KEY);
      showSignIn(error.detail || error.message);
      if (error.status !== 401) $('token-input').value = token;
      return;
    } finally {
      button.disabled = false;
    }
    localStorage.setItem(TOKEN_KEY, token);
    localStorage.removeItem(SIGNED_OUT_KEY);
    // The chat in the address was another user's (signed out here, or in another tab): this
    // one starts at the list, not in that chat. The same user comes back to it.
    if (state.lastUser && state.lastUser !== state.me && location.hash.startsWith('#/chats/')) {
      history.replaceState(null, '', '#/');
    }
    state.lastUser = null;
    state.expires = typeof claims.exp === 'number' ? claims.exp * 1000 : null;
    watchExpiry();
    $('token-input').value = '';
    $('signin').hidden = true;
    $('app').hidden = false;
    $('current-user').textContent = state.me;
    hideError();
    connect();
    route();
  }

  /**
   * `forget`: false when another tab has already changed the stored token (see init). The
   * `message` of a sign-out not asked for (the expiry, a refused token) is left for the other
   * tabs, which are signed out with this one, to say as well.
   */
  function signOut(message, { forget = true } = {}) {
    if (forget) {
      if (message) localStorage.setItem(SIGNED_OUT_KEY, message);
      else localStorage.removeItem(SIGNED_OUT_KEY);
      localStorage.removeItem(TOKEN_KEY);
    }
    clearTimeout(state.expiryTimer);
    state.expiryTimer = null;
    state.expires = null;
    // Messages waiting their turn are not posted on whoever signs in next: they are drafts
    // (this user's, while state.me still says who that is).
    for (const queue of sendQueues.values()) {
      const waiting = queue.splice(1);
      if (!waiting.length) continue;
      const { cur, me } = waiting[0];
      saveDraft(cur.id, [...waiting.map((item) => item.content), loadDraft(cur.id, me)].filter((text) => text.trim()).join('\n'), me);
    }
    if (state.me) state.lastUser = state.me;
    state.token = null;
    state.me = null;
    closeSocket();
    closeChat();
    closeDirectory();
    state.chats.clear();
    renderChats();
    // The draft stays in storage for this user (see saveDraft), not on the page for the next.
    $('composer-input').value = '';
    autosize();
    showSignIn(message);
  }

  /**
   * Signs out when the token expires. The server would only tell us later: it accepts a
   * token for its leeway (CHATFLOW_JWT_LEEWAY, 30 s by default) past `exp`, and closes the
   * WebSocket with 4001 then: until that the page would look signed in on a spent token.
   * The timer is re-armed in steps: setTimeout takes at most ~24.8 days (a longer delay
   * fires at once), and a computer that slept is caught up with at the next step or when
   * the page is shown again.
   */
  function watchExpiry() {
    clearTimeout(state.expiryTimer);
    state.expiryTimer = null;
    if (!state.token || state.expires === null) return;
    const left = state.expires - Date.now();
    if (left <= 0) { signOut(EXPIRED); return; }
    state.expiryTimer = setTimeout(watchExpiry, Math.min(left, EXPIRY_CHECK_MS));
  }

  // MARK: - Chat list

  /** A list from fetchAllChats: `since` is what had been heard when it was asked for. */
  function setChats({ chats, since }) {
    const cur = state.current;
    // The server's count takes in every message up to its lastMessage; a notification of one
    // of those, come late, is not counted again.
    for (const chat of chats) {
      chat.countedThrough = chat.lastMessage ? chat.lastMessage.id : null;
      const sent = state.readUpTo.get(chat.id);
      if (sent && (!chat.lastReadMessageId || chat.lastReadMessageId < sent)) chat.lastReadMessageId = sent;
      else if (chat.lastReadMessageId) state.readUpTo.set(chat.id, chat.lastReadMessageId);
    }
    const role = cur && state.chats.get(cur.id)?.role;
    state.chats = new Map(chats.map((chat) => [chat.id, chat]));
    // Posts heard of since the list was asked for count again against it: those it already
    // takes in are not counted twice (countedThrough).
    for (const heard of state.heardPosts) {
      if (heard.seq >= since) notePosted(heard.chatId, heard.message);
    }
    forgetHeardPosts();
    // Made the owner (the owner left), this user may now delete anyone's messages.
    if (cur && cur.loaded && state.chats.has(cur.id) && state.chats.get(cur.id).role !== role) {
      for (const message of cur.messages.values()) message.v += 1;
      renderTimeline();
    }
    if (viewing(cur) && state.chats.has(cur.id)) {
      // The open chat is read up to what is on screen; the server hears of it shortly.
      const summary = state.chats.get(cur.id);
      const seen = newestSeenId(cur);
      if (seen && (!summary.lastMessage || summary.lastMessage.id <= seen)) summary.unreadCount = 0;
    }
    renderChats();
  }

  function refreshChatsSoon() {
    clearTimeout(state.listRefresh);
    state.listRefresh = setTimeout(refreshChats, 300);
  }

  // Every one of the caller's chats: the list comes a page at a time.
  async function fetchAllChats() {
    let chats = [];
    let cursor = null;
    const since = state.heardSeq;
    state.listsReading.push(since);
    try {
      do {
        const data = await api('GET', cursor ? `/chats?cursor=${encodeURIComponent(cursor)}` : '/chats');
        chats = chats.concat(data.chats);
        cursor = data.nextCursor;
      } while (cursor);
    } catch (error) {
      state.listsReading.splice(state.listsReading.indexOf(since), 1);
      forgetHeardPosts();
      throw error;
    }
    // What was heard meanwhile stays until setChats has counted it against this list.
    state.listsReading.splice(state.listsReading.indexOf(since), 1);
    return { chats, since };
  }

  /** Keeps only the posts heard since the oldest list still being read asked for it. */
  function forgetHeardPosts() {
    const oldest = Math.min(...state.listsReading);
    state.heardPosts = state.heardPosts.filter((heard) => heard.seq >= oldest);
  }

  async function refreshChats() {
    if (!state.token) return;
    try {
      setChats(await fetchAllChats());
    } catch (error) {
      showError(error);
    }
  }

  function chatActivity(chat) {
    return (chat.lastMessage && chat.lastMessage.createdAt) || chat.createdAt;
  }

  const chatNodes = new Map(); // chat id → <li>, reused so a click never lands on a replaced node

  function renderChats() {
    const chats = Array.from(state.chats.values()).sort((a, b) => chatActivity(b).localeCompare(chatActivity(a)));
    const open = state.current && state.current.id;
    const nodes = chats.map((chat) => {
      let li = chatNodes.get(chat.id);
      if (!li) {
        li = el('li', null, el('a', { href: `#/chats/${chat.id}`, dataset: { testid: 'chat-item', chatId: chat.id } }));
        chatNodes.set(chat.id, li);
      }
      const unread = chat.id === open ? 0 : chat.unreadCount || 0;
      const last = chat.lastMessage;
      let preview = chat.description || 'No messages yet';
      if (last) {
        const who = last.userId === state.me ? 'You' : last.userId;
        preview = last.deleted ? `${who}: message deleted` : `${who}: ${last.content}`;
      }
      const link = li.firstChild;
      link.className = 'chat-item' + (unread ? ' unread' : '');
      link.dataset.unread = String(unread);
      if (chat.id === open) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
      link.replaceChildren(
        el('span', { class: 'chat-item-top' },
          el('span', { class: 'chat-item-name', 'data-testid': 'chat-item-name', title: chat.name, text: chat.name }),
          chat.isPrivate ? el('span', { class: 'tag', text: 'private' }) : null,
          el('time', { class: 'chat-item-time', datetime: chatActivity(chat), text: listTime(chatActivity(chat)) })),
        el('span', { class: 'chat-item-bottom' },
          el('span', { class: 'chat-item-preview', text: preview }),
          unread ? el('span', {
            class: 'badge', 'data-testid': 'unread-badge', 'aria-label': `${unread} unread`,
            text: unread > 99 ? '99+' : String(unread),
          }) : null));
      return li;
    });
    for (const id of chatNodes.keys()) if (!state.chats.has(id)) chatNodes.delete(id);
    reconcile($('chat-list'), nodes);
    $('chat-list-empty').hidden = chats.length > 0;
    const total = chats.reduce((sum, chat) => sum + (chat.id === open ? 0 : chat.unreadCount || 0), 0);
    document.title = total ? `(${total}) ChatFlow` : 'ChatFlow';
    // Joining or leaving elsewhere changes which directory entries read "Joined".
    renderDirectory();
  }

  async function createChat(event) {
    event.preventDefault();
    const body = {
      name: $('new-chat-name').value.trim(),
      isPrivate: $('new-chat-private').checked,
    };
    const description = $('new-chat-description').value.trim();
    if (description) body.description = description;
    const tooLong = overLimit('A chat name', body.name, NAME_LIMIT) || overLimit('A description', description, DESCRIPTION_LIMIT);
    if (tooLong) { showError(tooLong); return; }
    const submit = $('new-chat-submit');
    submit.disabled = true;
    try {
      const chat = await api('POST', '/chats', body);
      state.chats.set(chat.id, { ...chat, role: 'owner', unreadCount: 0, lastMessage: null, lastReadMessageId: null });
      renderChats();
      $('new-chat-form').reset();
      toggleForm(null);
      location.hash = `#/chats/${chat.id}`;
    } catch (error) {
      showError(error);
    } finally {
      submit.disabled = false;
    }
  }

  async function joinChat(event) {
    event.preventDefault();
    // Accept a pasted link (…/#/chats/ID) as well as the bare id. The field has no maxlength,
    // which would cut a link (or an id with a space before it) short without a word.
    const text = $('join-chat-id').value.trim();
    // No lookbehind: Safari before 16.4 cannot parse one, and would load none of this file.
    const found = text.match(/(?:^|[^0-9A-Za-z])([0-9A-Za-z]{26})(?![0-9A-Za-z])/);
    if (!found) {
      showError(new Error('That is not a chat id: an id has 26 letters and digits, as the chat\'s header shows it. A link to the chat works too.'));
      return;
    }
    const id = found[1].toUpperCase();
    const submit = $('join-chat-submit');
    submit.disabled = true;
    try {
      await api('POST', `/chats/${encode(id)}/members`, {});
      await refreshChats();
      $('join-chat-form').reset();
      toggleForm(null);
      location.hash = `#/chats/${id}`;
    } catch (error) {
      showError(error);
    } finally {
      submit.disabled = false;
    }
  }

  function toggleForm(form) {
    for (const [id, toggle] of [['new-chat-form', 'new-chat-toggle'], ['join-chat-form', 'join-chat-toggle']]) {
      const open = id === form && $(id).hidden;
      // Closed with the focus in it, the focus goes back to the button that opened it.
      const held = !open && $(id).contains(document.activeElement);
      $(id).hidden = !open;
      $(toggle).setAttribute('aria-expanded', String(open));
      if (open) $(id).querySelector('input').focus();
      if (held) $(toggle).focus();
    }
  }

  // MARK: - Routing and screens

  /**
   * `#/chats/{id}` opens a chat, `#/browse` the directory of public chats; anything else
   * shows the list (the only screen on a phone).
   */
  function route() {
    if (!state.token) return;
    const match = location.hash.match(/^#\/chats\/([0-9A-Za-z]{26})$/);
    // On a phone one screen shows at a time: the focus, on what the last one hid, follows
    // into the chat opened, and back to its entry in the list.
    const phone = matchMedia(PHONE_MEDIA).matches;
    const was = state.current && state.current.id;
    if (match) {
      closeDirectory();
      openChat(match[1].toUpperCase());
      $('app').dataset.screen = 'chat';
      if (phone && !$('chat-view').contains(document.activeElement)) $('timeline').focus({ preventScroll: true });
    } else if (location.hash === '#/browse') {
      closeChat();
      openDirectory();
      $('app').dataset.screen = 'directory';
    } else {
      closeChat();
      closeDirectory();
      $('app').dataset.screen = 'list';
      const entry = was && chatNodes.get(was);
      if (phone && entry && !$('sidebar').contains(document.activeElement)) entry.firstChild.focus();
    }
  }

  function closeChat() {
    const cur = state.current;
    if (!cur) return;
    unsubscribe(cur);
    clearInterval(cur.typingTimer);
    clearTimeout(cur.retryTimer);
    clearTimeout(cur.newer.timer);
    clearTimeout(cur.older.timer);
    state.current = null;
    resetLeave();
    $('chat-pane').hidden = true;
    $('no-chat').hidden = false;
    $('message-list').replaceChildren();
    clearAnnouncements();
    closePicker();
    renderChats();
  }

  /** Opens a chat; `after`, a message id, opens it at the first message after that one. */
  async function openChat(id, { after = null } = {}) {
    if (state.current && state.current.id === id) return;
    closeChat();
    const cur = newChatView(id);
    cur.openAfter = after;
    state.current = cur;
    $('no-chat').hidden = true;
    $('chat-pane').hidden = false;
    $('chat-pane').dataset.chatId = id;
    $('chat-pane').dataset.subscribed = 'false';
    const known = state.chats.get(id);
    renderChatHeader(known || { id, name: '…' });
    setMembership(cur, Boolean(known));
    closeSearch();
    closeAddMember();
    $('typing-indicator').textContent = '';
    $('new-messages').hidden = true;
    $('composer-input').value = loadDraft(id);
    autosize();
    setNewerStatus();
    renderChats();
    loadChat(cur);
  }

  /**
   * Reads the chat and its messages, then goes live. With more unread than fit on screen it
   * opens at the first of them, below a "New messages" divider, in a window into the history
   * when they run past the newest page. Not heard (offline, the server down or busy), it is
   * asked again once the connection is back (see connect) and, meanwhile, with backoff, a
   * few times; any other failure is shown and not asked again.
   */
  async function loadChat(cur) {
    if (cur.loaded || cur.loading) return;
    cur.loading = true;
    clearTimeout(cur.retryTimer);
    setHistoryStatus('loading');
    const id = cur.id;
    // The marker as the chat list has it: what the server counts as unread comes after it.
    const summary = state.chats.get(id);
    const unread = (summary && summary.unreadCount) || 0;
    const marker = cur.openAfter || (unread > 0 ? summary.lastReadMessageId : null);
    // Unread with no marker at all: a member who has read nothing since joining (or the
    // chat's creator who never read it). Their unread are counted from their joining.
    const unmarked = !cur.openAfter && unread > 0 && !summary.lastReadMessageId;
    try {
      const [chat, page] = await Promise.all([
        api('GET', `/chats/${id}`),
        api('GET', `/chats/${id}/messages?limit=${PAGE_SIZE}`),
      ]);
      if (state.current !== cur) return;
      cur.chat = chat;
      renderChatHeader(chat);
      // Resume the live stream right after the newest message: its id is its event id, and an
      // empty chat's id is the id of the event that created it.
      cur.lastEventId = page.messages.length ? page.messages[0].id : chat.id;
      const oldest = page.messages[page.messages.length - 1];
      let around = null;
      if (marker && page.messages[0] && page.messages[0].id > marker) {
        cur.unreadAfter = marker;
        // The first unread message is further back than the newest page reaches.
        if (page.nextCursor && oldest.id > marker) around = await pagesAfterMarker(cur, marker);
        if (state.current !== cur) return;
      } else if (unmarked) {
        const first = await firstUnmarkedUnread(cur, page, unread);
        if (state.current !== cur) return;
        if (first) {
          cur.firstUnread = first.id;
          // The divider needs what was read above it: the page must reach further back.
          const at = page.messages.findIndex((message) => message.id === first.id);
          if (page.nextCursor && (at < 0 || at === page.messages.length - 1)) around = await pagesFrom(cur, first);
          if (state.current !== cur) return;
        }
      }
      if (around) {
        showWindow(cur, around.older, around.newer);
      } else {
        for (const message of page.messages) addMessage(cur, message);
        cur.olderCursor = page.nextCursor;
        cur.reachedStart = !page.nextCursor;
        // The status first: its height is part of what the timeline scrolls to the foot of.
        setHistoryStatus();
        renderTimeline({ toBottom: true });
        loadReactionDetails(cur, page.messages);
      }
      setMembership(cur, state.chats.has(id));
      cur.loaded = true;
      // The chat may have changed hands while this page was not looking at it (no
      // notification says so; an owner who leaves changes the member count): the list has
      // this user's role as it is now.
      if (summary && summary.role !== 'owner' && summary.memberCount !== chat.memberCount) refreshChatsSoon();
      if (cur.failures) hideError(); // the failed load it reported is put right
      cur.failures = 0;
      showFirstUnread(cur);
      subscribe(cur);
      markReadSoon();
      fillViewport();
      if (!matchMedia(PHONE_MEDIA).matches) $('composer-input').focus();
    } catch (error) {
      if (state.current !== cur) return;
      if (error.status === 404) {
        // The server cannot say which: it keeps private chats from those outside them.
        showError(new Error(NO_SUCH_CHAT));
        location.hash = '#/';
      } else if (error.status === 403 || error.status === 400) {
        showError(error);
        location.hash = '#/';
      } else if (isTransient(error) && cur.failures < LOAD_RETRIES) {
        showError(error);
        setHistoryStatus('failed');
        cur.failures += 1;
        cur.retryTimer = setTimeout(() => { if (state.current === cur) loadChat(cur); }, backoff(error, cur.failures));
      } else {
        // Asking again would fail the same way (or a reconnect asks again, see connect).
        showError(error);
        setHistoryStatus('broken');
        if (!(error instanceof ApiError)) console.error(error);
      }
    } finally {
      cur.loading = false;
    }
  }

  /**
   * The two pages around the read marker's message (read at its time, as jumpTo does), or
   * null when that message cannot be read: then the chat opens at the newest, and what lies
   * between the marker and that page stays unread (see markRead) until the reader scrolls
   * back to it. Not heard, the load fails and is asked again.
   */
  async function pagesAfterMarker(cur, marker) {
    try {
      const read = await api('GET', `/messages/${marker}`);
      const [older, newer] = await pagesAt(cur, read.createdAt);
      return newer.messages.some((message) => message.id > marker) ? { older, newer } : null;
    } catch (error) {
      if (isTransient(error)) throw error;
      return null;
    }
  }

  /**
   * The first unread message of a chat with no read marker, or null when it cannot be told.
   * The server counts as unread every message since this user joined that is not deleted,
   * and with no marker none of them is theirs (posting moves the marker): the first is the
   * oldest of the newest `unread` messages not deleted. They are counted back from the
   * newest `page` a page at a time; further back than that is worth, it is the first
   * message not deleted from the time this user joined. Not heard, the load fails and is
   * asked again.
   */
  async function firstUnmarkedUnread(cur, page, unread) {
    try {
      let left = unread;
      let current = page;
      for (let pages = 0; ; pages++) {
        for (const message of current.messages) {
          if (!message.deleted && --left === 0) return message;
        }
        // The whole chat counted short of the count (the list's, from a moment before some
        // were deleted): every message in it is unread.
        if (!current.nextCursor) return current.messages.filter((message) => !message.deleted).pop() || null;
        if (pages === UNMARKED_COUNT_PAGES) break;
        current = await api('GET', `/chats/${cur.id}/messages?limit=${COUNT_PAGE_SIZE}&cursor=${encode(current.nextCursor)}`);
        if (state.current !== cur) return null;
      }
      const joinedAt = await myJoiningTime(cur);
      if (!joinedAt || state.current !== cur) return null;
      const newer = await api('GET', `/chats/${cur.id}/messages?limit=${PAGE_SIZE}&direction=newer&cursor=${encode(joinedAt)}`);
      return newer.messages.find((message) => !message.deleted) || null;
    } catch (error) {
      if (isTransient(error)) throw error;
      return null;
    }
  }

  /** When this user joined the chat, from its members (a page at a time, by user id). */
  async function myJoiningTime(cur) {
    let cursor = null;
    for (let pages = 0; pages < UNMARKED_COUNT_PAGES; pages++) {
      const page = await api('GET', `/chats/${cur.id}/members?limit=100${cursor ? `&cursor=${encode(cursor)}` : ''}`);
      const me = page.members.find((member) => member.userId === state.me);
      if (me) return me.joinedAt;
      cursor = page.nextCursor;
      if (!cursor || state.current !== cur) return null;
    }
    return null;
  }

  /**
   * The two pages around a message (read at its time, as jumpTo does), or null when they
   * cannot be read: then the chat opens at the newest. Not heard, the load fails and is
   * asked again.
   */
  async function pagesFrom(cur, message) {
    try {
      const [older, newer] = await pagesAt(cur, message.createdAt);
      return newer.messages.some((m) => m.id === message.id) ? { older, newer } : null;
    } catch (error) {
      if (isTransient(error)) throw error;
      return null;
    }
  }

  /**
   * Brings the "New messages" divider to the top of the view, unless it is on screen with
   * the newest message (a few unread): then the view stays at the foot of the chat.
   */
  function showFirstUnread(cur) {
    const divider = cur.divider;
    if (!divider || !divider.isConnected) return;
    const tl = $('timeline');
    const above = divider.getBoundingClientRect().top - tl.getBoundingClientRect().top;
    if (!cur.newerCursor && above >= 0) return;
    tl.scrollTop += above - 8;
  }

  /**
   * Members get the composer. Anyone else is told why not: a public chat may be previewed and
   * joined (again); a private one they left or were removed from is closed to them, and only
   * a member can add them back, so it offers no Join and no search.
   */
  function setMembership(cur, member) {
    cur.member = member;
    if (member) cur.gone = null;
    const isPrivate = Boolean((cur.chat || state.chats.get(cur.id) || {}).isPrivate);
    const shut = !member && isPrivate;
    $('chat-pane').dataset.member = String(member);
    $('composer').hidden = !member;
    $('join-bar').hidden = member;
    $('join-this-chat').hidden = shut;
    $('leave-chat').hidden = !member;
    $('add-member-toggle').hidden = !member;
    $('search-toggle').hidden = shut;
    if (!member) closeAddMember();
    if (shut) closeSearch();
    const was = { left: 'You left this chat', removed: 'You were removed from this chat', unknown: 'You are no longer a member of this chat' }[cur.gone];
    let text = 'You are previewing this public chat. Join it to post, react and get live updates.';
    if (was && shut) text = `${was}. It is private: only a member can add you back.`;
    else if (was) text = `${was}. Join it again to post, react and get live updates.`;
    $('join-bar-text').textContent = text;
    $('join-bar').dataset.state = member ? 'member' : cur.gone ? cur.gone : 'preview';
    if (cur.chat) renderChatHeader(cur.chat);
  }

  async function joinOpenChat() {
    const cur = state.current;
    if (!cur || cur.member) return;
    const button = $('join-this-chat');
    button.disabled = true;
    try {
      await api('POST', `/chats/${cur.id}/members`, {});
      await rejoin(cur);
      if (cur.member && state.current === cur) $('composer-input').focus();
    } catch (error) {
      // Made private since the preview was opened (nothing live tells a previewer).
      if (error.status === 404 && state.current === cur) noSuchChat(cur);
      else showError(error);
    } finally {
      button.disabled = false;
    }
  }

  /**
   * The open chat is this user's again (joined here, or added back while looking at it): the
   * composer comes back and it goes live. What came while this page was not subscribed
   * (previewing, or after being removed) may not be in the resume: the server skips a
   * member's time away, as live. The newest page over HTTP fills that in once it is live.
   */
  async function rejoin(cur) {
    await refreshChats();
    if (state.current !== cur || cur.member || !state.chats.has(cur.id)) return;
    setMembership(cur, true);
    cur.leftBy = null;
    hideError(); // what was said of leaving or being removed no longer holds
    refreshChatHeader(cur);
    cur.resync = true;
    subscribe(cur);
    markReadSoon();
  }

  function renderChatHeader(chat) {
    const cur = state.current;
    const outside = cur && cur.id === chat.id && cur.member === false;
    const count = typeof chat.memberCount !== 'number' ? ''
      : chat.memberCount === 1 ? '1 member' : `${chat.memberCount} members`;
    $('chat-name').textContent = chat.name;
    // Cut short on a narrow screen, the name is whole here.
    $('chat-name').title = chat.name;
    // A private chat's members are its own business once this user is not one of them.
    $('chat-members').textContent = !outside ? count
      : chat.isPrivate || !count ? 'not a member' : `${count} · not a member`;
    $('chat-id').textContent = chat.id;
  }

  async function refreshChatHeader(cur) {
    try {
      const chat = await api('GET', `/chats/${cur.id}`);
      if (state.current !== cur) return;
      cur.chat = chat;
      renderChatHeader(chat);
      const summary = state.chats.get(cur.id);
      if (summary) Object.assign(summary, chat);
      renderChats();
    } catch (error) {
      // A member who has just lost a private chat is told so by the bar; a preview that can
      // no longer be read is of a chat made private since, and is taken away.
      if (error.status === 404 && state.current === cur && !cur.member && !cur.gone) noSuchChat(cur);
      else if (error.status !== 404) showError(error);
    }
  }

  /**
   * The open chat cannot be read (gone from the server, or private to this non-member): said
   * as opening an unknown chat says it, and the view, with what it showed, goes with it.
   */
  function noSuchChat(cur) {
    showError(new Error(NO_SUCH_CHAT));
    state.chats.delete(cur.id);
    renderChats();
    if (state.current === cur) location.hash = '#/';
  }

  let leaveTimer = null;

  /** "Really leave?" is asked of one chat: gone to another (or after a while), it is "Leave". */
  function resetLeave() {
    clearTimeout(leaveTimer);
    leaveTimer = null;
    const button = $('leave-chat');
    button.dataset.confirm = 'false';
    button.textContent = 'Leave';
  }

  async function leaveChat() {
    const cur = state.current;
    const button = $('leave-chat');
    if (!cur) return;
    if (button.dataset.confirm !== cur.id) {
      resetLeave();
      button.dataset.confirm = cur.id;
      button.textContent = 'Really leave?';
      leaveTimer = setTimeout(resetLeave, 4000);
      return;
    }
    resetLeave();
    try {
      await api('DELETE', `/chats/${cur.id}/members/${encode(state.me)}`);
      state.chats.delete(cur.id);
      location.hash = '#/';
      refreshChatsSoon();
    } catch (error) {
      showError(error);
    }
  }

  // MARK: - Directory of public chats

  function openDirectory() {
    if (state.directory) return;
    const dir = newDirectoryView();
    state.directory = dir;
    $('no-chat').hidden = true;
    $('directory').hidden = false;
    $('directory-list').replaceChildren();
    $('directory-body').scrollTop = 0;
    $('browse-chats').setAttribute('aria-current', 'page');
    loadDirectory();
  }

  function reloadDirectory() {
    closeDirectory();
    openDirectory();
  }

  function closeDirectory() {
    if (!state.directory) return;
    state.directory = null;
    $('directory').hidden = true;
    $('directory-list').replaceChildren();
    $('browse-chats').removeAttribute('aria-current');
    $('no-chat').hidden = Boolean(state.current);
  }

  /** Loads the next page (or, after a failure, the same page again). */
  async function loadDirectory() {
    const dir = state.directory;
    if (!dir || dir.loading || dir.reachedEnd) return;
    dir.loading = true;
    dir.failed = false;
    renderDirectory();
    let path = `/chats?scope=public&limit=${DIRECTORY_PAGE_SIZE}`;
    if (dir.cursor) path += `&cursor=${encode(dir.cursor)}`;
    const shown = dir.chats.size;
    try {
      // The first page comes with a fresh list of the user's chats, which the "Joined" marks
      // go by: chats joined elsewhere (another tab, the API) reach this page only on a refresh.
      const [page] = await Promise.all([api('GET', path), dir.cursor ? null : refreshChats()]);
      if (state.directory !== dir) return;
      // A chat seen on an earlier page stays where it was.
      for (const chat of page.chats) if (!dir.chats.has(chat.id)) dir.chats.set(chat.id, chat);
      dir.cursor = page.nextCursor;
      dir.reachedEnd = !page.nextCursor;
    } catch (error) {
      if (state.directory !== dir) return;
      dir.failed = true;
      showError(error);
    }
    dir.loading = false;
    const held = document.activeElement === $('directory-more');
    renderDirectory();
    // The last page hides "Load more" for good: the focus goes on to the first chat it brought.
    if (held && $('directory-more').hidden && dir.chats.size) {
      const ids = Array.from(dir.chats.keys());
      dir.nodes.get(ids[Math.min(shown, ids.length - 1)]).querySelector('a').focus();
    }
  }

  function renderDirectory() {
    const dir = state.directory;
    if (!dir) return;
    reconcile($('directory-list'), Array.from(dir.chats.values(), (chat) => directoryNode(dir, chat)));

    const count = dir.chats.size;
    let mode = 'more';
    let text = '';
    if (dir.loading) {
      mode = 'loading';
      text = count ? 'Loading more…' : 'Loading public chats…';
    } else if (dir.failed) {
      mode = 'error';
      text = 'The public chats could not be loaded.';
    } else if (!count) {
      mode = 'empty';
      text = 'No public chats yet. Create one, leaving “Private” unticked, and it shows up here.';
    } else if (dir.reachedEnd) {
      mode = 'end';
      text = count === 1 ? 'That is the only public chat.' : `That is all ${count} public chats.`;
    }
    const status = $('directory-status');
    status.dataset.state = mode;
    status.textContent = text;

    const more = $('directory-more');
    more.hidden = !(dir.failed || (count && !dir.reachedEnd));
    // Not disabled while a page loads, which would drop the focus: the next page stays one key
    // press away (loadDirectory does not ask twice at once).
    more.setAttribute('aria-disabled', String(dir.loading));
    more.textContent = dir.failed ? 'Try again' : dir.loading ? 'Loading…' : 'Load more';
  }

  /** One directory entry; rebuilt only when the user joins or leaves, so clicks land on it. */
  function directoryNode(dir, chat) {
    const member = state.chats.has(chat.id);
    const existing = dir.nodes.get(chat.id);
    if (existing && existing.dataset.member === String(member)) return existing;
    const link = `#/chats/${chat.id}`;
    const icon = avatar(chat.name);
    icon.classList.add('chat-avatar');
    const node = el('li', {
      class: 'directory-item' + (member ? ' member' : ''),
      dataset: { testid: 'directory-item', chatId: chat.id, member: String(member) },
    },
    icon,
    el('div', { class: 'directory-info' },
      el('div', { class: 'directory-top' },
        el('a', {
          class: 'directory-name', href: link, 'data-testid': 'directory-item-name', text: chat.name,
          title: member ? 'Open this chat' : 'Preview this chat',
        }),
        member ? el('span', { class: 'tag joined', 'data-testid': 'directory-joined', text: 'Joined' }) : null),
      chat.description
        ? el('p', { class: 'directory-description', 'data-testid': 'directory-item-description', text: chat.description })
        : null,
      el('div', { class: 'directory-meta muted small' },
        el('span', {
          'data-testid': 'directory-item-members',
          text: chat.memberCount === 1 ? '1 member' : `${chat.memberCount} members`,
        }),
        el('span', { 'aria-hidden': 'true', text: '·' }),
        el('span', { class: 'directory-creator', text: `started by ${chat.createdBy}` }))),
    member
      ? el('a', { class: 'button small', href: link, 'data-testid': 'directory-open', text: 'Open' })
      : el('button', {
        type: 'button', class: 'button primary small', 'data-testid': 'directory-join', 'data-action': 'join',
        'aria-label': `Join ${chat.name}`, text: 'Join',
      }));
    dir.nodes.set(chat.id, node);
    return node;
  }

  async function joinFromDirectory(button) {
    const dir = state.directory;
    const item = button.closest('[data-chat-id]');
    const chat = dir && item && dir.chats.get(item.dataset.chatId);
    if (!chat || button.disabled) return;
    button.disabled = true;
    button.textContent = 'Joining…';
    try {
      await api('POST', `/chats/${encode(chat.id)}/members`, {});
    } catch (error) {
      showError(error);
      button.disabled = false;
      button.textContent = 'Join';
      return;
    }
    await refreshChats();
    // Should the list not have come back, the chat still opens as one of ours.
    if (!state.chats.has(chat.id)) {
      state.chats.set(chat.id, { ...chat, role: 'member', unreadCount: 0, lastMessage: null, lastReadMessageId: null });
      renderChats();
      refreshChatsSoon();
    }
    if (state.directory === dir) location.hash = `#/chats/${chat.id}`;
  }

  // MARK: - Timeline

  function addMessage(cur, message) {
    const existing = cur.messages.get(message.id);
    if (existing) return existing;
    const entry = { ...message, mine: new Set(), v: 1 };
    cur.messages.set(message.id, entry);
    return entry;
  }

  function newestId(cur) {
    let newest = null;
    for (const id of cur.messages.keys()) if (!newest || id > newest) newest = id;
    return newest;
  }

  function setHistoryStatus(mode) {
    const cur = state.current;
    const status = $('history-status');
    if (mode === 'loading') {
      status.dataset.state = 'loading';
      status.textContent = 'Loading messages…';
    } else if (mode === 'failed') {
      status.dataset.state = 'failed';
      status.textContent = 'The messages could not be loaded. Trying again…';
    } else if (mode === 'broken') {
      status.dataset.state = 'failed';
      status.textContent = 'The messages could not be loaded.';
    } else if (cur && cur.reachedStart) {
      status.dataset.state = 'start';
      status.textContent = cur.chat ? `This is the beginning of “${cur.chat.name}”.` : 'This is the beginning of the chat.';
    } else {
      status.dataset.state = 'more';
      status.textContent = 'Scroll up for older messages';
    }
    status.setAttribute('data-testid', status.dataset.state === 'start' ? 'history-start' : 'history-status');
  }

  function setNewerStatus() {
    const cur = state.current;
    const status = $('newer-status');
    status.hidden = !cur || !cur.newerCursor;
    status.dataset.state = cur && cur.loadingNewer ? 'loading' : 'more';
    status.textContent = cur && cur.loadingNewer ? 'Loading newer messages…' : 'Scroll down for newer messages';
  }

  /**
   * The button at the timeline's foot, with what it leads to: new messages below, or, from a
   * window into older history, the newest ones. No text hides it.
   */
  function showNewMessagesButton(text) {
    const button = $('new-messages');
    button.textContent = text || '';
    button.hidden = !text;
  }

  function isNearBottom() {
    const tl = $('timeline');
    return tl.scrollHeight - tl.scrollTop - tl.clientHeight < 80;
  }

  function scrollToBottom() {
    const tl = $('timeline');
    tl.scrollTop = tl.scrollHeight;
    $('new-messages').hidden = true;
  }

  /**
   * Brings the message list in line with the open chat's messages, reusing each message's
   * node (so an open editor survives) and keeping what the reader looks at in place when
   * older messages arrive above it. The list is not a live region: what is read out is said
   * by announceMessage(), of live messages only.
   */
  function renderTimeline({ toBottom = false, anchored = false } = {}) {
    const cur = state.current;
    if (!cur) return;
    const tl = $('timeline');
    const list = $('message-list');
    // The foot of a window into older history is not the newest message: nothing sticks there,
    // nor (`anchored`) to the foot of the page that has just brought the window to the newest.
    const stick = toBottom || (!anchored && !cur.newerCursor && isNearBottom());
    let anchor = null;
    if (!stick) {
      const top = tl.getBoundingClientRect().top;
      for (const node of list.querySelectorAll(':scope > .message')) {
        const rect = node.getBoundingClientRect();
        if (rect.bottom > top) { anchor = { node, offset: rect.top - top }; break; }
      }
    }

    const desired = [];
    let previous = null;
    let previousDay = null;
    let lastId = null;
    let dividerPlaced = !cur.unreadAfter && !cur.firstUnread;
    for (const id of Array.from(cur.messages.keys()).sort()) {
      const message = cur.messages.get(id);
      const day = dayKey(message.createdAt);
      if (day !== previousDay) {
        let separator = cur.days.get(day);
        if (!separator) {
          separator = el('li', { class: 'day', role: 'separator' }, el('span', { text: dayLabel(message.createdAt) }));
          cur.days.set(day, separator);
        }
        desired.push(separator);
        previousDay = day;
        previous = null;
      }
      // Only where what was read is loaded above it: otherwise its place is not known yet.
      if (!dividerPlaced && (cur.firstUnread ? id >= cur.firstUnread : id > cur.unreadAfter)) {
        dividerPlaced = true;
        if (lastId || cur.reachedStart) {
          cur.divider = cur.divider || el('li', { class: 'unread-divider', role: 'separator', 'data-testid': 'unread-divider' },
            el('span', { text: 'New messages' }));
          desired.push(cur.divider);
          previous = null;
        }
      }
      lastId = id;
      const node = messageNode(cur, message);
      const grouped = previous && previous.userId === message.userId &&
        Date.parse(message.createdAt) - Date.parse(previous.createdAt) < GROUP_WITHIN_MS;
      node.classList.toggle('grouped', Boolean(grouped));
      desired.push(node);
      previous = message;
    }
    reconcile(list, desired);
    $('chat-pane').dataset.messageCount = String(cur.messages.size);

    if (stick) {
      scrollToBottom();
    } else if (anchor && anchor.node.isConnected) {
      const moved = anchor.node.getBoundingClientRect().top - tl.getBoundingClientRect().top - anchor.offset;
      tl.scrollTop += moved;
    }
  }

  function messageNode(cur, message) {
    let node = cur.nodes.get(message.id);
    if (!node) {
      const mine = message.userId === state.me;
      // Focusable by the arrow keys (see onTimelineKey), not by Tab: a focused message shows
      // its actions, and Tab goes on into them.
      node = el('li', {
        class: 'message' + (mine ? ' own' : ''), tabindex: '-1',
        dataset: { testid: 'message', messageId: message.id, author: message.userId },
      },
      avatar(message.userId),
      el('time', { class: 'gutter-time', 'aria-hidden': 'true', text: timeFormat.format(new Date(message.createdAt)) }),
      el('div', { class: 'bubble' },
        el('div', { class: 'message-header' },
          el('span', { class: 'author', 'data-testid': 'message-author', text: message.userId }),
          el('time', {
            class: 'time', datetime: message.createdAt,
            title: fullFormat.format(new Date(message.createdAt)),
            text: timeFormat.format(new Date(message.createdAt)),
          })),
        el('div', { class: 'text' },
          el('div', { class: 'content', 'data-testid': 'message-content' }),
          el('span', { class: 'edited', 'data-testid': 'message-edited', hidden: true, text: '(edited)' })),
        el('div', { class: 'reactions', 'data-testid': 'reactions' })),
      el('div', { class: 'actions', role: 'toolbar', 'aria-label': 'Message actions' },
        el('button', { type: 'button', class: 'icon-button', 'data-action': 'react', 'data-testid': 'react-button', title: 'Add a reaction', 'aria-label': 'Add a reaction', text: '☺' }),
        el('button', { type: 'button', class: 'icon-button', 'data-action': 'edit', 'data-testid': 'edit-button', title: 'Edit', 'aria-label': 'Edit', text: '✎' }),
        el('button', { type: 'button', class: 'icon-button', 'data-action': 'delete', 'data-testid': 'delete-button', title: 'Delete', 'aria-label': 'Delete', text: '🗑' })));
      node.v = 0;
      cur.nodes.set(message.id, node);
    }
    if (node.v !== message.v) {
      updateMessageNode(cur, node, message);
      node.v = message.v;
    }
    return node;
  }

  function updateMessageNode(cur, node, message) {
    const own = message.userId === state.me;
    const owner = state.chats.get(cur.id)?.role === 'owner';
    node.classList.toggle('deleted', message.deleted);
    node.dataset.deleted = String(message.deleted);
    if (cur.editing !== message.id) {
      const content = node.querySelector('.content');
      content.textContent = message.deleted ? 'This message was deleted.' : message.content;
    }
    const edited = node.querySelector('.edited');
    edited.hidden = !message.editedAt || message.deleted || cur.editing === message.id;
    if (message.editedAt) edited.title = `Edited ${fullFormat.format(new Date(message.editedAt))}`;
    node.querySelector('[data-action=react]').hidden = message.deleted;
    node.querySelector('[data-action=edit]').hidden = !own || message.deleted;
    node.querySelector('[data-action=delete]').hidden = !(own || owner) || message.deleted;

    const reactions = node.querySelector('.reactions');
    const existing = new Map(Array.from(reactions.children, (chip) => [chip.dataset.emoji, chip]));
    const chips = Object.entries(message.deleted ? {} : message.reactions || {})
      .filter(([, count]) => count > 0)
      .map(([emoji, count]) => {
        const mine = message.mine.has(emoji);
        const chip = existing.get(emoji) || el('button', {
          type: 'button', dataset: { testid: 'reaction', action: 'toggle-reaction', emoji },
        }, el('span', { class: 'emoji', text: emoji }), el('span', { class: 'count' }));
        chip.className = 'reaction' + (mine ? ' mine' : '');
        chip.setAttribute('aria-pressed', String(mine));
        chip.title = mine ? 'Remove your reaction' : `React with ${emoji}`;
        chip.dataset.count = String(count);
        chip.dataset.mine = String(mine);
        chip.lastChild.textContent = String(count);
        return chip;
      });
    reconcile(reactions, chips);
    reactions.hidden = chips.length === 0;
  }

  /** Re-renders one message if it is in the open chat. */
  function touch(cur, message) {
    message.v += 1;
    if (state.current === cur) renderTimeline();
  }

  function fillViewport() {
    const cur = state.current;
    const tl = $('timeline');
    if (cur && cur.loaded && !cur.reachedStart && tl.scrollHeight <= tl.clientHeight + 200) loadOlder();
    if (cur && cur.loaded && cur.newerCursor && tl.scrollHeight <= tl.clientHeight + 200) loadNewer();
  }

  async function loadOlder() {
    const cur = state.current;
    if (!cur || !cur.loaded || cur.loadingOlder || cur.reachedStart || !cur.olderCursor || Date.now() < cur.older.retryAt) return;
    cur.loadingOlder = true;
    const epoch = cur.epoch;
    let failed = false;
    const status = $('history-status');
    status.dataset.state = 'loading';
    status.textContent = 'Loading older messages…';
    try {
      const page = await api('GET', `/chats/${cur.id}/messages?limit=${PAGE_SIZE}&cursor=${encode(cur.olderCursor)}`);
      if (state.current !== cur || cur.epoch !== epoch) return;
      for (const message of page.messages) addMessage(cur, message);
      cur.olderCursor = page.nextCursor;
      cur.reachedStart = !page.nextCursor;
      cur.older.failures = 0;
      renderTimeline();
      loadReactionDetails(cur, page.messages);
    } catch (error) {
      failed = true;
      if (state.current !== cur || cur.epoch !== epoch) return;
      retryPageLater(cur, cur.older, error, () => { if ($('timeline').scrollTop < 300) loadOlder(); });
    } finally {
      cur.loadingOlder = false;
      if (state.current === cur) {
        setHistoryStatus();
        // Still at the top (a short page, or the reader kept scrolling): keep going.
        if (!failed && $('timeline').scrollTop < 300) requestAnimationFrame(() => loadOlder());
        if (!failed) fillViewport();
      }
    }
  }

  /**
   * Loads the next newer page of a window into older history, as the reader scrolls down.
   * After a failure it waits (Retry-After, or a backoff) before asking again, whatever the
   * reader does meanwhile; a reconnect asks at once.
   */
  async function loadNewer() {
    const cur = state.current;
    if (!cur || !cur.loaded || cur.loadingNewer || !cur.newerCursor || Date.now() < cur.newer.retryAt) return;
    cur.loadingNewer = true;
    const epoch = cur.epoch;
    let failed = false;
    setNewerStatus();
    try {
      const page = await api('GET', `/chats/${cur.id}/messages?limit=${PAGE_SIZE}&direction=newer&cursor=${encode(cur.newerCursor)}`);
      if (state.current !== cur || cur.epoch !== epoch) return;
      cur.newer.failures = 0;
      for (const message of page.messages) addMessage(cur, message);
      cur.newerCursor = page.nextCursor;
      if (!cur.newerCursor) reachNewest(cur);
      // The page goes below what the reader is looking at, which stays put: the window's
      // foot was not the newest message, so the view does not stick to the new foot.
      renderTimeline({ anchored: true });
      loadReactionDetails(cur, page.messages);
    } catch (error) {
      failed = true;
      if (state.current !== cur || cur.epoch !== epoch) return;
      retryPageLater(cur, cur.newer, error, () => { if (isNearBottom()) loadNewer(); });
    } finally {
      cur.loadingNewer = false;
      if (state.current === cur) {
        setNewerStatus();
        if (!cur.newerCursor && isNearBottom()) $('new-messages').hidden = true;
        else if (!failed && cur.newerCursor && isNearBottom()) requestAnimationFrame(() => loadNewer());
        if (!failed) fillViewport();
        markReadSoon();
      }
    }
  }

  /** The window has reached the newest message: what came live meanwhile follows on. */
  function reachNewest(cur) {
    cur.newerCursor = null;
    for (const message of cur.pendingLive.values()) if (!cur.messages.has(message.id)) cur.messages.set(message.id, message);
    cur.pendingLive.clear();
    setNewerStatus();
  }

  /**
   * Replaces what the view shows with two pages that meet: `older` (newest first) ending just
   * before where `newer` (oldest first) starts. A `newer` page without a cursor reaches the
   * newest message, and what came live after it was read is kept.
   */
  function showWindow(cur, older, newer) {
    const pages = [...older.messages, ...newer.messages];
    let newest = null;
    for (const message of pages) if (!newest || message.id > newest) newest = message.id;
    const later = newer.nextCursor ? []
      : [...cur.messages.values(), ...cur.pendingLive.values()].filter((m) => !newest || m.id > newest);
    if (cur.editing) cancelEdit(cur);
    closePicker();
    cur.epoch += 1;
    cur.messages.clear();
    cur.nodes.clear();
    cur.days.clear();
    $('message-list').replaceChildren();
    for (const message of pages) addMessage(cur, message);
    for (const message of later) cur.messages.set(message.id, message);
    cur.olderCursor = older.nextCursor;
    cur.reachedStart = !older.nextCursor;
    cur.newerCursor = newer.nextCursor;
    if (!cur.newerCursor) reachNewest(cur);
    setHistoryStatus();
    setNewerStatus();
    renderTimeline({ toBottom: !cur.newerCursor });
    showNewMessagesButton(cur.newerCursor ? 'Back to the newest ↓' : null);
    loadReactionDetails(cur, pages);
  }

  /** From a window into older history back to the newest messages. */
  async function showNewest(cur) {
    try {
      const page = await api('GET', `/chats/${cur.id}/messages?limit=${PAGE_SIZE}`);
      if (state.current !== cur) return;
      showWindow(cur, page, { messages: [], nextCursor: null });
      cur.skippedUnread = true;
      markReadSoon();
    } catch (error) {
      showError(error);
    }
  }

  // MARK: - Reactions

  /**
   * Messages carry reaction counts only; which of them are the reader's comes from each
   * message's reaction summary, fetched for messages that have any reactions.
   */
  function loadReactionDetails(cur, messages) {
    for (const message of messages) {
      if (!message.deleted && Object.keys(message.reactions || {}).length) refreshReactions(cur, message.id);
    }
  }

  const reactionQueue = [];
  let reactionInFlight = 0;

  function refreshReactions(cur, id) {
    if (reactionQueue.some((item) => item.cur === cur && item.id === id)) return;
    reactionQueue.push({ cur, id });
    pumpReactions();
  }

  function pumpReactions() {
    while (reactionInFlight < 4 && reactionQueue.length) {
      const { cur, id } = reactionQueue.shift();
      if (state.current !== cur) continue;
      reactionInFlight += 1;
      api('GET', `/messages/${id}/reactions`)
        .then((summaries) => {
          // Held back for the window to reach (pendingLive), it is updated there.
          const message = cur.messages.get(id) || cur.pendingLive.get(id);
          if (!message) return;
          message.reactions = Object.fromEntries(summaries.map((s) => [s.emoji, s.count]));
          message.mine = new Set(summaries.filter((s) => s.reactedByMe).map((s) => s.emoji));
          touch(cur, message);
        })
        .catch((error) => { if (error.status !== 404) showError(error); })
        .finally(() => { reactionInFlight -= 1; pumpReactions(); });
    }
  }

  async function toggleReaction(cur, message, emoji) {
    const mine = message.mine.has(emoji);
    const before = { reactions: message.reactions, mine: new Set(message.mine) };
    // Show it at once; the summary fetched afterwards is the truth.
    message.reactions = { ...message.reactions, [emoji]: Math.max(0, (message.reactions[emoji] || 0) + (mine ? -1 : 1)) };
    if (mine) message.mine.delete(emoji); else message.mine.add(emoji);
    touch(cur, message);
    try {
      if (mine) await api('DELETE', `/messages/${message.id}/reactions/${encode(emoji)}`);
      else await api('POST', `/messages/${message.id}/reactions`, { emoji });
    } catch (error) {
      showError(error);
      // Refused, or not heard: shown as it was. The summary asked for below may fail too
      // (the server down), so one not heard is asked for again once the connection is back:
      // the request may have reached the server with only its answer lost.
      if (message.deleted) return;
      message.reactions = before.reactions;
      message.mine = before.mine;
      touch(cur, message);
      if (error.status === 0) cur.unsureReactions.add(message.id);
    }
    refreshReactions(cur, message.id);
  }

  let picker = null;
  /** The button that opened the picker, which the focus goes back to when it closes. */
  let pickerAnchor = null;

  function openPicker(cur, message, anchor) {
    closePicker();
    pickerAnchor = anchor;
    // The message keeps its actions shown while the focus is in the picker, so that the
    // focus can come back to the button that opened it.
    anchor.closest('.message')?.classList.add('picking');
    picker = el('div', {
      class: 'picker', role: 'menu', 'data-testid': 'emoji-picker', 'aria-label': 'Pick a reaction', onkeydown: onPickerKey,
      // Tabbed (or clicked) out of, it closes: a menu left open would float over the page.
      onfocusout: (event) => {
        if (picker && event.currentTarget === picker && !picker.contains(event.relatedTarget)) closePicker();
      },
    },
      REACTION_CHOICES.map((emoji) => el('button', {
        type: 'button', role: 'menuitem', class: 'picker-choice', 'data-testid': 'emoji-choice', 'data-emoji': emoji,
        'aria-label': `React with ${emoji}`, text: emoji,
        onclick: () => {
          closePicker({ refocus: true });
          if (!message.mine.has(emoji)) toggleReaction(cur, message, emoji);
        },
      })));
    document.body.appendChild(picker);
    placePicker();
    // Closed at once when its message is out of view (opened from the keyboard, scrolled off).
    if (picker) picker.querySelector('button').focus();
  }

  /**
   * Puts the picker by the button that opened it, and keeps it there as the timeline
   * scrolls: once that message is out of view, the picker closes rather than float over
   * others while it still reacts to the one gone.
   */
  function placePicker() {
    if (!picker) return;
    const rect = pickerAnchor.getBoundingClientRect();
    const box = $('timeline').getBoundingClientRect();
    if (!pickerAnchor.isConnected || rect.bottom <= box.top || rect.top >= box.bottom) {
      closePicker({ refocus: picker.contains(document.activeElement) });
      return;
    }
    const width = picker.offsetWidth;
    const left = Math.max(8, Math.min(window.innerWidth - width - 8, rect.right - width));
    const top = rect.top - picker.offsetHeight - 6 > 8 ? rect.top - picker.offsetHeight - 6 : rect.bottom + 6;
    picker.style.left = `${left}px`;
    picker.style.top = `${top}px`;
  }

  function closePicker({ refocus = false } = {}) {
    // Let go of it first: removed with the focus in it, it loses the focus (see openPicker).
    const closing = picker;
    picker = null;
    if (closing) closing.remove();
    // Focused first, while still shown: then its message's focus keeps the actions shown.
    if (refocus && pickerAnchor && pickerAnchor.isConnected) pickerAnchor.focus({ preventScroll: true });
    if (pickerAnchor) pickerAnchor.closest('.message')?.classList.remove('picking');
    pickerAnchor = null;
  }

  /** Left and Right (and Home and End) move between the picker's choices, as in a menu. */
  function onPickerKey(event) {
    const choices = Array.from(picker ? picker.querySelectorAll('.picker-choice') : []);
    const at = choices.indexOf(document.activeElement);
    if (at < 0) return;
    const next = { ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1, Home: 0, End: choices.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    choices[(next + choices.length) % choices.length].focus();
  }

  // MARK: - Keyboard

  /**
   * In the timeline, Up and Down move the focus from message to message (from the timeline
   * itself, to the newest message in view), showing each one's actions for Tab to reach;
   * Escape goes back to the timeline.
   */
  function onTimelineKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    const onMessage = target.classList && target.classList.contains('message');
    // From a message or its actions (not from editing it, where Escape cancels the edit).
    if (event.key === 'Escape' && target.closest && target.closest('.message') && !target.closest('.editing') && !picker) {
      event.preventDefault();
      $('timeline').focus();
      return;
    }
    if (target !== $('timeline') && !onMessage) return;
    if (event.key !== 'ArrowUp' && event.key !== 'ArrowDown') return;
    const nodes = Array.from($('message-list').querySelectorAll('.message'));
    if (!nodes.length) return;
    let next;
    if (onMessage) {
      const at = nodes.indexOf(target);
      next = nodes[at + (event.key === 'ArrowUp' ? -1 : 1)];
      if (!next) return;
    } else {
      const box = $('timeline').getBoundingClientRect();
      next = nodes.filter((node) => {
        const rect = node.getBoundingClientRect();
        return rect.bottom > box.top && rect.top < box.bottom;
      }).pop() || nodes[nodes.length - 1];
    }
    event.preventDefault();
    next.focus();
    next.scrollIntoView({ block: 'nearest' });
  }

  // MARK: - Editing and deleting

  function startEdit(cur, message) {
    if (message.deleted || message.userId !== state.me) return;
    if (cur.editing) cancelEdit(cur);
    cur.editing = message.id;
    const node = cur.nodes.get(message.id);
    node.classList.add('editing');
    const input = el('textarea', { class: 'edit-input', 'data-testid': 'edit-input', rows: 2, 'aria-label': 'Edit message' });
    input.value = message.content;
    const form = el('form', { class: 'edit-form' }, input,
      el('div', { class: 'form-row' },
        el('button', { type: 'submit', class: 'button primary small', 'data-testid': 'edit-save', text: 'Save' }),
        el('button', { type: 'button', class: 'button ghost small', 'data-testid': 'edit-cancel', text: 'Cancel', onclick: () => cancelEdit(cur) }),
        el('span', { class: 'muted small edit-hint', text: 'Enter to save · Esc to cancel' })));
    form.addEventListener('submit', (event) => { event.preventDefault(); saveEdit(cur, message, input.value); });
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) { event.preventDefault(); saveEdit(cur, message, input.value); }
      if (event.key === 'Escape') { event.preventDefault(); cancelEdit(cur); }
    });
    node.querySelector('.content').replaceChildren(form);
    input.focus({ preventScroll: true });
    input.setSelectionRange(input.value.length, input.value.length);
    // The whole editor, Save and Cancel too, not only the text box (a message at the foot
    // of the timeline grows below what is in view).
    form.scrollIntoView({ block: 'nearest' });
  }

  function cancelEdit(cur) {
    const id = cur.editing;
    if (!id) return;
    cur.editing = null;
    // What was said of the edit (such as empty text refused) goes with it.
    hideError();
    const node = cur.nodes.get(id);
    const message = cur.messages.get(id);
    node.classList.remove('editing');
    node.v = -1; // re-render its content
    messageNode(cur, message);
    $('composer-input').focus();
  }

  async function saveEdit(cur, message, content) {
    if (content === message.content) { cancelEdit(cur); return; }
    const tooLong = overLimit('A message', content, MESSAGE_LIMIT) || overBodyLimit({ content }, content);
    if (tooLong) { showError(tooLong); return; }
    try {
      const updated = await api('PATCH', `/messages/${message.id}`, { content });
      message.content = updated.content;
      message.editedAt = updated.editedAt;
      cancelEdit(cur);
      touch(cur, message);
      noteChangedMessage(cur.id, message);
    } catch (error) {
      showError(error);
    }
  }

  function confirmDelete(cur, message) {
    const node = cur.nodes.get(message.id);
    if (node.querySelector('.confirm')) return;
    // The bar goes away with the focus in it: the focus goes back to the Delete button that
    // opened it, or, once that is hidden (the message deleted), to the message itself.
    // Focused first, while the bar holds the focus in the message: its actions are shown
    // only while something in it has the focus.
    const dismiss = () => {
      if (bar.contains(document.activeElement) && node.isConnected) {
        const button = node.querySelector('[data-action=delete]');
        if (button && !button.hidden) button.focus(); else node.focus();
      }
      bar.remove();
    };
    const bar = el('div', {
      class: 'confirm', role: 'alertdialog', 'aria-label': 'Delete message',
      // Escape is Cancel, as in any dialog (not the timeline's "back to the timeline", which
      // would leave the armed bar behind).
      onkeydown: (event) => {
        if (event.key !== 'Escape') return;
        event.preventDefault();
        event.stopPropagation();
        dismiss();
      },
    },
      el('span', { text: 'Delete this message?' }),
      el('button', {
        type: 'button', class: 'button danger small', 'data-testid': 'confirm-delete', text: 'Delete',
        onclick: async () => {
          dismiss();
          try {
            await api('DELETE', `/messages/${message.id}`);
            markDeleted(cur, message);
          } catch (error) {
            showError(error);
          }
        },
      }),
      el('button', { type: 'button', class: 'button ghost small', 'data-testid': 'cancel-delete', text: 'Cancel', onclick: dismiss }));
    node.querySelector('.bubble').appendChild(bar);
    bar.querySelector('[data-testid=confirm-delete]').focus();
  }

  function markDeleted(cur, message) {
    if (message.deleted) return;
    if (cur.editing === message.id) cancelEdit(cur);
    // Its actions are hidden once it is deleted (here, or live before the answer to this
    // page's own delete): the focus on them goes to the message rather than to the page.
    const node = cur.nodes.get(message.id);
    if (node && node.isConnected && node !== document.activeElement && node.contains(document.activeElement)) node.focus();
    message.deleted = true;
    message.content = '';
    message.reactions = {};
    message.mine = new Set();
    touch(cur, message);
    noteChangedMessage(cur.id, message);
  }

  function onMessageListClick(event) {
    const cur = state.current;
    const target = event.target.closest('[data-action]');
    const node = event.target.closest('.message');
    if (!cur || !node) return;
    const message = cur.messages.get(node.dataset.messageId);
    if (!message) return;
    if (!target) {
      // A tap shows the message's actions where there is no hover (touch screens).
      if (!matchMedia('(hover: none)').matches) return;
      for (const other of document.querySelectorAll('.message.show-actions')) if (other !== node) other.classList.remove('show-actions');
      node.classList.toggle('show-actions');
      return;
    }
    switch (target.dataset.action) {
      case 'react': openPicker(cur, message, target); break;
      case 'edit': startEdit(cur, message); break;
      case 'delete': confirmDelete(cur, message); break;
      case 'toggle-reaction': toggleReaction(cur, message, target.dataset.emoji); break;
    }
  }

  // MARK: - Composer

  function autosize() {
    const input = $('composer-input');
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight + 2, 160)}px`;
    input.style.overflowY = input.scrollHeight + 2 > 160 ? 'auto' : 'hidden';
  }

  async function sendMessage(event) {
    if (event) event.preventDefault();
    const cur = state.current;
    const input = $('composer-input');
    const content = input.value;
    if (!cur || !cur.loaded || !content.trim()) return;
    // Kept in the composer, to be shortened.
    const tooLong = overLimit('A message', content, MESSAGE_LIMIT);
    if (tooLong) { showError(tooLong); return; }
    // Sending the same text again after a failure reuses its id, so that if the first try
    // did reach the server (an answer lost on the way back) the message is not posted twice.
    // Kept per user and chat: sending elsewhere meanwhile does not lose it.
    const me = state.me;
    const unsent = loadUnsent(me, cur.id);
    const retry = Boolean(unsent && unsent.content === content);
    const clientMessageId = retry ? unsent.clientMessageId : uid();
    const body = { content, messageType: 'text', clientMessageId };
    const tooLarge = overBodyLimit(body, content);
    if (tooLarge) { showError(tooLarge); return; }
    saveUnsent(me, cur.id, null);
    input.value = '';
    saveDraft(cur.id, '');
    autosize();
    // Sent one after another: requests sent together may overtake one another on the way,
    // and the server posts them in the order they arrive. The composer is free meanwhile.
    // The writer's own queue: another user signed in here meanwhile has a queue of theirs.
    const key = `${me}\n${cur.id}`;
    let queue = sendQueues.get(key);
    if (!queue) sendQueues.set(key, queue = []);
    queue.push({ cur, me, content, clientMessageId, body });
    if (queue.length === 1) sendQueued(key, queue);
  }

  // `${user}\n${chat id}` → the messages waiting to be posted, the first on its way
  const sendQueues = new Map();

  async function sendQueued(key, queue) {
    while (queue.length) {
      const { cur, body } = queue[0];
      let message;
      try {
        message = await api('POST', `/chats/${cur.id}/messages`, body);
      } catch (error) {
        // What waited behind it is not sent either, which would put it before this one: all
        // of it goes back, in order.
        const unsent = queue.splice(0);
        sendQueues.delete(key);
        keepUnsent(cur, unsent[0].me, unsent.map((item) => item.content).join('\n'),
          unsent.length === 1 ? unsent[0].clientMessageId : null, error);
        return;
      }
      await posted(cur, message);
      queue.shift();
    }
    sendQueues.delete(key);
  }

  async function posted(cur, message) {
    hideError();
    if (state.current !== cur) return;
    // Posted from back in the history: it shows among the newest, so go there.
    if (cur.newerCursor) await showNewest(cur);
    if (state.current !== cur) return;
    addMessage(cur, message);
    noteLastMessage(cur.id, message);
    // Posting moved the server's read marker to this message: a marker for an older one,
    // still to be sent or sent again, would move it back.
    const summary = state.chats.get(cur.id);
    if (summary && !(summary.lastReadMessageId && summary.lastReadMessageId >= message.id)) {
      summary.lastReadMessageId = message.id;
      summary.unreadCount = 0;
    }
    renderTimeline({ toBottom: true });
    markReadSoon();
  }

  /**
   * A message that was not sent goes back where its writer finds it: the chat's composer, or
   * its saved draft when they went to another chat meanwhile, ahead of anything typed there
   * since. Sent again as it is, it keeps its clientMessageId (see sendMessage); several that
   * failed together, put back as one text, are a new message. It is the writer's (`me`)
   * whoever is signed in now: signed out meanwhile (a refused token signs out before the
   * failure comes here), it waits in their draft for them to sign in again, and another user
   * signed in since is shown none of it.
   */
  function keepUnsent(cur, me, content, clientMessageId, error) {
    const input = $('composer-input');
    const theirs = state.me === me;
    const here = Boolean(theirs && state.current && state.current.id === cur.id);
    const typed = here ? input.value : loadDraft(cur.id, me);
    const text = typed.trim() ? `${content}\n${typed}` : content;
    if (here) {
      const { selectionStart, selectionEnd } = input;
      input.value = text;
      // Whoever goes on typing does so where they were.
      if (text !== content) input.setSelectionRange(selectionStart + text.length - typed.length, selectionEnd + text.length - typed.length);
      autosize();
    }
    saveDraft(cur.id, text, me);
    saveUnsent(me, cur.id, text === content && clientMessageId ? { content, clientMessageId } : null);
    if (!theirs) return;
    if (here) { showError(error); return; }
    const name = state.chats.get(cur.id)?.name || (cur.chat && cur.chat.name) || 'that chat';
    const reason = error instanceof ApiError ? error.detail : (error && error.message) || String(error);
    showError(new Error(`Not sent, and back in the composer of “${name}”: ${reason}`));
  }

  function onComposerKey(event) {
    const input = $('composer-input');
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendMessage();
    } else if (event.key === 'ArrowUp' && !input.value && state.current) {
      const cur = state.current;
      const ids = Array.from(cur.messages.keys()).sort().reverse();
      const last = ids.map((id) => cur.messages.get(id)).find((m) => m.userId === state.me && !m.deleted);
      if (last) { event.preventDefault(); startEdit(cur, last); }
    }
  }

  function onComposerInput() {
    autosize();
    const cur = state.current;
    if (cur) saveDraft(cur.id, $('composer-input').value);
    // Changed (or cleared) from the text that failed, it is a new message, not a retry:
    // the same text typed again later must not be taken for the first (see sendMessage).
    const unsent = cur && loadUnsent(state.me, cur.id);
    if (unsent && unsent.content !== $('composer-input').value) saveUnsent(state.me, cur.id, null);
    if (!cur || !$('composer-input').value.trim()) return;
    const now = Date.now();
    if (now - cur.lastTypingSent > TYPING_SEND_EVERY_MS && sendFrame({ op: 'typing', chatId: cur.id })) {
      cur.lastTypingSent = now;
    }
  }

  /**
   * What this user typed in a chat's composer and did not send, kept per user and chat: it
   * is there again on coming back to the chat, after signing out (an expired token) and in
   * again as the same user, or after a reload; another user signing in here never sees it.
   * In sessionStorage, so that it goes with the tab rather than staying in the browser.
   */
  function draftKey(chatId, user) {
    return `${DRAFT_KEY}.${user}.${chatId}`;
  }

  /** `user`: whose draft, the signed-in user's unless said (see keepUnsent). */
  function loadDraft(chatId, user = state.me) {
    try {
      return (user && sessionStorage.getItem(draftKey(chatId, user))) || '';
    } catch {
      return ''; // storage disabled: drafts last as long as the chat stays open
    }
  }

  function saveDraft(chatId, content, user = state.me) {
    if (!user) return;
    try {
      if (content.trim()) sessionStorage.setItem(draftKey(chatId, user), content);
      else sessionStorage.removeItem(draftKey(chatId, user));
    } catch {
      // Full or disabled: the draft is not kept past this chat's view.
    }
  }

  // A failed send's {content, clientMessageId} per user and chat (UNSENT_KEY), here and, to
  // outlast a reload as its draft does, in sessionStorage.
  const unsentSends = new Map();

  function loadUnsent(user, chatId) {
    if (!user) return null;
    const key = `${UNSENT_KEY}.${user}.${chatId}`;
    if (unsentSends.has(key)) return unsentSends.get(key);
    try {
      const stored = JSON.parse(sessionStorage.getItem(key) || 'null');
      return stored && typeof stored.content === 'string' && typeof stored.clientMessageId === 'string' ? stored : null;
    } catch {
      return null;
    }
  }

  function saveUnsent(user, chatId, unsent) {
    if (!user) return;
    const key = `${UNSENT_KEY}.${user}.${chatId}`;
    unsentSends.set(key, unsent);
    try {
      if (unsent) sessionStorage.setItem(key, JSON.stringify(unsent));
      else sessionStorage.removeItem(key);
    } catch {
      // Full or disabled: kept for as long as the page is open.
    }
  }

  // MARK: - Read marker

  function viewing(cur) {
    return cur && cur.loaded && state.current === cur && document.visibilityState === 'visible' &&
      ($('app').dataset.screen === 'chat' || !matchMedia(PHONE_MEDIA).matches);
  }

  function markReadSoon() {
    const cur = state.current;
    if (!cur || cur.readPending) return;
    cur.readPending = setTimeout(() => { cur.readPending = null; markRead(cur); }, 400);
  }

  /**
   * The newest message the reader has seen: the last one whose top has come into the
   * timeline's box. Scrolled up in the history, that is not the newest one loaded.
   */
  function newestSeenId(cur) {
    if (state.current !== cur) return null;
    const bottom = $('timeline').getBoundingClientRect().bottom;
    const nodes = $('message-list').children;
    for (let i = nodes.length - 1; i >= 0; i--) {
      const id = nodes[i].dataset.messageId;
      if (id && nodes[i].getBoundingClientRect().top < bottom) return id;
    }
    return null;
  }

  /** The newest read marker known for a chat: the list's, or one sent since. */
  function readMarker(chatId) {
    const known = state.chats.get(chatId)?.lastReadMessageId || null;
    const sent = state.readUpTo.get(chatId) || null;
    return !known || (sent && sent > known) ? sent : known;
  }

  function oldestId(cur) {
    let oldest = null;
    for (const id of cur.messages.keys()) if (!oldest || id < oldest) oldest = id;
    return oldest;
  }

  async function markRead(cur) {
    if (!viewing(cur)) return;
    const seen = newestSeenId(cur);
    // For the tests: the messages this check has looked at, up to the newest one loaded.
    $('chat-pane').dataset.readChecked = newestId(cur) || '';
    const summary = state.chats.get(cur.id);
    if (!seen || !summary) return;
    // The server moves the marker wherever it is told, so only ever move it forward.
    const marker = readMarker(cur.id);
    if (marker && marker >= seen) return;
    // Only what follows on from what was read counts: a window that starts after the marker
    // (a search result further on, or the newest page when the marker's could not be read)
    // has unread messages above it that were never shown.
    if (marker && !cur.reachedStart && !cur.skippedUnread && !(oldestId(cur) <= marker)) return;
    const previous = summary.lastReadMessageId;
    summary.lastReadMessageId = seen;
    state.readUpTo.set(cur.id, seen);
    if (!summary.lastMessage || summary.lastMessage.id <= seen) summary.unreadCount = 0;
    renderChats();
    saveReadMarker(cur.id, seen, previous);
  }

  /**
   * Tells the server what was read. Not heard (offline, the server restarting), it is sent
   * again, with backoff, until it is or a later marker replaces it: otherwise the server's
   * unread count would stay behind what this page shows, and a reload would bring it back.
   */
  async function saveReadMarker(chatId, messageId, previous, attempt = 0) {
    try {
      await api('POST', `/chats/${chatId}/read`, { messageId });
      if (state.current && state.current.id === chatId) $('chat-pane').dataset.readUpTo = messageId;
      // Read only part of the way: what is left unread is counted by the server.
      const summary = state.chats.get(chatId);
      if (summary && summary.lastMessage && summary.lastMessage.id > messageId) refreshChatsSoon();
    } catch (error) {
      const summary = state.chats.get(chatId);
      const current = () => summary && summary.lastReadMessageId === messageId;
      if ((!error.status || error.status >= 500 || error.status === 429) && attempt < 12) {
        setTimeout(() => { if (current()) saveReadMarker(chatId, messageId, previous, attempt + 1); }, Math.min(30000, 1000 * 2 ** attempt));
        return;
      }
      if (current()) summary.lastReadMessageId = previous;
      // Not saved: the marker the server keeps is the one before it.
      if (state.readUpTo.get(chatId) === messageId) {
        if (previous) state.readUpTo.set(chatId, previous);
        else state.readUpTo.delete(chatId);
      }
      if (error.status !== 404) showError(error);
    }
  }

  /** An edit or delete of the chat's last message shows in the chat list too. */
  function noteChangedMessage(chatId, message) {
    const summary = state.chats.get(chatId);
    if (!summary || !summary.lastMessage || summary.lastMessage.id !== message.id) return;
    summary.lastMessage = { ...summary.lastMessage, content: message.content, editedAt: message.editedAt, deleted: message.deleted };
    renderChats();
  }

  function noteLastMessage(chatId, message) {
    const summary = state.chats.get(chatId);
    if (!summary) return false;
    if (!summary.lastMessage || summary.lastMessage.id <= message.id) summary.lastMessage = message;
    renderChats();
    return true;
  }

  /** A panel closing with the focus in it gives it back to its toggle, as the picker does. */
  function returnFocus(panel, toggle) {
    if ($(panel).contains(document.activeElement) && !$(toggle).hidden) $(toggle).focus();
  }

  /** Shows or hides a panel of the chat header's, with its toggle button saying which. */
  function setPanel(panel, toggle, open) {
    $(panel).hidden = !open;
    $(toggle).setAttribute('aria-expanded', String(open));
  }

  // MARK: - Adding members

  // Any member may add someone; it is the only way into a private chat.
  function toggleAddMember() {
    if ($('add-member-panel').hidden) openAddMember(); else closeAddMember();
  }

  function openAddMember() {
    setPanel('add-member-panel', 'add-member-toggle', true);
    $('add-member-id').focus();
  }

  function closeAddMember() {
    returnFocus('add-member-panel', 'add-member-toggle');
    setPanel('add-member-panel', 'add-member-toggle', false);
    $('add-member-form').reset();
    $('add-member-status').textContent = '';
  }

  async function addMember(event) {
    event.preventDefault();
    const cur = state.current;
    const user = $('add-member-id').value.trim();
    if (!cur || !user) return;
    const submit = $('add-member-submit');
    submit.disabled = true;
    try {
      // Adding a member twice answers as the first time did: the member count, read before
      // and after, tells a new member from one already there.
      const before = await api('GET', `/chats/${cur.id}`);
      const member = await api('POST', `/chats/${cur.id}/members`, { userId: user });
      const after = await api('GET', `/chats/${cur.id}`);
      if (state.current !== cur) return;
      hideError();
      $('add-member-form').reset();
      $('add-member-status').textContent = after.memberCount > before.memberCount
        ? `${member.userId} is a member now.` : `${member.userId} was already a member.`;
      cur.chat = after;
      renderChatHeader(after);
      refreshChatHeader(cur);
      $('add-member-id').focus();
    } catch (error) {
      showError(error);
    } finally {
      submit.disabled = false;
    }
  }

  // MARK: - Search

  function toggleSearch() {
    if ($('search-panel').hidden) openSearch(); else closeSearch();
  }

  function openSearch() {
    setPanel('search-panel', 'search-toggle', true);
    $('search-input').focus();
  }

  function closeSearch() {
    returnFocus('search-panel', 'search-toggle');
    setPanel('search-panel', 'search-toggle', false);
    $('search-results').replaceChildren();
    $('search-status').textContent = '';
    $('search-more').hidden = true;
    $('search-input').value = '';
  }

  async function runSearch(event, more = false) {
    if (event) event.preventDefault();
    const cur = state.current;
    if (!cur) return;
    const query = more ? cur.search.query : $('search-input').value.trim();
    if (!query) {
      // An empty search puts away what the last one showed, its error too.
      cur.search = { query: '', cursor: null };
      $('search-results').replaceChildren();
      $('search-status').textContent = '';
      $('search-more').hidden = true;
      $('search-panel').dataset.state = 'idle';
      hideError();
      return;
    }
    if (!more) {
      cur.search = { query, cursor: null };
      $('search-results').replaceChildren();
    }
    $('search-status').textContent = 'Searching…';
    $('search-panel').dataset.state = 'searching';
    try {
      // The server bounds the work of one search request: when the words rarely meet, a
      // page may come back short with a cursor. Ask again (a few times) to fill it.
      let cursor = more ? cur.search.cursor : null;
      let added = 0;
      for (let round = 0; round < 8; round++) {
        let url = `/chats/${cur.id}/search?query=${encode(query)}&limit=${SEARCH_PAGE_SIZE - added}`;
        if (cursor) url += `&cursor=${encode(cursor)}`;
        const page = await api('GET', url);
        if (state.current !== cur || cur.search.query !== query) return;
        // A search that works puts right what a refused one said (such as a missing quote).
        hideError();
        cur.search.cursor = page.nextCursor;
        const results = $('search-results');
        for (const message of page.messages) {
          results.appendChild(el('li', null,
            el('button', {
              type: 'button', class: 'search-result', dataset: { testid: 'search-result', messageId: message.id },
              onclick: () => jumpTo(cur, message.id, message.createdAt),
            },
            el('span', { class: 'search-result-meta' },
              el('strong', { text: message.userId }),
              el('time', { datetime: message.createdAt, text: fullFormat.format(new Date(message.createdAt)) })),
            el('span', { class: 'search-result-text', 'data-testid': 'search-result-text' },
              window.ChatFlowHighlight.fragment(message.content, query)))));
        }
        added += page.messages.length;
        cursor = page.nextCursor;
        if (added >= SEARCH_PAGE_SIZE || !cursor) break;
      }
      const results = $('search-results');
      const count = results.children.length;
      $('search-status').textContent = count === 0
        ? (cursor ? `No messages match “${query}” in the newest messages; look further with More results.` : `No messages match “${query}”.`)
        : `${count}${cursor ? '+' : ''} ${count === 1 ? 'message matches' : 'messages match'} “${query}”.`;
      $('search-more').hidden = !cursor;
      $('search-panel').dataset.state = 'done';
    } catch (error) {
      $('search-status').textContent = error.detail || error.message;
      $('search-panel').dataset.state = 'error';
      showError(error);
    }
  }

  /**
   * Scrolls to a message. One that is not loaded is read from the server at its time (a time
   * `cursor`: `newer` starts at that millisecond, `older` ends just before it), in place of
   * what the view shows, so a jump however far back costs two requests and the reader pages
   * on from there, up or down.
   */
  async function jumpTo(cur, id, createdAt) {
    if (!cur.messages.has(id)) {
      let older, newer;
      try {
        [older, newer] = await pagesAt(cur, createdAt);
      } catch (error) {
        if (state.current === cur) showError(error);
        return;
      }
      if (state.current !== cur) return;
      const found = newer.messages.find((message) => message.id === id);
      if (!found || found.deleted) {
        showError(new Error('That message is no longer in the chat.'));
        return;
      }
      if (!cur.messages.has(id)) {
        showWindow(cur, older, newer);
        cur.skippedUnread = false;
      }
    }
    const node = cur.nodes.get(id);
    if (!node || state.current !== cur) {
      showError(new Error('That message is no longer in the chat.'));
      return;
    }
    if (matchMedia(PHONE_MEDIA).matches) closeSearch();
    node.scrollIntoView({ block: 'center' });
    node.classList.remove('flash');
    void node.offsetWidth;
    node.classList.add('flash');
  }

  /** The page that ends just before a time (newest first) and the one that starts at it. */
  function pagesAt(cur, createdAt) {
    const at = encode(createdAt);
    return Promise.all([
      api('GET', `/chats/${cur.id}/messages?limit=${PAGE_SIZE}&direction=older&cursor=${at}`),
      api('GET', `/chats/${cur.id}/messages?limit=${PAGE_SIZE}&direction=newer&cursor=${at}`),
    ]);
  }

  // MARK: - Typing indicators

  function noteTyping(cur, user) {
    if (user === state.me) return;
    cur.typing.set(user, Date.now() + TYPING_SHOW_MS);
    renderTyping(cur);
    if (!cur.typingTimer) cur.typingTimer = setInterval(() => renderTyping(cur), 500);
  }

  function renderTyping(cur) {
    const now = Date.now();
    for (const [user, until] of cur.typing) if (until <= now) cur.typing.delete(user);
    if (!cur.typing.size) { clearInterval(cur.typingTimer); cur.typingTimer = null; }
    if (state.current !== cur) return;
    const users = Array.from(cur.typing.keys()).sort();
    let text = '';
    if (users.length === 1) text = `${users[0]} is typing…`;
    else if (users.length === 2) text = `${users[0]} and ${users[1]} are typing…`;
    else if (users.length > 2) text = `${users.length} people are typing…`;
    const indicator = $('typing-indicator');
    if (indicator.textContent !== text) indicator.textContent = text;
    indicator.dataset.users = users.join(',');
  }

  // MARK: - WebSocket

  function socketURL() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    return `${scheme}://${location.host}/ws?access_token=${encode(state.token)}`;
  }

  function socketOpen() {
    return state.ws && state.ws.readyState === WebSocket.OPEN;
  }

  function sendFrame(frame) {
    if (!socketOpen()) return false;
    state.ws.send(JSON.stringify(frame));
    return true;
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = null;
    if (!state.token || state.ws) return;
    if (state.offline) { socketGone(null, 0); return; }
    setStatus('connecting');
    const ws = new WebSocket(socketURL());
    state.ws = ws;
    let openedAt = 0;
    let heard = false;
    ws.onopen = () => {
      if (state.ws !== ws) return;
      openedAt = Date.now();
      ws.lastFrameAt = openedAt;
      // "Cannot reach the server" is no longer so, and would stand beside "Live".
      if (state.errorUnheard) hideError();
      setStatus('open');
      state.awaiting = [];
      sendControl({ op: 'subscribe', channel: NOTIFICATIONS });
      // A chat opened while the server could not be reached loads now, and subscribes then.
      if (state.current && !state.current.loaded) loadChat(state.current);
      else if (state.current) subscribe(state.current);
      // Reactions whose request went unanswered: whether the server took them, it says now.
      if (state.current && state.current.loaded) {
        for (const id of state.current.unsureReactions) refreshReactions(state.current, id);
        state.current.unsureReactions.clear();
      }
      if (state.current && state.current.newer.retryAt) {
        state.current.newer.retryAt = 0;
        if (isNearBottom()) loadNewer();
      }
      // Anything that happened while we were away: unread counts, new chats.
      if (state.connectedBefore) refreshChatsSoon();
      // The directory that could not be loaded loads now, as a chat does.
      if (state.directory && state.directory.failed) loadDirectory();
      state.connectedBefore = true;
      startPings(ws);
    };
    ws.onmessage = (event) => {
      if (state.ws !== ws) return;
      ws.lastFrameAt = Date.now();
      heard = true;
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      handleFrame(frame);
    };
    ws.onclose = (event) => {
      if (state.ws !== ws) return;
      state.ws = null;
      socketGone(event, openedAt, heard);
    };
  }

  function closeSocket() {
    clearTimeout(state.reconnectTimer);
    clearInterval(state.pingTimer);
    state.reconnectTimer = null;
    const ws = state.ws;
    state.ws = null;
    if (ws) ws.close(1000, 'signed out');
    setStatus('closed');
  }

  /**
   * The connection closed or could not open: resume with backoff (0.5 s doubling to 15 s).
   * `heard` says whether the server sent anything on it.
   */
  function socketGone(event, openedAt, heard) {
    clearInterval(state.pingTimer);
    $('app').dataset.notifications = 'false';
    if (state.current) {
      state.current.subscription = 'none';
      $('chat-pane').dataset.subscribed = 'false';
    }
    if (!state.token) return;
    if (event && event.code === 4001) {
      signOut(EXPIRED);
      return;
    }
    // Only a connection that stayed up a while resets the backoff, so a server that keeps
    // accepting and dropping us is not hammered. A server that served us and then said it
    // is going away (1001) is usually restarting, however soon after we came: it is asked
    // again at the first step. (One already stopping closes a new socket with 1001 before
    // it answers anything, and that backs off as any drop does.)
    const stable = openedAt && Date.now() - openedAt > 5000;
    const restarting = event && event.code === 1001 && heard;
    if (stable || restarting) state.attempt = 0;
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** state.attempt) * (0.8 + Math.random() * 0.4);
    state.attempt += 1;
    // Repeated failures to even open may mean the token is no longer accepted: ask over HTTP,
    // whose 401 carries a reason (a refused WebSocket upgrade does not) and signs us out.
    if (!openedAt && state.attempt % 3 === 0 && !state.offline) fetchAllChats().then(setChats).catch(() => {});
    state.reconnectAt = Date.now() + delay;
    state.reconnectTimer = setTimeout(connect, delay);
    setStatus('reconnecting');
  }

  /**
   * The reader would rather not wait for the timer (the status is a button while it runs):
   * one attempt now. The backoff stays where it was, so an attempt that fails waits longer
   * after it, as one the timer made would, and a server that keeps refusing is asked once
   * per click and no more often.
   */
  function reconnectNow() {
    if (!state.token || state.ws || !state.reconnectTimer) return;
    connect();
  }

  function startPings(ws) {
    clearInterval(state.pingTimer);
    state.pingTimer = setInterval(() => {
      if (state.ws !== ws) return;
      // No frame at all (not even the last pong) for too long: the connection is dead.
      if (Date.now() - ws.lastFrameAt > PING_EVERY_MS + PONG_TIMEOUT_MS) { ws.close(4000, 'no pong'); return; }
      sendFrame({ op: 'ping' });
    }, PING_EVERY_MS);
  }

  function setStatus(mode) {
    const status = $('connection-status');
    clearInterval(state.statusTimer);
    const label = {
      open: 'Live',
      connecting: 'Connecting…',
      closed: 'Offline',
    }[mode];
    // Screen readers hear of a change once, from a live region of its own: not at each tick
    // of the countdown, nor at each attempt while the connection stays lost.
    if (mode === 'reconnecting') announce(state.connectedBefore ? 'Connection lost. Reconnecting…' : 'Cannot connect. Trying again…');
    else if (!(mode === 'connecting' && status.dataset.state === 'reconnecting')) announce(label);
    status.dataset.state = mode;
    status.dataset.attempt = String(state.attempt);
    // Waiting for the timer, the status is the button that cuts the wait short; otherwise it
    // is text. Just pressed, it keeps the focus (out of the tab order), so that it is still
    // there to press if the attempt fails too.
    if (mode === 'reconnecting') {
      status.setAttribute('role', 'button');
      status.setAttribute('aria-label', 'Reconnect now');
      status.tabIndex = 0;
    } else {
      status.removeAttribute('role');
      status.removeAttribute('aria-label');
      if (document.activeElement === status) status.tabIndex = -1;
      else status.removeAttribute('tabindex');
    }
    if (label) { status.textContent = label; status.title = ''; return; }
    const tick = () => {
      const seconds = Math.max(0, Math.ceil((state.reconnectAt - Date.now()) / 1000));
      // The short form, which a phone's top bar has room for, at every width; the full one
      // is its tooltip.
      status.title = seconds > 0 ? `Reconnecting in ${seconds} s. Click to reconnect now.` : 'Reconnecting';
      status.textContent = seconds <= 0 ? 'Reconnecting…' : `Retry in ${seconds} s`;
    };
    tick();
    state.statusTimer = setInterval(tick, 1000);
  }

  function announce(text) {
    const region = $('connection-announcement');
    if (region.textContent !== text) region.textContent = text;
  }

  function subscribe(cur) {
    // The server streams a chat to its members only.
    if (!cur.loaded || !cur.member || !socketOpen() || cur.subscription !== 'none') return;
    const frame = { op: 'subscribe', channel: `chats/${cur.id}` };
    if (cur.lastEventId) frame.since = cur.lastEventId;
    sendControl(frame);
    cur.subscription = 'pending';
  }

  function unsubscribe(cur) {
    if (cur.subscription !== 'none') sendControl({ op: 'unsubscribe', channel: `chats/${cur.id}` });
    cur.subscription = 'none';
  }

  /**
   * Sends a subscribe or unsubscribe and remembers it: the server answers each, in order, so
   * a reply can be told apart from an unasked-for `unsubscribed` (we were removed from the
   * chat) and a stale reply from a subscription already given up.
   */
  function sendControl(frame) {
    if (sendFrame(frame)) state.awaiting.push({ op: frame.op, channel: frame.channel });
  }

  function takeReply(op, channel) {
    const index = state.awaiting.findIndex((item) => item.channel === channel);
    if (index < 0 || state.awaiting[index].op !== op) return false;
    state.awaiting.splice(index, 1);
    return true;
  }

  function awaitingReply(channel) {
    return state.awaiting.some((item) => item.channel === channel);
  }

  /**
   * This user is no longer a member of the open chat (removed, or left on another device):
   * the bar in place of the composer says what happened (once: no banner as well), offering
   * Join again only for a public chat.
   */
  function lostMembership(cur) {
    cur.subscription = 'none';
    $('chat-pane').dataset.subscribed = 'false';
    cur.gone = !cur.leftBy ? 'unknown' : cur.leftBy === state.me ? 'left' : 'removed';
    state.chats.delete(cur.id);
    setMembership(cur, false);
    // A public chat still shows its members to anyone; a private one no longer does.
    refreshChatHeader(cur);
    refreshChatsSoon();
  }

  function handleFrame(frame) {
    const cur = state.current;
    const chatChannel = cur ? `chats/${cur.id}` : null;
    switch (frame.type) {
      case 'event':
        if (frame.channel === NOTIFICATIONS) handleNotification(frame.event);
        else if (frame.channel === chatChannel && cur.subscription === 'live') handleChatEvent(cur, frame);
        break;
      case 'subscribed':
        takeReply('subscribe', frame.channel);
        // For the tests: other devices' read markers reach this page from here on.
        if (frame.channel === NOTIFICATIONS) $('app').dataset.notifications = 'live';
        if (frame.channel === chatChannel && cur.subscription === 'pending' && !awaitingReply(chatChannel)) {
          cur.subscription = 'live';
          $('chat-pane').dataset.subscribed = 'true';
          $('chat-pane').dataset.recovered = String(frame.recovered);
          if (cur.resync) {
            cur.resync = false;
            resyncNewest(cur);
          }
        }
        break;
      case 'unsubscribed':
        if (takeReply('unsubscribe', frame.channel)) break;
        // Unasked for: we were removed from the chat.
        if (frame.channel === chatChannel && cur.subscription === 'live') lostMembership(cur);
        break;
      case 'error':
        if ((frame.code === 'too_far_behind' || frame.code === 'unknown_since') && frame.channel === chatChannel) {
          // The server will not replay that far back (a quiet chat on a busy server): go live
          // without `since`, then read the newest page over HTTP, so nothing falls between. Or
          // it no longer has what this client saw (see below). It comes as the answer to the
          // resume (instead of `subscribed`); one for a subscription already given up for a
          // newer request is passed over.
          takeReply('subscribe', frame.channel);
          if (awaitingReply(chatChannel)) break;
          cur.subscription = 'none';
          if (frame.code === 'unknown_since') {
            // What the view showed after that point is gone from the server (restored from an
            // older backup): messages that no longer exist would stay on screen, so the chat
            // is read afresh, and the reader is told why some went.
            showError(new Error(LOST_HISTORY));
            closeChat();
            openChat(cur.id);
            break;
          }
          cur.lastEventId = null;
          cur.resync = true;
          subscribe(cur);
          break;
        }
        if (frame.channel) {
          // The answer to a subscribe that was refused.
          takeReply('subscribe', frame.channel);
          if (frame.channel === NOTIFICATIONS && frame.code === 'rate_limited') {
            const ws = state.ws;
            setTimeout(() => { if (state.ws === ws && socketOpen()) sendControl({ op: 'subscribe', channel: NOTIFICATIONS }); }, 3000);
            break;
          }
          if (frame.channel !== chatChannel || awaitingReply(chatChannel)) break;
          cur.subscription = 'none';
          $('chat-pane').dataset.subscribed = 'false';
          // Refused a chat this page had as one of this user's (going live again after the
          // connection was down): they left it on another device or were removed meanwhile.
          // The server refuses a public chat to one outside it as `forbidden`, and a private
          // one as it does a chat it does not have (`not_found`): which, it does not say, so
          // a private chat is taken as left, as one left in view is (the bar says so).
          const known = cur.chat || state.chats.get(cur.id);
          if (cur.member && known && (frame.code === 'forbidden' || (frame.code === 'not_found' && known.isPrivate))) {
            lostMembership(cur);
            break;
          }
          // A public chat gone from the server (it came back from an older backup, or on
          // other data): said as opening an unknown chat says it, and the view goes with it.
          if (frame.code === 'not_found') {
            noSuchChat(cur);
            break;
          }
          // Over the read limit: try again shortly, resuming where the view is.
          if (frame.code === 'rate_limited') {
            setTimeout(() => { if (state.current === cur) subscribe(cur); }, 3000);
            break;
          }
        }
        showError(new Error(frame.detail || frame.code || 'The live connection reported an error.'));
        break;
      default:
        break; // pong, and anything newer than this client
    }
  }

  /**
   * After going live without `since`: the newest page over HTTP brings the view up to date
   * (new messages, and edits and deletes among the newest). When the page does not reach
   * back to what the view already shows, the history in between is unknown: open afresh.
   */
  async function resyncNewest(cur) {
    const epoch = cur.epoch;
    try {
      const page = await api('GET', `/chats/${cur.id}/messages?limit=${PAGE_SIZE}`);
      if (state.current !== cur || cur.epoch !== epoch) return;
      const knownNewest = newestId(cur);
      const oldest = page.messages[page.messages.length - 1];
      if (knownNewest && oldest && page.nextCursor && oldest.id > knownNewest) {
        // At the first message the reader has not read, which the list may not count yet.
        const summary = state.chats.get(cur.id);
        closeChat();
        openChat(cur.id, { after: (summary && summary.lastReadMessageId) || knownNewest });
        return;
      }
      for (const message of page.messages) {
        const known = cur.messages.get(message.id);
        if (!known) {
          addMessage(cur, message);
        } else if (message.deleted && !known.deleted) {
          markDeleted(cur, known);
        } else if (!message.deleted && !known.deleted && (message.editedAt || '') > (known.editedAt || '')) {
          // Only a later edit: one that came live while the page was on its way is newer.
          known.content = message.content;
          known.editedAt = message.editedAt;
          touch(cur, known);
        }
      }
      if (!cur.lastEventId && page.messages.length) cur.lastEventId = page.messages[0].id;
      // A window into older history now runs on to the newest message, below what the reader
      // is looking at, which stays put.
      const wasWindow = Boolean(cur.newerCursor);
      if (wasWindow) reachNewest(cur);
      renderTimeline({ anchored: wasWindow });
      loadReactionDetails(cur, page.messages);
    } catch (error) {
      showError(error);
    }
  }

  // Live messages waiting to be read out, and the timer that reads them (see announceMessage).
  const announcing = { waiting: [], timer: null, at: 0 };

  /**
   * Has a screen reader say a message that came live: its author and (the start of) its
   * text, in #message-announcement, a live region of its own; the timeline is not one, so
   * that history pages going in are not read out. A burst is said at most once a second,
   * the first few in full and the rest counted, and the region keeps only its last few
   * lines.
   */
  function announceMessage(message) {
    announcing.waiting.push(message);
    if (announcing.timer) return;
    const wait = Math.max(0, announcing.at + ANNOUNCE_EVERY_MS - Date.now());
    announcing.timer = setTimeout(sayAnnounced, wait);
  }

  function sayAnnounced() {
    announcing.timer = null;
    const messages = announcing.waiting.splice(0);
    if (!messages.length || !state.current) return;
    announcing.at = Date.now();
    const said = messages.slice(-ANNOUNCE_MAX).map((message) => {
      const text = Array.from(message.content.replace(/\s+/g, ' ').trim());
      const short = text.length > ANNOUNCE_LENGTH ? `${text.slice(0, ANNOUNCE_LENGTH).join('')}…` : text.join('');
      return `${message.userId}: ${short}`;
    });
    const more = messages.length - said.length;
    if (more > 0) said.unshift(`${more === 1 ? '1 more new message' : `${more} more new messages`}, and:`);
    const region = $('message-announcement');
    region.appendChild(el('p', { text: said.join('\n') }));
    while (region.childElementCount > ANNOUNCE_MAX) region.firstElementChild.remove();
  }

  /** Nothing more is read out of a chat closed. */
  function clearAnnouncements() {
    clearTimeout(announcing.timer);
    announcing.timer = null;
    announcing.waiting = [];
    $('message-announcement').replaceChildren();
  }

  function handleChatEvent(cur, frame) {
    if (frame.id && (!cur.lastEventId || frame.id > cur.lastEventId)) cur.lastEventId = frame.id;
    const event = frame.event;
    const message = event.messageId ? cur.messages.get(event.messageId) || cur.pendingLive.get(event.messageId) : null;
    switch (event.kind) {
      case 'message.created': {
        cur.typing.delete(event.userId);
        renderTyping(cur);
        if (cur.messages.has(event.message.id) || cur.pendingLive.has(event.message.id)) break;
        if (event.message.userId !== state.me) announceMessage(event.message);
        if (cur.newerCursor) {
          // The view is back in the history: this belongs below what is not loaded yet.
          cur.pendingLive.set(event.message.id, { ...event.message, mine: new Set(), v: 1 });
          // Only the newest can be newer than the page that reaches them; keep those.
          for (const id of cur.pendingLive.keys()) {
            if (cur.pendingLive.size <= PENDING_LIVE_LIMIT) break;
            cur.pendingLive.delete(id);
          }
          noteLastMessage(cur.id, event.message);
          if (event.message.userId !== state.me) showNewMessagesButton('New messages ↓');
          break;
        }
        const wasAtBottom = isNearBottom();
        addMessage(cur, event.message);
        noteLastMessage(cur.id, event.message);
        renderTimeline();
        if (!wasAtBottom && event.message.userId !== state.me) showNewMessagesButton('New messages ↓');
        markReadSoon();
        break;
      }
      case 'message.edited':
        if (message && !message.deleted && (message.content !== event.content || message.editedAt !== event.editedAt)) {
          message.content = event.content;
          message.editedAt = event.editedAt;
          touch(cur, message);
          noteChangedMessage(cur.id, message);
        }
        break;
      case 'message.deleted':
        if (message) markDeleted(cur, message);
        break;
      case 'reaction.added':
      case 'reaction.removed':
        // Counts are not additive across a replay, so ask for the message's summary.
        if (message) refreshReactions(cur, message.id);
        break;
      case 'member.left':
        // The `unsubscribed` that follows says how to put it: left here or elsewhere, or removed.
        if (event.userId === state.me) cur.leftBy = event.by || null;
        // An owner who leaves hands the chat on, perhaps to this user: only the list says.
        else if (state.chats.get(cur.id)?.role !== 'owner') refreshChatsSoon();
        refreshChatHeader(cur);
        break;
      case 'member.joined':
        if (event.userId === state.me) cur.leftBy = null;
        refreshChatHeader(cur);
        break;
      case 'chat.updated':
        refreshChatHeader(cur);
        break;
      case 'typing':
        noteTyping(cur, event.userId);
        break;
      default:
        break;
    }
  }

  /**
   * A message posted in a chat of the list: its unread count and last message, for the
   * caller to render; false if the chat is not listed.
   */
  function notePosted(chatId, message) {
    const summary = state.chats.get(chatId);
    if (!summary) return false;
    const id = message.id;
    const after = (mark) => !mark || id > mark;
    if (message.userId === state.me) {
      // Posted on another device (or this one): never unread, and posting moved this
      // user's read marker to it, as the server counts it.
      if (after(summary.lastReadMessageId)) {
        summary.lastReadMessageId = id;
        summary.unreadCount = 0;
      }
      if (after(state.readUpTo.get(chatId))) state.readUpTo.set(chatId, id);
    } else if (after(summary.lastReadMessageId) && after(summary.countedThrough)) {
      // Counted in the open chat too: the reader may be scrolled up or back in its history,
      // and the count is what the list shows once they leave. Reading it (markRead) clears it.
      summary.unreadCount = (summary.unreadCount || 0) + 1;
    }
    if (after(summary.countedThrough)) summary.countedThrough = id;
    if (!summary.lastMessage || summary.lastMessage.id <= id) summary.lastMessage = message;
    return true;
  }

  function handleNotification(event) {
    switch (event.kind) {
      case 'message.created': {
        if (state.listsReading.length) state.heardPosts.push({ seq: state.heardSeq++, chatId: event.chatId, message: event.message });
        if (notePosted(event.chatId, event.message)) renderChats();
        else refreshChatsSoon();
        break;
      }
      case 'message.edited': {
        const last = state.chats.get(event.chatId)?.lastMessage;
        if (last) noteChangedMessage(event.chatId, { ...last, id: event.messageId, content: event.content, editedAt: event.editedAt });
        break;
      }
      case 'message.deleted': {
        const summary = state.chats.get(event.chatId);
        const last = summary?.lastMessage;
        if (last) noteChangedMessage(event.chatId, { ...last, id: event.messageId, content: '', deleted: true });
        // A deleted message stops counting as unread. Whether it was counted (by someone else,
        // after this user's joining) only the server knows: ask it for the count again.
        const marker = summary && readMarker(event.chatId);
        if (summary && summary.unreadCount > 0 && (!marker || event.messageId > marker)) refreshChatsSoon();
        break;
      }
      case 'member.joined': {
        // Added back to the chat on screen (by a member, or joined on another device).
        const cur = state.current;
        if (event.userId === state.me && cur && cur.id === event.chatId && cur.loaded && !cur.member) rejoin(cur);
        else refreshChatsSoon();
        break;
      }
      case 'member.left':
      case 'chat.updated':
        refreshChatsSoon();
        break;
      case 'read.moved': {
        // Read on another device: the count comes from the server. This page's own markers
        // come back too and change nothing.
        const summary = state.chats.get(event.chatId);
        if (summary && summary.lastReadMessageId !== event.messageId) refreshChatsSoon();
        break;
      }
      default:
        break;
    }
  }

  // MARK: - Test hooks

  // Lets the browser tests take the network away and give it back, to exercise reconnecting
  // with backoff and resuming with `since`. Harmless in normal use.
  window.chatflow = {
    goOffline() {
      state.offline = true;
      if (state.ws) state.ws.close(4000, 'offline');
    },
    goOnline() {
      state.offline = false;
    },
  };

  // MARK: - Wiring

  function init() {
    $('signin-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const token = $('token-input').value.trim();
      if (!token) { showSignIn('Paste a token first.'); return; }
      signIn(token);
    });
    $('token-input').addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey) { event.preventDefault(); $('signin-form').requestSubmit(); }
    });
    // Signed out on purpose, the chat on show is not where the next person to sign in starts
    // (signed out by an expired token, the same user comes back to it).
    $('signout-button').addEventListener('click', () => { signOut(); history.replaceState(null, '', '#/'); });
    // The status is a button only while it waits to reconnect (see setStatus): then it takes
    // the keys a button does, Enter as it goes down and Space as it comes up.
    $('connection-status').addEventListener('click', reconnectNow);
    $('connection-status').addEventListener('keydown', (event) => {
      if (event.currentTarget.getAttribute('role') !== 'button') return;
      if (event.key === 'Enter') { event.preventDefault(); if (!event.repeat) reconnectNow(); }
      else if (event.key === ' ') event.preventDefault();
    });
    $('connection-status').addEventListener('keyup', (event) => {
      if (event.key === ' ' && event.currentTarget.getAttribute('role') === 'button') reconnectNow();
    });
    $('error-dismiss').addEventListener('click', hideError);

    $('new-chat-toggle').addEventListener('click', () => toggleForm('new-chat-form'));
    $('join-chat-toggle').addEventListener('click', () => toggleForm('join-chat-form'));
    for (const button of document.querySelectorAll('[data-close-form]')) button.addEventListener('click', () => toggleForm(null));
    $('new-chat-form').addEventListener('submit', createChat);
    $('join-chat-form').addEventListener('submit', joinChat);
    $('browse-chats').addEventListener('click', (event) => {
      toggleForm(null);
      // Already browsing: the link changes nothing, so take it as "show me the latest".
      if (location.hash === '#/browse') { event.preventDefault(); reloadDirectory(); }
    });
    $('directory-refresh').addEventListener('click', reloadDirectory);
    $('directory-more').addEventListener('click', loadDirectory);
    $('directory-list').addEventListener('click', (event) => {
      const button = event.target.closest('[data-action=join]');
      if (button) joinFromDirectory(button);
    });

    $('back-button').addEventListener('click', () => { location.hash = '#/'; });
    $('leave-chat').addEventListener('click', leaveChat);
    $('join-this-chat').addEventListener('click', joinOpenChat);
    $('copy-chat-id').addEventListener('click', async () => {
      const id = $('chat-id').textContent;
      try {
        await navigator.clipboard.writeText(id);
        $('copy-chat-id').textContent = 'copied';
      } catch {
        getSelection().selectAllChildren($('chat-id'));
        $('copy-chat-id').textContent = 'selected';
      }
      setTimeout(() => { $('copy-chat-id').textContent = 'copy id'; }, 1500);
    });

    $('add-member-toggle').addEventListener('click', toggleAddMember);
    $('add-member-close').addEventListener('click', closeAddMember);
    $('add-member-form').addEventListener('submit', addMember);
    $('search-toggle').addEventListener('click', toggleSearch);
    $('search-close').addEventListener('click', closeSearch);
    $('search-form').addEventListener('submit', (event) => runSearch(event));
    $('search-more').addEventListener('click', () => runSearch(null, true));

    $('message-list').addEventListener('click', onMessageListClick);
    $('timeline').addEventListener('keydown', onTimelineKey);
    $('timeline').addEventListener('scroll', () => {
      const cur = state.current;
      placePicker();
      if ($('timeline').scrollTop < 300) loadOlder();
      if (isNearBottom()) {
        if (cur && cur.newerCursor) loadNewer();
        else $('new-messages').hidden = true;
      }
      // What scrolled into view is read.
      markReadSoon();
    }, { passive: true });
    $('new-messages').addEventListener('click', () => {
      const cur = state.current;
      // The button hides itself: the focus goes on into the timeline it leads to.
      if (document.activeElement === $('new-messages')) $('timeline').focus({ preventScroll: true });
      if (cur && cur.newerCursor) showNewest(cur);
      else scrollToBottom();
      markReadSoon();
    });

    $('composer').addEventListener('submit', sendMessage);
    $('composer-input').addEventListener('keydown', onComposerKey);
    $('composer-input').addEventListener('input', onComposerInput);

    document.addEventListener('click', (event) => {
      if (picker && !picker.contains(event.target) && !event.target.closest('[data-action=react]')) closePicker();
      if (!event.target.closest('.message')) {
        for (const node of document.querySelectorAll('.message.show-actions')) node.classList.remove('show-actions');
      }
    });
    document.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape') return;
      const held = (id) => $(id).contains(document.activeElement);
      if (picker) closePicker({ refocus: true });
      else if (held('add-member-panel')) closeAddMember();
      else if (held('new-chat-form') || held('join-chat-form')) toggleForm(null);
      else if (!$('search-panel').hidden) closeSearch();
    });
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState !== 'visible') return;
      // A hidden page's timers are throttled, and a computer that slept ran none.
      if (state.token) watchExpiry();
      markReadSoon();
      // A preview has no live channel: whether it is still public (and its name), it asks.
      const cur = state.current;
      if (cur && cur.loaded && !cur.member && !cur.gone) refreshChatHeader(cur);
      if (state.token && !state.ws && state.reconnectTimer) connect();
    });
    window.addEventListener('online', () => {
      if (state.token && !state.ws) connect();
      if (state.current && !state.current.loaded) loadChat(state.current);
    });
    // A socket the network went out from under stays open until a ping goes unanswered:
    // say so now, and reconnect (resuming with `since`) once the network is back.
    window.addEventListener('offline', () => { if (state.ws) state.ws.close(4000, 'offline'); });
    window.addEventListener('hashchange', route);
    // Signed out (or in as someone else) in another tab of this browser: so is this one,
    // which would otherwise go on live, and posting, on a token the browser was told to forget.
    window.addEventListener('storage', (event) => {
      if (event.storageArea !== localStorage || (event.key !== TOKEN_KEY && event.key !== null)) return;
      const stored = localStorage.getItem(TOKEN_KEY);
      if (stored === state.token) return;
      if (state.token) {
        // Said as the tab that signed out says it (the token expired there as it does here).
        const reason = stored ? null : localStorage.getItem(SIGNED_OUT_KEY);
        signOut(stored ? null : reason || 'Signed out in another tab.', { forget: false });
        // Signed out on purpose, or in as someone else: the chat in the address goes, as it
        // does in the tab signed out from. After an expiry it stays, for signing back in.
        if (!reason && location.hash.startsWith('#/chats/')) history.replaceState(null, '', '#/');
      }
      if (stored) signIn(stored, { remembered: true });
    });

    const saved = localStorage.getItem(TOKEN_KEY);
    if (saved) signIn(saved, { remembered: true });
    else showSignIn();
  }

  init();
})();
