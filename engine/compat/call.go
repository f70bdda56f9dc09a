// call.go turns a Plan into a Call: the native path, body and credentials of one provider
// request, and the translator that reads its answer back.
package compat

import (
	"net/url"
	"strconv"
	"strings"

	json "github.com/goccy/go-json"
	"github.com/oklog/ulid/v2"
)

// Header is one header of the native request.
type Header struct {
	Key, Value string
}

// Signer signs a finished native request (Bedrock's SigV4); it returns the headers to add.
type Signer interface {
	Sign(method, url string, body []byte) ([]Header, error)
}

// Credential is the provider key of a call: the client's Authorization bearer value, or a
// stored key's secret. Empty means none; the provider then answers its own 401.
type Credential struct {
	Key    string
	Stored bool
}

// Call is one planned provider request and how to read its answer.
type Call struct {
	Prefix       string // model prefix as sent
	Provider     string // registry slug (or custom-{slug})
	Model        string // the provider's model name
	Stream       bool
	IncludeUsage bool // the client asked for the usage chunk
	ID           string
	Created      int64

	Rest    string // native path after the provider slug, as on the provider endpoint
	Query   string // raw query, without '?'
	Body    []byte
	Headers []Header
	Signer  Signer

	req      *ChatRequest
	tr       translator
	region   string // Bedrock and Vertex region in force
	project  string // Vertex project
	resource string // full Vertex model resource, when given in the model string
}

// translator is one native API family.
type translator interface {
	// request builds the native body (and may set c.Rest / c.Query through the target).
	request(c *Call, r *ChatRequest) ([]byte, *Error)
	// response reads a whole native answer.
	response(c *Call, body []byte) (*Completion, error)
	// decoder reads the native stream and drives s.
	decoder() streamDecoder
	// errorDetail reads a native error body.
	errorDetail(body []byte) (message, typ, code string)
}

// authStyle is how a target carries the provider key.
type authStyle int

const (
	authBearer  authStyle = iota
	authHeader            // the key in target.authHeader
	authVertex            // service account (exchanged) or access token
	authBedrock           // SigV4 from access keys, or a Bedrock API key
)

// target is one model prefix of the unified API.
type target struct {
	slug       string
	alias      bool // an accepted spelling not listed in Prefixes
	tr         translator
	auth       authStyle
	authHeader string
	extra      []Header // fixed headers (anthropic-version)
	path       func(c *Call) *Error
}

// Build plans the native request for cred. env supplies the Vertex token exchange.
func (p *Plan) Build(cred Credential, env *Env) (*Call, *Error) {
	if p.target == nil {
		return nil, invalid("model", "model %q does not name a provider the unified API can call directly", p.Req.Model)
	}
	r := p.Req
	c := &Call{
		Prefix: p.Prefix, Provider: p.Slug, Model: p.Model, Stream: r.Stream,
		IncludeUsage: r.Stream && r.StreamOptions != nil && r.StreamOptions.IncludeUsage,
		ID:           "chatcmpl-" + strings.ToLower(ulid.Make().String()), Created: now().Unix(),
		req: r, tr: p.target.tr,
	}
	if p.Custom() {
		c.Provider = p.Prefix
	}
	if err := p.target.credentials(c, cred, env); err != nil {
		return nil, err
	}
	if err := p.target.path(c); err != nil {
		return nil, err
	}
	body, err := c.tr.request(c, r)
	if err != nil {
		return nil, err
	}
	c.Body = body
	c.Headers = append(c.Headers, Header{"Content-Type", "application/json"})
	if c.Stream {
		c.Headers = append(c.Headers, Header{"Accept", "text/event-stream"})
	}
	c.Headers = append(c.Headers, p.target.extra...)
	return c, nil
}

// credentials puts the key on the call in the provider's own scheme.
func (t *target) credentials(c *Call, cred Credential, env *Env) *Error {
	switch t.auth {
	case authVertex:
		return vertexCredentials(c, cred, env)
	case authBedrock:
		return bedrockCredentials(c, cred)
	}
	if cred.Key == "" {
		return nil
	}
	if t.auth == authHeader {
		c.Headers = append(c.Headers, Header{t.authHeader, cred.Key})
	} else {
		c.Headers = append(c.Headers, Header{"Authorization", "Bearer " + cred.Key})
	}
	return nil
}

// fixed is a target path that does not depend on the call.
func fixed(rest string) func(c *Call) *Error {
	return func(c *Call) *Error { c.Rest = rest; return nil }
}

// openAILike is a target for a provider that speaks OpenAI chat completions at rest.
func openAILike(slug, rest string, opts ...func(*target)) *target {
	t := &target{slug: slug, tr: passthrough{provider: slug}, path: fixed(rest)}
	for _, o := range opts {
		o(t)
	}
	return t
}

// targets is the unified API's provider table: model prefix → native API.
var targets = map[string]*target{
	"openai":        openAILike("openai", "/chat/completions"),
	"groq":          openAILike("groq", "/chat/completions"),
	"mistral":       openAILike("mistral", "/v1/chat/completions", func(t *target) { t.tr = passthrough{provider: "mistral", seedAs: "random_seed"} }),
	"perplexity-ai": openAILike("perplexity-ai", "/chat/completions"),
	"deepseek":      openAILike("deepseek", "/chat/completions"),
	"grok":          openAILike("grok", "/v1/chat/completions"),
	"cerebras":      openAILike("cerebras", "/chat/completions"),
	"baseten":       openAILike("baseten", "/v1/chat/completions"),
	"parallel":      openAILike("parallel", "/chat/completions"),
	"openrouter":    openAILike("openrouter", "/v1/chat/completions"),
	"workers-ai":    openAILike("workers-ai", "/v1/chat/completions"),
	"azure-openai": {slug: "azure-openai", tr: passthrough{provider: "azure-openai", dropModel: true}, auth: authHeader, authHeader: "api-key",
		path: azurePath},
	"anthropic": {slug: "anthropic", tr: anthropic{}, auth: authHeader, authHeader: "x-api-key",
		extra: []Header{{"anthropic-version", AnthropicVersion}}, path: fixed("/v1/messages")},
	"google-ai-studio": {slug: "google-ai-studio", tr: gemini{provider: "google-ai-studio"}, auth: authHeader, authHeader: "x-goog-api-key",
		path: aiStudioPath},
	"google-vertex-ai": {slug: "google-vertex-ai", tr: gemini{provider: "google-vertex-ai"}, auth: authVertex, path: vertexPath},
	"cohere":           {slug: "cohere", tr: cohere{}, path: fixed("/v2/chat")},
	"aws-bedrock":      {slug: "aws-bedrock", tr: bedrock{}, auth: authBedrock, path: bedrockPath},
}

// customTarget serves custom-{slug}/{model}: OpenAI chat completions at the custom
// provider's base URL (see customPath).
var customTarget = &target{tr: passthrough{provider: "custom provider"}, path: fixed("/chat/completions")}

func init() {
	// The reference's examples also spell some prefixes differently ("google/gemini-2.5-pro"
	// on its unified API and Vercel AI SDK pages is Google AI Studio).
	for alias, canon := range map[string]string{"perplexity": "perplexity-ai", "xai": "grok", "bedrock": "aws-bedrock",
		"vertex": "google-vertex-ai", "google": "google-ai-studio"} {
		t := *targets[canon]
		t.alias = true
		targets[alias] = &t
	}
}

// CustomRest is the path after custom-{slug} that a unified-API call takes: a base URL
// with no path gets /v1/chat/completions, one with a path (".../v1", ".../api/paas/v4")
// gets /chat/completions appended, as an OpenAI SDK with that base URL would.
func CustomRest(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil || strings.Trim(u.Path, "/") == "" {
		return "/v1/chat/completions"
	}
	return "/chat/completions"
}

// AzureAPIVersion is the api-version sent to Azure OpenAI when the model string has none.
const AzureAPIVersion = "2024-10-21"

// azurePath: model "azure-openai/{resource}/{deployment}", optionally "?api-version=...".
func azurePath(c *Call) *Error {
	m, q, _ := strings.Cut(c.Model, "?")
	resource, deployment, ok := strings.Cut(m, "/")
	if !ok || resource == "" || deployment == "" || strings.Contains(deployment, "/") {
		return invalid("model", "azure-openai models are azure-openai/{resource}/{deployment}")
	}
	version := AzureAPIVersion
	if v, err := url.ParseQuery(q); err == nil && v.Get("api-version") != "" {
		version = v.Get("api-version")
	}
	c.Model = deployment
	c.Rest = "/" + resource + "/" + url.PathEscape(deployment) + "/chat/completions"
	c.Query = "api-version=" + url.QueryEscape(version)
	return nil
}

// aiStudioPath: generateContent, or streamGenerateContent as SSE.
func aiStudioPath(c *Call) *Error {
	c.Model = strings.TrimPrefix(c.Model, "models/")
	c.Rest = "/v1beta/models/" + url.PathEscape(c.Model) + geminiMethod(c)
	return nil
}

func geminiMethod(c *Call) string {
	if c.Stream {
		c.Query = "alt=sse"
		return ":streamGenerateContent"
	}
	return ":generateContent"
}

// vertexPath: "google-vertex-ai/{publisher}/{model}" with the project and region of the
// credentials, or the full resource "projects/{p}/locations/{r}/publishers/{pub}/models/{m}".
func vertexPath(c *Call) *Error {
	res := c.resource
	if res == "" {
		publisher, model, ok := strings.Cut(c.Model, "/")
		if !ok {
			publisher, model = "google", c.Model
		}
		if c.project == "" || c.region == "" {
			return &Error{Status: 401, Type: "authentication_error", Code: "missing_credentials", Param: "model",
				Message: "google-vertex-ai needs a project and region: send a service account JSON (base64) with a region key as the API key, store one as a provider key, or name the full model resource projects/{project}/locations/{region}/publishers/google/models/{model}"}
		}
		res = "projects/" + c.project + "/locations/" + c.region + "/publishers/" + publisher + "/models/" + model
	}
	parts := strings.Split(res, "/")
	if len(parts) != 8 || parts[0] != "projects" || parts[2] != "locations" || parts[4] != "publishers" || parts[6] != "models" || parts[7] == "" {
		return invalid("model", "a google-vertex-ai model resource is projects/{project}/locations/{region}/publishers/google/models/{model}")
	}
	if parts[5] != "google" {
		return unsupported("model", "google-vertex-ai", "only Google's own (Gemini) models are translated; publisher "+parts[5]+" is not")
	}
	c.Model = parts[7]
	for i := range parts { // a '?', '#' or line break in the model string stays in the path
		parts[i] = url.PathEscape(parts[i])
	}
	c.Rest = "/v1/" + strings.Join(parts, "/") + geminiMethod(c)
	return nil
}

// bedrockPath: Converse or ConverseStream for the model id, in the credentials' region.
func bedrockPath(c *Call) *Error {
	op := "/converse"
	if c.Stream {
		op = "/converse-stream"
	}
	c.Rest = "/bedrock-runtime/" + c.region + "/model/" + url.PathEscape(c.Model) + op
	return nil
}

// Response translates a whole native 2xx answer; a body the translator cannot read is
// a 502 for the client.
func (c *Call) Response(body []byte) ([]byte, *Usage, *Error) {
	if raw, ok := c.tr.(interface {
		rawResponse(*Call, []byte) ([]byte, *Usage, error)
	}); ok {
		out, u, err := raw.rawResponse(c, body)
		if err != nil {
			return nil, nil, badUpstream(c, err)
		}
		return out, u, nil
	}
	comp, err := c.tr.response(c, body)
	if err != nil {
		return nil, nil, badUpstream(c, err)
	}
	if comp.ID == "" {
		comp.ID = c.ID
	}
	comp.Object, comp.Created = "chat.completion", c.Created
	if comp.Model == "" {
		comp.Model = c.Model
	}
	if comp.Usage == nil {
		comp.Usage = c.estimate(comp)
	} else {
		comp.Usage.total()
	}
	out, _ := json.Marshal(comp)
	return out, comp.Usage, nil
}

func badUpstream(c *Call, err error) *Error {
	return &Error{Status: 502, Type: "api_error", Code: "bad_upstream_response",
		Message: c.Provider + " answered with a body the unified API cannot read: " + err.Error()}
}

// Error translates a native error answer into the OpenAI error shape (status kept by the caller).
func (c *Call) Error(status int, body []byte) []byte {
	msg, typ, code := c.tr.errorDetail(body)
	if msg == "" {
		msg = strings.TrimSpace(string(body))
		if len(msg) > 512 {
			msg = msg[:512]
		}
		if msg == "" {
			msg = c.Provider + " answered " + statusText(status)
		}
	}
	if typ == "" {
		typ = ErrorType(status)
	}
	e := &Error{Status: status, Type: typ, Code: code, Message: msg}
	return e.JSON()
}

// ErrorType is OpenAI's error type for a status.
func ErrorType(status int) string {
	switch {
	case status == 401:
		return "authentication_error"
	case status == 403:
		return "permission_error"
	case status == 404:
		return "not_found_error"
	case status == 429:
		return "rate_limit_error"
	case status >= 500:
		return "api_error"
	default:
		return "invalid_request_error"
	}
}

func statusText(status int) string {
	switch status {
	case 401:
		return "401 Unauthorized"
	case 404:
		return "404 Not Found"
	case 429:
		return "429 Too Many Requests"
	}
	return "status " + strconv.Itoa(status)
}
