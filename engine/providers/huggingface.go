// huggingface.go registers Hugging Face inference: /huggingface/{org}/{model}
// → https://api-inference.huggingface.co/models/{org}/{model}; key as Authorization: Bearer.
package providers

import (
	"strings"

	"github.com/switchyard/switchyard/engine/usage"
)

func init() {
	Register(&Adapter{
		Slug:          "huggingface",
		BaseURL:       "https://api-inference.huggingface.co/models",
		AuthHeader:    "Authorization",
		Usage:         usage.OpenAI,
		ModelFromPath: func(rest string) string { return strings.TrimPrefix(rest, "/") },
	})
}
