// dashboard_test.go checks what the dashboard handler serves (types, headers, revalidation,
// unknown files) and that the vendored front-end files are the ones package.json names.
package dashboard

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestVendoredFiles: VERSIONS names exactly package.json's packages at its versions, and
// SHA256SUMS lists every file in assets/vendor with its hash, so bumping a version without
// running vendor.sh, or editing a vendored file by hand, fails here.
func TestVendoredFiles(t *testing.T) {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err := os.ReadFile("package.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	versions := pairs(t, "assets/vendor/VERSIONS", " ", false)
	for name, want := range pkg.Dependencies {
		if versions[name] != want {
			t.Errorf("package.json wants %s %s, assets/vendor has %q: run dashboard/vendor.sh", name, want, versions[name])
		}
	}
	for name := range versions {
		if _, ok := pkg.Dependencies[name]; !ok {
			t.Errorf("assets/vendor has %s, which package.json no longer names: run dashboard/vendor.sh", name)
		}
	}

	listed := pairs(t, "assets/vendor/SHA256SUMS", "  ", true)
	entries, err := os.ReadDir("assets/vendor")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "SHA256SUMS" {
			continue
		}
		body, err := os.ReadFile(filepath.Join("assets/vendor", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(body)
		switch want, ok := listed[e.Name()]; {
		case !ok:
			t.Errorf("assets/vendor/%s is not in SHA256SUMS: vendored files come from vendor.sh only", e.Name())
		case want != hex.EncodeToString(sum[:]):
			t.Errorf("assets/vendor/%s differs from what vendor.sh copied: run dashboard/vendor.sh", e.Name())
		}
	}
	for name := range listed {
		if _, err := os.Stat(filepath.Join("assets/vendor", name)); err != nil {
			t.Errorf("SHA256SUMS lists %s, which is missing", name)
		}
	}
}

// pairs reads a file of "a<sep>b" lines into a map a -> b (b -> a when flip: SHA256SUMS
// lines are "sum  file").
func pairs(t *testing.T, path, sep string, flip bool) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, ok := strings.Cut(line, sep)
		if !ok {
			t.Fatalf("%s: line %q has no %q", path, line, sep)
		}
		if flip {
			k, v = v, k
		}
		out[k] = v
	}
	return out
}

// TestServe: each asset with its type, security headers and ETag; a matching If-None-Match
// is a 304; /dashboard redirects to /dashboard/; unknown files are 404 and writes 405.
func TestServe(t *testing.T) {
	h := New()
	do := func(method, path, etag string) *fasthttp.Response {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(method)
		ctx.Request.SetRequestURI(path)
		if etag != "" {
			ctx.Request.Header.Set("If-None-Match", etag)
		}
		h.Serve(&ctx)
		var r fasthttp.Response
		ctx.Response.CopyTo(&r)
		return &r
	}
	for _, tc := range []struct {
		path, contentType string
	}{
		{"/dashboard/", "text/html; charset=utf-8"},
		{"/dashboard/app.js", "text/javascript; charset=utf-8"},
		{"/dashboard/style.css", "text/css; charset=utf-8"},
		{"/dashboard/vendor/dagre.esm.js", "text/javascript; charset=utf-8"},
	} {
		r := do("GET", tc.path, "")
		if r.StatusCode() != 200 || string(r.Header.ContentType()) != tc.contentType {
			t.Fatalf("GET %s: %d %s", tc.path, r.StatusCode(), r.Header.ContentType())
		}
		if !strings.Contains(string(r.Header.Peek("Content-Security-Policy")), "default-src 'self'") {
			t.Errorf("GET %s: no content security policy", tc.path)
		}
		etag := string(r.Header.Peek("ETag"))
		if r2 := do("GET", tc.path, etag); etag == "" || r2.StatusCode() != 304 || len(r2.Body()) != 0 {
			t.Errorf("GET %s with If-None-Match %s: %d", tc.path, etag, r2.StatusCode())
		}
	}
	if r := do("GET", "/dashboard", ""); r.StatusCode() != 302 || !strings.HasSuffix(string(r.Header.Peek("Location")), "/dashboard/") {
		t.Errorf("GET /dashboard: %d %s", r.StatusCode(), r.Header.Peek("Location"))
	}
	if r := do("GET", "/dashboard/nope.js", ""); r.StatusCode() != 404 {
		t.Errorf("unknown file: %d", r.StatusCode())
	}
	if r := do("POST", "/dashboard/", ""); r.StatusCode() != 405 || string(r.Header.Peek("Allow")) != "GET, HEAD" {
		t.Errorf("POST: %d", r.StatusCode())
	}
}
