// realtime.go maps a realtime WebSocket session — an upgrade on
// /v1/{account_id}/{gateway_id}/{provider}[/{path}]?{query} — onto the provider's own
// WebSocket URL: the base URL in force (SWITCHYARD_UPSTREAM_* overrides included) with
// http→ws / https→wss, the provider's realtime path, and the query (reshaped where the
// provider wants it). It also says where a client may carry its own provider key (query
// parameters, Sec-WebSocket-Protocol entries), so the gateway knows when to add a stored key.
package providers

import (
	"errors"
	"net/url"
	"sort"
	"strings"
)

// ErrNoRealtime is returned for a provider without a realtime WebSocket API.
var ErrNoRealtime = errors.New("provider has no realtime WebSocket API")

// RealtimeTarget is where a realtime session goes.
type RealtimeTarget struct {
	URL   string // ws:// or wss:// URL, query included
	Model string // model named by the path or query, if any
	// KeyInQuery reports that the query carries the client's own provider key.
	KeyInQuery bool
}

// realtimeAPI describes one provider's realtime WebSocket endpoint.
type realtimeAPI struct {
	// route maps the path after the slug and the query onto the upstream path and query,
	// and names the model.
	route func(rest string, q query) (path string, out query, model string, err error)
	// host replaces the base URL when no SWITCHYARD_UPSTREAM_* override is set (fal serves
	// its WebSockets on ws.fal.run, not on fal.run).
	host string
	// queryKeys are query parameters that carry a provider key.
	queryKeys []string
	// keyProtocols are Sec-WebSocket-Protocol entries that carry a provider key: an exact
	// entry, or a prefix when it ends with ".".
	keyProtocols []string
}

// realtimeAPIs is keyed by provider slug. Custom providers (custom-{slug}) get the
// path appended to their base URL (see realtimeAPIFor).
var realtimeAPIs = map[string]*realtimeAPI{
	// /openai?model=gpt-4o-realtime-preview → {base}/realtime?model=…
	"openai": {route: defaultPath("/realtime"), keyProtocols: []string{"openai-insecure-api-key."}},
	// /google?api_key=… → {base}/ws/…BidiGenerateContent?key=… (the Live API)
	"google-ai-studio": {route: googleLive, queryKeys: []string{"key", "access_token"}},
	// /cartesia?cartesia_version=…&api_key=… → {base}/tts/websocket?…
	"cartesia": {route: defaultPath("/tts/websocket"), queryKeys: []string{"api_key", "access_token"}},
	// /elevenlabs?agent_id=… → {base}/v1/convai/conversation?agent_id=… (a signed URL's
	// conversation_signature is a credential of its own)
	"elevenlabs": {route: defaultPath("/v1/convai/conversation"), queryKeys: []string{"conversation_signature"}},
	// /fal/fal-ai/fast-lcm-diffusion → wss://ws.fal.run/fal-ai/fast-lcm-diffusion
	"fal": {route: falApp, host: "https://ws.fal.run", queryKeys: []string{"fal_jwt_token"}},
	// /workers-ai?model=@cf/deepgram/nova-3&… or /workers-ai/@cf/deepgram/nova-3?…
	// → {base}/run/@cf/deepgram/nova-3?… (base names the account)
	"workers-ai": {route: workersAIRun},
	// /deepgram/v1/listen?model=nova-3 → {base}/v1/listen?model=nova-3 (browsers send the
	// key as the subprotocols "token", "<key>" or "bearer", "<token>")
	"deepgram": {route: defaultPath("/v1/listen"), keyProtocols: []string{"token", "bearer"}},
}

// realtimeAliases are other slugs the realtime API answers to, as in the reference's examples.
var realtimeAliases = map[string]string{"google": "google-ai-studio"}

// RealtimeSlug is the provider slug a realtime URL segment stands for ("google" is
// google-ai-studio); other slugs are returned as they are.
func RealtimeSlug(slug string) string {
	if s, ok := realtimeAliases[slug]; ok {
		return s
	}
	return slug
}

// RealtimeSlugs lists the providers with a realtime API, sorted, for error messages.
func RealtimeSlugs() []string {
	out := make([]string, 0, len(realtimeAPIs)+len(realtimeAliases))
	for s := range realtimeAPIs {
		out = append(out, s)
	}
	for s := range realtimeAliases {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// customRealtime is the realtime API of a custom provider: the path after the slug is
// appended to its base URL and the query kept.
var customRealtime = &realtimeAPI{route: func(rest string, q query) (string, query, string, error) {
	m, _ := q.get("model")
	return rest, q, m, nil
}}

func realtimeAPIFor(slug string) *realtimeAPI {
	if a, ok := realtimeAPIs[slug]; ok {
		return a
	}
	if strings.HasPrefix(slug, "custom-") {
		return customRealtime
	}
	return nil
}

// RealtimeURL builds the provider's WebSocket URL for a realtime session. accountID is the
// gateway URL's account (Workers AI names it in its URL), rest the path after the slug
// (starting with "/"), rawQuery the client's query string without '?'. It returns
// ErrNoRealtime for a provider without a realtime API, ErrDotSegment for a path with a
// "." or ".." segment and ErrBadPath for a path or query the provider's endpoint cannot take.
func (r *Resolved) RealtimeURL(accountID, rest, rawQuery string) (RealtimeTarget, error) {
	api := realtimeAPIFor(r.Slug)
	if api == nil {
		return RealtimeTarget{}, ErrNoRealtime
	}
	if rest == "" {
		rest = "/"
	}
	if hasDotSegment(rest) { // as for URL: never out of the provider's base path
		return RealtimeTarget{}, ErrDotSegment
	}
	path, q, model, err := api.route(rest, parseQuery(rawQuery))
	if err != nil {
		return RealtimeTarget{}, err
	}
	base := r.Base
	if api.host != "" && r.Base == r.BaseURL {
		base = api.host
	}
	base = strings.ReplaceAll(base, "{account_id}", accountID)
	if strings.IndexByte(base, '{') >= 0 {
		return RealtimeTarget{}, ErrBadPath // a placeholder realtime cannot fill (resource, region)
	}
	ws, err := webSocketBase(base)
	if err != nil {
		return RealtimeTarget{}, err
	}
	t := RealtimeTarget{URL: ws + path, Model: model}
	if len(q) > 0 {
		t.URL += "?" + q.String()
	}
	for _, k := range api.queryKeys {
		if v, ok := q.get(k); ok && v != "" {
			t.KeyInQuery = true
		}
	}
	return t, nil
}

// RealtimeKeyProtocol reports whether a Sec-WebSocket-Protocol entry carries this
// provider's key (OpenAI's "openai-insecure-api-key.<key>", Deepgram's "token").
func (r *Resolved) RealtimeKeyProtocol(entry string) bool {
	api := realtimeAPIFor(r.Slug)
	if api == nil {
		return false
	}
	for _, p := range api.keyProtocols {
		if entry == p || strings.HasSuffix(p, ".") && strings.HasPrefix(entry, p) {
			return true
		}
	}
	return false
}

// webSocketBase turns an http(s) base URL into a ws(s) one, without a trailing slash.
func webSocketBase(base string) (string, error) {
	base = strings.TrimRight(base, "/")
	scheme, rest, ok := strings.Cut(base, "://")
	if !ok || rest == "" {
		return "", errors.New("base URL " + base + " is not absolute")
	}
	switch strings.ToLower(scheme) {
	case "https", "wss":
		return "wss://" + rest, nil
	case "http", "ws":
		return "ws://" + rest, nil
	}
	return "", errors.New("base URL scheme " + scheme + " cannot carry a WebSocket")
}

// defaultPath routes "/" to the provider's realtime path and keeps any other path, so a
// client (or SDK) naming the provider's own path reaches it too. The model is the
// query's model parameter, when there is one.
func defaultPath(p string) func(string, query) (string, query, string, error) {
	return func(rest string, q query) (string, query, string, error) {
		if rest == "/" {
			rest = p
		}
		m, _ := q.get("model")
		return rest, q, m, nil
	}
}

// googleLivePath is the Gemini Live API's WebSocket method.
const googleLivePath = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"

// googleLive routes to the Live API; the reference's api_key parameter is Google's key.
func googleLive(rest string, q query) (string, query, string, error) {
	if rest == "/" {
		rest = googleLivePath
	}
	return rest, q.rename("api_key", "key"), "", nil
}

// falApp keeps the app path (fal-ai/fast-lcm-diffusion), which also names the model.
func falApp(rest string, q query) (string, query, string, error) {
	app := strings.Trim(rest, "/")
	if app == "" {
		return "", nil, "", ErrBadPath
	}
	return rest, q, app, nil
}

// workersAIRun takes the model from the path (/@cf/deepgram/nova-3, /run/@cf/…) or from
// the query's model parameter, as the reference's examples do; the model moves into the
// upstream path and leaves the query.
func workersAIRun(rest string, q query) (string, query, string, error) {
	model := strings.TrimPrefix(strings.Trim(rest, "/"), "run/")
	if model == "" {
		m, ok := q.get("model")
		if !ok || m == "" {
			return "", nil, "", ErrBadPath
		}
		model, q = m, q.without("model")
	}
	if !validModelPath(model) {
		return "", nil, "", ErrBadPath
	}
	return "/run/" + model, q, model, nil
}

// validModelPath accepts model names such as @cf/deepgram/nova-3: letters, digits and
// @ / . _ - :, no empty or dot segments, so a query value cannot walk the upstream path.
func validModelPath(m string) bool {
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("@/._-:", c) >= 0) {
			return false
		}
	}
	for _, seg := range strings.Split(m, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// query is a raw query string as its "key=value" parts, in order and still escaped, so
// what the gateway does not change reaches the provider byte for byte.
type query []string

func parseQuery(raw string) query {
	var q query
	for _, p := range strings.Split(raw, "&") {
		if p != "" {
			q = append(q, p)
		}
	}
	return q
}

func (q query) String() string { return strings.Join(q, "&") }

// key is the unescaped key of part i.
func (q query) key(i int) string {
	k, _, _ := strings.Cut(q[i], "=")
	if u, err := url.QueryUnescape(k); err == nil {
		return u
	}
	return k
}

// get is the unescaped value of the first parameter named key.
func (q query) get(key string) (string, bool) {
	for i := range q {
		if q.key(i) == key {
			_, v, _ := strings.Cut(q[i], "=")
			if u, err := url.QueryUnescape(v); err == nil {
				return u, true
			}
			return v, true
		}
	}
	return "", false
}

// without drops every parameter named key.
func (q query) without(key string) query {
	out := make(query, 0, len(q))
	for i := range q {
		if q.key(i) != key {
			out = append(out, q[i])
		}
	}
	return out
}

// rename gives every parameter named from the name to, keeping its value as sent.
func (q query) rename(from, to string) query {
	out := make(query, len(q))
	for i := range q {
		out[i] = q[i]
		if q.key(i) == from {
			_, v, hasValue := strings.Cut(q[i], "=")
			out[i] = url.QueryEscape(to)
			if hasValue {
				out[i] += "=" + v
			}
		}
	}
	return out
}
