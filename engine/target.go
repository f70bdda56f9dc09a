// target.go reads a target's upstream-URL header (fal's x-fal-target-url, see
// engine/providers/target.go) for the upstream call and the cache key.
package engine

import "strings"

// targetURL is the value of the provider's target URL header on t, "" when the provider
// has none or the request does not send it.
func (t *Target) targetURL() string {
	if t.Provider == nil || t.Provider.TargetURLHeader == "" {
		return ""
	}
	for _, h := range t.Header {
		if strings.EqualFold(h.Key, t.Provider.TargetURLHeader) {
			return strings.TrimSpace(h.Value)
		}
	}
	return ""
}
