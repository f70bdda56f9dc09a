// azure_openai.go registers Azure OpenAI: /azure-openai/{resource}/{deployment}/chat/completions?api-version=…
// → https://{resource}.openai.azure.com/openai/deployments/{deployment}/chat/completions; key in api-key.
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:       "azure-openai",
		BaseURL:    "https://{resource}.openai.azure.com",
		AuthHeader: "api-key",
		Usage:      usage.OpenAI,
		Route: func(rest string) (Target, error) {
			s := segments(rest, 3)
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
