"""The report's stylesheet and script, inline in the page (the file works offline, from any folder).

The script only sorts and filters the calls table (by its selects and by words said in the calls), follows ``#calls?agent=…`` links and exports the
shown rows as CSV (each row carries its values as JSON in ``data-csv``); every chart and every call page
is already in the HTML, shown by ``:target``.
"""

__all__ = ["CSS", "JS"]

CSS = """
*{box-sizing:border-box}html{scroll-padding-top:52px}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f8fafc;color:#0f172a}
header{background:#0f172a;color:#fff;padding:14px 24px}header h1{margin:0;font-size:19px}
header .span{margin:2px 0 0;color:#cbd5e1}
nav{position:sticky;top:0;z-index:2;padding:8px 24px;background:#e2e8f0;border-bottom:1px solid #cbd5e1}
nav a{margin-right:18px;color:#1e3a8a;text-decoration:none;font-weight:500}nav a:hover{text-decoration:underline}
main{padding:0 24px 16px}section{padding:4px 0 12px}
h2{font-size:17px;border-bottom:1px solid #cbd5e1;padding-bottom:4px;margin:14px 0 10px}
.kpis{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:12px}
.kpi{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:8px 14px;min-width:150px}
.kpi-value{font-size:22px;font-weight:700;color:#1e3a8a;line-height:1.2;white-space:nowrap}
.kpi-title{font-size:12px;color:#475569}
.kpi.happier .kpi-value,.kpi.ended-positive .kpi-value{color:#047857}.kpi.ended-negative .kpi-value{color:#b91c1c}
.kpi.ended-neutral .kpi-value{color:#334155}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,460px),1fr));gap:14px}
.card{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:10px 12px;min-width:0}
.card.wide{grid-column:1/-1}section.call .card.wide{margin-top:14px}
.card h3{margin:0 0 6px;font-size:13px;color:#334155;font-weight:600}
svg.chart,svg.timeline,svg.quarters{display:block;width:100%;height:auto;overflow:visible}
svg.quarters{max-width:460px}
.axis{stroke:#94a3b8}line.zero{stroke:#64748b;stroke-dasharray:4 3}
line.grid{stroke:#e2e8f0}.series{fill:none;stroke-width:2}.median{stroke-width:3}
.tick,.label,.value{font-size:11px;fill:#334155}.label{font-size:12px}
a.filter-link text{fill:#1d4ed8;text-decoration:underline}a.filter-link:hover text{fill:#1e3a8a}
a.filter-link:hover rect{fill:#1e40af}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;color:#334155;margin-top:4px}
.legend .key{display:inline-flex;align-items:center;gap:4px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px}
.legend i.overlap-key{background:#dc2626;opacity:.55}.legend i.silence-key{background:#cbd5e1}
.cut-key{color:#b91c1c;font-size:10px}.flag-key{color:#7c3aed}
.caption{margin:4px 0 0;font-size:12px;color:#64748b}
.note{background:#fef9c3;border:1px solid #fde68a;border-radius:6px;padding:6px 10px;margin:0 0 10px}.empty{color:#64748b;font-style:italic}
table.chart,table.calls{border-collapse:collapse;font-size:13px;width:100%}
table.chart th,table.chart td{padding:5px 8px;border-bottom:1px solid #e2e8f0}
table.calls th,table.calls td{padding:4px 6px;border-bottom:1px solid #e2e8f0}table.calls{font-size:12.5px}
th{font-weight:600;color:#334155;background:#f1f5f9;vertical-align:bottom}td.num,td.txt{white-space:nowrap}td.wrap{white-space:normal;min-width:110px}
.num{text-align:right}.txt{text-align:left}
.scroll{overflow-x:auto;background:#fff;border:1px solid #e2e8f0;border-radius:8px}
table.calls th{cursor:pointer;position:sticky;top:0;user-select:none}
table.calls th[aria-sort=ascending]::after{content:" ▲";font-size:10px}
table.calls th[aria-sort=descending]::after{content:" ▼";font-size:10px}
table.calls tbody tr:hover{background:#f8fafc}
.filters{display:flex;flex-wrap:wrap;gap:8px 14px;align-items:end;margin-bottom:10px}
.filters label{display:flex;flex-direction:column;font-size:12px;color:#475569}
.filters select,.filters input{font:inherit;padding:3px 6px;min-width:120px}.filters button{font:inherit;padding:4px 10px}
.count{color:#475569;font-size:13px;margin-left:auto;padding-right:6px}
.chip{display:inline-block;background:#ede9fe;color:#5b21b6;border-radius:10px;padding:0 8px;font-size:12px;
text-decoration:none;margin:1px 2px}
.outcome.happier{color:#047857;font-weight:600}.outcome.ended-positive{color:#047857}
.outcome.ended-negative{color:#b91c1c;font-weight:600}.outcome.ended-neutral{color:#334155}
.outcome-text{display:block;font-size:11px;color:#64748b}a.none{font-style:italic;color:#64748b;white-space:normal}
section.call{display:none}section.call:target{display:block}
body:has(section.call:target) main>section.sheet{display:none}
.back a{color:#1d4ed8}.facts{display:flex;flex-wrap:wrap;gap:6px 24px;margin:0 0 12px}
.facts div{display:flex;flex-direction:column}.facts dt{font-size:12px;color:#64748b}.facts dd{margin:0;font-weight:500}
.silence{fill:#e2e8f0}.overlap{fill:#dc2626;opacity:.55}.cut{fill:#b91c1c}.flag{fill:#7c3aed;stroke:#7c3aed}
rect.talk:hover{opacity:.8}
ol.transcript{list-style:none;margin:0;padding:0}
.turn{display:grid;grid-template-columns:96px 76px 1fr auto auto 64px;gap:4px 10px;align-items:baseline;
padding:5px 8px;border-left:4px solid #cbd5e1;border-bottom:1px solid #f1f5f9}
.turn.pos{border-left-color:#059669}.turn.neg{border-left-color:#dc2626}.turn.mix{border-left-color:#d97706}
.turn.customer{background:#fffaf5}.turn.flash{outline:2px solid #7c3aed}
.when{font-variant-numeric:tabular-nums;color:#64748b;font-size:12px}.who{font-weight:600;font-size:12px}
.turn.agent .who{color:#1d4ed8}.turn.customer .who{color:#c2410c}
.pii{background:#0f172a;color:#fff;border-radius:3px;padding:0 4px;font-size:11px;letter-spacing:.03em}
.sent{font-size:11px;border-radius:8px;padding:0 6px;background:#f1f5f9;color:#475569;white-space:nowrap}
.sent.pos{background:#d1fae5;color:#065f46}.sent.neg{background:#fee2e2;color:#991b1b}.sent.mix{background:#fef3c7}
.cut-badge{font-size:11px;border-radius:8px;padding:0 6px;background:#fee2e2;color:#991b1b;white-space:nowrap}
.loud{font-size:11px;color:#475569;white-space:nowrap;display:inline-flex;align-items:center;gap:3px}
.loud i{display:inline-block;height:6px;background:#94a3b8;border-radius:2px}
svg.turns{display:block;width:100%;height:auto;max-width:460px;overflow:visible}
line.threshold{stroke:#94a3b8;stroke-dasharray:5 4}line.quarter{stroke:#cbd5e1;stroke-dasharray:2 3}
.recording audio{vertical-align:middle;height:32px;max-width:100%}.recording .caption{overflow-wrap:anywhere}
ul.matches{margin:0;padding-left:18px}ul.matches li{margin:4px 0}.meaning{font-size:12px;color:#64748b}
.verdict{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 10px;margin:0 0 8px}
.verdict .score{font-size:22px;font-weight:700;color:#1e3a8a}.verdict.pass .outcome-word{color:#047857;font-weight:600}
.verdict.fail .outcome-word{color:#b91c1c;font-weight:600}table.answers td.wrap{white-space:normal}
a.evidence{color:#1d4ed8}ul.week-scores{list-style:none;margin:4px 0;padding:0}
ul.week-scores li{margin:2px 0}ul.week-scores b{font-size:20px;color:#1e3a8a;margin-right:6px}table.ranking a.score{font-weight:600}
footer{padding:16px 24px;color:#64748b;font-size:12px}
@media (max-width:900px){.turn{grid-template-columns:80px 1fr}.turn .said{grid-column:1/-1}}
"""

JS = r"""
(() => {
  const table = document.getElementById('calls-table');
  const selects = [...document.querySelectorAll('select[data-filter]')];
  const count = document.querySelector('[data-count]');
  const rows = table ? [...table.tBodies[0].rows] : [];

  // Transcript search: the words of each call's turns (its page), normalised as v_transcript_search does
  // (lower case, every run of non-letters and non-digits one space, a space at each end), so a phrase
  // matches whole words whatever the case and punctuation, within one turn, as `aftercall search` does.
  const search = document.querySelector('input[data-search]');
  const norm = (text) => ' ' + text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim() + ' ';
  const said = new Map();
  function turnsOf(cid) {
    if (!said.has(cid)) {
      const page = document.getElementById('call-' + cid);
      said.set(cid, page ? [...page.querySelectorAll('li.turn .said')].map((e) => norm(e.textContent)) : []);
    }
    return said.get(cid);
  }

  function apply() {
    let shown = 0;
    const phrase = search ? norm(search.value.normalize('NFC')) : '  ';  // composed, as the search does
    for (const row of rows) {
      const ok = selects.every((s) => {
        if (!s.value) return true;
        const have = row.getAttribute('data-' + s.dataset.filter) || '';
        return 'multi' in s.dataset ? have.includes('|' + s.value + '|') : have === s.value;
      }) && (phrase === '  ' || turnsOf(row.dataset.call).some((t) => t.includes(phrase)));
      row.hidden = !ok;
      if (ok) shown += 1;
    }
    if (count) count.textContent = shown + ' of ' + rows.length + ' calls';
  }

  function sortBy(th) {
    const col = Number(th.dataset.col);
    const dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
    for (const other of table.tHead.rows[0].cells) other.setAttribute('aria-sort', 'none');
    th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
    const key = (row) => row.cells[col].dataset.sort;
    const numeric = rows.every((r) => key(r) === '' || !Number.isNaN(Number(key(r))));
    rows.sort((a, b) => {
      const x = key(a), y = key(b);
      if (x === '' || y === '') return (x === '') - (y === '');  // no value: last either way
      return dir * (numeric ? Number(x) - Number(y) : x.localeCompare(y));
    });
    for (const row of rows) table.tBodies[0].appendChild(row);
  }

  function route() {
    const hash = location.hash;
    if (!hash.startsWith('#calls?')) return;
    const params = new URLSearchParams(hash.slice('#calls?'.length));
    for (const s of selects) {
      const wanted = params.get(s.dataset.filter) || '';
      s.value = [...s.options].some((o) => o.value === wanted) ? wanted : '';
    }
    apply();
    document.getElementById('calls').scrollIntoView();
  }

  // CSV of the rows shown, in their order; text that a spreadsheet would read as a formula (= + - @, tab, CR
  // first) gets a leading ' (numbers stay numbers: -3.2 is a value, not a formula).
  function csvCell(v) {
    if (v === null || v === undefined) return '';
    let text = String(v);
    if (typeof v === 'string' && /^[=+\-@\t\r]/.test(text)) text = "'" + text;
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }
  function csv() {
    const lines = [JSON.parse(table.dataset.csvColumns).map(csvCell).join(',')];
    for (const row of table.tBodies[0].rows) if (!row.hidden) lines.push(JSON.parse(row.dataset.csv).map(csvCell).join(','));
    return lines.join('\r\n') + '\r\n';
  }
  const exporter = document.querySelector('[data-csv-export]');
  if (exporter && table) exporter.addEventListener('click', () => {
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob(['\ufeff' + csv()], {type: 'text/csv;charset=utf-8'}));
    link.download = 'aftercall-calls.csv';
    document.body.appendChild(link);
    link.click();
    link.remove();
  });

  for (const s of selects) s.addEventListener('change', apply);
  const clear = document.querySelector('[data-clear]');
  if (search) search.addEventListener('input', apply);
  if (clear) clear.addEventListener('click', () => { for (const s of selects) s.value = ''; if (search) search.value = ''; apply(); });
  if (table) {
    for (const th of table.tHead.rows[0].cells) {
      th.addEventListener('click', () => sortBy(th));
      th.addEventListener('keydown', (e) => { if (e.key === 'Enter') sortBy(th); });
    }
  }
  document.addEventListener('click', (e) => {
    const link = e.target.closest('[data-turn]');
    if (!link) return;
    e.preventDefault();
    const call = link.closest('section.call');
    if (call && location.hash !== '#' + call.id) location.hash = call.id;
    const turn = document.getElementById(link.dataset.turn);
    if (!turn) return;
    turn.scrollIntoView({block: 'center'});
    turn.classList.add('flash');
    setTimeout(() => turn.classList.remove('flash'), 1500);
  });
  window.addEventListener('hashchange', route);
  route();
  document.body.dataset.charts = String(document.querySelectorAll('main > section.sheet .card, .kpi-value[role=img]').length);
  document.body.dataset.ready = 'yes';
})();
"""
