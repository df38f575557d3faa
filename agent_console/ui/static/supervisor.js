// The supervisor view: queues, agents, live conversations (read-only monitor), approvals, and
// the storm switch. The overview reloads when the floor changes (debounced).
"use strict";

(() => {
  const { el, clear, api } = SD;
  const $ = (id) => document.getElementById(id);
  const state = { live: null, overview: null, monitoring: null, monitorMessages: new Map(),
                  refreshTimer: null, storm: { on: false } };

  function refreshSoon() {
    if (state.refreshTimer) return;
    state.refreshTimer = setTimeout(async () => {
      state.refreshTimer = null;
      await refresh();
    }, 300);
  }

  async function refresh() {
    state.overview = await api("GET", "/api/v1/supervisor/overview");
    render();
  }

  function render() {
    const data = state.overview;
    if (!data) return;
    clear($("queues-table").tBodies[0], Object.entries(data.queues.queues).map(([skill, q]) =>
      el("tr", { class: q.sla_breached ? "bad" : "", dataset: { skill } },
        el("td", {}, skill), el("td", {}, q.waiting), el("td", {}, q.offered),
        el("td", {}, q.oldest_enqueued_at ? el("span", { dataset: { since: q.oldest_enqueued_at } },
          SD.ago(q.oldest_enqueued_at)) : "—"),
        el("td", {}, q.sla_breached), el("td", {}, `${q.agents_available}/${q.agents_staffed}`),
        el("td", {}, q.callbacks))));
    clear($("agents-table").tBodies[0], data.agents.map((a) => {
      const load = Object.entries(a.load || {}).map(([ch, n]) => `${ch} ${n}/${a.capacity[ch] || 0}`).join(", ");
      const presence = el("select", { dataset: { agent: a.agent_id } },
        ["available", "busy", "away", "offline"].map((p) => el("option", { value: p, selected: p === a.presence }, p)));
      presence.addEventListener("change", async () => {
        try { await api("PATCH", `/api/v1/supervisor/agents/${a.agent_id}`, { presence: presence.value }); }
        catch (error) { SD.toast(error.message, "bad"); }
      });
      return el("tr", { class: `presence-${a.presence}` },
        el("td", {}, `${a.display_name} (${a.role})`), el("td", {}, a.presence,
          el("small", { class: "muted", dataset: { since: a.presence_since } }, "")),
        el("td", {}, a.skills.join(", ")), el("td", {}, load || "—"), el("td", {}, presence));
    }));
    clear($("live-table").tBodies[0], data.conversations.map((c) =>
      el("tr", { class: c.first_response_breached || c.resolution_breached ? "bad" : "" },
        el("td", {}, c.conversation.customer_name || c.conversation.address),
        el("td", {}, c.agent_name), el("td", {}, c.skill), el("td", {}, c.state),
        el("td", {}, el("span", { dataset: { since: c.started_at } }, SD.ago(c.started_at))),
        el("td", {}, el("button", { class: "small monitor", type: "button",
          onclick: () => monitor(c.conversation_id) }, "Monitor")))));
    clear($("waiting"), data.waiting.map((w) => el("li", { class: w.sla_breached ? "bad" : "" },
      `#${w.conversation_id} ${w.skill} (${w.state}) waiting `,
      el("span", { dataset: { since: w.enqueued_at } }, SD.ago(w.enqueued_at)))));
    clear($("approvals"), data.approvals.map((r) => el("li", { class: "approval", dataset: { request: r.request_id } },
      el("strong", {}, `$${r.amount}`), ` on account ${r.account_id} — ${r.reason} `,
      el("span", { class: "muted" }, `by ${r.requested_by}`),
      el("div", { class: "row" },
        el("button", { class: "approve", type: "button", onclick: () => decide(r.request_id, "approve") }, "Approve"),
        el("button", { class: "reject secondary", type: "button", onclick: () => decide(r.request_id, "reject") }, "Reject")))));
    if (!data.approvals.length) $("approvals").append(el("li", { class: "muted" }, "Nothing waiting."));
    storm(data.storm);
  }

  async function decide(requestId, verdict) {
    try {
      const reason = verdict === "reject" ? (window.prompt("Why reject it?") || "rejected") : "";
      await api("POST", `/api/v1/supervisor/approvals/${requestId}/${verdict}`, { reason });
      SD.toast(`Request ${requestId} ${verdict === "approve" ? "approved" : "rejected"}`, "good");
      refresh();
    } catch (error) { SD.toast(error.message, "bad"); }
  }

  function storm(data) {
    state.storm = data || { on: false };
    $("storm-toggle").textContent = `Storm mode: ${state.storm.on ? "ON" : "off"}`;
    $("storm-toggle").classList.toggle("bad", !!state.storm.on);
    const banner = $("storm-banner");
    banner.hidden = !state.storm.on;
    banner.textContent = state.storm.on ? `STORM MODE — ${state.storm.message || ""}` : "";
  }

  async function monitor(conversationId) {
    if (state.monitoring) await state.live.command("monitor.stop", { conversation_id: state.monitoring }).catch(() => {});
    const detail = await state.live.command("monitor.start", { conversation_id: conversationId });
    state.monitoring = conversationId;
    state.monitorMessages = new Map(detail.transcript.map((m) => [m.id, m]));
    $("monitor").hidden = false;
    $("monitor-title").textContent = `Monitor: ${detail.customer_name || detail.address} (read-only)`;
    renderMonitor();
  }

  function renderMonitor() {
    clear($("monitor-transcript"), [...state.monitorMessages.values()].sort((a, b) => a.id - b.id)
      .map((m) => el("li", { class: `msg ${m.author}` },
        el("span", { class: "meta" }, `${m.author} · ${SD.time(m.at)}`), el("span", { class: "body" }, m.body))));
  }

  function alert(text, kind) {
    $("alerts").prepend(el("li", { class: kind || "" }, `${SD.time(new Date().toISOString())} ${text}`));
  }

  function onEvent(message) {
    const data = message.data || {};
    if (state.monitoring && message.conversation_id === state.monitoring) {
      for (const m of data.messages || (data.message ? [data.message] : [])) state.monitorMessages.set(m.id, m);
      renderMonitor();
    }
    switch (message.type) {
      case "approval.requested":
        SD.chime();
        SD.toast(`Approval needed: $${data.amount} by ${data.requested_by}`, "warn");
        alert(`Approval requested: $${data.amount} on account ${data.account_id} by ${data.requested_by}`, "warn");
        break;
      case "sla.breach": alert(`SLA missed (${data.sla}) in ${data.skill}, conversation ${data.conversation_id}`, "bad"); break;
      case "storm.banner": storm(data); break;
      default: break;
    }
    if (["queue.update", "presence.changed", "agent.updated", "approval.requested", "approval.decided",
         "conversation.assigned", "conversation.closed", "conversation.transferred",
         "conversation.wrap_up", "conversation.handed_back", "sla.breach", "welcome", "resync"]
      .includes(message.type)) refreshSoon();
  }

  function bind() {
    $("storm-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const result = await api("POST", "/api/v1/supervisor/storm",
          { on: !state.storm.on, message: $("storm-message").value });
        storm(result);
      } catch (error) { SD.toast(error.message, "bad"); }
    });
    $("whisper").addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!state.monitoring || !$("whisper-body").value) return;
      try {
        await state.live.command("note.add", { conversation_id: state.monitoring, body: $("whisper-body").value });
        $("whisper-body").value = "";
      } catch (error) { SD.toast(error.message, "bad"); }
    });
    $("monitor-stop").addEventListener("click", async () => {
      if (state.monitoring) await state.live.command("monitor.stop", { conversation_id: state.monitoring }).catch(() => {});
      state.monitoring = null;
      $("monitor").hidden = true;
    });
    $("sign-out").addEventListener("click", () => SD.signOut());
    setInterval(() => {
      for (const node of document.querySelectorAll("[data-since]")) node.textContent = ` ${SD.ago(node.dataset.since)}`;
    }, 1000);
  }

  async function main() {
    const me = await SD.signIn("Stormdesk supervisor");
    $("app").hidden = false;
    $("me").textContent = me.display_name;
    bind();
    try { await refresh(); } catch (error) {
      document.body.append(el("p", { class: "error" }, `This page needs a supervisor: ${error.message}`));
      return;
    }
    const state0 = await api("GET", "/api/v1/agent/state");
    state.live = new SD.Live(onEvent, (status) => {
      $("conn-status").textContent = status;
      $("conn-status").className = `conn ${status}`;
    });
    state.live.start(state0.last_event_id);
    SD.keepTokenFresh(state.live);
  }

  window.addEventListener("DOMContentLoaded", main);
})();
