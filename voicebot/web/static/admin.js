"use strict";

function row(cells) {
  const tr = document.createElement("tr");
  for (const value of cells) {
    const td = document.createElement("td");
    voicebot.text(td, value);
    tr.append(td);
  }
  return tr;
}

async function start() {
  await voicebot.session();
  const me = await voicebot.call("GET", "/api/me");
  if (me.status !== 200) return;
  voicebot.text(document.getElementById("who"), me.data.name);
  document.getElementById("sign-out").addEventListener("click", voicebot.signOut);
  const users = await voicebot.call("GET", "/api/users");
  const usersBody = document.getElementById("users");
  for (const u of users.data.users || []) {
    usersBody.append(row([u.name, u.roles.join(", "), u.totp_enabled ? "yes" : "no"]));
  }
  const audit = await voicebot.call("GET", "/api/audit?limit=50");
  const auditBody = document.getElementById("audit");
  for (const e of audit.data.events || []) {
    auditBody.append(row([e.at, e.kind, e.number, JSON.stringify(e.detail)]));
  }
}

start();
