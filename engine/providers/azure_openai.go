// azure_openai.go registers Azure OpenAI: /azure-openai/{resource}/{deployment}/chat/completions?api-version=…
// → https://{resource}.openai.azure.com/openai/deployments/{deployment}/chat/completions; key in api-key.
// The official SDKs' AzureOpenAI client, given /azure-openai/{resource}/ as its base URL, sends
// /deployments/{deployment}/… (or /openai/deployments/{deployment}/…): the same target.
package providers

import (
	"strings"

	"github.com/switchyard/switchyard/engine/usage"
)

func init() {
	Register(&Adapter{
		Slug:       "azure-openai",
		BaseURL:    "https://{resource}.openai.azure.com",
		AuthHeader: "api-key",
		Usage:      usage.OpenAI,
		Route: func(rest string) (Target, error) {
			s := segments(rest, 3)
			if len(s) == 3 {
				// The SDK's shape: {resource}/[openai/]deployments/{deployment}/…
				after := s[2]
				if s[1] == "openai" {
					after = strings.TrimPrefix(after, "deployments/")
				}
				if (s[1] == "deployments" || (s[1] == "openai" && after != s[2])) && strings.Contains(after, "/") {
					d, op, _ := strings.Cut(after, "/")
					s = []string{s[0], d, op}
				}
			}
			if len(s) < 3 || !validHostPart(s[0]) || s[1] == "" {
				return Target{}, ErrBadPath
			}
			return Target{
				Path:  "/openai/deployments/" + s[1] + "/" + s[2],
				Fill:  map[string]string{"resource": s[0]},
				Model: s[1],
			}, nil
		},
	})
}
