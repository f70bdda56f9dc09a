// elevenlabs.go registers the elevenlabs provider: /elevenlabs/v1/text-to-speech/{voice} → https://api.elevenlabs.io/v1/text-to-speech/{voice}; key in xi-api-key.
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:        "elevenlabs",
		BaseURL:     "https://api.elevenlabs.io",
		AuthHeader:  "xi-api-key",
		Usage:       usage.None,
		ModelFields: []string{"model_id"},
	})
}
