// The agent console: offers, conversations with the bot's transcript and hand-off summary,
// the account panel and its actions. All state comes from /state and the live socket.
"use strict";

(() => {
  const { el, clear, api } = SD;
  const $ = (id) => document.getElementById(id);

  const state = {
    me: null,
    offers: new Map(),        // offer_id → offer (with conversation card)
    conversations: new Map(), // conversation_id → {card, assignment, messages: Map, notes, unread}
    order: [],                // conversation ids in the list's order
    selected: null,
    dispositions: [],
    queues: {},
    account: null,            // the account open in the panel
    canned: [],
    live: null,
    titleFlash: null,
  };

  // ---- loading ------------------------------------------------------------------------

  async function loadState() {
    const data = await api("GET", "/api/v1/agent/state");
    state.me = data.agent;
    state.dispositions = data.dispositions;
    state.queues = data.queues.queues;
    state.offers.clear();
    for (const offer of data.offers) state.offers.set(offer.offer_id, offer);
    const held = new Set();
    for (const assignment of data.assignments) {
      held.add(assignment.conversation_id);
      upsertConversation(assignment.conversation_id, assignment.conversation, assignment);
    }
    for (const id of [...state.conversations.keys()]) {
      if (!held.has(id)) dropConversation(id);
    }
    storm(data.storm);
    renderAll();
    return data.last_event_id;
  }

  function upsertConversation(id, card, assignment) {
    let conv = state.conversations.get(id);
    if (!conv) {
      conv = { card, assignment, messages: new Map(), notes: [], unread: 0, loaded: false };
      state.conversations.set(id, conv);
      state.order.push(id);
    } else {
      if (card) conv.card = card;
      if (assignment) conv.assignment = assignment;
    }
    return conv;
  }

  function dropConversation(id) {
    state.conversations.delete(id);
    state.order = state.order.filter((x) => x !== id);
    if (state.selected === id) {
      state.selected = null;
      state.account = null;
    }
  }

  async function openConversation(id) {
    const conv = state.conversations.get(id);
    if (!conv) return;
    state.selected = id;
    conv.unread = 0;
    if (!conv.loaded) {
      const detail = await api("GET", `/api/v1/agent/conversations/${id}`);
      conv.card = detail;
      for (const message of detail.transcript) conv.messages.set(message.id, message);
      conv.notes = detail.notes;
      conv.loaded = true;
    }
    renderAll();
    loadAccounts(id);
    loadCanned(id);
    $("reply").focus();
  }

  async function loadAccounts(id) {
    const side = $("accounts");
    clear(side, el("p", { class: "muted" }, "Loading…"));
    clear($("account-panel"));
    try {
      const data = await api("GET", `/api/v1/agent/conversations/${id}/accounts`);
      if (state.selected !== id) return;
      if (!data.accounts.length) {
        const number = el("input", { id: "link-number", placeholder: "account number" });
        clear(side, el("p", { class: "muted" }, data.hint || "No accounts."),
          el("form", { class: "inline", onsubmit: async (event) => {
            event.preventDefault();
            try {
              await api("POST", `/api/v1/agent/conversations/${id}/link-account`,
                { account_number: number.value });
              loadAccounts(id);
            } catch (error) { SD.toast(error.message, "bad"); }
          } }, number, el("button", { id: "link-submit", type: "submit" }, "Link")));
        return;
      }
      clear(side, el("ul", { class: "account-list" }, data.accounts.map((account) =>
        el("li", {},
          el("button", { class: "account-pick", type: "button", dataset: { id: account.account_id },
            onclick: () => openAccount(account.account_id) },
          `#${account.number} · ${account.kind} · ${account.status}`),
          el("span", { class: "money" }, `$${account.balance}`),
          account.disconnect_pending ? el("span", { class: "tag bad" }, "disconnect pending") : null,
        ))));
      if (data.accounts.length === 1) openAccount(data.accounts[0].account_id);
    } catch (error) {
      clear(side, el("p", { class: "error" }, error.message));
    }
  }

  async function loadCanned(id) {
    try {
      state.canned = await api("GET", `/api/v1/agent/conversations/${id}/canned`);
    } catch (error) { state.canned = []; }
    clear($("canned"), el("option", { value: "" }, "Canned responses…"),
      state.canned.map((c) => el("option", { value: c.id }, `/${c.shortcut} — ${c.title}`)));
  }

  // ---- the account panel --------------------------------------------------------------

  async function openAccount(accountId) {
    const data = await api("GET", `/api/v1/agent/accounts/${accountId}`);
    state.account = data;
    renderAccount();
  }

  function money(value) { return `$${value}`; }

  function action(label, id, fields, submit) {
    const form = el("form", { class: "panel-form", id }, el("h4", {}, label), fields,
      el("button", { type: "submit", id: `${id}-submit` }, label));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        await submit();
        form.reset();
      } catch (error) {
        SD.toast(error.message, "bad");
      } finally {
        button.disabled = false;
      }
    });
    return form;
  }

  function renderAccount() {
    const data = state.account;
    const panel = $("account-panel");
    if (!data) { clear(panel); return; }
    const id = data.account.id;
    const base = `/api/v1/agent/accounts/${id}`;
    const refresh = () => openAccount(id);
    const amount = el("input", { id: "adj-amount", placeholder: "-25.00", inputmode: "decimal", required: true });
    const reason = el("input", { id: "adj-reason", placeholder: "reason", required: true });
    const installments = el("select", { id: "arr-installments" });
    const arrTerms = el("p", { class: "muted", id: "arr-terms" });
    const depAmount = el("input", { id: "dep-amount", placeholder: "amount (blank: policy)" });
    const soKind = el("select", { id: "so-kind" }, ["meter_reread", "start", "stop", "transfer"]
      .map((k) => el("option", { value: k }, k.replace("_", " "))));
    const soPremise = el("select", { id: "so-premise" }, data.premise_outages.map((p) =>
      el("option", { value: p.premise_id }, p.nickname || p.address)));
    const soNotes = el("input", { id: "so-notes", placeholder: "notes" });
    const noteBody = el("textarea", { id: "note-body", rows: 2, required: true });
    clear(panel,
      el("div", { class: "summary" },
        el("h3", {}, `${data.customer_name} · #${data.account.number}`),
        el("dl", { class: "kv" },
          el("dt", {}, "Balance"), el("dd", { id: "acct-balance", class: "money" }, money(data.balance)),
          el("dt", {}, "Past due"), el("dd", {}, money(data.aging.past_due)),
          el("dt", {}, "Aging"), el("dd", {}, `cur ${data.aging.current} · 30 ${data.aging.days_30} · 60 ${data.aging.days_60} · 90+ ${data.aging.days_90_plus}`),
          el("dt", {}, "Collections"), el("dd", {}, data.collections.stage + (data.collections.hold ? ` (hold: ${data.collections.hold})` : "")),
          el("dt", {}, "Last bill"), el("dd", {}, data.last_bill ? `${money(data.last_bill.amount)} due ${data.last_bill.due_on}` : "—"),
        )),
      el("details", { open: true }, el("summary", {}, "Premises & outages"),
        el("ul", {}, data.premise_outages.map((p) => el("li", {},
          `${p.address}${p.unit ? " " + p.unit : ""}, ${p.city} `,
          p.outage ? el("span", { class: "tag bad" },
            `outage ${p.outage.status}${p.outage.etr ? ", ETR " + SD.time(p.outage.etr) : ""}`)
            : el("span", { class: "tag ok" }, "no known outage"))))),
      el("details", {}, el("summary", {}, `Bills (${data.bills.length})`),
        el("ul", {}, data.bills.map((b) => el("li", {}, `${b.issued_on}: ${money(b.amount)} due ${b.due_on}`)))),
      el("details", {}, el("summary", {}, `Payments (${data.payments.length})`),
        el("ul", {}, data.payments.map((p) => el("li", {},
          `${p.payment.posted_at.slice(0, 10)}: ${money(p.payment.amount)} ${p.payment.method || ""}${p.reversed ? " (returned)" : ""}`)))),
      el("details", {}, el("summary", {}, `Arrangements, deposits, orders`),
        el("ul", {},
          data.arrangements.map((a) => el("li", {}, `Arrangement ${a.status}: ${money(a.total)} in ${a.installment_count}`)),
          data.deposits.map((d) => el("li", {}, `Deposit ${d.status}: ${money(d.required)} (paid ${d.paid})`)),
          data.open_service_orders.map((o) => el("li", {}, `Order #${o.id} ${o.kind} ${o.status}`)))),
      el("details", { open: data.notes.length > 0 }, el("summary", {}, `Notes (${data.notes.length})`),
        el("ul", { id: "account-notes" }, data.notes.map((n) => el("li", {}, n.body)))),
      el("h3", {}, "Actions"),
      action("Post adjustment", "adj", [amount, reason], async () => {
        const result = await api("POST", `${base}/adjustments`, { amount: amount.value, reason: reason.value });
        SD.toast(result.status === "posted" ? "Adjustment posted"
          : "Above your limit: sent to a supervisor for approval", result.status === "posted" ? "good" : "warn");
        refresh();
      }),
      el("div", { class: "panel-form", id: "fees" }, el("h4", {}, "Fees"),
        data.fees.length ? el("ul", {}, data.fees.map((fee) => el("li", {},
          `${fee.posted_at.slice(0, 10)} ${fee.memo || fee.code}: ${money(fee.amount)} `,
          fee.waiver ? el("span", { class: "tag" }, `waiver ${fee.waiver}`)
            : el("button", { type: "button", class: "small waive", onclick: async () => {
              try {
                const result = await api("POST", `${base}/fee-waivers`,
                  { ledger_entry_id: fee.ledger_entry_id, reason: "waived by agent" });
                SD.toast(result.status === "posted" ? "Fee waived" : "Waiver sent for approval", "good");
                refresh();
              } catch (error) { SD.toast(error.message, "bad"); }
            } }, "Waive"))))
          : el("p", { class: "muted" }, "No fees.")),
      action("Payment arrangement", "arr", [
        el("button", { type: "button", id: "arr-check", class: "small", onclick: async () => {
          const offer = await api("GET", `${base}/arrangement-offer`);
          if (!offer.eligible) { arrTerms.textContent = `Not eligible: ${offer.reason}`; return; }
          arrTerms.textContent = `Total ${money(offer.total)}, down ${money(offer.down_payment)}`;
          clear(installments, Array.from(
            { length: offer.max_installments - offer.min_installments + 1 },
            (_, i) => el("option", { value: offer.min_installments + i }, `${offer.min_installments + i} installments`)));
        } }, "Check what policy allows"), arrTerms, installments], async () => {
        if (!installments.value) throw new Error("check what the policy allows first");
        await api("POST", `${base}/arrangements`, { installments: Number(installments.value) });
        SD.toast("Arrangement created", "good");
        refresh();
      }),
      action("Set deposit", "dep", [depAmount], async () => {
        const body = { reason: "set by agent" };
        if (depAmount.value) body.amount = depAmount.value;
        const result = await api("POST", `${base}/deposits`, body);
        SD.toast(result.required ? `Deposit of ${money(result.amount)} billed` : "No deposit required", "good");
        refresh();
      }),
      action("Service order", "so", [soKind, soPremise, soNotes], async () => {
        const result = await api("POST", `${base}/service-orders`, {
          kind: soKind.value, premise_id: soPremise.value ? Number(soPremise.value) : null,
          notes: soNotes.value || null });
        SD.toast(`Order #${result.order_id} opened`, "good");
        refresh();
      }),
      action("Add note", "note", [noteBody], async () => {
        await api("POST", `${base}/notes?conversation_id=${state.selected || ""}`, { body: noteBody.value });
        refresh();
      }),
    );
  }

  // ---- rendering ----------------------------------------------------------------------

  function renderAll() {
    renderMe();
    renderQueues();
    renderOffers();
    renderList();
    renderConversation();
    renderAccount();
  }

  function renderMe() {
    if (!state.me) return;
    $("me").textContent = `${state.me.display_name} (${state.me.role})`;
    $("presence").value = state.me.presence;
    document.body.dataset.presence = state.me.presence;
  }

  function renderQueues() {
    clear($("queues"), Object.entries(state.queues).map(([skill, q]) =>
      el("span", { class: `chip${q.sla_breached ? " bad" : ""}`, dataset: { skill },
        title: `${q.waiting} waiting, ${q.offered} on offer, ${q.agents_available} agents available` },
      `${skill} ${q.waiting + q.offered}`,
      q.oldest_enqueued_at ? el("small", { class: "age", dataset: { since: q.oldest_enqueued_at } },
        SD.ago(q.oldest_enqueued_at)) : null)));
  }

  function renderOffers() {
    const offers = [...state.offers.values()].sort((a, b) => b.offer_id - a.offer_id);
    clear($("offers"), offers.map((offer) => {
      const card = offer.conversation || {};
      const summary = (card.handoff && card.handoff.summary) || {};
      return el("li", { class: "offer", dataset: { offer: offer.offer_id } },
        el("div", { class: "offer-head" },
          el("strong", {}, card.customer_name || card.address || "Customer"),
          el("span", { class: "tag" }, `${card.channel} · ${(offer.entry && offer.entry.skill) || card.skill}`),
          el("span", { class: "countdown", dataset: { until: offer.expires_at } }, "")),
        el("p", {}, (card.handoff && card.handoff.reason) || "", summary.intent ? ` · ${summary.intent}` : ""),
        offer.entry && offer.entry.transfer_note ? el("p", { class: "note" }, `Transfer note: ${offer.entry.transfer_note}`) : null,
        el("div", { class: "row" },
          el("button", { class: "accept", type: "button", onclick: () => accept(offer.offer_id) }, "Accept (Alt+A)"),
          el("button", { class: "decline secondary", type: "button", onclick: () => decline(offer.offer_id) }, "Decline")));
    }));
    document.body.classList.toggle("has-offer", offers.length > 0);
  }

  function renderList() {
    clear($("conversations"), state.order.map((id, index) => {
      const conv = state.conversations.get(id);
      const card = conv.card || {};
      return el("li", { class: `conv${state.selected === id ? " selected" : ""}${conv.assignment && conv.assignment.state === "wrap_up" ? " wrapping" : ""}`,
        dataset: { id }, onclick: () => openConversation(id) },
        el("span", { class: "key" }, index < 9 ? String(index + 1) : ""),
        el("span", { class: "who" }, card.customer_name || card.address || `#${id}`),
        el("span", { class: "tag" }, card.channel || ""),
        conv.unread ? el("span", { class: "unread", title: "unread" }, String(conv.unread)) : null);
    }));
    const unread = [...state.conversations.values()].reduce((n, c) => n + c.unread, 0);
    if (!state.titleFlash) document.title = unread ? `(${unread}) Stormdesk console` : "Stormdesk console";
  }

  function renderConversation() {
    const conv = state.selected ? state.conversations.get(state.selected) : null;
    $("empty").hidden = !!conv;
    $("open").hidden = !conv;
    if (!conv) return;
    const card = conv.card || {};
    $("conv-title").textContent = `${card.customer_name || card.address} · ${card.channel}`;
    const assignment = conv.assignment || {};
    $("conv-sla").dataset.due = assignment.first_response_at ? "" : (assignment.first_response_due || "");
    const handoff = card.handoff || {};
    const summary = handoff.summary || {};
    clear($("handoff"),
      el("strong", {}, "Hand-off: "), `${handoff.reason || "—"} · queue ${handoff.skill || card.skill || "—"}`,
      el("ul", {}, Object.entries(summary).map(([k, v]) =>
        el("li", {}, el("span", { class: "muted" }, `${k}: `), typeof v === "object" ? JSON.stringify(v) : String(v)))));
    const items = [...conv.messages.values()].sort((a, b) => a.id - b.id).map((m) =>
      el("li", { class: `msg ${m.author}`, dataset: { id: m.id } },
        el("span", { class: "meta" }, `${m.author} · ${SD.time(m.at)}${m.direction === "outbound" ? " · " + m.status : ""}`),
        el("span", { class: "body" }, m.body)));
    const notes = conv.notes.map((n) => el("li", { class: "msg note" },
      el("span", { class: "meta" }, `internal note · ${SD.time(n.at)}`), el("span", { class: "body" }, n.body)));
    clear($("transcript"), items, notes);
    $("transcript").scrollTop = $("transcript").scrollHeight;
    const wrapping = assignment.state === "wrap_up";
    $("wrapup-form").hidden = !wrapping && $("wrapup-form").hidden;
    if (wrapping) showWrapUp(assignment);
  }

  function showWrapUp(assignment) {
    const select = $("disposition");
    if (!select.options.length) {
      clear(select, state.dispositions.map((d) => el("option", { value: d.code }, d.label)));
    }
    $("wrapup-timer").dataset.until = assignment.wrap_up_due || "";
    $("wrapup-form").hidden = false;
    $("transfer-form").hidden = true;
  }

  function storm(data) {
    const banner = $("storm-banner");
    banner.hidden = !(data && data.on);
    banner.textContent = data && data.on ? `STORM MODE — ${data.message || "expect high volume; emergencies first"}` : "";
  }

  // Countdowns and ages tick on the client.
  setInterval(() => {
    for (const node of document.querySelectorAll("[data-until]")) {
      if (!node.dataset.until) { node.textContent = ""; continue; }
      const left = Math.max(0, Math.round((Date.parse(node.dataset.until) - Date.now()) / 1000));
      node.textContent = `${left}s`;
      node.classList.toggle("urgent", left <= 5);
    }
    for (const node of document.querySelectorAll("[data-since]")) node.textContent = SD.ago(node.dataset.since);
    const sla = $("conv-sla");
    if (sla && sla.dataset.due) {
      const left = Math.round((Date.parse(sla.dataset.due) - Date.now()) / 1000);
      sla.textContent = left >= 0 ? `first reply due in ${left}s` : `first reply overdue ${-left}s`;
      sla.classList.toggle("bad", left < 0);
    } else if (sla) sla.textContent = "";
  }, 1000);

  function alertOffer(offer) {
    SD.chime();
    if (state.titleFlash) clearInterval(state.titleFlash);
    let on = false;
    state.titleFlash = setInterval(() => {
      on = !on;
      document.title = on ? "● NEW OFFER" : "Stormdesk console";
      if (!state.offers.size) { clearInterval(state.titleFlash); state.titleFlash = null; renderList(); }
    }, 700);
    if (document.hidden && window.Notification && Notification.permission === "granted") {
      new Notification("Stormdesk: new conversation", { body: (offer.conversation || {}).customer_name || "" });
    }
  }

  // ---- live events --------------------------------------------------------------------

  function onEvent(message) {
    const data = message.data || {};
    switch (message.type) {
      case "welcome": if (message.resumed === false) loadState(); break;
      case "resync": loadState(); break;
      case "presence.changed":
        if (data.agent_id === state.me.agent_id) { state.me = { ...state.me, ...data }; renderMe(); }
        break;
      case "offer.new":
        state.offers.set(data.offer_id, data);
        renderOffers();
        alertOffer(data);
        break;
      case "offer.declined": case "offer.expired": case "offer.withdrawn":
        state.offers.delete(data.offer_id);
        renderOffers();
        if (message.type === "offer.expired") SD.toast("An offer timed out; you are now away", "warn");
        break;
      case "conversation.assigned":
        for (const [id, offer] of state.offers) {
          if (offer.conversation_id === data.conversation_id) state.offers.delete(id);
        }
        upsertConversation(data.conversation_id, data.conversation, data);
        renderOffers();
        openConversation(data.conversation_id);
        break;
      case "message.in": case "message.out": {
        const conv = state.conversations.get(data.conversation_id);
        if (!conv) break;
        const messages = data.messages || [data.message];
        for (const m of messages) conv.messages.set(m.id, m);
        if (message.type === "message.in") {
          $("typing").hidden = true;
          if (state.selected !== data.conversation_id || document.hidden) { conv.unread += 1; SD.chime(); }
        } else if (conv.assignment) {
          conv.assignment.first_response_at = conv.assignment.first_response_at || message.at;
        }
        renderList();
        if (state.selected === data.conversation_id) renderConversation();
        break;
      }
      case "message.status": {
        const conv = state.conversations.get(data.conversation_id);
        const m = conv && conv.messages.get(data.message_id);
        if (m) { m.status = data.status; if (state.selected === data.conversation_id) renderConversation(); }
        break;
      }
      case "note.added": {
        const conv = state.conversations.get(data.conversation_id);
        if (conv && !conv.notes.some((n) => n.note_id === data.note_id)) {
          conv.notes.push(data);
          if (state.selected === data.conversation_id) renderConversation();
        }
        break;
      }
      case "typing":
        if (state.selected === message.conversation_id) {
          $("typing").hidden = false;
          setTimeout(() => { $("typing").hidden = true; }, 4000);
        }
        break;
      case "conversation.wrap_up": {
        const conv = upsertConversation(data.conversation_id, null, data);
        conv.assignment = data;
        if (state.selected === data.conversation_id) showWrapUp(data);
        renderList();
        break;
      }
      case "conversation.closed": case "conversation.transferred": case "conversation.handed_back":
        dropConversation(data.conversation_id);
        $("wrapup-form").hidden = true;
        $("transfer-form").hidden = true;
        renderAll();
        break;
      case "queue.update":
        Object.assign(state.queues, data.queues);
        renderQueues();
        break;
      case "sla.breach":
        SD.toast(`SLA missed: ${data.sla.replace("_", " ")} (${data.skill})`, "bad");
        break;
      case "approval.decided":
        SD.toast(`Adjustment of $${data.amount} ${data.status} by ${data.decided_by}`,
          data.status === "approved" ? "good" : "bad");
        if (state.account && state.account.account.id === data.account_id) openAccount(data.account_id);
        break;
      case "account.action":
        if (state.account && state.account.account.id === data.account_id && data.by !== `agent:${state.me.username}`) {
          openAccount(data.account_id);
        }
        break;
      case "storm.banner": storm(data); break;
      default: break;
    }
  }

  // ---- commands -----------------------------------------------------------------------

  async function accept(offerId) {
    try { await state.live.command("offer.accept", { offer_id: offerId }); }
    catch (error) { SD.toast(error.message, "bad"); state.offers.delete(offerId); renderOffers(); }
  }

  async function decline(offerId) {
    try { await state.live.command("offer.decline", { offer_id: offerId }); }
    catch (error) { SD.toast(error.message, "bad"); }
  }

  function newestOffer() {
    return [...state.offers.keys()].sort((a, b) => b - a)[0];
  }

  async function send() {
    const text = $("reply").value.trim();
    if (!text || !state.selected) return;
    const asNote = $("note-mode").checked;
    try {
      if (asNote) await state.live.command("note.add", { conversation_id: state.selected, body: text });
      else {
        const result = await state.live.command("message.send", { conversation_id: state.selected, text });
        const conv = state.conversations.get(state.selected);
        for (const m of result.messages) conv.messages.set(m.id, m);
        renderConversation();
      }
      $("reply").value = "";
    } catch (error) { SD.toast(error.message, "bad"); }
  }

  function expandCanned() {
    const box = $("reply");
    const match = box.value.match(/(^|\s)\/(\w+)$/);
    if (!match) return false;
    const found = state.canned.find((c) => c.shortcut === match[2]);
    if (!found) return false;
    box.value = box.value.slice(0, box.value.length - match[2].length - 1) + found.text;
    return true;
  }

  function bind() {
    $("composer").addEventListener("submit", (event) => { event.preventDefault(); send(); });
    $("reply").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); send(); }
      if (event.key === "Tab" && expandCanned()) event.preventDefault();
    });
    let lastTyping = 0;
    $("reply").addEventListener("input", () => {
      if (!state.selected || $("note-mode").checked || Date.now() - lastTyping < 3000) return;
      lastTyping = Date.now();
      state.live.command("typing", { conversation_id: state.selected }).catch(() => {});
    });
    $("canned").addEventListener("change", () => {
      const found = state.canned.find((c) => String(c.id) === $("canned").value);
      if (found) { $("reply").value = found.text; $("reply").focus(); }
      $("canned").value = "";
    });
    $("presence").addEventListener("change", async () => {
      try { await state.live.command("presence.set", { presence: $("presence").value }); }
      catch (error) { SD.toast(error.message, "bad"); renderMe(); }
    });
    $("btn-wrapup").addEventListener("click", async () => {
      try { await state.live.command("wrap_up.start", { conversation_id: state.selected }); }
      catch (error) { SD.toast(error.message, "bad"); }
    });
    $("wrapup-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await state.live.command("wrap_up.complete", { conversation_id: state.selected,
          disposition: $("disposition").value, notes: $("wrapup-notes").value });
        $("wrapup-notes").value = "";
        SD.toast("Conversation closed", "good");
      } catch (error) { SD.toast(error.message, "bad"); }
    });
    $("btn-handback").addEventListener("click", async () => {
      try { await state.live.command("hand_back", { conversation_id: state.selected }); }
      catch (error) { SD.toast(error.message, "bad"); }
    });
    $("btn-transfer").addEventListener("click", async () => {
      const form = $("transfer-form");
      form.hidden = !form.hidden;
      if (!form.hidden) {
        const agents = await api("GET", "/api/v1/agent/agents");
        clear($("transfer-agent"), el("option", { value: "" }, "—"), agents
          .filter((a) => a.agent_id !== state.me.agent_id && a.presence !== "offline")
          .map((a) => el("option", { value: a.agent_id }, `${a.display_name} (${a.presence})`)));
      }
    });
    $("transfer-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const fields = { conversation_id: state.selected, note: $("transfer-note").value || null };
      if ($("transfer-queue").value) fields.to_queue = $("transfer-queue").value;
      if ($("transfer-agent").value) fields.to_agent_id = Number($("transfer-agent").value);
      try { await state.live.command("transfer", fields); SD.toast("Transferred", "good"); }
      catch (error) { SD.toast(error.message, "bad"); }
    });
    $("callbacks-refresh").addEventListener("click", loadCallbacks);
    $("sign-out").addEventListener("click", async () => {
      try { await api("POST", "/api/v1/agent/logout"); } finally { SD.signOut(); }
    });
    $("help-button").addEventListener("click", () => { $("help").hidden = false; });
    $("help").addEventListener("click", () => { $("help").hidden = true; });
    document.addEventListener("keydown", (event) => {
      if (event.key === "F1") { event.preventDefault(); $("help").hidden = !$("help").hidden; return; }
      if (event.key === "Escape") { $("help").hidden = true; $("transfer-form").hidden = true; return; }
      if (!event.altKey) return;
      const key = event.key.toLowerCase();
      const handled = (() => {
        if (key === "a" && newestOffer()) { accept(newestOffer()); return true; }
        if (key === "d" && newestOffer()) { decline(newestOffer()); return true; }
        if (key === "n") { $("note-mode").checked = !$("note-mode").checked; return true; }
        if (key === "w" && state.selected) { $("btn-wrapup").click(); return true; }
        if (key === "h" && state.selected) { $("btn-handback").click(); return true; }
        if (key === "t" && state.selected) { $("btn-transfer").click(); return true; }
        if (key === "s") { $("presence").focus(); return true; }
        if (/^[1-9]$/.test(key) && state.order[Number(key) - 1]) { openConversation(state.order[Number(key) - 1]); return true; }
        if (key === "arrowup" || key === "arrowdown") {
          const at = state.order.indexOf(state.selected);
          const next = state.order[at + (key === "arrowdown" ? 1 : -1)];
          if (next) openConversation(next);
          return true;
        }
        return false;
      })();
      if (handled) event.preventDefault();
    });
  }

  async function loadCallbacks() {
    try {
      const items = await api("GET", "/api/v1/agent/callbacks");
      clear($("callbacks"), items.map((entry) => el("li", {},
        `${entry.state === "callback" ? "Call back" : "Message"} ${entry.callback_number || ""} (${entry.skill}) `,
        entry.customer_note ? el("em", {}, entry.customer_note) : null,
        el("button", { class: "small", type: "button", onclick: async () => {
          await api("POST", `/api/v1/agent/callbacks/${entry.entry_id}/done`);
          loadCallbacks();
        } }, "Done"))));
    } catch (error) { /* shown on the next refresh */ }
  }

  async function main() {
    await SD.signIn("Stormdesk console");
    $("app").hidden = false;
    bind();
    const lastId = await loadState();
    state.live = new SD.Live(onEvent, (status) => {
      $("conn-status").textContent = status;
      $("conn-status").className = `conn ${status}`;
    });
    state.live.start(lastId);
    SD.keepTokenFresh(state.live);
    loadCallbacks();
    if (window.Notification && Notification.permission === "default") Notification.requestPermission();
  }

  window.addEventListener("DOMContentLoaded", main);
})();
