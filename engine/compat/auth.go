// auth.go reads Google Vertex AI credentials for the unified API: a service account JSON
// (raw or base64, with a "region" key) is exchanged for an OAuth access token with
// golang.org/x/oauth2 and the token cached until it expires; any other key is used as a
// direct access token. The other providers' schemes are in call.go (headers) and
// bedrock.go (SigV4).
package compat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	json "github.com/goccy/go-json"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
)

// vertexScope is the OAuth scope Vertex AI needs.
const vertexScope = "https://www.googleapis.com/auth/cloud-platform"

// Env is what building a call may need beyond the request itself.
type Env struct {
	Vertex *VertexTokens
}

// VertexTokens exchanges service accounts for access tokens and caches them.
type VertexTokens struct {
	client   *http.Client
	checkURL func(string) error
	mu       sync.Mutex
	sources  map[[32]byte]oauth2.TokenSource
}

// maxCachedAccounts bounds the token cache; past it the cache starts afresh.
const maxCachedAccounts = 1024

// NewVertexTokens builds the exchanger. checkURL vets a service account's token_uri (it
// comes from the client, so it must not reach the gateway's own network).
func NewVertexTokens(client *http.Client, checkURL func(string) error) *VertexTokens {
	return &VertexTokens{client: client, checkURL: checkURL, sources: map[[32]byte]oauth2.TokenSource{}}
}

// serviceAccount is the part of a service account JSON the gateway reads.
type serviceAccount struct {
	Type      string `json:"type"`
	ProjectID string `json:"project_id"`
	Region    string `json:"region"`
}

// parseServiceAccount recognises a service account JSON, raw or base64-encoded.
func parseServiceAccount(key string) ([]byte, *serviceAccount, bool) {
	raw := []byte(strings.TrimSpace(key))
	if len(raw) == 0 {
		return nil, nil, false
	}
	if raw[0] != '{' {
		dec, err := base64.StdEncoding.DecodeString(string(raw))
		if err != nil {
			if dec, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(string(raw), "=")); err != nil {
				return nil, nil, false
			}
		}
		raw = []byte(strings.TrimSpace(string(dec)))
		if len(raw) == 0 || raw[0] != '{' {
			return nil, nil, false
		}
	}
	var sa serviceAccount
	if json.Unmarshal(raw, &sa) != nil {
		return nil, nil, false
	}
	return raw, &sa, true
}

func credentialError(msg string) *Error {
	return &Error{Status: 401, Type: "authentication_error", Code: "invalid_credentials", Message: msg}
}

// vertexCredentials sets the bearer token, project and region of a Vertex call.
func vertexCredentials(c *Call, cred Credential, env *Env) *Error {
	if strings.HasPrefix(c.Model, "projects/") {
		c.resource = c.Model
	}
	if cred.Key == "" {
		return nil
	}
	raw, sa, ok := parseServiceAccount(cred.Key)
	if !ok {
		c.Headers = append(c.Headers, Header{"Authorization", "Bearer " + cred.Key}) // a direct access token
		return nil
	}
	if sa.Type != "service_account" {
		return credentialError("google-vertex-ai: the credentials JSON must be a service account key (type service_account)")
	}
	if sa.Region == "" && c.resource == "" {
		return credentialError(`google-vertex-ai: add a "region" key (for example "us-central1") to the service account JSON`)
	}
	tok, err := env.exchange(raw)
	if err != nil {
		return err
	}
	c.project, c.region = sa.ProjectID, sa.Region
	c.Headers = append(c.Headers, Header{"Authorization", "Bearer " + tok})
	return nil
}

// exchange turns a service account JSON into an access token, within 20 seconds.
func (env *Env) exchange(raw []byte) (string, *Error) {
	if env == nil || env.Vertex == nil {
		return "", credentialError("google-vertex-ai: service account exchange is not available on this gateway")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return env.Vertex.Token(ctx, raw)
}

// VertexAuthorization is the Authorization value of a call to Vertex AI's own API (the
// provider endpoint) made with key: a service account JSON, raw or base64 (the client's
// Authorization or a stored key), is exchanged for an access token, cached until near
// its expiry; anything else is an access token already. exchanged reports the first case.
func (env *Env) VertexAuthorization(key string) (value string, exchanged bool, err *Error) {
	raw, sa, ok := parseServiceAccount(key)
	if !ok {
		return "Bearer " + strings.TrimSpace(key), false, nil
	}
	if sa.Type != "service_account" {
		return "", true, credentialError("google-vertex-ai: the credentials JSON must be a service account key (type service_account)")
	}
	tok, err := env.exchange(raw)
	if err != nil {
		return "", true, err
	}
	return "Bearer " + tok, true, nil
}

// NormalizeVertexKey checks a key stored for google-vertex-ai: a service account JSON
// (raw, possibly over several lines, or base64) with the "region" the hosted dashboard adds
// to it. It answers the JSON on one line, as stored.
func NormalizeVertexKey(secret string) (string, error) {
	raw, sa, ok := parseServiceAccount(secret)
	switch {
	case !ok:
		return "", errors.New(`a google-vertex-ai key is a service account JSON key (raw or base64) with a "region" key, for example "us-central1"`)
	case sa.Type != "service_account":
		return "", errors.New("a google-vertex-ai key must be a service account key (type service_account)")
	case sa.Region == "" || strings.ContainsAny(sa.Region, "/.: "):
		return "", errors.New(`add the region to the service account JSON as a "region" key, for example "us-central1"`)
	}
	if _, err := google.JWTConfigFromJSON(raw, vertexScope); err != nil {
		return "", errors.New("the service account JSON cannot be used: " + err.Error())
	}
	var one bytes.Buffer
	if err := json.Compact(&one, raw); err != nil {
		return "", errors.New("the service account JSON is not valid JSON")
	}
	return one.String(), nil
}

// Token returns a valid access token for a service account JSON.
func (v *VertexTokens) Token(ctx context.Context, saJSON []byte) (string, *Error) {
	sum := sha256.Sum256(saJSON)
	v.mu.Lock()
	src, ok := v.sources[sum]
	v.mu.Unlock()
	if !ok {
		conf, err := google.JWTConfigFromJSON(saJSON, vertexScope)
		if err != nil {
			return "", credentialError("google-vertex-ai: the service account JSON cannot be used: " + err.Error())
		}
		if v.checkURL != nil {
			if err := v.checkURL(conf.TokenURL); err != nil {
				return "", credentialError("google-vertex-ai: the service account's token_uri is refused: " + err.Error())
			}
		}
		// The source outlives this request: it refreshes with its own background context.
		src = conf.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, v.client))
		v.mu.Lock()
		if len(v.sources) >= maxCachedAccounts {
			v.sources = map[[32]byte]oauth2.TokenSource{}
		}
		v.sources[sum] = src
		v.mu.Unlock()
	}
	type result struct {
		tok *oauth2.Token
		err error
	}
	done := make(chan result, 1)
	go func() { t, err := src.Token(); done <- result{t, err} }()
	select {
	case r := <-done:
		if r.err != nil {
			v.mu.Lock()
			delete(v.sources, sum) // try afresh next time
			v.mu.Unlock()
			return "", credentialError("google-vertex-ai: the service account could not be exchanged for an access token: " + oauthReason(r.err))
		}
		return r.tok.AccessToken, nil
	case <-ctx.Done():
		return "", &Error{Status: 504, Type: "api_error", Code: "token_exchange_timeout", Message: "google-vertex-ai: the OAuth token exchange did not answer in time"}
	}
}

// oauthReason keeps the token endpoint's error code and description, nothing else.
func oauthReason(err error) string {
	if re, ok := err.(*oauth2.RetrieveError); ok {
		if re.ErrorCode != "" {
			return re.ErrorCode + " " + re.ErrorDescription
		}
		if re.Response != nil {
			return re.Response.Status
		}
	}
	return "the token endpoint could not be reached"
}
