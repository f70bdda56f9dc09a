// deepgram.go registers the deepgram provider: /deepgram/v1/listen → https://api.deepgram.com/v1/listen; key in Authorization: Token.
package providers

import (
	"net/url"
	"strings"

	"github.com/switchyard/switchyard/engine/usage"
)

func init() {
	Register(&Adapter{
		Slug:           "deepgram",
		BaseURL:        "https://api.deepgram.com",
		AuthHeader:     "Authorization",
		AuthScheme:     "Token ",
		Usage:          usage.None,
		ModelFromQuery: deepgramModel,
	})
}

// deepgramModel reads ?model=: speech-to-text models as named ("nova-3"), text-to-speech
// voices as their family ("aura-2-thalia-en" → "aura-2", "aura-asteria-en" → "aura"),
// which is what Deepgram prices.
func deepgramModel(query string) string {
	q, err := url.ParseQuery(query)
	if err != nil {
		return ""
	}
	m := strings.ToLower(q.Get("model"))
	switch {
	case strings.HasPrefix(m, "aura-2-"):
		return "aura-2"
	case strings.HasPrefix(m, "aura-"):
		return "aura"
	}
	return m
}
