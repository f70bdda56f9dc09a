// parse_test.go checks route and element decoding and the text of kinds and problems.
package flows

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRoute(t *testing.T) {
	r, err := ParseRoute([]byte(`{"id":"r1","name":"support","created_at":"2025-01-01","elements":[
		{"id":"s","type":"start","outputs":{"next":{"elementId":"e"}},"position":{"x":1}},{"id":"e","type":"end"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "r1" || r.Name != "support" || len(r.Elements) != 2 || r.Elements[0].Outputs["next"].ElementID != "e" {
		t.Fatalf("%+v", r)
	}
	cases := []struct{ data, message string }{
		{``, "route JSON must be an object"},
		{`   `, "(the input is empty)"},
		{`[]`, "route JSON must be an object"},
		{`{"elements":`, "route is not valid JSON: unexpected end of JSON input"},
		{`{"elements":{}}`, "route is not valid JSON: at elements: a JSON object cannot be read as an array of elements"},
		{`{"elements":[{"id":1}]}`, "at elements.id: a JSON number cannot be read as a string"},
		{`{"elements":[{"id":"s","outputs":{"next":"e"}}]}`, `a JSON string cannot be read as an output object {"elementId": ...}`},
		{`{"elements":[]} x`, "route is not valid JSON: invalid character 'x' after top-level value"},
	}
	for _, tc := range cases {
		_, err := ParseRoute([]byte(tc.data))
		var problems Problems
		if !errors.As(err, &problems) || len(problems) != 1 || problems[0].ElementID != "" || !strings.Contains(err.Error(), tc.message) {
			t.Errorf("%q: got %v, want a route problem containing %q", tc.data, err, tc.message)
		}
	}
}

func TestParseElements(t *testing.T) {
	els, err := ParseElements([]byte(` [{"id":"s","type":"start"}]`))
	if err != nil || len(els) != 1 || els[0].Type != "start" {
		t.Fatalf("%v %+v", err, els)
	}
	for data, message := range map[string]string{
		`{"elements":[]}`: "elements JSON must be an array",
		`[{"id":"s"},]`:   "elements are not valid JSON",
		``:                "(the input is empty)",
	} {
		if _, err := ParseElements([]byte(data)); err == nil || !strings.Contains(err.Error(), message) {
			t.Errorf("%q: got %v, want %q", data, err, message)
		}
	}
}

func TestKindText(t *testing.T) {
	for name, kind := range map[string]Kind{"start": KindStart, "conditional": KindConditional, "percentage": KindPercentage,
		"rate_limit": KindRateLimit, "model": KindModel, "end": KindEnd} {
		if kind.String() != name {
			t.Errorf("%d.String() = %q, want %q", kind, kind.String(), name)
		}
		if parsed, ok := ParseKind(name); !ok || parsed != kind {
			t.Errorf("ParseKind(%q) = %v, %v", name, parsed, ok)
		}
	}
	if k, ok := ParseKind("rate"); !ok || k != KindRateLimit {
		t.Errorf(`ParseKind("rate") = %v, %v`, k, ok)
	}
	for _, name := range []string{"", "Start", "rate-limit", "budget"} {
		if _, ok := ParseKind(name); ok {
			t.Errorf("ParseKind(%q) accepted", name)
		}
	}
	if Kind(0).String() != "Kind(0)" || Kind(9).String() != "Kind(9)" {
		t.Errorf("unknown kinds: %s %s", Kind(0), Kind(9))
	}
}

func TestProblemText(t *testing.T) {
	ps := Problems{{ElementID: "m1", Message: "model needs a provider"}, {Message: "route has no start element"}}
	if got := ps[0].String(); got != `element "m1": model needs a provider` {
		t.Errorf("%s", got)
	}
	if got := ps.Error(); got != `element "m1": model needs a provider; route has no start element` {
		t.Errorf("%s", got)
	}
	if got := (Problems{}).Error(); got != "" {
		t.Errorf("%q", got)
	}
}
