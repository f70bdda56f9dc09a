// Package pricing holds the price table (prices.json, embedded) and turns usage (tokens,
// or for media models characters, minutes of audio, images or seconds of video) into a
// cost in USD. It is pure: the table is parsed once, and Lookup and Cost do no I/O and,
// for lower-case model names, no allocation, so they can run on the request path.
//
// Token counting convention (the one engine/compat's Usage and the log record follow):
// Usage.In is every input token of the request, cached ones included, and Usage.CachedIn
// is the part of In that was read from the provider's prompt cache. OpenAI-style usage
// already counts that way (prompt_tokens includes prompt_tokens_details.cached_tokens).
// Anthropic and Bedrock report cache reads and writes apart from input_tokens; the unified
// API (engine/compat.cachedUsage) adds them up, so In = input_tokens +
// cache_read_input_tokens + cache_creation_input_tokens and CachedIn =
// cache_read_input_tokens. Cache writes are priced at the plain input rate (Anthropic
// bills them at 1.25x, so a request that writes the cache is slightly under-priced). On the
// native Anthropic path the usage counter reads only input_tokens, so there In excludes
// cache reads and writes and CachedIn is 0.
package pricing

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

//go:embed prices.json
var defaultJSON []byte

// Price is what one model costs, in USD. A token-priced model uses Input, Output,
// CachedInput and Request; a media model priced in another unit (characters, minutes of
// audio, images, seconds of video: see units.go) uses Media and Request.
type Price struct {
	Input       float64 `json:"input"`             // per input token not read from the prompt cache
	Output      float64 `json:"output"`            // per output token (reasoning tokens included)
	CachedInput float64 `json:"cached_input"`      // per input token read from the prompt cache
	Request     float64 `json:"request,omitempty"` // per request, on top of the tokens (Perplexity, Parallel)

	// Media, set for an entry that names its unit ("token" included), prices a media
	// model (units.go); nil for the plain per-token models. A pointer keeps Price small
	// and comparable.
	Media *MediaPrice `json:"-"`
}

// Usage is the token count of one request. CachedIn is part of In (see the package doc).
// A media model's usage in its own unit is Units (units.go).
type Usage struct {
	In, Out, CachedIn int64
}

// Cost prices u. Negative counts count as 0 and CachedIn is capped at In. A media model
// priced in another unit costs 0 here: Priced prices it.
func (p Price) Cost(u Usage) float64 {
	if p.Media != nil && p.Media.Unit != UnitToken {
		return 0
	}
	return p.tokens(u.In, u.Out, u.CachedIn)
}

// tokens is the per-token cost; small enough to be inlined on the hot path.
func (p *Price) tokens(in, out, cached int64) float64 {
	in, out, cached = max(in, 0), max(out, 0), max(cached, 0)
	cached = min(cached, in)
	return float64(in-cached)*p.Input + float64(cached)*p.CachedInput + float64(out)*p.Output + p.Request
}

// Table is a parsed price table. It is immutable and safe for concurrent use.
type Table struct {
	asOf      string
	source    string
	providers map[string]map[string]Price // provider slug → lower-case model → price
	fallbacks map[string][]string         // provider → providers with the same list prices
	vendors   map[string]string           // vendor prefix of a model id → provider
	n         int
}

// file is the layout of prices.json.
type file struct {
	AsOf      string                          `json:"as_of"`
	Currency  string                          `json:"currency"`
	Unit      string                          `json:"unit"`
	Source    string                          `json:"source"`
	Fields    string                          `json:"fields"`
	Fallbacks map[string][]string             `json:"fallbacks"`
	Vendors   map[string]string               `json:"vendors"`
	Providers map[string]map[string]filePrice `json:"providers"`
}

type filePrice struct {
	Input        *float64           `json:"input"`
	Output       *float64           `json:"output"`
	CachedInput  *float64           `json:"cached_input"`
	Request      *float64           `json:"request"`
	Unit         string             `json:"unit"`
	Price        *float64           `json:"price"`
	Variants     map[string]float64 `json:"variants"`
	DefaultUnits *float64           `json:"default_units"`
}

// Parse reads a price table in the prices.json layout: USD per token, model names matched
// case-insensitively, cached_input defaulting to input and request to 0.
func Parse(data []byte) (*Table, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("pricing: %w", err)
	}
	if f.AsOf == "" {
		return nil, fmt.Errorf("pricing: as_of is missing: the table must say when its figures are from")
	}
	if f.Currency != "" && f.Currency != "USD" {
		return nil, fmt.Errorf("pricing: currency %q: only USD is supported", f.Currency)
	}
	if f.Unit != "" && f.Unit != "per token" && f.Unit != tableUnit {
		return nil, fmt.Errorf("pricing: unit %q: prices must be per token unless an entry names its unit", f.Unit)
	}
	t := &Table{asOf: f.AsOf, source: f.Source, providers: map[string]map[string]Price{},
		fallbacks: map[string][]string{}, vendors: map[string]string{}}
	for prov, models := range f.Providers {
		slug := strings.ToLower(prov)
		if _, dup := t.providers[slug]; dup {
			return nil, fmt.Errorf("pricing: provider %q is listed twice", prov)
		}
		ms := make(map[string]Price, len(models))
		for name, fp := range models {
			p, err := fp.price()
			if err != nil {
				return nil, fmt.Errorf("pricing: %s/%s: %w", prov, name, err)
			}
			key := strings.ToLower(name)
			if _, dup := ms[key]; dup {
				return nil, fmt.Errorf("pricing: %s/%s is listed twice (names are case-insensitive)", prov, name)
			}
			ms[key] = p
		}
		t.providers[slug] = ms
		t.n += len(ms)
	}
	for prov, list := range f.Fallbacks {
		for _, to := range list {
			if t.providers[strings.ToLower(to)] == nil {
				return nil, fmt.Errorf("pricing: fallback %s → %s: no such provider in the table", prov, to)
			}
			t.fallbacks[strings.ToLower(prov)] = append(t.fallbacks[strings.ToLower(prov)], strings.ToLower(to))
		}
	}
	for vendor, prov := range f.Vendors {
		if t.providers[strings.ToLower(prov)] == nil {
			return nil, fmt.Errorf("pricing: vendor %s → %s: no such provider in the table", vendor, prov)
		}
		t.vendors[strings.ToLower(vendor)] = strings.ToLower(prov)
	}
	return t, nil
}

func (fp filePrice) price() (Price, error) {
	if fp.Unit != "" && fp.Unit != "token" {
		return fp.unitPrice()
	}
	if fp.Price != nil || fp.Variants != nil || fp.DefaultUnits != nil {
		return Price{}, fmt.Errorf("price, variants and default_units need a unit other than token")
	}
	if fp.Input == nil || fp.Output == nil {
		return Price{}, fmt.Errorf("input and output are required")
	}
	p := Price{Input: *fp.Input, Output: *fp.Output, CachedInput: *fp.Input}
	if fp.Unit == "token" {
		p.Media = &MediaPrice{Unit: UnitToken}
	}
	if fp.CachedInput != nil {
		p.CachedInput = *fp.CachedInput
	}
	if fp.Request != nil {
		p.Request = *fp.Request
	}
	for _, v := range [...]float64{p.Input, p.Output, p.CachedInput, p.Request} {
		if v < 0 {
			return Price{}, fmt.Errorf("negative price %v", v)
		}
		if v > 1 {
			// No model costs a dollar per token: the figure was written per million tokens.
			return Price{}, fmt.Errorf("price %v is more than $1 per token: prices are per token, not per million", v)
		}
	}
	return p, nil
}

var defaultTable = sync.OnceValue(func() *Table {
	t, err := Parse(defaultJSON)
	if err != nil {
		panic("engine/pricing: embedded prices.json: " + err.Error())
	}
	return t
})

// Default returns the table embedded from prices.json.
func Default() *Table { return defaultTable() }

// AsOf is the date of the table's figures.
func (t *Table) AsOf() string { return t.asOf }

// Source is the table's note on where its figures come from.
func (t *Table) Source() string { return t.source }

// Len is the number of priced (provider, model) entries.
func (t *Table) Len() int { return t.n }

// Cost prices a request of model on provider by its tokens. An unknown model, or a media
// model whose usage is unknown (any model priced in another unit: use Lookup and Priced
// with its Units), gives (0, false): the caller records no cost (null), not a cost of 0.
func (t *Table) Cost(provider, model string, u Usage) (float64, bool) {
	p, ok := t.Lookup(provider, model)
	if !ok {
		return 0, false
	}
	if p.Media == nil {
		return p.tokens(u.In, u.Out, u.CachedIn), true
	}
	return p.Priced(u, Units{})
}

// Lookup finds the price of model on provider. provider is a provider slug
// ("openai", "aws-bedrock", ...; the unified API's aliases xai, perplexity, bedrock and
// vertex work too); "" or "compat" means model is a unified-API id "provider/model".
// Matching is case-insensitive and tries, in order:
//   - the exact name;
//   - the name without its provider's own prefix ("workers-ai/@cf/...") and without the
//     forms the model is written in on the wire: a URL path ("models/gemini-2.5-flash",
//     ".../publishers/google/models/gemini-2.5-pro"), a Vertex AI version
//     ("claude-sonnet-4-5@20250929"), a Bedrock region prefix or ARN ("us.anthropic...",
//     "arn:aws:bedrock:...:inference-profile/us.anthropic..."), anything after a ":"
//     ("...-v2:0", "gemini-2.5-flash:streamGenerateContent");
//   - then, dropping one trailing "-" segment at a time while it is a date or version
//     ("-2024-07-18", "-20241022", "-0528", "-v2", "-latest", "-preview"), each name on the
//     provider, then under its vendor prefix ("openai/gpt-4o-mini" on OpenRouter,
//     "anthropic.claude-..." on Bedrock, "google/gemini-..." on Vertex AI), then on the
//     provider's fallbacks (Azure OpenAI → OpenAI, Vertex AI → AI Studio, Anthropic).
//
// An OpenRouter ":free" model costs 0.
func (t *Table) Lookup(provider, model string) (Price, bool) {
	if ms := t.providers[provider]; ms != nil {
		if p, ok := ms[model]; ok {
			return p, true
		}
	}
	return t.resolve(strings.ToLower(provider), strings.ToLower(model))
}

func (t *Table) resolve(prov, m string) (Price, bool) {
	prov = canonicalProvider(prov)
	if prov == "" || prov == "compat" {
		i := strings.IndexByte(m, '/')
		if i <= 0 {
			return Price{}, false
		}
		prov, m = canonicalProvider(m[:i]), m[i+1:]
	}
	if p, ok := t.at(prov, m); ok {
		return p, true
	}
	if len(m) > len(prov) && m[len(prov)] == '/' && m[:len(prov)] == prov {
		m = m[len(prov)+1:]
	}
	if prov == "openrouter" && strings.HasSuffix(m, ":free") {
		return Price{}, true
	}
	m = wireForm(prov, m)
	for {
		if p, ok := t.at(prov, m); ok {
			return p, true
		}
		next := trimVersion(m)
		if next == m {
			return Price{}, false
		}
		m = next
	}
}

// at tries one model name on the provider, under its vendor prefix, then on the fallbacks.
func (t *Table) at(prov, m string) (Price, bool) {
	if p, ok := t.providers[prov][m]; ok {
		return p, true
	}
	if i := strings.IndexAny(m, "/."); i > 0 {
		if v, ok := t.vendors[m[:i]]; ok {
			if p, ok := t.providers[v][m[i+1:]]; ok {
				return p, true
			}
		}
	}
	for _, f := range t.fallbacks[prov] {
		if p, ok := t.providers[f][m]; ok {
			return p, true
		}
	}
	return Price{}, false
}

// bedrockRegions are the cross-region inference profile prefixes of Bedrock model ids.
var bedrockRegions = [...]string{"us.", "eu.", "apac.", "global.", "us-gov.", "ca.", "jp.", "au."}

// wireForm strips what the wire adds around a model name; the result is a substring of m.
func wireForm(prov, m string) string {
	if prov == "aws-bedrock" && strings.HasPrefix(m, "arn:") {
		m = m[strings.LastIndexByte(m, '/')+1:]
	}
	if i := strings.LastIndex(m, "/models/"); i >= 0 {
		m = m[i+len("/models/"):]
	} else if strings.HasPrefix(m, "models/") {
		m = m[len("models/"):]
	}
	if prov == "workers-ai" {
		if i := strings.IndexByte(m, '@'); i > 0 { // ".../ai/run/@cf/meta/..."
			m = m[i:]
		}
	} else if i := strings.IndexByte(m, '@'); i > 0 { // Vertex AI "claude-sonnet-4-5@20250929"
		m = m[:i]
	}
	if prov == "aws-bedrock" {
		for _, r := range bedrockRegions {
			if strings.HasPrefix(m, r) {
				m = m[len(r):]
				break
			}
		}
	}
	if i := strings.IndexByte(m, ':'); i > 0 {
		m = m[:i]
	}
	return m
}

// trimVersion drops a trailing "-" segment that is a date or a version tag, or returns m.
func trimVersion(m string) string {
	j := strings.LastIndexByte(m, '-')
	if j <= 0 {
		return m
	}
	seg := m[j+1:]
	switch {
	case seg == "latest", seg == "preview":
	case len(seg) >= 2 && digits(seg):
	case len(seg) >= 2 && seg[0] == 'v' && digits(seg[1:]):
	default:
		return m
	}
	return m[:j]
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// canonicalProvider maps the unified API's provider aliases (engine/compat's prefix table)
// to their slugs.
func canonicalProvider(p string) string {
	switch p {
	case "xai", "x-ai":
		return "grok"
	case "perplexity":
		return "perplexity-ai"
	case "bedrock":
		return "aws-bedrock"
	case "vertex":
		return "google-vertex-ai"
	}
	return p
}

// CustomCostHeader is the request header that overrides the table's price.
const CustomCostHeader = "cf-aig-custom-cost"

// ParseCustomCost reads a cf-aig-custom-cost header value, a JSON object with
// per_token_in and per_token_out in USD per token, e.g.
// {"per_token_in":0.000001,"per_token_out":0.000002}. A missing field counts as 0 but at
// least one must be there; other fields are ignored. Cached input tokens are priced at
// per_token_in. The error says what is wrong; the caller answers it with a 400.
func ParseCustomCost(h string) (Price, error) {
	h = strings.TrimSpace(h)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(h), &raw); err != nil || raw == nil {
		return Price{}, fmt.Errorf(`%s must be a JSON object like {"per_token_in":0.000001,"per_token_out":0.000002}`, CustomCostHeader)
	}
	in, inSet, err := customField(raw, "per_token_in")
	if err != nil {
		return Price{}, err
	}
	out, outSet, err := customField(raw, "per_token_out")
	if err != nil {
		return Price{}, err
	}
	if !inSet && !outSet {
		return Price{}, fmt.Errorf("%s needs per_token_in and per_token_out (USD per token)", CustomCostHeader)
	}
	return Price{Input: in, Output: out, CachedInput: in}, nil
}

func customField(raw map[string]json.RawMessage, name string) (float64, bool, error) {
	v, ok := raw[name]
	if !ok {
		return 0, false, nil
	}
	var f float64
	if string(v) == "null" || json.Unmarshal(v, &f) != nil {
		if len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
			return 0, false, fmt.Errorf("%s: %s %s is out of range", CustomCostHeader, name, clip(v))
		}
		return 0, false, fmt.Errorf("%s: %s must be a number (USD per token), got %s", CustomCostHeader, name, clip(v))
	}
	if f < 0 {
		return 0, false, fmt.Errorf("%s: %s must not be negative, got %s", CustomCostHeader, name, clip(v))
	}
	return f, true, nil
}

// clip shortens a client's value quoted in an error message.
func clip(v []byte) string {
	if len(v) > 40 {
		return string(v[:40]) + "..."
	}
	return string(v)
}
