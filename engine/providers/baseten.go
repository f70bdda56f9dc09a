// baseten.go registers the baseten provider: /baseten/v1/chat/completions and /baseten/chat/completions → https://inference.baseten.co/v1/chat/completions; key in Authorization: Bearer.
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:       "baseten",
		BaseURL:    "https://inference.baseten.co",
		AuthHeader: "Authorization",
		Usage:      usage.OpenAI,
		Route:      versioned("/v1", "v1/"),
	})
}
