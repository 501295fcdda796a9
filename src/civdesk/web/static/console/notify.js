// A new conversation: a short beep made here with WebAudio (no sound file), and a browser
// notification once the agent has allowed them (asked only on a click, as browsers require).

import { t } from "./i18n.js";

let audio = null;

/** Browsers start audio only after a user gesture: prepare it on the first one. */
export function unlockAudioOnGesture() {
  const unlock = () => {
    try {
      audio = audio || new AudioContext();
      if (audio.state === "suspended") audio.resume();
    } catch {
      audio = null;
    }
  };
  window.addEventListener("pointerdown", unlock, { once: true, capture: true });
  window.addEventListener("keydown", unlock, { once: true, capture: true });
}

export function beep() {
  if (!audio || audio.state !== "running") return false;
  const start = audio.currentTime + 0.01;
  const gain = audio.createGain();
  gain.connect(audio.destination);
  gain.gain.setValueAtTime(0.0001, start);
  gain.gain.exponentialRampToValueAtTime(0.18, start + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.32);
  const tone = audio.createOscillator();
  tone.type = "sine";
  tone.frequency.setValueAtTime(880, start);
  tone.frequency.setValueAtTime(660, start + 0.14);
  tone.connect(gain);
  tone.start(start);
  tone.stop(start + 0.34);
  return true;
}

export function notificationsSupported() {
  return "Notification" in window;
}

export function notificationPermission() {
  return notificationsSupported() ? Notification.permission : "denied";
}

export async function askPermission() {
  if (!notificationsSupported()) return "denied";
  return Notification.requestPermission();
}

/** Shows a notification when the agent is looking elsewhere; a click brings them to the conversation. */
export function notifyNewConversation({ name, channel, onClick }) {
  if (notificationPermission() !== "granted") return null;
  if (document.visibilityState === "visible" && document.hasFocus()) return null;
  const notification = new Notification(t("notify.title"), {
    body: t("notify.body", { name, channel }),
    tag: "civdesk-new-conversation",
    lang: document.documentElement.lang,
  });
  notification.addEventListener("click", () => {
    window.focus();
    onClick();
    notification.close();
  });
  return notification;
}
