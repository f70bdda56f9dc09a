// grok.go registers the grok provider: /grok/v1/chat/completions and /grok/chat/completions → https://api.x.ai/v1/chat/completions; key in Authorization: Bearer.
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:       "grok",
		BaseURL:    "https://api.x.ai",
		AuthHeader: "Authorization",
		Usage:      usage.OpenAI,
		Route:      versioned("/v1", "v1/"),
	})
}
