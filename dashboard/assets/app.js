// app.js is the dashboard's shell and its main screens: sign-in, gateways and their
// settings, analytics, logs with feedback, and a playground (routes.js and admin.js hold the
// others). It calls only the public control API (/client/v4/...) and the data plane
// (/v1/...) with the token the user signed in with, so it can do exactly what that token can
// do through the API, and everything it shows a script can get too.
// Preact with htm (no build step) and uPlot for charts, vendored from npm (see vendor/).
import { html, render, useState, useEffect, useRef, useCallback } from './vendor/preact-htm.js';
import uPlot from './vendor/uPlot.esm.js';
import {
  session, api, apiText, can, useHash, useLoad, Err, FieldErr, fmt, useGateways, GatewaySelect,
} from './lib.js';
import { Routes } from './routes.js';
import { GatewaySettings } from './settings.js';
import { ProviderKeys, CustomProviders, Tokens, Evaluations, AuditLog } from './admin.js';

// ---- sign-in ----

function SignIn({ onDone }) {
  const [acct, setAcct] = useState(session.acct || '');
  const [token, setToken] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true); setError(null);
    session.set(acct.trim(), token.trim());
    try {
      const j = await api('GET', '/tokens/verify');
      onDone(j.result);
    } catch (err) {
      session.clear();
      setError(err.status === 401 ? new Error('That token is not valid for this account.') : err);
    } finally { setBusy(false); }
  };
  return html`<main class="signin"><div class="panel">
    <h1>Sign in to Switchyard</h1>
    <form onSubmit=${submit}>
      <label>Account id<input name="account" value=${acct} onInput=${(e) => setAcct(e.target.value)} required autocomplete="username"/></label>
      <label>API token<input name="token" type="password" value=${token} onInput=${(e) => setToken(e.target.value)} required autocomplete="current-password"/></label>
      <p class="muted">The admin token is in <code>${'<data dir>/admin-token'}</code>; an API token (<code>syt_…</code>) signs in to its own account with its own permissions.</p>
      <button class="primary" disabled=${busy}>Sign in</button>
      <${Err} error=${error}/>
    </form></div></main>`;
}

// ---- gateways ----

function Gateways({ who }) {
  const gws = useGateways();
  const [id, setId] = useState('');
  const [error, setError] = useState(null);
  const create = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await api('POST', '/ai-gateway/gateways', { id: id.trim(), collect_logs: true });
      location.hash = '#/gateways/' + encodeURIComponent(id.trim());
    } catch (err) { setError(err); }
  };
  return html`<main><h1>Gateways</h1>
    ${can(who, 'edit') && html`<form class="panel row" onSubmit=${create} aria-label="create a gateway">
      <label>New gateway id<input name="gateway-id" value=${id} onInput=${(e) => setId(e.target.value)} placeholder="my-gateway"/>
        <${FieldErr} error=${error} name="id"/></label>
      <button class="primary">Create gateway</button>
      ${error && !error.field?.('id') && html`<${Err} error=${error}/>`}
    </form>`}
    <div class="panel"><${Err} error=${gws.error}/>
    <table><thead><tr><th>id</th><th>logs</th><th>cache TTL</th><th>rate limit</th><th>authentication</th><th>created</th></tr></thead>
    <tbody>${(gws.data || []).map((g) => html`<tr onClick=${() => { location.hash = '#/gateways/' + encodeURIComponent(g.id); }}>
      <td><a href=${'#/gateways/' + encodeURIComponent(g.id)}>${g.id}</a></td>
      <td>${g.collect_logs ? 'on' : 'off'}</td><td>${g.cache_ttl ? g.cache_ttl + ' s' : 'off'}</td>
      <td>${g.rate_limiting_limit ? `${g.rate_limiting_limit} / ${g.rate_limiting_interval} s (${g.rate_limiting_technique})` : 'off'}</td>
      <td>${g.authentication ? 'required' : 'off'}</td><td>${fmt.time(g.created_at)}</td></tr>`)}
    </tbody></table>
    ${gws.data && gws.data.length === 0 && html`<p class="muted">No gateway yet.</p>`}</div></main>`;
}

// ---- analytics ----

const RANGES = { '1h': 3600e3, '24h': 86400e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3 };
const METRICS = {
  requests: ['Requests', fmt.num], tokens: ['Tokens (in + out)', fmt.num], cost: ['Cost (USD)', fmt.usd],
  errors: ['Errors', fmt.num], cache_hit_ratio: ['Cache hit rate', fmt.pct],
  duration_p50_ms: ['Latency p50', fmt.ms], duration_p95_ms: ['Latency p95', fmt.ms],
};
const pointValue = (p, m) => m === 'tokens' ? (p.tokens_in || 0) + (p.tokens_out || 0) : p[m];
const COLORS = ['#2d5bd7', '#e0663a', '#1d9a6c', '#a44bd6', '#d4a017', '#d6336c', '#0e9ab4', '#6b7280', '#7c5e10', '#3f8f29', '#999'];

function Chart({ series, metric }) {
  const box = useRef(null);
  useEffect(() => {
    if (!box.current || !series || series.length === 0) return;
    const xs = series[0].points.map((p) => Date.parse(p.time) / 1000);
    const data = [xs, ...series.map((s) => s.points.map((p) => pointValue(p, metric) ?? null))];
    const plot = new uPlot({
      width: box.current.clientWidth || 800, height: 300,
      series: [{}, ...series.map((s, i) => ({ label: s.group || '(all)', stroke: COLORS[i % COLORS.length], width: 2,
        value: (u, v) => METRICS[metric][1](v) }))],
      axes: [{ stroke: getComputedStyle(document.body).color }, { stroke: getComputedStyle(document.body).color,
        values: (u, vs) => vs.map((v) => METRICS[metric][1](v)) }],
    }, data, box.current);
    const onResize = () => plot.setSize({ width: box.current.clientWidth, height: 300 });
    addEventListener('resize', onResize);
    return () => { removeEventListener('resize', onResize); plot.destroy(); };
  }, [series, metric]);
  return html`<div class="chart" ref=${box} role="img" aria-label=${METRICS[metric][0] + ' over time'}></div>`;
}

function Analytics({ gw: initialGw }) {
  const gws = useGateways();
  const [gw, setGw] = useState(initialGw || '');
  const [range, setRange] = useState('24h');
  const [groupBy, setGroupBy] = useState('none');
  const [metaKey, setMetaKey] = useState('');
  const [metric, setMetric] = useState('requests');
  const group = groupBy === 'metadata' ? 'metadata.' + metaKey : (groupBy === 'none' && !gw ? 'gateway' : groupBy);
  const a = useLoad(() => {
    const end = new Date(Math.ceil(Date.now() / 60000) * 60000);
    const start = new Date(end - RANGES[range]);
    const q = new URLSearchParams({ start: start.toISOString(), end: end.toISOString(), group_by: group });
    const path = gw ? `/ai-gateway/gateways/${encodeURIComponent(gw)}/analytics` : '/ai-gateway/analytics';
    return api('GET', `${path}?${q}`).then((j) => j.result);
  }, [gw, range, group]);
  const t = a.data && a.data.totals;
  return html`<main><h1>Analytics</h1>
    <div class="panel row" role="search">
      <${GatewaySelect} value=${gw} onChange=${setGw} gateways=${gws.data} all/>
      <label>Range<select value=${range} onChange=${(e) => setRange(e.target.value)} aria-label="range">
        ${Object.keys(RANGES).map((r) => html`<option value=${r}>last ${r}</option>`)}</select></label>
      <label>Group by<select value=${groupBy} onChange=${(e) => setGroupBy(e.target.value)} aria-label="group by">
        <option value="none">${gw ? 'nothing' : 'gateway'}</option><option value="provider">provider</option>
        <option value="model">model</option><option value="metadata">a metadata key</option></select></label>
      ${groupBy === 'metadata' && html`<label>Metadata key<input value=${metaKey} onInput=${(e) => setMetaKey(e.target.value)} placeholder="user_id"/></label>`}
      <label>Chart<select value=${metric} onChange=${(e) => setMetric(e.target.value)} aria-label="metric">
        ${Object.entries(METRICS).map(([k, [l]]) => html`<option value=${k}>${l}</option>`)}</select></label>
    </div>
    <${Err} error=${a.error}/>
    ${t && html`<div class="cards" aria-label="totals">
      <div class="card"><div class="k">Requests</div><div class="v" data-total="requests">${fmt.num(t.requests)}</div></div>
      <div class="card"><div class="k">Tokens in / out</div><div class="v">${fmt.num(t.tokens_in)} / ${fmt.num(t.tokens_out)}</div></div>
      <div class="card"><div class="k">Cost</div><div class="v">${fmt.usd(t.cost)}</div></div>
      <div class="card"><div class="k">Errors</div><div class="v">${fmt.num(t.errors)}</div></div>
      <div class="card"><div class="k">Cache hit rate</div><div class="v">${fmt.pct(t.cache_hit_ratio)}</div></div>
      <div class="card"><div class="k">Latency p50 / p95</div><div class="v">${fmt.ms(t.duration_p50_ms)} / ${fmt.ms(t.duration_p95_ms)}</div></div>
    </div>`}
    <div class="panel">${a.data && html`<${Chart} series=${a.data.series} metric=${metric}/>`}
      ${a.data && a.data.series.length === 0 && html`<p class="muted">No requests in this range.</p>`}</div>
  </main>`;
}

// ---- logs ----

// reassemble turns a streamed (SSE) answer into its text: OpenAI chunks' deltas, Anthropic's
// text deltas, Gemini's parts; other bodies are pretty-printed when they are JSON.
function reassemble(body) {
  if (/^(data|event):/m.test(body)) {
    let text = '';
    for (const line of body.split('\n')) {
      if (!line.startsWith('data:')) continue;
      const d = line.slice(5).trim();
      if (d === '[DONE]') continue;
      try {
        const j = JSON.parse(d);
        text += j.choices?.[0]?.delta?.content ?? j.delta?.text ?? j.candidates?.[0]?.content?.parts?.map((p) => p.text || '').join('') ?? j.response ?? '';
      } catch { /* not JSON: skip */ }
    }
    return { streamed: true, text };
  }
  try { return { streamed: false, text: JSON.stringify(JSON.parse(body), null, 2) }; } catch { return { streamed: false, text: body }; }
}

// gatewayHeaders are the cf-aig-* headers the gateway answered this request with, as the
// record tells them (engine/server sets them from the same values). cf-aig-cache-status is
// left out: a miss is only a header when caching is on, which the record does not say.
function gatewayHeaders(l) {
  const h = [['cf-aig-log-id', l.id], ['cf-aig-event-id', l.event_id], ['cf-aig-step', String(l.step)]];
  if (l.provider) h.push(['cf-aig-provider', l.provider]);
  if (l.model) h.push(['cf-aig-model', l.model]);
  if (l.route) h.push(['cf-aig-route', l.route.name], ['cf-aig-route-version', l.route.version_id]);
  if (l.dlp) h.push(['cf-aig-dlp', JSON.stringify(l.dlp)]);
  return h;
}

function LogDetail({ who, gw, id, onChanged }) {
  const base = `/ai-gateway/gateways/${encodeURIComponent(gw)}/logs/${encodeURIComponent(id)}`;
  const log = useLoad(() => api('GET', base).then((j) => j.result), [gw, id]);
  const req = useLoad(() => apiText(base + '/request').catch((e) => `(${e.message})`), [gw, id]);
  const resp = useLoad(() => apiText(base + '/response').catch((e) => `(${e.message})`), [gw, id]);
  const [error, setError] = useState(null);
  const [score, setScore] = useState('');
  const edit = async (body) => {
    setError(null);
    try { await api('PATCH', base, body); log.reload(); onChanged && onChanged(); } catch (err) { setError(err); }
  };
  const l = log.data;
  if (log.error) return html`<div class="panel"><${Err} error=${log.error}/></div>`;
  if (!l) return html`<div class="panel"><p class="muted">Loading…</p></div>`;
  const r = resp.data != null ? reassemble(resp.data) : null;
  const editable = can(who, 'edit', gw);
  const findings = [['dlp', 'DLP findings', l.dlp_action], ['guardrails', 'Guardrail findings', l.guardrails_action]].filter(([k]) => l[k] != null);
  const headers = gatewayHeaders(l);
  return html`<div class="panel" aria-label="log detail"><h2 style="margin-top:0">Log ${l.id}</h2>
    <dl class="kv">
      <dt>time</dt><dd>${fmt.time(l.created_at)}</dd>
      <dt>provider / model</dt><dd>${l.provider} / ${l.model}</dd>
      <dt>status</dt><dd class=${l.success ? 'ok' : 'bad'}>${l.status_code} ${l.success ? 'success' : 'failed'}</dd>
      <dt>duration</dt><dd>${fmt.ms(l.duration)}</dd>
      <dt>tokens in / out</dt><dd>${fmt.num(l.tokens_in)} / ${fmt.num(l.tokens_out)}</dd>
      <dt>cost</dt><dd>${fmt.usd(l.cost)}</dd>
      <dt>cache</dt><dd>${l.cached ? 'hit' : 'miss'}</dd>
      <dt>path</dt><dd><code>${l.path}</code></dd>
      <dt>feedback</dt><dd data-feedback=${l.feedback ?? 0}>${l.feedback === 1 ? '👍' : l.feedback === -1 ? '👎' : 'none'}${l.score != null ? ` · score ${l.score}` : ''}</dd>
    </dl>
    ${editable && html`<div class="row" style="margin-bottom:.8rem">
      <button onClick=${() => edit({ feedback: 1 })} aria-label="thumbs up" aria-pressed=${l.feedback === 1}>👍</button>
      <button onClick=${() => edit({ feedback: -1 })} aria-label="thumbs down" aria-pressed=${l.feedback === -1}>👎</button>
      <label>Score (0–100)<input value=${score} onInput=${(e) => setScore(e.target.value)} size="4"/></label>
      <button onClick=${() => edit({ score: Number(score) })} disabled=${score.trim() === '' || !Number.isFinite(Number(score))}>Set score</button>
    </div>`}
    <${Err} error=${error}/>
    ${l.error_message && html`<p class="bad">Error ${l.error_code || ''}: ${l.error_message}</p>`}
    <h3>Headers the gateway set</h3>
    <dl class="kv headers">${headers.map(([k, v]) => html`<dt><code>${k}</code></dt><dd><code>${v}</code></dd>`)}</dl>
    ${l.route && html`<h3>Route ${l.route.name} <span class="muted">version ${l.route.version_id}</span></h3>
      <ol class="walk" aria-label="route nodes">${l.route.nodes.map((n) => html`<li><code>${n.element_id}</code> <span class="muted">${n.type}</span>
        ${n.provider ? ` ${n.provider}/${n.model}` : ''}${n.status ? ` → ${n.status}` : ''}${n.limit_key ? ` key ${n.limit_key}` : ''}${n.used != null ? ` used ${n.used}` : ''}
        ${n.output && html` <span class="pill">${n.output}</span>`}</li>`)}</ol>`}
    ${l.attempts && l.attempts.length > 0 && html`<h3>Attempts, retries and fallbacks</h3>
      <table aria-label="attempts"><thead><tr><th style="width:3rem">step</th><th style="width:3.5rem">try</th><th>provider / model</th><th style="width:4rem">status</th><th style="width:5rem">time</th><th>then</th></tr></thead>
      <tbody>${l.attempts.map((t) => html`<tr><td>${t.step}</td><td>${t.attempt}</td><td>${t.provider}${t.model ? ' / ' + t.model : ''}${t.element ? html` <span class="muted">(${t.element})</span>` : ''}</td>
        <td class=${t.status && t.status < 400 ? 'ok' : 'bad'}>${t.status || '–'}</td><td>${fmt.ms(t.duration_ms)}</td>
        <td title=${t.error || ''}>${t.outcome}${t.delay_ms ? ` after ${t.delay_ms} ms` : ''}${t.error ? ': ' + t.error : ''}</td></tr>`)}</tbody></table>`}
    ${findings.map(([k, title, action]) => html`<h3>${title}${action ? html` <span class="pill bad">${action}</span>` : ''}</h3><pre>${JSON.stringify(l[k], null, 2)}</pre>`)}
    ${l.metadata && html`<h3>Metadata</h3><pre>${(() => { try { return JSON.stringify(JSON.parse(l.metadata), null, 2); } catch { return l.metadata; } })()}</pre>`}
    <h3>Request</h3><pre>${req.data != null ? reassemble(req.data).text : '…'}</pre>
    <h3>Response${r && r.streamed ? ' (stream, reassembled)' : ''}</h3><pre data-response>${r ? r.text : '…'}</pre>
  </div>`;
}

// The logs API's other filters: query name, label, kind (num, time or text).
const MORE_FILTERS = [
  ['start_date', 'From', 'time'], ['end_date', 'To', 'time'], ['model_type', 'Model type', 'text'],
  ['min_cost', 'Cost ≥ (USD)', 'num'], ['max_cost', 'Cost ≤ (USD)', 'num'], ['min_duration', 'Duration ≥ (ms)', 'num'],
  ['max_duration', 'Duration ≤ (ms)', 'num'], ['min_tokens_in', 'Tokens in ≥', 'num'], ['max_tokens_in', 'Tokens in ≤', 'num'],
  ['min_tokens_out', 'Tokens out ≥', 'num'], ['max_tokens_out', 'Tokens out ≤', 'num'], ['min_total_tokens', 'Tokens ≥', 'num'],
  ['max_total_tokens', 'Tokens ≤', 'num'], ['request_content_type', 'Request type', 'text'], ['response_content_type', 'Response type', 'text'],
];

function Logs({ who, gw: initialGw, id: initialId }) {
  const gws = useGateways();
  const [gw, setGw] = useState(initialGw || '');
  const [f, setF] = useState({ provider: '', model: '', success: '', cached: '', feedback: '', search: '', mkey: '', mval: '',
    ...Object.fromEntries(MORE_FILTERS.map(([k]) => [k, ''])), direction: 'desc' });
  const [applied, setApplied] = useState(f);
  const [page, setPage] = useState(1);
  const [live, setLive] = useState(true);
  const [sel, setSel] = useState(initialId || '');
  const [tick, setTick] = useState(0);
  const [error, setError] = useState(null);
  useEffect(() => { if (!gw && gws.data && gws.data.length) setGw(gws.data[0].id); }, [gws.data]);
  useEffect(() => {
    if (!live || page !== 1) return undefined;
    const t = setInterval(() => setTick((x) => x + 1), 2000);
    return () => clearInterval(t);
  }, [live, page]);
  const query = (a) => {
    const q = new URLSearchParams({ page: String(page), per_page: '25' });
    for (const k of ['provider', 'model', 'success', 'cached', 'feedback', 'search']) if (a[k] !== '') q.set(k, a[k]);
    for (const [k, , kind] of MORE_FILTERS) if (a[k] !== '') q.set(k, kind === 'time' ? new Date(a[k]).toISOString() : a[k]);
    if (a.direction !== 'desc') q.set('direction', a.direction);
    if (a.mkey) { q.append('filters.key', 'metadata.key'); q.append('filters.operator', 'eq'); q.append('filters.value', a.mkey); }
    if (a.mval) { q.append('filters.key', 'metadata.value'); q.append('filters.operator', 'eq'); q.append('filters.value', a.mval); }
    return q;
  };
  const [list, setList] = useState({ data: null, error: null });
  useEffect(() => {
    if (!gw) return;
    let alive = true;
    api('GET', `/ai-gateway/gateways/${encodeURIComponent(gw)}/logs?${query(applied)}`)
      .then((j) => alive && setList({ data: j, error: null }), (e) => alive && setList({ data: null, error: e }));
    return () => { alive = false; };
  }, [gw, applied, page, tick]);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const del = async () => {
    if (!confirm('Delete every log that matches these filters?')) return;
    setError(null);
    const q = query(applied); q.delete('page'); q.delete('per_page');
    try { await api('DELETE', `/ai-gateway/gateways/${encodeURIComponent(gw)}/logs?${q}`); setSel(''); setTick((x) => x + 1); } catch (err) { setError(err); }
  };
  const rows = list.data ? list.data.result : [];
  const info = list.data && list.data.result_info;
  return html`<main><h1>Logs</h1>
    <form class="panel row" role="search" onSubmit=${(e) => { e.preventDefault(); setPage(1); setApplied(f); }}>
      <${GatewaySelect} value=${gw} onChange=${(v) => { setGw(v); setSel(''); }} gateways=${gws.data}/>
      <label>Provider<input name="provider" value=${f.provider} onInput=${set('provider')} size="10"/></label>
      <label>Model<input name="model" value=${f.model} onInput=${set('model')} size="14"/></label>
      <label>Result<select name="success" value=${f.success} onChange=${set('success')}><option value="">any</option><option value="true">success</option><option value="false">failed</option></select></label>
      <label>Cache<select name="cached" value=${f.cached} onChange=${set('cached')}><option value="">any</option><option value="true">hit</option><option value="false">miss</option></select></label>
      <label>Feedback<select name="feedback" value=${f.feedback} onChange=${set('feedback')}><option value="">any</option><option value="1">👍</option><option value="-1">👎</option><option value="0">none</option></select></label>
      <label>Metadata key<input value=${f.mkey} onInput=${set('mkey')} size="8"/></label>
      <label>value<input value=${f.mval} onInput=${set('mval')} size="8"/></label>
      <label>Search<input name="search" value=${f.search} onInput=${set('search')} size="12"/></label>
      <button class="primary">Filter</button>
      <label class="check"><input type="checkbox" checked=${live} onChange=${(e) => setLive(e.target.checked)}/> live</label>
      ${can(who, 'edit', gw) && html`<button type="button" class="danger" onClick=${del} disabled=${applied.search !== ''}
        title=${applied.search !== '' ? 'The logs API deletes by filters, not by a search: clear the search to delete' : undefined}>Delete matching logs</button>`}
      <details class="more-filters" style="flex-basis:100%"><summary>More filters</summary><div class="row">
        ${MORE_FILTERS.map(([k, label, kind]) => html`<label>${label}<input name=${k} type=${kind === 'time' ? 'datetime-local' : 'text'}
          inputmode=${kind === 'num' ? 'decimal' : undefined} value=${f[k]} onInput=${set(k)} size=${kind === 'num' ? 7 : 14}/><${FieldErr} error=${list.error} name=${k}/></label>`)}
        <label>Order<select name="direction" value=${f.direction} onChange=${set('direction')}><option value="desc">newest first</option><option value="asc">oldest first</option></select></label>
      </div></details>
    </form>
    <${Err} error=${list.error || error}/>
    <div class="split">
      <div class="panel list-box">
        <table aria-label="logs"><thead><tr><th style="width:12.5rem">time</th><th>provider</th><th>model</th><th style="width:4rem">status</th>
          <th style="width:5.8rem">duration</th><th style="width:4.5rem">tokens</th><th style="width:6.5rem">cost</th><th style="width:4rem">cache</th><th style="width:2.5rem"></th></tr></thead>
        <tbody>${rows.map((l) => html`<tr key=${l.id} data-log-id=${l.id} aria-selected=${l.id === sel} tabindex="0"
            onClick=${() => setSel(l.id)} onKeyDown=${(e) => e.key === 'Enter' && setSel(l.id)}>
          <td>${fmt.time(l.created_at)}</td><td>${l.provider}</td><td>${l.model}</td>
          <td class=${l.success ? 'ok' : 'bad'}>${l.status_code}</td><td>${fmt.ms(l.duration)}</td>
          <td>${fmt.num((l.tokens_in || 0) + (l.tokens_out || 0))}</td><td>${fmt.usd(l.cost)}</td><td>${l.cached ? 'hit' : ''}</td>
          <td>${l.feedback === 1 ? '👍' : l.feedback === -1 ? '👎' : ''}</td></tr>`)}</tbody></table>
        ${list.data && rows.length === 0 && html`<p class="muted">No log matches.</p>`}
        ${info && html`<div class="row" style="margin-top:.6rem">
          <button onClick=${() => setPage(page - 1)} disabled=${page <= 1}>Newer</button>
          <span class="muted">page ${page} · ${fmt.num(info.total_count)}${info.total_count_capped ? '+' : ''} logs</span>
          <button onClick=${() => setPage(page + 1)} disabled=${page * 25 >= info.total_count}>Older</button></div>`}
      </div>
      <div>${sel ? html`<${LogDetail} key=${gw + '/' + sel} who=${who} gw=${gw} id=${sel} onChanged=${() => setTick((x) => x + 1)}/>`
        : html`<div class="panel muted">Choose a log to see its request, answer and what the gateway did.</div>`}</div>
    </div></main>`;
}

// ---- playground ----

function Playground({ who }) {
  const gws = useGateways();
  const [gw, setGw] = useState('');
  const [mode, setMode] = useState('provider');
  const [provider, setProvider] = useState('openai');
  const [model, setModel] = useState('gpt-4o-mini');
  const [key, setKey] = useState('');
  const [prompt, setPrompt] = useState('Hello');
  const [stream, setStream] = useState(true);
  const [answer, setAnswer] = useState('');
  const [meta, setMeta] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => { if (!gw && gws.data && gws.data.length) setGw(gws.data[0].id); }, [gws.data]);
  // A gateway with authentication on takes only tokens with run permission (the data
  // plane's rule); one without it takes any request.
  const gwObj = (gws.data || []).find((g) => g.id === gw);
  // The gateway's routes, offered as names in route mode.
  const routes = useLoad(() => (gw && mode === 'route'
    ? api('GET', `/ai-gateway/gateways/${encodeURIComponent(gw)}/routes?per_page=100`).then((j) => j.result).catch(() => []) : Promise.resolve([])), [gw, mode]);
  const send = async (e) => {
    e.preventDefault();
    setBusy(true); setError(null); setAnswer(''); setMeta(null);
    const base = `/v1/${encodeURIComponent(session.acct)}/${encodeURIComponent(gw)}`;
    // provider: OpenAI's own chat completions; unified: /compat with provider/model; route: dynamic/<name>.
    const url = mode === 'provider' ? `${base}/openai/chat/completions` : `${base}/compat/chat/completions`;
    const m = mode === 'provider' ? model : mode === 'unified' ? `${provider}/${model}` : `dynamic/${model}`;
    const headers = { 'Content-Type': 'application/json', 'cf-aig-authorization': 'Bearer ' + session.token };
    if (key) headers.Authorization = 'Bearer ' + key;
    try {
      const r = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ model: m, stream, messages: [{ role: 'user', content: prompt }] }) });
      const logId = r.headers.get('cf-aig-log-id');
      setMeta({ status: r.status, logId, provider: r.headers.get('cf-aig-provider'), model: r.headers.get('cf-aig-model'),
        route: r.headers.get('cf-aig-route'), routeVersion: r.headers.get('cf-aig-route-version') });
      if (stream && r.ok && r.body) {
        const reader = r.body.getReader();
        const dec = new TextDecoder();
        let buf = '', text = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i).trim(); buf = buf.slice(i + 1);
            if (!line.startsWith('data:') || line === 'data: [DONE]') continue;
            try { text += JSON.parse(line.slice(5)).choices?.[0]?.delta?.content || ''; setAnswer(text); } catch { /* keep reading */ }
          }
        }
      } else {
        const t = await r.text();
        try { const j = JSON.parse(t); setAnswer(r.ok ? j.choices?.[0]?.message?.content ?? JSON.stringify(j, null, 2) : JSON.stringify(j, null, 2)); } catch { setAnswer(t); }
      }
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  return html`<main><h1>Playground</h1>
    <form class="panel" onSubmit=${send} aria-label="playground">
      <div class="row">
        <${GatewaySelect} value=${gw} onChange=${setGw} gateways=${gws.data}/>
        <label>Through<select name="mode" value=${mode} onChange=${(e) => setMode(e.target.value)}>
          <option value="provider">OpenAI's API (provider path)</option><option value="unified">the unified API (/compat)</option>
          <option value="route">a dynamic route</option></select></label>
        ${mode === 'unified' && html`<label>Provider<input name="provider" value=${provider} onInput=${(e) => setProvider(e.target.value)} size="12"/></label>`}
        <label>${mode === 'route' ? 'Route name' : 'Model'}<input name="model" value=${model} onInput=${(e) => setModel(e.target.value)}
          list=${mode === 'route' ? 'route-names' : undefined}/></label>
        ${mode === 'route' && html`<datalist id="route-names">${(routes.data || []).map((r) => html`<option value=${r.name}/>`)}</datalist>`}
        <label>Provider key (empty: the gateway's stored key)<input name="key" type="password" value=${key} onInput=${(e) => setKey(e.target.value)}/></label>
        <label class="check"><input type="checkbox" name="stream" checked=${stream} onChange=${(e) => setStream(e.target.checked)}/> stream</label>
      </div>
      <label style="margin-top:.8rem">Message<textarea name="prompt" rows="3" value=${prompt} onInput=${(e) => setPrompt(e.target.value)}></textarea></label>
      <div class="row" style="margin-top:.6rem"><button class="primary" disabled=${busy || !gw || (gwObj && gwObj.authentication && !can(who, 'run', gw))}>Send</button>
        ${meta && html`<span class="muted" role="status">HTTP ${meta.status}${meta.provider ? ` · ${meta.provider}/${meta.model}` : ''}${meta.route ? ` · route ${meta.route} version ${meta.routeVersion}` : ''}
          ${meta.logId && html` · <a href=${`#/logs/${encodeURIComponent(gw)}/${meta.logId}`} data-log-link>log ${meta.logId}</a>`}</span>`}</div>
    </form>
    <${Err} error=${error}/>
    <div class="panel"><pre class="answer" aria-live="polite" data-answer>${answer}</pre></div>
  </main>`;
}

// ---- the app ----

function App() {
  const hash = useHash();
  const [who, setWho] = useState(null);
  const [checked, setChecked] = useState(false);
  useEffect(() => {
    if (!session.token) { setChecked(true); return; }
    api('GET', '/tokens/verify').then((j) => setWho(j.result), () => session.clear()).finally(() => setChecked(true));
  }, []);
  const signOut = useCallback(() => { session.clear(); setWho(null); }, []);
  if (!checked) return html`<p class="loading">Loading…</p>`;
  if (!who) return html`<${SignIn} onDone=${setWho}/>`;
  const [, screen, a, b] = hash.split('/').map(decodeURIComponent);
  const nav = [['gateways', 'Gateways'], ['analytics', 'Analytics'], ['logs', 'Logs'], ['routes', 'Routes'], ['evaluations', 'Evaluations'],
    ['keys', 'Provider keys'], ['custom-providers', 'Custom providers'], ...(can(who, 'admin') ? [['tokens', 'API tokens'], ['audit', 'Audit log']] : []),
    ['playground', 'Playground']];
  let body;
  switch (screen) {
    case 'analytics': body = html`<${Analytics} gw=${a}/>`; break;
    case 'logs': body = html`<${Logs} who=${who} gw=${a} id=${b}/>`; break;
    case 'routes': body = html`<${Routes} who=${who} gw=${a} id=${b}/>`; break;
    case 'evaluations': body = html`<${Evaluations} who=${who} gw=${a} key=${a || ''}/>`; break;
    case 'keys': body = html`<${ProviderKeys} who=${who} gw=${a}/>`; break;
    case 'custom-providers': body = html`<${CustomProviders} who=${who}/>`; break;
    case 'tokens': body = html`<${Tokens} who=${who}/>`; break;
    case 'audit': body = html`<${AuditLog} who=${who}/>`; break;
    case 'playground': body = html`<${Playground} who=${who}/>`; break;
    default: body = a ? html`<${GatewaySettings} who=${who} id=${a}/>` : html`<${Gateways} who=${who}/>`;
  }
  return html`<header class="top"><span class="brand">Switchyard</span>
      <nav>${nav.map(([k, l]) => html`<a href=${'#/' + k} aria-current=${(screen || 'gateways') === k ? 'page' : undefined}>${l}</a>`)}</nav>
      <span class="who">${session.acct} · ${who.permissions.join(', ')}${who.gateways && who.gateways.length ? ' on ' + who.gateways.join(', ') : ''}</span>
      <button onClick=${signOut}>Sign out</button></header>
    ${body}`;
}

render(html`<${App}/>`, document.getElementById('app'));
