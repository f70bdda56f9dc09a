// deepgram.go registers the deepgram provider: /deepgram/v1/listen → https://api.deepgram.com/v1/listen; key in Authorization: Token.
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:       "deepgram",
		BaseURL:    "https://api.deepgram.com",
		AuthHeader: "Authorization",
		AuthScheme: "Token ",
		Usage:      usage.None,
	})
}
