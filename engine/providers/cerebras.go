// cerebras.go registers the cerebras provider: /cerebras/chat/completions → https://api.cerebras.ai/v1/chat/completions; key in Authorization: Bearer.
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:       "cerebras",
		BaseURL:    "https://api.cerebras.ai/v1",
		AuthHeader: "Authorization",
		Usage:      usage.OpenAI,
	})
}
