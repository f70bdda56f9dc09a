// fal.go registers the fal provider: /fal/fal-ai/fast-sdxl → https://fal.run/fal-ai/fast-sdxl; key in Authorization: Key.
// A request to /fal carrying x-fal-target-url (the fal SDKs' proxy mode) goes to that URL
// instead, when it is https on one of fal's own hosts (see falHost).
package providers

import (
	"strings"

	"github.com/switchyard/switchyard/engine/usage"
)

func init() {
	Register(&Adapter{
		Slug:            "fal",
		BaseURL:         "https://fal.run",
		AuthHeader:      "Authorization",
		AuthScheme:      "Key ",
		Usage:           usage.None,
		ModelFromPath:   falModel,
		TargetURLHeader: "x-fal-target-url",
		TargetHost:      falHost,
	})
}

// falHost is fal's own proxy rule (@fal-ai/server-proxy's /(\.|^)fal\.(run|ai)$/): fal.run,
// fal.ai and any subdomain of them (queue.fal.run, rest.alpha.fal.ai, ws.fal.run), matched
// on the host name, which must also be a plain DNS name (no IP literal, no trailing dot).
// The port is checked by TargetURL (none or 443).
func falHost(host string) bool {
	h := strings.ToLower(host)
	if !dnsName(h) {
		return false
	}
	for _, apex := range [...]string{"fal.run", "fal.ai"} {
		if h == apex || strings.HasSuffix(h, "."+apex) {
			return true
		}
	}
	return false
}

// falModel is the app a fal path names: "/fal-ai/flux/dev" → "fal-ai/flux/dev". Queue
// status and result paths (".../requests/{id}...") name none: they fetch an answer
// already made and priced at submission.
func falModel(path string) string {
	p := strings.Trim(path, "/")
	if p == "" || strings.Contains("/"+p+"/", "/requests/") {
		return ""
	}
	return p
}
