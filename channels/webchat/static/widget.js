/*
 * Stormdesk web chat widget: one script tag, plain JavaScript, no framework, no CDN, no fonts.
 *
 *   <script src="https://stormdesk.example.org/channels/webchat/widget.js" defer></script>
 *
 * Optional attributes on that tag: data-title="Chat with us", data-lang="es".
 * The frame protocol is channels/webchat/PROTOCOL.md. The session token lives in
 * localStorage, so a reload (or a dropped connection) resumes the same conversation; messages
 * not yet acknowledged are kept there too and resent with the same id (stored once).
 */
(function () {
  "use strict";
  if (window.StormdeskChat) return; // the tag was pasted twice: keep the first

  var script = document.currentScript || (function () {
    var tags = document.querySelectorAll("script[src*='widget.js']");
    return tags[tags.length - 1];
  })();
  var base = new URL(script.src, location.href);
  var SOCKET_URL = (base.protocol === "https:" ? "wss://" : "ws://") + base.host +
    base.pathname.replace(/widget\.js$/, "ws");
  var KEY = "stormdesk.webchat." + base.host + ".";
  var TITLE = script.getAttribute("data-title") || "Chat with us";
  var LANG = (script.getAttribute("data-lang") || document.documentElement.lang ||
    navigator.language || "en").slice(0, 2).toLowerCase();
  var MAX_TEXT_BYTES = 2048;
  var PING_EVERY_MS = 25000;
  var TYPING_EVERY_MS = 3000;
  var TYPING_SHOWN_MS = 6000;

  // -- storage (a browser that refuses it still chats, just without resume) ----------------

  function load(name, fallback, area) {
    try {
      var raw = (area || localStorage).getItem(KEY + name);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (e) { return fallback; }
  }
  function save(name, value, area) {
    try {
      if (value === null || value === undefined) (area || localStorage).removeItem(KEY + name);
      else (area || localStorage).setItem(KEY + name, JSON.stringify(value));
    } catch (e) { /* private mode or full: resume is lost, chat still works */ }
  }

  var token = load("token", null);
  var pending = load("pending", []); // [{id, text}] sent but not acknowledged
  var socket = null;
  var attempt = 0;
  var reconnectTimer = null;
  var pingTimer = null;
  var typingTimer = null;
  var lastTypingSent = 0;
  var lastId = 0;
  var shownIds = {};
  var unread = 0;
  var greeting = null;
  var opened = false;

  // -- the DOM, inside a shadow root so the host page's styles cannot break it -------------

  var host = document.createElement("div");
  host.setAttribute("data-stormdesk-chat", "");
  var root = host.attachShadow({ mode: "open" });
  var CSS =
    ":host{all:initial}" +
    ".sd{font:15px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1f24}" +
    ".sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;" +
    "clip:rect(0 0 0 0);white-space:nowrap;border:0}" +
    "button{font:inherit;cursor:pointer}" +
    "button:focus-visible,textarea:focus-visible,.log:focus-visible,a:focus-visible" +
    "{outline:3px solid #ffbf47;outline-offset:2px}" +
    ".launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;display:flex;" +
    "align-items:center;gap:8px;padding:12px 18px;border:0;border-radius:28px;" +
    "background:#0b5cad;color:#fff;font-weight:600;box-shadow:0 4px 14px rgba(0,0,0,.25)}" +
    ".launcher svg{width:22px;height:22px;fill:currentColor}" +
    ".badge{min-width:20px;padding:0 6px;border-radius:10px;background:#fff;color:#0b5cad;" +
    "font-size:13px;text-align:center}" +
    ".panel{position:fixed;right:20px;bottom:84px;z-index:2147483000;display:flex;" +
    "flex-direction:column;width:370px;max-width:calc(100vw - 24px);height:540px;" +
    "max-height:calc(100vh - 110px);background:#fff;border:1px solid #c9d1d9;" +
    "border-radius:12px;box-shadow:0 10px 30px rgba(0,0,0,.25);overflow:hidden}" +
    ".panel[hidden]{display:none}" +
    "header{display:flex;align-items:center;justify-content:space-between;padding:10px 14px;" +
    "background:#0b5cad;color:#fff}" +
    "h2{margin:0;font-size:16px}" +
    ".close{border:0;background:transparent;color:#fff;font-size:22px;line-height:1;" +
    "padding:4px 8px;border-radius:6px}" +
    ".conn{margin:0;padding:0 14px;font-size:13px;color:#57606a}" +
    ".conn:empty{display:none}" +
    ".log{flex:1;overflow-y:auto;padding:12px 14px;display:flex;flex-direction:column;gap:8px}" +
    ".msg{max-width:85%;padding:8px 12px;border-radius:12px;white-space:pre-wrap;" +
    "overflow-wrap:anywhere}" +
    ".msg .who{display:block;font-size:12px;font-weight:600;color:#57606a;margin-bottom:2px}" +
    ".from-customer{align-self:flex-end;background:#0b5cad;color:#fff}" +
    ".from-customer .who{color:#dbe9f8}" +
    ".from-bot,.from-system{align-self:flex-start;background:#eef1f4}" +
    ".from-agent{align-self:flex-start;background:#e6f4ea;border:1px solid #9fd3ae}" +
    ".msg a{color:inherit}" +
    ".pending{opacity:.7}" +
    ".failed{background:#fdecea;color:#8a1c13}" +
    ".typing{margin:0;padding:0 14px 4px;font-size:13px;color:#57606a;min-height:18px}" +
    ".choices{display:flex;flex-wrap:wrap;gap:6px;padding:0 14px 8px}" +
    ".choices:empty{display:none}" +
    ".choices button{padding:6px 12px;border:1px solid #0b5cad;border-radius:16px;" +
    "background:#fff;color:#0b5cad}" +
    ".note{margin:0;padding:0 14px 6px;font-size:13px;color:#8a1c13}" +
    ".note:empty{display:none}" +
    "form{display:flex;gap:8px;padding:10px 14px;border-top:1px solid #d8dee4}" +
    "textarea{flex:1;resize:none;font:inherit;padding:8px 10px;border:1px solid #8c959f;" +
    "border-radius:8px;min-height:20px;max-height:110px}" +
    ".send{padding:8px 14px;border:0;border-radius:8px;background:#0b5cad;color:#fff;" +
    "font-weight:600}" +
    "@media (max-width:480px){.panel{right:6px;left:6px;width:auto;bottom:78px}}";
  // A constructed stylesheet where the browser has them (nothing added to the host page's
  // DOM); else a <style> element inside the shadow root.
  var styled = false;
  try {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
    styled = true;
  } catch (e) { /* older browser: the <style> element below */ }
  root.innerHTML = (styled ? "" : "<style>" + CSS + "</style>") +
    "<div class='sd'>" +
    "<button class='launcher' type='button' aria-expanded='false' aria-controls='sd-panel'" +
    " data-testid='chat-launcher'>" +
    "<svg viewBox='0 0 24 24' aria-hidden='true' focusable='false'><path d='M4 4h16a2 2 0 0 1" +
    " 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z'/></svg>" +
    "<span class='launcher-text'></span><span class='badge' hidden></span></button>" +
    "<section class='panel' id='sd-panel' role='dialog' aria-modal='false'" +
    " aria-labelledby='sd-title' hidden data-testid='chat-panel'>" +
    "<header><h2 id='sd-title'></h2>" +
    "<button class='close' type='button' aria-label='Close chat'>&times;</button></header>" +
    "<p class='conn' role='status'></p>" +
    "<div class='log' role='log' aria-live='polite' aria-relevant='additions'" +
    " aria-label='Conversation' tabindex='0' data-testid='chat-log'></div>" +
    "<p class='typing' aria-live='polite' data-testid='chat-typing'></p>" +
    "<div class='choices' role='group' aria-label='Suggested replies'></div>" +
    "<p class='note' role='alert'></p>" +
    "<form novalidate><label class='sr' for='sd-input'>Message</label>" +
    "<textarea id='sd-input' rows='1' autocomplete='off' data-testid='chat-input'></textarea>" +
    "<button class='send' type='submit' aria-label='Send message'>Send</button></form>" +
    "</section></div>";

  function $(selector) { return root.querySelector(selector); }
  var launcher = $(".launcher");
  var launcherText = $(".launcher-text");
  var badge = $(".badge");
  var panel = $(".panel");
  var log = $(".log");
  var connStatus = $(".conn");
  var typingLine = $(".typing");
  var choices = $(".choices");
  var note = $(".note");
  var form = $("form");
  var input = $("textarea");
  $("#sd-title").textContent = TITLE;
  launcherText.textContent = "Chat";
  launcher.setAttribute("aria-label", TITLE);

  // -- rendering ----------------------------------------------------------------------------

  var URL_PATTERN = /(https?:\/\/[^\s<>"]+[^\s<>".,;:!?)])/g;

  function fillText(element, text) {
    // Links become anchors; everything else stays text (never HTML from the server).
    var at = 0;
    text.replace(URL_PATTERN, function (url, _group, offset) {
      if (offset > at) element.appendChild(document.createTextNode(text.slice(at, offset)));
      var link = document.createElement("a");
      link.href = url;
      link.textContent = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      element.appendChild(link);
      at = offset + url.length;
      return url;
    });
    if (at < text.length) element.appendChild(document.createTextNode(text.slice(at)));
  }

  function who(frame) {
    if (frame.author === "customer") return "You";
    if (frame.author === "agent") return (frame.agent ? frame.agent + " (agent)" : "Agent");
    return TITLE.replace(/^Chat with /i, "") + " assistant";
  }

  function messageElement(frame) {
    var item = document.createElement("div");
    item.className = "msg from-" + (frame.author || "bot");
    item.setAttribute("data-testid", "chat-message");
    item.setAttribute("data-author", frame.author || "bot");
    if (frame.id) item.setAttribute("data-id", String(frame.id));
    if (frame.client_id) item.setAttribute("data-client-id", frame.client_id);
    var label = document.createElement("span");
    label.className = "who";
    label.textContent = who(frame);
    item.appendChild(label);
    var body = document.createElement("span");
    body.className = "text";
    fillText(body, frame.text || "");
    item.appendChild(body);
    (frame.media || []).forEach(function (url) {
      var link = document.createElement("a");
      link.href = url;
      link.textContent = "Attachment";
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      item.appendChild(document.createElement("br"));
      item.appendChild(link);
    });
    return item;
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function showChoices(options) {
    choices.textContent = "";
    (options || []).forEach(function (label) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.addEventListener("click", function () {
        send(label);
        input.focus(); // the buttons go away: keep the keyboard user's place
      });
      choices.appendChild(button);
    });
  }

  function findBy(attribute, value) {
    return log.querySelector("[" + attribute + "='" + String(value).replace(/'/g, "") + "']");
  }

  function addMessage(frame, quietly) {
    if (frame.id && shownIds[frame.id]) return;
    var mine = frame.client_id && findBy("data-client-id", frame.client_id);
    if (mine) { // our own message, already on screen as pending
      if (frame.id) { mine.setAttribute("data-id", String(frame.id)); shownIds[frame.id] = 1; }
      mine.classList.remove("pending");
      return;
    }
    if (frame.id) { shownIds[frame.id] = 1; lastId = Math.max(lastId, frame.id); }
    log.appendChild(messageElement(frame));
    if (frame.author !== "customer") {
      showChoices(frame.quick_replies);
      typingLine.textContent = "";
      if (!quietly && !opened) {
        unread += 1;
        badge.hidden = false;
        badge.textContent = String(unread);
        launcher.setAttribute("aria-label", TITLE + " (" + unread + " new)");
      }
    }
    scrollDown();
  }

  function showGreeting() {
    if (!greeting || log.querySelector(".greeting")) return;
    var item = messageElement({ author: "bot", text: greeting.text });
    item.classList.add("greeting");
    log.insertBefore(item, log.firstChild);
    if (!log.querySelector("[data-id]") && !pending.length) showChoices(greeting.quick_replies);
  }

  function setStatus(text) { connStatus.textContent = text; }
  function setNote(text) { note.textContent = text || ""; }

  // -- the connection -------------------------------------------------------------------------

  function connect() {
    if (socket || !navigator.onLine && attempt > 0) return;
    clearTimeout(reconnectTimer);
    setStatus(attempt ? "Reconnecting…" : "Connecting…");
    var ws;
    try { ws = new WebSocket(SOCKET_URL); } catch (e) { scheduleReconnect(); return; }
    socket = ws;
    ws.onopen = function () {
      var hello = { type: "hello", lang: LANG };
      if (token) hello.token = token;
      if (lastId) hello.after = lastId;
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      handle(frame);
    };
    ws.onclose = function (event) {
      if (socket === ws) socket = null;
      clearInterval(pingTimer);
      if (event.code === 4001) { // our token is not (or no longer) good: start a new session
        token = null;
        save("token", null);
        lastId = 0;
      }
      if (event.code === 1009) setNote("That message was too large to send.");
      scheduleReconnect();
    };
    ws.onerror = function () { /* onclose follows and reconnects */ };
  }

  function scheduleReconnect() {
    clearTimeout(reconnectTimer);
    var delay = Math.min(10000, 500 * Math.pow(2, attempt)) * (0.5 + Math.random() / 2);
    attempt += 1;
    setStatus("Connection lost. Reconnecting…");
    reconnectTimer = setTimeout(connect, delay);
  }

  function transmit(item) {
    if (socket && socket.readyState === 1) {
      socket.send(JSON.stringify({ type: "message", id: item.id, text: item.text }));
    }
  }

  function handle(frame) {
    switch (frame.type) {
      case "welcome": return welcome(frame);
      case "ack": return acknowledged(frame);
      case "message": return addMessage(frame, false);
      case "typing":
        typingLine.textContent = "An agent is typing…";
        clearTimeout(typingTimer);
        typingTimer = setTimeout(function () { typingLine.textContent = ""; }, TYPING_SHOWN_MS);
        return;
      case "error": return refused(frame);
      default: return;
    }
  }

  function welcome(frame) {
    attempt = 0;
    setStatus("");
    setNote("");
    if (!frame.resumed && token !== frame.token && log.querySelector("[data-id]")) {
      log.textContent = ""; // a new session: what was on screen belongs to the old one
      shownIds = {};
      lastId = 0;
    }
    token = frame.token;
    save("token", token);
    if (frame.limits && frame.limits.max_text_bytes) MAX_TEXT_BYTES = frame.limits.max_text_bytes;
    greeting = frame.greeting;
    // History is not news: keep the live region quiet while it is drawn.
    log.setAttribute("aria-live", "off");
    showGreeting();
    (frame.messages || []).forEach(function (m) { addMessage(m, true); });
    pending.forEach(function (p) { // not yet stored: after what is
      var element = findBy("data-client-id", p.id);
      if (element) log.appendChild(element);
    });
    setTimeout(function () { log.setAttribute("aria-live", "polite"); }, 0);
    pending.forEach(transmit); // resent with the same ids: the server stores each once
    clearInterval(pingTimer);
    pingTimer = setInterval(function () {
      if (socket && socket.readyState === 1) socket.send('{"type":"ping"}');
    }, PING_EVERY_MS);
  }

  function acknowledged(frame) {
    pending = pending.filter(function (p) { return p.id !== frame.id; });
    save("pending", pending);
    var item = findBy("data-client-id", frame.id);
    if (!item) return;
    if (shownIds[frame.message_id] && item.getAttribute("data-id") !== String(frame.message_id)) {
      item.remove(); // already on screen from the history (sent before a reload)
      return;
    }
    item.classList.remove("pending");
    item.setAttribute("data-id", String(frame.message_id));
    shownIds[frame.message_id] = 1;
    lastId = Math.max(lastId, frame.message_id);
  }

  function refused(frame) {
    var item = frame.ref && findBy("data-client-id", frame.ref);
    if (frame.code === "slow_down") {
      setNote("You're sending messages quickly. Please wait a moment.");
      if (item) setTimeout(function () {
        pending.filter(function (p) { return p.id === frame.ref; }).forEach(transmit);
      }, Math.ceil((frame.retry_after_s || 1) * 1000));
      return;
    }
    if (frame.code === "unavailable") {
      if (item) setTimeout(function () {
        pending.filter(function (p) { return p.id === frame.ref; }).forEach(transmit);
      }, 2000);
      return;
    }
    if (item) { // refused for good: say so on the message, and stop resending it
      pending = pending.filter(function (p) { return p.id !== frame.ref; });
      save("pending", pending);
      item.classList.remove("pending");
      item.classList.add("failed");
    }
    setNote(frame.message || "That message could not be sent.");
  }

  // -- sending ------------------------------------------------------------------------------

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function send(text) {
    text = (text || "").trim();
    if (!text) return false;
    if (new TextEncoder().encode(text).length > MAX_TEXT_BYTES) {
      setNote("That message is too long. Please shorten it.");
      return false;
    }
    setNote("");
    var item = { id: newId(), text: text };
    pending.push(item);
    save("pending", pending);
    var element = messageElement({ author: "customer", text: text, client_id: item.id });
    element.classList.add("pending");
    log.appendChild(element);
    showChoices([]);
    scrollDown();
    if (!socket) connect();
    transmit(item);
    return true;
  }

  // -- opening, closing, keyboard --------------------------------------------------------------

  function open() {
    if (opened) return;
    opened = true;
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    unread = 0;
    badge.hidden = true;
    launcher.setAttribute("aria-label", TITLE);
    save("open", true, sessionStorage);
    if (!socket) connect();
    scrollDown();
    input.focus();
  }

  function close() {
    if (!opened) return;
    opened = false;
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    save("open", null, sessionStorage);
    launcher.focus(); // back where the customer came from
  }

  launcher.addEventListener("click", function () { opened ? close() : open(); });
  $(".close").addEventListener("click", close);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { event.preventDefault(); close(); }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (send(input.value)) input.value = "";
    input.focus();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
    }
  });
  input.addEventListener("input", function () {
    var now = Date.now();
    if (input.value && now - lastTypingSent > TYPING_EVERY_MS && socket &&
        socket.readyState === 1) {
      lastTypingSent = now;
      socket.send('{"type":"typing","on":true}');
    }
  });
  window.addEventListener("online", function () { if (!socket && (opened || token)) connect(); });

  function start() {
    document.body.appendChild(host);
    // Resume at once when there is a conversation to resume (or messages to resend); a
    // visitor who never opened the chat costs the server nothing.
    if (load("open", false, sessionStorage)) open();
    else if (token || pending.length) connect();
    pending.forEach(function (p) {
      var element = messageElement({ author: "customer", text: p.text, client_id: p.id });
      element.classList.add("pending");
      log.appendChild(element);
    });
  }

  window.StormdeskChat = { open: open, close: close };
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
