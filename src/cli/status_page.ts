/**
 * GET / on the --status port: one self-contained page (inline HTML, CSS and script; no build step, CDN or
 * framework). It polls /live about every second, and /nodes and /ring only when the table version moved; a
 * hidden tab stops polling, so a node that nobody watches does no work for it. Peer data is put into the page
 * as text nodes only (never as HTML): a peer controls its znode's content.
 */

const CSS = `
:root { --bg: #f4f5f7; --card: #fff; --ink: #1c2230; --mute: #5d6677; --line: #dde1e8;
  --ok: #1e8449; --warn: #b9770e; --bad: #c0392b; --bar: #3867d6;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); }
header { background: #1c2230; color: #fff; padding: 8px 16px; display: flex; flex-wrap: wrap;
  align-items: center; gap: 4px 18px; }
header h1 { font-size: 16px; margin: 0; font-weight: 600; }
header .item { color: #c9d0dc; white-space: nowrap; }
header .item b { color: #fff; font-weight: 600; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; color: #fff;
  background: var(--mute); }
.badge.ok { background: var(--ok); } .badge.warn { background: var(--warn); } .badge.bad { background: var(--bad); }
#error { display: none; background: #fdecea; color: var(--bad); padding: 6px 16px; border-bottom: 1px solid #f5c6c0; }
main { padding: 12px 16px; display: grid; gap: 12px;
  grid-template-columns: repeat(auto-fit, minmax(min(100%, 360px), 1fr)); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px;
  min-width: 0; }
.card h2 { font-size: 14px; margin: 0 0 8px; }
.card * + h2 { margin-top: 12px; }
.wide { grid-column: 1 / -1; }
.cols { display: grid; gap: 14px; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); }
@media (max-width: 900px) { .cols { grid-template-columns: minmax(0, 1fr); } }
dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 2px 12px; margin: 0; }
dt { color: var(--mute); } dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 3px 8px 3px 0; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--mute); font-weight: 600; }
td.num, th.num { text-align: right; }
tr.self td { font-weight: 600; }
.scroll { overflow: auto; max-height: 380px; }
.mute { color: var(--mute); }
.bad-list td { white-space: normal; overflow-wrap: anywhere; }
.bad-list td:first-child { white-space: nowrap; }
@media (max-width: 560px) { .nodes .when { display: none; } }
.reason { color: var(--bad); font-weight: 600; }
form { display: flex; flex-wrap: wrap; gap: 6px; margin-bottom: 8px; }
input, select, button { font: inherit; padding: 4px 8px; border: 1px solid var(--line); border-radius: 4px; }
input { flex: 1 1 140px; min-width: 0; }
button { background: var(--bar); color: #fff; border-color: var(--bar); cursor: pointer; }
button.link { background: none; border: none; color: var(--bar); padding: 0; text-decoration: underline; }
#lookup-result { min-height: 2.9em; overflow-wrap: anywhere; }
.meter { height: 10px; background: #e6e9ef; border-radius: 5px; overflow: hidden; }
.meter > div { height: 100%; background: var(--bar); }
svg text { font: 11px system-ui, sans-serif; fill: var(--ink); }
svg .axis { fill: var(--mute); }
svg rect.bar { fill: var(--bar); }
svg line.even { stroke: var(--ink); stroke-dasharray: 3 3; stroke-width: 1; }
svg polyline { fill: none; stroke: var(--bar); stroke-width: 1.5; }
`;

const BODY = `
<header>
  <h1>zkbio status</h1>
  <span class="item">session <span id="state" class="badge">…</span></span>
  <span class="item">table <b id="version">…</b>, changed <b id="changed">…</b></span>
  <span class="item">answered by <b id="pid">…</b></span>
</header>
<div id="error" role="alert"></div>
<main>
  <section class="card" id="session">
    <h2>Session</h2>
    <dl>
      <dt>state</dt><dd id="s-state">…</dd>
      <dt>own node</dt><dd id="s-self">…</dd>
      <dt>table version</dt><dd id="s-version">…</dd>
      <dt>last change</dt><dd id="s-changed">…</dd>
      <dt>subscribed</dt><dd id="s-types">…</dd>
      <dt>answered by</dt><dd id="s-pid">…</dd>
    </dl>
  </section>
  <section class="card" id="drain">
    <h2>Ack drain</h2>
    <div id="drain-stats" class="mute">…</div>
    <div id="drain-chart"></div>
    <h2>Queue depths</h2>
    <div id="queues"></div>
  </section>
  <section class="card" id="lookup">
    <h2>Where does a key go?</h2>
    <form id="lookup-form">
      <select id="lookup-type" aria-label="node type"></select>
      <input id="lookup-key" placeholder="key" aria-label="key" autocomplete="off">
      <button type="submit">Look up</button>
    </form>
    <div id="lookup-result" class="mute">Type a key and press Look up.</div>
  </section>
  <div id="types" class="wide" style="display: grid; gap: 12px"></div>
</main>
`;

// The script is plain ES2020 for any current browser; no template literals, so it sits in this one.
const SCRIPT = String.raw`
'use strict';
var POLL_MS = 1000;
var HISTORY = 60;
var MAX_BARS = 48;
var KEY_SPACE = 4294967296;
var SVGNS = 'http://www.w3.org/2000/svg';
var view = { version: -1, live: null, nodes: null, ring: null, receivedAt: 0, badKey: '', typesKey: '',
  showAll: {}, ages: [], depth: { task: [], ack: [] }, prev: null, rate: null, timer: 0, busy: false };

function $(id) { return document.getElementById(id); }
function el(ns, tag, attrs, kids) {
  var e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (var k in attrs || {}) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, String(attrs[k]));
  (kids || []).forEach(function (c) { e.append(c instanceof Node ? c : document.createTextNode(String(c))); });
  return e;
}
function h(tag, attrs, kids) { return el(null, tag, attrs, kids); }
function s(tag, attrs, kids) { return el(SVGNS, tag, attrs, kids); }
function put(id, content) { var e = $(id); e.replaceChildren(content instanceof Node ? content : String(content)); }

function fmtAge(ms) {
  var t = Math.max(0, Math.floor(ms / 1000));
  if (t < 60) return t + ' s';
  if (t < 3600) return Math.floor(t / 60) + ' m ' + (t % 60) + ' s';
  if (t < 86400) return Math.floor(t / 3600) + ' h ' + Math.floor((t % 3600) / 60) + ' m';
  return Math.floor(t / 86400) + ' d ' + Math.floor((t % 86400) / 3600) + ' h';
}
function fmtTime(ms) {
  var d = new Date(ms);
  function p(n) { return String(n).padStart(2, '0'); }
  return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' + p(d.getHours()) + ':' +
    p(d.getMinutes()) + ':' + p(d.getSeconds());
}
function fmtSec(sec) {
  if (sec < 0.001) return +(sec * 1e6).toPrecision(3) + ' µs';
  if (sec < 1) return +(sec * 1e3).toPrecision(3) + ' ms';
  return +sec.toPrecision(3) + ' s';
}
/** Two decimals, or three significant digits below 1% (4,000 members have about 0.025% each). */
function fmtPct(share) { var p = share * 100; return (p >= 1 || p === 0 ? p.toFixed(2) : p.toPrecision(3)) + '%'; }
function fmtInt(n) { return Math.round(n).toLocaleString('en-US'); }
/** The server's clock now, so ages do not depend on the browser's clock. */
function serverNow() { return view.live ? view.live.now + (Date.now() - view.receivedAt) : Date.now(); }

function getJson(path) {
  return fetch(path, { cache: 'no-store' }).then(function (r) {
    return r.json().then(function (body) {
      if (!r.ok && r.status !== 404) throw new Error(path + ': HTTP ' + r.status + (body.error ? ' (' + body.error + ')' : ''));
      return { status: r.status, body: body };
    });
  });
}

function poll() {
  clearTimeout(view.timer);
  if (view.busy) return; // the poll in flight schedules the next one
  view.busy = true;
  getJson('/live').then(function (r) {
    var live = r.body;
    var fresh = view.nodes === null || live.version !== view.version;
    var more = fresh ? Promise.all([getJson('/nodes'), getJson('/ring')]) : Promise.resolve(null);
    return more.then(function (got) {
      view.live = live;
      view.receivedAt = Date.now();
      if (got) {
        view.nodes = got[0].body;
        view.ring = got[1].body;
        // Two workers may answer at two versions for a moment: look again next time until they agree.
        view.version = view.nodes.version === view.ring.version ? view.nodes.version : -1;
        renderTypes();
      }
      sample();
      renderBad();
      renderStatus();
      renderDrain();
      showError(null);
    });
  }).catch(function (err) {
    showError('No answer from the node (' + err.message + '); retrying every second.');
  }).finally(function () {
    view.busy = false;
    if (!document.hidden) view.timer = setTimeout(poll, POLL_MS);
  });
}
document.addEventListener('visibilitychange', function () { if (!document.hidden) poll(); });

function showError(text) {
  var e = $('error');
  e.style.display = text ? 'block' : 'none';
  e.textContent = text || '';
}

var STATE_CLASS = { CONNECTED: 'ok', CONNECTING: 'warn', SUSPENDED: 'warn', EXPIRED: 'bad', AUTH_FAILED: 'bad', CLOSED: 'bad' };

function renderStatus() {
  var l = view.live;
  var badge = $('state');
  badge.textContent = l.state + (l.state === 'CONNECTED' && !l.healthy ? ' (not registered)' : '');
  badge.className = 'badge ' + (l.healthy ? 'ok' : STATE_CLASS[l.state] || '');
  put('s-state', l.state + (l.healthy ? ', healthy' : ', not healthy'));
  put('s-self', l.self || 'not registered');
  put('version', 'v' + l.version);
  put('s-version', String(l.version));
  put('s-types', l.types.join(', ') || 'none');
  var who = 'pid ' + l.served_by + ' (' + l.role + ')';
  put('pid', who);
  put('s-pid', who);
  tick();
}

/** The parts that move with the clock: the time since the last change and the nodes' ages. */
function tick() {
  if (!view.live) return;
  var now = serverNow();
  var changed = view.live.changed_at === null ? 'no change yet' : fmtAge(now - view.live.changed_at) + ' ago';
  put('changed', changed);
  put('s-changed', view.live.changed_at === null ? changed : changed + ' (' + fmtTime(view.live.changed_at) + ')');
  view.ages.forEach(function (a) { a.cell.textContent = fmtAge(now - a.since); });
}
setInterval(tick, 1000);

function allTypes() {
  var set = new Set(view.live ? view.live.types : []);
  (view.nodes ? view.nodes.nodes : []).forEach(function (n) { set.add(n.type); });
  return Array.from(set);
}

function renderTypes() {
  var types = allTypes();
  var byType = {};
  types.forEach(function (t) { byType[t] = []; });
  view.nodes.nodes.forEach(function (n) { byType[n.type].push(n); });
  types.forEach(function (t) { byType[t].sort(byAddress); });
  view.ages = [];
  var box = $('types');
  box.replaceChildren.apply(box, types.map(function (t) { return typeSection(t, byType[t]); }));
  renderRings();
  var key = types.join('\n');
  if (key !== view.typesKey) {
    view.typesKey = key;
    var select = $('lookup-type');
    var chosen = select.value;
    select.replaceChildren.apply(select, types.map(function (t) { return h('option', { value: t }, [t]); }));
    if (types.indexOf(chosen) >= 0) select.value = chosen;
  }
}

/** host, then port, then worker: the order a person looks for, whatever order the ring has. */
function byAddress(a, b) {
  return a.host.localeCompare(b.host, 'en', { numeric: true }) || a.port - b.port ||
    (a.worker_index || 0) - (b.worker_index || 0);
}

function serverShares(type) {
  var shares = {};
  var r = view.ring.types[type];
  (r ? r.members : []).forEach(function (m) {
    var k = m.host + ':' + m.port;
    shares[k] = (shares[k] || 0) + m.share;
  });
  return shares;
}

function typeSection(type, nodes) {
  var shares = serverShares(type);
  var r = view.ring.types[type];
  var rows = nodes.map(function (n) {
    var age = h('td', { class: 'num' });
    view.ages.push({ cell: age, since: n.active_time * 1000 });
    var share = shares[n.host + ':' + n.port];
    return h('tr', { class: n.path === view.nodes.self ? 'self' : null, title: n.path }, [
      h('td', {}, [n.host + ':' + n.port + (n.path === view.nodes.self ? ' (this node)' : '')]),
      h('td', { class: 'num' }, [n.worker_cnt]),
      h('td', { class: 'when' }, [fmtTime(n.active_time * 1000)]),
      age,
      h('td', { class: 'num' }, [share === undefined ? '–' : fmtPct(share)]),
    ]);
  });
  var table = nodes.length === 0 ? h('p', { class: 'mute' }, ['No node of this type serves.']) :
    h('div', { class: 'scroll' }, [h('table', { class: 'nodes' }, [
      h('thead', {}, [h('tr', {}, [h('th', {}, ['host:port']), h('th', { class: 'num' }, ['worker_cnt']),
        h('th', { class: 'when' }, ['active_time']), h('th', { class: 'num' }, ['age']), h('th', { class: 'num' }, ['key share'])])]),
      h('tbody', {}, rows)])]);
  var summary = nodes.length + (nodes.length === 1 ? ' node' : ' nodes') +
    (r ? ', ' + r.members.length + ' ring members, ' + fmtInt(r.points) + ' points' : '');
  return h('section', { class: 'card type', 'data-type': type }, [
    h('h2', {}, ['Type ' + type + ' ', h('span', { class: 'mute' }, ['— ' + summary])]),
    h('div', { class: 'cols' }, [
      h('div', {}, [table, h('div', { class: 'bad-box' })]),
      h('div', { class: 'ring', 'data-type': type }),
    ]),
  ]);
}

function renderBad() {
  var l = view.live;
  var key = JSON.stringify([l.bad, l.bad_total, view.typesKey]);
  if (key === view.badKey) return;
  view.badKey = key;
  document.querySelectorAll('#types section.type').forEach(function (sec) {
    var type = sec.getAttribute('data-type');
    var bad = l.bad.filter(function (b) { return b.type === type; });
    var box = sec.querySelector('.bad-box');
    if (bad.length === 0) { box.replaceChildren(); return; }
    var more = l.bad_total > l.bad.length ? ' (' + l.bad_total + ' in all types; the first ' + l.bad.length + ' are listed)' : '';
    box.replaceChildren(
      h('h2', { style: 'margin-top: 12px' }, ['Bad peer data, skipped: ' + bad.length + more]),
      h('div', { class: 'scroll' }, [h('table', { class: 'bad-list' }, [
        h('thead', {}, [h('tr', {}, [h('th', {}, ['znode']), h('th', {}, ['reason']), h('th', {}, ['since'])])]),
        h('tbody', {}, bad.map(function (b) {
          return h('tr', {}, [
            h('td', {}, [b.path.slice(b.path.lastIndexOf('/') + 1)]),
            h('td', {}, [h('span', { class: 'reason' }, [b.reason]), ': ' + b.detail]),
            h('td', {}, [fmtTime(b.since)]),
          ]);
        }))])]));
  });
}

function renderRings() {
  document.querySelectorAll('#types .ring').forEach(function (box) {
    var type = box.getAttribute('data-type');
    var r = view.ring.types[type];
    if (!r) { box.replaceChildren(h('p', { class: 'mute' }, ['No ring: no member serves this type.'])); return; }
    box.replaceChildren(ringChart(type, r, box.clientWidth || 400));
  });
}

/** One bar per ring member: its share of the 2^32 key hashes, against the even split (dashed). */
function ringChart(type, r, width) {
  var ms = r.members.slice().sort(byAddress);
  var sum = ms.reduce(function (a, m) { return a + m.keys; }, 0) / KEY_SPACE;
  var max = ms.reduce(function (a, m) { return Math.max(a, m.share); }, 0) || 1;
  var min = ms.reduce(function (a, m) { return Math.min(a, m.share); }, 1);
  var ideal = 1 / ms.length;
  var shown = view.showAll[type] ? ms : ms.slice(0, MAX_BARS);
  var rowH = 18, labelW = Math.min(190, Math.floor(width * 0.42)), pctW = 56;
  var barW = Math.max(20, width - labelW - pctW - 4);
  var svg = s('svg', { width: width, height: shown.length * rowH + 4, class: 'shares', role: 'img',
    'aria-label': 'key space share per ring member of ' + type });
  shown.forEach(function (m, i) {
    var y = i * rowH;
    svg.append(
      s('text', { x: labelW - 6, y: y + 13, 'text-anchor': 'end', class: 'member' }, [m.id]),
      s('rect', { x: labelW, y: y + 3, width: Math.max(1, (m.share / max) * barW), height: rowH - 6, rx: 2,
        class: 'bar' }, [s('title', {}, [m.id + ': ' + fmtInt(m.keys) + ' of 2^32 key hashes'])]),
      s('text', { x: labelW + barW + pctW, y: y + 13, 'text-anchor': 'end', class: 'pct' }, [fmtPct(m.share)]));
  });
  var ix = labelW + (ideal / max) * barW;
  svg.append(s('line', { x1: ix, x2: ix, y1: 0, y2: shown.length * rowH, class: 'even' }, [s('title', {}, ['even split: ' + fmtPct(ideal)])]));
  var kids = [h('div', { class: 'mute share-sum' }, [ms.length + ' members; shares sum to ' + fmtPct(sum) +
      '; even split ' + fmtPct(ideal) + ' (dashed), min ' + fmtPct(min) + ', max ' + fmtPct(max)]), svg];
  if (ms.length > MAX_BARS) {
    var b = h('button', { class: 'link', type: 'button' },
      [view.showAll[type] ? 'show the first ' + MAX_BARS : 'show all ' + ms.length + ' members']);
    b.addEventListener('click', function () { view.showAll[type] = !view.showAll[type]; renderRings(); });
    kids.push(b);
  }
  return h('div', {}, kids);
}

/** Once per poll: the drain rate since the last poll and the queue depth history (HISTORY samples at most). */
function sample() {
  var d = view.live.drain;
  var now = Date.now();
  if (view.prev && now > view.prev.at) view.rate = ((d.count - view.prev.count) * 1000) / (now - view.prev.at);
  view.prev = { count: d.count, at: now };
  ['task', 'ack'].forEach(function (name) {
    var hist = view.depth[name];
    hist.push(view.live.queues[name].used);
    if (hist.length > HISTORY) hist.shift();
  });
}

function renderDrain() {
  var d = view.live.drain;
  var below = 0, p50 = null, p99 = null;
  d.counts.forEach(function (c, i) {
    below += c;
    var le = i < d.le.length ? d.le[i] : Infinity;
    if (p50 === null && below >= d.count * 0.5 && d.count > 0) p50 = le;
    if (p99 === null && below >= d.count * 0.99 && d.count > 0) p99 = le;
  });
  function bound(v) { return v === null ? '–' : v === Infinity ? '> ' + fmtSec(d.le[d.le.length - 1]) : '≤ ' + fmtSec(v); }
  put('drain-stats', fmtInt(d.count) + ' acks drained' + (view.rate === null ? '' : ', ' + fmtInt(view.rate) + '/s now') +
    (d.count > 0 ? '; mean ' + fmtSec(d.sum_s / d.count) + ', p50 ' + bound(p50) + ', p99 ' + bound(p99) : ''));
  var box = $('drain-chart');
  var width = box.clientWidth || 360, height = 120, n = d.counts.length;
  var top = Math.max.apply(null, d.counts.concat([1]));
  var bw = width / n;
  var svg = s('svg', { width: width, height: height + 16, role: 'img', 'aria-label': 'ack drain latency histogram' });
  d.counts.forEach(function (c, i) {
    var bh = c === 0 ? 0 : Math.max(1, (c / top) * height);
    var label = i < d.le.length ? fmtSec(d.le[i]).replace(' ', '') : '>' + fmtSec(d.le[d.le.length - 1]).replace(' ', '');
    svg.append(
      s('rect', { x: i * bw + 1, y: height - bh, width: Math.max(1, bw - 2), height: bh, class: 'bar' },
        [s('title', {}, [(i < d.le.length ? '≤ ' : '') + label + ': ' + fmtInt(c) + ' acks'])]),
      s('text', { x: i === 0 ? 0 : i === n - 1 ? width : i * bw + bw / 2, y: height + 12, class: 'axis',
        'text-anchor': i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle' }, [i % 2 === 0 || i === n - 1 ? label : '']));
  });
  box.replaceChildren(svg, h('div', { class: 'mute' }, ['From an ack written by the bio thread to its handling on the main loop: acks per bucket since start.']));
  renderQueues();
}

function renderQueues() {
  var q = view.live.queues;
  var rows = ['task', 'ack'].map(function (name) {
    var r = q[name];
    var pct = r.capacity > 0 ? Math.min(100, (r.used / r.capacity) * 100) : 0;
    return h('tr', {}, [
      h('td', {}, [name + ' ring']),
      h('td', { class: 'num' }, [fmtInt(r.used) + ' / ' + fmtInt(r.capacity)]),
      h('td', { style: 'width: 30%' }, [h('div', { class: 'meter', title: pct.toFixed(1) + '% full' }, [h('div', { style: 'width: ' + pct + '%' })])]),
      h('td', {}, [sparkline(view.depth[name])]),
    ]);
  });
  put('queues', h('div', {}, [
    h('table', {}, [h('thead', {}, [h('tr', {}, [h('th', {}, ['ring']), h('th', { class: 'num' }, ['used / capacity']),
      h('th', {}, ['fill']), h('th', {}, ['last ' + HISTORY + ' s'])])]), h('tbody', {}, rows)]),
    h('div', { class: 'mute' }, ['tasks refused on a full ring: ' + fmtInt(q.full_total)]),
  ]));
}

function sparkline(values) {
  var w = 90, ht = 18, top = Math.max.apply(null, values.concat([1]));
  var pts = values.map(function (v, i) { return (i * w / (HISTORY - 1)).toFixed(1) + ',' + (ht - (v / top) * (ht - 2) - 1).toFixed(1); });
  return s('svg', { width: w, height: ht, role: 'img', 'aria-label': 'recent depth' },
    [s('polyline', { points: pts.join(' ') })]);
}

$('lookup-form').addEventListener('submit', function (ev) {
  ev.preventDefault();
  var type = $('lookup-type').value, key = $('lookup-key').value;
  var out = $('lookup-result');
  if (!type) { out.textContent = 'No node type to look up in yet.'; return; }
  out.textContent = 'looking up…';
  getJson('/lookup?type=' + encodeURIComponent(type) + '&key=' + encodeURIComponent(key)).then(function (r) {
    var b = r.body;
    if (r.status !== 200) { out.replaceChildren(h('span', { class: 'reason' }, [b.error || 'not found'])); return; }
    out.replaceChildren(
      h('div', {}, ['key ', h('b', { class: 'lookup-key' }, [JSON.stringify(key)]), ' goes to ',
        h('b', { class: 'lookup-target' }, [b.host + ':' + b.port]), ', worker ', h('b', {}, [b.worker_index])]),
      h('div', { class: 'mute' }, ['ring member ' + b.id + ', table v' + b.version + ', answered by pid ' + b.served_by]));
  }).catch(function (err) { out.textContent = 'lookup failed: ' + err.message; });
});

var resizeTimer = 0;
window.addEventListener('resize', function () {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(function () { if (view.ring) { renderRings(); renderDrain(); } }, 150);
});
poll();
`;

/** The page, encoded once at load. */
export const STATUS_PAGE_HTML: Buffer = Buffer.from(
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>zkbio status</title>
<style>${CSS}</style>
</head>
<body>${BODY}<script>${SCRIPT}</script>
</body>
</html>
`,
  'utf8',
);
