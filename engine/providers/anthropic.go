// anthropic.go registers the anthropic provider: /anthropic/v1/messages → https://api.anthropic.com/v1/messages; key in x-api-key.
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:       "anthropic",
		BaseURL:    "https://api.anthropic.com",
		AuthHeader: "x-api-key",
		Usage:      usage.Anthropic,
	})
}
