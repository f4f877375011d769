// The portal's small script: live operation states, the offer's price preview, the lineage tree.
// No build step, no dependencies; every page works without it (states then update on reload).
"use strict";

const FINAL = ["confirmed", "failed", "rejected", "expired"];
const LABELS = () => JSON.parse(document.body.dataset.labels || "{}");

// Follow every operation on the page that is not final yet (GET /ops/<id>.json, once a second).
// When one is confirmed, the page's data section is fetched again so lists show the new state.
function followOperations() {
  document.querySelectorAll("[data-op]").forEach((el) => {
    if (FINAL.includes(el.dataset.opState) || el.dataset.following) return;
    el.dataset.following = "1";
    const poll = async () => {
      let op;
      try {
        const r = await fetch(`/ops/${encodeURIComponent(el.dataset.op)}.json`, {credentials: "same-origin"});
        op = await r.json();
        if (!r.ok) throw new Error(op.error ? op.error.message : r.status);
      } catch (e) {
        setTimeout(poll, 3000);
        return;
      }
      const labels = LABELS();
      el.dataset.opState = op.state;
      const state = el.querySelector(".op-state");
      if (state) {
        state.textContent = labels["state_" + op.state] || op.state;
        state.className = "op-state state state-" + op.state;
      }
      const result = el.querySelector(".op-result");
      if (result) {
        const parts = Object.entries(op.result || {}).map(([k, v]) => `${k}=${v}`);
        if (op.error) parts.unshift(op.error.error || op.error.message || op.error.code || "");
        result.textContent = parts.join(" ");
      }
      // awaiting a checker's approval (a human decision): looked at less often
      if (!FINAL.includes(op.state)) setTimeout(poll, op.state === "awaiting_approval" ? 5000 : 1000);
      else if (op.state === "confirmed" && el.closest("#flash")) refreshData();
    };
    setTimeout(poll, 500);
  });
}

async function refreshData() {
  const r = await fetch(location.href, {credentials: "same-origin"});
  if (!r.ok) return;
  const doc = new DOMParser().parseFromString(await r.text(), "text/html");
  const fresh = doc.getElementById("data");
  const data = document.getElementById("data");
  if (fresh && data) {
    data.innerHTML = fresh.innerHTML;
    data.dataset.refreshed = String(Number(data.dataset.refreshed || 0) + 1);
    wire();
  }
}

// The offer form: the price a factor pays now, from the gateway's quote.
function quotePreview() {
  const form = document.querySelector("form[data-quote]");
  if (!form) return;
  const update = async () => {
    const amount = form.elements.amount.value, rate = form.elements.rate.value;
    const out = document.getElementById("quote-price"), days = document.getElementById("quote-days");
    if (!amount || !rate) { out.textContent = "—"; days.textContent = ""; return; }
    const q = new URLSearchParams({amount, rate, maturity: form.dataset.maturity});
    const r = await fetch(`/quote.json?${q}`, {credentials: "same-origin"});
    const body = await r.json();
    if (!r.ok) { out.textContent = body.error ? body.error.message : String(r.status); days.textContent = ""; return; }
    out.textContent = "¥" + body.price;
    days.textContent = `(${body.days} ${LABELS().days || "days"})`;
  };
  form.elements.amount.addEventListener("input", update);
  form.elements.rate.addEventListener("input", update);
}

function treeButtons() {
  const all = (open) => document.querySelectorAll("#tree details").forEach((d) => { d.open = open; });
  const e = document.getElementById("expand-all"), c = document.getElementById("collapse-all");
  if (e) e.addEventListener("click", () => all(true));
  if (c) c.addEventListener("click", () => all(false));
}

function wire() {
  followOperations();
  quotePreview();
  treeButtons();
}

document.addEventListener("DOMContentLoaded", wire);
