// The dashboard's front end: one static HTML page, its style sheet and one small vanilla ES module that
// fetches /dashboard/api/summary every 10 s and fills the page in. Kept as strings here so the bundled CLI
// serves them without reading files by path. The per-day chart is inline SVG drawn by the script: no
// maintained chart library was installed in the project and the bars need none (one <rect> per count).
// Every number is also an element with a `data-metric` attribute, which tests and scrapers read.
// (The script avoids backticks and "${" so it sits in a template string unchanged.)

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>seal admission dashboard</title>
<link rel="stylesheet" href="app.css">
<script type="module" src="app.js"></script>
</head>
<body>
<header>
  <h1>seal admission</h1>
  <p id="source" class="muted">loading…</p>
</header>
<main>
  <section class="tiles">
    <div class="tile"><h2>Coverage</h2><p class="big"><span data-metric="coverage">–</span>%</p>
      <p class="muted"><span data-metric="coverage-verified">–</span> of <span data-metric="coverage-total">–</span> admitted images verified</p></div>
    <div class="tile"><h2>Denials today</h2><p class="big" data-metric="denials-today">–</p></div>
    <div class="tile"><h2>Verification failures today</h2><p class="big" data-metric="failures-today">–</p></div>
    <div class="tile"><h2>Time to verify</h2>
      <p class="big"><span data-metric="verify-p50-ms">–</span> / <span data-metric="verify-p99-ms">–</span> ms</p>
      <p class="muted">p50 / p99 of <span data-metric="verify-count">–</span> decisions</p></div>
    <div class="tile"><h2>Break-glass active</h2><p class="big" data-metric="breakglass-active">–</p></div>
  </section>
  <section>
    <h2>Time to verify, cached and uncached</h2>
    <table><thead><tr><th></th><th>decisions</th><th>p50 ms</th><th>p99 ms</th></tr></thead>
    <tbody>
      <tr><th>cached</th><td data-metric="verify-count-cached">–</td><td data-metric="verify-p50-ms-cached">–</td><td data-metric="verify-p99-ms-cached">–</td></tr>
      <tr><th>uncached</th><td data-metric="verify-count-uncached">–</td><td data-metric="verify-p50-ms-uncached">–</td><td data-metric="verify-p99-ms-uncached">–</td></tr>
    </tbody></table>
  </section>
  <section>
    <h2>Denials and verification failures per day (UTC)</h2>
    <div id="chart" class="chart"></div>
    <table><thead><tr><th>day</th><th>denials</th><th>failures</th><th>reasons</th></tr></thead><tbody id="days"></tbody></table>
  </section>
  <section class="two">
    <div><h2>Coverage per namespace</h2>
      <table><thead><tr><th>namespace</th><th>ring</th><th>verified</th><th>total</th><th>%</th></tr></thead><tbody id="namespaces"></tbody></table></div>
    <div><h2>Coverage per ring</h2>
      <table><thead><tr><th>ring</th><th>verified</th><th>total</th><th>%</th></tr></thead><tbody id="rings"></tbody></table></div>
  </section>
  <section>
    <h2>Active break-glass grants</h2>
    <table class="wide"><thead><tr><th>grant</th><th>namespace</th><th>image</th><th>expires</th><th>reason</th></tr></thead><tbody id="grants"></tbody></table>
  </section>
  <section>
    <h2>Recent decisions</h2>
    <table class="wide"><thead><tr><th>time</th><th>namespace</th><th>image</th><th>policy</th><th>result</th><th>reason</th></tr></thead><tbody id="recent"></tbody></table>
  </section>
</main>
</body>
</html>
`;

export const DASHBOARD_CSS = `body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2430; background: #f5f6f8; }
header { background: #1d2430; color: #fff; padding: 12px 24px; }
header h1 { margin: 0; font-size: 20px; }
header .muted { color: #b8c0cc; }
main { padding: 16px 24px; }
h2 { font-size: 15px; margin: 16px 0 8px; }
.muted { color: #667085; margin: 0; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; }
.tile { background: #fff; border: 1px solid #d9dde3; border-radius: 6px; padding: 8px 16px; min-width: 180px; }
.tile h2 { margin: 4px 0; font-weight: 500; color: #475467; }
.big { font-size: 28px; font-weight: 600; margin: 0; }
.two { display: flex; flex-wrap: wrap; gap: 24px; }
table { border-collapse: collapse; background: #fff; border: 1px solid #d9dde3; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #eceef2; vertical-align: top; }
td.reason { min-width: 240px; max-width: 560px; overflow-wrap: anywhere; }
td.image { max-width: 420px; overflow-wrap: anywhere; }
table.wide { width: 100%; }
.deny { color: #b42318; font-weight: 600; }
.warn, .break-glass { color: #b54708; font-weight: 600; }
.allow { color: #067647; }
.chart { background: #fff; border: 1px solid #d9dde3; margin-bottom: 8px; width: max-content; }
.chart text { font-size: 10px; fill: #475467; }
`;

export const DASHBOARD_JS = `const SVG = 'http://www.w3.org/2000/svg';

function text(value) {
  return value === null || value === undefined ? '–' : String(value);
}

function setMetric(name, value) {
  for (const el of document.querySelectorAll('[data-metric="' + name + '"]')) el.textContent = text(value);
}

function cell(row, value, cls) {
  const td = document.createElement('td');
  td.textContent = text(value);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function fill(id, rows, columns) {
  const body = document.getElementById(id);
  body.replaceChildren();
  for (const r of rows) {
    const tr = document.createElement('tr');
    for (const c of columns) {
      const value = typeof c === 'function' ? c(r) : r[c];
      cell(tr, value && typeof value === 'object' ? value.text : value, value && typeof value === 'object' ? value.cls : undefined);
    }
    body.appendChild(tr);
  }
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    const td = cell(tr, 'none');
    td.colSpan = columns.length;
    body.appendChild(tr);
  }
}

function reasons(counts) {
  return Object.entries(counts).sort(function (a, b) { return b[1] - a[1]; })
    .map(function (e) { return e[0] + ' ' + e[1]; }).join(', ');
}

function svg(name, attrs, parent) {
  const el = document.createElementNS(SVG, name);
  for (const k of Object.keys(attrs)) el.setAttribute(k, String(attrs[k]));
  parent.appendChild(el);
  return el;
}

// One group per day: a red bar for denials, an amber one for verification failures, scaled to the
// largest count of the days shown.
function drawChart(days) {
  const width = 40 * days.length + 40;
  const height = 160;
  const base = 130;
  const max = Math.max(1, ...days.map(function (d) { return Math.max(d.denials, d.failures); }));
  const root = document.createElementNS(SVG, 'svg');
  root.setAttribute('width', width);
  root.setAttribute('height', height);
  root.setAttribute('role', 'img');
  root.setAttribute('aria-label', 'denials and verification failures per day');
  svg('line', { x1: 30, y1: base, x2: width - 5, y2: base, stroke: '#98a2b3' }, root);
  svg('text', { x: 2, y: 14 }, root).textContent = String(max);
  days.forEach(function (d, i) {
    const x = 36 + i * 40;
    const bars = [[d.denials, '#d92d20', 'denials'], [d.failures, '#f79009', 'failures']];
    bars.forEach(function (b, j) {
      const h = Math.round((b[0] / max) * 110);
      const rect = svg('rect', { x: x + j * 14, y: base - h, width: 12, height: h, fill: b[1], 'data-day': d.day, 'data-series': b[2], 'data-value': b[0] }, root);
      svg('title', {}, rect).textContent = d.day + ': ' + b[0] + ' ' + b[2];
    });
    svg('text', { x: x, y: base + 14 }, root).textContent = d.day.slice(5);
  });
  svg('rect', { x: 36, y: height - 12, width: 10, height: 10, fill: '#d92d20' }, root);
  svg('text', { x: 50, y: height - 3 }, root).textContent = 'denials';
  svg('rect', { x: 110, y: height - 12, width: 10, height: 10, fill: '#f79009' }, root);
  svg('text', { x: 124, y: height - 3 }, root).textContent = 'verification failures';
  document.getElementById('chart').replaceChildren(root);
}

function render(s) {
  document.getElementById('source').textContent =
    s.source + ' · ' + s.decisions + ' decisions · updated ' + s.generatedAt;
  setMetric('coverage', s.coverage.percent);
  setMetric('coverage-verified', s.coverage.verified);
  setMetric('coverage-total', s.coverage.total);
  setMetric('denials-today', s.denialsToday);
  setMetric('failures-today', s.failuresToday);
  setMetric('verify-p50-ms', s.timing.all.p50);
  setMetric('verify-p99-ms', s.timing.all.p99);
  setMetric('verify-count', s.timing.all.count);
  for (const kind of ['cached', 'uncached']) {
    setMetric('verify-count-' + kind, s.timing[kind].count);
    setMetric('verify-p50-ms-' + kind, s.timing[kind].p50);
    setMetric('verify-p99-ms-' + kind, s.timing[kind].p99);
  }
  setMetric('breakglass-active', s.breakGlass.configured ? s.breakGlass.active.length : 0);
  drawChart(s.days);
  fill('days', s.days.filter(function (d) { return d.denials + d.failures > 0; }).reverse(), [
    'day', 'denials', 'failures',
    function (d) { return { text: reasons(Object.assign({}, d.denialReasons, d.failureReasons)), cls: 'reason' }; },
  ]);
  fill('namespaces', s.coverage.byNamespace, ['namespace', 'ring', 'verified', 'total', 'percent']);
  fill('rings', s.coverage.byRing, ['ring', 'verified', 'total', 'percent']);
  fill('grants', s.breakGlass.active, ['id', 'namespace', function (g) { return { text: g.image, cls: 'image' }; }, 'expiresAt', function (g) { return { text: g.reason, cls: 'reason' }; }]);
  fill('recent', s.recent, [
    'time', 'namespace', function (r) { return { text: r.image, cls: 'image' }; }, 'policy',
    function (r) { return { text: r.result + (r.dryRun ? ' (dry run)' : ''), cls: r.result }; },
    function (r) { return { text: r.reason, cls: 'reason' }; },
  ]);
  document.body.dataset.loaded = s.generatedAt;
}

async function refresh() {
  try {
    const res = await fetch('api/summary', { cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    render(await res.json());
  } catch (err) {
    document.getElementById('source').textContent = 'cannot load the summary: ' + err.message;
  }
}

refresh();
setInterval(refresh, 10000);
`;
