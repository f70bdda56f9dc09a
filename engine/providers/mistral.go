// mistral.go registers the mistral provider: /mistral/v1/chat/completions → https://api.mistral.ai/v1/chat/completions; key in Authorization: Bearer.
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:       "mistral",
		BaseURL:    "https://api.mistral.ai",
		AuthHeader: "Authorization",
		Usage:      usage.OpenAI,
	})
}
