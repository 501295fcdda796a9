// Boot: the login form, or the console when this tab already holds a token (sessionStorage).

import * as i18n from "./i18n.js";
import { $, $$ } from "./dom.js";
import { createApi } from "./api.js";
import { unlockAudioOnGesture } from "./notify.js";
import { ConsoleSession } from "./session.js";

const TOKEN = "civdesk.token";
const NOTICE = "civdesk.notice";
let session = null;

function restart(notice) {
  sessionStorage.removeItem(TOKEN);
  if (notice) sessionStorage.setItem(NOTICE, notice);
  location.replace("/console");
}

function showLogin() {
  $("#app").hidden = true;
  $("#login-screen").hidden = false;
  const notice = sessionStorage.getItem(NOTICE);
  sessionStorage.removeItem(NOTICE);
  $("#login-note").textContent = notice ? i18n.t(`session.${notice}`) : "";
  $("#login-note").hidden = !notice;
  $("#login-submit").disabled = false;
  // Someone quick may already be typing: never pull focus away from them.
  if (!document.activeElement || document.activeElement === document.body) $("#email").focus();
}

function loginError(message) {
  const error = $("#login-error");
  error.hidden = !message;
  error.textContent = message || "";
  for (const input of [$("#email"), $("#password")]) {
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }
}

async function login(event) {
  event.preventDefault();
  const email = $("#email").value.trim();
  const password = $("#password").value;
  if (!email || !password) {
    loginError(i18n.t("login.error.empty"));
    (email ? $("#password") : $("#email")).focus();
    return;
  }
  const submit = $("#login-submit");
  submit.disabled = true;
  submit.textContent = i18n.t("login.busy");
  try {
    const api = createApi({ token: () => null, onUnauthorized: () => {} });
    const { access_token: token } = await api.post("/api/v1/auth/login", { email, password });
    sessionStorage.setItem(TOKEN, token);
    loginError(null);
    $("#password").value = "";
    await open(token, { fresh: true });
  } catch (error) {
    loginError(error.code === "network" ? i18n.t("login.error.network") : error.message);
    $("#password").focus();
  } finally {
    submit.disabled = false;
    submit.textContent = i18n.t("login.submit");
  }
}

async function open(token, { fresh }) {
  const starting = new ConsoleSession({ token, onExpired: () => restart("expired") });
  await starting.start({ fresh }); // throws when the server cannot be reached
  session = starting;
  $("#login-screen").hidden = true;
  $("#app").hidden = false;
  session.afterShown({ fresh });
}

async function logout() {
  if (session) await session.stop();
  restart("logged_out");
}

async function switchLanguage() {
  const focused = document.activeElement;
  await i18n.load(i18n.other());
  session?.relabel();
  if (focused?.isConnected) focused.focus();
}

async function boot() {
  unlockAudioOnGesture();
  await i18n.load(document.documentElement.lang);
  $("#login-form").addEventListener("submit", login);
  $("#logout").addEventListener("click", logout);
  for (const button of $$("[data-action=language]")) button.addEventListener("click", switchLanguage);
  const token = sessionStorage.getItem(TOKEN);
  if (token) {
    try {
      await open(token, { fresh: false });
      return;
    } catch (error) {
      if (error.status === 401) return; // the session has expired: restart() is already on its way
      showLogin();
      loginError(error.code === "network" ? i18n.t("login.error.network") : error.message);
      return;
    }
  }
  showLogin();
}

boot();
