// replicate.go registers the replicate provider: /replicate/predictions → https://api.replicate.com/v1/predictions; key in Authorization: Bearer (or Token).
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:       "replicate",
		BaseURL:    "https://api.replicate.com/v1",
		AuthHeader: "Authorization",
		Usage:      usage.None,
	})
}
