// The auditor page: campaigns, their masked reports and calls; transcripts and recordings are
// fetched only when asked for, because every such read is audited.
"use strict";

function cell(tr, value) {
  const td = document.createElement("td");
  if (value instanceof Node) td.append(value);
  else voicebot.text(td, value);
  tr.append(td);
  return td;
}

function button(label, onClick) {
  const b = document.createElement("button");
  b.className = "quiet";
  voicebot.text(b, label);
  b.addEventListener("click", onClick);
  return b;
}

function outcomes(counts) {
  return Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(", ") || "none";
}

function qaText(qa) {
  if (qa === null) return "—";
  return qa.passed ? "pass" : `fail: ${qa.failed.join(", ")}`;
}

async function showTranscript(attempt) {
  const section = document.getElementById("transcript-section");
  const list = document.getElementById("transcript");
  const message = document.getElementById("transcript-message");
  section.hidden = false;
  voicebot.text(document.getElementById("transcript-of"), String(attempt));
  list.replaceChildren();
  const { status, data } = await voicebot.call("GET", `/api/calls/${attempt}/transcript`);
  voicebot.text(message, status === 200 ? "Redacted before it was stored." : data.message || "");
  for (const line of data.lines || []) {
    const li = document.createElement("li");
    voicebot.text(li, `${line.who}: ${line.text}`);
    list.append(li);
  }
}

function play(td, attempt) {
  // The recording is requested only now: creating the player is the audited access.
  const audio = document.createElement("audio");
  audio.controls = true;
  audio.autoplay = true;
  audio.src = `/api/calls/${attempt}/recording`;
  audio.addEventListener("error", () => voicebot.text(td, "no recording (never stored or purged)"));
  td.replaceChildren(audio);
}

async function showCalls(name) {
  const { status, data } = await voicebot.call(
    "GET", `/api/campaigns/${encodeURIComponent(name)}/calls`);
  const body = document.getElementById("calls");
  body.replaceChildren();
  document.getElementById("calls-section").hidden = false;
  voicebot.text(document.getElementById("calls-of"), name);
  if (status !== 200) return voicebot.text(document.getElementById("message"), data.message || "");
  for (const c of data.calls) {
    const tr = document.createElement("tr");
    cell(tr, String(c.attempt));
    cell(tr, c.number);
    cell(tr, c.outcome || c.state);
    cell(tr, c.reserved_at);
    cell(tr, c.talk_seconds === null ? "" : `${c.talk_seconds.toFixed(1)}s`);
    cell(tr, qaText(c.qa));
    cell(tr, c.disposition ? c.disposition.replace("_", " ") : "");
    const actions = cell(tr, "");
    const player = document.createElement("span");
    actions.append(
      button("Play", () => play(player, c.attempt)),
      button("Transcript", () => showTranscript(c.attempt)),
      player,
    );
    body.append(tr);
  }
}

async function start() {
  await voicebot.session();
  const me = await voicebot.call("GET", "/api/me");
  if (me.status !== 200) return;
  voicebot.text(document.getElementById("who"), me.data.name);
  document.getElementById("sign-out").addEventListener("click", voicebot.signOut);
  const { data } = await voicebot.call("GET", "/api/campaigns");
  const body = document.getElementById("campaigns");
  for (const c of data.campaigns || []) {
    const tr = document.createElement("tr");
    cell(tr, c.name);
    cell(tr, c.purpose);
    cell(tr, String(c.contacts));
    cell(tr, outcomes(c.outcomes));
    const report = document.createElement("a");
    report.href = `/api/campaigns/${encodeURIComponent(c.name)}/report`;
    report.target = "_blank";
    report.rel = "noopener";
    voicebot.text(report, "Report");
    const actions = cell(tr, report);
    actions.append(" ", button("Calls", () => showCalls(c.name)));
    body.append(tr);
  }
}

start();
