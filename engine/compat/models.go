// models.go is the unified API's model list (GET .../compat/models): the catalog in
// models.json, in the OpenAI list shape, with the provider as owner and each model's price
// from engine/pricing.
package compat

import (
	_ "embed"
	"math"
	"strings"

	json "github.com/goccy/go-json"
	"github.com/switchyard/switchyard/engine/pricing"
)

//go:embed models.json
var catalogJSON []byte

// ModelInfo is one entry of the OpenAI model list.
type ModelInfo struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
	// Pricing is the model's list price; null when the price table does not know it.
	Pricing *ModelPricing `json:"pricing"`
}

// ModelPricing is a model's price in USD: input, output and cached_input per token (the
// unit of cf-aig-custom-cost), the same three per million tokens for reading, and request,
// a per-request fee, for the providers that charge one.
type ModelPricing struct {
	Input                 float64 `json:"input"`
	Output                float64 `json:"output"`
	CachedInput           float64 `json:"cached_input"`
	Request               float64 `json:"request,omitempty"`
	InputPerMillion       float64 `json:"input_per_million"`
	OutputPerMillion      float64 `json:"output_per_million"`
	CachedInputPerMillion float64 `json:"cached_input_per_million"`
}

// ModelList is the OpenAI list of models, plus the date of the prices.
type ModelList struct {
	Object      string      `json:"object"`
	Data        []ModelInfo `json:"data"`
	PricingAsOf string      `json:"pricing_as_of"`
}

var catalog = func() []ModelInfo {
	var file struct {
		Models []ModelInfo `json:"models"`
	}
	if err := json.Unmarshal(catalogJSON, &file); err != nil {
		panic("compat: models.json: " + err.Error())
	}
	for i := range file.Models {
		m := &file.Models[i]
		m.Object = "model"
		m.OwnedBy, _, _ = strings.Cut(m.ID, "/")
		if p, ok := pricing.Default().Lookup("compat", m.ID); ok {
			m.Pricing = modelPricing(p)
		}
	}
	return file.Models
}()

func modelPricing(p pricing.Price) *ModelPricing {
	return &ModelPricing{Input: p.Input, Output: p.Output, CachedInput: p.CachedInput, Request: p.Request,
		InputPerMillion: perMillion(p.Input), OutputPerMillion: perMillion(p.Output), CachedInputPerMillion: perMillion(p.CachedInput)}
}

// perMillion scales a per-token price, rounded to 9 decimals so 0.0000025 reads 2.5.
func perMillion(v float64) float64 { return math.Round(v*1e6*1e9) / 1e9 }

// Models returns the model list. The entries share their Pricing; callers must not change it.
func Models() ModelList {
	return ModelList{Object: "list", Data: append([]ModelInfo(nil), catalog...), PricingAsOf: pricing.Default().AsOf()}
}
