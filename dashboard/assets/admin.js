// admin.js holds the screens that manage what the gateway keeps: stored provider keys
// (provider_configs), custom providers, datasets and evaluations with their results, API
// tokens (a new token's value shown once) and the audit log. Each is a list and a form over
// one part of the control API, with the API's own messages on the fields it refuses.
import { html, useState } from './vendor/preact-htm.js';
import { api, can, useLoad, Err, FieldErr, fmt, useGateways, GatewaySelect } from './lib.js';

const gwPath = (gw) => `/ai-gateway/gateways/${encodeURIComponent(gw)}`;

// useAction runs an API write, keeping its error (for FieldErr) and a busy flag.
function useAction() {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = async (f) => {
    setBusy(true); setError(null);
    try { await f(); return true; } catch (e) { setError(e); return false; } finally { setBusy(false); }
  };
  return { error, busy, run };
}

// useGatewayChoice is the gateway of the hash, or the first one once the list is in.
function useGatewayChoice(gwFromHash) {
  const gws = useGateways();
  const gw = gwFromHash || (gws.data && gws.data[0] && gws.data[0].id) || '';
  return { gws, gw };
}

const numOrNull = (v) => (v === '' || v == null ? undefined : Number(v));

// ---- provider keys ----

export function ProviderKeys({ who, gw: gwFromHash }) {
  const { gws, gw } = useGatewayChoice(gwFromHash);
  const keys = useLoad(() => (gw ? api('GET', `${gwPath(gw)}/provider_configs?per_page=100`).then((j) => j.result) : Promise.resolve([])), [gw]);
  const blank = { provider_slug: 'openai', alias: '', secret: '', default_config: true, rate_limit: '', rate_limit_period: '' };
  const [f, setF] = useState(blank);
  const act = useAction();
  const editable = gw && can(who, 'edit', gw);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  const create = (e) => {
    e.preventDefault();
    act.run(async () => {
      await api('POST', `${gwPath(gw)}/provider_configs`, { ...f, alias: f.alias.trim() || undefined,
        rate_limit: numOrNull(f.rate_limit), rate_limit_period: numOrNull(f.rate_limit_period) });
      setF(blank); keys.reload();
    });
  };
  const del = (k) => confirm(`Delete the ${k.provider_slug} key ${k.alias}?`) && act.run(async () => {
    await api('DELETE', `${gwPath(gw)}/provider_configs/${encodeURIComponent(k.id)}`); keys.reload();
  });
  return html`<main><h1>Provider keys</h1>
    <p class="muted">Keys stored for a gateway are sent to the provider when a request carries none (BYOK). The secret is sealed
      at rest and never shown again: the list has its last characters only.</p>
    <div class="panel row"><${GatewaySelect} value=${gw} onChange=${(v) => { location.hash = '#/keys/' + encodeURIComponent(v); }} gateways=${gws.data}/></div>
    ${editable && html`<form class="panel" onSubmit=${create} aria-label="store a provider key"><div class="row">
      <label>Provider<input name="provider_slug" value=${f.provider_slug} onInput=${set('provider_slug')} size="14"/><${FieldErr} error=${act.error} name="provider_slug"/></label>
      <label>Alias<input name="alias" value=${f.alias} onInput=${set('alias')} size="12" placeholder="production"/><${FieldErr} error=${act.error} name="alias"/></label>
      <label>Secret<input name="secret" type="password" value=${f.secret} onInput=${set('secret')} autocomplete="off"/><${FieldErr} error=${act.error} name="secret"/></label>
      <label>Rate limit (requests)<input name="rate_limit" inputmode="numeric" value=${f.rate_limit} onInput=${set('rate_limit')} size="6"/><${FieldErr} error=${act.error} name="rate_limit"/></label>
      <label>per (seconds)<input name="rate_limit_period" inputmode="numeric" value=${f.rate_limit_period} onInput=${set('rate_limit_period')} size="6"/><${FieldErr} error=${act.error} name="rate_limit_period"/></label>
      <label class="check"><input type="checkbox" name="default_config" checked=${f.default_config} onChange=${set('default_config')}/> default for this provider<${FieldErr} error=${act.error} name="default_config"/></label>
      <button class="primary" disabled=${act.busy}>Store key</button></div>
      ${act.error && !['provider_slug', 'alias', 'secret', 'rate_limit', 'rate_limit_period', 'default_config'].some((k) => act.error.field?.(k)) && html`<${Err} error=${act.error}/>`}
    </form>`}
    <div class="panel"><${Err} error=${keys.error}/>
      <table aria-label="provider keys"><thead><tr><th>provider</th><th>alias</th><th>secret</th><th>default</th><th>rate limit</th><th>last used</th><th>created</th><th style="width:6rem"></th></tr></thead>
      <tbody>${(keys.data || []).map((k) => html`<tr key=${k.id}>
        <td>${k.provider_slug}</td><td>${k.alias}</td><td><code>${k.secret_preview}</code></td><td>${k.default_config ? 'yes' : ''}</td>
        <td>${k.rate_limit ? `${k.rate_limit} / ${k.rate_limit_period} s` : '–'}</td><td>${fmt.time(k.last_used_at)}</td><td>${fmt.time(k.created_at)}</td>
        <td>${editable && html`<button class="danger" onClick=${() => del(k)}>Delete</button>`}</td></tr>`)}</tbody></table>
      ${keys.data && keys.data.length === 0 && html`<p class="muted">No key stored for this gateway.</p>`}</div>
  </main>`;
}

// ---- custom providers ----

export function CustomProviders({ who }) {
  const list = useLoad(() => api('GET', '/ai-gateway/custom-providers?per_page=100').then((j) => j.result), []);
  const blank = { name: '', slug: '', base_url: 'https://', description: '', enable: true };
  const [f, setF] = useState(blank);
  const act = useAction();
  const editable = can(who, 'edit');
  const set = (k) => (e) => setF({ ...f, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  const create = (e) => { e.preventDefault(); act.run(async () => { await api('POST', '/ai-gateway/custom-providers', f); setF(blank); list.reload(); }); };
  const toggle = (c) => act.run(async () => { await api('PATCH', `/ai-gateway/custom-providers/${encodeURIComponent(c.id)}`, { enable: !c.enable }); list.reload(); });
  const del = (c) => confirm(`Delete custom provider ${c.name}?`) && act.run(async () => {
    await api('DELETE', `/ai-gateway/custom-providers/${encodeURIComponent(c.id)}`); list.reload();
  });
  return html`<main><h1>Custom providers</h1>
    <p class="muted">A custom provider is an HTTPS base URL reached as <code>/v1/${'{account}'}/${'{gateway}'}/custom-${'{slug}'}/…</code> on every gateway of the account.</p>
    ${editable && html`<form class="panel" onSubmit=${create} aria-label="add a custom provider"><div class="row">
      <label>Name<input name="name" value=${f.name} onInput=${set('name')}/><${FieldErr} error=${act.error} name="name"/></label>
      <label>Slug<input name="slug" value=${f.slug} onInput=${set('slug')} size="14" placeholder="my-llm"/><${FieldErr} error=${act.error} name="slug"/></label>
      <label style="flex:1 1 18rem">Base URL<input name="base_url" value=${f.base_url} onInput=${set('base_url')}/><${FieldErr} error=${act.error} name="base_url"/></label>
      <label style="flex:1 1 14rem">Description<input name="description" value=${f.description} onInput=${set('description')}/></label>
      <label class="check"><input type="checkbox" checked=${f.enable} onChange=${set('enable')}/> enabled</label>
      <button class="primary" disabled=${act.busy}>Add provider</button></div></form>`}
    <${Err} error=${list.error || (act.error && !act.error.field?.('name') && !act.error.field?.('slug') && !act.error.field?.('base_url') ? act.error : null)}/>
    <div class="panel"><table aria-label="custom providers"><thead><tr><th>name</th><th>slug</th><th>base URL</th><th>state</th><th>created</th><th style="width:11rem"></th></tr></thead>
      <tbody>${(list.data || []).map((c) => html`<tr key=${c.id}><td>${c.name}</td><td><code>custom-${c.slug}</code></td><td>${c.base_url}</td>
        <td>${c.enable ? 'enabled' : 'disabled'}</td><td>${fmt.time(c.created_at)}</td>
        <td>${editable && html`<button onClick=${() => toggle(c)}>${c.enable ? 'Disable' : 'Enable'}</button> <button class="danger" onClick=${() => del(c)}>Delete</button>`}</td></tr>`)}</tbody></table>
      ${list.data && list.data.length === 0 && html`<p class="muted">No custom provider yet.</p>`}</div>
  </main>`;
}

// ---- API tokens ----

const PERMS = ['run', 'read', 'edit', 'admin'];

export function Tokens({ who }) {
  const list = useLoad(() => api('GET', '/tokens?per_page=100').then((j) => j.result), []);
  const [f, setF] = useState({ name: '', perms: { read: true }, gateways: '' });
  const [fresh, setFresh] = useState(null);
  const act = useAction();
  if (!can(who, 'admin')) return html`<main><h1>API tokens</h1><p class="muted">Managing tokens needs an admin token.</p></main>`;
  const create = (e) => {
    e.preventDefault();
    act.run(async () => {
      const gateways = f.gateways.split(',').map((s) => s.trim()).filter(Boolean);
      const j = await api('POST', '/tokens', { name: f.name.trim(), permissions: PERMS.filter((p) => f.perms[p]), gateways });
      setFresh(j.result); setF({ name: '', perms: { read: true }, gateways: '' }); list.reload();
    });
  };
  const revoke = (t) => confirm(`Revoke token ${t.name}? Whatever uses it stops working at once.`) && act.run(async () => {
    await api('DELETE', `/tokens/${encodeURIComponent(t.id)}`); list.reload();
  });
  return html`<main><h1>API tokens</h1>
    <form class="panel" onSubmit=${create} aria-label="create a token"><div class="row">
      <label>Name<input name="token-name" value=${f.name} onInput=${(e) => setF({ ...f, name: e.target.value })}/><${FieldErr} error=${act.error} name="name"/></label>
      <fieldset class="row perms"><legend>Permissions</legend>${PERMS.map((p) => html`<label class="check"><input type="checkbox" name=${'perm-' + p}
        checked=${!!f.perms[p]} onChange=${(e) => setF({ ...f, perms: { ...f.perms, [p]: e.target.checked } })}/> ${p}</label>`)}
        <${FieldErr} error=${act.error} name="permissions"/></fieldset>
      <label>Gateways (comma-separated; empty: all)<input name="token-gateways" value=${f.gateways} onInput=${(e) => setF({ ...f, gateways: e.target.value })}/><${FieldErr} error=${act.error} name="gateways"/></label>
      <button class="primary" disabled=${act.busy}>Create token</button></div>
      <p class="muted">run: send requests through gateways that require authentication · read: see configuration, logs and analytics ·
        edit: change them · admin: everything, tokens and the audit log included.</p></form>
    ${fresh && html`<div class="panel fresh-token" role="alert"><strong>Token ${fresh.name} created.</strong> Copy its value now: it is not shown again.
      <pre data-token-value>${fresh.value}</pre>
      <div class="row" style="margin-top:.5rem"><button onClick=${() => navigator.clipboard && navigator.clipboard.writeText(fresh.value)}>Copy</button>
        <button onClick=${() => setFresh(null)}>I have copied it</button></div></div>`}
    <${Err} error=${list.error || (act.error && !['name', 'permissions', 'gateways'].some((k) => act.error.field?.(k)) ? act.error : null)}/>
    <div class="panel"><table aria-label="tokens"><thead><tr><th>name</th><th>permissions</th><th>gateways</th><th>hint</th><th>created</th><th style="width:6rem"></th></tr></thead>
      <tbody>${(list.data || []).map((t) => html`<tr key=${t.id}><td>${t.name}</td><td>${t.permissions.join(', ')}</td>
        <td>${t.gateways && t.gateways.length ? t.gateways.join(', ') : 'all'}</td><td><code>${t.hint}</code></td><td>${fmt.time(t.created_at)}</td>
        <td><button class="danger" onClick=${() => revoke(t)}>Revoke</button></td></tr>`)}</tbody></table>
      ${list.data && list.data.length === 0 && html`<p class="muted">No API token yet; the bootstrap admin token is in the data directory.</p>`}</div>
  </main>`;
}

// ---- datasets and evaluations ----

const FILTER_KEYS = ['provider', 'model', 'success', 'cached', 'feedback', 'cost', 'tokens', 'tokens_in', 'tokens_out', 'duration', 'created_at',
  'request_content_type', 'response_content_type'];

// filterValue reads a typed value as the filter key wants it (booleans and numbers as JSON).
function filterValue(key, text) {
  if (['success', 'cached'].includes(key)) return text === 'true';
  if (['feedback', 'cost', 'tokens', 'tokens_in', 'tokens_out', 'duration'].includes(key)) return Number(text);
  return text;
}

function resultRows(result) {
  try { return Object.entries(JSON.parse(result)); } catch { return [['result', result]]; }
}

export function Evaluations({ who, gw: gwFromHash }) {
  const { gws, gw } = useGatewayChoice(gwFromHash);
  const datasets = useLoad(() => (gw ? api('GET', `${gwPath(gw)}/datasets?per_page=100`).then((j) => j.result) : Promise.resolve([])), [gw]);
  const evals = useLoad(() => (gw ? api('GET', `${gwPath(gw)}/evaluations?per_page=100`).then((j) => j.result) : Promise.resolve([])), [gw]);
  const types = useLoad(() => api('GET', '/ai-gateway/evaluation-types?per_page=50').then((j) => j.result), []);
  const [ds, setDs] = useState({ name: '', key: 'model', operator: 'eq', value: '' });
  const [ev, setEv] = useState({ name: '', datasets: {}, types: { cost: true, speed: true } });
  const dsAct = useAction(), evAct = useAction();
  const editable = gw && can(who, 'edit', gw);
  const createDataset = (e) => {
    e.preventDefault();
    dsAct.run(async () => {
      const filters = ds.value.trim() === '' ? [] : [{ key: ds.key, operator: ds.operator, value: [filterValue(ds.key, ds.value.trim())] }];
      await api('POST', `${gwPath(gw)}/datasets`, { name: ds.name.trim(), enable: true, filters });
      setDs({ ...ds, name: '', value: '' }); datasets.reload();
    });
  };
  const createEval = (e) => {
    e.preventDefault();
    evAct.run(async () => {
      await api('POST', `${gwPath(gw)}/evaluations`, { name: ev.name.trim(),
        dataset_ids: (datasets.data || []).map((d) => d.id).filter((k) => ev.datasets[k]), evaluation_type_ids: Object.keys(ev.types).filter((k) => ev.types[k]) });
      setEv({ ...ev, name: '' }); evals.reload();
    });
  };
  const del = (kind, x) => confirm(`Delete ${kind} ${x.name}?`) && evAct.run(async () => {
    await api('DELETE', `${gwPath(gw)}/${kind === 'dataset' ? 'datasets' : 'evaluations'}/${encodeURIComponent(x.id)}`);
    datasets.reload(); evals.reload();
  });
  const filterText = (f) => `${f.key} ${f.operator} ${f.value.map((v) => JSON.stringify(v)).join(' or ')}`;
  return html`<main><h1>Datasets and evaluations</h1>
    <div class="panel row"><${GatewaySelect} value=${gw} onChange=${(v) => { location.hash = '#/evaluations/' + encodeURIComponent(v); }} gateways=${gws.data}/></div>
    <div class="split">
      <div class="panel"><h2 style="margin-top:0">Datasets</h2>
        <p class="muted">A dataset is a saved filter over this gateway's logs.</p>
        ${editable && html`<form onSubmit=${createDataset} aria-label="create a dataset"><div class="row">
          <label>Name<input name="dataset-name" value=${ds.name} onInput=${(e) => setDs({ ...ds, name: e.target.value })}/><${FieldErr} error=${dsAct.error} name="name"/></label>
          <label>Filter<select name="dataset-key" value=${ds.key} onChange=${(e) => setDs({ ...ds, key: e.target.value })}>${FILTER_KEYS.map((k) => html`<option value=${k}>${k}</option>`)}</select></label>
          <label>Operator<select name="dataset-operator" value=${ds.operator} onChange=${(e) => setDs({ ...ds, operator: e.target.value })}>
            ${['eq', 'contains', 'lt', 'gt'].map((k) => html`<option value=${k}>${k}</option>`)}</select></label>
          <label>Value (empty: every log)<input name="dataset-value" value=${ds.value} onInput=${(e) => setDs({ ...ds, value: e.target.value })} size="12"/></label>
          <button class="primary" disabled=${dsAct.busy}>Create dataset</button></div>
          ${dsAct.error && html`<${Err} error=${dsAct.error}/>`}</form>`}
        <table aria-label="datasets"><thead><tr><th>name</th><th>filters</th><th style="width:6rem"></th></tr></thead>
        <tbody>${(datasets.data || []).map((d) => html`<tr key=${d.id}><td>${d.name}</td><td>${d.filters.length ? d.filters.map(filterText).join(' and ') : 'every log'}</td>
          <td>${editable && html`<button class="danger" onClick=${() => del('dataset', d)}>Delete</button>`}</td></tr>`)}</tbody></table>
        <${Err} error=${datasets.error}/>
      </div>
      <div class="panel"><h2 style="margin-top:0">New evaluation</h2>
        ${editable ? html`<form onSubmit=${createEval} aria-label="run an evaluation">
          <label>Name<input name="evaluation-name" value=${ev.name} onInput=${(e) => setEv({ ...ev, name: e.target.value })}/><${FieldErr} error=${evAct.error} name="name"/></label>
          <fieldset class="row"><legend>Datasets</legend>${(datasets.data || []).map((d) => html`<label class="check"><input type="checkbox" name=${'evaluation-dataset-' + d.name}
            checked=${!!ev.datasets[d.id]} onChange=${(e) => setEv({ ...ev, datasets: { ...ev.datasets, [d.id]: e.target.checked } })}/> ${d.name}</label>`)}</fieldset>
          <fieldset class="row"><legend>Evaluators</legend>${(types.data || []).map((t) => html`<label class="check"><input type="checkbox"
            checked=${!!ev.types[t.id]} onChange=${(e) => setEv({ ...ev, types: { ...ev.types, [t.id]: e.target.checked } })}/> ${t.name}${t.mandatory ? ' (always)' : ''}</label>`)}</fieldset>
          <button class="primary" disabled=${evAct.busy} style="margin-top:.6rem">Run evaluation</button>
          <${Err} error=${evAct.error}/></form>` : html`<p class="muted">This token may read evaluations but not run them.</p>`}
      </div>
    </div>
    <div class="panel"><h2 style="margin-top:0">Evaluations</h2><${Err} error=${evals.error}/>
      ${(evals.data || []).map((x) => html`<section class="evaluation" key=${x.id} aria-label=${'evaluation ' + x.name}>
        <div class="row" style="justify-content:space-between"><h3 style="margin:.2rem 0">${x.name}</h3>
          <span class="muted">${x.processed ? `${fmt.num(x.total_logs)} logs` : 'running…'} · ${x.datasets.map((d) => d.name).join(', ')} · ${fmt.time(x.created_at)}
            ${editable && html` <button class="danger" onClick=${() => del('evaluation', x)}>Delete</button>`}</span></div>
        <div class="cards results">${x.results.map((r) => html`<div class="card" data-result=${r.evaluation_type_id}><div class="k">${r.name} · ${r.status_description}</div>
          <dl class="kv">${resultRows(r.result).map(([k, v]) => html`<dt>${k}</dt><dd>${k.includes('usd') ? fmt.usd(v) : k.includes('share') ? fmt.pct(v) : k.endsWith('_ms') ? fmt.ms(v) : fmt.num(v)}</dd>`)}</dl></div>`)}</div>
      </section>`)}
      ${evals.data && evals.data.length === 0 && html`<p class="muted">No evaluation yet.</p>`}
      ${evals.data && evals.data.some((x) => !x.processed) && html`<button onClick=${evals.reload}>Refresh</button>`}</div>
  </main>`;
}

// ---- audit log ----

export function AuditLog({ who }) {
  const [type, setType] = useState('');
  const [page, setPage] = useState(1);
  const [open, setOpen] = useState('');
  const list = useLoad(() => {
    const q = new URLSearchParams({ page: String(page), per_page: '50' });
    if (type) q.set('resource.type', type);
    return api('GET', '/audit_logs?' + q);
  }, [type, page]);
  if (!can(who, 'admin')) return html`<main><h1>Audit log</h1><p class="muted">The audit log needs an admin token.</p></main>`;
  const rows = list.data ? list.data.result : [];
  const info = list.data && list.data.result_info;
  return html`<main><h1>Audit log</h1>
    <div class="panel row" role="search"><label>Resource<select value=${type} onChange=${(e) => { setPage(1); setType(e.target.value); }} aria-label="resource type">
      ${['', 'gateway', 'provider_config', 'custom_provider', 'token', 'route', 'route_version', 'route_deployment', 'dataset', 'evaluation', 'dlp_profile']
        .map((t) => html`<option value=${t}>${t || 'every resource'}</option>`)}</select></label></div>
    <${Err} error=${list.error}/>
    <div class="panel"><table aria-label="audit log"><thead><tr><th style="width:13rem">when</th><th>action</th><th>resource</th><th>id</th><th>by</th><th>through</th></tr></thead>
      <tbody>${rows.map((a) => html`<tr key=${a.id} tabindex="0" aria-expanded=${open === a.id}
          onClick=${() => setOpen(open === a.id ? '' : a.id)} onKeyDown=${(e) => e.key === 'Enter' && setOpen(open === a.id ? '' : a.id)}>
        <td>${fmt.time(a.when)}</td><td class=${a.action.result ? '' : 'bad'}>${a.action.type}</td><td>${a.resource.type}</td><td><code>${a.resource.id}</code></td>
        <td>${a.actor.type === 'token' ? 'token ' + a.actor.id : a.actor.type}</td><td>${a.interface}</td></tr>`)}</tbody></table>
      ${rows.filter((a) => a.id === open).map((a) => html`<div class="compare" style="margin-top:.8rem" aria-label="change">
        <div><h3>Before</h3><pre>${JSON.stringify(a.oldValueJson, null, 2)}</pre></div>
        <div><h3>After</h3><pre>${JSON.stringify(a.newValueJson, null, 2)}</pre></div></div>`)}
      ${info && html`<div class="row" style="margin-top:.6rem"><button onClick=${() => setPage(page - 1)} disabled=${page <= 1}>Newer</button>
        <span class="muted">page ${page} · ${fmt.num(info.total_count)} changes</span>
        <button onClick=${() => setPage(page + 1)} disabled=${page * 50 >= info.total_count}>Older</button></div>`}</div>
  </main>`;
}
