// The agent console: presence, and the waiting calls (long-polled; numbers arrive masked).
"use strict";

const $ = (id) => document.getElementById(id);

function showPresence(status) {
  const el = $("presence");
  voicebot.text(el, status);
  el.dataset.status = status;
  $("go-available").disabled = status === "available";
  $("go-away").disabled = status === "away";
}

async function setPresence(status) {
  const { status: code, data } = await voicebot.call("PUT", "/api/agent/presence", { status });
  if (code === 200) showPresence(data.status);
  else voicebot.text($("message"), data.message || "Could not change status.");
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

async function poll() {
  let version = null;
  for (;;) {
    const query = version === null ? "" : `?since=${version}&wait=20`;
    try {
      const { status, data } = await voicebot.call("GET", `/api/agent/handoffs${query}`);
      if (status !== 200) throw new Error(data.message || String(status));
      version = data.version;
      showHandoffs(data.handoffs);
    } catch (err) {
      voicebot.text($("message"), `Lost contact with the server (${err.message}); retrying.`);
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }
}

async function start() {
  await voicebot.session();
  const me = await voicebot.call("GET", "/api/me");
  if (me.status !== 200) return;
  voicebot.text($("who"), me.data.name);
  const presence = await voicebot.call("GET", "/api/agent/presence");
  showPresence(presence.data.status);
  $("go-available").addEventListener("click", () => setPresence("available"));
  $("go-away").addEventListener("click", () => setPresence("away"));
  $("sign-out").addEventListener("click", voicebot.signOut);
  poll();
}

start();
