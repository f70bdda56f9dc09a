// guard.go keeps the gateway from being turned against its own network (SSRF): custom
// provider base URLs are vetted when they are saved, and every upstream connection refuses
// link-local and cloud-metadata addresses whatever name led to them.
package upstream

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// metadataHosts are names of cloud metadata services.
var metadataHosts = map[string]bool{
	"metadata.google.internal": true, "metadata": true, "metadata.goog": true,
	"instance-data": true, "instance-data.ec2.internal": true,
}

// Forbidden reports why an address must never be an upstream: link-local (169.254/16 and
// fe80::/10, which hold the AWS, GCP and Azure metadata services), the Alibaba and AWS
// IPv6 metadata addresses, unspecified and multicast addresses.
func Forbidden(ip netip.Addr) error {
	ip = ip.Unmap()
	switch {
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return errors.New("link-local addresses are refused")
	case ip == netip.MustParseAddr("100.100.100.200"), ip == netip.MustParseAddr("fd00:ec2::254"):
		return errors.New("cloud metadata addresses are refused")
	case ip.IsUnspecified(), ip.IsMulticast():
		return errors.New("unspecified and multicast addresses are refused")
	}
	return nil
}

// CheckBaseURL vets a custom provider's base URL: https (http only with allowInsecure),
// a host, no credentials or fragment, not a metadata or link-local address, and not
// loopback unless allowInsecure.
func CheckBaseURL(raw string, allowInsecure bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("not an absolute URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowInsecure:
	case u.Scheme == "http":
		return errors.New("plain http is refused (the server runs without --allow-insecure-upstreams)")
	default:
		return errors.New("scheme must be https")
	}
	if u.User != nil || u.Fragment != "" || u.RawQuery != "" {
		return errors.New("no credentials, query or fragment allowed")
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if metadataHosts[host] {
		return errors.New("cloud metadata hosts are refused")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := Forbidden(ip); err != nil {
			return err
		}
		if ip.Unmap().IsLoopback() && !allowInsecure {
			return errors.New("loopback addresses are refused (the server runs without --allow-insecure-upstreams)")
		}
	} else if (host == "localhost" || strings.HasSuffix(host, ".localhost")) && !allowInsecure {
		return errors.New("loopback addresses are refused (the server runs without --allow-insecure-upstreams)")
	}
	return nil
}

// RefusedError is a connection the guard stopped: the address a name resolved to is one
// an upstream may not have.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return "the upstream's address is refused: " + e.Reason }

// refuseForbidden is the dialer's Control hook: it runs after name resolution, on the
// address actually being connected to, so DNS tricks cannot reach a forbidden address.
func refuseForbidden(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil
	}
	if err := Forbidden(ap.Addr()); err != nil {
		return &RefusedError{Reason: err.Error()}
	}
	return nil
}

// refuseForbiddenOrLoopback also refuses loopback: the hook of upstreams the operator did
// not configure (custom providers' names) when the server runs without
// --allow-insecure-upstreams, so a name resolving to 127.0.0.1 or ::1 cannot reach the
// gateway's own machine.
func refuseForbiddenOrLoopback(network, address string, c syscall.RawConn) error {
	if ap, err := netip.ParseAddrPort(address); err == nil && ap.Addr().Unmap().IsLoopback() {
		return &RefusedError{Reason: "loopback addresses are refused (the server runs without --allow-insecure-upstreams)"}
	}
	return refuseForbidden(network, address, c)
}
