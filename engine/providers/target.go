// target.go lets a request name its whole upstream URL in a header, as fal's SDKs do in
// proxy mode (x-fal-target-url): the URL is honoured only on the provider's own hosts
// (Adapter.TargetHost), over https, without credentials, and is otherwise refused.
package providers

import (
	"net/url"
	"strings"
)

// TargetError is a target URL header the gateway refuses; the caller answers 400.
type TargetError struct {
	Header, Reason string
}

func (e *TargetError) Error() string {
	return e.Header + ": " + e.Reason
}

// TargetURL builds the upstream URL (query included) from the value of the adapter's
// TargetURLHeader, and the model its path names. With a SWITCHYARD_UPSTREAM_* override in
// force (tests, a local fal mirror) the URL's scheme and host are replaced by the
// override's base; the path and query are kept.
func (r *Resolved) TargetURL(raw string) (string, string, error) {
	fail := func(reason string) (string, string, error) {
		return "", "", &TargetError{Header: r.TargetURLHeader, Reason: reason}
	}
	if r.TargetURLHeader == "" || r.TargetHost == nil {
		return fail("not supported by this provider")
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case err != nil || u.Opaque != "" || u.Host == "":
		return fail("not an absolute URL")
	case u.Scheme != "https":
		return fail("the scheme must be https")
	case u.User != nil:
		return fail("credentials in the URL are refused")
	case u.Fragment != "" || strings.HasSuffix(raw, "#"):
		return fail("a fragment is refused")
	case u.Port() != "" && u.Port() != "443":
		return fail("only the default https port is allowed")
	}
	host := u.Hostname()
	if !r.TargetHost(host) {
		return fail("host " + strconvQuote(host) + " is not one of the provider's own hosts")
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if hasDotSegment(path) {
		return fail("the path has a . or .. segment")
	}
	base := "https://" + strings.ToLower(host)
	if r.Base != r.Adapter.BaseURL { // an operator override: send to it instead
		base = r.Base
	}
	model := ""
	if r.ModelFromPath != nil {
		model = r.ModelFromPath(path)
	}
	out := base + path
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out, model, nil
}

// strconvQuote quotes a host for an error message, clipped.
func strconvQuote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return `"` + s + `"`
}

// dnsName reports whether host is a lower-case DNS name: dot-separated labels of letters,
// digits and hyphens, none empty and none starting or ending with a hyphen.
func dnsName(host string) bool {
	if host == "" || len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
