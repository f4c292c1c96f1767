/* global document, window */
// The metrics page's charts: SVG drawn from the page's <script type="application/json" id="metrics-data">
// block, and client-side sorting of the table twins. The page is whole without this file (the
// tables sort through links). Text only ever goes in through textContent, never as markup.
(function () {
  const source = document.getElementById('metrics-data');
  if (!source) return;
  const data = JSON.parse(source.textContent || '{}');
  const NS = 'http://www.w3.org/2000/svg';
  const H = 260;
  const PAD = { l: 56, r: 12, t: 12, b: 28 };

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const k in attrs) node.setAttribute(k, String(attrs[k]));
    if (parent) parent.appendChild(node);
    return node;
  }
  function fmt(v) {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-4 || a >= 1e9) ? v.toExponential(3) : String(Number(v.toPrecision(5)));
  }
  function ticks(lo, hi, n) {
    const span = hi - lo || Math.abs(hi) || 1;
    const raw = span / n;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
    return out;
  }

  function draw(holder, chart) {
    holder.textContent = '';
    const W = Math.max(280, holder.clientWidth || 600);
    const values = [];
    for (const s of chart.series) for (const p of s.points) values.push(p[1]);
    if (chart.baseline) values.push(chart.baseline.value);
    if (chart.threshold) values.push(chart.threshold.value);
    let lo = Math.min.apply(null, values);
    let hi = Math.max.apply(null, values);
    if (lo === hi) { lo -= Math.abs(lo) * 0.05 || 1; hi += Math.abs(hi) * 0.05 || 1; }
    const pad = (hi - lo) * 0.06;
    lo -= pad; hi += pad;
    const n = Math.max(1, chart.commits - 1);
    const x = (i) => PAD.l + (chart.commits === 1 ? (W - PAD.l - PAD.r) / 2 : (i / n) * (W - PAD.l - PAD.r));
    const y = (v) => PAD.t + (1 - (v - lo) / (hi - lo)) * (H - PAD.t - PAD.b);
    const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'chart-svg', role: 'img' });
    el('title', {}, svg).textContent = `${chart.key} across ${chart.commits} commits`;
    for (const v of ticks(lo, hi, 4)) {
      el('line', { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v), class: 'grid' }, svg);
      el('text', { x: PAD.l - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, svg).textContent = fmt(v);
    }
    const xs = ticks(0, n, Math.max(2, Math.floor(W / 90))).filter((i) => Number.isInteger(i) && i <= n);
    for (const i of xs) el('text', { x: x(i), y: H - 8, 'text-anchor': 'middle', class: 'tick' }, svg).textContent = `#${i + 1}`;
    for (const [line, cls] of [[chart.baseline, 'baseline'], [chart.threshold, 'threshold']]) {
      if (!line) continue;
      el('line', { x1: PAD.l, x2: W - PAD.r, y1: y(line.value), y2: y(line.value), class: cls }, svg);
      el('text', { x: W - PAD.r - 4, y: y(line.value) + (cls === 'threshold' ? 12 : -4), 'text-anchor': 'end', class: `tick ${cls}` }, svg).textContent = `${line.label}: ${fmt(line.value)}`;
    }
    chart.series.forEach((s, k) => {
      const cls = `s${k % 6}`;
      el('polyline', { points: s.points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' '), class: `line ${cls}` }, svg);
      const dots = s.points.length <= 300;
      for (const p of s.points) {
        const a = el('a', { href: data.commitUrl + encodeURIComponent(p[2]) }, svg);
        el('circle', { cx: x(p[0]), cy: y(p[1]), r: dots ? 3.5 : 2, class: `dot ${cls}` }, a);
        el('title', {}, a).textContent = `${p[2].slice(0, 8)} ${p[3]}\n${s.name}: ${fmt(p[1])}`;
      }
    });
    if (chart.best) {
      const b = el('circle', { cx: x(chart.best.x), cy: y(chart.best.value), r: 7, class: 'best-mark' }, svg);
      el('title', {}, b).textContent = `best: ${fmt(chart.best.value)} at ${chart.best.commit.slice(0, 8)}`;
    }
    holder.appendChild(svg);
    const legend = document.createElement('ul');
    legend.className = 'legend';
    chart.series.forEach((s, k) => {
      const li = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.className = `swatch s${k % 6}`;
      li.append(swatch, document.createTextNode(s.name));
      legend.appendChild(li);
    });
    holder.appendChild(legend);
  }

  const holders = document.querySelectorAll('[data-chart]');
  function drawAll() {
    for (const holder of holders) {
      const chart = data.charts[Number(holder.getAttribute('data-chart'))];
      if (chart) draw(holder, chart);
    }
  }
  drawAll();
  let width = window.innerWidth;
  let timer = 0;
  window.addEventListener('resize', () => {
    if (window.innerWidth === width) return;
    width = window.innerWidth;
    clearTimeout(timer);
    timer = setTimeout(drawAll, 150);
  });

  // Table twins: the header links sort on the server; with script they sort in place.
  for (const table of document.querySelectorAll('table.metrics')) {
    table.addEventListener('click', (event) => {
      const link = event.target.closest('a[data-sort]');
      if (!link) return;
      event.preventDefault();
      const th = link.closest('th');
      const by = link.getAttribute('data-sort');
      const dir = th.getAttribute('aria-sort') === 'ascending' ? 'descending' : 'ascending';
      for (const other of table.querySelectorAll('th')) if (other.hasAttribute('aria-sort')) other.setAttribute('aria-sort', 'none');
      th.setAttribute('aria-sort', dir);
      for (const a of table.querySelectorAll('a[data-sort]')) a.textContent = a.textContent.replace(/ [▲▼]$/, '');
      link.textContent += dir === 'ascending' ? ' ▲' : ' ▼';
      const body = table.tBodies[0];
      const text = th.getAttribute('data-type') === 'text';
      const key = (row) => (text ? row.getAttribute(`data-${by}`) || '' : Number(row.getAttribute(`data-${by === 'commit' ? 'x' : by}`)));
      const rows = Array.from(body.rows).sort((a, b) => {
        const ka = key(a);
        const kb = key(b);
        const c = ka < kb ? -1 : ka > kb ? 1 : 0;
        return dir === 'ascending' ? c : -c;
      });
      body.append(...rows);
    });
  }
})();
