// guard_test.go: which base URLs and addresses the SSRF guard refuses.
package upstream

import (
	"net/netip"
	"testing"
)

func TestCheckBaseURL(t *testing.T) {
	cases := []struct {
		url      string
		insecure bool
		ok       bool
	}{
		{"https://api.example.com", false, true},
		{"https://api.example.com/prefix", false, true},
		{"https://10.0.0.5", false, true}, // internal models are a use case
		{"http://api.example.com", false, false},
		{"http://api.example.com", true, true},
		{"ftp://api.example.com", true, false},
		{"https://127.0.0.1:8080", false, false},
		{"http://127.0.0.1:8080", true, true},
		{"https://localhost", false, false},
		{"https://[::1]", false, false},
		{"https://169.254.169.254/latest/meta-data", false, false},
		{"https://169.254.169.254", true, false},
		{"http://metadata.google.internal", true, false},
		{"https://[fe80::1]", true, false},
		{"https://100.100.100.200", true, false},
		{"https://[::ffff:169.254.169.254]", true, false},
		{"https://0.0.0.0", true, false},
		{"https://user:pw@api.example.com", false, false},
		{"https://api.example.com?x=1", false, false},
		{"api.example.com", false, false},
		{"", false, false},
	}
	for _, c := range cases {
		err := CheckBaseURL(c.url, c.insecure)
		if (err == nil) != c.ok {
			t.Errorf("CheckBaseURL(%q, insecure=%v) = %v, want ok=%v", c.url, c.insecure, err, c.ok)
		}
	}
}

func TestDialRefusesMetadata(t *testing.T) {
	for _, a := range []string{"169.254.169.254:80", "[fe80::1]:443", "0.0.0.0:80"} {
		if refuseForbidden("tcp", a, nil) == nil {
			t.Errorf("dial to %s allowed", a)
		}
	}
	for _, a := range []string{"127.0.0.1:80", "10.1.2.3:443", "[2001:db8::1]:443"} {
		if err := refuseForbidden("tcp", a, nil); err != nil {
			t.Errorf("dial to %s refused: %v", a, err)
		}
	}
	if Forbidden(netip.MustParseAddr("8.8.8.8")) != nil {
		t.Error("public address refused")
	}
}
