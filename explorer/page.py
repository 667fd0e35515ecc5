"""The explorer's page: one HTML file, its script and its style sheet, held in memory and
served at fixed paths. No inline script or style (the Content-Security-Policy is
`default-src 'self'`) and no address outside this server."""

HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>StyleGAN explorer</title>
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header>
  <h1>StyleGAN explorer</h1>
  <label>checkpoint <select id="model"></select></label>
  <label id="class_box" hidden>class <select id="class"></select></label>
  <span id="timing" aria-live="polite"></span>
</header>
<main>
  <section id="view">
    <img id="image" alt="the generated image">
    <p id="error" role="alert" hidden></p>
    <p class="caption">neighbouring seeds (click one)</p>
    <img id="strip" alt="the neighbouring seeds">
    <div id="pair">
      <figure><img id="image_a" alt="seed A alone"><figcaption>A</figcaption></figure>
      <figure><img id="image_b" alt="seed B alone"><figcaption>B</figcaption></figure>
    </div>
  </section>
  <section id="controls">
    <fieldset>
      <legend>seed</legend>
      <button id="previous" title="previous seed (left arrow)">&larr;</button>
      <input id="seed" inputmode="numeric" size="10" aria-label="seed">
      <button id="next" title="next seed (right arrow)">&rarr;</button>
      <button id="random">random</button>
    </fieldset>
    <fieldset>
      <legend>truncation</legend>
      <label>psi <input id="psi" type="range" min="-1" max="2" step="0.05"></label>
      <output id="psi_value"></output>
      <label>cutoff (layers) <input id="cutoff" inputmode="numeric" size="4" placeholder="all"></label>
    </fieldset>
    <fieldset>
      <legend>style mixing with seed B</legend>
      <label>seed B <input id="mix" inputmode="numeric" size="10"></label>
      <div id="presets">
        <button data-preset="none">none</button>
        <button data-preset="coarse">coarse</button>
        <button data-preset="middle">middle</button>
        <button data-preset="fine">fine</button>
      </div>
      <div id="blocks"></div>
      <label>A to B <input id="lerp" type="range" min="0" max="1" step="0.01"></label>
      <output id="lerp_value"></output>
    </fieldset>
    <fieldset>
      <legend>noise</legend>
      <select id="noise" aria-label="noise">
        <option value="stored">stored</option>
        <option value="random">random</option>
        <option value="off">off</option>
      </select>
      <label>noise seed <input id="noise_seed" inputmode="numeric" size="10"></label>
    </fieldset>
    <fieldset id="directions_box" hidden>
      <legend>directions</legend>
      <div id="directions"></div>
    </fieldset>
    <fieldset>
      <legend>keep it</legend>
      <a id="download_png" download>image (PNG)</a>
      <a id="download_latent" download>latent (.npz)</a>
      <p>the same image from the latent file:</p>
      <code id="command"></code>
    </fieldset>
  </section>
</main>
</body>
</html>
"""

SCRIPT = r"""'use strict';
const $ = (id) => document.getElementById(id);
const address = new URLSearchParams(location.search);
const token = address.get('token');
const client = Math.random().toString(36).slice(2, 10);
const FIELDS = ['model', 'seed', 'psi', 'cutoff', 'mix', 'blocks', 'lerp', 'noise', 'noise_seed',
                'class'];
let info = null;
let state = {};
let latest = 0;

function model() {
  return info.models.find((m) => m.name === state.model) || info.models[0];
}

function defaults() {
  const m = info.models[0];
  const base = {model: m.name, seed: '0', psi: '0.7', cutoff: '', mix: '1', blocks: '',
                lerp: '0', noise: m.stored_noise ? 'stored' : 'random', noise_seed: '0',
                class: ''};
  info.directions.forEach((_, i) => { base['d' + i] = '0'; });
  return base;
}

function readAddress() {
  const now = new URLSearchParams(location.search);
  state = defaults();
  for (const key of Object.keys(state)) {
    if (now.has(key)) state[key] = now.get(key);
  }
}

function settingsQuery(changes) {
  const query = new URLSearchParams();
  const chosen = Object.assign({}, state, changes || {});
  for (const key of Object.keys(chosen)) query.set(key, chosen[key]);
  if (token) query.set('token', token);
  return query.toString();
}

function api(route, changes, slot) {
  return '/api/' + route + '?' + settingsQuery(changes) + '&client=' + client + (slot || '');
}

function writeAddress(replace) {
  const url = location.pathname + '?' + settingsQuery();
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
}

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = false;
}

function shellQuote(text) {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : "'" + text.replace(/'/g, "'\\''") + "'";
}

function fillControls() {
  const m = model();
  $('model').value = m.name;
  const classes = $('class');
  $('class_box').hidden = m.classes.length === 0;
  if (classes.dataset.model !== m.name) {
    classes.textContent = '';
    m.classes.forEach((name, k) => {
      const option = document.createElement('option');
      option.value = String(k);
      option.textContent = k + ': ' + name;
      classes.append(option);
    });
    classes.dataset.model = m.name;
  }
  classes.value = state.class === '' ? '0' : state.class;
  for (const key of ['seed', 'cutoff', 'mix', 'noise_seed']) {
    if (document.activeElement !== $(key)) $(key).value = state[key];
  }
  $('psi').value = state.psi;
  $('psi_value').textContent = state.psi;
  $('lerp').value = state.lerp;
  $('lerp_value').textContent = state.lerp;
  $('noise').value = state.noise;
  $('noise').querySelector('[value=stored]').disabled = !m.stored_noise;
  const chosen = state.blocks.split(',').filter((b) => b !== '');
  const box = $('blocks');
  box.textContent = '';
  for (let b = 0; b < m.blocks; b++) {
    const label = document.createElement('label');
    const tick = document.createElement('input');
    tick.type = 'checkbox';
    tick.value = String(b);
    tick.checked = chosen.includes(String(b));
    tick.addEventListener('change', () => {
      const ticked = [...box.querySelectorAll('input:checked')].map((t) => t.value);
      change({blocks: ticked.join(',')});
    });
    label.append(tick, ' ' + (4 * 2 ** b) + ' px');
    box.append(label);
  }
  for (const button of document.querySelectorAll('[data-preset]')) {
    const name = button.dataset.preset;
    button.disabled = name !== 'none' && m.presets[name].length === 0;
  }
  info.directions.forEach((_, i) => {
    $('d' + i).value = state['d' + i];
    $('d' + i + '_value').textContent = state['d' + i];
  });
}

async function show() {
  fillControls();
  const ticket = ++latest;
  const url = api('render') + '&n=' + ticket;
  const started = performance.now();
  let response;
  try {
    response = await fetch(url);
  } catch (error) {
    if (ticket === latest) showError('the server does not answer: ' + error);
    return;
  }
  if (ticket !== latest || response.status === 204) return;
  if (!response.ok) {
    let message = 'error ' + response.status;
    try { message = (await response.json()).error; } catch (error) { /* not JSON */ }
    showError(message);
    return;
  }
  await response.arrayBuffer();
  const rendering = response.headers.get('X-Render-Ms');
  $('image').src = url;
  $('error').hidden = true;
  $('timing').textContent = 'rendered in ' + rendering + ' ms, shown after ' +
    Math.round(performance.now() - started) + ' ms';
  $('strip').src = api('strip', {}, '-strip');
  $('image_a').src = api('render', {blocks: '', lerp: '0'}, '-a');
  $('image_b').src = api('render', {seed: state.mix, blocks: '', lerp: '0'}, '-b');
  $('download_png').href = url;
  $('download_png').download = 'seed' + state.seed + '.png';
  $('download_latent').href = api('latent', {}, '-latent');
  $('download_latent').download = 'seed' + state.seed + '.npz';
  $('command').textContent = 'python generate.py ' + shellQuote(model().path) +
    ' --latents seed' + state.seed + '.npz --out explored';
}

function change(changes, replace) {
  Object.assign(state, changes);
  writeAddress(replace);
  show();
}

function stepSeed(by) {
  const seed = parseInt(state.seed, 10);
  if (!Number.isNaN(seed)) change({seed: String(Math.max(0, seed + by))});
}

function addDirections() {
  if (info.directions.length === 0) return;
  $('directions_box').hidden = false;
  info.directions.forEach((name, i) => {
    const label = document.createElement('label');
    const slider = document.createElement('input');
    slider.type = 'range';
    slider.min = '-5';
    slider.max = '5';
    slider.step = '0.1';
    slider.id = 'd' + i;
    const value = document.createElement('output');
    value.id = 'd' + i + '_value';
    slider.addEventListener('input', () => change({['d' + i]: slider.value}, true));
    slider.addEventListener('change', () => writeAddress(false));
    label.append(name + ' ', slider, value);
    $('directions').append(label);
  });
}

function wire() {
  for (const m of info.models) {
    const option = document.createElement('option');
    option.value = m.name;
    option.textContent = m.name + ' (' + m.size + ' px)';
    $('model').append(option);
  }
  addDirections();
  $('model').addEventListener('change', () => {
    const m = info.models.find((x) => x.name === $('model').value);
    change({model: m.name, blocks: '', noise: m.stored_noise ? 'stored' : 'random',
            class: m.classes.length ? '0' : ''});
  });
  $('class').addEventListener('change', () => change({class: $('class').value}));
  for (const key of ['seed', 'cutoff', 'mix', 'noise_seed']) {
    $(key).addEventListener('change', () => change({[key]: $(key).value.trim()}));
  }
  $('previous').addEventListener('click', () => stepSeed(-1));
  $('next').addEventListener('click', () => stepSeed(1));
  $('random').addEventListener('click', () =>
    change({seed: String(Math.floor(Math.random() * 100000))}));
  for (const key of ['psi', 'lerp']) {
    $(key).addEventListener('input', () => change({[key]: $(key).value}, true));
    $(key).addEventListener('change', () => writeAddress(false));
  }
  $('noise').addEventListener('change', () => change({noise: $('noise').value}));
  for (const button of document.querySelectorAll('[data-preset]')) {
    button.addEventListener('click', () => {
      const name = button.dataset.preset;
      change({blocks: name === 'none' ? '' : model().presets[name].join(',')});
    });
  }
  $('strip').addEventListener('click', (event) => {
    const seed = parseInt(state.seed, 10);
    const index = Math.floor(event.offsetX / ($('strip').clientWidth / 7));
    if (!Number.isNaN(seed)) change({seed: String(Math.max(0, seed - 3 + index))});
  });
  document.addEventListener('keydown', (event) => {
    if (event.target.tagName === 'INPUT' && event.target.type !== 'range') return;
    if (event.key === 'ArrowLeft' && event.target.type !== 'range') stepSeed(-1);
    if (event.key === 'ArrowRight' && event.target.type !== 'range') stepSeed(1);
  });
  window.addEventListener('popstate', () => { readAddress(); show(); });
}

async function start() {
  const response = await fetch('/api/info' + (token ? '?token=' + encodeURIComponent(token) : ''));
  if (!response.ok) {
    showError((await response.json()).error);
    return;
  }
  info = await response.json();
  wire();
  readAddress();
  show();
}

start();
"""

STYLE = """body { font-family: sans-serif; margin: 0; background: #f4f4f4; color: #222; }
header { display: flex; gap: 1.5em; align-items: baseline; padding: 0.5em 1em; background: #223; color: #eee; }
header h1 { font-size: 1.2em; margin: 0; }
main { display: flex; flex-wrap: wrap; gap: 1em; padding: 1em; }
#view { flex: 0 0 auto; }
#image { width: 384px; height: 384px; image-rendering: pixelated; background: #ccc; display: block; }
#strip { width: 384px; image-rendering: pixelated; cursor: pointer; display: block; }
#pair { display: flex; gap: 1em; }
#pair img { width: 96px; height: 96px; image-rendering: pixelated; }
figure { margin: 0.5em 0; text-align: center; }
#error { color: #a00; font-weight: bold; max-width: 384px; }
.caption { margin: 0.5em 0 0.2em; font-size: 0.9em; color: #555; }
#controls { flex: 1 1 320px; }
fieldset { margin-bottom: 0.8em; border: 1px solid #bbb; }
#blocks label, #directions label { display: inline-block; margin-right: 0.8em; }
#presets { margin: 0.4em 0; }
code { display: block; background: #fff; padding: 0.4em; word-break: break-all; }
a { margin-right: 1em; }
"""

FILES = {
    "/": ("text/html; charset=utf-8", HTML.encode()),
    "/app.js": ("text/javascript; charset=utf-8", SCRIPT.encode()),
    "/app.css": ("text/css; charset=utf-8", STYLE.encode()),
}
