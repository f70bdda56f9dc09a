// ideogram.go registers the ideogram provider: /ideogram/v1/ideogram-v3/generate → https://api.ideogram.ai/v1/ideogram-v3/generate; key in Api-Key.
package providers

import (
	"strings"

	"github.com/switchyard/switchyard/engine/usage"
)

func init() {
	Register(&Adapter{
		Slug:       "ideogram",
		BaseURL:    "https://api.ideogram.ai",
		AuthHeader: "Api-Key",
		Usage:      usage.None,
		// The legacy /generate puts the model in image_request; /v1/ideogram-v3/... in the path.
		ModelFields: []string{"image_request.model"},
		ModelFromPath: func(rest string) string {
			if p := segments(rest, 3); len(p) == 3 && p[0] == "v1" && strings.HasPrefix(p[1], "ideogram-v") {
				return p[1]
			}
			return ""
		},
	})
}
