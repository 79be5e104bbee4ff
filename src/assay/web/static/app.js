// Assay's web UI: the few things the server-rendered pages need a script for. Every write is a
// same-origin fetch of the JSON API (the session cookie goes with it), so the API's own checks
// decide; errors come back as {detail, field} and are shown at the field they name.
"use strict";

(function () {
  const flash = (message) => {
    const box = document.getElementById("flash");
    if (!box) return;
    box.textContent = message;
    box.hidden = !message;
    // It sits at the top of the page: a refusal after a click further down must be seen.
    if (message) box.scrollIntoView({ block: "nearest" });
  };

  // FastAPI's validation errors are a list of {loc, msg}; Assay's own are {detail, field}.
  const readError = async (response) => {
    let body = null;
    try { body = await response.json(); } catch (_) { /* not JSON */ }
    if (body && Array.isArray(body.detail) && body.detail.length) {
      const first = body.detail[0];
      const loc = (first.loc || []).filter((part) => part !== "body");
      return { field: loc.length ? String(loc[0]) : null, detail: `${loc.join(".") || "request"}: ${first.msg}` };
    }
    const detail = body && typeof body.detail === "string" ? body.detail : `${response.status} ${response.statusText}`;
    return { field: body && body.field ? String(body.field) : null, detail };
  };

  const clearErrors = (form) => {
    form.querySelectorAll("[data-error-for], [data-form-error]").forEach((el) => { el.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  };

  // The message goes next to the field it names when the form has that field, else under the form.
  const showError = (form, error) => {
    const slot = error.field && form ? form.querySelector(`[data-error-for="${CSS.escape(error.field)}"]`) : null;
    if (slot) {
      slot.textContent = error.detail;
      const input = form.querySelector(`[name="${CSS.escape(error.field)}"], [name^="${CSS.escape(error.field)}."]`);
      if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
      return;
    }
    const general = form && form.querySelector("[data-form-error]");
    if (general) general.textContent = error.detail;
    else flash(error.detail);
  };

  // getAttribute, not .dataset: a form with a control named "dataset" (ours have one) hides its
  // own properties behind its controls' names.
  const data = (el, name) => el.getAttribute(`data-${name}`);

  const fill = (template, data) =>
    template.replace(/\{(\w+)\}/g, (_, key) => encodeURIComponent(data && data[key] != null ? data[key] : ""));

  const then = (action, data, form) => {
    if (!action || action === "reload") { window.location.reload(); return; }
    if (action.startsWith("go:")) { window.location.assign(fill(action.slice(3), data)); return; }
    if (action === "show-token" && form) {
      const box = document.querySelector("[data-token-box]");
      box.querySelector("[data-token-value]").textContent = data.token;
      box.hidden = false;
      form.reset();
    }
  };

  // A form's fields as JSON: "a.b" names nest, data-type="number" numbers, data-type="csv" a
  // comma-separated list, data-type="lines" one item per non-blank line (a command's argument
  // vector), data-type="pairs" an object of one NAME=value per non-blank line (environment
  // variables), data-type="list" checkboxes gather into an array; empty fields are left out
  // unless marked data-send-empty.
  const lines = (text) => text.split(/\r?\n/).filter((line) => line.trim() !== "");
  const pair = (line) => {
    const at = line.indexOf("=");
    return at < 0 ? [line.trim(), ""] : [line.slice(0, at).trim(), line.slice(at + 1)];
  };

  const formJson = (form) => {
    const body = {};
    const set = (name, value) => {
      const parts = name.split(".");
      let target = body;
      parts.slice(0, -1).forEach((part) => { target = target[part] = target[part] || {}; });
      target[parts[parts.length - 1]] = value;
    };
    for (const el of form.elements) {
      if (!el.name || el.disabled || el.hasAttribute("data-path-only")) continue;
      if (el.dataset.type === "list") {
        if (!(el.name in body)) set(el.name, []);
        if (el.checked) body[el.name].push(el.value);
        continue;
      }
      if (el.type === "checkbox") { set(el.name, el.checked); continue; }
      if (el.value === "" && !el.hasAttribute("data-send-empty")) continue;
      if (el.dataset.type === "number") set(el.name, Number(el.value));
      else if (el.dataset.type === "csv") set(el.name, el.value.split(",").map((item) => item.trim()).filter(Boolean));
      else if (el.dataset.type === "lines") set(el.name, lines(el.value));
      else if (el.dataset.type === "pairs") set(el.name, Object.fromEntries(lines(el.value).map(pair)));
      else set(el.name, el.value);
    }
    return body;
  };

  const pathFields = (form) => {
    const values = {};
    for (const el of form.elements) if (el.name) values[el.name] = el.value;
    return values;
  };

  const send = async (url, method, body) => fetch(url, {
    method,
    credentials: "same-origin",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

  // Some routes answer a success with no body (204, or 201 on a secret).
  const readBody = async (response) => {
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  };

  const submitForm = async (form) => {
    clearErrors(form);
    flash("");
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      const url = fill(data(form, "api"), pathFields(form));
      const response = await send(url, data(form, "method") || "POST", formJson(form));
      if (!response.ok) { showError(form, await readError(response)); return; }
      then(data(form, "then"), await readBody(response), form);
    } catch (err) {
      showError(form, { field: null, detail: `The server could not be reached: ${err.message}` });
    } finally {
      if (button) button.disabled = false;
    }
  };

  const clickButton = async (button) => {
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    flash("");
    button.disabled = true;
    try {
      const response = await send(button.dataset.api, button.dataset.method || "POST", undefined);
      if (!response.ok) { flash((await readError(response)).detail); return; }
      then(button.dataset.then, await readBody(response), null);
    } finally {
      button.disabled = false;
    }
  };

  // Download routes answer with links (signed, or presigned S3): follow the first one.
  const download = async (button) => {
    flash("");
    const response = await send(button.dataset.download, "GET", undefined);
    if (!response.ok) { flash((await readError(response)).detail); return; }
    const body = await response.json();
    const url = typeof body === "string" ? body : (body.download_urls || [body.download_url])[0];
    if (url) window.location.assign(url);
  };

  // Uploads go as multipart through XMLHttpRequest, the one browser API that reports upload progress.
  const sendFile = (form) => {
    clearErrors(form);
    flash("");
    const input = form.querySelector("input[type=file]");
    if (!input.files.length) { showError(form, { field: input.name, detail: "choose a file to upload" }); return; }
    const progress = form.querySelector("progress");
    const button = form.querySelector("button[type=submit]");
    const upload = new FormData();
    for (const el of form.elements) if (el.name && el.type !== "file" && el.value) upload.append(el.name, el.value);
    upload.append(input.name, input.files[0]);
    const request = new XMLHttpRequest();
    request.open("POST", data(form, "upload"));
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) progress.value = Math.round((100 * event.loaded) / event.total);
    });
    request.addEventListener("load", async () => {
      button.disabled = false;
      const response = new Response(request.responseText, { status: request.status, statusText: request.statusText });
      if (request.status >= 400) {
        progress.hidden = true;
        // Whatever part of the file is at fault (a column, a row, its size), the file field is.
        showError(form, { field: input.name, detail: (await readError(response)).detail });
        return;
      }
      then(data(form, "then"), await response.json(), form);
    });
    request.addEventListener("error", () => {
      button.disabled = false;
      showError(form, { field: "dataset", detail: "the upload was interrupted" });
    });
    progress.value = 0;
    progress.hidden = false;
    button.disabled = true;
    request.send(upload);
  };

  const setupDrop = (zone) => {
    const input = zone.querySelector("input[type=file]");
    zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      if (event.dataTransfer.files.length) input.files = event.dataTransfer.files;
    });
  };

  const logout = async () => {
    await send("/api/v1/auth/logout", "POST", undefined);
    window.location.assign("/login");
  };

  // Picking a catalog entry fills the provider, model and endpoint fields of the same form.
  const fillModel = (select) => {
    const option = select.selectedOptions[0];
    const form = select.form;
    if (!option || !option.value) return;
    form.elements.model.value = option.value;
    form.elements.provider.value = option.dataset.provider;
    form.elements.base_url.value = option.dataset.baseUrl || "";
    if (!form.elements.name.value) form.elements.name.value = option.value.split("/").pop();
  };

  // Charts: bars of each score's mean with 95% CI whiskers, and quality against latency. Their
  // numbers come in an attribute (htmx drops <script> blocks from what it swaps in).
  const PALETTE = ["#1f5f99", "#b35900", "#2e7d32", "#b71c1c", "#00695c", "#6a1b9a", "#5d4037", "#37474f"];
  const AXES = { latency_ms: "mean latency, ms", cost: "mean cost per example" };
  const whiskers = {
    id: "whiskers",
    afterDatasetsDraw(chart) {
      const { ctx } = chart;
      const scale = chart.scales.y;
      chart.data.datasets.forEach((dataset, index) => {
        const meta = chart.getDatasetMeta(index);
        if (meta.hidden || !dataset.intervals) return;
        meta.data.forEach((bar, i) => {
          const interval = dataset.intervals[i];
          if (!interval) return;
          const [low, high] = interval.map((value) => scale.getPixelForValue(value));
          ctx.save();
          ctx.strokeStyle = "#111";
          ctx.lineWidth = 1.5;
          ctx.beginPath();
          ctx.moveTo(bar.x, low); ctx.lineTo(bar.x, high);
          ctx.moveTo(bar.x - 5, low); ctx.lineTo(bar.x + 5, low);
          ctx.moveTo(bar.x - 5, high); ctx.lineTo(bar.x + 5, high);
          ctx.stroke();
          ctx.restore();
        });
      });
    },
  };

  const drawCharts = (root) => {
    if (!window.Chart) return;
    root.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
      if (canvas.dataset.drawn) return;
      const source = document.getElementById(canvas.dataset.source);
      if (!source) return;
      const chartData = JSON.parse(data(source, "chart-data"));
      canvas.dataset.drawn = "yes";
      const options = { animation: false, responsive: true, maintainAspectRatio: false };
      if (canvas.dataset.chart === "scores") {
        new window.Chart(canvas, {
          type: "bar",
          data: {
            labels: chartData.scores,
            datasets: chartData.workflows.map((w, index) => ({
              label: w.name,
              backgroundColor: PALETTE[index % PALETTE.length],
              data: chartData.scores.map((score) => (w.metrics[score] ? w.metrics[score].mean : null)),
              intervals: chartData.scores.map((score) => (w.metrics[score] ? [w.metrics[score].ci_low, w.metrics[score].ci_high] : null)),
            })),
          },
          options,
          plugins: [whiskers],
        });
      } else {
        const axis = data(canvas, "axis");
        new window.Chart(canvas, {
          type: "scatter",
          data: {
            datasets: chartData.workflows.map((w, index) => ({
              label: w.name,
              backgroundColor: PALETTE[index % PALETTE.length],
              pointRadius: 6,
              data: w.metrics[chartData.headline] && w.usage[axis]
                ? [{ x: w.usage[axis].mean, y: w.metrics[chartData.headline].mean }] : [],
            })),
          },
          options: {
            ...options,
            scales: {
              x: { title: { display: true, text: AXES[axis] } },
              y: { title: { display: true, text: chartData.headline } },
            },
          },
        });
      }
    });
  };

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (data(form, "api")) { event.preventDefault(); submitForm(form); }
    else if (data(form, "upload")) { event.preventDefault(); sendFile(form); }
  });

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button || button.type === "submit") return;
    if (button.dataset.api) clickButton(button);
    else if (button.dataset.download) download(button);
    else if (button.hasAttribute("data-logout")) logout();
  });

  document.addEventListener("change", (event) => {
    const el = event.target;
    if (el.hasAttribute("data-autosubmit")) el.form.requestSubmit();
    else if (el.hasAttribute("data-fill-model")) fillModel(el);
  });

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-drop]").forEach(setupDrop);
    drawCharts(document);
  });
  document.addEventListener("htmx:afterSettle", () => drawCharts(document));
})();
