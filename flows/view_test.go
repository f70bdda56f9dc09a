// view_test.go checks request paths: metadata keys, body descent, headers, lazy body
// decoding and bodies that are not JSON.
package flows

import (
	"net/http"
	"reflect"
	"testing"
)

func TestViewLookup(t *testing.T) {
	header := http.Header{}
	header.Set("X-Team", "search")
	header.Set("X-Empty", "")
	v := NewView(map[string]any{"plan": "paid", "a.b": 1.0},
		[]byte(`{"model":"m","messages":[{"role":"user"}],"n":null,"deep":{"x":{"y":[0,1,2]}}}`), header.Get)
	cases := []struct {
		path  string
		want  any
		found bool
	}{
		{"metadata.plan", "paid", true},
		{"metadata.a.b", 1.0, true}, // the whole rest of the path is the key
		{"metadata.nope", nil, false},
		{"metadata.", nil, false},
		{"metadata", nil, false},
		{"headers.x-team", "search", true},
		{"headers.X-TEAM", "search", true},
		{"headers.x-empty", nil, false},
		{"headers.x-none", nil, false},
		{"body.model", "m", true},
		{"body.messages.0.role", "user", true},
		{"body.messages.0", map[string]any{"role": "user"}, true},
		{"body.messages.1", nil, false},
		{"body.messages.-1", nil, false},
		{"body.messages.+0", nil, false},
		{"body.messages.role", nil, false},
		{"body.n", nil, true},
		{"body.n.x", nil, false},
		{"body.deep.x.y.2", 2.0, true},
		{"body.model.x", nil, false},
		{"body.", nil, false},
		{"query.x", nil, false},
		{"", nil, false},
	}
	for _, tc := range cases {
		got, found := v.Lookup(tc.path)
		if found != tc.found || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Lookup(%q) = %#v, %v; want %#v, %v", tc.path, got, found, tc.want, tc.found)
		}
	}
}

func TestViewDecodesTheBodyOnceAndOnlyWhenAsked(t *testing.T) {
	v := NewView(map[string]any{"plan": "paid"}, []byte(`{"model":"m"}`), nil).(*requestView)
	v.Lookup("metadata.plan")
	v.Lookup("headers.x")
	if v.bodyRead {
		t.Fatal("the body was decoded for metadata and header paths")
	}
	v.Lookup("body.model")
	first := v.bodyValue
	v.body = []byte(`{"model":"other"}`) // a second decode would see this
	if got, _ := v.Lookup("body.model"); got != "m" || !reflect.DeepEqual(first, v.bodyValue) {
		t.Fatalf("the body was decoded twice: %v", got)
	}
}

func TestViewBodyThatIsNotJSON(t *testing.T) {
	for _, body := range []string{"", "not json", `{"model":`, "multipart/form-data; boundary"} {
		v := NewView(nil, []byte(body), nil)
		if _, found := v.Lookup("body.model"); found {
			t.Errorf("body %q: found a value", body)
		}
		if _, found := v.Lookup("metadata.plan"); found {
			t.Errorf("body %q: nil metadata found a value", body)
		}
	}
}

func TestCheckPath(t *testing.T) {
	for path, ok := range map[string]bool{
		"metadata.user_id": true, "body.a.b.0": true, "headers.x-team": true, "metadata.a..b": true,
		"user_id": false, "metadata.": false, "body": false, "body.a..b": false, "body.a.": false,
		"headers.": false, "cookies.x": false, "": false,
	} {
		if got := checkPath(path) == ""; got != ok {
			t.Errorf("checkPath(%q): ok %v, want %v (%s)", path, got, ok, checkPath(path))
		}
	}
}
