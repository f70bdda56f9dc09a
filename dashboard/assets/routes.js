// routes.js is the dynamic-route screen: a gateway's routes, and an editor that draws a
// route's graph (laid out by dagre) next to its JSON, validates the JSON as it is typed
// (POST routes/validate, the control API's own check) with each problem shown on its
// element, saves versions, shows two versions side by side, and deploys or rolls back.
import { html, useState, useEffect, useRef } from './vendor/preact-htm.js';
import dagre from './vendor/dagre.esm.js';
import { api, can, useLoad, Err, fmt, useGateways, GatewaySelect } from './lib.js';

const routesPath = (gw) => `/ai-gateway/gateways/${encodeURIComponent(gw)}/routes`;

// A new route starts as the smallest valid graph: start → one model → end.
const STARTER = [
  { id: 'start', type: 'start', outputs: { next: { elementId: 'model' } } },
  { id: 'model', type: 'model', properties: { provider: 'openai', model: 'gpt-4o-mini', timeout: 60000, retries: 0 },
    outputs: { success: { elementId: 'end' } } },
  { id: 'end', type: 'end' },
];
const pretty = (elements) => JSON.stringify(elements, null, 2);

// ---- the graph ----

const NODE_W = 190, NODE_H = 54;
const clip = (s, n) => (s.length > n ? s.slice(0, n - 1) + '…' : s);

// summary is the second line of a node: what the element does, in a few words.
function summary(el) {
  const p = el.properties || {};
  switch (el.type) {
    case 'model': return `${p.provider ?? '?'}/${p.model ?? '?'}${p.retries ? ` · ${p.retries} retries` : ''}`;
    case 'conditional': return p.condition ? JSON.stringify(p.condition) : 'no condition';
    case 'rate_limit': case 'rate':
      return `${p.limit ?? '?'} ${p.limitType === 'cost' ? 'USD' : 'req'} / ${p.interval ?? '?'} s by ${p.key ?? '?'}`;
    default: return '';
  }
}

// layout places the elements' nodes and their outputs' edges; an output naming an element
// that is not there leads to a dashed "missing" node, so the mistake is visible.
function layout(elements) {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 70, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  const els = elements.filter((e) => e && typeof e === 'object' && typeof e.id === 'string');
  const ids = new Set();
  for (const e of els) {
    if (ids.has(e.id)) continue;
    ids.add(e.id);
    g.setNode(e.id, { width: NODE_W, height: NODE_H, el: e });
  }
  for (const e of els) {
    for (const [name, out] of Object.entries(e.outputs && typeof e.outputs === 'object' ? e.outputs : {})) {
      const to = out && typeof out.elementId === 'string' ? out.elementId : '';
      if (!ids.has(to) && !g.hasNode('missing:' + to)) g.setNode('missing:' + to, { width: NODE_W, height: NODE_H, missing: to });
      g.setEdge(e.id, ids.has(to) ? to : 'missing:' + to, { label: name, width: 8 * name.length + 10, height: 16, labelpos: 'c' }, name);
    }
  }
  dagre.layout(g);
  return g;
}

// RouteGraph draws elements as a graph. problems (by element id) mark their nodes; a node is
// a button: choosing it (click, or Enter / Space on key up, as native buttons do for Space, so
// the key's character never lands where onPick moves the focus) calls onPick(id).
export function RouteGraph({ elements, problems, onPick, label }) {
  const g = layout(elements || []);
  const { width = 0, height = 0 } = g.graph();
  const marker = useRef('arrow-' + Math.random().toString(36).slice(2)).current;
  return html`<svg class="route-graph" viewBox=${`0 0 ${Math.max(width, 200)} ${Math.max(height, 60)}`}
      role="group" aria-label=${label || 'route graph'} style=${`max-width:${Math.max(width, 200) * 1.4}px`}>
    <defs><marker id=${marker} viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
      <path d="M0,0 L10,5 L0,10 z" class="arrow"/></marker></defs>
    ${g.edges().map((e) => {
      const d = g.edge(e);
      return html`<g class="edge" key=${e.v + '>' + e.name}>
        <path d=${'M' + d.points.map((p) => `${p.x},${p.y}`).join(' L')} marker-end=${`url(#${marker})`}/>
        <text x=${d.x} y=${d.y + 4} text-anchor="middle">${e.name}</text></g>`;
    })}
    ${g.nodes().map((id) => {
      const n = g.node(id);
      const x = n.x - NODE_W / 2, y = n.y - NODE_H / 2;
      if (n.missing !== undefined) {
        return html`<g class="node missing" key=${id} data-element="">
          <rect x=${x} y=${y} width=${NODE_W} height=${NODE_H} rx="8"/>
          <text x=${n.x} y=${n.y - 4} text-anchor="middle">${clip(n.missing || '(no elementId)', 24)}</text>
          <text x=${n.x} y=${n.y + 14} text-anchor="middle" class="sub">no such element</text></g>`;
      }
      const ps = (problems && problems[id]) || [];
      const type = n.el.type === 'rate' ? 'rate_limit' : n.el.type;
      return html`<g class=${`node kind-${type}${ps.length ? ' has-problem' : ''}`} key=${id} data-element=${id}
          tabindex="0" role="button" aria-label=${`element ${id} (${n.el.type})${ps.length ? ': ' + ps.join('; ') : ''}`}
          onClick=${() => onPick && onPick(id)} onKeyDown=${(ev) => (ev.key === 'Enter' || ev.key === ' ') && ev.preventDefault()}
          onKeyUp=${(ev) => (ev.key === 'Enter' || ev.key === ' ') && onPick && onPick(id)}>
        <title>${[`${id} (${n.el.type})`, ...ps].join('\n')}</title>
        <rect x=${x} y=${y} width=${NODE_W} height=${NODE_H} rx="8"/>
        <text x=${x + 10} y=${y + 20} class="id">${clip(id, 18)}</text>
        <text x=${x + NODE_W - 10} y=${y + 20} text-anchor="end" class="type">${n.el.type}</text>
        <text x=${x + 10} y=${y + 40} class="sub">${clip(summary(n.el), 28)}</text>
        ${ps.length > 0 && html`<g class="badge"><circle cx=${x + NODE_W - 4} cy=${y + 4} r="9"/>
          <text x=${x + NODE_W - 4} y=${y + 8} text-anchor="middle">${ps.length}</text></g>`}
      </g>`;
    })}
  </svg>`;
}

// ---- validation as you type ----

// useCheck parses text and asks the control API whether the graph is valid, 300 ms after
// the last keystroke. It keeps the last elements that parsed, so the graph stays drawn
// while the JSON is half-typed.
function useCheck(gw, text) {
  const [state, setState] = useState({ elements: [], problems: [], valid: null, checking: false });
  useEffect(() => {
    if (text === null) return undefined; // the route is still loading
    let elements;
    try {
      elements = JSON.parse(text);
      if (!Array.isArray(elements)) throw new Error('the elements must be a JSON array […]');
    } catch (e) {
      setState((s) => ({ ...s, problems: [{ element_id: '', element_index: -1, message: 'not valid JSON: ' + e.message }], valid: false, checking: false }));
      return undefined;
    }
    setState((s) => ({ ...s, elements, checking: true }));
    let live = true;
    const t = setTimeout(() => {
      api('POST', routesPath(gw) + '/validate', { elements }).then(
        (j) => live && setState({ elements, problems: j.result.problems, valid: j.result.is_valid, checking: false }),
        (e) => live && setState({ elements, problems: [{ element_id: '', element_index: -1, message: e.message }], valid: false, checking: false }));
    }, 300);
    return () => { live = false; clearTimeout(t); };
  }, [gw, text]);
  const byElement = {};
  for (const p of state.problems) if (p.element_id) (byElement[p.element_id] ||= []).push(p.message);
  return { ...state, byElement };
}

// selectElement puts the cursor on element id's "id" in the JSON textarea and scrolls to it.
function selectElement(area, text, id) {
  if (!area) return;
  const m = new RegExp(`"id"\\s*:\\s*${JSON.stringify(id).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`).exec(text);
  if (!m) return;
  area.focus();
  area.setSelectionRange(m.index, m.index + m[0].length);
  const line = text.slice(0, m.index).split('\n').length - 1;
  area.scrollTop = Math.max(0, line * 18 - area.clientHeight / 3);
}

// ---- versions side by side ----

const versionElements = (v) => { try { return JSON.parse(v.data).elements || []; } catch { return []; } };

function Compare({ versions }) {
  const [a, setA] = useState('');
  const [b, setB] = useState('');
  useEffect(() => {
    if (!versions || versions.length === 0) return;
    // The newest version and the one before it (versions are listed newest first).
    setA(versions[Math.min(1, versions.length - 1)].version_id);
    setB(versions[0].version_id);
  }, [versions && versions.map((v) => v.version_id).join()]);
  if (!versions || versions.length < 2) return html`<p class="muted">Save a second version to compare two side by side.</p>`;
  const pick = (id) => versions.find((v) => v.version_id === id);
  const va = pick(a), vb = pick(b);
  const la = va ? pretty(versionElements(va)).split('\n') : [], lb = vb ? pretty(versionElements(vb)).split('\n') : [];
  const sa = new Set(la), sb = new Set(lb);
  const side = (v, lines, other, set) => html`<div class="compare-side">
    <label>Version<select value=${v ? v.version_id : ''} onChange=${(e) => set(e.target.value)}>
      ${versions.map((x) => html`<option value=${x.version_id}>${x.version_id.slice(0, 8)} · ${fmt.time(x.created_at)}${x.active === 'true' ? ' · deployed' : ''}${x.is_valid ? '' : ' · draft'}</option>`)}
    </select></label>
    ${v && html`<${RouteGraph} elements=${versionElements(v)} label=${'version ' + v.version_id}/>
      <div class="json-diff" role="region" aria-label="JSON">${lines.map((l) => html`<div class=${other.has(l) ? '' : 'changed'}>${l}</div>`)}</div>`}
  </div>`;
  return html`<div class="compare" aria-label="versions side by side">${side(va, la, sb, setA)}${side(vb, lb, sa, setB)}</div>`;
}

// ---- the editor ----

function RouteEditor({ who, gw, id }) {
  const isNew = id === 'new';
  const route = useLoad(() => (isNew ? Promise.resolve(null) : api('GET', `${routesPath(gw)}/${encodeURIComponent(id)}`).then((j) => j.result)), [gw, id]);
  const versions = useLoad(() => (isNew ? Promise.resolve([]) : api('GET', `${routesPath(gw)}/${encodeURIComponent(id)}/versions?per_page=50`).then((j) => j.result)), [gw, id]);
  const [name, setName] = useState('');
  const [text, setText] = useState(isNew ? pretty(STARTER) : null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [busy, setBusy] = useState(false);
  const area = useRef(null);
  useEffect(() => { if (route.data) setText(pretty(route.data.elements || [])); }, [route.data && route.data.id]);
  const check = useCheck(gw, text);
  const editable = can(who, 'edit', gw);
  const base = `${routesPath(gw)}/${encodeURIComponent(id)}`;
  const run = async (f) => {
    setBusy(true); setError(null); setNotice(null);
    try { await f(); } catch (e) { setError(e); } finally { setBusy(false); }
  };
  const create = () => run(async () => {
    const j = await api('POST', routesPath(gw), { name: name.trim(), elements: JSON.parse(text) });
    location.hash = `#/routes/${encodeURIComponent(gw)}/${encodeURIComponent(j.result.id)}`;
  });
  const save = (deploy) => run(async () => {
    const j = await api('POST', base + '/versions', { elements: JSON.parse(text) });
    const v = j.result.version;
    if (deploy && v.is_valid) {
      await api('POST', base + '/deployments', { version_id: v.version_id });
      setNotice(`Version ${v.version_id} saved and deployed: the next request walks it.`);
    } else {
      setNotice(v.is_valid ? `Version ${v.version_id} saved (not deployed).`
        : `Version ${v.version_id} saved as a draft: it cannot be deployed until its problems are fixed.`);
    }
    versions.reload(); route.reload();
  });
  const deploy = (v) => run(async () => {
    await api('POST', base + '/deployments', { version_id: v.version_id });
    setNotice(`Version ${v.version_id} deployed.`);
    versions.reload(); route.reload();
  });
  const del = () => run(async () => {
    if (!confirm(`Delete route ${route.data.name} and all its versions?`)) return;
    await api('DELETE', base);
    location.hash = `#/routes/${encodeURIComponent(gw)}`;
  });
  if (route.error) return html`<main><h1>Route</h1><${Err} error=${route.error}/></main>`;
  if (!isNew && !route.data) return html`<main><h1>Route</h1><p class="muted">Loading…</p></main>`;
  const r = route.data;
  const whole = check.problems.filter((p) => !p.element_id || p.element_index < 0);
  return html`<main><h1>${isNew ? 'New route' : `Route ${r.name}`} <span class="muted">on ${gw}</span></h1>
    <p class="muted">${isNew ? 'A route is used as ' : 'Used as '}<code>"model": "dynamic/${isNew ? (name || '<name>') : r.name}"</code>${' on '}<code>/compat/chat/completions</code>. <a href=${'#/routes/' + encodeURIComponent(gw)}>All routes of ${gw}</a></p>
    ${isNew && html`<div class="panel row"><label>Route name<input name="route-name" value=${name} onInput=${(e) => setName(e.target.value)} placeholder="support"/></label></div>`}
    <div class="editor">
      <div class="panel graph-box">
        <h2 style="margin-top:0">Graph <span class=${'pill ' + (check.checking ? '' : check.valid ? 'ok' : 'bad')} data-valid=${check.checking ? '' : String(check.valid)} role="status">
          ${check.checking ? 'checking…' : check.valid ? 'valid' : `${check.problems.length} problem${check.problems.length === 1 ? '' : 's'}`}</span></h2>
        <${RouteGraph} elements=${check.elements} problems=${check.byElement} onPick=${(el) => selectElement(area.current, text, el)}/>
        ${check.problems.length > 0 && html`<ul class="problems" aria-label="problems">${check.problems.map((p) => html`<li>
          ${p.element_id && p.element_index >= 0
            ? html`<button class="link" onClick=${() => selectElement(area.current, text, p.element_id)}>${p.message}</button>` : p.message}</li>`)}</ul>`}
        ${whole.length === 0 && check.problems.length > 0 && html`<p class="muted">Choose a problem or a node to find its element in the JSON.</p>`}
      </div>
      <div class="panel">
        <label>Elements (JSON)<textarea ref=${area} name="elements" class="elements" rows="26" spellcheck=${false} value=${text ?? ''}
          readOnly=${!editable} onInput=${(e) => setText(e.target.value)}></textarea></label>
        ${editable && html`<div class="row" style="margin-top:.6rem">
          ${isNew ? html`<button class="primary" onClick=${create} disabled=${busy || !name.trim()}>Create and deploy</button>`
            : html`<button class="primary" onClick=${() => save(true)} disabled=${busy || !check.valid}>Save and deploy</button>
              <button onClick=${() => save(false)} disabled=${busy}>Save as a new version</button>
              <button class="danger" onClick=${del} disabled=${busy}>Delete route</button>`}</div>`}
        ${!editable && html`<p class="muted">This token may read this route but not change it.</p>`}
        <${Err} error=${error}/>
        ${notice && html`<p class="ok" role="status">${notice}</p>`}
      </div>
    </div>
    ${!isNew && html`<div class="panel"><h2 style="margin-top:0">Versions</h2><${Err} error=${versions.error}/>
      <table aria-label="versions"><thead><tr><th>version</th><th>created</th><th>state</th><th style="width:16rem"></th></tr></thead>
      <tbody>${(versions.data || []).map((v) => html`<tr key=${v.version_id} data-version=${v.version_id}>
        <td><code>${v.version_id}</code></td><td>${fmt.time(v.created_at)}</td>
        <td>${v.active === 'true' ? html`<span class="pill ok">deployed</span>` : v.is_valid ? 'valid' : html`<span class="pill bad">draft</span>`}</td>
        <td><button onClick=${() => setText(pretty(versionElements(v)))}>Open in editor</button>
          ${editable && v.active !== 'true' && v.is_valid && html` <button onClick=${() => deploy(v)} disabled=${busy}>
            ${r.version && Date.parse(v.created_at) < Date.parse(r.version.created_at) ? 'Roll back to this' : 'Deploy'}</button>`}</td></tr>`)}</tbody></table>
      <h2>Side by side</h2><${Compare} versions=${versions.data}/></div>`}
  </main>`;
}

// ---- the list ----

export function Routes({ who, gw: initialGw, id }) {
  const gws = useGateways();
  const gw = initialGw || (gws.data && gws.data[0] && gws.data[0].id) || '';
  const list = useLoad(() => (gw ? api('GET', routesPath(gw) + '?per_page=100&order_by=name&order_by_direction=asc').then((j) => j.result) : Promise.resolve([])), [gw]);
  if (gw && id) return html`<${RouteEditor} who=${who} gw=${gw} id=${id} key=${gw + '/' + id}/>`;
  return html`<main><h1>Dynamic routes</h1>
    <div class="panel row">
      <${GatewaySelect} value=${gw} onChange=${(v) => { location.hash = '#/routes/' + encodeURIComponent(v); }} gateways=${gws.data}/>
      ${gw && can(who, 'edit', gw) && html`<a class="button primary" href=${`#/routes/${encodeURIComponent(gw)}/new`}>New route</a>`}
    </div>
    <div class="panel"><${Err} error=${list.error || gws.error}/>
      <table aria-label="routes"><thead><tr><th>name</th><th>model</th><th>deployed version</th><th>modified</th></tr></thead>
      <tbody>${(list.data || []).map((r) => html`<tr key=${r.id} onClick=${() => { location.hash = `#/routes/${encodeURIComponent(gw)}/${encodeURIComponent(r.id)}`; }}>
        <td><a href=${`#/routes/${encodeURIComponent(gw)}/${encodeURIComponent(r.id)}`}>${r.name}</a></td>
        <td><code>dynamic/${r.name}</code></td><td>${r.version ? html`<code>${r.version.version_id.slice(0, 8)}</code> · ${fmt.time(r.deployment.created_at)}` : '–'}</td>
        <td>${fmt.time(r.modified_at)}</td></tr>`)}</tbody></table>
      ${list.data && list.data.length === 0 && html`<p class="muted">No route on this gateway yet.</p>`}</div>
  </main>`;
}
