// Shared by the console and the supervisor page: sign-in, REST calls, the live socket with
// replay on reconnect, and a DOM helper that only ever sets text (customer words are never HTML).
"use strict";

const SD = (() => {
  const store = window.sessionStorage;
  const listeners = new Set();

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node, ...children) {
    node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
    return node;
  }

  function token() { return store.getItem("sd.token"); }

  function agent() {
    const raw = store.getItem("sd.agent");
    return raw ? JSON.parse(raw) : null;
  }

  function signOut() {
    for (const key of ["sd.token", "sd.expires", "sd.agent", "sd.last"]) store.removeItem(key);
    window.location.reload();
  }

  async function api(method, path, body) {
    const headers = { "Accept": "application/json" };
    if (token()) headers["Authorization"] = `Bearer ${token()}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = response.headers.get("content-type")?.includes("json")
      ? await response.json() : null;
    if (response.status === 401 && path !== "/api/v1/agent/login") signOut();
    if (!response.ok) {
      const error = new Error((data && data.message) || `${response.status}`);
      error.status = response.status;
      error.data = data;
      throw error;
    }
    return data;
  }

  async function login(username, password) {
    const data = await api("POST", "/api/v1/agent/login", { username, password });
    store.setItem("sd.token", data.token);
    store.setItem("sd.expires", String(data.expires_at));
    store.setItem("sd.agent", JSON.stringify(data.agent));
    store.removeItem("sd.last");
    return data;
  }

  // Refresh the short-lived token a minute before it runs out, and hand it to the socket.
  function keepTokenFresh(live) {
    const expires = Number(store.getItem("sd.expires") || 0);
    const wait = Math.max(5, expires - Date.now() / 1000 - 60) * 1000;
    setTimeout(async () => {
      try {
        const data = await api("POST", "/api/v1/agent/token");
        store.setItem("sd.token", data.token);
        store.setItem("sd.expires", String(data.expires_at));
        if (live) live.command("auth", { token: data.token }).catch(() => {});
      } catch (error) { /* 401 signs out inside api() */ }
      keepTokenFresh(live);
    }, wait);
  }

  // The live socket: hello with the last event id, replay, then events; reconnect with
  // backoff, resuming from the last id processed (PROTOCOL.md).
  class Live {
    constructor(onEvent, onStatus) {
      this.onEvent = onEvent;
      this.onStatus = onStatus || (() => {});
      this.pending = new Map();
      this.ref = 0;
      this.backoff = 500;
      this.ws = null;
    }

    get lastId() { return Number(store.getItem("sd.last") || 0); }

    set lastId(value) {
      if (value > this.lastId) store.setItem("sd.last", String(value));
    }

    start(fromId) {
      if (fromId !== undefined && fromId !== null) store.setItem("sd.last", String(fromId));
      this.open();
    }

    open() {
      const scheme = window.location.protocol === "https:" ? "wss" : "ws";
      const ws = new WebSocket(`${scheme}://${window.location.host}/agent/ws`);
      this.ws = ws;
      this.onStatus("connecting");
      ws.addEventListener("open", () => {
        ws.send(JSON.stringify({ type: "hello", token: token(), last_event_id: this.lastId }));
      });
      ws.addEventListener("message", (message) => this.receive(JSON.parse(message.data)));
      ws.addEventListener("close", (event) => {
        this.onStatus("offline");
        for (const [, waiter] of this.pending) waiter.reject(new Error("disconnected"));
        this.pending.clear();
        if (event.code === 4001) { signOut(); return; }
        setTimeout(() => this.open(), this.backoff);
        this.backoff = Math.min(this.backoff * 2, 10000);
      });
    }

    receive(message) {
      if (message.type === "welcome") {
        this.backoff = 500;
        this.onStatus("live");
      }
      if ((message.type === "ack" || message.type === "error") && this.pending.has(message.ref)) {
        const waiter = this.pending.get(message.ref);
        this.pending.delete(message.ref);
        if (message.type === "ack") waiter.resolve(message.data);
        else {
          const error = new Error(message.message);
          error.code = message.error;
          waiter.reject(error);
        }
        return;
      }
      try {
        this.onEvent(message);
      } finally {
        if (typeof message.id === "number") this.lastId = message.id;
        if (message.type === "resync") this.lastId = message.last_event_id;
      }
    }

    command(type, fields) {
      return new Promise((resolve, reject) => {
        if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
          reject(new Error("not connected"));
          return;
        }
        const ref = `c${++this.ref}`;
        this.pending.set(ref, { resolve, reject });
        this.ws.send(JSON.stringify({ type, ref, ...(fields || {}) }));
      });
    }
  }

  // A short two-tone chime made on the spot (no audio files, works offline).
  let audio = null;
  function chime() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const now = audio.currentTime;
      for (const [offset, freq] of [[0, 880], [0.18, 1175]]) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, now + offset);
        gain.gain.exponentialRampToValueAtTime(0.25, now + offset + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.16);
        osc.connect(gain).connect(audio.destination);
        osc.start(now + offset);
        osc.stop(now + offset + 0.18);
      }
    } catch (error) { /* no audio device: the visual alert still shows */ }
  }

  function ago(iso) {
    if (!iso) return "";
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (seconds < 60) return `${seconds}s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
    return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
  }

  function time(iso) {
    return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
  }

  function toast(text, kind) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const item = el("div", { class: `toast ${kind || ""}`, role: "status" }, text);
    box.append(item);
    setTimeout(() => item.remove(), 6000);
  }

  // The sign-in form both pages share; resolves once signed in.
  function signIn(title) {
    if (token()) return Promise.resolve(agent());
    return new Promise((resolve) => {
      const error = el("p", { class: "error", id: "login-error" });
      const user = el("input", { id: "login-username", name: "username", autocomplete: "username",
        required: true, autofocus: true });
      const pass = el("input", { id: "login-password", name: "password", type: "password",
        autocomplete: "current-password", required: true });
      const form = el("form", { class: "login", id: "login-form" },
        el("h1", {}, title),
        el("label", {}, "Username", user),
        el("label", {}, "Password", pass),
        el("button", { type: "submit", id: "login-submit" }, "Sign in"), error);
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          const data = await login(user.value, pass.value);
          form.remove();
          resolve(data.agent);
        } catch (failure) {
          error.textContent = failure.message;
        }
      });
      document.body.append(form);
    });
  }

  return { el, clear, api, login, signIn, signOut, agent, keepTokenFresh, Live, chime, ago,
           time, toast, listeners };
})();
