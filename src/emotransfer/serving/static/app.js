// The emotransfer web app: a runs browser (filter, reports, paired comparison) and a live
// page (upload or record a clip; probabilities, or a timeline for a long recording).
"use strict";

const $ = (selector) => document.querySelector(selector);
let runs = [];
const selected = new Set();
let recorder = null;

function fixed(value, digits = 3) {
  return value === null || value === undefined ? "-" : Number(value).toFixed(digits);
}

function signed(value) {
  return (value >= 0 ? "+" : "") + Number(value).toFixed(3);
}

function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

async function request(url, options) {
  const answer = await fetch(url, options);
  const body = await answer.json().catch(() => ({ detail: answer.statusText }));
  if (!answer.ok) {
    const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    throw new Error(`${answer.status}: ${detail}`);
  }
  return body;
}

function show(page) {
  for (const name of ["runs", "live"]) {
    $(`#page-${name}`).hidden = name !== page;
    $(`#tab-${name}`).classList.toggle("active", name === page);
  }
}

function renderRuns() {
  const wanted = $("#filter").value.trim().toLowerCase();
  const body = $("#runs tbody");
  body.replaceChildren();
  for (const run of runs) {
    const haystack = [run.name, ...run.corpora, ...run.classes].join(" ").toLowerCase();
    if (wanted && !haystack.includes(wanted)) continue;
    const row = element("tr", undefined, { "data-run": run.name });
    const pick = element("input", undefined, { type: "checkbox", "aria-label": `select ${run.name}` });
    pick.checked = selected.has(run.name);
    pick.addEventListener("change", () => {
      if (pick.checked) selected.add(run.name); else selected.delete(run.name);
      $("#compare").disabled = selected.size !== 2;
    });
    const cell = element("td");
    cell.append(pick);
    row.append(cell, element("td", run.name), element("td", run.corpora.join(", ")),
      element("td", run.clips ?? "-"), element("td", run.classes.join(", ")),
      element("td", `${fixed(run.uar)} [${fixed(run.ci_low)}, ${fixed(run.ci_high)}]`),
      element("td", run.inputs.join(" + ")));
    const report = element("td");
    report.append(element("a", "report", {
      href: `/runs/${encodeURIComponent(run.name)}/report`, target: "_blank", rel: "noopener" }));
    row.append(report);
    body.append(row);
  }
}

async function compareSelected() {
  const [a, b] = [...selected];
  const box = $("#compare-result");
  box.hidden = false;
  box.textContent = "comparing ...";
  try {
    const report = await request(`/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
    const difference = report.uar_difference;
    const [first, second] = report.systems;
    box.replaceChildren(
      element("div", `${b} minus ${a} on the same ${report.clips} clips (bootstrap over ${report.unit}s):`),
      element("div", `UAR difference ${signed(difference.value)} [${signed(difference.ci_low)}, ${signed(difference.ci_high)}]`, { id: "difference" }),
      element("div", `McNemar p = ${fixed(report.mcnemar.p_value, 4)}; UAR ${a} ${fixed(first.uar.value)}, ${b} ${fixed(second.uar.value)}`, { id: "mcnemar" }));
  } catch (error) {
    box.textContent = error.message;
  }
}

function status(text, error = false) {
  $("#status").textContent = text;
  $("#status").classList.toggle("error", error);
}

function renderProbabilities(probabilities, predicted) {
  $("#predicted").textContent = predicted;
  const box = $("#probabilities");
  box.replaceChildren();
  const ordered = Object.entries(probabilities).sort((x, y) => y[1] - x[1]);
  for (const [name, value] of ordered) {
    const bar = element("div", undefined, { class: "bar", "data-class": name });
    bar.append(element("span", name, { class: "name" }),
      element("span", undefined, { class: "fill", style: `width: ${Math.round(value * 300)}px` }),
      element("span", fixed(value), { class: "value" }));
    box.append(bar);
  }
}

const COLOURS = ["#4a7fb0", "#d1603d", "#4f9a5a", "#8e5ea2", "#c9a227", "#3fa7a3", "#a8505f", "#777"];

function renderTimeline(body) {
  const svg = $("#timeline");
  svg.hidden = false;
  svg.replaceChildren();
  const width = svg.clientWidth || 800, height = 240, pad = 30;
  const x = (t) => pad + (t / body.duration_s) * (width - 2 * pad);
  const y = (p) => height - pad - p * (height - 2 * pad);
  const ns = "http://www.w3.org/2000/svg";
  body.classes.forEach((name, i) => {
    const points = body.segments.map((row) => `${x((row.start + row.end) / 2)},${y(row[name])}`);
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", points.join(" "));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", COLOURS[i % COLOURS.length]);
    line.setAttribute("data-class", name);
    svg.append(line);
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", pad + i * 90);
    label.setAttribute("y", 15);
    label.setAttribute("fill", COLOURS[i % COLOURS.length]);
    label.textContent = name;
    svg.append(label);
  });
  const axis = document.createElementNS(ns, "text");
  axis.setAttribute("x", width - pad - 60);
  axis.setAttribute("y", height - 8);
  axis.textContent = `${fixed(body.duration_s, 1)} s`;
  svg.append(axis);
}

async function predict(blob, name) {
  const form = new FormData();
  form.append("file", blob, name);
  const run = encodeURIComponent($("#run").value);
  const long = $("#long").checked;
  status(`predicting ${name} ...`);
  $("#timeline").hidden = true;
  $("#summary").textContent = "";
  try {
    const body = await request(`/predict${long ? "/long" : ""}?run=${run}`, { method: "POST", body: form });
    if (long) {
      renderProbabilities(Object.fromEntries(body.classes.map((c) => [c, body.summary[c]])), body.summary.predicted);
      $("#summary").textContent = `${body.segments.length} windows over ${fixed(body.duration_s, 1)} s; whole file: ${body.summary.predicted}`;
      renderTimeline(body);
    } else {
      renderProbabilities(body.probabilities, body.predicted);
    }
    status(`${name}: ${fixed(body.duration_s, 2)} s`);
  } catch (error) {
    status(error.message, true);
  }
}

async function start() {
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => show(tab.dataset.page));
  $("#filter").addEventListener("input", renderRuns);
  $("#compare").addEventListener("click", compareSelected);
  $("#predict").addEventListener("click", () => {
    const file = $("#audio").files[0];
    if (!file) { status("choose an audio file first", true); return; }
    predict(file, file.name);
  });
  $("#record").addEventListener("click", async () => {
    try {
      recorder = new WavRecorder();
      await recorder.start();
      $("#record").disabled = true; $("#stop").disabled = false;
      status("recording ...");
    } catch (error) { status(`microphone: ${error.message}`, true); }
  });
  $("#stop").addEventListener("click", async () => {
    $("#record").disabled = false; $("#stop").disabled = true;
    const blob = await recorder.stop();
    predict(blob, "recording.wav");
  });
  try {
    runs = await request("/runs");
  } catch (error) {
    status(error.message, true);
    return;
  }
  for (const run of runs) $("#run").append(element("option", run.name, { value: run.name }));
  renderRuns();
  document.body.dataset.ready = "1";
}

start();
