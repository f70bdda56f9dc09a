// guardrails.go reads a gateway's guardrails setting in the hosted shape (cloudflare-go v7
// ai_gateway): "prompt" and "response" each map a hazard category (Llama Guard 3's S1–S14,
// and P1, prompt injection) to FLAG or BLOCK; absent, null or "IGNORE" is not acted on.
// Switchyard adds an optional "model": the guard model that judges, {provider, model,
// timeout_ms}. A malformed setting is refused with the field named; the engine acts on the
// parsed settings.
package config

import (
	"bytes"
	"slices"
	"strconv"
	"strings"

	json "github.com/goccy/go-json"
)

// Guardrails actions.
const (
	GuardFlag   = "FLAG"
	GuardBlock  = "BLOCK"
	GuardIgnore = "IGNORE"
)

// The default guard model: the hosted product's, Llama Guard 3 8B on Workers AI.
const (
	DefaultGuardProvider  = "workers-ai"
	DefaultGuardModel     = "@cf/meta/llama-guard-3-8b"
	DefaultGuardTimeoutMs = 10000
	maxGuardTimeoutMs     = 60000
)

// GuardrailCategories are the categories a guardrails side may name, in the dashboard's order:
// Llama Guard 3's hazard categories S1–S14 and P1 (prompt injection / jailbreaks).
var GuardrailCategories = []string{"S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "S10", "S11", "S12", "S13", "S14", "P1"}

// GuardrailsSettings are a gateway's guardrails: for each side, the categories acted on and
// how (FLAG or BLOCK; ignored categories are left out), and the guard model.
type GuardrailsSettings struct {
	Prompt, Response map[string]string
	// Provider is the provider slug the guard model is called through (a built-in provider
	// or custom-{slug}); Model is its model; TimeoutMs bounds each call.
	Provider, Model string
	TimeoutMs       int
}

type guardrailsBody struct {
	Prompt   json.RawMessage `json:"prompt"`
	Response json.RawMessage `json:"response"`
	Model    json.RawMessage `json:"model"`
}

type guardModelBody struct {
	Provider  *string `json:"provider"`
	Model     *string `json:"model"`
	TimeoutMs *int    `json:"timeout_ms"`
}

// ParseGuardrails reads a guardrails setting. It answers nil when the setting is absent,
// null or acts on no category (every one ignored), and an error naming the field at fault.
func ParseGuardrails(raw json.RawMessage) (*GuardrailsSettings, *Error) {
	if !setRaw(raw) {
		return nil, nil
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return nil, invalid("guardrails must be an object {prompt, response}", "body", "guardrails")
	}
	for k := range keys {
		if k != "prompt" && k != "response" && k != "model" {
			return nil, invalid("guardrails."+k+" is not a guardrails setting (prompt, response, model)", "body", "guardrails", k)
		}
	}
	var b guardrailsBody
	_ = json.Unmarshal(raw, &b) // an object: checked above
	s := &GuardrailsSettings{Provider: DefaultGuardProvider, Model: DefaultGuardModel, TimeoutMs: DefaultGuardTimeoutMs}
	var e *Error
	if s.Prompt, e = parseGuardSide(b.Prompt, "prompt"); e != nil {
		return nil, e
	}
	if s.Response, e = parseGuardSide(b.Response, "response"); e != nil {
		return nil, e
	}
	if e = parseGuardModel(b.Model, s); e != nil {
		return nil, e
	}
	if len(s.Prompt) == 0 && len(s.Response) == 0 {
		return nil, nil
	}
	return s, nil
}

func parseGuardSide(raw json.RawMessage, side string) (map[string]string, *Error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, invalid("guardrails."+side+" must be an object mapping a category (S1…S14, P1) to FLAG or BLOCK", "body", "guardrails", side)
	}
	out := map[string]string{}
	for cat, v := range m {
		field := "guardrails." + side + "." + cat
		if !slices.Contains(GuardrailCategories, cat) {
			return nil, invalid(field+" is not a guardrails category (S1…S14, P1)", "body", "guardrails", side, cat)
		}
		if string(bytes.TrimSpace(v)) == "null" {
			continue
		}
		var a string
		if err := json.Unmarshal(v, &a); err != nil {
			return nil, invalid(field+" must be FLAG, BLOCK or IGNORE", "body", "guardrails", side, cat)
		}
		switch a = strings.ToUpper(strings.TrimSpace(a)); a {
		case GuardFlag, GuardBlock:
			out[cat] = a
		case GuardIgnore:
		default:
			return nil, invalid(field+" must be FLAG, BLOCK or IGNORE, not "+strconv.Quote(a), "body", "guardrails", side, cat)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func parseGuardModel(raw json.RawMessage, s *GuardrailsSettings) *Error {
	if !setRaw(raw) {
		return nil
	}
	var b guardModelBody
	if err := json.Unmarshal(raw, &b); err != nil {
		return invalid("guardrails.model must be an object {provider, model, timeout_ms}", "body", "guardrails", "model")
	}
	if b.Provider != nil {
		p := *b.Provider
		if !validGuardProvider(p) {
			return invalid("guardrails.model.provider must be a provider slug (workers-ai, openai, custom-{slug}, …)", "body", "guardrails", "model", "provider")
		}
		s.Provider = p
		if b.Model == nil && p != DefaultGuardProvider {
			return invalid("guardrails.model.model is required when guardrails.model.provider is not workers-ai", "body", "guardrails", "model", "model")
		}
	}
	if b.Model != nil {
		m := *b.Model
		if m == "" || len(m) > 256 || strings.ContainsAny(m, " \t\r\n?#\\\"") || strings.Contains(m, "..") {
			return invalid("guardrails.model.model must be a model name (no spaces, ?, #, or ..)", "body", "guardrails", "model", "model")
		}
		s.Model = m
	}
	if b.TimeoutMs != nil {
		if *b.TimeoutMs < 1 || *b.TimeoutMs > maxGuardTimeoutMs {
			return invalid("guardrails.model.timeout_ms must be between 1 and "+strconv.Itoa(maxGuardTimeoutMs), "body", "guardrails", "model", "timeout_ms")
		}
		s.TimeoutMs = *b.TimeoutMs
	}
	return nil
}

// validGuardProvider: a provider slug's shape (lower-case letters, digits, dashes).
func validGuardProvider(p string) bool {
	if p == "" || len(p) > 80 || p[0] == '-' || p[len(p)-1] == '-' {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
