// Package dashboard serves the web dashboard at /dashboard: a single page (assets/, embedded
// with go:embed, nothing to build or install) that signs in with an API token and then uses
// only the public control API and the data plane, so it can do exactly what its token can.
// The front-end libraries are npm packages vendored into assets/vendor (see package.json and
// vendor.sh); the dashboard makes no request to any other host.
package dashboard

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/valyala/fasthttp"
)

//go:embed assets
var assets embed.FS

// Prefix is where the dashboard is served.
const Prefix = "/dashboard"

// file is one embedded asset, ready to serve.
type file struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the dashboard under Prefix (GET and HEAD). Every asset has an ETag and is
// revalidated (Cache-Control: no-cache), so a new binary's dashboard is picked up at once.
type Handler struct {
	files map[string]file
}

// New reads the embedded assets.
func New() *Handler {
	h := &Handler{files: map[string]file{}}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	_ = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) { // the system's mime table may lack these or name them oddly
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".css":
			ct = "text/css; charset=utf-8"
		case ".html":
			ct = "text/html; charset=utf-8"
		case ".png":
			ct = "image/png"
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(b)
		h.files[p] = file{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	return h
}

// contentSecurity allows scripts, styles and connections to this origin only.
const contentSecurity = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Serve answers a request whose path starts with Prefix.
func (h *Handler) Serve(ctx *fasthttp.RequestCtx) {
	p := string(ctx.Path())
	if p == Prefix {
		ctx.Redirect(Prefix+"/", fasthttp.StatusFound)
		return
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed) // not ctx.Error: it drops the headers set before it
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("method not allowed")
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		return
	}
	name := strings.TrimPrefix(p, Prefix+"/")
	if name == "" {
		name = "index.html"
	}
	f, ok := h.files[name]
	if !ok {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("no such dashboard file: " + name)
		return
	}
	hd := &ctx.Response.Header
	hd.Set("Content-Security-Policy", contentSecurity)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", f.etag)
	if string(ctx.Request.Header.Peek("If-None-Match")) == f.etag {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	ctx.SetContentType(f.contentType)
	ctx.SetBody(f.body)
}
