// deepseek.go registers the deepseek provider: /deepseek/chat/completions → https://api.deepseek.com/chat/completions; key in Authorization: Bearer.
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:       "deepseek",
		BaseURL:    "https://api.deepseek.com",
		AuthHeader: "Authorization",
		Usage:      usage.OpenAI,
	})
}
