// lib.js holds what every screen shares: the session (account and token), calls to the
// control API with its errors, the permission rule, hash routing, loading state, error and
// number display, and the gateway picker.
import { html, useState, useEffect } from './vendor/preact-htm.js';

// ---- session and API ----

export const session = {
  get acct() { return sessionStorage.getItem('sy.acct') || ''; },
  get token() { return sessionStorage.getItem('sy.token') || ''; },
  set(acct, token) { sessionStorage.setItem('sy.acct', acct); sessionStorage.setItem('sy.token', token); },
  clear() { sessionStorage.removeItem('sy.acct'); sessionStorage.removeItem('sy.token'); },
};

export class APIError extends Error {
  constructor(status, errors) {
    super(errors.map((e) => e.message).join('; ') || `HTTP ${status}`);
    this.status = status;
    this.errors = errors;
  }
  // field is the message of the error about name (path body.<name> or query.<name>, or below it).
  field(name) {
    const e = this.errors.find((x) => {
      const at = x.path && x.path.length > 1 ? x.path.slice(1).join('.') : '';
      return at === name || at.startsWith(name + '.');
    });
    return e ? e.message : '';
  }
}

// api calls the control API of the signed-in account; path starts after accounts/{id}.
export async function api(method, path, body) {
  const headers = { Authorization: 'Bearer ' + session.token };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(`/client/v4/accounts/${encodeURIComponent(session.acct)}${path}`,
    { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let j;
  try { j = await r.json(); } catch { j = { success: false, errors: [{ code: 0, message: `HTTP ${r.status}` }] }; }
  if (!r.ok || j.success === false) throw new APIError(r.status, j.errors || []);
  return j;
}

// apiText reads a raw body of the control API (a log's request or response).
export async function apiText(path) {
  const r = await fetch(`/client/v4/accounts/${encodeURIComponent(session.acct)}${path}`,
    { headers: { Authorization: 'Bearer ' + session.token } });
  const t = await r.text();
  if (!r.ok) throw new APIError(r.status, [{ message: t }]);
  return t;
}

// can: the token holds perm (admin holds every permission, edit holds read; run is its own),
// on gateway gw when given. The same rule as storage/config's Token.Has.
export function can(who, perm, gw) {
  if (!who || !who.permissions.some((q) => q === perm || q === 'admin' || (perm === 'read' && q === 'edit'))) return false;
  return !gw || !who.gateways || who.gateways.length === 0 || who.gateways.includes(gw);
}

// ---- small pieces ----

export function useHash() {
  const [hash, setHash] = useState(location.hash || '#/gateways');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/gateways');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

// useLoad runs load when deps change and keeps {data, error, loading, reload}.
export function useLoad(load, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then((data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: null, error, loading: false }));
    return () => { live = false; };
  }, [...deps, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}

export const Err = ({ error }) => error ? html`<p class="error" role="alert">${error.message}</p>` : null;
export const FieldErr = ({ error, name }) => {
  const m = error instanceof APIError ? error.field(name) : '';
  return m ? html`<span class="field-error" role="alert">${m}</span>` : null;
};

export const fmt = {
  num: (v) => v == null ? '–' : Number(v).toLocaleString(),
  usd: (v) => v == null ? '–' : '$' + Number(v).toFixed(Number(v) < 0.01 ? 6 : 4),
  ms: (v) => v == null ? '–' : `${Number(v).toFixed(v < 10 ? 1 : 0)} ms`,
  pct: (v) => v == null ? '–' : `${(Number(v) * 100).toFixed(1)} %`,
  time: (v) => v ? new Date(v).toLocaleString() : '–',
};

export function useGateways() {
  return useLoad(() => api('GET', '/ai-gateway/gateways?per_page=100').then((j) => j.result), []);
}

export function GatewaySelect({ value, onChange, gateways, all }) {
  return html`<label>Gateway
    <select value=${value} onChange=${(e) => onChange(e.target.value)} aria-label="gateway">
      ${all && html`<option value="">all gateways</option>`}
      ${(gateways || []).map((g) => html`<option value=${g.id}>${g.id}</option>`)}
    </select></label>`;
}

