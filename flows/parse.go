// parse.go decodes route JSON into Route and Element values and gives kinds and problems
// their text. Decoding only checks the JSON shape; Compile checks what the route means.
package flows

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// ParseRoute decodes a route as the hosted JSON configuration writes it: {id, name,
// elements}. Fields it does not know are ignored. A decoding failure is returned as
// Problems with one route-level problem.
func ParseRoute(data []byte) (*Route, error) {
	if first := firstByte(data); first != '{' {
		return nil, Problems{{Message: "route JSON must be an object {\"id\", \"name\", \"elements\"}" + foundText(first)}}
	}
	var r Route
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, Problems{{Message: "route is not valid JSON: " + jsonErrorText(err)}}
	}
	return &r, nil
}

// ParseElements decodes a JSON array of elements. A decoding failure is returned as
// Problems with one route-level problem.
func ParseElements(data []byte) ([]Element, error) {
	if first := firstByte(data); first != '[' {
		return nil, Problems{{Message: "elements JSON must be an array" + foundText(first)}}
	}
	var elements []Element
	if err := json.Unmarshal(data, &elements); err != nil {
		return nil, Problems{{Message: "elements are not valid JSON: " + jsonErrorText(err)}}
	}
	return elements, nil
}

// firstByte is the first byte of data that is not JSON white space, or 0.
func firstByte(data []byte) byte {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return 0
	}
	return trimmed[0]
}

func foundText(first byte) string {
	if first == 0 {
		return " (the input is empty)"
	}
	return ""
}

// jsonErrorText is a decoding error without the package prefix; the struct field names
// encoding/json mentions are ours, so they are replaced by the JSON path they came from.
func jsonErrorText(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		where := te.Field
		if where == "" {
			where = "the input"
		}
		return "at " + where + ": a JSON " + te.Value + " cannot be read as " + goTypeText(te.Type.String())
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func goTypeText(t string) string {
	switch t {
	case "string":
		return "a string"
	case "flows.Output":
		return "an output object {\"elementId\": ...}"
	case "flows.Element":
		return "an element object"
	case "[]flows.Element":
		return "an array of elements"
	case "map[string]flows.Output":
		return "an outputs object"
	}
	return t
}

// String is the problem as one line: the element it is about, then what is wrong.
func (p Problem) String() string {
	if p.ElementID == "" {
		return p.Message
	}
	return "element " + strconv.Quote(p.ElementID) + ": " + p.Message
}

// Error joins the problems with "; ".
func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

var kindNames = [...]string{
	KindStart:       "start",
	KindConditional: "conditional",
	KindPercentage:  "percentage",
	KindRateLimit:   "rate_limit",
	KindModel:       "model",
	KindEnd:         "end",
}

// String is the kind's JSON type name ("rate_limit" for rate limits).
func (k Kind) String() string {
	if k >= KindStart && k <= KindEnd {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind reads an element's JSON type; "rate" (cloudflare-go's spelling) is KindRateLimit.
func ParseKind(name string) (Kind, bool) {
	switch name {
	case "start":
		return KindStart, true
	case "conditional":
		return KindConditional, true
	case "percentage":
		return KindPercentage, true
	case "rate_limit", "rate":
		return KindRateLimit, true
	case "model":
		return KindModel, true
	case "end":
		return KindEnd, true
	}
	return 0, false
}
