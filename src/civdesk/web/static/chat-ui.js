/* civdesk citizen web chat: the pieces of the page (messages, files, buttons, the attach control).
 * Loaded before chat.js, which keeps the state and talks to the server; nothing here does network I/O.
 * Also the page's words: t(key) reads the catalogue the server put in #chat's data-strings.
 */
(function () {
  "use strict";

  // The page's strings in its language (static/chat-i18n/<lang>.json), handed over by the server.
  const root = document.getElementById("chat");
  let strings = {};
  try { strings = JSON.parse((root && root.dataset.strings) || "{}"); } catch (_) { /* keys show themselves */ }
  const lang = document.documentElement.lang === "en" ? "en" : "uk";
  /** t("attach.too_big", {name: "a.pdf"}): the string with {name} filled in; a missing key shows itself. */
  function t(key, values) {
    const text = typeof strings[key] === "string" ? strings[key] : key;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (values && name in values ? String(values[name]) : whole));
  }
  const locale = t("locale");
  const timeFmt = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" });
  const dayFmt = new Intl.DateTimeFormat(locale, {
    day: "numeric", month: "long", hour: "2-digit", minute: "2-digit",
  });
  const sizeFmt = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });
  // Shown inline as a preview; everything is a download link in any case.
  const PREVIEW_TYPES = ["image/jpeg", "image/png", "image/webp", "image/gif"];

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function backoff(attempt, baseMs, maxMs) {
    return Math.round(Math.min(maxMs, baseMs * Math.pow(2, attempt)) * (0.75 + Math.random() * 0.5));
  }
  function newId() {
    if (typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  function formatWhen(date) {
    return (date.toDateString() === new Date().toDateString() ? timeFmt : dayFmt).format(date);
  }
  function formatSize(bytes) {
    if (bytes < 1024) return t("size.b", { n: bytes });
    if (bytes < 1024 * 1024) return t("size.kb", { n: sizeFmt.format(bytes / 1024) });
    return t("size.mb", { n: sizeFmt.format(bytes / (1024 * 1024)) });
  }

  // ---- a message bubble ----
  function messageNode(own, who, text, date) {
    const node = make("div", "msg " + (own ? "msg--own" : "msg--agency"));
    const meta = make("p", "msg__meta");
    meta.append(make("span", "msg__who", who), make("span", "visually-hidden", ", "), make("time", "msg__time"));
    node.append(meta);
    if (text) node.append(make("p", "msg__text", text));
    setTime(node, date);
    return node;
  }
  function setTime(node, date) {
    if (Number.isNaN(date.getTime())) return;
    const time = node.querySelector("time");
    time.dateTime = date.toISOString();
    time.textContent = formatWhen(date);
  }

  // The delivery line under an own message; a failed send offers to retry at once.
  function setState(node, state, detail, onRetry) {
    let line = node.querySelector(".msg__state");
    if (!line) node.append(line = make("p", "msg__state"));
    node.dataset.state = state;
    line.replaceChildren(make("span", "", t("state." + state) + (detail ? ": " + detail : "")));
    if (state === "retry") {
      const button = make("button", "msg__retry", t("state.retry_now"));
      button.type = "button";
      button.addEventListener("click", onRetry);
      line.append(" ", button);
    }
  }
  // In id order, and before own messages still waiting for their id.
  function insertInOrder(log, node, id) {
    let ref = null;
    for (let child = log.lastElementChild; child && child.classList.contains("msg");
      child = child.previousElementSibling) {
      if (child.dataset.id && Number(child.dataset.id) < id) break;
      ref = child;
    }
    log.insertBefore(node, ref);
  }

  // ---- files: a download link each, images with a small preview ----
  function fileList(files) {
    const list = make("ul", "msg__files");
    files.forEach((file) => {
      const entry = make("li", "msg__file");
      const link = make("a", "msg__file-link");
      link.href = file.url;
      link.download = file.name;
      if (PREVIEW_TYPES.indexOf(file.mime_type) >= 0) {
        const preview = make("img", "msg__preview");
        preview.src = file.url;
        preview.alt = ""; // the link's text names the file
        preview.loading = "lazy";
        link.append(preview);
      }
      link.append(make("span", "msg__file-name", file.name),
        make("span", "msg__file-size", " (" + formatSize(file.size) + ")"));
      entry.append(link);
      list.append(entry);
    });
    return list;
  }
  // An own file still on its way: its name, no link yet.
  function pendingFile(name, size) {
    const list = make("ul", "msg__files");
    const entry = make("li", "msg__file msg__file--pending");
    entry.append(make("span", "msg__file-name", name), make("span", "msg__file-size", " (" + formatSize(size) + ")"));
    list.append(entry);
    return list;
  }
  function showFiles(node, files) {
    const old = node.querySelector(".msg__files");
    if (!files || !files.length) return;
    const list = fileList(files);
    if (old) old.replaceWith(list); else node.insertBefore(list, node.querySelector(".msg__state"));
  }

  // ---- a place or a contact card the agency sent: plain links, named by what they open ----
  function icon(glyph) { // decoration: the link's text says what it is
    const node = make("span", "", glyph);
    node.setAttribute("aria-hidden", "true");
    return node;
  }
  function richBlock(item) {
    if (item.location) {
      const place = item.location;
      const label = [place.title, place.address].filter(Boolean).join(", ") ||
        place.latitude + ", " + place.longitude;
      const block = make("p", "msg__rich");
      const link = make("a", "msg__rich-link");
      link.href = place.map_url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.append(icon("📍"), make("span", "", label), make("span", "msg__rich-hint", t("place.open_map")));
      block.append(link);
      return block;
    }
    if (item.contact) {
      const block = make("p", "msg__rich");
      block.append(make("span", "", item.contact.name));
      const link = make("a", "msg__rich-link");
      link.href = item.contact.tel_url;
      link.setAttribute("aria-label", t("contact.call", { name: item.contact.name, phone: item.contact.phone_number }));
      link.append(icon("📞"), make("span", "", item.contact.phone_number));
      block.append(link);
      return block;
    }
    return null;
  }
  function showRich(node, item) {
    const block = richBlock(item);
    if (block) node.insertBefore(block, node.querySelector(".msg__state"));
  }

  // ---- quick replies: real buttons, one press each ----
  function buttonGroup(buttons, onPress) {
    const group = make("div", "msg__buttons");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", t("buttons.label"));
    buttons.forEach((button) => {
      const node = make("button", "msg__button", button.title);
      node.type = "button";
      node.dataset.payload = button.payload;
      node.addEventListener("click", () => {
        if (node.disabled) return;
        closeGroup(group, node);
        onPress(button);
      });
      group.append(node);
    });
    return group;
  }
  function closeGroup(group, chosen) {
    group.querySelectorAll("button").forEach((node) => { node.disabled = true; });
    group.classList.add("msg__buttons--closed");
    if (chosen) {
      chosen.classList.add("msg__button--chosen");
      chosen.append(make("span", "visually-hidden", t("buttons.chosen")));
    }
  }
  // Quick replies answer the question they came with: once the citizen writes again they are closed.
  function closeKeyboards(log, beforeId) {
    log.querySelectorAll(".msg--agency .msg__buttons:not(.msg__buttons--closed)").forEach((group) => {
      const id = Number(group.closest(".msg").dataset.id || 0);
      if (beforeId === undefined || id < beforeId) closeGroup(group, null);
    });
  }

  // ---- the attach control: a real button opens the (hidden) file input ----
  function attachControl(opts) {
    let chosen = null;
    function clearError() {
      opts.error.hidden = true;
      opts.error.textContent = "";
    }
    function refuse(message) {
      opts.error.textContent = message;
      opts.error.hidden = false;
      opts.input.value = "";
      opts.button.focus();
    }
    function show() {
      opts.chosen.hidden = !chosen;
      opts.chosenName.textContent = chosen ? chosen.name + " (" + formatSize(chosen.size) + ")" : "";
      opts.button.textContent = t(chosen ? "attach.replace" : "attach");
    }
    opts.button.addEventListener("click", () => opts.input.click());
    opts.input.addEventListener("change", () => {
      const file = opts.input.files && opts.input.files[0];
      if (!file) return;
      clearError();
      if (file.size > opts.maxBytes) {
        return refuse(t("attach.too_big", { name: file.name, size: formatSize(opts.maxBytes) }));
      }
      if (file.size === 0) return refuse(t("attach.empty", { name: file.name }));
      if (opts.accept.length && opts.accept.indexOf(file.type) < 0) {
        return refuse(t("attach.refused"));
      }
      chosen = file;
      show();
      opts.announce(t("attach.added", { name: file.name }));
      opts.input.value = "";
    });
    opts.clear.addEventListener("click", () => {
      chosen = null;
      show();
      opts.announce(t("attach.removed"));
      opts.button.focus();
    });
    return {
      get file() { return chosen; },
      reset() { chosen = null; clearError(); show(); },
    };
  }

  window.civdeskChatUI = {
    t: t,
    lang: lang,
    make: make,
    backoff: backoff,
    newId: newId,
    setState: setState,
    insertInOrder: insertInOrder,
    messageNode: messageNode,
    setTime: setTime,
    pendingFile: pendingFile,
    showFiles: showFiles,
    showRich: showRich,
    buttonGroup: buttonGroup,
    closeKeyboards: closeKeyboards,
    attachControl: attachControl,
  };
})();
