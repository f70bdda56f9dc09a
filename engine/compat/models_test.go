// models_test.go checks the unified API's model list: every model in models.json is
// priced, and the list shows those prices per token and per million, null when unknown.
package compat

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/engine/pricing"
)

// Every model the unified API lists by name must have a price, so the table covers every
// provider with a unified-API translation.
func TestEveryCatalogModelHasAPrice(t *testing.T) {
	var file struct {
		Models []struct {
			ID string `json:"id"`
		} `json:"models"`
	}
	if err := json.Unmarshal(catalogJSON, &file); err != nil {
		t.Fatal(err)
	}
	providers := map[string]bool{}
	for _, m := range file.Models {
		prov, _, _ := strings.Cut(m.ID, "/")
		providers[prov] = true
		if _, ok := pricing.Default().Lookup("compat", m.ID); !ok {
			t.Errorf("%s has no price in engine/pricing/prices.json", m.ID)
		}
	}
	if len(providers) < 15 {
		t.Fatalf("catalog covers only %d providers", len(providers))
	}
}

func TestModelListShowsPrices(t *testing.T) {
	b, err := json.Marshal(Models())
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Object      string `json:"object"`
		PricingAsOf string `json:"pricing_as_of"`
		Data        []struct {
			ID      string                     `json:"id"`
			OwnedBy string                     `json:"owned_by"`
			Pricing map[string]json.RawMessage `json:"pricing"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	if list.Object != "list" || list.PricingAsOf != pricing.Default().AsOf() || len(list.Data) != len(catalog) {
		t.Fatalf("list header: object %q, pricing_as_of %q, %d models", list.Object, list.PricingAsOf, len(list.Data))
	}
	want := map[string]map[string]string{ // id → field → JSON value
		"openai/gpt-4o-mini": {"input": "1.5e-7", "output": "6e-7", "cached_input": "7.5e-8",
			"input_per_million": "0.15", "output_per_million": "0.6", "cached_input_per_million": "0.075"},
		"anthropic/claude-sonnet-4-5": {"input": "0.000003", "output": "0.000015", "cached_input": "3e-7",
			"input_per_million": "3", "output_per_million": "15", "cached_input_per_million": "0.3"},
		"groq/llama-3.3-70b-versatile":                         {"input_per_million": "0.59", "cached_input_per_million": "0.59"},
		"perplexity-ai/sonar":                                  {"request": "0.005", "input_per_million": "1"},
		"parallel/speed":                                       {"request": "0.005", "input": "0", "output": "0"},
		"aws-bedrock/anthropic.claude-3-5-haiku-20241022-v1:0": {"input_per_million": "0.8", "output_per_million": "4"},
	}
	for _, m := range list.Data {
		if m.Pricing == nil {
			t.Errorf("%s: pricing is null", m.ID)
			continue
		}
		for field, v := range want[m.ID] {
			if got := string(m.Pricing[field]); got != v {
				t.Errorf("%s: pricing.%s = %s, want %s", m.ID, field, got, v)
			}
		}
		if _, has := m.Pricing["request"]; has && m.ID != "perplexity-ai/sonar" && m.ID != "perplexity-ai/sonar-pro" && m.ID != "parallel/speed" {
			t.Errorf("%s: a request fee it does not have", m.ID)
		}
	}
}

func TestUnknownPriceIsNull(t *testing.T) {
	b, err := json.Marshal(ModelInfo{ID: "acme/unknown", Object: "model", OwnedBy: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"pricing":null`) {
		t.Fatalf("an unpriced model must show pricing null, got %s", b)
	}
}
