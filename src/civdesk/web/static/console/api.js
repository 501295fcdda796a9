// Agent API v1 over fetch, with the bearer token; errors become ApiError with the server's message.

import { currentLang } from "./i18n.js";

export class ApiError extends Error {
  /** `problems`: [{field: "body.name", message, lang}] when the server names the fields it refused. */
  constructor(status, code, message, problems = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.problems = problems;
  }
}

export function createApi({ token, onUnauthorized }) {
  async function request(method, path, { json, form } = {}) {
    const headers = { "Accept-Language": currentLang(), Accept: "application/json" };
    const bearer = token();
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (form) {
      body = form;
    }
    let response;
    try {
      response = await fetch(path, { method, headers, body, credentials: "omit" });
    } catch (error) {
      throw new ApiError(0, "network", error.message);
    }
    if (!response.ok) throw await asError(response, bearer);
    return response.status === 204 ? null : response.json();
  }

  async function asError(response, bearer) {
    let code = "http_" + response.status;
    let message = response.statusText;
    let problems = [];
    const english = currentLang() === "en";
    try {
      const { error } = await response.json();
      code = error.code;
      message = english ? error.message_en : error.message;
      // `lang`: "en" when the reason is English (asked for, or not translated), for screen readers.
      problems = (error.problems || []).map((p) => ({
        field: p.field,
        message: english ? p.message_en || p.message : p.message,
        lang: english || p.message === p.message_en ? "en" : null,
      }));
    } catch {
      // not our error shape: keep the status line
    }
    if (response.status === 401 && bearer) onUnauthorized();
    return new ApiError(response.status, code, message, problems);
  }

  /** <a href> cannot carry the bearer header, so files come through fetch and a blob URL. */
  async function download(path, fallbackName) {
    const headers = { Authorization: `Bearer ${token()}`, "Accept-Language": currentLang() };
    let response;
    try {
      response = await fetch(path, { headers, credentials: "omit" });
    } catch (error) {
      throw new ApiError(0, "network", error.message);
    }
    if (!response.ok) throw await asError(response, true);
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const link = Object.assign(document.createElement("a"), { href: url, download: fileName(response, fallbackName) });
    link.hidden = true;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  return {
    get: (path) => request("GET", path),
    post: (path, json) => request("POST", path, { json }),
    put: (path, json) => request("PUT", path, { json }),
    patch: (path, json) => request("PATCH", path, { json }),
    delete: (path) => request("DELETE", path),
    upload: (path, form) => request("POST", path, { form }),
    download,
  };
}

function fileName(response, fallback) {
  const header = response.headers.get("Content-Disposition") || "";
  const match = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (!match) return fallback || "file";
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return fallback || "file";
  }
}
