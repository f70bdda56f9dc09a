// replicate.go registers the replicate provider: /replicate/predictions → https://api.replicate.com/v1/predictions; key in Authorization: Bearer (or Token).
package providers

import "github.com/switchyard/switchyard/engine/usage"

func init() {
	Register(&Adapter{
		Slug:       "replicate",
		BaseURL:    "https://api.replicate.com/v1",
		AuthHeader: "Authorization",
		Usage:      usage.None,
		// "version" is "owner/name", "owner/name:hash" or a bare version hash.
		ModelFields: []string{"version"},
		// /models/{owner}/{name}/predictions names the model in the path.
		ModelFromPath: func(rest string) string {
			if p := segments(rest, 5); len(p) == 4 && p[0] == "models" && p[3] == "predictions" {
				return p[1] + "/" + p[2]
			}
			return ""
		},
	})
}
