// nsm-sensor console. Every text from the sensor's files reaches the page through
// textContent (never innerHTML), so rule messages and packet text are shown, not run.
'use strict';

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function row(cells, cls) {
  const tr = el('tr', null, cls);
  for (const c of cells) {
    const td = el('td');
    if (c && typeof c === 'object' && c.nodeType) td.appendChild(c);
    else if (c && typeof c === 'object') { td.textContent = c.text == null ? '' : String(c.text); if (c.cls) td.className = c.cls; }
    else td.textContent = c == null ? '' : String(c);
    tr.appendChild(td);
  }
  return tr;
}
function clear(n) { while (n.firstChild) n.removeChild(n.firstChild); }
async function api(path) {
  const r = await fetch(path, { headers: { 'Accept': 'application/json' }, credentials: 'same-origin' });
  const j = await r.json().catch(() => ({ error: 'HTTP ' + r.status }));
  if (!r.ok) throw new Error(j.error || ('HTTP ' + r.status));
  return j;
}
function bytes(n) {
  if (n == null) return '';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0; let v = Number(n);
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i ? v.toFixed(1) : String(v)) + ' ' + u[i];
}
function shortTime(s) { return s ? s.replace('T', ' ').replace(/(\.\d{6})?Z$/, '') : ''; }
function ep(ip, port) { return port == null ? ip : (ip.indexOf(':') >= 0 ? '[' + ip + ']:' + port : ip + ':' + port); }

// A small line or bar chart on a canvas: series = [{label, color, points: [[x, y]], bars}].
function chart(canvas, series, opts) {
  const ctx = canvas.getContext('2d');
  const W = canvas.width, H = canvas.height, L = 48, B = 22, T = 14, R = 8;
  ctx.clearRect(0, 0, W, H);
  ctx.font = '11px sans-serif';
  const all = series.flatMap(s => s.points);
  if (!all.length) { ctx.fillStyle = '#5c6670'; ctx.fillText(opts && opts.empty || 'no data', L, H / 2); return; }
  let x0 = Math.min(...all.map(p => p[0])), x1 = Math.max(...all.map(p => p[0]));
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  const y1 = Math.max(1, ...all.map(p => p[1]));
  const X = x => L + (x - x0) / (x1 - x0) * (W - L - R);
  const Y = y => H - B - y / y1 * (H - B - T);
  ctx.strokeStyle = '#d9dee3'; ctx.fillStyle = '#5c6670';
  for (let i = 0; i <= 4; i++) {
    const y = y1 * i / 4; ctx.beginPath(); ctx.moveTo(L, Y(y)); ctx.lineTo(W - R, Y(y)); ctx.stroke();
    ctx.fillText(y >= 100 ? y.toFixed(0) : y.toFixed(1), 2, Y(y) + 4);
  }
  const fmt = (opts && opts.xfmt) || (x => String(x));
  ctx.fillText(fmt(x0), L, H - 6);
  const last = fmt(x1); ctx.fillText(last, W - R - ctx.measureText(last).width, H - 6);
  let legendX = L + 4;
  series.forEach((s, si) => {
    ctx.strokeStyle = ctx.fillStyle = s.color;
    if (s.bars) {
      const w = Math.max(2, Math.min(10, (W - L - R) / Math.max(20, s.points.length * 2)));
      for (const [x, y] of s.points) ctx.fillRect(X(x) - w / 2 + si * (w / 2), Y(y), w / 2 + 1, H - B - Y(y));
    } else {
      ctx.beginPath();
      s.points.forEach(([x, y], i) => i ? ctx.lineTo(X(x), Y(y)) : ctx.moveTo(X(x), Y(y)));
      ctx.lineWidth = 1.5; ctx.stroke();
    }
    ctx.fillText(s.label, legendX, T - 2); legendX += ctx.measureText(s.label).width + 16;
  });
}

// ---- Alerts page ----
function alertsPage() {
  const form = document.getElementById('filters');
  const params = new URLSearchParams(location.search);
  for (const [k, v] of params) {
    const f = form.elements.namedItem(k);
    if (!f) continue;
    if (f.type === 'checkbox') f.checked = v === '1'; else f.value = v;
  }
  let offset = Number(params.get('offset') || 0);
  const limit = 100;
  let shownLast = 0;
  function query(extra) {
    const q = new URLSearchParams();
    for (const name of ['from', 'to', 'sid', 'ip', 'class', 'priority']) {
      const v = form.elements.namedItem(name).value.trim();
      if (v) q.set(name, v);
    }
    q.set('group', form.elements.namedItem('group').checked ? '1' : '0');
    for (const k in (extra || {})) q.set(k, extra[k]);
    return q;
  }
  async function load() {
    const q = query({ offset: offset, limit: limit });
    history.replaceState(null, '', '/alerts?' + query(offset ? { offset: offset } : {}).toString());
    const table = document.getElementById('alerts');
    const head = table.tHead, body = table.tBodies[0];
    let j;
    try { j = await api('/api/alerts?' + q.toString()); } catch (e) {
      document.getElementById('summary').textContent = 'Error: ' + e.message; return;
    }
    shownLast = j.last_id;
    document.getElementById('fresh').hidden = true;
    clear(head); clear(body);
    const grouped = !!j.groups;
    const hr = el('tr');
    const cols = grouped
      ? ['Count', 'Last', 'First', 'Pri', 'Signature', 'Source', 'Destination', 'Classification']
      : ['Time', 'Pri', 'Signature', 'Source', 'Destination', 'Proto', 'Classification'];
    for (const c of cols) hr.appendChild(el('th', c, c === 'Count' ? 'num' : ''));
    head.appendChild(hr);
    const items = grouped ? j.groups : j.alerts;
    for (const a of items) {
      const id = grouped ? a.last_id : a.id;
      const sig = el('a', a.signature || ('[' + a.gid + ':' + a.sid + ']'));
      sig.href = '/alert/' + id;
      sig.className = 'sig';
      const pri = { text: a.priority, cls: a.priority === 1 ? 'p1' : '' };
      const tr = grouped
        ? row([{ text: a.count, cls: 'num' }, { text: shortTime(a.last), cls: 'time' }, { text: shortTime(a.first), cls: 'time' }, pri, sig, a.src_ip, a.dest_ip, a.classification], 'clickable')
        : row([{ text: shortTime(a.time), cls: 'time' }, pri, sig, ep(a.src_ip, a.src_port), ep(a.dest_ip, a.dest_port), a.proto, a.classification], 'clickable');
      tr.dataset.alertId = String(id);
      tr.addEventListener('click', ev => { if (ev.target.tagName !== 'A') location.href = '/alert/' + id; });
      body.appendChild(tr);
    }
    const total = grouped ? j.total_groups : j.total_alerts;
    const n = (k, w) => k + ' ' + w + (k === 1 ? '' : 's');
    document.getElementById('summary').textContent = grouped
      ? n(j.total_alerts, 'alert') + ' in ' + n(j.total_groups, 'group') + ' (signature, source, destination), newest first'
      : n(j.total_alerts, 'alert') + ', newest first';
    document.getElementById('pageinfo').textContent = total ? (offset + 1) + '–' + Math.min(offset + limit, total) + ' of ' + total : 'nothing matches';
    document.getElementById('prev').disabled = offset === 0;
    document.getElementById('next').disabled = offset + limit >= total;
  }
  form.addEventListener('submit', ev => { ev.preventDefault(); offset = 0; load(); });
  document.getElementById('prev').addEventListener('click', () => { offset = Math.max(0, offset - limit); load(); });
  document.getElementById('next').addEventListener('click', () => { offset += limit; load(); });
  // New alerts: poll the newest id; on the first page refresh in place, else say so.
  setInterval(async () => {
    try {
      const s = await api('/api/status');
      if (s.last_id !== shownLast) {
        if (offset === 0) load();
        else { const f = document.getElementById('fresh'); f.textContent = 'New alerts: back to the first page to see them'; f.hidden = false; }
      }
    } catch (e) { /* the console restarting: try again */ }
  }, 2000);
  load();
}

// ---- Alert page ----
async function alertPage() {
  const id = document.body.dataset.alertId;
  const verdict = document.getElementById('verdict');
  let j;
  try { j = await api('/api/alerts/' + id + '/investigation'); } catch (e) {
    verdict.textContent = 'No investigation: ' + e.message; verdict.className = 'verdict err'; return;
  }
  verdict.textContent = 'Verdict: ' + j.verdict;
  verdict.className = 'verdict';
  const src = document.getElementById('inv-source');
  const dl = el('dl', null, 'kv');
  const add = (k, v) => { dl.appendChild(el('dt', k)); dl.appendChild(el('dd', v)); };
  add('Packets from', j.source === 'ring' ? 'the ring' : 'the evidence store (the ring no longer holds them)');
  for (const f of j.files) add('File', f.name + ' — ' + f.packets + ' packets, ' + bytes(f.file_bytes) + ', ' + shortTime(f.first_time) + ' → ' + shortTime(f.last_time));
  add('Hosts', j.hosts.a + ' ⇄ ' + j.hosts.b);
  add(j.hosts.a + ' → ' + j.hosts.b, j.a_to_b.packets + ' packets, ' + j.a_to_b.payload_bytes + ' payload bytes, ' + j.a_to_b.syn + ' SYN, ' + j.a_to_b.fin + ' FIN, ' + j.a_to_b.rst + ' RST');
  add(j.hosts.b + ' → ' + j.hosts.a, j.b_to_a.packets + ' packets, ' + j.b_to_a.payload_bytes + ' payload bytes, ' + j.b_to_a.syn + ' SYN, ' + j.b_to_a.fin + ' FIN, ' + j.b_to_a.rst + ' RST');
  add('Handshake completed', j.handshake_completed ? 'yes' : 'no');
  for (const w of j.warnings) add('Note', w);
  src.appendChild(dl);
  const body = document.querySelector('#conversation tbody');
  j.packets.forEach((p, i) => {
    const dir = (p.dir === 'a>b' ? '→ ' : '← ') + ep(p.src, p.sport) + ' > ' + ep(p.dst, p.dport);
    body.appendChild(row([{ text: i + 1, cls: 'num' }, shortTime(p.time), dir, { text: p.flags || '', cls: 'mono' }, { text: p.bytes, cls: 'num' }, { text: p.payload, cls: 'num' }]));
  });
  document.getElementById('packet-lines').textContent = j.packet_lines.join('\n');
  // Timeline: per time bucket, packets and bytes each way.
  const pk = j.packets;
  if (pk.length) {
    const t0 = pk[0].time_us, t1 = pk[pk.length - 1].time_us;
    const span = Math.max(1, t1 - t0), n = 60;
    const bucket = Math.max(1, Math.ceil(span / n));
    const agg = {};
    for (const p of pk) {
      const b = Math.floor((p.time_us - t0) / bucket);
      const a = agg[b] || (agg[b] = { ab: 0, ba: 0, abB: 0, baB: 0 });
      if (p.dir === 'a>b') { a.ab++; a.abB += p.bytes; } else { a.ba++; a.baB += p.bytes; }
    }
    const keys = Object.keys(agg).map(Number).sort((a, b) => a - b);
    const x = k => ((k + 0.5) * bucket) / 1e6;
    const xfmt = s => '+' + s.toFixed(2) + ' s';
    chart(document.getElementById('timeline-packets'), [
      { label: j.hosts.a + ' →', color: '#1d3557', bars: true, points: keys.map(k => [x(k), agg[k].ab]) },
      { label: '← ' + j.hosts.b, color: '#e76f51', bars: true, points: keys.map(k => [x(k), agg[k].ba]) },
    ], { xfmt: xfmt });
    chart(document.getElementById('timeline-bytes'), [
      { label: j.hosts.a + ' →', color: '#1d3557', bars: true, points: keys.map(k => [x(k), agg[k].abB]) },
      { label: '← ' + j.hosts.b, color: '#e76f51', bars: true, points: keys.map(k => [x(k), agg[k].baB]) },
    ], { xfmt: xfmt });
  } else {
    for (const c of ['timeline-packets', 'timeline-bytes']) chart(document.getElementById(c), [], { empty: 'no packets of this conversation' });
  }
}

// ---- Sensor page ----
async function sensorPage() {
  const fmtT = s => new Date(s * 1000).toISOString().slice(11, 16);
  try {
    const st = await api('/api/stats');
    const note = document.getElementById('stats-note');
    note.textContent = st.stats_log ? st.samples.length + ' stats.log lines' : 'No stats.log (the live sensor writes it; a replay does not).';
    chart(document.getElementById('c-pps'), [{ label: 'packets/s', color: '#1d3557', points: st.rates.map(r => [r.t, r.packets_per_s]) }], { xfmt: fmtT });
    chart(document.getElementById('c-drops'), [{ label: 'drops', color: '#9b2226', bars: true, points: st.rates.map(r => [r.t, r.drops]) }], { xfmt: fmtT });
    chart(document.getElementById('c-apm'), [{ label: 'alerts/min', color: '#e76f51', points: st.rates.map(r => [r.t, r.alerts_per_min]) }], { xfmt: fmtT });
  } catch (e) { document.getElementById('stats-note').textContent = 'Error: ' + e.message; }
  let s;
  try { s = await api('/api/sensor'); } catch (e) { document.getElementById('rules').textContent = 'Error: ' + e.message; return; }
  const kv = (target, pairs) => {
    const dl = el('dl', null, 'kv');
    for (const [k, v] of pairs) { dl.appendChild(el('dt', k)); dl.appendChild(el('dd', v)); }
    clear(target); target.appendChild(dl);
  };
  const r = s.rules;
  if (r) {
    const pairs = [['Loaded', r.loaded], ['Skipped', r.skipped], ['Errors', r.errors], ['Read at', shortTime(r.loaded_at)]];
    for (const k in r.skipped_by_reason) pairs.push(['Skipped: ' + k, r.skipped_by_reason[k]]);
    for (const f of r.files) pairs.push([f.file, f.loaded + ' loaded, ' + f.skipped + ' skipped']);
    kv(document.getElementById('rules'), pairs);
  } else kv(document.getElementById('rules'), [['Rules', 'not loaded yet (or none configured)']]);
  const rl = s.reload;
  kv(document.getElementById('reload'), rl
    ? [['Result', rl.ok ? 'ok' : 'failed (old rules kept)'], ['Finished', rl.finished_at], ['Reloads since start', rl.reloads], ['Rules in effect', rl.rules], ['Generation', rl.generation], ['Message', rl.message]]
    : [['Status', 'no reload status (no pidfile configured, or the sensor is not running)']]);
  const d = s.disk;
  const fs = f => f ? bytes(f.free_bytes) + ' free of ' + bytes(f.total_bytes) : '';
  kv(document.getElementById('disk'), [['Logs', bytes(d.log_dir_bytes) + ' (filesystem: ' + fs(d.log_fs) + ')'], ['Ring', bytes(d.ring_bytes) + ' (filesystem: ' + fs(d.ring_fs) + ')'], ['Evidence store', bytes(d.evidence_bytes)],
    ['Alerts indexed', s.index.alerts + (s.index.evicted ? ' (' + s.index.evicted + ' older dropped)' : '')], ['Console started', shortTime(s.console_started)]]);
  const body = document.querySelector('#ring tbody');
  clear(body);
  for (const f of s.ring) body.appendChild(row([{ text: f.name, cls: 'mono' }, shortTime(f.first), shortTime(f.last), { text: f.packets == null ? '' : f.packets, cls: 'num' }, { text: bytes(f.bytes), cls: 'num' }]));
  if (!s.ring.length) body.appendChild(row(['no ring files', '', '', '', '']));
}

document.addEventListener('DOMContentLoaded', () => {
  const p = document.body.dataset.page;
  const nav = document.getElementById('nav-' + (p === 'alert' ? 'alerts' : p));
  if (nav) nav.classList.add('current');
  if (p === 'alerts') alertsPage();
  else if (p === 'alert') alertPage();
  else if (p === 'sensor') sensorPage();
});
