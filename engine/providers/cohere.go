// cohere.go registers the cohere provider: /cohere/v2/chat → https://api.cohere.ai/v2/chat; /cohere/chat (no version) → /v1/chat; key in Authorization: Bearer (or Token).
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:       "cohere",
		BaseURL:    "https://api.cohere.ai",
		AuthHeader: "Authorization",
		Usage:      usage.Cohere,
		Route:      versioned("/v1", "v1/", "v2/"),
	})
}
