// paths.go holds the path-mapping helpers shared by several provider files.
package providers

import (
	"net/url"
	"strings"
)

// versioned returns a Route that keeps a path starting with one of the version prefixes
// and puts def in front of any other, so both SDK base URL styles (".../grok" and
// ".../grok/v1") reach the same upstream endpoint.
func versioned(def string, prefixes ...string) func(string) (Target, error) {
	return func(rest string) (Target, error) {
		p := strings.TrimPrefix(rest, "/")
		for _, pre := range prefixes {
			if strings.HasPrefix(p, pre) {
				return Target{Path: "/" + p}, nil
			}
		}
		return Target{Path: def + "/" + p}, nil
	}
}

// modelAfter returns the path segment(s) after marker ("models/", "model/") up to the
// next ':' or '/', unescaped; "" when the marker is absent.
func modelAfter(rest, marker string, stop string) string {
	i := strings.Index(rest, marker)
	if i < 0 {
		return ""
	}
	m := rest[i+len(marker):]
	if j := strings.IndexAny(m, stop); j >= 0 {
		m = m[:j]
	}
	if u, err := url.PathUnescape(m); err == nil {
		return u
	}
	return m
}
