// groq.go registers the groq provider: /groq/chat/completions → https://api.groq.com/openai/v1/chat/completions; key in Authorization: Bearer.
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:       "groq",
		BaseURL:    "https://api.groq.com/openai/v1",
		AuthHeader: "Authorization",
		Usage:      usage.OpenAI,
	})
}
