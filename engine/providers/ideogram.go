// ideogram.go registers the ideogram provider: /ideogram/v1/ideogram-v3/generate → https://api.ideogram.ai/v1/ideogram-v3/generate; key in Api-Key.
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:       "ideogram",
		BaseURL:    "https://api.ideogram.ai",
		AuthHeader: "Api-Key",
		Usage:      usage.None,
	})
}
