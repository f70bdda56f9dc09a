// view.go is what conditions and rate-limit keys read from a request: its custom
// metadata, its JSON body and its headers, addressed by paths such as "metadata.plan",
// "body.messages.0.role" or "headers.x-team".
package flows

import (
	"encoding/json"
	"strconv"
	"strings"
)

// View answers the value at a request path. Lookup returns false when the request has no
// value there. Values are what encoding/json decodes (string, float64, bool, nil,
// map[string]any, []any); header values are strings.
type View interface {
	Lookup(path string) (any, bool)
}

// Path roots a condition or a limit key may start with.
const (
	rootMetadata = "metadata"
	rootBody     = "body"
	rootHeaders  = "headers"
)

// NewView is the View of one request. metadata is its cf-aig-metadata (the whole rest of
// a "metadata." path is one key); body is its raw body, decoded once, and only when a
// "body." path is first read (a body that is not JSON reads as missing everywhere);
// header returns a header's value, case-insensitively (http.Header.Get and fasthttp's
// Peek are), "" when absent: an empty header reads as missing. Any of them may be nil.
// A View is used by one goroutine at a time.
func NewView(metadata map[string]any, body []byte, header func(name string) string) View {
	return &requestView{metadata: metadata, body: body, header: header}
}

type requestView struct {
	metadata map[string]any
	body     []byte
	header   func(name string) string

	bodyRead  bool
	bodyValue any
	bodyOK    bool
}

func (v *requestView) Lookup(path string) (any, bool) {
	root, rest, ok := strings.Cut(path, ".")
	if !ok || rest == "" {
		return nil, false
	}
	switch root {
	case rootMetadata:
		val, ok := v.metadata[rest]
		return val, ok
	case rootHeaders:
		if v.header == nil {
			return nil, false
		}
		if s := v.header(rest); s != "" {
			return s, true
		}
		return nil, false
	case rootBody:
		if !v.bodyRead {
			v.bodyRead = true
			v.bodyOK = len(v.body) > 0 && json.Unmarshal(v.body, &v.bodyValue) == nil
		}
		if !v.bodyOK {
			return nil, false
		}
		return descend(v.bodyValue, rest)
	}
	return nil, false
}

// descend follows a dotted path into decoded JSON: object keys by name, array elements by
// a decimal index.
func descend(val any, path string) (any, bool) {
	for path != "" {
		var segment string
		segment, path, _ = strings.Cut(path, ".")
		switch node := val.(type) {
		case map[string]any:
			next, ok := node[segment]
			if !ok {
				return nil, false
			}
			val = next
		case []any:
			i, ok := arrayIndex(segment)
			if !ok || i >= len(node) {
				return nil, false
			}
			val = node[i]
		default:
			return nil, false
		}
	}
	return val, true
}

// arrayIndex reads a path segment made only of decimal digits.
func arrayIndex(segment string) (int, bool) {
	if segment == "" || len(segment) > 9 {
		return 0, false
	}
	for i := 0; i < len(segment); i++ {
		if segment[i] < '0' || segment[i] > '9' {
			return 0, false
		}
	}
	i, err := strconv.Atoi(segment)
	return i, err == nil
}

// checkPath says what is wrong with a condition path or a limit key, or "" when nothing.
func checkPath(path string) string {
	root, rest, ok := strings.Cut(path, ".")
	if !ok || rest == "" || (root != rootMetadata && root != rootBody && root != rootHeaders) {
		return strconv.Quote(path) + " is not a request path: paths start with \"metadata.\", \"body.\" or \"headers.\" and name a field"
	}
	if root == rootBody {
		for _, segment := range strings.Split(rest, ".") {
			if segment == "" {
				return strconv.Quote(path) + " has an empty segment"
			}
		}
	}
	return ""
}

// emptyView is the view of a request with nothing in it: Walk uses it when given none.
type emptyView struct{}

func (emptyView) Lookup(string) (any, bool) { return nil, false }
