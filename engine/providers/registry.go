// Package providers is the registry of provider adapters: for each provider slug, its
// upstream base URL, how the gateway path maps onto the upstream URL, which header carries
// the provider key, how the model is found and how token usage is read. Each provider is
// one file in this folder that calls Register once.
package providers

import (
	"errors"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/engine/usage"
)

// Adapter describes one provider.
type Adapter struct {
	// Slug is the URL segment after /v1/{account_id}/{gateway_id}/.
	Slug string
	// BaseURL is the default upstream base, without a trailing slash. It may hold the
	// placeholders {resource}, {region} and {account_id}, which Resolve fills in.
	BaseURL string
	// Route maps the path after the slug onto the upstream path and fills placeholders.
	// Nil means "append the path to BaseURL".
	Route func(rest string) (Target, error)
	// AuthHeader is the request header that carries the provider key (documentation and
	// redaction; the client's header is forwarded as sent).
	AuthHeader string
	// AuthScheme prefixes a stored key in AuthHeader ("Bearer " when AuthHeader is
	// Authorization and this is empty; "Token ", "Key " for the providers that want those).
	AuthScheme string
	// NoStoredKeys marks providers whose requests are signed per request (Bedrock's SigV4,
	// Vertex's OAuth): a stored key cannot simply be put in a header.
	NoStoredKeys bool
	// ServiceAccounts marks Vertex AI: a key (the client's Authorization or a stored key)
	// may be a service account JSON, which the front end exchanges for an access token
	// instead of sending it (Credential does not apply).
	ServiceAccounts bool
	// Usage says how token counts are read from this provider's responses.
	Usage *usage.Format
	// ModelFromPath extracts the model from the upstream path when it is not in the body.
	ModelFromPath func(rest string) string
	// ModelFields are request body fields (gjson paths in JSON, field names in a multipart
	// form) naming the model when "model" does not: ElevenLabs' model_id, Replicate's version.
	ModelFields []string
	// ModelFromQuery extracts the model from the raw query string (Deepgram's ?model=).
	ModelFromQuery func(query string) string
	// TargetURLHeader names a request header that carries the whole upstream URL in place
	// of the path (fal's x-fal-target-url); TargetHost says which hosts it may name. The
	// header is not forwarded upstream.
	TargetURLHeader string
	TargetHost      func(host string) bool
}

// Target is the result of mapping a gateway path.
type Target struct {
	Path  string            // upstream path, starting with "/"
	Fill  map[string]string // placeholder values for BaseURL
	Model string            // model named by the path, if any
}

// ErrBadPath is returned when the path after the slug does not have the shape the provider needs.
var ErrBadPath = errors.New("path does not match the provider's URL shape")

// ErrDotSegment is returned for a path with a "." or ".." segment, which an upstream would
// resolve out of the provider's base path.
var ErrDotSegment = errors.New("path has a . or .. segment")

// hasDotSegment reports a "." or ".." segment, also percent-encoded (once or several times:
// %2e, %252e) or behind an encoded slash or a backslash (..%2f, ..%5c).
func hasDotSegment(p string) bool {
	for i := 0; i < 4 && strings.IndexByte(p, '%') >= 0; i++ {
		u, err := url.PathUnescape(p)
		if err != nil || u == p {
			break
		}
		p = u
	}
	for p != "" { // segment by segment, without building a slice of them
		seg := p
		if i := strings.IndexAny(p, `/\`); i >= 0 {
			seg, p = p[:i], p[i+1:]
		} else {
			p = ""
		}
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

var registry = map[string]*Adapter{}

// Register adds an adapter; called from each provider file's init.
func Register(a *Adapter) {
	if _, dup := registry[a.Slug]; dup {
		panic("providers: duplicate slug " + a.Slug)
	}
	registry[a.Slug] = a
}

// Lookup finds the adapter for a slug.
func Lookup(slug string) (*Adapter, bool) {
	a, ok := registry[slug]
	return a, ok
}

// Slugs lists the registered slugs, sorted.
func Slugs() []string {
	out := make([]string, 0, len(registry))
	for s := range registry {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// EnvOverride is the environment variable that replaces a provider's base URL,
// e.g. SWITCHYARD_UPSTREAM_WORKERS_AI for workers-ai.
func EnvOverride(slug string) string {
	return "SWITCHYARD_UPSTREAM_" + strings.ToUpper(strings.ReplaceAll(slug, "-", "_"))
}

// Resolved is a provider ready to serve: the adapter plus the base URL in force.
type Resolved struct {
	*Adapter
	Base string
}

// Table is the set of providers with their effective base URLs, built once at start.
type Table map[string]*Resolved

// NewTable applies SWITCHYARD_UPSTREAM_* overrides read through getenv (os.Getenv when nil).
func NewTable(getenv func(string) string) Table {
	if getenv == nil {
		getenv = os.Getenv
	}
	t := Table{}
	for slug, a := range registry {
		base := a.BaseURL
		if v := getenv(EnvOverride(slug)); v != "" {
			base = strings.TrimRight(v, "/")
		}
		t[slug] = &Resolved{Adapter: a, Base: base}
	}
	return t
}

// URL builds the upstream URL (without query) for the path after the slug. accountID is
// the gateway URL's account, used by providers whose upstream URL names the account.
func (r *Resolved) URL(accountID, rest string) (string, string, error) {
	if hasDotSegment(rest) {
		return "", "", ErrDotSegment
	}
	tgt := Target{Path: rest}
	if r.Route != nil {
		var err error
		if tgt, err = r.Route(rest); err != nil {
			return "", "", err
		}
	}
	if !strings.HasPrefix(tgt.Path, "/") {
		tgt.Path = "/" + tgt.Path
	}
	base := r.Base
	if strings.IndexByte(base, '{') >= 0 {
		base = strings.ReplaceAll(base, "{account_id}", accountID)
		for k, v := range tgt.Fill {
			base = strings.ReplaceAll(base, "{"+k+"}", v)
		}
	}
	model := tgt.Model
	if model == "" && r.ModelFromPath != nil {
		model = r.ModelFromPath(rest)
	}
	return base + tgt.Path, model, nil
}

// RequestModel finds the model of a request whose JSON body has no "model": a multipart
// form's model field, the adapter's ModelFields, then its ModelFromQuery; "" if none.
func (a *Adapter) RequestModel(body []byte, ctype, query string) string {
	if len(body) > 0 {
		if strings.HasPrefix(strings.ToLower(ctype), "multipart/form-data") {
			if m, ok := usage.RequestField(body, ctype, "model"); ok && m != "" {
				return m
			}
		}
		if len(a.ModelFields) > 0 {
			if m, ok := usage.RequestField(body, ctype, a.ModelFields...); ok && m != "" {
				return m
			}
		}
	}
	if a.ModelFromQuery != nil {
		return a.ModelFromQuery(query)
	}
	return ""
}

// Credential is the header carrying a stored key for this provider, or false when the
// provider cannot use stored keys.
func (a *Adapter) Credential(key string) (name, value string, ok bool) {
	if a.NoStoredKeys || a.ServiceAccounts {
		return "", "", false
	}
	scheme := a.AuthScheme
	if scheme == "" && strings.EqualFold(a.AuthHeader, "Authorization") {
		scheme = "Bearer "
	}
	return a.AuthHeader, scheme + key, true
}

// Custom builds the adapter of a custom provider: the path after custom-{slug} is appended
// to its base URL, the key goes in Authorization as a bearer token, usage is read the
// OpenAI way (the shape most custom providers speak).
func Custom(slug, baseURL string) *Resolved {
	return &Resolved{Adapter: &Adapter{Slug: slug, BaseURL: baseURL, AuthHeader: "Authorization", Usage: usage.OpenAI}, Base: baseURL}
}

// segments splits "/a/b/c" into at most n parts: the first n-1 segments and the rest.
func segments(rest string, n int) []string {
	return strings.SplitN(strings.TrimPrefix(rest, "/"), "/", n)
}

// validHostPart reports whether s can be placed in a host name (resource, region).
func validHostPart(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
