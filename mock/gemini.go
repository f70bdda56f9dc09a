// gemini.go is a mock of Google's Gemini API as both Google AI Studio
// (generativelanguage.googleapis.com, key in x-goog-api-key) and Vertex AI
// ({region}-aiplatform.googleapis.com, OAuth bearer tokens), with the OAuth token endpoint
// that exchanges a service account's signed JWT for an access token.
package mock

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2/jws"
)

// Gemini token counts of every answer (candidatesTokenCount is GeminiOutputTokens per
// candidate; cachedContentTokenCount is part of promptTokenCount, as Gemini counts it).
const (
	GeminiInputTokens  = 31
	GeminiOutputTokens = 9
	GeminiCachedTokens = 4
)

// Vertex AI constants: the project of ServiceAccountJSON (also the only project the
// Vertex paths accept), its client_email, and a bearer token accepted without an exchange.
const (
	VertexProject     = "mock-project"
	VertexClientEmail = "sa@mock-project.iam.gserviceaccount.com"
	VertexDirectToken = "ya29.mock-direct-token"
)

// Gemini is the mock. Paths:
//
//	AI Studio: POST /v1beta/models/{model}:generateContent | :streamGenerateContent[?alt=sse]
//	Vertex:    POST /v1/projects/mock-project/locations/{region}/publishers/google/models/{model}:...
//	OAuth:     POST /token (the token_uri of ServiceAccountJSON)
//
// Models "error-401", "error-404", "error-429" (Retry-After: 7), "error-500" answer with
// Google's error bodies; the rest follows the shared script (script.go): finishReason
// "STOP" (also for function calls), "MAX_TOKENS", or "SAFETY" with no content.
// generationConfig.candidateCount 2 gives two identical candidates.
type Gemini struct {
	*httptest.Server
	recorder
	// AcceptKey, when set, decides which AI Studio API keys are valid; others get Google's
	// 400 API_KEY_INVALID answer.
	AcceptKey func(key string) bool

	key   *rsa.PrivateKey
	keyID string

	tokMu     sync.Mutex
	tokens    map[string]bool
	exchanges int
}

// NewGemini starts the mock; it generates the service account's RSA key.
func NewGemini() *Gemini {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	m := &Gemini{key: key, keyID: "5f1c0d3e9a7b2c4d6e8f0a1b2c3d4e5f6a7b8c9d", tokens: map[string]bool{}}
	m.Server = httptest.NewServer(http.HandlerFunc(m.serve))
	return m
}

// ServiceAccountJSON returns a Google service-account key file for the mock's service
// account, whose token_uri is the mock's /token, plus a "region" field.
func (m *Gemini) ServiceAccountJSON(region string) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(m.key)
	if err != nil {
		panic(err)
	}
	b, _ := json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  VertexProject,
		"private_key_id":              m.keyID,
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                VertexClientEmail,
		"client_id":                   "109876543210987654321",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   m.URL + "/token",
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/sa%40mock-project.iam.gserviceaccount.com",
		"universe_domain":             "googleapis.com",
		"region":                      region,
	}, "", "  ")
	return b
}

// TokenExchanges is how many access tokens /token has issued.
func (m *Gemini) TokenExchanges() int {
	m.tokMu.Lock()
	defer m.tokMu.Unlock()
	return m.exchanges
}

// RevokeTokens makes every access token issued so far invalid (VertexDirectToken stays valid).
func (m *Gemini) RevokeTokens() {
	m.tokMu.Lock()
	m.tokens = map[string]bool{}
	m.tokMu.Unlock()
}

func geminiError(w http.ResponseWriter, code int, status, msg string, details ...any) {
	e := map[string]any{"code": code, "message": msg, "status": status}
	if len(details) > 0 {
		e["details"] = details
	}
	writeJSON(w, code, map[string]any{"error": e})
}

func (m *Gemini) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m.record(r, body)
	if r.URL.Path == "/token" && r.Method == http.MethodPost {
		m.token(w, body)
		return
	}
	segs := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	var vertex bool
	var last string
	switch {
	case len(segs) == 3 && (segs[0] == "v1beta" || segs[0] == "v1" || segs[0] == "v1alpha") && segs[1] == "models":
		last = segs[2]
	case len(segs) == 9 && (segs[0] == "v1" || segs[0] == "v1beta1") && segs[1] == "projects" && segs[3] == "locations" &&
		segs[5] == "publishers" && segs[6] == "google" && segs[7] == "models":
		vertex = true
		last = segs[8]
	}
	model, method, _ := strings.Cut(last, ":")
	if r.Method != http.MethodPost || model == "" || (method != "generateContent" && method != "streamGenerateContent") {
		geminiError(w, 404, "NOT_FOUND", "Requested entity was not found.")
		return
	}
	if vertex {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		m.tokMu.Lock()
		valid := ok && (tok == VertexDirectToken || m.tokens[tok])
		m.tokMu.Unlock()
		if !valid {
			geminiError(w, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.")
			return
		}
		if segs[2] != VertexProject {
			geminiError(w, 403, "PERMISSION_DENIED", fmt.Sprintf("Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/projects/%s/locations/%s/publishers/google/models/%s' (or it may not exist).", segs[2], segs[4], model))
			return
		}
	} else {
		key := r.Header.Get("x-goog-api-key")
		if key == "" {
			key = r.URL.Query().Get("key")
		}
		if key == "" {
			geminiError(w, 403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.")
			return
		}
		if m.AcceptKey != nil && !m.AcceptKey(key) {
			geminiError(w, 400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
				map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com",
					"metadata": map[string]string{"service": "generativelanguage.googleapis.com"}})
			return
		}
	}
	m.generate(w, r, body, model, method == "streamGenerateContent", segs[0])
}

type geminiPart struct {
	Text       *string `json:"text"`
	Thought    bool    `json:"thought"`
	InlineData *struct {
		MimeType string `json:"mimeType"`
		Data     string `json:"data"`
	} `json:"inlineData"`
	FileData *struct {
		MimeType string `json:"mimeType"`
		FileURI  string `json:"fileUri"`
	} `json:"fileData"`
	FunctionCall *struct {
		ID   string          `json:"id"`
		Name string          `json:"name"`
		Args json.RawMessage `json:"args"`
	} `json:"functionCall"`
	FunctionResponse *struct {
		ID       string          `json:"id"`
		Name     string          `json:"name"`
		Response json.RawMessage `json:"response"`
	} `json:"functionResponse"`
	ExecutableCode      json.RawMessage `json:"executableCode"`
	CodeExecutionResult json.RawMessage `json:"codeExecutionResult"`
}

type geminiContent struct {
	Role  string       `json:"role"`
	Parts []geminiPart `json:"parts"`
}

type geminiRequest struct {
	Contents          []geminiContent `json:"contents"`
	SystemInstruction *geminiContent  `json:"systemInstruction"`
	Tools             []struct {
		FunctionDeclarations []struct {
			Name                 string          `json:"name"`
			Description          string          `json:"description"`
			Parameters           json.RawMessage `json:"parameters"`
			ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema"`
		} `json:"functionDeclarations"`
	} `json:"tools"`
	ToolConfig *struct {
		FunctionCallingConfig *struct {
			Mode                 string   `json:"mode"`
			AllowedFunctionNames []string `json:"allowedFunctionNames"`
		} `json:"functionCallingConfig"`
	} `json:"toolConfig"`
	GenerationConfig *struct {
		CandidateCount int `json:"candidateCount"`
	} `json:"generationConfig"`
}

// opaqueFields hold caller data whose keys must not be renamed.
var opaqueFields = map[string]bool{"args": true, "response": true, "parameters": true, "parametersJsonSchema": true,
	"responseSchema": true, "responseJsonSchema": true, "labels": true, "metadata": true}

// camelKeys renames snake_case keys to lowerCamel, since Google's JSON parser accepts both
// (its REST examples use inline_data, mime_type, ...).
func camelKeys(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			parts := strings.Split(k, "_")
			for i := 1; i < len(parts); i++ {
				if parts[i] != "" {
					parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
				}
			}
			ck := strings.Join(parts, "")
			if opaqueFields[ck] {
				out[ck] = val
			} else {
				out[ck] = camelKeys(val)
			}
		}
		return out
	case []any:
		for i := range x {
			x[i] = camelKeys(x[i])
		}
		return x
	}
	return v
}

// check validates the request the way the API does; it returns the error message.
func (req *geminiRequest) check() string {
	if len(req.Contents) == 0 {
		return "* GenerateContentRequest.contents: contents is not specified\n"
	}
	for i, c := range req.Contents {
		if c.Role != "" && c.Role != "user" && c.Role != "model" && c.Role != "function" {
			return "Please use a valid role: user, model."
		}
		if len(c.Parts) == 0 {
			return fmt.Sprintf("* GenerateContentRequest.contents[%d].parts: contents.parts must not be empty.\n", i)
		}
		for j, p := range c.Parts {
			n := 0
			for _, set := range []bool{p.Text != nil, p.InlineData != nil, p.FileData != nil, p.FunctionCall != nil,
				p.FunctionResponse != nil, p.ExecutableCode != nil, p.CodeExecutionResult != nil} {
				if set {
					n++
				}
			}
			at := fmt.Sprintf("contents[%d].parts[%d]", i, j)
			if n != 1 {
				return fmt.Sprintf("* GenerateContentRequest.%s.data: required oneof field 'data' must have one initialized field\n", at)
			}
			if d := p.InlineData; d != nil {
				if _, err := base64.StdEncoding.DecodeString(d.Data); err != nil {
					if _, err := base64.URLEncoding.DecodeString(d.Data); err != nil {
						return fmt.Sprintf("Invalid value at '%s.inline_data.data' (TYPE_BYTES), Base64 decoding failed", at)
					}
				}
				if d.MimeType == "" {
					return fmt.Sprintf("* GenerateContentRequest.%s.inline_data.mime_type: mime_type must be set\n", at)
				}
			}
			if p.FunctionCall != nil && p.FunctionCall.Name == "" {
				return fmt.Sprintf("* GenerateContentRequest.%s.function_call.name: Name cannot be empty.\n", at)
			}
			if p.FunctionResponse != nil && p.FunctionResponse.Name == "" {
				return fmt.Sprintf("* GenerateContentRequest.%s.function_response.name: Name cannot be empty.\n", at)
			}
		}
	}
	for i, t := range req.Tools {
		for j, f := range t.FunctionDeclarations {
			if f.Name == "" {
				return fmt.Sprintf("* GenerateContentRequest.tools[%d].function_declarations[%d].name: Name cannot be empty.\n", i, j)
			}
			if len(f.Parameters) > 0 && len(f.ParametersJSONSchema) > 0 {
				return fmt.Sprintf("* GenerateContentRequest.tools[%d].function_declarations[%d]: parameters and parameters_json_schema cannot both be set.\n", i, j)
			}
		}
	}
	return ""
}

func (req *geminiRequest) conversation(model string) conversation {
	c := conversation{model: model}
	var allowed []string
	if tc := req.ToolConfig; tc != nil && tc.FunctionCallingConfig != nil {
		c.none = strings.EqualFold(tc.FunctionCallingConfig.Mode, "NONE")
		allowed = tc.FunctionCallingConfig.AllowedFunctionNames
	}
	for _, t := range req.Tools {
		for _, f := range t.FunctionDeclarations {
			if len(allowed) == 0 || slices.Contains(allowed, f.Name) {
				c.tools = append(c.tools, f.Name)
			}
		}
	}
	last := req.Contents[len(req.Contents)-1]
	if last.Role == "model" {
		return c
	}
	var text strings.Builder
	for _, p := range last.Parts {
		if p.FunctionResponse != nil {
			c.lastToolResult = true
			c.toolText = compactJSON(p.FunctionResponse.Response)
		} else if p.Text != nil && !p.Thought {
			text.WriteString(*p.Text)
		}
	}
	c.lastUser, c.lastText = !c.lastToolResult, text.String()
	return c
}

func (m *Gemini) generate(w http.ResponseWriter, r *http.Request, body []byte, model string, stream bool, version string) {
	var raw any
	var req geminiRequest
	if err := json.Unmarshal(body, &raw); err != nil {
		geminiError(w, 400, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error())
		return
	}
	norm, _ := json.Marshal(camelKeys(raw))
	if err := json.Unmarshal(norm, &req); err != nil {
		geminiError(w, 400, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error())
		return
	}
	switch model {
	case "error-401":
		geminiError(w, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.")
		return
	case "error-404":
		geminiError(w, 404, "NOT_FOUND", fmt.Sprintf("models/%s is not found for API version %s, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.", model, version))
		return
	case "error-429":
		w.Header().Set("Retry-After", RetryAfter)
		geminiError(w, 429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).",
			map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": RetryAfter + "s"})
		return
	case "error-500":
		geminiError(w, 500, "INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting")
		return
	}
	if e := req.check(); e != "" {
		geminiError(w, 400, "INVALID_ARGUMENT", e)
		return
	}
	n := 1
	if g := req.GenerationConfig; g != nil && g.CandidateCount > 1 {
		n = g.CandidateCount
	}
	ans := play(req.conversation(model))
	finish := map[stop]string{stopEnd: "STOP", stopMaxTokens: "MAX_TOKENS", stopSafety: "SAFETY", stopToolUse: "STOP"}[ans.stop]
	usage := map[string]any{"promptTokenCount": GeminiInputTokens, "candidatesTokenCount": n * GeminiOutputTokens,
		"totalTokenCount": GeminiInputTokens + n*GeminiOutputTokens, "cachedContentTokenCount": GeminiCachedTokens}
	var calls []any
	for _, tc := range ans.calls {
		calls = append(calls, map[string]any{"functionCall": map[string]any{"id": tc.ID, "name": tc.Name, "args": json.RawMessage(tc.Args)}})
	}
	// chunk is one GenerateContentResponse with parts (nil: no content) for every candidate.
	chunk := func(parts []any, finish string, usage map[string]any) map[string]any {
		var cands []any
		for i := range n {
			c := map[string]any{"index": i}
			if parts != nil {
				c["content"] = map[string]any{"role": "model", "parts": parts}
			}
			if finish != "" {
				c["finishReason"] = finish
			}
			if finish == "SAFETY" {
				c["safetyRatings"] = []any{map[string]any{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true}}
			}
			cands = append(cands, c)
		}
		return map[string]any{"candidates": cands, "usageMetadata": usage, "modelVersion": model, "responseId": "resp_mock01"}
	}
	var chunks []map[string]any
	switch {
	case ans.stop == stopSafety:
		chunks = append(chunks, chunk(nil, finish, usage))
	case len(calls) > 0:
		chunks = append(chunks, chunk(calls, finish, usage))
	default:
		ws := words(ans.text)
		for i, word := range ws {
			if i == len(ws)-1 {
				chunks = append(chunks, chunk([]any{map[string]any{"text": word}}, finish, usage))
			} else {
				chunks = append(chunks, chunk([]any{map[string]any{"text": word}}, "",
					map[string]any{"promptTokenCount": GeminiInputTokens, "totalTokenCount": GeminiInputTokens}))
			}
		}
	}
	if !stream {
		resp := chunk(nil, finish, usage)
		if ans.stop != stopSafety {
			parts := calls
			if len(calls) == 0 {
				parts = []any{map[string]any{"text": ans.text}}
			}
			resp = chunk(parts, finish, usage)
		}
		writeJSON(w, 200, resp)
		return
	}
	if r.URL.Query().Get("alt") == "sse" {
		out := startSSE(w, "text/event-stream")
		for _, c := range chunks {
			b, _ := json.Marshal(c)
			out.write("data: " + string(b) + "\r\n\r\n")
		}
		return
	}
	// Without alt=sse the stream is one JSON array, written element by element.
	out := startSSE(w, "application/json; charset=UTF-8")
	for i, c := range chunks {
		b, _ := json.Marshal(c)
		sep := ",\r\n"
		if i == 0 {
			sep = "["
		}
		out.write(sep + string(b))
	}
	out.write("]")
}

// token is the OAuth 2.0 token endpoint for the JWT-bearer grant (RFC 7523) used by
// service accounts.
func (m *Gemini) token(w http.ResponseWriter, body []byte) {
	fail := func(code, desc string) {
		writeJSON(w, 400, map[string]string{"error": code, "error_description": desc})
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		fail("invalid_request", "Could not parse the request body.")
		return
	}
	if gt := form.Get("grant_type"); gt != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		fail("unsupported_grant_type", "Invalid grant_type: "+gt)
		return
	}
	assertion := form.Get("assertion")
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		fail("invalid_grant", "Invalid JWT: malformed assertion.")
		return
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err != nil || json.Unmarshal(hb, &hdr) != nil || hdr.Alg != "RS256" || (hdr.Kid != "" && hdr.Kid != m.keyID) {
		fail("invalid_grant", "Invalid JWT Signature.")
		return
	}
	if jws.Verify(assertion, &m.key.PublicKey) != nil {
		fail("invalid_grant", "Invalid JWT Signature.")
		return
	}
	claims, err := jws.Decode(assertion)
	if err != nil {
		fail("invalid_grant", "Invalid JWT: malformed claims.")
		return
	}
	now := time.Now().Unix()
	switch {
	case claims.Iss != VertexClientEmail:
		fail("invalid_grant", "Invalid email or User ID")
	case claims.Aud != m.URL+"/token":
		fail("invalid_grant", "Invalid JWT: Failed audience check. The right audience is "+m.URL+"/token")
	case claims.Exp <= now || claims.Iat > now+300 || claims.Exp-claims.Iat > 3600:
		fail("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
	case !slices.Contains(strings.Fields(claims.Scope), "https://www.googleapis.com/auth/cloud-platform"):
		fail("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
	default:
		m.tokMu.Lock()
		m.exchanges++
		tok := fmt.Sprintf("ya29.mock-%d", m.exchanges)
		m.tokens[tok] = true
		m.tokMu.Unlock()
		writeJSON(w, 200, map[string]any{"access_token": tok, "expires_in": 3600, "token_type": "Bearer"})
	}
}
