// perplexity-ai.go registers the perplexity-ai provider: /perplexity-ai/chat/completions → https://api.perplexity.ai/chat/completions; key in Authorization: Bearer.
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:       "perplexity-ai",
		BaseURL:    "https://api.perplexity.ai",
		AuthHeader: "Authorization",
		Usage:      usage.OpenAI,
	})
}
