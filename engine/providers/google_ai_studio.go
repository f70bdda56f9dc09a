// google_ai_studio.go registers Google AI Studio (Gemini API): /google-ai-studio/v1beta/models/{m}:generateContent
// → https://generativelanguage.googleapis.com/v1beta/models/{m}:generateContent; key in x-goog-api-key.
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:          "google-ai-studio",
		BaseURL:       "https://generativelanguage.googleapis.com",
		AuthHeader:    "x-goog-api-key",
		Usage:         usage.Google,
		ModelFromPath: func(rest string) string { return modelAfter(rest, "models/", ":/") },
	})
}
