// The page of `twin sim --timeline`: one simulated run as a sequence
// chart. Nodes are horizontal lanes, virtual time runs left to right;
// messages are arrows between lanes, faults shaded bands, crashes and
// freezes marks and spans on their lane.
//
// Map: errors; the data (records, run facts); classifying records;
// pairing (stream bytes, datagrams, connects); spans and bands; the
// view; drawing; hit testing; details; filters; input; start.
//
// The chart is one canvas redrawn whole on every change. What keeps it
// quick on a long run: records are in time order, so each lane finds the
// records of the view by binary search; marks that fall on one pixel are
// drawn once; arrows are sorted by their start and drawn in one path per
// style; heads and byte labels only when few arrows are in view.
(function () {
"use strict";

// ---- errors: counted where a test can read them ----
let errors = 0;
window.addEventListener("error", function () {
  errors++;
  document.body.dataset.errors = String(errors);
});

const tStart = performance.now();

// ---- the data ----
const run = JSON.parse(document.getElementById("twin-run").textContent);
const recs = JSON.parse(document.getElementById("twin-records").textContent);
const tParsed = performance.now();
const N = recs.length;

// Lanes: the scenario's nodes in its order, then any node the records
// name that it did not (the world's own records, "-").
const laneNames = run.nodes.slice();
const laneOf = new Map();
laneNames.forEach(function (n, i) { laneOf.set(n, i); });
const T = new Float64Array(N);
const L = new Int32Array(N);
const C = new Uint8Array(N);
let lastNode = null, lastLane = -1;
for (let i = 0; i < N; i++) {
  const r = recs[i];
  T[i] = r.t;
  if (r.node === lastNode) { L[i] = lastLane; continue; }
  let l = laneOf.get(r.node);
  if (l === undefined) {
    l = laneNames.length;
    laneNames.push(r.node);
    laneOf.set(r.node, l);
  }
  L[i] = lastLane = l;
  lastNode = r.node;
}

// ---- classifying records ----
const CATS = [
  { id: "conn", name: "Connections", color: "#7c3aed" },
  { id: "stream", name: "Stream data", color: "#2563eb" },
  { id: "dgram", name: "Datagrams", color: "#0d9488" },
  { id: "callback", name: "Protocol callbacks", color: "#9ca3af" },
  { id: "node", name: "Nodes", color: "#111827" },
  { id: "fault", name: "Faults", color: "#d97706" },
  { id: "error", name: "Errors and losses", color: "#dc2626" },
  { id: "proc", name: "Processes and pipes", color: "#92400e" },
  { id: "app", name: "App output", color: "#059669" },
  { id: "other", name: "Other", color: "#6b7280" },
];
const CAT = {};
CATS.forEach(function (c, i) { CAT[c.id] = i; });
function words(s) { return s.split(" "); }
const NAMED = {
  conn: words("connect syn accept connected open listen unlisten"),
  stream: words("send arrive deliver eof fin closed keepalive"),
  callback: words("connection_made data_received get_buffer buffer_updated eof_received " +
    "pause_writing resume_writing datagram_received error_received pipe_data_received " +
    "pipe_connection_lost process_exited connection_lost"),
  node: words("node started run crash restart thaw buggify"),
  fault: words("partition heal clog reset_all crash_fault restart_fault clock emfile " +
    "dgram_fault enobufs_fault freeze slow blackhole blackhole_end loss_burst loss_burst_end"),
  app: words("app"),
  error: words("connect_failed syn_dropped refuse accept_emfile reset reset_unseen timeout gave_up unsent " +
    "start_failed dg_loss dg_drop dg_refused dg_icmp dg_icmp_ignored dg_enobufs " +
    "dg_emsgsize dg_eacces dg_eagain dg_corrupt dgu_error dgu_eagain dgu_purge"),
};
const catOfName = new Map();
Object.keys(NAMED).forEach(function (k) {
  NAMED[k].forEach(function (w) { catOfName.set(w, CAT[k]); });
});
function classify(what) {
  let c = catOfName.get(what);
  if (c !== undefined) return c;
  if (what.startsWith("dg_") || what.startsWith("dgu_")) c = CAT.dgram;
  else if (what.startsWith("proc-") || what.startsWith("pipe-")) c = CAT.proc;
  else c = CAT.other;
  catOfName.set(what, c);
  return c;
}
const nameCount = new Map(); // record name -> how many
for (let i = 0; i < N; i++) {
  const w = recs[i].what;
  C[i] = classify(w);
  nameCount.set(w, (nameCount.get(w) || 0) + 1);
}

// ---- pairing: what each send became ----
// An arrow: from a record to a record, or (lost) to where it was dropped
// (to -1: no record says; toLane is where it was going, -1 if that is
// not known either).
const A_STREAM = 0, A_DGRAM = 1, A_CONNECT = 2, A_HANDSHAKE = 3, A_REFUSED = 4;
const ASTYLE = [
  { name: "stream bytes: send \u2192 arrive", color: "#2563eb", width: 1, dash: [] },
  { name: "datagram: send \u2192 arrive", color: "#0d9488", width: 1, dash: [] },
  { name: "connect \u2192 accept (SYN)", color: "#7c3aed", width: 1.6, dash: [] },
  { name: "accept \u2192 connected (SYN-ACK)", color: "#7c3aed", width: 1, dash: [4, 3] },
  { name: "connect refused or dropped", color: "#dc2626", width: 1.4, dash: [] },
];
const arrows = []; // {from, to, type, bytes, toLane}
function arrow(from, to, type, bytes, toLane) {
  arrows.push({ from: from, to: to, type: type, bytes: bytes,
                toLane: to >= 0 ? L[to] : toLane, lost: to < 0 });
}

function pairStreams() {
  const epAt = new Map();   // key(lane, transport) -> endpoint id
  const epLane = new Map(); // endpoint -> lane
  const peer = new Map();   // endpoint -> its peer's
  const tx = new Map();     // endpoint -> {sent, got, q: [{i, end}], head}
  const connectOf = new Map(); // client endpoint -> its connect record
  const acceptOf = new Map();  // server endpoint -> its accept record
  function key(i) { return L[i] * 4294967296 + recs[i].transport; } // lane and transport
  function fresh(ep) { tx.set(ep, { sent: 0, got: 0, q: [], head: 0 }); }
  function flushLost(ep) {
    const s = tx.get(ep);
    if (!s) return;
    for (let k = s.head; k < s.q.length; k++)
      arrow(s.q[k].i, -1, A_STREAM, recs[s.q[k].i].len, s.q[k].to);
    tx.delete(ep);
  }
  for (let i = 0; i < N; i++) {
    const r = recs[i];
    switch (r.what) {
    case "connect":
      flushLost(r.ep);
      connectOf.set(r.ep, i);
      epLane.set(r.ep, L[i]);
      peer.delete(r.ep);
      break;
    case "syn":
      flushLost(r.server_ep);
      peer.set(r.ep, r.server_ep);
      peer.set(r.server_ep, r.ep);
      epLane.set(r.server_ep, L[i]);
      fresh(r.ep);
      fresh(r.server_ep);
      break;
    case "accept": {
      acceptOf.set(r.ep, i);
      const c = connectOf.get(peer.get(r.ep));
      if (c !== undefined) arrow(c, i, A_CONNECT, 0, -1);
      break;
    }
    case "connected": {
      const a = acceptOf.get(peer.get(r.ep));
      if (a !== undefined) arrow(a, i, A_HANDSHAKE, 0, -1);
      connectOf.delete(r.ep);
      break;
    }
    case "refuse":
    case "syn_dropped": {
      const c = connectOf.get(r.ep);
      if (c !== undefined) arrow(c, i, A_REFUSED, 0, -1);
      connectOf.delete(r.ep);
      break;
    }
    case "connect_failed": {
      const c = connectOf.get(r.ep);
      if (c !== undefined) {
        const to = laneOf.has(recs[c].to) ? laneOf.get(recs[c].to) : -1;
        arrow(c, -1, A_CONNECT, 0, to);
      }
      connectOf.delete(r.ep);
      break;
    }
    case "open":
      epAt.set(key(i), r.ep);
      break;
    case "send": {
      const ep = epAt.get(key(i)), s = tx.get(ep);
      if (!s) break;
      s.sent += r.len;
      const to = epLane.has(peer.get(ep)) ? epLane.get(peer.get(ep)) : -1;
      s.q.push({ i: i, end: s.sent, to: to }); // to: where it goes, known now
      break;
    }
    case "arrive": {
      const s = tx.get(peer.get(epAt.get(key(i))));
      if (!s) break;
      s.got += r.len;
      while (s.head < s.q.length && s.q[s.head].end <= s.got) {
        const from = s.q[s.head++].i;
        arrow(from, i, A_STREAM, recs[from].len, -1);
      }
      break;
    }
    }
  }
  tx.forEach(function (s, ep) { flushLost(ep); });
}

// Datagrams carry ports, not addresses. An arrival is the oldest send
// still owed with its length, from its source port to its port (sent
// from another node when there is one). A datagram dropped where it
// arrived (a cut path, a full buffer) is recorded there with its length
// alone: it is the oldest owed send of that length to a port of that
// node.
function pairDatagrams() {
  const portAt = new Map();    // key(lane, transport) -> local port
  const portLanes = new Map(); // port -> lanes with an endpoint on it
  const owed = new Map();      // length -> [{i, left, lane, src, dst}]
  const last = new Map();      // key(lane, transport) -> its last send
  let unix = -1;               // the last dgu_send, for its dgu_arrive
  function key(i) { return L[i] * 4294967296 + recs[i].transport; }
  function take(list, k) {
    const e = list[k];
    if (--e.left <= 0) list.splice(k, 1);
    return e;
  }
  for (let i = 0; i < N; i++) {
    const r = recs[i];
    switch (r.what) {
    case "dg_open":
      portAt.set(key(i), r.port);
      if (!portLanes.has(r.port)) portLanes.set(r.port, new Set());
      portLanes.get(r.port).add(L[i]);
      break;
    case "dg_send": {
      const e = { i: i, left: 1, lane: L[i], src: portAt.get(key(i)), dst: r.port };
      if (!owed.has(r.len)) owed.set(r.len, []);
      owed.get(r.len).push(e);
      last.set(key(i), e);
      break;
    }
    case "dg_dup": {
      const e = last.get(key(i));
      if (e && recs[e.i].len === r.len) e.left++;
      break;
    }
    case "dg_loss":
    case "dg_drop": {
      const e = last.get(key(i)), list = owed.get(r.len);
      if (e && e.left > 0 && recs[e.i].len === r.len && T[e.i] === T[i] && list) {
        // at the sender, as it was sent
        const to = r.to !== undefined && laneOf.has(r.to) ? laneOf.get(r.to) : -1;
        take(list, list.indexOf(e));
        arrow(e.i, -1, A_DGRAM, r.len, to);
      } else if (list && r.what === "dg_drop") { // where it arrived
        let pick = -1;
        for (let k = 0; k < list.length && pick < 0; k++) {
          const ports = portLanes.get(list[k].dst);
          if (list[k].lane !== L[i] && ports && ports.has(L[i])) pick = k;
        }
        if (pick >= 0) arrows.push({ from: take(list, pick).i, to: i, type: A_DGRAM,
                                     bytes: r.len, toLane: L[i], lost: true });
      }
      break;
    }
    case "dg_arrive": {
      const list = owed.get(r.len), port = portAt.get(key(i));
      if (!list) break;
      let pick = -1;
      for (let k = 0; k < list.length; k++) {
        if (list[k].src !== r.from_port || list[k].dst !== port) continue;
        if (pick < 0) pick = k;
        if (list[k].lane !== L[i]) { pick = k; break; }
      }
      if (pick >= 0) arrow(take(list, pick).i, i, A_DGRAM, r.len, -1);
      break;
    }
    case "dgu_send":
      unix = i;
      break;
    case "dgu_arrive":
      if (unix >= 0 && recs[unix].to === r.transport && recs[unix].len === r.len)
        arrow(unix, i, A_DGRAM, r.len, -1);
      unix = -1;
      break;
    }
  }
  // What never arrived and no record says was lost: towards the one
  // node with an endpoint on its port, when there is one.
  owed.forEach(function (list) {
    list.forEach(function (e) {
      const lanes = portLanes.get(e.dst);
      let to = -1;
      if (lanes) lanes.forEach(function (l) { if (l !== e.lane || lanes.size === 1) to = l; });
      for (let n = 0; n < e.left; n++) arrow(e.i, -1, A_DGRAM, recs[e.i].len, to);
    });
  });
}

pairStreams();
pairDatagrams();
arrows.sort(function (a, b) { return T[a.from] - T[b.from] || a.from - b.from; });
// The arrows that start or end at record i: made when first asked (on
// a hover), not at load.
let arrowIndex = null;
function arrowsOf(i) {
  if (!arrowIndex) {
    arrowIndex = new Map();
    const add = function (r, k) {
      if (r < 0) return;
      const l = arrowIndex.get(r);
      if (l) l.push(k); else arrowIndex.set(r, [k]);
    };
    for (let k = 0; k < arrows.length; k++) {
      add(arrows[k].from, k);
      add(arrows[k].to, k);
    }
  }
  return arrowIndex.get(i) || [];
}
function arrowEnd(a) { return a.to >= 0 ? T[a.to] : T[a.from]; }
let spanMax = 0;
arrows.forEach(function (a) { spanMax = Math.max(spanMax, arrowEnd(a) - T[a.from]); });

// ---- spans (on a lane) and fault bands ----
const tLast = N ? T[N - 1] : 0;
const tEnd = Math.max(run.end_ns / 1e9, tLast, 1e-6);
const spans = []; // {lane, t0, t1, kind: "down"|"freeze"|"slow", rec}
const marks = { crash: 0, restart: 0 };
(function () {
  const down = new Map();
  for (let i = 0; i < N; i++) {
    const r = recs[i];
    if (r.what === "crash") {
      marks.crash++;
      down.set(L[i], i);
    } else if (r.what === "restart") {
      marks.restart++;
      if (down.has(L[i])) {
        spans.push({ lane: L[i], t0: T[down.get(L[i])], t1: T[i], kind: "down", rec: down.get(L[i]) });
        down.delete(L[i]);
      }
    } else if (r.what === "freeze" || r.what === "slow") {
      spans.push({ lane: L[i], t0: T[i], t1: Math.min(T[i] + (r.for || 0) / 1e9, tEnd),
                   kind: r.what, rec: i });
    }
  }
  down.forEach(function (i, lane) {
    spans.push({ lane: lane, t0: T[i], t1: tEnd, kind: "down", rec: i });
  });
})();

const FAULT_COLOR = {
  partition: "#dc2626", heal: "#16a34a", clog: "#d97706", reset: "#be185d",
  crash: "#6b7280", restart: "#16a34a", clock: "#0891b2", loss: "#ea580c",
  kill: "#7f1d1d", emfile: "#9333ea", dgram: "#0d9488", enobufs: "#9333ea",
  freeze: "#2563eb", slow: "#4f46e5", blackhole: "#374151",
};
// The records that end a fault with no window of its own.
const enders = [];
for (let i = 0; i < N; i++) {
  const w = recs[i].what;
  if (w === "heal" || w === "restart" || w === "blackhole_end") enders.push(i);
}
const endT = Float64Array.from(enders, function (i) { return T[i]; });
function faultEnd(f, t0) {
  const a = f.a, b = f.b;
  function touches(r, x) { return r.node === x || r.with === x || r.with === "*"; }
  let want = null;
  if (f.kind === "partition")
    want = function (r) {
      return r.what === "heal" && (b === "*" ? touches(r, a)
        : (r.node === a && (r.with === b || r.with === "*")) ||
          (r.node === b && (r.with === a || r.with === "*")));
    };
  else if (f.kind === "crash")
    want = function (r) { return r.what === "restart" && r.node === a; };
  else if (f.kind === "blackhole")
    want = function (r) { return r.what === "blackhole_end" && r.node === a; };
  else if (f.kind !== "dgram" && f.kind !== "loss")
    return t0; // an instant
  for (let k = lowerBound(endT, 0, endT.length, t0); k < endT.length; k++)
    if (want(recs[enders[k]])) return endT[k];
  return tEnd;
}
const bands = run.faults.map(function (f) {
  const t0 = f.at_ns / 1e9;
  const t1 = f.for_ns > 0 ? t0 + f.for_ns / 1e9 : faultEnd(f, t0);
  const lanes = [];
  if (laneOf.has(f.a)) lanes.push(laneOf.get(f.a));
  if (f.pair && f.b === "*") {
    laneNames.forEach(function (n, l) { if (l !== lanes[0] && l < run.nodes.length) lanes.push(l); });
  } else if (f.pair && laneOf.has(f.b)) {
    lanes.push(laneOf.get(f.b));
  }
  return { f: f, t0: t0, t1: Math.min(Math.max(t1, t0), tEnd), lanes: lanes, row: 0,
           color: FAULT_COLOR[f.kind] || "#d97706" };
});
// Rows of the fault strip: each band in the first row free at its start.
const ROWS_MAX = 6;
let nrows = 0;
(function () {
  const rowEnd = [];
  bands.slice().sort(function (x, y) { return x.t0 - y.t0; }).forEach(function (b) {
    let r = 0;
    while (r < rowEnd.length && rowEnd[r] > b.t0 - tEnd * 0.004) r++;
    if (r >= ROWS_MAX) r = ROWS_MAX - 1;
    rowEnd[r] = Math.max(rowEnd[r] || 0, b.t1 + tEnd * 0.06);
    b.row = r;
    nrows = Math.max(nrows, r + 1);
  });
})();

// ---- the view ----
function lowerBound(arr, lo, hi, t) { // first index in [lo, hi) with arr[i] >= t
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (arr[m] < t) lo = m + 1; else hi = m;
  }
  return lo;
}

const canvas = document.getElementById("chart");
const ctx = canvas.getContext("2d");
const box = document.getElementById("chart-box");
const GUTTER = 118, AXIS_H = 24, ROW_H = 16, RIGHT = 12;
const full = { t0: -tEnd * 0.01, t1: tEnd * 1.01 };
const view = { t0: full.t0, t1: full.t1 };
let W = 0, H = 0, dpr = 1, scrollY = 0;
let laneH = 40, lanesTop = 0;
const hiddenNames = new Set();
const laneShown = laneNames.map(function () { return true; });
let shownLanes = []; // lane -> row on screen, or -1
let rowsOfLanes = 0;
let laneRecs = [];   // lane -> Int32Array of its records that pass the filters
let laneTimes = [];  // lane -> Float64Array of their times
let showBytes = true;

function layout() {
  const r = box.getBoundingClientRect();
  dpr = window.devicePixelRatio || 1;
  W = Math.max(200, Math.floor(r.width));
  H = Math.max(150, Math.floor(r.height));
  canvas.width = Math.round(W * dpr);
  canvas.height = Math.round(H * dpr);
  lanesTop = AXIS_H + nrows * ROW_H + (nrows ? 6 : 2);
  laneH = Math.max(24, Math.min(300, Math.floor((H - lanesTop - 6) / Math.max(1, rowsOfLanes))));
  scrollY = Math.max(0, Math.min(scrollY, rowsOfLanes * laneH - (H - lanesTop)));
}

function applyFilters() {
  shownLanes = laneNames.map(function () { return -1; });
  rowsOfLanes = 0;
  laneNames.forEach(function (n, l) { if (laneShown[l]) shownLanes[l] = rowsOfLanes++; });
  const nl = laneNames.length;
  const show = new Uint8Array(N), count = new Int32Array(nl);
  const all = hiddenNames.size === 0;
  for (let i = 0; i < N; i++) {
    if (all || !hiddenNames.has(recs[i].what)) {
      show[i] = 1;
      count[L[i]]++;
    }
  }
  laneRecs = [];
  laneTimes = [];
  for (let l = 0; l < nl; l++) {
    laneRecs.push(new Int32Array(count[l]));
    laneTimes.push(new Float64Array(count[l]));
  }
  const at = new Int32Array(nl);
  for (let i = 0; i < N; i++) {
    if (!show[i]) continue;
    const l = L[i], k = at[l]++;
    laneRecs[l][k] = i;
    laneTimes[l][k] = T[i];
  }
}

const plotW = function () { return W - GUTTER - RIGHT; };
function xOf(t) { return GUTTER + (t - view.t0) / (view.t1 - view.t0) * plotW(); }
function tOf(x) { return view.t0 + (x - GUTTER) / plotW() * (view.t1 - view.t0); }
function laneY(l) { return lanesTop + shownLanes[l] * laneH - scrollY + laneH / 2; }
function laneAt(y) {
  const row = Math.floor((y - lanesTop + scrollY) / laneH);
  if (y < lanesTop || row < 0 || row >= rowsOfLanes) return -1;
  return shownLanes.indexOf(row);
}

function setView(t0, t1) {
  const fs = full.t1 - full.t0;
  let span = Math.min(Math.max(t1 - t0, 1e-7), fs);
  let a = (t0 + t1) / 2 - span / 2;
  a = Math.max(full.t0, Math.min(a, full.t1 - span));
  view.t0 = a;
  view.t1 = a + span;
  remember();
  redraw();
}
function zoomAt(x, factor) {
  const t = tOf(Math.max(GUTTER, Math.min(x, W - RIGHT)));
  setView(t - (t - view.t0) * factor, t + (view.t1 - t) * factor);
}

// ---- formatting ----
function fmtDur(s) {
  const a = Math.abs(s);
  function n(v) { return String(Number(v.toPrecision(4))); }
  if (a === 0) return "0s";
  if (a >= 1) return n(s) + "s";
  if (a >= 1e-3) return n(s * 1e3) + "ms";
  if (a >= 1e-6) return n(s * 1e6) + "us";
  return n(s * 1e9) + "ns";
}
function fmtTime(s) { return s.toFixed(9) + " s"; }
function fmtBytes(n) { return n >= 1048576 ? (n / 1048576).toFixed(1) + " MiB"
  : n >= 10240 ? (n / 1024).toFixed(1) + " KiB" : n + " B"; }

// ---- drawing ----
let stats = {};
let drawnArrows = new Float32Array(0); // x0 y0 x1 y1 per arrow drawn, for hit tests
let drawnArrowIdx = new Int32Array(0);
let nDrawnSeg = 0;
let hover = null, pinned = null;
let pending = false;

function redraw() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(function () { pending = false; draw(); });
}

const hatch = {};
function pattern(kind) {
  if (hatch[kind]) return hatch[kind];
  const c = document.createElement("canvas");
  c.width = c.height = 8;
  const g = c.getContext("2d");
  g.strokeStyle = kind === "freeze" ? "rgba(37,99,235,.55)" : "rgba(79,70,229,.35)";
  g.lineWidth = kind === "freeze" ? 1.5 : 1;
  if (kind === "slow") g.setLineDash([2, 2]);
  g.beginPath();
  g.moveTo(0, 8); g.lineTo(8, 0);
  g.moveTo(-2, 2); g.lineTo(2, -2);
  g.moveTo(6, 10); g.lineTo(10, 6);
  g.stroke();
  hatch[kind] = ctx.createPattern(c, "repeat");
  return hatch[kind];
}

function visibleLane(l) { return l >= 0 && shownLanes[l] >= 0; }

function drawLanes() {
  for (let l = 0; l < laneNames.length; l++) {
    if (!visibleLane(l)) continue;
    const y = laneY(l) - laneH / 2;
    ctx.fillStyle = shownLanes[l] % 2 ? "#fbfcfd" : "#f3f5f8";
    ctx.fillRect(GUTTER, y, W - GUTTER, laneH);
    ctx.strokeStyle = "#c9ced6";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(GUTTER, Math.round(y + laneH / 2) + 0.5);
    ctx.lineTo(W, Math.round(y + laneH / 2) + 0.5);
    ctx.stroke();
  }
  let nfreeze = 0;
  spans.forEach(function (s) {
    if (!visibleLane(s.lane) || s.t1 < view.t0 || s.t0 > view.t1) return;
    const x0 = Math.max(GUTTER, xOf(s.t0)), x1 = Math.min(W, Math.max(xOf(s.t1), x0 + 2));
    const y = laneY(s.lane) - laneH / 2 + 2;
    if (s.kind === "down") {
      ctx.fillStyle = "rgba(17,24,39,.16)";
      ctx.fillRect(x0, y, x1 - x0, laneH - 4);
    } else {
      if (s.kind === "freeze") nfreeze++;
      ctx.fillStyle = pattern(s.kind);
      ctx.fillRect(x0, y, x1 - x0, laneH - 4);
      ctx.strokeStyle = s.kind === "freeze" ? "rgba(37,99,235,.7)" : "rgba(79,70,229,.5)";
      ctx.strokeRect(x0 + 0.5, y + 0.5, x1 - x0 - 1, laneH - 5);
    }
  });
  stats.freezes = nfreeze;
}

function drawBands() {
  let n = 0;
  bands.forEach(function (b) {
    if (b.t1 < view.t0 || b.t0 > view.t1) return;
    n++;
    const x0 = xOf(b.t0), x1 = Math.max(xOf(b.t1), x0 + 2);
    ctx.fillStyle = b.color;
    b.lanes.forEach(function (l, k) { // its first node a shade darker
      if (!visibleLane(l)) return;
      const y = laneY(l) - laneH / 2;
      ctx.globalAlpha = (b.f.count ? 0.14 : 0.06) * (k === 0 ? 1.4 : 1);
      ctx.fillRect(Math.max(GUTTER, x0), y, Math.min(W, x1) - Math.max(GUTTER, x0), laneH);
    });
    ctx.globalAlpha = 1;
    // its edges, down the lanes it touches
    ctx.strokeStyle = b.color;
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    [x0, x1].forEach(function (x) {
      if (x < GUTTER || x > W) return;
      ctx.moveTo(Math.round(x) + 0.5, lanesTop);
      ctx.lineTo(Math.round(x) + 0.5, H);
    });
    ctx.globalAlpha = 0.35;
    ctx.stroke();
    ctx.globalAlpha = 1;
    ctx.setLineDash([]);
  });
  stats.bands = n;
}

function drawPhases() {
  const lines = [];
  if (run.duration_ns > 0 && run.quiet_ns > 0)
    lines.push({ t: run.duration_ns / 1e9, label: "faults end", color: "#6b7280" });
  if (run.converged_ns >= 0)
    lines.push({ t: run.converged_ns / 1e9, label: "goals met", color: "#12805c" });
  lines.push({ t: run.end_ns / 1e9, label: "end", color: "#374151" });
  ctx.font = "10px system-ui, sans-serif";
  lines.forEach(function (p, k) {
    const x = Math.round(xOf(p.t)) + 0.5;
    if (x < GUTTER || x > W) return;
    ctx.strokeStyle = p.color;
    ctx.setLineDash([6, 4]);
    ctx.beginPath(); ctx.moveTo(x, lanesTop); ctx.lineTo(x, H); ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = p.color;
    const w = ctx.measureText(p.label).width;
    ctx.fillText(p.label, x + 3 + w > W - 2 ? x - w - 3 : x + 3, H - 4 - 12 * (lines.length - 1 - k));
  });
}

function arrowPass(a) {
  const some = hiddenNames.size > 0;
  if (!visibleLane(L[a.from]) || (some && hiddenNames.has(recs[a.from].what))) return false;
  if (a.to >= 0) return visibleLane(L[a.to]) && !(some && hiddenNames.has(recs[a.to].what));
  return a.toLane < 0 || visibleLane(a.toLane);
}

// A lost message: a short dashed stub toward where it was going, and a
// cross where it stopped.
function lostEnd(a, x0, y0) {
  const y1 = a.toLane >= 0 ? laneY(a.toLane) : y0 - laneH * 0.8;
  return [x0 + 10, y0 + (y1 - y0) * 0.45];
}

function drawArrows() {
  const lo = firstArrowFrom(view.t0 - spanMax);
  const inView = [];
  for (let k = lo; k < arrows.length; k++) {
    const a = arrows[k];
    const t0 = T[a.from];
    if (t0 > view.t1) break;
    if (arrowEnd(a) < view.t0 || !arrowPass(a)) continue;
    inView.push(k);
  }
  const many = inView.length > 4000;
  const heads = inView.length <= 1500;
  const labels = showBytes && inView.length <= 400;
  const seen = many ? new Set() : null;
  drawnArrows = new Float32Array(inView.length * 4);
  drawnArrowIdx = new Int32Array(inView.length);
  nDrawnSeg = 0;
  const counts = [0, 0, 0, 0, 0], arrived = [0, 0, 0, 0, 0];
  let lost = 0;
  const byStyle = ASTYLE.map(function () {
    return { lines: new Path2D(), lost: new Path2D(), heads: new Path2D() };
  });
  const crosses = new Path2D();
  const textAt = [];
  ctx.font = "10px ui-monospace, monospace";
  // A byte count where it overlaps no other: halfway along its arrow,
  // else a third or two thirds of the way; none if all three are taken.
  function label(x0, y0, x1, y1, text, color) {
    const w = ctx.measureText(text).width + 4, h = 11;
    for (const f of [0.5, 0.3, 0.7]) {
      const x = x0 + (x1 - x0) * f, y = y0 + (y1 - y0) * f - 3;
      const clash = textAt.some(function (o) {
        return Math.abs(o[0] - x) < (w + o[4]) / 2 && Math.abs(o[1] - y) < h;
      });
      if (!clash) { textAt.push([x, y, text, color, w]); return; }
    }
  }
  inView.forEach(function (k) {
    const a = arrows[k];
    counts[a.type]++;
    const x0 = xOf(T[a.from]), y0 = laneY(L[a.from]);
    let x1, y1;
    if (a.to >= 0) { x1 = xOf(T[a.to]); y1 = laneY(L[a.to]); }
    else { const e = lostEnd(a, x0, y0); x1 = e[0]; y1 = e[1]; }
    if (a.lost) lost++; else arrived[a.type]++;
    if (seen) { // one of the arrows that share their pixels
      const key = (((x0 & 4095) * 4096 + (x1 & 4095)) * 4096 + (y0 & 4095)) * 4096 + (y1 & 4095);
      if (seen.has(key)) return;
      seen.add(key);
    }
    const o = nDrawnSeg * 4;
    drawnArrows[o] = x0; drawnArrows[o + 1] = y0; drawnArrows[o + 2] = x1; drawnArrows[o + 3] = y1;
    drawnArrowIdx[nDrawnSeg++] = k;
    const s = byStyle[a.type];
    const p = a.lost ? s.lost : s.lines;
    if (!a.lost && y0 === y1) { // within one node: a small arc
      p.moveTo(x0, y0);
      p.quadraticCurveTo((x0 + x1) / 2, y0 - laneH * 0.45, x1, y1);
    } else {
      p.moveTo(x0, y0);
      p.lineTo(x1, y1);
    }
    if (a.lost) {
      crosses.moveTo(x1 - 3, y1 - 3); crosses.lineTo(x1 + 3, y1 + 3);
      crosses.moveTo(x1 - 3, y1 + 3); crosses.lineTo(x1 + 3, y1 - 3);
    } else if (heads && (Math.abs(x1 - x0) > 4 || Math.abs(y1 - y0) > 4)) {
      const ang = y0 === y1 ? Math.PI / 4 : Math.atan2(y1 - y0, x1 - x0);
      const h = 6;
      s.heads.moveTo(x1, y1);
      s.heads.lineTo(x1 - h * Math.cos(ang - 0.4), y1 - h * Math.sin(ang - 0.4));
      s.heads.lineTo(x1 - h * Math.cos(ang + 0.4), y1 - h * Math.sin(ang + 0.4));
      s.heads.closePath();
    }
    if (labels && a.bytes > 0 && !a.lost && Math.hypot(x1 - x0, y1 - y0) > 36)
      label(x0, y0, x1, y1, fmtBytes(a.bytes), ASTYLE[a.type].color);
  });
  ctx.globalAlpha = many ? 0.55 : 0.85;
  byStyle.forEach(function (s, t) {
    const st = ASTYLE[t];
    ctx.strokeStyle = st.color;
    ctx.fillStyle = st.color;
    ctx.lineWidth = st.width;
    ctx.setLineDash(st.dash);
    ctx.stroke(s.lines);
    ctx.setLineDash([3, 3]);
    ctx.stroke(s.lost);
    ctx.setLineDash([]);
    ctx.fill(s.heads);
  });
  ctx.strokeStyle = "#dc2626";
  ctx.lineWidth = 1.5;
  ctx.stroke(crosses);
  ctx.lineWidth = 1;
  ctx.globalAlpha = 1;
  ctx.font = "10px ui-monospace, monospace";
  ctx.textAlign = "center";
  textAt.forEach(function (t) {
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(255,255,255,.9)";
    ctx.strokeText(t[2], t[0], t[1]);
    ctx.fillStyle = t[3];
    ctx.fillText(t[2], t[0], t[1]);
  });
  ctx.textAlign = "left";
  stats.arrows = inView.length;
  stats.arrowsStream = counts[A_STREAM];
  stats.arrowsDgram = counts[A_DGRAM];
  stats.arrowsConnect = counts[A_CONNECT];
  stats.arrowsHandshake = counts[A_HANDSHAKE];
  stats.arrowsRefused = counts[A_REFUSED];
  stats.lost = lost;
  stats.arrivedStream = arrived[A_STREAM];
  stats.arrivedDgram = arrived[A_DGRAM];
}
function firstArrowFrom(t) {
  let lo = 0, hi = arrows.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (T[arrows[m].from] < t) lo = m + 1; else hi = m;
  }
  return lo;
}

function drawMarks() {
  const h = Math.max(5, laneH * 0.28);
  const paths = CATS.map(function () { return new Path2D(); });
  const special = [];
  let n = 0;
  for (let l = 0; l < laneNames.length; l++) {
    if (!visibleLane(l)) continue;
    const y = laneY(l);
    if (y + laneH / 2 < lanesTop || y - laneH / 2 > H) continue;
    const ts = laneTimes[l], is = laneRecs[l];
    const lo = lowerBound(ts, 0, ts.length, view.t0), hi = lowerBound(ts, lo, ts.length, view.t1 + 1e-12);
    n += hi - lo;
    const lastX = new Int32Array(CATS.length).fill(-1);
    for (let k = lo; k < hi; k++) {
      const i = is[k], c = C[i];
      const x = Math.round(xOf(T[i]));
      const w = recs[i].what;
      if (w === "crash" || w === "restart" || w === "start_failed") { special.push(i); continue; }
      if (x === lastX[c]) continue;
      lastX[c] = x;
      // sends above the lifeline, arrivals below, the rest across it
      const up = w === "send" || w === "dg_send" || w === "connect" ? 1
        : w === "arrive" || w === "dg_arrive" || w === "deliver" ? -1 : 0;
      paths[c].moveTo(x + 0.5, y - (up >= 0 ? h : 0));
      paths[c].lineTo(x + 0.5, y + (up <= 0 ? h : 0));
    }
  }
  ctx.lineWidth = 1;
  CATS.forEach(function (c, k) { ctx.strokeStyle = c.color; ctx.stroke(paths[k]); });
  special.forEach(function (i) {
    const x = xOf(T[i]), y = laneY(L[i]), r = Math.max(5, Math.min(9, laneH * 0.25));
    ctx.lineWidth = 2.5;
    if (recs[i].what === "restart") {
      ctx.fillStyle = "#16a34a";
      ctx.beginPath();
      ctx.moveTo(x - r * 0.8, y + r); ctx.lineTo(x + r * 0.8, y + r); ctx.lineTo(x, y - r);
      ctx.closePath(); ctx.fill();
    } else {
      ctx.strokeStyle = "#c62828";
      ctx.beginPath();
      ctx.moveTo(x - r, y - r); ctx.lineTo(x + r, y + r);
      ctx.moveTo(x - r, y + r); ctx.lineTo(x + r, y - r);
      ctx.stroke();
    }
  });
  ctx.lineWidth = 1;
  stats.marks = n;
}

function drawGutter() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, lanesTop, GUTTER, H - lanesTop);
  ctx.font = "600 12px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  for (let l = 0; l < laneNames.length; l++) {
    if (!visibleLane(l)) continue;
    const y = laneY(l);
    if (y < lanesTop || y > H) continue;
    ctx.fillStyle = "#111827";
    let name = laneNames[l];
    while (name.length > 3 && ctx.measureText(name).width > GUTTER - 14) name = name.slice(0, -2);
    if (name !== laneNames[l]) name += "\u2026";
    ctx.fillText(name, 8, y - 6);
    ctx.font = "10px system-ui, sans-serif";
    ctx.fillStyle = "#6b7280";
    ctx.fillText(laneRecs[l].length + " records", 8, y + 8);
    ctx.font = "600 12px system-ui, sans-serif";
  }
  ctx.textBaseline = "alphabetic";
  ctx.strokeStyle = "#dde1e7";
  ctx.beginPath(); ctx.moveTo(GUTTER - 0.5, 0); ctx.lineTo(GUTTER - 0.5, H); ctx.stroke();
}

function niceStep(raw) {
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

function drawAxis() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, W, lanesTop);
  const span = view.t1 - view.t0;
  const step = niceStep(span / Math.max(2, plotW() / 110));
  ctx.font = "11px system-ui, sans-serif";
  ctx.strokeStyle = "#e5e7eb";
  ctx.fillStyle = "#374151";
  const first = Math.max(0, Math.ceil(view.t0 / step)); // no time before 0
  for (let k = first; k * step <= view.t1; k++) {
    const t = k * step;
    const x = Math.round(xOf(t)) + 0.5;
    ctx.beginPath(); ctx.moveTo(x, AXIS_H - 6); ctx.lineTo(x, H); ctx.stroke();
    const label = step >= 1 ? String(Number(t.toFixed(6))) + "s" : fmtDur(Number(t.toPrecision(12)));
    ctx.fillText(label, x + 3, 15);
  }
  ctx.strokeStyle = "#c9ced6";
  ctx.beginPath(); ctx.moveTo(0, AXIS_H - 0.5); ctx.lineTo(W, AXIS_H - 0.5); ctx.stroke();
  ctx.fillStyle = "#6b7280";
  ctx.fillText("virtual time", 8, 15);
  if (nrows) ctx.fillText("faults", 8, AXIS_H + 12);
  // the fault strip
  ctx.font = "11px system-ui, sans-serif";
  bands.forEach(function (b) {
    if (b.t1 < view.t0 || b.t0 > view.t1) return;
    const x0 = Math.max(GUTTER, xOf(b.t0)), x1 = Math.min(W - RIGHT, Math.max(xOf(b.t1), xOf(b.t0) + 3));
    const y = AXIS_H + 2 + b.row * ROW_H;
    ctx.fillStyle = b.color;
    ctx.globalAlpha = b.f.count ? 0.85 : 0.35;
    ctx.fillRect(x0, y, Math.max(3, x1 - x0), ROW_H - 3);
    ctx.globalAlpha = 1;
    const label = "#" + b.f.index + " " + b.f.kind + " " + b.f.a + (b.f.pair ? "\u2194" + b.f.b : "") +
      ": " + b.f.count + " " + b.f.unit;
    const room = nextStart(b) - x0 - 6;
    if (room > 24) {
      ctx.save();
      ctx.beginPath(); ctx.rect(x0, y, room, ROW_H); ctx.clip();
      ctx.fillStyle = x1 - x0 > ctx.measureText(label).width + 8 ? "#fff" : "#111827";
      ctx.fillText(label, x0 + (x1 - x0 > ctx.measureText(label).width + 8 ? 4 : Math.max(4, x1 - x0 + 3)), y + ROW_H - 6);
      ctx.restore();
    }
    b.box = [x0, y, Math.max(3, x1 - x0), ROW_H - 3];
  });
}
function nextStart(b) { // where the next band of b's row begins, on screen
  let x = W - RIGHT;
  bands.forEach(function (o) {
    if (o !== b && o.row === b.row && o.t0 > b.t0) x = Math.min(x, xOf(o.t0));
  });
  return x;
}

function drawFailure() {
  if (run.failed_ns < 0 || run.verdict === "pass") return;
  const x = Math.round(xOf(run.failed_ns / 1e9)) + 0.5;
  stats.failure = 1;
  if (x < GUTTER || x > W) return;
  ctx.strokeStyle = "#c62828";
  ctx.lineWidth = 2;
  ctx.beginPath(); ctx.moveTo(x, AXIS_H); ctx.lineTo(x, H); ctx.stroke();
  ctx.lineWidth = 1;
  const label = "FAIL (" + run.verdict + ") at " + fmtDur(run.failed_ns / 1e9);
  ctx.font = "600 11px system-ui, sans-serif";
  const w = ctx.measureText(label).width + 10;
  const lx = x + w + 4 > W ? x - w - 2 : x + 2;
  ctx.fillStyle = "#c62828";
  ctx.fillRect(lx, lanesTop + 2, w, 17);
  ctx.fillStyle = "#fff";
  ctx.fillText(label, lx + 5, lanesTop + 14);
}

function drawHighlight() {
  const h = pinned || hover;
  if (!h) return;
  ctx.lineWidth = 2.5;
  ctx.strokeStyle = "#111827";
  if (h.type === "rec") {
    const i = h.i;
    if (!visibleLane(L[i])) return;
    const x = xOf(T[i]), y = laneY(L[i]);
    ctx.beginPath(); ctx.arc(x, y, 6, 0, 2 * Math.PI); ctx.stroke();
    arrowsOf(i).forEach(function (k) { strokeArrow(arrows[k]); });
  } else if (h.type === "arrow") {
    strokeArrow(arrows[h.k]);
  } else if (h.type === "band" && h.b.box) {
    ctx.strokeRect(h.b.box[0], h.b.box[1], h.b.box[2], h.b.box[3]);
  }
  ctx.lineWidth = 1;
}
function strokeArrow(a) {
  if (!arrowPass(a)) return;
  const x0 = xOf(T[a.from]), y0 = laneY(L[a.from]);
  const e = a.to >= 0 ? [xOf(T[a.to]), laneY(L[a.to])] : lostEnd(a, x0, y0);
  ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(e[0], e[1]); ctx.stroke();
  ctx.beginPath(); ctx.arc(e[0], e[1], 4, 0, 2 * Math.PI); ctx.stroke();
}

function draw() {
  const t = performance.now();
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, W, H);
  stats = { failure: 0 };
  ctx.save();
  ctx.beginPath(); ctx.rect(GUTTER, lanesTop, W - GUTTER, H - lanesTop); ctx.clip();
  drawLanes();
  drawBands();
  drawPhases();
  drawArrows();
  drawMarks();
  drawHighlight();
  ctx.restore();
  drawGutter();
  drawAxis();
  drawFailure();
  document.getElementById("range").textContent =
    fmtDur(Math.max(0, view.t0)) + " \u2013 " + fmtDur(view.t1) + "  (" + fmtDur(view.t1 - view.t0) + " shown)";
  const ds = document.body.dataset;
  ds.records = String(N);
  ds.lanes = String(rowsOfLanes);
  ds.marks = String(stats.marks);
  ds.arrows = String(stats.arrows);
  ds.arrowsStream = String(stats.arrowsStream);
  ds.arrowsDgram = String(stats.arrowsDgram);
  ds.arrowsConnect = String(stats.arrowsConnect);
  ds.arrowsHandshake = String(stats.arrowsHandshake);
  ds.arrowsRefused = String(stats.arrowsRefused);
  ds.lost = String(stats.lost);
  ds.arrivedStream = String(stats.arrivedStream);
  ds.arrivedDgram = String(stats.arrivedDgram);
  ds.bands = String(stats.bands);
  ds.crashes = String(marks.crash);
  ds.restarts = String(marks.restart);
  ds.freezes = String(stats.freezes);
  ds.failure = String(stats.failure);
  ds.verdict = run.verdict;
  ds.view = view.t0.toFixed(9) + "," + view.t1.toFixed(9);
  ds.drawMs = (performance.now() - t).toFixed(1);
}

// ---- hit testing ----
function hit(x, y) {
  if (y < AXIS_H) return null;
  if (y < lanesTop) {
    for (let k = bands.length - 1; k >= 0; k--) {
      const b = bands[k].box;
      if (b && bands[k].t1 >= view.t0 && bands[k].t0 <= view.t1 &&
          x >= b[0] - 2 && x <= b[0] + b[2] + 2 && y >= b[1] && y <= b[1] + b[3])
        return { type: "band", b: bands[k] };
    }
    return null;
  }
  if (x < GUTTER) return null;
  const l = laneAt(y);
  if (l >= 0 && Math.abs(y - laneY(l)) < laneH * 0.42) {
    const ts = laneTimes[l], t = tOf(x);
    const k = lowerBound(ts, 0, ts.length, t);
    let best = -1, bd = 7;
    for (let j = Math.max(0, k - 2); j < Math.min(ts.length, k + 2); j++) {
      const d = Math.abs(xOf(ts[j]) - x);
      if (d < bd) { bd = d; best = laneRecs[l][j]; }
    }
    if (best >= 0) return { type: "rec", i: best };
  }
  let bestA = -1, bd = 5;
  for (let s = 0; s < nDrawnSeg; s++) {
    const d = segDist(x, y, drawnArrows[4 * s], drawnArrows[4 * s + 1], drawnArrows[4 * s + 2], drawnArrows[4 * s + 3]);
    if (d < bd) { bd = d; bestA = drawnArrowIdx[s]; }
  }
  if (bestA >= 0) return { type: "arrow", k: bestA };
  if (l >= 0) {
    const t = tOf(x);
    for (const s of spans)
      if (s.lane === l && t >= s.t0 && t <= s.t1) return { type: "span", s: s };
    for (const b of bands)
      if (b.lanes.indexOf(l) >= 0 && t >= b.t0 && t <= b.t1 && b.t1 > b.t0) return { type: "band", b: b };
  }
  return null;
}
function segDist(px, py, x0, y0, x1, y1) {
  const dx = x1 - x0, dy = y1 - y0, len = dx * dx + dy * dy;
  let u = len ? ((px - x0) * dx + (py - y0) * dy) / len : 0;
  u = Math.max(0, Math.min(1, u));
  return Math.hypot(px - (x0 + u * dx), py - (y0 + u * dy));
}

// ---- details ----
const BASE = new Set(["t", "node", "transport", "what"]);
function fieldText(k, v) {
  if ((k === "for" || k === "after" || k === "held" || k === "skew") && typeof v === "number")
    return fmtDur(v / 1e9) + " (" + v + " ns)";
  if ((k === "len" || k === "unread" || k === "offered" || k === "queued") && typeof v === "number")
    return v + " bytes";
  return String(v);
}
function recSummary(i) {
  const r = recs[i];
  return r.node + " t" + r.transport + " " + r.what + " at " + fmtDur(r.t);
}
function describe(h) { // [title, [[label, value or element]...]]
  if (h.type === "rec") {
    const r = recs[h.i];
    const rows = [["time", fmtTime(r.t)], ["node", r.node], ["transport", "t" + r.transport],
                  ["record", r.what + "  (" + CATS[C[h.i]].name.toLowerCase() + ")"]];
    Object.keys(r).forEach(function (k) { if (!BASE.has(k)) rows.push([k, fieldText(k, r[k])]); });
    arrowsOf(h.i).forEach(function (k) {
      const a = arrows[k];
      const other = a.from === h.i ? a.to : a.from;
      const label = a.from === h.i ? (a.lost ? "\u2192 lost" : "\u2192 to") : "\u2190 from";
      rows.push([label, other >= 0 ? link(recSummary(other) + " (" + fmtDur(T[other] - r.t) + ")", other)
                                   : "never arrived" + (a.toLane >= 0 ? " at " + laneNames[a.toLane] : "")]);
    });
    rows.push(["record no.", (h.i + 1) + " of " + N]);
    if (r.what === "app") return [r.node + ": " + r.line, rows]; // a line it printed
    return [r.what + " on " + r.node, rows];
  }
  if (h.type === "arrow") {
    const a = arrows[h.k];
    const rows = [["kind", ASTYLE[a.type].name], ["from", link(recSummary(a.from), a.from)]];
    if (a.to >= 0) {
      rows.push([a.lost ? "dropped" : "to", link(recSummary(a.to), a.to)]);
      rows.push(["took", fmtDur(T[a.to] - T[a.from])]);
    } else {
      rows.push(["to", "never arrived" + (a.toLane >= 0 ? " (bound for " + laneNames[a.toLane] + ")" : "")]);
    }
    if (a.bytes) rows.push(["bytes", String(a.bytes)]);
    return [ASTYLE[a.type].name, rows];
  }
  if (h.type === "band") {
    const f = h.b.f;
    const rows = [["fault", "#" + f.index + " " + f.what + (f.drawn ? " (drawn by the swarm)" : "")],
                  ["took effect", f.count + " " + f.unit + (f.count ? "" : "  (INERT: it touched nothing)")],
                  ["from", fmtTime(h.b.t0)]];
    if (h.b.t1 > h.b.t0) rows.push(["until", fmtTime(h.b.t1)]);
    return ["fault #" + f.index + ": " + f.kind, rows];
  }
  if (h.type === "span") {
    const s = h.s;
    const what = s.kind === "down" ? "node down (crashed)" : s.kind === "freeze" ? "frozen" : "slow";
    return [laneNames[s.lane] + ": " + what, [["from", fmtTime(s.t0)], ["until", fmtTime(s.t1)],
            ["for", fmtDur(s.t1 - s.t0)], ["record", link(recSummary(s.rec), s.rec)]]];
  }
  return ["", []];
}
function link(text, i) {
  const a = document.createElement("a");
  a.textContent = text;
  a.addEventListener("click", function () { focusRec(i); });
  return a;
}
function tipText(h) {
  const d = describe(h);
  return d[0] + "\n" + d[1].map(function (r) {
    return r[0] + ": " + (typeof r[1] === "string" ? r[1] : r[1].textContent);
  }).join("\n");
}
function showDetail(h) {
  const sec = document.getElementById("detail");
  sec.textContent = "";
  const h2 = document.createElement("h2");
  h2.textContent = "Details";
  sec.appendChild(h2);
  if (!h) {
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = "Hover over a record, an arrow or a fault; click to keep it here.";
    sec.appendChild(p);
    return;
  }
  const d = describe(h);
  const b = document.createElement("p");
  b.innerHTML = "";
  b.appendChild(document.createElement("b")).textContent = d[0];
  sec.appendChild(b);
  const tbl = document.createElement("table");
  d[1].forEach(function (r) {
    const tr = tbl.insertRow();
    tr.insertCell().textContent = r[0];
    const c = tr.insertCell();
    if (typeof r[1] === "string") c.textContent = r[1]; else c.appendChild(r[1]);
  });
  sec.appendChild(tbl);
}
function focusRec(i) {
  if (!laneShown[L[i]]) { laneShown[L[i]] = true; syncNodeBoxes(); applyFilters(); layout(); }
  const span = view.t1 - view.t0;
  if (T[i] < view.t0 || T[i] > view.t1) setView(T[i] - span / 2, T[i] + span / 2);
  pinned = { type: "rec", i: i };
  showDetail(pinned);
  redraw();
}

// ---- filters ----
let syncNodeBoxes = function () {};
function buildFilters() {
  const nl = document.querySelector("#node-filter .list");
  const boxes = [];
  laneNames.forEach(function (n, l) {
    const lab = document.createElement("label");
    const cb = document.createElement("input");
    cb.type = "checkbox";
    cb.checked = laneShown[l];
    cb.addEventListener("change", function () {
      laneShown[l] = cb.checked;
      applyFilters(); layout(); remember(); redraw();
    });
    boxes.push(cb);
    lab.appendChild(cb);
    lab.appendChild(document.createTextNode(" " + n + " "));
    const cnt = document.createElement("span");
    cnt.className = "count";
    cnt.textContent = laneRecs[l] ? "(" + laneRecs[l].length + ")" : "";
    lab.appendChild(cnt);
    nl.appendChild(lab);
  });
  syncNodeBoxes = function () { boxes.forEach(function (cb, l) { cb.checked = laneShown[l]; }); };

  const kl = document.querySelector("#kind-filter .list");
  const acts = document.createElement("div");
  acts.className = "actions";
  const all = document.createElement("button");
  all.textContent = "all";
  const none = document.createElement("button");
  none.textContent = "none";
  const nocb = document.createElement("button");
  nocb.textContent = "no callbacks";
  acts.append(all, " ", none, " ", nocb);
  kl.appendChild(acts);
  const byCat = CATS.map(function () { return []; });
  Array.from(nameCount.keys()).sort().forEach(function (w) { byCat[classify(w)].push(w); });
  const nameBoxes = new Map();
  const groupBoxes = [];
  function syncGroups() {
    groupBoxes.forEach(function (g) {
      const on = g.names.filter(function (w) { return !hiddenNames.has(w); }).length;
      g.cb.checked = on > 0;
      g.cb.indeterminate = on > 0 && on < g.names.length;
    });
    nameBoxes.forEach(function (cb, w) { cb.checked = !hiddenNames.has(w); });
  }
  function changed() { syncGroups(); applyFilters(); remember(); redraw(); }
  byCat.forEach(function (names, c) {
    if (!names.length) return;
    const g = document.createElement("div");
    g.className = "group";
    const gl = document.createElement("label");
    const gcb = document.createElement("input");
    gcb.type = "checkbox";
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = CATS[c].color;
    gl.append(gcb, " ", sw, CATS[c].name);
    g.appendChild(gl);
    const list = document.createElement("div");
    list.className = "names";
    names.forEach(function (w) {
      const lab = document.createElement("label");
      const cb = document.createElement("input");
      cb.type = "checkbox";
      cb.addEventListener("change", function () {
        if (cb.checked) hiddenNames.delete(w); else hiddenNames.add(w);
        changed();
      });
      nameBoxes.set(w, cb);
      const cnt = document.createElement("span");
      cnt.className = "count";
      cnt.textContent = "(" + nameCount.get(w) + ")";
      lab.append(cb, " " + w + " ", cnt);
      list.appendChild(lab);
    });
    g.appendChild(list);
    kl.appendChild(g);
    gcb.addEventListener("change", function () {
      names.forEach(function (w) { if (gcb.checked) hiddenNames.delete(w); else hiddenNames.add(w); });
      changed();
    });
    groupBoxes.push({ cb: gcb, names: names });
  });
  all.addEventListener("click", function () { hiddenNames.clear(); changed(); });
  none.addEventListener("click", function () { nameCount.forEach(function (v, w) { hiddenNames.add(w); }); changed(); });
  nocb.addEventListener("click", function () {
    nameCount.forEach(function (v, w) { if (classify(w) === CAT.callback) hiddenNames.add(w); });
    changed();
  });
  syncGroups();
}

// The view and filters live in the address (#view=A,B&nodes=..&hide=..),
// so a link or a reload shows the same thing.
let rememberTimer = 0;
function remember() {
  clearTimeout(rememberTimer);
  rememberTimer = setTimeout(function () {
    const p = ["view=" + Number(view.t0.toFixed(9)) + "," + Number(view.t1.toFixed(9))];
    if (laneShown.some(function (s) { return !s; }))
      p.push("nodes=" + laneNames.filter(function (n, l) { return laneShown[l]; }).map(encodeURIComponent).join(","));
    if (hiddenNames.size) p.push("hide=" + Array.from(hiddenNames).map(encodeURIComponent).join(","));
    try { history.replaceState(null, "", "#" + p.join("&")); } catch (e) { /* a sandboxed viewer */ }
  }, 250);
}
function readAddress() {
  const h = location.hash.replace(/^#/, "");
  if (!h) return;
  h.split("&").forEach(function (kv) {
    const eq = kv.indexOf("=");
    const k = kv.slice(0, eq), v = kv.slice(eq + 1);
    const list = v ? v.split(",").map(decodeURIComponent) : [];
    if (k === "view" && list.length === 2 && Number(list[1]) > Number(list[0])) {
      view.t0 = Number(list[0]);
      view.t1 = Number(list[1]);
    } else if (k === "nodes") {
      laneNames.forEach(function (n, l) { laneShown[l] = list.indexOf(n) >= 0; });
    } else if (k === "hide") {
      list.forEach(function (w) { hiddenNames.add(w); });
    }
  });
}

// ---- the header, faults list and legend ----
function header() {
  const v = document.getElementById("verdict");
  v.textContent = run.verdict === "pass" ? "PASS" : "FAIL (" + run.verdict + ")";
  v.className = "badge " + (run.verdict === "pass" ? "pass" : run.verdict === "timeout" ? "timeout" : "fail");
  document.getElementById("title").textContent = run.scenario + "  seed " + run.seed + (run.swarm ? " (swarm)" : "");
  document.getElementById("facts").textContent = run.file + " \u00b7 virtual time " + fmtDur(run.end_ns / 1e9) +
    " \u00b7 " + run.events + " events \u00b7 " + N + " records" +
    (run.dropped ? " (" + run.dropped + " more left out)" : "") +
    " \u00b7 trace hash " + run.hash + " \u00b7 replay: " + run.replay;
  document.getElementById("message").textContent = run.message;
  const zf = document.getElementById("zoom-fail");
  zf.disabled = run.failed_ns < 0 || run.verdict === "pass";

  const fl = document.querySelector("#faults .list");
  if (!bands.length) {
    fl.textContent = "No faults in this run.";
    fl.className = "list muted";
  }
  bands.forEach(function (b) {
    const d = document.createElement("div");
    d.className = "fault" + (b.f.count ? "" : " inert");
    d.style.borderLeftColor = b.color;
    const n = document.createElement("div");
    n.className = "n";
    n.textContent = "#" + b.f.index + " " + b.f.what + (b.f.drawn ? " (drawn)" : "");
    const c = document.createElement("div");
    c.textContent = b.f.count + " " + b.f.unit;
    d.append(n, c);
    d.addEventListener("click", function () {
      const pad = Math.max((b.t1 - b.t0) * 0.3, (view.t1 - view.t0) * 0.02, 1e-4);
      pinned = { type: "band", b: b };
      showDetail(pinned);
      setView(b.t0 - pad, Math.max(b.t1, b.t0 + 1e-4) + pad);
    });
    fl.appendChild(d);
  });

  const lg = document.querySelector("#legend .list");
  function item(draw, text) {
    const d = document.createElement("div");
    const c = document.createElement("canvas");
    c.width = 26; c.height = 12;
    c.style.verticalAlign = "middle";
    c.style.marginRight = "6px";
    draw(c.getContext("2d"));
    d.append(c, text);
    lg.appendChild(d);
  }
  ASTYLE.forEach(function (s) {
    item(function (g) {
      g.strokeStyle = s.color; g.lineWidth = s.width; g.setLineDash(s.dash);
      g.beginPath(); g.moveTo(2, 10); g.lineTo(24, 2); g.stroke();
    }, s.name);
  });
  item(function (g) {
    g.strokeStyle = "#2563eb"; g.setLineDash([3, 3]);
    g.beginPath(); g.moveTo(2, 10); g.lineTo(16, 4); g.stroke();
    g.setLineDash([]); g.strokeStyle = "#dc2626"; g.lineWidth = 1.5;
    g.beginPath(); g.moveTo(14, 2); g.lineTo(20, 8); g.moveTo(14, 8); g.lineTo(20, 2); g.stroke();
  }, "never arrived (lost, reset, or the run ended)");
  item(function (g) {
    g.strokeStyle = "#c62828"; g.lineWidth = 2.5;
    g.beginPath(); g.moveTo(8, 1); g.lineTo(18, 11); g.moveTo(8, 11); g.lineTo(18, 1); g.stroke();
  }, "crash");
  item(function (g) {
    g.fillStyle = "#16a34a";
    g.beginPath(); g.moveTo(8, 11); g.lineTo(18, 11); g.lineTo(13, 1); g.fill();
  }, "restart");
  item(function (g) { g.fillStyle = "rgba(17,24,39,.16)"; g.fillRect(0, 0, 26, 12); }, "node down");
  item(function (g) { g.fillStyle = g.createPattern(patternCanvas("freeze"), "repeat"); g.fillRect(0, 0, 26, 12); }, "frozen");
  item(function (g) { g.fillStyle = g.createPattern(patternCanvas("slow"), "repeat"); g.fillRect(0, 0, 26, 12); }, "slow");
  item(function (g) { g.fillStyle = "rgba(220,38,38,.2)"; g.fillRect(0, 0, 26, 12); }, "fault band (its nodes' lanes)");
  CATS.forEach(function (c) {
    item(function (g) { g.strokeStyle = c.color; g.beginPath(); g.moveTo(13, 1); g.lineTo(13, 11); g.stroke(); },
         c.name + " (a tick on the lane)");
  });
}
function patternCanvas(kind) {
  pattern(kind);
  const c = document.createElement("canvas");
  c.width = c.height = 8;
  const g = c.getContext("2d");
  g.strokeStyle = kind === "freeze" ? "rgba(37,99,235,.7)" : "rgba(79,70,229,.5)";
  if (kind === "slow") g.setLineDash([2, 2]);
  g.beginPath(); g.moveTo(0, 8); g.lineTo(8, 0); g.stroke();
  return c;
}

// ---- input ----
const tip = document.getElementById("tip");
let drag = null;
function mousePos(e) {
  const r = canvas.getBoundingClientRect();
  return [e.clientX - r.left, e.clientY - r.top];
}
canvas.addEventListener("wheel", function (e) {
  e.preventDefault();
  const p = mousePos(e);
  const dx = e.deltaX, dy = e.deltaY;
  if (p[0] < GUTTER && rowsOfLanes * laneH > H - lanesTop) {
    scrollY = Math.max(0, Math.min(scrollY + dy, rowsOfLanes * laneH - (H - lanesTop)));
    redraw();
  } else if (e.shiftKey || Math.abs(dx) > Math.abs(dy)) {
    const d = (Math.abs(dx) > Math.abs(dy) ? dx : dy) / plotW() * (view.t1 - view.t0);
    setView(view.t0 + d, view.t1 + d);
  } else {
    zoomAt(p[0], Math.exp(dy * (e.deltaMode === 1 ? 0.05 : 0.0015)));
  }
}, { passive: false });
canvas.addEventListener("mousedown", function (e) {
  const p = mousePos(e);
  drag = { x: p[0], y: p[1], t0: view.t0, t1: view.t1, sy: scrollY, moved: false };
});
window.addEventListener("mousemove", function (e) {
  const p = mousePos(e);
  if (drag) {
    const dx = p[0] - drag.x, dy = p[1] - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (drag.moved) {
      canvas.classList.add("dragging");
      const d = dx / plotW() * (drag.t1 - drag.t0);
      scrollY = Math.max(0, Math.min(drag.sy - dy, rowsOfLanes * laneH - (H - lanesTop)));
      setView(drag.t0 - d, drag.t1 - d);
      tip.hidden = true;
      return;
    }
  }
  if (e.target !== canvas) { if (hover) { hover = null; tip.hidden = true; redraw(); } return; }
  const h = hit(p[0], p[1]);
  if (JSON.stringify(h && [h.type, h.i, h.k, h.b && h.b.f.index, h.s && h.s.rec]) !==
      JSON.stringify(hover && [hover.type, hover.i, hover.k, hover.b && hover.b.f.index, hover.s && hover.s.rec])) {
    hover = h;
    redraw();
    if (!pinned) showDetail(h);
  }
  if (h) {
    tip.textContent = tipText(h);
    tip.hidden = false;
    const left = p[0] + 16 + tip.offsetWidth > W ? p[0] - tip.offsetWidth - 10 : p[0] + 16;
    tip.style.left = Math.max(0, left) + "px";
    tip.style.top = Math.min(H - tip.offsetHeight - 4, p[1] + 14) + "px";
  } else {
    tip.hidden = true;
  }
});
window.addEventListener("mouseup", function (e) {
  if (!drag) return;
  const moved = drag.moved;
  drag = null;
  canvas.classList.remove("dragging");
  if (moved || e.target !== canvas) return;
  const p = mousePos(e);
  pinned = hit(p[0], p[1]);
  showDetail(pinned);
  redraw();
});
canvas.addEventListener("mouseleave", function () {
  if (drag) return;
  tip.hidden = true;
  if (hover) { hover = null; if (!pinned) showDetail(null); redraw(); }
});
document.getElementById("zoom-in").addEventListener("click", function () { zoomAt(GUTTER + plotW() / 2, 0.5); });
document.getElementById("zoom-out").addEventListener("click", function () { zoomAt(GUTTER + plotW() / 2, 2); });
document.getElementById("zoom-fit").addEventListener("click", function () { setView(full.t0, full.t1); });
function zoomFail() {
  if (run.failed_ns < 0 || run.verdict === "pass") return;
  const t = run.failed_ns / 1e9, span = Math.max(tEnd * 0.04, 1e-3);
  setView(t - span * 0.7, t + span * 0.3);
}
document.getElementById("zoom-fail").addEventListener("click", zoomFail);
document.getElementById("show-bytes").addEventListener("change", function (e) {
  showBytes = e.target.checked;
  redraw();
});
window.addEventListener("keydown", function (e) {
  if (e.target.tagName === "INPUT" || e.ctrlKey || e.metaKey || e.altKey) return;
  const span = view.t1 - view.t0;
  if (e.key === "+" || e.key === "=") zoomAt(GUTTER + plotW() / 2, 0.5);
  else if (e.key === "-") zoomAt(GUTTER + plotW() / 2, 2);
  else if (e.key === "0") setView(full.t0, full.t1);
  else if (e.key === "f") zoomFail();
  else if (e.key === "ArrowLeft") setView(view.t0 - span * 0.2, view.t1 - span * 0.2);
  else if (e.key === "ArrowRight") setView(view.t0 + span * 0.2, view.t1 + span * 0.2);
  else if (e.key === "Escape") { pinned = null; showDetail(null); redraw(); }
  else return;
  e.preventDefault();
});
document.addEventListener("click", function (e) { // one menu open at a time
  document.querySelectorAll("details.menu[open]").forEach(function (d) {
    if (!d.contains(e.target)) d.open = false;
  });
});

// ---- start ----
readAddress();
applyFilters();
const tIndexed = performance.now();
header();
buildFilters();
layout();
draw(); // at once, not on the next frame: what a test reads is there on load
new ResizeObserver(function () { layout(); redraw(); }).observe(box);
const ds = document.body.dataset;
ds.parseMs = (tParsed - tStart).toFixed(1);
ds.indexMs = (tIndexed - tParsed).toFixed(1);
ds.loadMs = (performance.now() - tStart).toFixed(1);
ds.pageMs = performance.now().toFixed(1);
ds.errors = String(errors);
ds.ready = "1";
})();
