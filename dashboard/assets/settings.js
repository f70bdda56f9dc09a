// settings.js is a gateway's settings screen, in the reference's sections: logs (limits and
// Logpush), caching, rate limiting, retries, authentication, guardrails (a category × side
// grid), OpenTelemetry exporters, and DLP and spend limits as the API's JSON. It saves with
// one PUT and shows the API's message next to the field it names, and the API's notes on
// settings stored but not acted on.
import { html, useState, useEffect } from './vendor/preact-htm.js';
import { api, APIError, can, useLoad, Err, FieldErr, session } from './lib.js';

// The plain settings: name, label, kind, and for selects the choices; grouped in sections.
const SECTIONS = [
  ['Logs', [
    ['collect_logs', 'Collect logs', 'bool'],
    ['log_management', 'Log limit (records; empty: none)', 'int'],
    ['log_management_strategy', 'When the limit is reached', 'select', ['', 'STOP_INSERTING', 'DELETE_OLDEST']],
    ['logpush', 'Logpush (export logs, encrypted for the key below)', 'bool'],
  ]],
  ['Caching', [
    ['cache_ttl', 'Cache TTL (seconds; 0: off)', 'int'],
    ['cache_invalidate_on_update', 'Invalidate the cache on update', 'bool'],
  ]],
  ['Rate limiting', [
    ['rate_limiting_limit', 'Requests (0: off)', 'int'],
    ['rate_limiting_interval', 'per (seconds)', 'int'],
    ['rate_limiting_technique', 'Technique', 'select', ['fixed', 'sliding']],
  ]],
  ['Retries', [
    ['retry_max_attempts', 'Attempts', 'int'],
    ['retry_delay', 'Delay (ms)', 'int'],
    ['retry_backoff', 'Backoff', 'select', ['', 'constant', 'linear', 'exponential']],
  ]],
  ['Authentication', [
    ['authentication', 'Require a gateway token (cf-aig-authorization)', 'bool'],
  ]],
];
const PLAIN = SECTIONS.flatMap(([, fields]) => fields);

// Llama Guard 3's hazard categories and P1, as the reference names them.
const CATEGORIES = [
  ['S1', 'Violent crimes'], ['S2', 'Non-violent crimes'], ['S3', 'Sex-related crimes'], ['S4', 'Child sexual exploitation'],
  ['S5', 'Defamation'], ['S6', 'Specialized advice'], ['S7', 'Privacy'], ['S8', 'Intellectual property'],
  ['S9', 'Indiscriminate weapons'], ['S10', 'Hate'], ['S11', 'Suicide and self-harm'], ['S12', 'Sexual content'],
  ['S13', 'Elections'], ['S14', 'Code interpreter abuse'], ['P1', 'Prompt injection'],
];

// The settings kept as the API's JSON, each with where it is documented.
const JSON_SETTINGS = [['dlp', 'DLP policies', 'docs/dlp.md'], ['spend_limits', 'Spend limits', 'docs/rate-limiting.md']];

// SectionErr shows the API's errors about setting name (path body.<name>...).
const SectionErr = ({ error, name }) => error instanceof APIError
  ? error.errors.filter((x) => x.path && x.path[1] === name).map((x) => html`<span class="field-error" role="alert">${x.message}</span>`) : null;

function guardFrom(g) {
  const m = (g && g.model) || {};
  return { prompt: { ...((g && g.prompt) || {}) }, response: { ...((g && g.response) || {}) },
    provider: m.provider || '', model: m.model || '', timeout_ms: m.timeout_ms == null ? '' : String(m.timeout_ms) };
}

function guardBody(s) {
  const side = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v && v !== 'IGNORE'));
  const prompt = side(s.prompt), response = side(s.response);
  const model = {};
  if (s.provider) model.provider = s.provider;
  if (s.model) model.model = s.model;
  if (s.timeout_ms !== '') model.timeout_ms = Number(s.timeout_ms);
  if (!Object.keys(prompt).length && !Object.keys(response).length && !Object.keys(model).length) return null;
  return Object.keys(model).length ? { prompt, response, model } : { prompt, response };
}

const otelFrom = (list) => (Array.isArray(list) ? list : []).map((e) => ({ url: e.url || '', authorization: e.authorization || '',
  content_type: e.content_type || 'json', headers: Object.entries(e.headers || {}).map(([k, v]) => `${k}: ${v}`).join('\n') }));

// otelBody turns the exporter rows back into the API's list; a header line without a colon
// is refused here, named like the API names fields.
function otelBody(rows) {
  if (rows.length === 0) return null;
  return rows.map((r, i) => {
    const headers = {};
    for (const line of r.headers.split('\n').map((l) => l.trim()).filter(Boolean)) {
      const c = line.indexOf(':');
      if (c <= 0) throw new APIError(400, [{ message: `otel[${i}].headers: "${line}" is not "Name: value"`, path: ['body', 'otel', String(i), 'headers'] }]);
      headers[line.slice(0, c).trim()] = line.slice(c + 1).trim();
    }
    const e = { url: r.url.trim(), headers, content_type: r.content_type };
    if (r.authorization.trim()) e.authorization = r.authorization.trim();
    return e;
  });
}

export function GatewaySettings({ who, id }) {
  const g = useLoad(() => api('GET', '/ai-gateway/gateways/' + encodeURIComponent(id)), [id]);
  const [form, setForm] = useState(null);
  const [guard, setGuard] = useState(guardFrom(null));
  const [otel, setOtel] = useState([]);
  const [json, setJSON] = useState({});
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(null);
  useEffect(() => {
    if (!g.data) return;
    const r = g.data.result;
    setForm({ ...r, logpush_public_key: r.logpush_public_key || '' });
    setGuard(guardFrom(r.guardrails));
    setOtel(otelFrom(r.otel));
    const j = {};
    for (const [k] of JSON_SETTINGS) j[k] = r[k] == null ? '' : JSON.stringify(r[k], null, 2);
    setJSON(j);
  }, [g.data]);
  const editable = can(who, 'edit', id);
  if (g.error) return html`<main><h1>Gateway ${id}</h1><${Err} error=${g.error}/></main>`;
  if (!form) return html`<main><h1>Gateway ${id}</h1><p class="muted">Loading…</p></main>`;
  const set = (k, v) => setForm({ ...form, [k]: v });
  const save = async (e) => {
    e.preventDefault();
    setError(null); setSaved(null);
    const body = {};
    try {
      for (const [k, , kind] of PLAIN) {
        let v = form[k];
        if (kind === 'int') v = v === '' || v == null ? null : Number(v);
        if (kind === 'select' && v === '') v = null;
        body[k] = v;
      }
      body.logpush_public_key = form.logpush_public_key.trim() === '' ? null : form.logpush_public_key;
      body.guardrails = guardBody(guard);
      body.otel = otelBody(otel);
      for (const [k] of JSON_SETTINGS) {
        if (json[k].trim() === '') { body[k] = null; continue; }
        try { body[k] = JSON.parse(json[k]); } catch (err) {
          throw new APIError(400, [{ message: `${k}: not JSON (${err.message})`, path: ['body', k] }]);
        }
      }
      const j = await api('PUT', '/ai-gateway/gateways/' + encodeURIComponent(id), body);
      setSaved(j.messages || []);
      g.reload();
    } catch (err) { setError(err); }
  };
  const del = async () => {
    if (!confirm(`Delete gateway ${id}, its logs and its routes?`)) return;
    try { await api('DELETE', '/ai-gateway/gateways/' + encodeURIComponent(id)); location.hash = '#/gateways'; } catch (err) { setError(err); }
  };
  const field = ([k, label, kind, choices]) => kind === 'bool'
    ? html`<label class="check"><input type="checkbox" name=${k} checked=${!!form[k]} onChange=${(e) => set(k, e.target.checked)}/> ${label}<${FieldErr} error=${error} name=${k}/></label>`
    : kind === 'select'
      ? html`<label>${label}<select name=${k} value=${form[k] ?? ''} onChange=${(e) => set(k, e.target.value)}>
          ${choices.map((c) => html`<option value=${c}>${c || '(none)'}</option>`)}</select><${FieldErr} error=${error} name=${k}/></label>`
      : html`<label>${label}<input name=${k} inputmode="numeric" value=${form[k] ?? ''} onInput=${(e) => set(k, e.target.value)} size="10"/><${FieldErr} error=${error} name=${k}/></label>`;
  const setOtelRow = (i, k, v) => setOtel(otel.map((r, j) => (j === i ? { ...r, [k]: v } : r)));
  const enc = encodeURIComponent(id);
  return html`<main><h1>Gateway ${id}</h1>
    <p class="muted">Base URL: <code>${location.origin}/v1/${session.acct}/${id}/{provider}</code>
      ${[['logs', 'logs'], ['analytics', 'analytics'], ['routes', 'routes'], ['keys', 'provider keys'], ['evaluations', 'evaluations']]
        .map(([screen, label]) => html`${' · '}<a href=${`#/${screen}/${enc}`}>${label}</a>`)}</p>
    <form class="panel settings" onSubmit=${save} aria-label="gateway settings">
      <fieldset disabled=${!editable} class="plain">
      <div class="sections">${SECTIONS.map(([title, fields]) => html`<section aria-label=${title}><h2>${title}</h2><div class="row">${fields.map(field)}</div>
        ${title === 'Logs' && html`<label style="margin-top:.6rem">Logpush public key (PEM, RSA ≥ 2048 bits)
          <textarea name="logpush_public_key" rows="3" value=${form.logpush_public_key} onInput=${(e) => set('logpush_public_key', e.target.value)}
            placeholder="-----BEGIN PUBLIC KEY-----"></textarea><${FieldErr} error=${error} name="logpush_public_key"/></label>`}
      </section>`)}</div>

      <section aria-label="Guardrails"><h2>Guardrails</h2>
        <p class="muted">What to do when the guard model finds a hazard in a prompt or in a response. Ignored categories are not checked.</p>
        <table class="guard" aria-label="guardrail categories"><thead><tr><th>category</th><th style="width:9rem">prompt</th><th style="width:9rem">response</th></tr></thead>
        <tbody>${CATEGORIES.map(([c, name]) => html`<tr key=${c}><td><code>${c}</code> ${name}</td>${['prompt', 'response'].map((side) => html`<td>
          <select name=${`guard-${side}-${c}`} aria-label=${`${name}, ${side}`} value=${guard[side][c] || 'IGNORE'}
            onChange=${(e) => setGuard({ ...guard, [side]: { ...guard[side], [c]: e.target.value } })}>
            <option value="IGNORE">ignore</option><option value="FLAG">flag</option><option value="BLOCK">block</option></select></td>`)}</tr>`)}</tbody></table>
        <div class="row" style="margin-top:.6rem">
          <label>Guard model provider<input name="guard-provider" value=${guard.provider} onInput=${(e) => setGuard({ ...guard, provider: e.target.value })} placeholder="workers-ai" size="12"/></label>
          <label>Guard model<input name="guard-model" value=${guard.model} onInput=${(e) => setGuard({ ...guard, model: e.target.value })} placeholder="@cf/meta/llama-guard-3-8b"/></label>
          <label>Timeout (ms)<input name="guard-timeout" inputmode="numeric" value=${guard.timeout_ms} onInput=${(e) => setGuard({ ...guard, timeout_ms: e.target.value })} placeholder="10000" size="7"/></label>
        </div><${SectionErr} error=${error} name="guardrails"/>
      </section>

      <section aria-label="OpenTelemetry"><h2>OpenTelemetry</h2>
        <p class="muted">Each request's spans are sent to these OTLP/HTTP trace endpoints. Authorization names a stored secret (a provider key's secret id), never a credential in clear.</p>
        ${otel.map((r, i) => html`<div class="row otel" key=${i}>
          <label style="flex:2 1 18rem">Endpoint URL<input name=${`otel-${i}-url`} value=${r.url} onInput=${(e) => setOtelRow(i, 'url', e.target.value)} placeholder="http://collector:4318/v1/traces"/></label>
          <label>Authorization (secret id)<input name=${`otel-${i}-authorization`} value=${r.authorization} onInput=${(e) => setOtelRow(i, 'authorization', e.target.value)}/></label>
          <label>Encoding<select name=${`otel-${i}-content_type`} value=${r.content_type} onChange=${(e) => setOtelRow(i, 'content_type', e.target.value)}>
            <option value="json">OTLP/JSON</option><option value="protobuf">OTLP/protobuf</option></select></label>
          <label style="flex:1 1 14rem">Headers (Name: value per line)<textarea name=${`otel-${i}-headers`} rows="2" value=${r.headers} onInput=${(e) => setOtelRow(i, 'headers', e.target.value)}></textarea></label>
          <button type="button" onClick=${() => setOtel(otel.filter((_, j) => j !== i))} aria-label=${`remove exporter ${i + 1}`}>Remove</button>
        </div>`)}
        <button type="button" onClick=${() => setOtel([...otel, { url: '', authorization: '', content_type: 'json', headers: '' }])}>Add an exporter</button>
        <${SectionErr} error=${error} name="otel"/>
      </section>

      <section aria-label="DLP and spend limits"><h2>DLP policies and spend limits</h2>
        <p class="muted">As the API takes them (see ${JSON_SETTINGS.map(([, , doc], i) => html`${i ? ' and ' : ''}<code>${doc}</code>`)}); DLP profiles are managed under <code>/dlp/profiles</code>.</p>
        <div class="row">${JSON_SETTINGS.map(([k, label]) => html`<label style="flex:1 1 300px"><span>${label} (<code>${k}</code>)</span>
          <textarea name=${k} rows="6" value=${json[k]} onInput=${(e) => setJSON({ ...json, [k]: e.target.value })} placeholder="(not set)"></textarea>
          <${SectionErr} error=${error} name=${k}/></label>`)}</div>
      </section>
      </fieldset>
      ${editable ? html`<div class="row" style="margin-top:1rem"><button class="primary">Save settings</button>
        <button type="button" class="danger" onClick=${del}>Delete gateway</button></div>`
        : html`<p class="muted">This token may read this gateway but not change it.</p>`}
      ${error && html`<${Err} error=${error}/>`}
      ${saved && html`<p class="ok" role="status">Saved.${saved.map((m) => html` <span class="muted">${m.message}</span>`)}</p>`}
    </form></main>`;
}
