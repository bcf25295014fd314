// The agent console: presence, the call ringing here (with its context), the call itself (the
// browser's microphone and speaker over WebRTC), and the wrap-up. Numbers arrive masked.
import { connectAgentAudio } from "/static/agent_audio.js";

const $ = (id) => document.getElementById(id);
const state = { activity: "idle", handoff: null, audio: null, meters: null, presenceSet: 0 };

function showPresence(status) {
  const el = $("presence");
  voicebot.text(el, status);
  el.dataset.status = status;
  $("go-available").disabled = status === "available";
  $("go-away").disabled = status === "away";
}

async function setPresence(status) {
  state.presenceSet += 1; // a poll answer that left before this change must not undo it
  const { status: code, data } = await voicebot.call("PUT", "/api/agent/presence", { status });
  if (code === 200) showPresence(data.status);
  else say(data.message || "Could not change status.");
}

function say(message) {
  voicebot.text($("message"), message);
}

function showHandoffs(handoffs) {
  const list = $("handoffs");
  list.replaceChildren();
  for (const h of handoffs) {
    const item = document.createElement("li");
    const head = document.createElement("strong");
    voicebot.text(head, `${h.number} · ${h.queue}`);
    const detail = document.createElement("span");
    voicebot.text(detail, ` ${h.reason}${h.summary ? " — " + h.summary : ""}`);
    item.append(head, detail);
    list.append(item);
  }
  voicebot.text($("count"), String(handoffs.length));
  $("empty").hidden = handoffs.length > 0;
}

function showContext(h) {
  voicebot.text($("in-queue"), `· ${h.queue}`);
  voicebot.text($("in-number"), h.number);
  voicebot.text($("in-contact"), h.contact || "—");
  voicebot.text($("in-flow"), h.flow);
  voicebot.text($("in-intent"), h.intent || "—");
  voicebot.text($("in-reason"), h.reason);
  const vars = $("in-vars");
  vars.replaceChildren();
  for (const [name, value] of Object.entries(h.context || {})) {
    const item = document.createElement("li");
    voicebot.text(item, `${name}: ${value}`);
    vars.append(item);
  }
  const lines = $("in-transcript");
  lines.replaceChildren();
  for (const line of h.transcript || []) {
    const item = document.createElement("li");
    item.dataset.speaker = line.speaker;
    voicebot.text(item, `${line.speaker === "bot" ? "Bot" : "Caller"}: ${line.text}`);
    lines.append(item);
  }
}

function showActivity(activity, handoff) {
  const changed = activity !== state.activity || (handoff && handoff.id) !== (state.handoff && state.handoff.id);
  state.activity = activity;
  state.handoff = handoff;
  const badge = $("activity");
  badge.dataset.activity = activity;
  voicebot.text(badge, activity.replace("_", " "));
  const onCall = activity === "connecting" || activity === "in_call";
  // The context (why, contact, transcript so far) stays visible during the call.
  $("incoming").hidden = activity !== "ringing" && !onCall;
  $("incoming").classList.toggle("ringing", activity === "ringing");
  $("ring-actions").hidden = activity !== "ringing";
  voicebot.text($("in-title"), activity === "ringing" ? "Incoming call" : "Call context");
  $("call").hidden = !onCall;
  $("wrapup").hidden = activity !== "wrap_up";
  if (!changed || !handoff) return;
  if (activity === "ringing") {
    showContext(handoff);
    $("accept").disabled = false;
    $("decline").disabled = false;
  }
  if (onCall) {
    if (!$("in-reason").textContent) showContext(handoff); // e.g. the page was reloaded mid-call
    voicebot.text($("call-state"), activity === "in_call" ? "· connected" : "· connecting");
    voicebot.text($("call-number"), handoff.number);
    voicebot.text($("call-contact"), handoff.contact || "");
  }
  if (activity === "wrap_up" || activity === "idle") stopAudio();
}

function stopAudio() {
  if (state.meters !== null) clearInterval(state.meters);
  state.meters = null;
  if (state.audio !== null) state.audio.hangUp();
  state.audio = null;
}

async function accept() {
  const h = state.handoff;
  if (!h) return;
  $("accept").disabled = true;
  $("decline").disabled = true;
  try {
    state.audio = await connectAgentAudio(
      `/api/agent/handoffs/${encodeURIComponent(h.id)}/accept`,
      await voicebot.token(),
      { audioElement: $("remote-audio") },
    );
    state.meters = setInterval(() => {
      if (state.audio === null) return;
      $("level-in").value = Math.min(1, state.audio.inboundLevel() * 4);
      $("level-out").value = Math.min(1, state.audio.outboundLevel() * 4);
    }, 100);
  } catch (err) {
    say(`Could not take the call: ${err.message}`);
    stopAudio();
  }
}

async function decline() {
  const h = state.handoff;
  if (!h) return;
  const { status, data } = await voicebot.call("POST", `/api/agent/handoffs/${encodeURIComponent(h.id)}/decline`);
  if (status !== 200) say(data.message || "Could not decline.");
}

async function hangUp() {
  const h = state.handoff;
  if (!h) return;
  const { status, data } = await voicebot.call("POST", `/api/agent/calls/${encodeURIComponent(h.id)}/hangup`);
  if (status !== 200) say(data.message || "Could not hang up.");
  stopAudio();
}

async function saveDisposition() {
  const h = state.handoff;
  if (!h) return;
  const body = { disposition: $("disposition").value, note: $("note").value };
  if (body.disposition === "callback" && $("callback-at").value) {
    body.callback_at = new Date($("callback-at").value).toISOString();
  }
  const { status, data } = await voicebot.call("POST", `/api/agent/calls/${encodeURIComponent(h.id)}/disposition`, body);
  if (status === 200) {
    say(`Saved: ${data.disposition.replace("_", " ")}.`);
    $("note").value = "";
  } else {
    say(data.message || "Could not save the disposition.");
  }
}

async function poll() {
  let version = null;
  for (;;) {
    const query = version === null ? "" : `?since=${version}&wait=20`;
    try {
      const presenceSet = state.presenceSet;
      const { status, data } = await voicebot.call("GET", `/api/agent/handoffs${query}`);
      if (status !== 200) throw new Error(data.message || String(status));
      version = data.version;
      showHandoffs(data.handoffs);
      if (presenceSet === state.presenceSet) showPresence(data.mine.presence);
      showActivity(data.mine.activity, data.mine.handoff);
    } catch (err) {
      say(`Lost contact with the server (${err.message}); retrying.`);
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }
}

async function start() {
  await voicebot.session();
  const me = await voicebot.call("GET", "/api/me");
  if (me.status !== 200) return;
  voicebot.text($("who"), me.data.name);
  // The presence buttons stay disabled (as served) until they are wired: a click before that
  // would be lost while the page still showed the old status.
  $("go-available").addEventListener("click", () => setPresence("available"));
  $("go-away").addEventListener("click", () => setPresence("away"));
  const presence = await voicebot.call("GET", "/api/agent/presence");
  showPresence(presence.data.status);
  $("sign-out").addEventListener("click", voicebot.signOut);
  $("accept").addEventListener("click", accept);
  $("decline").addEventListener("click", decline);
  $("hang-up").addEventListener("click", hangUp);
  $("save-disposition").addEventListener("click", saveDisposition);
  $("disposition").addEventListener("change", () => {
    $("callback-row").hidden = $("disposition").value !== "callback";
  });
  poll();
}

start();
