// fal.go registers the fal provider: /fal/fal-ai/fast-sdxl → https://fal.run/fal-ai/fast-sdxl; key in Authorization: Key.
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:       "fal",
		BaseURL:    "https://fal.run",
		AuthHeader: "Authorization",
		AuthScheme: "Key ",
		Usage:      usage.None,
	})
}
