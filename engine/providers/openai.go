// openai.go registers the openai provider: /openai/X → https://api.openai.com/v1/X; key in Authorization: Bearer.
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:       "openai",
		BaseURL:    "https://api.openai.com/v1",
		AuthHeader: "Authorization",
		Usage:      usage.OpenAI,
	})
}
