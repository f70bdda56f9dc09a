// openrouter.go registers the openrouter provider: /openrouter/v1/chat/completions and /openrouter/chat/completions → https://openrouter.ai/api/v1/chat/completions; key in Authorization: Bearer.
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:       "openrouter",
		BaseURL:    "https://openrouter.ai/api",
		AuthHeader: "Authorization",
		Usage:      usage.OpenAI,
		Route:      versioned("/v1", "v1/"),
	})
}
