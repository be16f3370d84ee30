// The page at /: send an image to the server, show the 28×28 input and every model's
// probabilities, and optionally run the models here to compare: the Keras model with TensorFlow.js,
// and any run's model.onnx with ONNX Runtime Web (served from /vendor/ort/, nothing from elsewhere).
// Plain ES module, no build step.
/* global ImageData, requestAnimationFrame, CSS */

const $ = (id) => document.getElementById(id);

const state = {
  classes: [],
  models: [],
  /** The last answer from /v1/predict, for re-running the browser model on toggle. */
  last: null,
  truth: null,
  busy: false,
  next: null,
  seq: 0,
  tf: null,
  browserModels: new Map(),
  ort: null,
  /** Model id → { session } or { unavailable: why }, each loaded once. */
  onnxModels: new Map(),
};

// ---------- talking to the server ----------

async function api(url, init) {
  const t0 = performance.now();
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new Error(`the server could not be reached (${e.message})`, { cause: e });
  }
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: reported below.
  }
  if (!res.ok) {
    const msg = body && body.message ? body.message : `${res.status} ${res.statusText}`;
    throw new Error(msg);
  }
  if (body === null) throw new Error(`unexpected answer from ${url}`);
  return { body, roundTrip: performance.now() - t0 };
}

async function predict(body, contentType, truth = null) {
  if (state.busy) {
    // One at a time; the newest waiting image goes next (a drawing lifted mid-request is not lost).
    state.next = () => predict(body, contentType, truth);
    return;
  }
  setBusy(true);
  showError(null);
  try {
    const { body: answer, roundTrip } = await api('/v1/predict', {
      method: 'POST',
      headers: { 'content-type': contentType },
      body,
    });
    state.last = answer;
    state.truth = truth;
    render(answer, roundTrip);
    if ($('browser-toggle').checked) await runInBrowser(answer);
    if ($('onnx-toggle').checked) await runOnnx(answer);
  } catch (e) {
    showError(`Could not classify the image: ${e.message}`);
  } finally {
    setBusy(false);
    const next = state.next;
    state.next = null;
    if (next) next();
  }
}

function setBusy(busy) {
  state.busy = busy;
  $('result').setAttribute('aria-busy', String(busy));
  for (const id of ['classify-drawing', 'random']) $(id).disabled = busy;
  if (busy) $('result').dataset.state = 'busy';
}

function showError(message) {
  const el = $('error');
  el.hidden = !message;
  el.textContent = message || '';
  if (message) $('result').dataset.state = 'error';
}

// ---------- rendering ----------

const pct = (p) => (p > 0 && p < 0.0005 ? '<0.1%' : `${(p * 100).toFixed(p >= 0.9995 || p === 0 ? 0 : 1)}%`);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, String(v));
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function drawPreview(pixels) {
  const c = $('preview');
  const ctx = c.getContext('2d');
  const img = new ImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = pixels[i];
    img.data[i * 4] = v;
    img.data[i * 4 + 1] = v;
    img.data[i * 4 + 2] = v;
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/** One model's ten probabilities as a labelled bar chart (plain text for screen readers). */
function chart({ id, title, sub, probabilities, source = 'server' }) {
  const best = probabilities.indexOf(Math.max(...probabilities));
  const list = el('ol', { class: 'bars', 'aria-label': `${title}: probability of each class` });
  probabilities.forEach((p, k) => {
    const fill = el('span', { class: 'fill' });
    fill.style.width = `${Math.max(0, Math.min(1, p)) * 100}%`;
    list.append(
      el(
        'li',
        { class: k === best ? 'is-top' : null },
        el('span', { class: 'name', text: state.classes[k] }),
        el('span', { class: 'track', 'aria-hidden': 'true' }, fill),
        el('span', { class: 'pct', text: pct(p) }),
      ),
    );
  });
  return el(
    'article',
    {
      class: `chart${source === 'server' ? '' : ` ${source}`}`,
      'data-model': id,
      'data-source': source,
      'data-top-label': best,
      'data-top-class': state.classes[best],
      'data-probabilities': JSON.stringify(probabilities.map((p) => Number(p.toPrecision(7)))),
    },
    el('h3', {}, title, ' ', el('span', { class: 'sub', text: sub })),
    el('p', { class: 'answer' }, state.classes[best], ' ', el('span', { text: pct(probabilities[best]) })),
    list,
  );
}

function render(answer, roundTrip) {
  $('placeholder').hidden = true;
  $('result-body').hidden = false;
  drawPreview(answer.preprocessed);
  $('truth').hidden = state.truth === null;
  $('truth').textContent = state.truth === null ? '' : `True class: ${state.truth}`;
  const charts = $('charts');
  charts.replaceChildren(
    ...answer.predictions.map((p) =>
      chart({ id: p.model, title: p.model, sub: `${p.framework} · ${p.arch}`, probabilities: p.probabilities }),
    ),
  );
  const steps = answer.preprocessing.steps;
  $('steps').replaceChildren(
    ...(steps.length ? steps : ['used as given (already 28×28 grayscale)']).map((s) => el('li', { text: s })),
  );
  $('timing').textContent = `Server time ${answer.ms.toFixed(1)} ms · round trip ${roundTrip.toFixed(0)} ms`;
  state.seq++;
  $('result').dataset.seq = String(state.seq);
  $('result').dataset.state = 'done';
}

// ---------- models ----------

function confusionTable(m) {
  const cm = m.confusionMatrix;
  const max = Math.max(1, ...cm.flat());
  const SHORT = ['Tee', 'Trou', 'Pull', 'Dres', 'Coat', 'Sand', 'Shir', 'Snkr', 'Bag', 'Boot'];
  const short = (name) => SHORT[state.classes.indexOf(name)] ?? name.slice(0, 4);
  const head = el('tr', {}, el('td', {}));
  state.classes.forEach((c) => head.append(el('th', { scope: 'col', title: c, text: short(c) })));
  const rows = cm.map((row, i) => {
    const tr = el('tr', {}, el('th', { scope: 'row', title: state.classes[i], text: short(state.classes[i]) }));
    row.forEach((v, j) => {
      const td = el('td', { text: String(v) });
      const a = v / max;
      td.style.background = i === j ? `rgba(26,127,55,${0.12 + 0.6 * a})` : v ? `rgba(180,35,24,${0.1 + 0.7 * a})` : '';
      tr.append(td);
    });
    return tr;
  });
  return el(
    'div',
    { class: 'cm-wrap' },
    el(
      'table',
      { class: 'cm' },
      el('caption', { text: 'Rows: true class; columns: predicted class (test set, from metrics.json).' }),
      el('thead', {}, head),
      el('tbody', {}, ...rows),
    ),
  );
}

function renderModels() {
  const cards = state.models.map((m) => {
    const dl = el(
      'dl',
      {},
      el('dt', { text: 'Model' }),
      el('dd', { text: m.label ?? `${m.framework} (${m.arch})` }),
      m.description ? el('dt', { text: 'Architecture' }) : null,
      m.description ? el('dd', { text: m.description }) : null,
      m.members ? el('dt', { text: 'Members' }) : null,
      m.members
        ? el('dd', {}, el('ul', {}, ...m.members.map((x) => el('li', { text: `${x.label} (${x.name})` }))))
        : null,
      el('dt', { text: 'Parameters' }),
      el('dd', { text: m.params.toLocaleString('en-US') }),
      el('dt', { text: 'Test accuracy' }),
      el('dd', { text: m.testAccuracy === null ? 'not measured' : `${(m.testAccuracy * 100).toFixed(2)}%` }),
      el('dt', { text: 'In browser' }),
      el('dd', { text: m.browser ? 'yes (tfjs model.json)' : 'no' }),
    );
    let matrix = null;
    if (m.confusionImage)
      matrix = el(
        'figure',
        {},
        el('img', { src: m.confusionImage, alt: `Confusion matrix of ${m.id}`, loading: 'lazy' }),
        el('figcaption', { class: 'hint', text: 'Confusion matrix from the run report' }),
      );
    else if (m.confusionMatrix)
      matrix = el('details', {}, el('summary', { text: 'Confusion matrix' }), confusionTable(m));
    return el('article', { class: 'card', 'data-model': m.id }, el('h3', { text: m.id }), dl, matrix);
  });
  $('models').replaceChildren(...cards);
  const n = state.models.length;
  $('summary').textContent = `${n} model${n === 1 ? '' : 's'} loaded: ${state.models.map((m) => m.id).join(', ')}`;
  const inBrowser = state.models.filter((m) => m.browser);
  const toggle = $('browser-toggle');
  toggle.disabled = inBrowser.length === 0;
  if (!inBrowser.length) $('browser-status').textContent = 'No Keras (tfjs) model is loaded on the server.';
  const onnx = state.models.filter((m) => m.onnx);
  $('onnx-toggle').disabled = onnx.length === 0;
  if (!onnx.length)
    $('onnx-status').textContent = 'No model here can run with ONNX (ensembles run on the server only).';
}

/** The line under an in-browser chart: does it agree with the server's answer for the same model? */
function compareLine(mine, server, ms) {
  if (!server) return el('p', { class: 'compare', text: 'The server did not answer for this model.' });
  const best = mine.indexOf(Math.max(...mine));
  const maxDiff = Math.max(...mine.map((p, k) => Math.abs(p - server.probabilities[k])));
  const same = server.top[0].label === best && maxDiff < 1e-3;
  return el('p', {
    class: 'compare',
    'data-match': String(same),
    'data-max-diff': maxDiff.toExponential(2),
    text: same
      ? `Matches the server: same class, largest difference ${maxDiff.toExponential(1)} (${ms.toFixed(1)} ms here).`
      : `Differs from the server: server says ${server.top[0].class}, largest difference ${maxDiff.toExponential(1)}.`,
  });
}

/** Puts an in-browser chart in place of the one it updates, or after the others. */
function placeChart(card, source) {
  const old = document.querySelector(`.chart.${source}[data-model="${CSS.escape(card.dataset.model)}"]`);
  if (old) old.replaceWith(card);
  else $('charts').append(card);
}

// ---------- the Keras model in the browser ----------

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(s);
  });
}

async function ensureBrowserModels() {
  if (!state.tf) {
    $('browser-status').textContent = 'Loading TensorFlow.js…';
    await loadScript('/vendor/tf.min.js');
    const tf = window.tf;
    // The CPU backend computes in float32 like the server, so the two answers can be compared closely.
    await tf.setBackend('cpu');
    await tf.ready();
    state.tf = tf;
  }
  for (const m of state.models.filter((x) => x.browser)) {
    if (state.browserModels.has(m.id)) continue;
    $('browser-status').textContent = `Loading ${m.id}…`;
    state.browserModels.set(m.id, await state.tf.loadLayersModel(m.browser.modelJson));
  }
  $('browser-status').textContent =
    `TensorFlow.js ${state.tf.version.tfjs} (${state.tf.getBackend()} backend): ` +
    `${[...state.browserModels.keys()].join(', ')} loaded in this browser.`;
}

async function runInBrowser(answer) {
  const result = $('result');
  result.dataset.browser = 'busy';
  try {
    await ensureBrowserModels();
    const tf = state.tf;
    for (const [id, model] of state.browserModels) {
      const shape = model.inputs[0].shape.map((d) => (d === null || d === undefined ? 1 : d));
      const t0 = performance.now();
      const probs = tf.tidy(() => {
        const x = tf.tensor(
          Float32Array.from(answer.preprocessed, (v) => v / 255),
          shape,
        );
        return model.predict(x).dataSync();
      });
      const ms = performance.now() - t0;
      const mine = Array.from(probs);
      const server = answer.predictions.find((p) => p.model === id);
      const card = chart({
        id: `${id} (browser)`,
        title: `${id}`,
        sub: 'in this browser (tfjs)',
        probabilities: mine,
        source: 'browser',
      });
      card.append(compareLine(mine, server, ms));
      placeChart(card, 'browser');
    }
    result.dataset.browser = 'done';
  } catch (e) {
    result.dataset.browser = 'error';
    $('browser-status').textContent = `The in-browser model failed: ${e.message}`;
  }
}

function removeBrowserCharts() {
  for (const c of document.querySelectorAll('.chart.browser')) c.remove();
  delete $('result').dataset.browser;
}

// ---------- any run's model.onnx in the browser (ONNX Runtime Web) ----------

const ORT = '/vendor/ort/';

async function ensureOrt() {
  if (state.ort) return state.ort;
  $('onnx-status').textContent = 'Loading ONNX Runtime Web…';
  // The wasm-only build with its JS glue built in: it fetches one file, the wasm below, from this server.
  const ort = await import(`${ORT}ort.wasm.bundle.min.mjs`);
  ort.env.wasm.wasmPaths = { wasm: new URL(`${ORT}ort-wasm-simd-threaded.wasm`, window.location.href).href };
  // The page is not cross-origin isolated (no COOP/COEP), so there is no SharedArrayBuffer: one thread, no worker.
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  state.ort = ort;
  return ort;
}

/** Loads each model's ONNX file once; a model without one is remembered with the server's reason. */
async function ensureOnnxModels() {
  const ort = await ensureOrt();
  for (const m of state.models.filter((x) => x.onnx)) {
    if (state.onnxModels.has(m.id)) continue;
    $('onnx-status').textContent = `Loading ${m.id}'s model.onnx…`;
    let res;
    try {
      res = await fetch(m.onnx.model);
    } catch (e) {
      throw new Error(`${m.id}: the server could not be reached (${e.message})`, { cause: e });
    }
    if (res.status === 404) {
      let why = 'the server has no ONNX file for it';
      try {
        why = (await res.json()).message || why;
      } catch {
        // Not JSON: the generic reason stands.
      }
      state.onnxModels.set(m.id, { unavailable: why });
      continue;
    }
    // Anything else (a timeout while exporting, say) is not remembered: the next image tries again.
    if (!res.ok) throw new Error(`${m.id}: model.onnx: ${res.status} ${res.statusText}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    try {
      const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
      state.onnxModels.set(m.id, { session });
    } catch (e) {
      state.onnxModels.set(m.id, { unavailable: `ONNX Runtime could not load its model.onnx (${e.message})` });
    }
  }
  const loaded = [...state.onnxModels].filter(([, v]) => v.session).map(([id]) => id);
  const missing = [...state.onnxModels].filter(([, v]) => v.unavailable).map(([id]) => id);
  $('onnx-status').textContent =
    `ONNX Runtime Web ${ort.env.versions.web} (wasm, 1 thread): ` +
    (loaded.length ? `${loaded.join(', ')} loaded in this browser` : 'no model loaded') +
    (missing.length ? `; no ONNX file for ${missing.join(', ')}.` : '.');
}

async function runOnnx(answer) {
  const result = $('result');
  result.dataset.onnx = 'busy';
  try {
    await ensureOnnxModels();
    const ort = state.ort;
    for (const m of state.models.filter((x) => state.onnxModels.has(x.id))) {
      const entry = state.onnxModels.get(m.id);
      const id = `${m.id} (onnx)`;
      if (entry.unavailable) {
        const card = el(
          'article',
          { class: 'chart onnx', 'data-model': id, 'data-source': 'onnx', 'data-unavailable': 'true' },
          el('h3', {}, m.id, ' ', el('span', { class: 'sub', text: 'in this browser (ONNX)' })),
          el('p', { class: 'compare missing', text: `No ONNX model: ${entry.unavailable}` }),
        );
        placeChart(card, 'onnx');
        continue;
      }
      const { session } = entry;
      const input = session.inputNames.includes('images') ? 'images' : session.inputNames[0];
      const output = session.outputNames.includes('probs') ? 'probs' : session.outputNames[0];
      // The same input as the server's: the preprocessed 28×28 pixels in [0, 1], NCHW.
      const x = new ort.Tensor(
        'float32',
        Float32Array.from(answer.preprocessed, (v) => v / 255),
        [1, 1, 28, 28],
      );
      const t0 = performance.now();
      const out = await session.run({ [input]: x });
      const ms = performance.now() - t0;
      const mine = Array.from(out[output].data);
      for (const t of Object.values(out)) t.dispose();
      const server = answer.predictions.find((p) => p.model === m.id);
      const card = chart({ id, title: m.id, sub: 'in this browser (ONNX)', probabilities: mine, source: 'onnx' });
      card.append(compareLine(mine, server, ms));
      placeChart(card, 'onnx');
    }
    result.dataset.onnx = 'done';
  } catch (e) {
    result.dataset.onnx = 'error';
    $('onnx-status').textContent = `The ONNX model failed in this browser: ${e.message}`;
  }
}

function removeOnnxCharts() {
  for (const c of document.querySelectorAll('.chart.onnx')) c.remove();
  delete $('result').dataset.onnx;
}

// ---------- inputs ----------

function sendFile(file) {
  if (!file) return;
  const type = file.type === 'image/png' || file.type === 'image/jpeg' ? file.type : 'application/octet-stream';
  predict(file, type);
}

function setUpDrop() {
  const drop = $('drop');
  $('file').addEventListener('change', (e) => {
    sendFile(e.target.files[0]);
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    sendFile(e.dataTransfer.files[0]);
  });
  // Dropping anywhere else should not navigate away from the page.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
}

function setUpPad() {
  const pad = $('pad');
  const ctx = pad.getContext('2d');
  let drawing = false;
  let dirty = false;
  const clear = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, pad.width, pad.height);
    dirty = false;
  };
  clear();
  const point = (e) => {
    const r = pad.getBoundingClientRect();
    return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height];
  };
  pad.addEventListener('pointerdown', (e) => {
    drawing = true;
    pad.setPointerCapture(e.pointerId);
    const [x, y] = point(e);
    ctx.strokeStyle = '#fff';
    ctx.fillStyle = '#fff';
    ctx.lineWidth = 20;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.arc(x, y, 10, 0, Math.PI * 2);
    ctx.fill();
    ctx.beginPath();
    ctx.moveTo(x, y);
    dirty = true;
  });
  pad.addEventListener('pointermove', (e) => {
    if (!drawing) return;
    const [x, y] = point(e);
    ctx.lineTo(x, y);
    ctx.stroke();
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    requestAnimationFrame(classifyDrawing);
  };
  pad.addEventListener('pointerup', end);
  pad.addEventListener('pointercancel', end);
  const classifyDrawing = () => {
    if (!dirty) {
      showError('The drawing is empty: draw something first.');
      return;
    }
    pad.toBlob((blob) => blob && predict(blob, 'image/png'), 'image/png');
  };
  $('classify-drawing').addEventListener('click', classifyDrawing);
  $('clear').addEventListener('click', clear);
}

async function randomSample() {
  if (state.busy) return;
  try {
    const { body } = await api('/v1/samples/random');
    await predict(
      JSON.stringify({ pixels: body.pixels }),
      'application/json',
      `${body.class} (test image ${body.index})`,
    );
  } catch (e) {
    showError(`No random image: ${e.message}`);
  }
}

async function init() {
  setUpDrop();
  setUpPad();
  $('random').addEventListener('click', randomSample);
  $('browser-toggle').addEventListener('change', async (e) => {
    if (e.target.checked) {
      if (state.last) await runInBrowser(state.last);
      else {
        try {
          await ensureBrowserModels();
        } catch (err) {
          $('browser-status').textContent = `The in-browser model failed: ${err.message}`;
        }
      }
    } else removeBrowserCharts();
  });
  $('onnx-toggle').addEventListener('change', async (e) => {
    if (e.target.checked) {
      if (state.last) await runOnnx(state.last);
      else {
        try {
          await ensureOnnxModels();
        } catch (err) {
          $('onnx-status').textContent = `The ONNX model failed in this browser: ${err.message}`;
        }
      }
    } else removeOnnxCharts();
  });
  try {
    const { body } = await api('/v1/models');
    state.classes = body.classes;
    state.models = body.models;
    renderModels();
    document.body.dataset.ready = 'true';
  } catch (e) {
    $('summary').textContent = 'The models could not be listed.';
    showError(`Could not reach the server: ${e.message}`);
  }
}

init();
