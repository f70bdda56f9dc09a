// cartesia.go registers the cartesia provider: /cartesia/tts/bytes → https://api.cartesia.ai/tts/bytes; key in X-API-Key.
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:        "cartesia",
		BaseURL:     "https://api.cartesia.ai",
		AuthHeader:  "X-API-Key",
		Usage:       usage.None,
		ModelFields: []string{"model_id"},
	})
}
