// settings.js is a gateway's settings screen, in the reference's sections: logs (limits and
// Logpush), caching, rate limiting, retries, authentication, guardrails (a category × side
// grid), OpenTelemetry exporters, DLP policies and spend limits (rows). It saves with one PUT
// and shows the API's message in the section it is about, and the API's notes on settings
// stored but not acted on.
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

// DLP policies: the API's two forms ({enabled, action, profiles} checks both sides; or
// {enabled, policies}) are edited as policy rows and saved in the policies form.
function dlpFrom(d) {
  if (!d) return { enabled: false, policies: [] };
  if (Array.isArray(d.policies)) {
    return { enabled: d.enabled !== false, policies: d.policies.map((p) => {
      // check: absent is both; a list or one string of REQUEST, RESPONSE, BOTH, any case.
      const c = p.check == null ? ['BOTH'] : (Array.isArray(p.check) ? p.check : [p.check]).map((x) => String(x).toUpperCase());
      return { id: p.id || '', action: p.action || 'FLAG', profiles: p.profiles || [],
        request: c.includes('REQUEST') || c.includes('BOTH'), response: c.includes('RESPONSE') || c.includes('BOTH'), enabled: p.enabled !== false };
    }) };
  }
  if (!d.action && !(d.profiles && d.profiles.length)) return { enabled: d.enabled !== false, policies: [] };
  return { enabled: d.enabled !== false, policies: [{ id: 'default', action: d.action || 'FLAG', profiles: d.profiles || [],
    request: true, response: true, enabled: true }] };
}

function dlpBody(s) {
  if (!s.enabled && s.policies.length === 0) return null;
  return { enabled: s.enabled, policies: s.policies.map((p) => ({ id: p.id.trim(), action: p.action, profiles: p.profiles,
    check: [...(p.request ? ['REQUEST'] : []), ...(p.response ? ['RESPONSE'] : [])], enabled: p.enabled })) };
}

// Spend limits: rules of a USD limit over a window. A rule's model, provider or metadata
// scope is kept as it came (the API stores such rules but does not enforce them).
const WINDOWS = [['86400', 'a day (UTC)'], ['604800', 'a week (from Monday)'], ['2592000', 'a month (from the 1st)'], ['3600', 'an hour']];

function spendFrom(s) {
  if (!s) return { enabled: false, rules: [] };
  return { enabled: s.enabled !== false, rules: (s.rules || []).map((r) => ({ ...r, limit: String(r.limit ?? ''), window: String(r.window ?? 86400),
    technique: r.technique || 'fixed', enabled: r.enabled !== false })) };
}

function spendBody(s) {
  if (!s.enabled && s.rules.length === 0) return null;
  return { enabled: s.enabled, rules: s.rules.map((r) => {
    const out = { ...r, limit: r.limit === '' ? null : Number(r.limit), limitType: 'cost', window: Number(r.window), technique: r.technique, enabled: r.enabled };
    if (!out.id) delete out.id;
    return out;
  }) };
}

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
  const [dlp, setDlp] = useState(dlpFrom(null));
  const [spend, setSpend] = useState(spendFrom(null));
  const profiles = useLoad(() => api('GET', '/dlp/profiles').then((j) => j.result), []);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(null);
  useEffect(() => {
    if (!g.data) return;
    const r = g.data.result;
    setForm({ ...r, logpush_public_key: r.logpush_public_key || '' });
    setGuard(guardFrom(r.guardrails));
    setOtel(otelFrom(r.otel));
    setDlp(dlpFrom(r.dlp));
    setSpend(spendFrom(r.spend_limits));
  }, [g.data]);
  const editable = can(who, 'edit', id);
  // The API's answer leaves out a spend rule's metadata scope and says so in its messages.
  const hiddenScope = !!g.data && (g.data.messages || []).some((m) => /spend_limits\.rules\[\d+\].*metadata is kept/.test(m.message));
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
      // The sections below are sent only when they differ from what was loaded: PUT keeps
      // what it is not sent, and the API's answer leaves out what a client cannot read
      // back (a spend rule's metadata), which sending it back unchanged would drop.
      const r = g.data.result;
      const changed = (now, then) => JSON.stringify(now) !== JSON.stringify(then);
      if (changed(guardBody(guard), guardBody(guardFrom(r.guardrails)))) body.guardrails = guardBody(guard);
      if (changed(otelBody(otel), otelBody(otelFrom(r.otel)))) body.otel = otelBody(otel);
      if (changed(dlpBody(dlp), dlpBody(dlpFrom(r.dlp)))) body.dlp = dlpBody(dlp);
      spend.rules.forEach((rule, i) => {
        if (rule.limit.trim() === '' || !Number.isFinite(Number(rule.limit))) {
          throw new APIError(400, [{ message: `spend_limits.rules[${i}].limit must be a number of USD`, path: ['body', 'spend_limits', 'rules', String(i), 'limit'] }]);
        }
      });
      if (changed(spendBody(spend), spendBody(spendFrom(r.spend_limits)))) body.spend_limits = spendBody(spend);
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
  const setDlpRow = (i, k, v) => setDlp({ ...dlp, policies: dlp.policies.map((p, j) => (j === i ? { ...p, [k]: v } : p)) });
  const setSpendRow = (i, k, v) => setSpend({ ...spend, rules: spend.rules.map((r, j) => (j === i ? { ...r, [k]: v } : r)) });
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

      <section aria-label="DLP"><h2>Data Loss Prevention</h2>
        <label class="check"><input type="checkbox" name="dlp-enabled" checked=${dlp.enabled} onChange=${(e) => setDlp({ ...dlp, enabled: e.target.checked })}/> DLP on for this gateway</label>
        <p class="muted">Each policy checks prompts and/or answers against its profiles (predefined and this account's custom ones) and flags, blocks or redacts a match.</p>
        ${dlp.policies.map((p, i) => html`<div class="row otel" key=${i}>
          <label>Policy id<input name=${`dlp-${i}-id`} value=${p.id} onInput=${(e) => setDlpRow(i, 'id', e.target.value)} size="12"/></label>
          <label>Action<select name=${`dlp-${i}-action`} value=${p.action} onChange=${(e) => setDlpRow(i, 'action', e.target.value)}>
            <option value="FLAG">flag</option><option value="BLOCK">block</option><option value="REDACT">redact</option></select></label>
          <label style="flex:1 1 16rem">Profiles<select multiple size="4" name=${`dlp-${i}-profiles`} onChange=${(e) => setDlpRow(i, 'profiles', [...e.target.selectedOptions].map((o) => o.value))}>
            ${(profiles.data || []).map((pr) => html`<option value=${pr.id} selected=${p.profiles.includes(pr.id)}>${pr.name}${pr.type === 'custom' ? ' (custom)' : ''}</option>`)}</select></label>
          <label class="check"><input type="checkbox" checked=${p.request} onChange=${(e) => setDlpRow(i, 'request', e.target.checked)}/> prompts</label>
          <label class="check"><input type="checkbox" checked=${p.response} onChange=${(e) => setDlpRow(i, 'response', e.target.checked)}/> answers</label>
          <label class="check"><input type="checkbox" checked=${p.enabled} onChange=${(e) => setDlpRow(i, 'enabled', e.target.checked)}/> on</label>
          <button type="button" onClick=${() => setDlp({ ...dlp, policies: dlp.policies.filter((_, j) => j !== i) })} aria-label=${`remove policy ${i + 1}`}>Remove</button>
        </div>`)}
        <button type="button" onClick=${() => setDlp({ ...dlp, enabled: dlp.enabled || dlp.policies.length === 0, policies: [...dlp.policies, { id: `policy-${dlp.policies.length + 1}`, action: 'FLAG', profiles: [], request: true, response: true, enabled: true }] })}>Add a policy</button>
        <${SectionErr} error=${error} name="dlp"/>
      </section>

      <section aria-label="Spend limits"><h2>Spend limits</h2>
        ${hiddenScope && html`<p class="muted" role="note">A rule here is scoped to a metadata value, which the API keeps but does not answer
          (cloudflare-go cannot read it), so this section is read-only: change spend limits through the API to keep that scope.</p>`}
        <fieldset class="plain" disabled=${hiddenScope}>
        <label class="check"><input type="checkbox" name="spend-enabled" checked=${spend.enabled} onChange=${(e) => setSpend({ ...spend, enabled: e.target.checked })}/> Spend limits on</label>
        <p class="muted">Requests are refused once the gateway's cost over the window reaches the limit.</p>
        ${spend.rules.map((r, i) => html`<div class="row otel" key=${i}>
          <label>Limit (USD)<input name=${`spend-${i}-limit`} inputmode="decimal" value=${r.limit} onInput=${(e) => setSpendRow(i, 'limit', e.target.value)} size="8"/></label>
          <label>Over<select name=${`spend-${i}-window`} value=${r.window} onChange=${(e) => setSpendRow(i, 'window', e.target.value)}>
            ${[...WINDOWS, ...(WINDOWS.some(([w]) => w === r.window) ? [] : [[r.window, `${r.window} s`]])].map(([w, l]) => html`<option value=${w}>${l}</option>`)}</select></label>
          <label>Technique<select name=${`spend-${i}-technique`} value=${r.technique} onChange=${(e) => setSpendRow(i, 'technique', e.target.value)}>
            <option value="fixed">fixed</option><option value="sliding">sliding</option></select></label>
          <label class="check"><input type="checkbox" checked=${r.enabled} onChange=${(e) => setSpendRow(i, 'enabled', e.target.checked)}/> on</label>
          ${(r.model || r.provider || r.metadata) && html`<span class="muted">scoped to ${['model', 'provider', 'metadata'].filter((k) => r[k]).join(', ')}: stored, not enforced</span>`}
          <button type="button" onClick=${() => setSpend({ ...spend, rules: spend.rules.filter((_, j) => j !== i) })} aria-label=${`remove rule ${i + 1}`}>Remove</button>
        </div>`)}
        <button type="button" onClick=${() => setSpend({ ...spend, enabled: spend.enabled || spend.rules.length === 0, rules: [...spend.rules, { limit: '', window: '86400', technique: 'fixed', enabled: true }] })}>Add a rule</button>
        </fieldset>
        <${SectionErr} error=${error} name="spend_limits"/>
      </section>
      </fieldset>
      ${editable ? html`<div class="row" style="margin-top:1rem"><button class="primary">Save settings</button>
        <button type="button" class="danger" onClick=${del}>Delete gateway</button></div>`
        : html`<p class="muted">This token may read this gateway but not change it.</p>`}
      ${error && html`<${Err} error=${error}/>`}
      ${saved && html`<p class="ok" role="status">Saved.${saved.map((m) => html` <span class="muted">${m.message}</span>`)}</p>`}
    </form></main>`;
}
