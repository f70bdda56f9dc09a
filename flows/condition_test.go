// condition_test.go checks every condition operator and type rule against a request
// view, and the errors of conditions that do not compile.
package flows

import (
	"net/http"
	"strings"
	"testing"
)

// testRequest is the request the condition table reads.
func testRequest() View {
	header := http.Header{}
	header.Set("X-Tier", "3")
	header.Set("X-Team", "search")
	header.Set("X-Ratio", "-1.5e1")
	header.Set("X-Hex", "0x10")
	body := `{"model":"gpt-4o-mini","temperature":0.2,"stream":true,"user":null,
		"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"Hello"}],
		"meta":{"tags":["a","b"],"depth":{"n":2}}}`
	return NewView(map[string]any{
		"plan":    "paid",
		"user_id": 42.0,
		"beta":    true,
		"count":   7, // an int, as metadata built in code may hold
		"numtext": "42",
	}, []byte(body), header.Get)
}

func TestConditionMatch(t *testing.T) {
	cases := []struct {
		condition string
		want      bool
	}{
		// literals are $eq; several keys are ANDed
		{`{"metadata.plan":"paid"}`, true},
		{`{"metadata.plan":"free"}`, false},
		{`{"metadata.plan":"paid","metadata.beta":true}`, true},
		{`{"metadata.plan":"paid","metadata.beta":false}`, false},
		{`{}`, true},
		// $eq and $ne across types
		{`{"metadata.plan":{"$eq":"paid"}}`, true},
		{`{"metadata.user_id":{"$eq":42}}`, true},
		{`{"metadata.user_id":{"$eq":42.0}}`, true},
		{`{"metadata.user_id":{"$eq":"42"}}`, false}, // number vs string never match
		{`{"metadata.numtext":{"$eq":42}}`, false},   // metadata text is not a number
		{`{"metadata.user_id":{"$ne":"42"}}`, true},  // mixed types: $ne holds
		{`{"metadata.count":{"$eq":7}}`, true},       // Go ints are numbers
		{`{"metadata.beta":{"$eq":true}}`, true},
		{`{"metadata.beta":{"$ne":true}}`, false},
		{`{"metadata.beta":{"$eq":1}}`, false},
		{`{"metadata.plan":{"$ne":"free"}}`, true},
		{`{"metadata.plan":{"$ne":"paid"}}`, false},
		// ordering: numbers with numbers, strings with strings
		{`{"metadata.user_id":{"$gt":41}}`, true},
		{`{"metadata.user_id":{"$gt":42}}`, false},
		{`{"metadata.user_id":{"$gte":42}}`, true},
		{`{"metadata.user_id":{"$lt":42}}`, false},
		{`{"metadata.user_id":{"$lte":42}}`, true},
		{`{"metadata.user_id":{"$gte":18,"$lt":65}}`, true},
		{`{"metadata.user_id":{"$gte":18,"$lt":40}}`, false},
		{`{"metadata.plan":{"$gt":"free"}}`, true}, // "paid" > "free"
		{`{"metadata.plan":{"$lt":"free"}}`, false},
		{`{"metadata.plan":{"$gte":"paid"}}`, true},
		{`{"metadata.user_id":{"$gt":"1"}}`, false},  // mixed
		{`{"metadata.plan":{"$gt":1}}`, false},       // mixed
		{`{"metadata.numtext":{"$gt":"100"}}`, true}, // text compares as text: "42" > "100"
		{`{"metadata.numtext":{"$gt":100}}`, false},  // metadata text is not a number
		// headers: case-insensitive, numeric text compares as a number with numbers
		{`{"headers.x-tier":"3"}`, true},
		{`{"headers.X-TIER":{"$eq":3}}`, true},
		{`{"headers.x-tier":{"$gte":2}}`, true},
		{`{"headers.x-tier":{"$gt":3}}`, false},
		{`{"headers.x-tier":{"$in":[1,2,3]}}`, true},
		{`{"headers.x-ratio":{"$lt":-10}}`, true},
		{`{"headers.x-tier":{"$gt":"10"}}`, true}, // with a string operand it is text: "3" > "10"
		{`{"headers.x-team":{"$gt":1}}`, false},   // not numeric text
		{`{"headers.x-hex":{"$eq":16}}`, false},   // only JSON number syntax is numeric
		{`{"headers.x-team":{"$regex":"^sea"}}`, true},
		{`{"headers.x-missing":{"$exists":false}}`, true},
		// $in and $nin
		{`{"metadata.plan":{"$in":["free","paid"]}}`, true},
		{`{"metadata.plan":{"$in":["free","trial"]}}`, false},
		{`{"metadata.plan":{"$in":[]}}`, false},
		{`{"metadata.user_id":{"$in":["42",42]}}`, true},
		{`{"metadata.plan":{"$nin":["free","trial"]}}`, true},
		{`{"metadata.plan":{"$nin":["paid"]}}`, false},
		{`{"metadata.beta":{"$in":[true]}}`, true},
		// $exists
		{`{"metadata.plan":{"$exists":true}}`, true},
		{`{"metadata.plan":{"$exists":false}}`, false},
		{`{"metadata.nope":{"$exists":true}}`, false},
		{`{"body.user":{"$exists":true}}`, true}, // null exists
		// $regex and $options
		{`{"body.model":{"$regex":"^gpt-4o"}}`, true},
		{`{"body.model":{"$regex":"^GPT"}}`, false},
		{`{"body.model":{"$regex":"^GPT","$options":"i"}}`, true},
		{`{"body.messages.0.content":{"$regex":"^be.brief$","$options":"ms"}}`, true},
		{`{"metadata.user_id":{"$regex":"42"}}`, false}, // numbers are not text
		{`{"metadata.nope":{"$regex":".*"}}`, false},
		// missing fields
		{`{"metadata.nope":"x"}`, false},
		{`{"metadata.nope":{"$ne":"x"}}`, true},
		{`{"metadata.nope":{"$nin":["x"]}}`, true},
		{`{"metadata.nope":{"$in":["x"]}}`, false},
		{`{"metadata.nope":{"$gt":0}}`, false},
		{`{"metadata.nope":{"$lte":"z"}}`, false},
		{`{"metadata.nope":{"$eq":null}}`, true},
		{`{"metadata.nope":{"$in":[null]}}`, true},
		{`{"metadata.nope":{"$ne":null}}`, false},
		{`{"body.user":null}`, true},
		{`{"body.user":{"$ne":null}}`, false},
		{`{"metadata.plan":{"$eq":null}}`, false},
		{`{"metadata.plan":{"$ne":null}}`, true},
		{`{"body.user":{"$gt":0}}`, false},
		// body paths
		{`{"body.temperature":{"$lt":0.5}}`, true},
		{`{"body.stream":true}`, true},
		{`{"body.messages.1.role":"user"}`, true},
		{`{"body.messages.2.role":{"$exists":false}}`, true},
		{`{"body.messages.x.role":{"$exists":false}}`, true},
		{`{"body.meta.depth.n":2}`, true},
		{`{"body.meta.tags.1":"b"}`, true},
		{`{"body.meta.tags":"a"}`, false},        // arrays are not searched
		{`{"body.meta.tags":{"$ne":"a"}}`, true}, // an array equals nothing
		{`{"body.meta.depth":{"$exists":true}}`, true},
		{`{"body.model.length":{"$exists":false}}`, true},
		// $and, $or, $not, nested, and field-level $not
		{`{"$and":[{"metadata.plan":"paid"},{"metadata.beta":true}]}`, true},
		{`{"$and":[{"metadata.plan":"paid"},{"metadata.beta":false}]}`, false},
		{`{"$or":[{"metadata.plan":"free"},{"metadata.beta":true}]}`, true},
		{`{"$or":[{"metadata.plan":"free"},{"metadata.beta":false}]}`, false},
		{`{"$not":{"metadata.plan":"free"}}`, true},
		{`{"$not":{"metadata.plan":"paid"}}`, false},
		{`{"$or":[{"$and":[{"metadata.plan":"free"}]},{"$not":{"headers.x-tier":{"$lt":2}}}]}`, true},
		{`{"metadata.plan":"paid","$or":[{"body.stream":false},{"headers.x-team":"search"}]}`, true},
		{`{"metadata.user_id":{"$not":{"$gt":50}}}`, true},
		{`{"metadata.user_id":{"$not":{"$gt":10,"$lt":50}}}`, false},
		{`{"metadata.nope":{"$not":{"$eq":"x"}}}`, true},
	}
	v := testRequest()
	for _, tc := range cases {
		c, err := ParseCondition([]byte(tc.condition))
		if err != nil {
			t.Errorf("%s: %v", tc.condition, err)
			continue
		}
		if got := c.Match(v); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.condition, got, tc.want)
		}
	}
}

func TestConditionErrors(t *testing.T) {
	cases := []struct{ condition, message string }{
		{`[]`, "condition must be a JSON object"},
		{`{"metadata.plan":`, "condition is not valid JSON"},
		{`{"$nor":[{"metadata.plan":"x"}]}`, `unknown operator "$nor" where a request path or $and, $or, $not belongs`},
		{`{"$and":[]}`, "$and takes a non-empty array of conditions"},
		{`{"$or":{"metadata.plan":"x"}}`, "$or takes a non-empty array of conditions"},
		{`{"$and":[{"metadata.plan":{"$foo":1}}]}`, `$and[0]: "metadata.plan": unknown operator "$foo"`},
		{`{"$not":[{"metadata.plan":"x"}]}`, "$not: condition is not a JSON object"},
		{`{"plan":"paid"}`, `"plan" is not a request path`},
		{`{"metadata":"paid"}`, `"metadata" is not a request path`},
		{`{"body.a..b":"x"}`, `"body.a..b" has an empty segment`},
		{`{"metadata.plan":{}}`, `"metadata.plan": empty operator object`},
		{`{"metadata.plan":{"plan":"paid"}}`, `value is an object with key "plan"; compare with operators`},
		{`{"metadata.plan":["a"]}`, "operand must be a string, a number, a boolean or null"},
		{`{"metadata.plan":{"$eq":{"a":1}}}`, "$eq: operand must be a string, a number, a boolean or null"},
		{`{"metadata.plan":{"$gt":true}}`, "$gt takes a number or a string"},
		{`{"metadata.beta":{"$gte":false}}`, "$gte takes a number or a string"},
		{`{"metadata.plan":{"$lt":null}}`, "$lt takes a number or a string"},
		{`{"metadata.plan":{"$in":"paid"}}`, "$in takes an array"},
		{`{"metadata.plan":{"$nin":[["a"]]}}`, "$nin[0]: operand must be"},
		{`{"metadata.plan":{"$exists":1}}`, "$exists takes true or false"},
		{`{"metadata.plan":{"$regex":5}}`, "$regex takes a string"},
		{`{"metadata.plan":{"$regex":"a(b"}}`, `$regex "a(b" does not compile: missing closing )`},
		{`{"metadata.plan":{"$regex":"a","$options":"x"}}`, `$options "x": only i, m and s are supported`},
		{`{"metadata.plan":{"$regex":"a","$options":1}}`, "$options takes a string"},
		{`{"metadata.plan":{"$options":"i"}}`, "$options without $regex"},
		{`{"metadata.plan":{"$not":"paid"}}`, "$not on a field takes an operator object"},
		{`{"metadata.plan":{"$not":{"paid":1}}}`, `$not: value is an object with key "paid"`},
		{`{"metadata.plan":{"$size":1}}`, `unknown operator "$size"`},
	}
	deep := strings.Repeat(`{"$not":`, MaxConditionDepth+1) + `{"metadata.a":1}` + strings.Repeat("}", MaxConditionDepth+1)
	deepField := `{"metadata.a":` + strings.Repeat(`{"$not":`, MaxConditionDepth+2) + `{"$eq":1}` + strings.Repeat("}", MaxConditionDepth+3)
	cases = append(cases,
		struct{ condition, message string }{deep, "condition nests $and, $or and $not more than 32 deep"},
		struct{ condition, message string }{deepField, "$not nests more than 32 deep"})
	for _, tc := range cases {
		_, err := ParseCondition([]byte(tc.condition))
		if err == nil || !strings.Contains(err.Error(), tc.message) {
			t.Errorf("%s: got %v, want an error containing %q", tc.condition, err, tc.message)
		}
	}
}

func TestConditionString(t *testing.T) {
	c, err := ParseCondition([]byte(`{ "metadata.plan" : { "$eq" : "paid" } }`))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.String(); got != `{"metadata.plan":{"$eq":"paid"}}` {
		t.Fatalf("String() = %s", got)
	}
}

func TestConditionMatchNilView(t *testing.T) {
	c, err := ParseCondition([]byte(`{"metadata.plan":{"$exists":false}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Match(nil) {
		t.Fatal("a nil view is a request with nothing in it")
	}
}

func TestNumericText(t *testing.T) {
	cases := []struct {
		text string
		want float64
		ok   bool
	}{
		{"42", 42, true}, {"-1.5", -1.5, true}, {"+3", 3, true}, {"2e3", 2000, true}, {"1.", 1, true},
		{".5", 0.5, true}, {"1E-2", 0.01, true},
		{"", 0, false}, {"-", 0, false}, {"0x10", 0, false}, {"Inf", 0, false}, {"NaN", 0, false},
		{"1_000", 0, false}, {"1e", 0, false}, {"1e999", 0, false}, {" 1", 0, false}, {"1 ", 0, false}, {"abc", 0, false},
	}
	for _, tc := range cases {
		got, ok := numericText(tc.text)
		if ok != tc.ok || got != tc.want {
			t.Errorf("numericText(%q) = %v, %v; want %v, %v", tc.text, got, ok, tc.want, tc.ok)
		}
	}
}

func TestConditionDepthLimitAllowsItsDepth(t *testing.T) {
	c, err := ParseCondition([]byte(strings.Repeat(`{"$not":`, MaxConditionDepth) + `{"metadata.a":1}` + strings.Repeat("}", MaxConditionDepth)))
	if err != nil {
		t.Fatal(err)
	}
	if want := MaxConditionDepth%2 == 0; c.Match(NewView(map[string]any{"a": 1.0}, nil, nil)) != want {
		t.Fatalf("%d nested $not should match %v", MaxConditionDepth, want)
	}
}
