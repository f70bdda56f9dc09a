// Package config is the configuration projection and its command side: gateways, API
// tokens, stored provider keys and custom providers. Writes validate against the current
// snapshot and append a config.changed event; the projection applies events to an
// immutable Snapshot that the data plane reads through an atomic pointer.
//
// model.go holds the resources as they are stored in events and answered by the API
// (hosted field names, cloudflare-go v7 ai_gateway types).
package config

import (
	"encoding/json"
	"time"
)

// Resource names used in events and audit entries.
const (
	ResGateway        = "gateway"
	ResToken          = "token"
	ResProviderConfig = "provider_config"
	ResCustomProvider = "custom_provider"
)

// Gateway is one gateway's settings. Nullable hosted fields are pointers. dlp,
// guardrails, otel, spend_limits and stripe are kept as sent, for the features that use them.
type Gateway struct {
	ID                      string          `json:"id"`
	AccountID               string          `json:"account_id"`
	CacheInvalidateOnUpdate bool            `json:"cache_invalidate_on_update"`
	CacheTTL                *int64          `json:"cache_ttl"`
	CollectLogs             bool            `json:"collect_logs"`
	RateLimitingInterval    *int64          `json:"rate_limiting_interval"`
	RateLimitingLimit       *int64          `json:"rate_limiting_limit"`
	RateLimitingTechnique   string          `json:"rate_limiting_technique"`
	Authentication          bool            `json:"authentication"`
	LogManagement           *int64          `json:"log_management"`
	LogManagementStrategy   *string         `json:"log_management_strategy"`
	Logpush                 bool            `json:"logpush"`
	LogpushPublicKey        *string         `json:"logpush_public_key"`
	RetryMaxAttempts        *int64          `json:"retry_max_attempts"`
	RetryDelay              *int64          `json:"retry_delay"`
	RetryBackoff            *string         `json:"retry_backoff"`
	LogClassification       bool            `json:"log_classification"`
	Zdr                     bool            `json:"zdr"`
	StoreID                 *string         `json:"store_id"`
	WorkersAIBillingMode    string          `json:"workers_ai_billing_mode,omitempty"`
	DLP                     json.RawMessage `json:"dlp,omitempty"`
	Guardrails              json.RawMessage `json:"guardrails,omitempty"`
	Otel                    json.RawMessage `json:"otel,omitempty"`
	SpendLimits             json.RawMessage `json:"spend_limits,omitempty"`
	Stripe                  json.RawMessage `json:"stripe,omitempty"`
	IsDefault               bool            `json:"is_default"`
	CreatedAt               time.Time       `json:"created_at"`
	ModifiedAt              time.Time       `json:"modified_at"`
}

// Token permissions.
const (
	PermRun   = "run"   // data plane (cf-aig-authorization)
	PermRead  = "read"  // control API reads
	PermEdit  = "edit"  // control API reads and writes
	PermAdmin = "admin" // everything, including tokens
)

// Token is an API token as stored: never its value, only a salted SHA-256 of it.
type Token struct {
	ID          string    `json:"id"`
	AccountID   string    `json:"account_id"`
	Name        string    `json:"name"`
	Permissions []string  `json:"permissions"`
	Gateways    []string  `json:"gateways"`
	Hint        string    `json:"hint"`
	Salt        string    `json:"salt,omitempty"`
	Hash        string    `json:"hash,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// Has reports whether the token carries permission p (admin carries all; edit carries read).
func (t *Token) Has(p string) bool {
	for _, q := range t.Permissions {
		if q == p || q == PermAdmin || (p == PermRead && q == PermEdit) {
			return true
		}
	}
	return false
}

// CoversGateway reports whether the token may act on gateway gw (no list means all).
func (t *Token) CoversGateway(gw string) bool {
	if len(t.Gateways) == 0 {
		return true
	}
	for _, g := range t.Gateways {
		if g == gw {
			return true
		}
	}
	return false
}

// ProviderKey is a stored provider key (BYOK) in the hosted provider_configs shape. The key
// itself is sealed in the secrets bucket under SecretRef; only the projection's copy in
// memory (secret) holds it in clear.
type ProviderKey struct {
	ID              string    `json:"id"`
	AccountID       string    `json:"account_id"`
	GatewayID       string    `json:"gateway_id"`
	ProviderSlug    string    `json:"provider_slug"`
	Alias           string    `json:"alias"`
	DefaultConfig   bool      `json:"default_config"`
	SecretID        string    `json:"secret_id"`
	SecretRef       string    `json:"secret_ref"`
	SecretPreview   string    `json:"secret_preview"`
	RateLimit       float64   `json:"rate_limit"`
	RateLimitPeriod float64   `json:"rate_limit_period"`
	CreatedAt       time.Time `json:"created_at"`
	ModifiedAt      time.Time `json:"modified_at"`

	secret string
	status string
}

// Secret is the provider key in clear, for the upstream request only.
func (k *ProviderKey) Secret() string { return k.secret }

// Status is "active", or "unavailable" when the sealed key could not be read or opened
// (a missing bucket entry or a different master key).
func (k *ProviderKey) Status() string { return k.status }

// CustomProvider is an operator-defined provider reachable as custom-{slug}.
type CustomProvider struct {
	ID          string    `json:"id"`
	AccountID   string    `json:"account_id"`
	Name        string    `json:"name"`
	Slug        string    `json:"slug"`
	BaseURL     string    `json:"base_url"`
	Description string    `json:"description"`
	Link        string    `json:"link"`
	Enable      bool      `json:"enable"`
	Beta        bool      `json:"beta"`
	CurlExample string    `json:"curl_example"`
	JSExample   string    `json:"js_example"`
	Headers     string    `json:"headers"`
	Logo        string    `json:"logo"`
	Position    int64     `json:"position"`
	CreatedAt   time.Time `json:"created_at"`
	ModifiedAt  time.Time `json:"modified_at"`
}
