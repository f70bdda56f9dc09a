// workers_ai.go registers Workers AI: /workers-ai/@cf/meta/llama-3.1-8b-instruct
// → https://api.cloudflare.com/client/v4/accounts/{account_id}/ai/run/@cf/meta/llama-3.1-8b-instruct,
// and the OpenAI-compatible /workers-ai/v1/… → …/ai/v1/…; the account is the gateway URL's.
package providers

import (
	"strings"

	"github.com/switchyard/switchyard/engine/usage"
)

func init() {
	Register(&Adapter{
		Slug:       "workers-ai",
		BaseURL:    "https://api.cloudflare.com/client/v4/accounts/{account_id}/ai",
		AuthHeader: "Authorization",
		Usage:      usage.OpenAI,
		Route: func(rest string) (Target, error) {
			p := strings.TrimPrefix(rest, "/")
			switch {
			case p == "":
				return Target{}, ErrBadPath
			case strings.HasPrefix(p, "v1/"):
				return Target{Path: "/" + p}, nil
			case strings.HasPrefix(p, "run/"):
				return Target{Path: "/" + p, Model: p[len("run/"):]}, nil
			default:
				return Target{Path: "/run/" + p, Model: p}, nil
			}
		},
	})
}
