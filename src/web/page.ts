// The dashboard's front end: one static HTML page, its style sheet and one small vanilla ES module that
// fetches /dashboard/api/summary every 10 s and fills the page in, plus the log explorer's form. Kept as
// strings here so the bundled CLI serves them without reading files by path. The per-day chart is drawn by
// uPlot (served by the dashboard from node_modules/uplot, loaded before this module); the chart object is
// `window.sealChart` for tests and debugging. Every number is also an element with a `data-metric`
// attribute, which tests and scrapers read. No framework: DOM calls, textContent only (never innerHTML).
// (The script avoids backticks and "${" so it sits in a template string unchanged.)

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>seal admission dashboard</title>
<link rel="stylesheet" href="vendor/uPlot.min.css">
<link rel="stylesheet" href="app.css">
<script src="vendor/uPlot.iife.min.js" defer></script>
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
    <div id="chart" class="chart" role="img" aria-label="denials and verification failures per day"></div>
    <p id="chart-reasons" class="muted">Point at a day for its reasons.</p>
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
  <section id="explorer" hidden>
    <h2>Transparency log explorer</h2>
    <p id="log-info" class="muted"></p>
    <form id="log-search" class="search">
      <select id="log-by" name="by" aria-label="search by">
        <option value="identity">identity (certificate SAN: email or URI)</option>
        <option value="key">public key (PEM or sha256 fingerprint)</option>
        <option value="hash">artifact hash (sha256:…)</option>
      </select>
      <textarea id="log-q" name="q" rows="2" spellcheck="false" aria-label="search value" placeholder="alice@example.com"></textarea>
      <button type="submit">Search</button>
    </form>
    <p id="log-status" class="muted" role="status"></p>
    <table class="wide"><thead><tr><th>log index</th><th>integrated (UTC)</th><th>kind</th><th>artifact hash</th><th>signed by</th></tr></thead><tbody id="log-results"></tbody></table>
    <div id="log-entry" class="entry" hidden>
      <h3>Entry <span id="entry-index"></span></h3>
      <p id="entry-proof"></p>
      <p id="entry-set" class="muted"></p>
      <table><tbody id="entry-fields"></tbody></table>
      <h3>Body (decoded)</h3>
      <pre id="entry-body"></pre>
    </div>
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
.chart { background: #fff; border: 1px solid #d9dde3; margin-bottom: 4px; width: max-content; padding: 4px; }
#chart-reasons { margin-bottom: 8px; }
.search { display: flex; gap: 8px; align-items: flex-start; margin-bottom: 8px; }
.search textarea { flex: 1; font: 12px/1.3 ui-monospace, monospace; min-height: 2.6em; }
button.entry-link { font: inherit; color: #175cd3; background: none; border: 0; padding: 0; cursor: pointer; text-decoration: underline; }
.entry { background: #fff; border: 1px solid #d9dde3; padding: 8px 16px; margin-top: 12px; }
.entry pre { max-height: 360px; overflow: auto; background: #f5f6f8; padding: 8px; font-size: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
.verified { color: #067647; font-weight: 600; }
.failed { color: #b42318; font-weight: 600; }
td.mono { font: 12px ui-monospace, monospace; overflow-wrap: anywhere; max-width: 420px; }
`;

export const DASHBOARD_JS = `function text(value) {
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

const DAY = 86400;
let chart;
let chartDays = [];

function dayReasons(d) {
  const parts = [];
  const denials = reasons(d.denialReasons);
  const failures = reasons(d.failureReasons);
  if (denials) parts.push('denials: ' + denials);
  if (failures) parts.push('failures: ' + failures);
  return d.day + ' — ' + (parts.length ? parts.join('; ') : 'none');
}

// Two bar series per UTC day (denials, verification failures) side by side; pointing at a day shows its
// reasons below the chart. One uPlot instance, its data replaced on every refresh.
function drawChart(days) {
  chartDays = days;
  const data = [
    days.map(function (d) { return Date.parse(d.day + 'T00:00:00Z') / 1000; }),
    days.map(function (d) { return d.denials; }),
    days.map(function (d) { return d.failures; }),
  ];
  if (chart) {
    chart.setData(data);
    return;
  }
  const bars = function (align) { return uPlot.paths.bars({ size: [0.35, 28], align: align }); };
  chart = new uPlot({
    width: Math.max(480, Math.min(960, document.body.clientWidth - 64)),
    height: 220,
    tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'); },
    scales: { x: { time: true, range: function (u, min, max) { return [min - DAY / 2, max + DAY / 2]; } }, y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
    axes: [{ space: 40 }, { size: 40, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 10000] }],
    series: [
      { label: 'day', value: '{YYYY}-{MM}-{DD}' },
      { label: 'denials', stroke: '#d92d20', fill: '#d92d20', width: 0, paths: bars(-1), points: { show: false } },
      { label: 'verification failures', stroke: '#f79009', fill: '#f79009', width: 0, paths: bars(1), points: { show: false } },
    ],
    hooks: {
      setCursor: [function (u) {
        const d = u.cursor.idx === null || u.cursor.idx === undefined ? undefined : chartDays[u.cursor.idx];
        if (d) document.getElementById('chart-reasons').textContent = dayReasons(d);
      }],
    },
  }, data, document.getElementById('chart'));
  window.sealChart = chart;
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

// --- log explorer ---------------------------------------------------------------------------------------

const PLACEHOLDERS = {
  identity: 'alice@example.com or https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main',
  key: '-----BEGIN PUBLIC KEY----- … or sha256:<64 hex>',
  hash: 'sha256:<64 hex>',
};

async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store' });
  let body;
  try { body = await res.json(); } catch (e) { body = {}; }
  if (!res.ok) {
    const err = new Error(body.error || ('HTTP ' + res.status));
    err.status = res.status;
    throw err;
  }
  return body;
}

function isoTime(seconds) {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

function signedBy(e) {
  return e.signers.map(function (s) {
    return s.identities.length ? s.identities.join(', ') : 'key sha256:' + s.fingerprint.slice(0, 16) + '…';
  }).join('; ') || '–';
}

async function search(event) {
  event.preventDefault();
  const by = document.getElementById('log-by').value;
  const q = document.getElementById('log-q').value;
  const status = document.getElementById('log-status');
  status.textContent = 'searching…';
  status.className = 'muted';
  document.getElementById('log-entry').hidden = true;
  const body = document.getElementById('log-results');
  try {
    const r = await getJson('api/log/search?by=' + encodeURIComponent(by) + '&q=' + encodeURIComponent(q));
    status.textContent = r.total + ' entries match ' + r.query.by + ' ' + r.query.value +
      (r.truncated ? ' (the newest ' + r.entries.length + ' are listed)' : '');
    body.replaceChildren();
    for (const e of r.entries) {
      const tr = document.createElement('tr');
      tr.dataset.uuid = e.uuid;
      const td = document.createElement('td');
      const link = document.createElement('button');
      link.type = 'button';
      link.className = 'entry-link';
      link.textContent = String(e.logIndex);
      link.addEventListener('click', function () { showEntry(e.uuid); });
      td.appendChild(link);
      tr.appendChild(td);
      cell(tr, isoTime(e.integratedTime));
      cell(tr, e.kind);
      cell(tr, e.artifactHash, 'mono');
      cell(tr, signedBy(e), 'mono');
      body.appendChild(tr);
    }
    document.getElementById('explorer').dataset.searched = r.query.value;
  } catch (err) {
    body.replaceChildren();
    status.textContent = 'search refused: ' + err.message;
    status.className = 'failed';
    document.getElementById('explorer').dataset.searched = 'error';
  }
}

function field(name, value) {
  const tr = document.createElement('tr');
  const th = document.createElement('th');
  th.textContent = name;
  tr.appendChild(th);
  cell(tr, value, 'mono');
  document.getElementById('entry-fields').appendChild(tr);
}

async function showEntry(id) {
  const box = document.getElementById('log-entry');
  const proof = document.getElementById('entry-proof');
  delete box.dataset.loaded;
  try {
    const e = await getJson('api/log/entry?id=' + encodeURIComponent(id));
    document.getElementById('entry-index').textContent = String(e.logIndex);
    const inc = e.inclusion;
    proof.textContent = inc.verified
      ? 'inclusion proof verified against the signed checkpoint of tree size ' + inc.treeSize + ' (root ' + inc.rootHash + ')'
      : 'inclusion proof failed: ' + inc.reason;
    proof.className = inc.verified ? 'verified' : 'failed';
    proof.dataset.proof = inc.verified ? 'verified' : 'failed';
    document.getElementById('entry-set').textContent = e.set.verified
      ? 'signed entry timestamp verified'
      : 'signed entry timestamp failed: ' + e.set.reason;
    document.getElementById('entry-fields').replaceChildren();
    field('kind', e.kind);
    field('integrated time', isoTime(e.integratedTime));
    field('log index', e.logIndex);
    field('UUID', e.uuid);
    field('log ID', e.logID);
    field('artifact hash', e.artifactHash);
    for (const s of e.signers) {
      field('signer key (sha256 of PEM)', s.fingerprint);
      if (s.identities.length) field('identity (SAN)', s.identities.join(', '));
      if (s.oidcIssuer) field('OIDC issuer', s.oidcIssuer);
      if (s.certificate) {
        field('certificate subject', s.certificate.subject || '(empty)');
        field('certificate issuer', s.certificate.issuer);
        field('certificate valid', s.certificate.validFrom + ' → ' + s.certificate.validTo);
      }
    }
    document.getElementById('entry-body').textContent = JSON.stringify(e.body, null, 2);
  } catch (err) {
    proof.textContent = 'cannot load the entry: ' + err.message;
    proof.className = 'failed';
    proof.dataset.proof = 'error';
  }
  box.hidden = false;
  box.dataset.loaded = id;
}

async function startExplorer() {
  const line = document.getElementById('log-info');
  try {
    const info = await getJson('api/log/info');
    if (!info.configured) return; // no log configured: the explorer stays hidden
    line.textContent = 'log ' + info.url + ' · ' + info.treeSize +
      ' entries · log ID ' + info.logId.slice(0, 16) + '… (key ' + info.keySource + ')';
  } catch (err) {
    line.textContent = 'the log does not answer: ' + err.message;
  }
  document.getElementById('explorer').hidden = false;
  const by = document.getElementById('log-by');
  const q = document.getElementById('log-q');
  by.addEventListener('change', function () { q.placeholder = PLACEHOLDERS[by.value]; });
  document.getElementById('log-search').addEventListener('submit', search);
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
startExplorer();
`;
