"use strict";

const homeFor = (roles) =>
  roles.includes("agent") ? "/console"
    : roles.includes("admin") ? "/admin"
    : roles.includes("auditor") ? "/audit"
    : null;

async function start() {
  const form = document.getElementById("login");
  const message = document.getElementById("message");
  const totpRow = document.getElementById("totp-row");
  const state = await voicebot.session();
  if (state.authenticated) {
    const home = homeFor(state.user.roles);
    if (home) return window.location.assign(home);
    voicebot.text(message, `Signed in as ${state.user.name}.`);
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      name: form.elements.name.value,
      password: form.elements.password.value,
      totp: form.elements.totp.value || null,
    };
    const { status, data } = await voicebot.call("POST", "/api/session", body);
    if (status === 200) {
      const home = homeFor(data.user.roles);
      if (home) return window.location.assign(home);
      voicebot.text(message, `Signed in as ${data.user.name}. Use the API for your role.`);
    } else if (data.error === "totp_required") {
      totpRow.hidden = false;
      form.elements.totp.focus();
      voicebot.text(message, "Enter the code from your authenticator app.");
    } else {
      voicebot.text(message, data.message || "Sign-in failed.");
    }
  });
}

start();
