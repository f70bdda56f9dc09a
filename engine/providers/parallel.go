// parallel.go registers the parallel provider: /parallel/v1/tasks/runs → https://api.parallel.ai/v1/tasks/runs; key in x-api-key.
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:       "parallel",
		BaseURL:    "https://api.parallel.ai",
		AuthHeader: "x-api-key",
		Usage:      usage.OpenAI,
	})
}
